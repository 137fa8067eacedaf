//! Canned replies: texts operators insert with a shortcut (`/refund` in the reply box), shared
//! by a site's operators or personal, with placeholders filled in from the conversation
//! (`{visitor.name}`). The rules for a valid reply live here, so the console checks what the
//! deployment checks again.

use crate::admin::FieldError;
use crate::ids::{OperatorId, SiteId};
use serde::{Deserialize, Serialize};

/// A canned reply's id, chosen by whoever creates it (UUIDv7).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CannedId(pub uuid::Uuid);

impl std::fmt::Display for CannedId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Who a canned reply is for.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CannedScope {
    /// Every operator who serves the site; managed by admins.
    Site(SiteId),
    /// One operator's own.
    Personal(OperatorId),
}

/// A canned reply.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CannedReply {
    /// Its id.
    pub id: CannedId,
    /// Who it is for.
    pub scope: CannedScope,
    /// What follows `/` in the reply box: 1 to 32 lower-case letters, digits, `-` and `_`.
    pub shortcut: String,
    /// The text, with placeholders such as `{visitor.name}`.
    pub text: String,
}

/// The placeholders a canned reply may use.
pub const PLACEHOLDERS: [&str; 4] = [
    "visitor.name",
    "visitor.email",
    "operator.name",
    "site.name",
];

/// The longest text, in characters.
pub const MAX_CANNED_CHARS: usize = 2_000;

impl CannedReply {
    /// Every rule, or the first one broken, naming its field.
    pub fn check(&self) -> Result<(), FieldError> {
        let ok_shortcut = (1..=32).contains(&self.shortcut.len())
            && self
                .shortcut
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !ok_shortcut {
            return Err(FieldError::new(
                "shortcut",
                "a shortcut has 1 to 32 lower-case letters, digits, - and _",
            ));
        }
        let count = self.text.chars().count();
        if self.text.trim().is_empty() || count > MAX_CANNED_CHARS {
            return Err(FieldError::new(
                "text",
                format!("the text needs 1 to {MAX_CANNED_CHARS} characters (it has {count})"),
            ));
        }
        if let Some(c) = self
            .text
            .chars()
            .find(|c| (c.is_control() && *c != '\n') || ('\u{202a}'..='\u{202e}').contains(c))
        {
            return Err(FieldError::new(
                "text",
                format!(
                    "the text contains the invisible character U+{:04X}",
                    c as u32
                ),
            ));
        }
        for name in placeholders(&self.text) {
            if !PLACEHOLDERS.contains(&name) {
                return Err(FieldError::new(
                    "text",
                    format!(
                        "{{{name}}} is not a placeholder; use {}",
                        PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The names inside braces in `text` (`{visitor.name}` gives `visitor.name`).
fn placeholders(text: &str) -> impl Iterator<Item = &str> {
    text.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
}

/// `text` with every placeholder replaced by `value(name)`; a visitor without a name is
/// "there" ("Hi {visitor.name}!" reads "Hi there!"), any other missing value is left out.
pub fn fill(text: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.split_once('}') {
            Some((name, tail)) if PLACEHOLDERS.contains(&name) => {
                let fallback = (name == "visitor.name").then(|| "there".to_owned());
                out.push_str(&value(name).or(fallback).unwrap_or_default());
                rest = tail;
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(shortcut: &str, text: &str) -> CannedReply {
        CannedReply {
            id: CannedId(uuid::Uuid::nil()),
            scope: CannedScope::Site(SiteId("acme".into())),
            shortcut: shortcut.into(),
            text: text.into(),
        }
    }

    #[test]
    fn replies_are_checked_and_name_the_field_they_break() {
        assert_eq!(reply("refund", "Hi {visitor.name}, done.").check(), Ok(()));
        assert_eq!(reply("Refund", "x").check().unwrap_err().field, "shortcut");
        assert_eq!(reply("", "x").check().unwrap_err().field, "shortcut");
        assert_eq!(reply("a", " ").check().unwrap_err().field, "text");
        let unknown = reply("a", "Hi {visitor.age}").check().unwrap_err();
        assert_eq!(unknown.field, "text");
        assert!(
            unknown.message.contains("{visitor.age}"),
            "{}",
            unknown.message
        );
    }

    #[test]
    fn placeholders_are_filled_and_a_missing_name_reads_there() {
        let values = |name: &str| (name == "operator.name").then(|| "Ada".to_owned());
        assert_eq!(
            fill(
                "Hi {visitor.name}, {operator.name} here{visitor.email}. {x}",
                values
            ),
            "Hi there, Ada here. {x}"
        );
    }
}
