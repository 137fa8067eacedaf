//! What text a deployment stores from clients, beyond size: message bodies without characters
//! that disguise what they say, and page addresses without what the visitor's URL may hide.

/// The first character of `body` that is refused: a control character other than line breaks
/// and tabs, or a bidirectional override, embedding or isolate (U+202A–U+202E, U+2066–U+2069),
/// which can make a message (or a link in it) read differently from what it is.
pub fn refused_character(body: &str) -> Option<char> {
    body.chars().find(|&c| {
        (c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    })
}

/// The longest page address kept, in bytes.
const MAX_PAGE_URL_BYTES: usize = 2048;

/// A visitor's page address as operators see it: without its query string and fragment, where
/// reset tokens, session ids and e-mail addresses travel, and at most 2 KB.
pub fn page_url_for_operators(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    let mut kept = &url[..end];
    if kept.len() > MAX_PAGE_URL_BYTES {
        let mut cut = MAX_PAGE_URL_BYTES;
        while !kept.is_char_boundary(cut) {
            cut -= 1;
        }
        kept = &kept[..cut];
    }
    kept.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_overrides_and_control_characters_are_refused_line_breaks_are_not() {
        assert_eq!(refused_character("hello\nworld\t!\r\n"), None);
        assert_eq!(refused_character("héllo 👋 שלום"), None);
        assert_eq!(refused_character("pay\u{202E}gpj.exe"), Some('\u{202E}'));
        assert_eq!(refused_character("a\u{2066}b"), Some('\u{2066}'));
        assert_eq!(refused_character("bell\u{7}"), Some('\u{7}'));
        assert_eq!(refused_character("nul\0"), Some('\0'));
    }

    #[test]
    fn page_addresses_lose_query_and_fragment_and_stay_short() {
        assert_eq!(
            page_url_for_operators("https://shop.example/reset?token=s3cret#top"),
            "https://shop.example/reset"
        );
        assert_eq!(
            page_url_for_operators("https://shop.example/a#b?c"),
            "https://shop.example/a"
        );
        assert_eq!(
            page_url_for_operators("https://shop.example/"),
            "https://shop.example/"
        );
        let long = format!("https://shop.example/{}", "é".repeat(2000));
        let kept = page_url_for_operators(&long);
        assert!(kept.len() <= 2048 && long.starts_with(&kept));
    }
}
