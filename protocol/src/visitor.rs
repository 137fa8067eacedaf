//! What operators see of a visitor beside a conversation: the pages of their visits, where they
//! came from, their browser, language and time zone, and their earlier conversations. The widget
//! reports its context in `hello`; the deployment keeps each page a visitor opens.

use crate::conversation::VisitorDetails;
use crate::ids::VisitorId;
use crate::model::ConversationSummary;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The longest page URL or referrer kept, in bytes.
pub const MAX_URL_BYTES: usize = 2048;

/// The longest user agent kept, in bytes.
pub const MAX_USER_AGENT_BYTES: usize = 512;

/// How many of a visitor's latest pages operators see.
pub const PAGES_SHOWN: usize = 20;

/// What the widget knows of the visitor's browser, sent in `hello`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorContext {
    /// The page that linked to the site (`document.referrer`), without query or fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    /// `navigator.userAgent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// `navigator.language` (`de-CH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The IANA time zone (`Europe/Zurich`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// The custom attributes the page set (`setAttributes`): plan, account, cart value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// The site's user this visitor is, set by the deployment once it has checked the
    /// identity's signature; whatever a widget puts here is replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// The most custom attributes a visitor carries.
pub const MAX_ATTRIBUTES: usize = 30;

/// The longest attribute key, in bytes.
pub const MAX_ATTRIBUTE_KEY_BYTES: usize = 64;

/// The longest attribute value, in bytes.
pub const MAX_ATTRIBUTE_VALUE_BYTES: usize = 500;

/// The longest user id a site may give, in bytes.
pub const MAX_USER_ID_BYTES: usize = 256;

/// Whether `attributes` keep the bounds: at most [`MAX_ATTRIBUTES`], keys of letters, digits,
/// `_`, `-` and `.`, values without control characters. The error is a sentence for the page's
/// developer.
pub fn check_attributes(attributes: &BTreeMap<String, String>) -> Result<(), String> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(format!("at most {MAX_ATTRIBUTES} attributes"));
    }
    for (key, value) in attributes {
        let key_ok = !key.is_empty()
            && key.len() <= MAX_ATTRIBUTE_KEY_BYTES
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !key_ok {
            return Err(format!(
                "the attribute key {key:?} must be 1 to {MAX_ATTRIBUTE_KEY_BYTES} letters, digits, _, - or ."
            ));
        }
        if value.len() > MAX_ATTRIBUTE_VALUE_BYTES {
            return Err(format!(
                "the attribute {key:?} is longer than {MAX_ATTRIBUTE_VALUE_BYTES} bytes"
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(format!("the attribute {key:?} has control characters"));
        }
    }
    Ok(())
}

/// A site's signed-in user, as the widget's `identify` names them. `signature` is the
/// lowercase hex HMAC-SHA256 of `user_id` keyed with the site's identity secret, computed by the
/// site's own backend (the secret never reaches a browser), as with Intercom's identity
/// verification.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserIdentity {
    /// The site's own id for the user.
    pub user_id: String,
    /// HMAC-SHA256(identity secret, user id), 64 lowercase hex digits.
    pub signature: String,
    /// Their name, shown to operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Their e-mail address, shown to operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl UserIdentity {
    /// Whether the parts are well formed (the signature itself only the deployment can check).
    /// The error is a sentence for the page's developer.
    pub fn check(&self) -> Result<(), String> {
        let id = &self.user_id;
        if id.is_empty() || id.len() > MAX_USER_ID_BYTES || id.chars().any(char::is_control) {
            return Err(format!(
                "userId must be 1 to {MAX_USER_ID_BYTES} bytes without control characters"
            ));
        }
        let hex = self.signature.len() == 64
            && self
                .signature
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex {
            return Err(
                "signature must be the 64 lowercase hex digits of HMAC-SHA256(identity secret, userId)"
                    .into(),
            );
        }
        if let Some(name) = &self.name {
            if name.trim().is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
                return Err("name must be 1 to 200 bytes without control characters".into());
            }
        }
        if let Some(email) = &self.email {
            if !crate::conversation::is_email(email) {
                return Err(format!("{email:?} is not an e-mail address"));
            }
        }
        Ok(())
    }
}

impl VisitorContext {
    /// Whether every part is within its bounds and has no control characters.
    pub fn check(&self) -> Result<(), String> {
        let parts = [
            ("referrer", &self.referrer, MAX_URL_BYTES),
            ("user_agent", &self.user_agent, MAX_USER_AGENT_BYTES),
            ("language", &self.language, 35),
            ("time_zone", &self.time_zone, 64),
            ("user id", &self.user_id, MAX_USER_ID_BYTES),
        ];
        for (name, value, limit) in parts {
            if let Some(value) = value {
                if value.len() > limit {
                    return Err(format!("the visitor's {name} is at most {limit} bytes"));
                }
                if value.chars().any(char::is_control) {
                    return Err(format!("the visitor's {name} has control characters"));
                }
            }
        }
        check_attributes(&self.attributes)
    }

    /// "Chrome 120 on Linux", from the user agent, or `None` when it names nothing known.
    pub fn browser(&self) -> Option<String> {
        let agent = self.user_agent.as_deref()?;
        let version = |marker: &str| {
            let rest = agent.split(marker).nth(1)?;
            let major: String = rest.chars().take_while(char::is_ascii_digit).collect();
            (!major.is_empty()).then_some(major)
        };
        // Order matters: Edge and Opera say "Chrome" too, Chrome says "Safari".
        let browser = [
            ("Edg/", "Edge"),
            ("OPR/", "Opera"),
            ("Firefox/", "Firefox"),
            ("Chrome/", "Chrome"),
            ("Version/", "Safari"),
        ]
        .into_iter()
        .find_map(|(marker, name)| version(marker).map(|v| format!("{name} {v}")));
        let os = [
            ("Android", "Android"),
            ("iPhone", "iOS"),
            ("iPad", "iPadOS"),
            ("Windows", "Windows"),
            ("Mac OS X", "macOS"),
            ("CrOS", "ChromeOS"),
            ("Linux", "Linux"),
        ]
        .into_iter()
        .find(|(marker, _)| agent.contains(marker))
        .map(|(_, name)| name);
        match (browser, os) {
            (Some(b), Some(os)) => Some(format!("{b} on {os}")),
            (Some(b), None) => Some(b),
            (None, Some(os)) => Some(os.to_owned()),
            (None, None) => None,
        }
    }
}

/// A page a visitor opened.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageView {
    /// The page, without query or fragment.
    pub url: String,
    /// When (Unix milliseconds).
    pub at: i64,
}

/// `GET /v1/visitors/{id}/context`: everything operators see of a visitor.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorContextView {
    /// The visitor.
    pub visitor_id: VisitorId,
    /// What they told in a form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<VisitorDetails>,
    /// Their browser's context, as last reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<VisitorContext>,
    /// Their latest pages, newest first (the first is where they are now).
    pub pages: Vec<PageView>,
    /// Their conversations, newest first.
    pub conversations: Vec<ConversationSummary>,
    /// When the deployment first saw them (Unix milliseconds).
    pub first_seen_at: i64,
}

impl VisitorContextView {
    /// Whether they came before this visit: an earlier conversation, or first seen over half an
    /// hour before their latest page.
    pub fn returning(&self) -> bool {
        let latest = self.pages.first().map_or(self.first_seen_at, |p| p.at);
        self.conversations.len() > 1 || latest - self.first_seen_at > 30 * 60 * 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(text: &str) -> VisitorContext {
        VisitorContext {
            user_agent: Some(text.into()),
            ..Default::default()
        }
    }

    #[test]
    fn browsers_are_named_from_their_user_agent() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
        assert_eq!(
            agent(chrome).browser().as_deref(),
            Some("Chrome 120 on Linux")
        );
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91";
        assert_eq!(
            agent(edge).browser().as_deref(),
            Some("Edge 120 on Windows")
        );
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
        assert_eq!(agent(safari).browser().as_deref(), Some("Safari 17 on iOS"));
        let firefox =
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:121.0) Gecko/20100101 Firefox/121.0";
        assert_eq!(
            agent(firefox).browser().as_deref(),
            Some("Firefox 121 on macOS")
        );
        assert_eq!(agent("curl/8.0").browser(), None);
    }

    #[test]
    fn oversized_or_controlled_context_is_refused() {
        assert!(agent(&"x".repeat(MAX_USER_AGENT_BYTES + 1))
            .check()
            .is_err());
        assert!(agent("a\u{7}b").check().is_err());
        assert!(agent("Chrome/1").check().is_ok());
    }
}
