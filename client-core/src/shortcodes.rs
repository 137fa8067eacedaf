//! Emoji shortcodes (`:smile:` becomes 😄), for every client: finding them in a message and
//! replacing them from a table the client fetched (the widget's `emoji.json`).

/// The table: (shortcode, emoji), in the picker's order.
pub type Table = Vec<(String, String)>;

/// Whether `text` holds something shaped like a shortcode (`:` letter … `:`).
pub fn has_shortcode(text: &str) -> bool {
    shortcodes(text).next().is_some()
}

/// The shortcodes in `text`: `:name:` where the name starts with a letter and has only
/// lower-case letters, digits, `_`, `+` and `-` (so "10:30:45" is not one), with their places.
fn shortcodes(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let bytes = text.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        while let Some(open) = text[at..].find(':').map(|i| at + i) {
            let name_end = text[open + 1..]
                .find(|c: char| {
                    !(c.is_ascii_lowercase() || c.is_ascii_digit() || "_+-".contains(c))
                })
                .map_or(text.len(), |i| open + 1 + i);
            let starts_well = bytes
                .get(open + 1)
                .is_some_and(|b| b.is_ascii_lowercase() || *b == b'+' || *b == b'-');
            if starts_well && name_end > open + 1 && bytes.get(name_end) == Some(&b':') {
                at = name_end + 1;
                return Some((open, name_end + 1));
            }
            at = open + 1;
        }
        None
    })
}

/// `text` with every shortcode replaced by its emoji, or the sentence naming the first unknown
/// one (nothing is sent then).
pub fn replace(text: &str, table: &Table) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (start, end) in shortcodes(text) {
        let name = &text[start + 1..end - 1];
        let Some((_, emoji)) = table.iter().find(|(code, _)| code == name) else {
            return Err(format!(
                "There is no emoji :{name}:. Pick one with the smiley button."
            ));
        };
        out.push_str(&text[last..start]);
        out.push_str(emoji);
        last = end;
    }
    out.push_str(&text[last..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        vec![("smile".into(), "😄".into()), ("+1".into(), "👍".into())]
    }

    #[test]
    fn shortcodes_become_emoji_and_unknown_ones_are_named() {
        assert_eq!(replace("hi :smile: :+1:", &table()).unwrap(), "hi 😄 👍");
        assert_eq!(
            replace("at 10:30:45, ok", &table()).unwrap(),
            "at 10:30:45, ok"
        );
        assert_eq!(replace("a: b: c", &table()).unwrap(), "a: b: c");
        let refused = replace("so :nope: and :smile:", &table()).unwrap_err();
        assert!(refused.contains(":nope:"), "{refused}");
        assert!(has_shortcode("x :smile:"));
        assert!(!has_shortcode("10:30:45 and :: and :Upper:"));
    }
}
