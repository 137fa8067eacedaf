//! Files sent with messages: the reference a message carries ([`Attachment`]) and the rules
//! for what may be sent ([`FileRules`]), checked by the apps before an upload (so the visitor
//! hears why at once) and by the deployment again (so nothing else gets through).

use serde::{Deserialize, Serialize};

/// Image types a browser shows inline without running anything: served as themselves; every
/// other file is served as a download.
pub const SAFE_IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// A file sent with a message, stored by the SHA-256 of its bytes on both deployments.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The SHA-256 of the bytes, in lower-case hex: its name on disk and in URLs.
    pub hash: String,
    /// The file's name as the sender had it (shown, and offered when downloading).
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its media type (`image/png`, `application/pdf`).
    pub content_type: String,
}

impl Attachment {
    /// Whether it is shown inline as an image (a safe image type).
    pub fn is_image(&self) -> bool {
        SAFE_IMAGE_TYPES.contains(&self.content_type.as_str())
    }

    /// How a transcript names it: `[file: report.pdf, 120 KB]`.
    pub fn label(&self) -> String {
        format!("[file: {}, {}]", self.name, size_label(self.size))
    }

    /// A message's text with the file it carries, as a transcript writes it.
    pub fn with_body(body: &str, attachment: Option<&Attachment>) -> String {
        match (body.is_empty(), attachment) {
            (_, None) => body.to_owned(),
            (true, Some(file)) => file.label(),
            (false, Some(file)) => format!("{body} {}", file.label()),
        }
    }

    /// Whether the reference is well formed: a SHA-256 in hex, a name of 1 to 200 characters
    /// without path separators or control characters, a `type/subtype` media type.
    pub fn check(&self) -> Result<(), String> {
        if self.hash.len() != 64
            || !self
                .hash
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err("an attachment is named by the SHA-256 of its bytes".into());
        }
        let count = self.name.chars().count();
        if count == 0
            || count > 200
            || self
                .name
                .chars()
                .any(|c| c.is_control() || c == '/' || c == '\\')
        {
            return Err(
                "a file name needs 1 to 200 characters, without / or control characters".into(),
            );
        }
        if is_media_type(&self.content_type) {
            Ok(())
        } else {
            Err(format!("`{}` is not a media type", self.content_type))
        }
    }
}

/// Whether `value` is a `type/subtype` media type of at most 100 characters.
pub fn is_media_type(value: &str) -> bool {
    let well_formed = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    };
    match value.split_once('/') {
        Some((kind, sub)) => value.len() <= 100 && well_formed(kind) && well_formed(sub),
        None => false,
    }
}

/// What files may be sent: a size limit and the allowed media types. A deployment has its
/// rules (its configuration) and a site may narrow them (the admin app); what applies is both
/// at once ([`FileRules::within`]).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRules {
    /// The largest file, in bytes.
    pub max_bytes: u64,
    /// The media types allowed; none means files cannot be sent.
    pub types: Vec<String>,
}

impl FileRules {
    /// The rules that satisfy both `self` and `other`: the smaller size, the common types.
    pub fn within(&self, other: &FileRules) -> FileRules {
        FileRules {
            max_bytes: self.max_bytes.min(other.max_bytes),
            types: self
                .types
                .iter()
                .filter(|t| other.types.contains(t))
                .cloned()
                .collect(),
        }
    }

    /// Whether a file of `content_type` and `size` bytes may be sent; the reason if not, in
    /// words for whoever picked it.
    pub fn check(&self, content_type: &str, size: u64) -> Result<(), String> {
        if self.types.is_empty() {
            return Err("files cannot be sent here".into());
        }
        if !self.types.iter().any(|t| t == content_type) {
            let shown = if content_type.is_empty() {
                "this kind"
            } else {
                content_type
            };
            return Err(format!("files of type `{shown}` cannot be sent here"));
        }
        if size == 0 {
            return Err("the file is empty".into());
        }
        if size > self.max_bytes {
            return Err(format!(
                "files are limited to {}",
                size_label(self.max_bytes)
            ));
        }
        Ok(())
    }
}

/// A size for people: `820 B`, `12 KB`, `3.4 MB`.
pub fn size_label(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * 1024;
    match bytes {
        b if b < KB => format!("{b} B"),
        b if b < MB => format!("{} KB", b.div_ceil(KB)),
        b if b % MB == 0 => format!("{} MB", b / MB),
        // Tenths by integer arithmetic (half up): formatting a float here would put Rust's
        // float printing into the widget's download for one decimal.
        b => {
            let tenths = (b * 10 + MB / 2) / MB;
            format!("{}.{} MB", tenths / 10, tenths % 10)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(max_bytes: u64, types: &[&str]) -> FileRules {
        FileRules {
            max_bytes,
            types: types.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn rules_narrow_and_explain_what_they_refuse() {
        let deployment = rules(10 << 20, &["image/png", "application/pdf"]);
        let site = rules(1 << 20, &["image/png", "text/plain"]);
        let both = site.within(&deployment);
        assert_eq!(both, rules(1 << 20, &["image/png"]));
        assert_eq!(both.check("image/png", 1 << 20), Ok(()));
        assert_eq!(
            both.check("image/png", (1 << 20) + 1),
            Err("files are limited to 1 MB".into())
        );
        assert_eq!(
            both.check("application/pdf", 10),
            Err("files of type `application/pdf` cannot be sent here".into())
        );
        assert_eq!(both.check("image/png", 0), Err("the file is empty".into()));
        assert_eq!(
            rules(5, &[]).check("image/png", 1),
            Err("files cannot be sent here".into())
        );
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(size_label(820), "820 B");
        assert_eq!(size_label(12_000), "12 KB");
        assert_eq!(size_label(3 << 20), "3 MB");
        assert_eq!(size_label(3_565_158), "3.4 MB");
    }
}
