//! What an event must be to be applied: the same rules whether it was recorded here by a local
//! action ([`super::Writer::record`]) or arrived from the peer ([`super::Writer::apply_remote`]),
//! so a peer (or whoever holds its secret) cannot store what no local action would. An event from
//! the peer that breaks a rule is quarantined instead (stored aside, reported, never applied), and
//! the link goes on with the next one.

use protocol::admin::{FieldError, SiteScope};
use protocol::replication::{hlc_from_parts, Change, Hlc, OperatorSetting, SiteSetting};
use protocol::routing::MAX_CAPACITY;
use protocol::{AuthorKind, SiteId};

/// The largest message body any deployment accepts (the configuration's upper bound), in bytes.
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The longest display name, e-mail address or site name, in characters.
const MAX_NAME_CHARS: usize = 200;
/// How far ahead of this deployment's wall clock an event's clock value may be: beyond that it is
/// not a skewed clock but a broken or hostile one, and observing it would drag our clock along.
const MAX_CLOCK_LEAD_MS: i64 = 24 * 3_600_000;
/// Timestamps and expiries stay below 2^53, the largest integer JavaScript reads exactly.
const MAX_TIME_MS: i64 = 1 << 53;

/// Whether `hlc` is a clock value this deployment may observe at wall time `now_ms`.
pub fn stamp(hlc: Hlc, now_ms: i64) -> Result<(), String> {
    let limit = hlc_from_parts((now_ms.max(0) + MAX_CLOCK_LEAD_MS) as u64, u16::MAX);
    if hlc == 0 || hlc > limit {
        return Err(format!(
            "clock value {hlc} is more than a day ahead of this deployment's clock"
        ));
    }
    Ok(())
}

/// Whether `change` is one a local action could have recorded.
pub fn change(change: &Change) -> Result<(), String> {
    match change {
        Change::SiteUpserted {
            id,
            name,
            allowed_origins,
        } => {
            site_id(id)?;
            text("site name", name)?;
            // Sites saved before origins were checked may hold an origin with a trailing slash:
            // any origin that parses is accepted (and compared as browsers send it).
            for origin in allowed_origins {
                if origin != super::ANY_ORIGIN && super::normalise_origin(origin).is_err() {
                    return Err(format!("`{origin}` is not an allowed origin"));
                }
            }
            Ok(())
        }
        Change::OperatorUpserted {
            email,
            name,
            password_hash,
            ..
        } => {
            text("operator name", name)?;
            self::email(email)?;
            if argon2::password_hash::PasswordHash::new(password_hash).is_err() {
                return Err("the password hash is not a PHC string".into());
            }
            Ok(())
        }
        Change::SessionCreated {
            token_hash,
            expires_at,
            ..
        } => {
            token(token_hash)?;
            time("session expiry", *expires_at)
        }
        Change::SessionDeleted { token_hash } => token(token_hash),
        Change::VisitorSeen { site_id: site, .. } => site_id(site),
        Change::ConversationOpened {
            site_id: site,
            page_url,
            created_at,
            ..
        } => {
            site_id(site)?;
            time("conversation creation", *created_at)?;
            match page_url {
                Some(url) if *url != crate::text::page_url_for_operators(url) => Err(
                    "a page address must be stored without its query and fragment, at most 2 KB"
                        .into(),
                ),
                _ => Ok(()),
            }
        }
        Change::VisitorDetailsSet { details, .. } => visitor_details(details),
        Change::ConversationRead { up_to, .. } => match *up_to {
            0 => Err("a read mark names a message's clock value".into()),
            _ => Ok(()),
        },
        // The site's scale is checked when the rating is given (it may change later); here,
        // that the rating fits the scale it names.
        Change::ConversationRated { rating, .. } => rating.check(rating.scale),
        Change::MessagePosted {
            author_kind,
            author_id,
            author_name,
            body,
            sent_at,
            attachment,
            ..
        } => {
            if let Some(file) = attachment {
                file.check()?;
            }
            let empty_ok = attachment.is_some();
            if (body.trim().is_empty() && !empty_ok) || body.len() > MAX_BODY_BYTES {
                return Err("a message body must have text (or a file) and at most 1 MiB".into());
            }
            if let Some(c) = crate::text::refused_character(body) {
                return Err(format!("a message body contains U+{:04X}", c as u32));
            }
            if let Some(name) = author_name {
                text("author name", name)?;
            }
            if (*author_kind == AuthorKind::System) != author_id.is_none() {
                return Err("system messages, and only they, have no author".into());
            }
            time("message time", *sent_at)
        }
        Change::ConversationStateChanged { .. } => Ok(()),
        Change::PageViewed { url, .. } => {
            let ok = !url.is_empty()
                && url.len() <= protocol::visitor::MAX_URL_BYTES
                && !url.chars().any(char::is_control);
            ok.then_some(()).ok_or_else(|| {
                "a page view's URL is 1 to 2048 bytes without control characters".into()
            })
        }
        Change::VisitorContextSet { context, .. } => context.check(),
        Change::CannedReplySet { id, reply } => match reply {
            Some(reply) if reply.id != *id => Err("a canned reply's id must be its own".into()),
            Some(reply) => reply.check().map_err(|e| e.message),
            None => Ok(()),
        },
        Change::SiteSettingSet {
            site_id: site,
            setting,
        } => {
            site_id(site)?;
            match setting {
                SiteSetting::Appearance(appearance) => appearance.check(),
                SiteSetting::Forms(forms) => forms.check(),
                SiteSetting::IdentitySecret(secret) => {
                    let ok = (32..=128).contains(&secret.len())
                        && secret
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
                    ok.then_some(()).ok_or_else(|| {
                        FieldError::new(
                            "identity_secret",
                            "an identity secret is 32 to 128 letters, digits, - and _",
                        )
                    })
                }
                SiteSetting::Routing(_) => Ok(()),
            }
            .map_err(|e| format!("{}: {}", e.field, e.message))
        }
        Change::SiteRemoved { id } => site_id(id),
        Change::OperatorSettingSet { setting, .. } => match setting {
            OperatorSetting::Disabled(_) | OperatorSetting::Sites(SiteScope::All) => Ok(()),
            OperatorSetting::Sites(SiteScope::Only(sites)) => {
                if sites.len() > MAX_SCOPE_SITES {
                    return Err(format!(
                        "an operator serves at most {MAX_SCOPE_SITES} sites by name"
                    ));
                }
                sites.iter().try_for_each(site_id)
            }
            OperatorSetting::Capacity(capacity) if *capacity > MAX_CAPACITY => Err(format!(
                "a capacity is at most {MAX_CAPACITY} chats (0: no limit)"
            )),
            OperatorSetting::Capacity(_) => Ok(()),
        },
        Change::OperatorRemoved { .. } => Ok(()),
    }
}

/// The most sites an operator's scope names one by one.
const MAX_SCOPE_SITES: usize = 1000;

/// Whether `id` is a site id: 1 to 64 letters, digits, `-`, `_` and `.`.
pub fn site_id(id: &SiteId) -> Result<(), String> {
    let ok = (1..=64).contains(&id.0.len())
        && id
            .0
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    ok.then_some(())
        .ok_or_else(|| format!("`{}` is not a site id", id.0))
}

/// Whether `email` looks like an e-mail address (the rest is for the mail system to say).
pub fn email(email: &str) -> Result<(), String> {
    let ok = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then_some(())
        .ok_or_else(|| format!("`{email}` is not an e-mail address"))
}

/// Whether `value` is a name (of a site, an operator): 1 to 200 characters, none invisible.
/// What a visitor told about themselves: names and answers of bounded length without disguising
/// characters, an address that is one.
fn visitor_details(details: &protocol::VisitorDetails) -> Result<(), String> {
    use protocol::conversation::MAX_ANSWER_CHARS;
    let bounded = |what: &str, value: &str| {
        if value.chars().count() > MAX_ANSWER_CHARS || value.chars().any(char::is_control) {
            return Err(format!(
                "a visitor's {what} is too long or has control characters"
            ));
        }
        Ok(())
    };
    if let Some(name) = &details.name {
        bounded("name", name)?;
    }
    if let Some(email) = &details.email {
        if !protocol::conversation::is_email(email) {
            return Err("a visitor's e-mail address is not one".into());
        }
    }
    if details.fields.len() > protocol::admin::MAX_FORM_FIELDS + 2 {
        return Err("a visitor answered more fields than a form has".into());
    }
    for field in &details.fields {
        bounded("field key", &field.key)?;
        bounded("field label", &field.label)?;
        bounded("answer", &field.value)?;
    }
    Ok(())
}

pub fn text(what: &str, value: &str) -> Result<(), String> {
    let count = value.chars().count();
    if value.trim().is_empty() || count > MAX_NAME_CHARS {
        return Err(format!("a {what} needs 1 to {MAX_NAME_CHARS} characters"));
    }
    match crate::text::refused_character(value) {
        Some(c) => Err(format!("a {what} contains U+{:04X}", c as u32)),
        None => Ok(()),
    }
}

fn token(hash: &str) -> Result<(), String> {
    let ok = hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    ok.then_some(())
        .ok_or_else(|| "a session token hash is 64 lower-case hex digits".into())
}

fn time(what: &str, ms: i64) -> Result<(), String> {
    (0..MAX_TIME_MS)
        .contains(&ms)
        .then_some(())
        .ok_or_else(|| format!("the {what} {ms} is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_values_far_ahead_and_zero_are_refused() {
        let now = 1_700_000_000_000;
        assert!(stamp(hlc_from_parts(now as u64 + 60_000, 3), now).is_ok());
        assert!(stamp(u64::MAX, now).is_err());
        assert!(stamp(0, now).is_err());
        assert!(stamp(hlc_from_parts(now as u64 + 2 * 86_400_000, 0), now).is_err());
    }

    #[test]
    fn malformed_records_are_refused() {
        let hash = "0".repeat(64);
        assert!(change(&Change::SessionDeleted { token_hash: hash }).is_ok());
        assert!(change(&Change::SessionDeleted {
            token_hash: "x".into()
        })
        .is_err());
        assert!(change(&Change::SiteUpserted {
            id: SiteId("acme".into()),
            name: "Acme".into(),
            allowed_origins: vec!["https://acme.example/path".into()],
        })
        .is_err());
        assert!(change(&Change::SiteUpserted {
            id: SiteId("a b".into()),
            name: "Acme".into(),
            allowed_origins: vec!["*".into()],
        })
        .is_err());
    }
}
