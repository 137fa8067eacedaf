//! What a conversation carries beyond its messages: whether anyone is there to answer
//! ([`Presence`]), what the visitor told about themselves in the pre-chat or offline form
//! ([`VisitorDetails`], sent with a message as an [`Intake`]), and the kind of conversation that
//! made ([`ConversationKind`]).

use crate::admin::{FieldKind, SiteForms};
use crate::ids::OperatorId;
use serde::{Deserialize, Serialize};

/// An operator's availability, chosen in the console (or set to away by the console after a
/// while without input, and by the deployment when their last console closes).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Ready to answer chats.
    #[default]
    Online,
    /// Not answering now: visitors of the sites they serve see the away text, unless someone
    /// else is online.
    Away,
}

impl Presence {
    /// The lower-case name used on the wire and in `data-state` test hooks.
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Online => "online",
            Presence::Away => "away",
        }
    }

    /// The inverse of [`Presence::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "online" => Some(Presence::Online),
            "away" => Some(Presence::Away),
            _ => None,
        }
    }
}

/// An operator who is online, as one deployment tells the other (the sites they serve decide
/// which visitors see "online").
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnlineOperator {
    /// The account.
    pub id: OperatorId,
    /// The sites they serve.
    #[serde(default)]
    pub sites: crate::admin::SiteScope,
}

/// How a conversation began.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationKind {
    /// A live chat.
    #[default]
    Chat,
    /// The offline form, left while nobody was online: operators answer it later (by e-mail or
    /// when the visitor comes back).
    Offline,
}

impl ConversationKind {
    /// The lower-case name used on the wire, in the database and in `data-kind` test hooks.
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationKind::Chat => "chat",
            ConversationKind::Offline => "offline",
        }
    }

    /// The inverse of [`ConversationKind::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "chat" => Some(ConversationKind::Chat),
            "offline" => Some(ConversationKind::Offline),
            _ => None,
        }
    }
}

pub use crate::files::{Attachment, SAFE_IMAGE_TYPES};

/// How a site asks visitors to rate a conversation after it ended.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatingScale {
    /// No rating.
    Off,
    /// Good or bad: scores 0 (bad) and 1 (good). The default.
    #[default]
    GoodBad,
    /// One to five stars.
    Stars,
}

impl RatingScale {
    /// The name used on the wire and in the console's select.
    pub fn as_str(self) -> &'static str {
        match self {
            RatingScale::Off => "off",
            RatingScale::GoodBad => "good_bad",
            RatingScale::Stars => "stars",
        }
    }

    /// The score as the console shows it: 👍 or 👎, or stars.
    pub fn label(self, score: u8) -> String {
        match (self, score) {
            (RatingScale::GoodBad, 0) => "👎".into(),
            (RatingScale::GoodBad, _) => "👍".into(),
            (_, n) => "★".repeat(usize::from(n)),
        }
    }

    /// The inverse of [`RatingScale::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "off" => Some(RatingScale::Off),
            "good_bad" => Some(RatingScale::GoodBad),
            "stars" => Some(RatingScale::Stars),
            _ => None,
        }
    }

    /// The scores a visitor may give, lowest first (none when rating is off).
    pub fn scores(self) -> std::ops::RangeInclusive<u8> {
        match self {
            // An empty range: nothing to choose from.
            #[allow(clippy::reversed_empty_ranges)]
            RatingScale::Off => 1..=0,
            RatingScale::GoodBad => 0..=1,
            RatingScale::Stars => 1..=5,
        }
    }
}

/// The longest comment with a rating, in characters.
pub const MAX_RATING_COMMENT_CHARS: usize = 1000;

/// A visitor's rating of a conversation that ended.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    /// The scale it was given on (the site's when the visitor rated).
    pub scale: RatingScale,
    /// The score on that scale ([`RatingScale::scores`]).
    pub score: u8,
    /// What the visitor added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl Rating {
    /// Whether the rating is on `scale` and fits it, with a comment of bounded length and no
    /// control characters other than line breaks.
    pub fn check(&self, scale: RatingScale) -> Result<(), String> {
        if scale == RatingScale::Off {
            return Err("this site does not ask for ratings".into());
        }
        if self.scale != scale {
            return Err(format!(
                "this site rates chats on the scale `{}`",
                scale.as_str()
            ));
        }
        if !scale.scores().contains(&self.score) {
            let scores = scale.scores();
            let (low, high) = (scores.start(), scores.end());
            return Err(format!("a rating is from {low} to {high}"));
        }
        if let Some(comment) = &self.comment {
            if comment.chars().count() > MAX_RATING_COMMENT_CHARS {
                return Err(format!(
                    "a comment can be at most {MAX_RATING_COMMENT_CHARS} characters long"
                ));
            }
            if comment.chars().any(|c| c.is_control() && c != '\n') {
                return Err("a comment may not contain control characters".into());
            }
        }
        Ok(())
    }
}

/// The longest answer to one form field, in characters.
pub const MAX_ANSWER_CHARS: usize = 200;

/// One answer to a custom field of the pre-chat form.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldAnswer {
    /// The field's key in the site's form.
    pub key: String,
    /// The field's label when the visitor answered (shown to operators as it was asked).
    pub label: String,
    /// The answer.
    pub value: String,
}

/// What a visitor told about themselves (pre-chat or offline form), shown to operators.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorDetails {
    /// Their name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Their e-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Answers to the site's custom fields, in the form's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldAnswer>,
}

/// A form's answers, sent with the message they came with so both are stored in one step: a
/// visitor's first message after the pre-chat form, or the offline form's message.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intake {
    /// A chat (pre-chat form) or an offline message.
    pub kind: ConversationKind,
    /// The answers.
    pub details: VisitorDetails,
}

/// A form answer that breaks a rule: which field, and a sentence for the visitor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnswerError {
    /// The field's key (`name`, `email`, a custom key).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for AnswerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Whether `text` looks like an e-mail address: one `@` with text before it and a dotted domain
/// after it, no spaces. Deliverability is the mail server's business; this catches typing slips
/// ("anna.example.com", "anna@example") before anything is stored.
pub fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let labels_ok = domain.split('.').count() >= 2
        && domain.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    !local.is_empty()
        && local.len() <= 64
        && text.len() <= 254
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
        && !domain.contains('@')
        && labels_ok
}

/// Checks one answer's length and characters.
fn answer(field: &str, label: &str, value: &str, required: bool) -> Result<(), AnswerError> {
    let fail = |message: String| {
        Err(AnswerError {
            field: field.to_owned(),
            message,
        })
    };
    if value.trim().is_empty() {
        return match required {
            true => fail(format!("Please fill in “{label}”.")),
            false => Ok(()),
        };
    }
    if value.chars().count() > MAX_ANSWER_CHARS {
        return fail(format!(
            "“{label}” can be at most {MAX_ANSWER_CHARS} characters long."
        ));
    }
    if value.chars().any(char::is_control) {
        return fail(format!("“{label}” may not contain control characters."));
    }
    Ok(())
}

impl Intake {
    /// Checks the answers against the site's forms: the offline form needs a name and a valid
    /// e-mail address; the pre-chat form needs its required fields and knows no others. The
    /// widget checks the same before sending, and the deployment again before storing anything.
    pub fn check(&self, forms: &SiteForms) -> Result<(), AnswerError> {
        let details = &self.details;
        let name = details.name.as_deref().unwrap_or("");
        let email = details.email.as_deref().unwrap_or("");
        let email_ok = |required: bool, label: &str| {
            answer("email", label, email, required)?;
            match email.is_empty() || is_email(email) {
                true => Ok(()),
                false => Err(AnswerError {
                    field: "email".into(),
                    message: format!("“{email}” is not an e-mail address."),
                }),
            }
        };
        match self.kind {
            ConversationKind::Offline => {
                if !details.fields.is_empty() {
                    return Err(AnswerError {
                        field: "fields".into(),
                        message: "the offline form has no custom fields".into(),
                    });
                }
                answer("name", "Name", name, true)?;
                email_ok(true, "E-mail")
            }
            ConversationKind::Chat => {
                let form = &forms.prechat;
                let field = |kind: FieldKind| form.fields.iter().find(|f| f.kind == kind);
                match field(FieldKind::Name) {
                    Some(f) => answer("name", &f.label, name, f.required)?,
                    None if !name.is_empty() => return Err(unknown("name")),
                    None => {}
                }
                match field(FieldKind::Email) {
                    Some(f) => email_ok(f.required, &f.label)?,
                    None if !email.is_empty() => return Err(unknown("email")),
                    None => {}
                }
                for given in &details.fields {
                    let known = form
                        .fields
                        .iter()
                        .any(|f| f.kind == FieldKind::Text && f.key == given.key);
                    if !known || details.fields.iter().filter(|g| g.key == given.key).count() > 1 {
                        return Err(unknown(&given.key));
                    }
                    answer(&given.key, &given.label, &given.value, false)?;
                    if given.label.chars().count() > MAX_ANSWER_CHARS {
                        return Err(unknown(&given.key));
                    }
                }
                for asked in form.fields.iter().filter(|f| f.kind == FieldKind::Text) {
                    let value = details
                        .fields
                        .iter()
                        .find(|g| g.key == asked.key)
                        .map_or("", |g| g.value.as_str());
                    answer(&asked.key, &asked.label, value, asked.required)?;
                }
                Ok(())
            }
        }
    }
}

fn unknown(key: &str) -> AnswerError {
    AnswerError {
        field: key.to_owned(),
        message: format!("the form has no field `{key}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::{FormField, PrechatForm};

    fn forms() -> SiteForms {
        SiteForms {
            prechat: PrechatForm {
                enabled: true,
                fields: vec![
                    FormField {
                        key: "name".into(),
                        label: "Name".into(),
                        kind: FieldKind::Name,
                        required: true,
                    },
                    FormField {
                        key: "email".into(),
                        label: "E-mail".into(),
                        kind: FieldKind::Email,
                        required: false,
                    },
                    FormField {
                        key: "order".into(),
                        label: "Order number".into(),
                        kind: FieldKind::Text,
                        required: true,
                    },
                ],
            },
            ..SiteForms::default()
        }
    }

    fn intake(kind: ConversationKind, name: &str, email: &str, order: Option<&str>) -> Intake {
        Intake {
            kind,
            details: VisitorDetails {
                name: Some(name.into()).filter(|n: &String| !n.is_empty()),
                email: Some(email.into()).filter(|e: &String| !e.is_empty()),
                fields: order
                    .map(|o| FieldAnswer {
                        key: "order".into(),
                        label: "Order number".into(),
                        value: o.into(),
                    })
                    .into_iter()
                    .collect(),
            },
        }
    }

    #[test]
    fn ratings_fit_the_sites_scale() {
        let rating = |score: u8, comment: Option<&str>| Rating {
            scale: if score > 1 {
                RatingScale::Stars
            } else {
                RatingScale::GoodBad
            },
            score,
            comment: comment.map(str::to_owned),
        };
        assert!(rating(1, None).check(RatingScale::GoodBad).is_ok());
        assert!(
            rating(1, None).check(RatingScale::Stars).is_err(),
            "another scale"
        );
        assert!(rating(0, Some("slow")).check(RatingScale::GoodBad).is_ok());
        assert!(rating(2, None).check(RatingScale::GoodBad).is_err());
        assert!(rating(5, Some("great\nthanks"))
            .check(RatingScale::Stars)
            .is_ok());
        assert!(rating(6, None).check(RatingScale::Stars).is_err());
        let zero_stars = Rating {
            scale: RatingScale::Stars,
            score: 0,
            comment: None,
        };
        assert!(zero_stars.check(RatingScale::Stars).is_err());
        assert!(rating(1, None).check(RatingScale::Off).is_err());
        let long = "x".repeat(MAX_RATING_COMMENT_CHARS + 1);
        assert!(rating(3, Some(&long)).check(RatingScale::Stars).is_err());
        assert!(rating(3, Some("a\u{7}b"))
            .check(RatingScale::Stars)
            .is_err());
        for scale in [RatingScale::Off, RatingScale::GoodBad, RatingScale::Stars] {
            assert_eq!(RatingScale::parse(scale.as_str()), Some(scale));
        }
    }

    #[test]
    fn e_mail_addresses_are_told_from_typing_slips() {
        for good in [
            "anna@example.com",
            "a.b+c@mail.example.co.uk",
            "ü@bücher.de",
        ] {
            assert!(is_email(good), "{good}");
        }
        for bad in [
            "",
            "anna",
            "anna@example",
            "@example.com",
            "anna@@example.com",
            "an na@example.com",
            "anna@example..com",
            "anna@.example.com",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn the_prechat_form_needs_its_required_fields_and_knows_no_others() {
        let forms = forms();
        let chat = ConversationKind::Chat;
        assert!(intake(chat, "Anna", "", Some("A-1")).check(&forms).is_ok());
        assert_eq!(
            intake(chat, "", "", Some("A-1"))
                .check(&forms)
                .unwrap_err()
                .field,
            "name"
        );
        assert_eq!(
            intake(chat, "Anna", "", None)
                .check(&forms)
                .unwrap_err()
                .field,
            "order"
        );
        assert_eq!(
            intake(chat, "Anna", "anna@", Some("A-1"))
                .check(&forms)
                .unwrap_err()
                .field,
            "email"
        );
        let mut extra = intake(chat, "Anna", "", Some("A-1"));
        extra.details.fields.push(FieldAnswer {
            key: "secret".into(),
            label: "x".into(),
            value: "y".into(),
        });
        assert_eq!(extra.check(&forms).unwrap_err().field, "secret");
        let long = "x".repeat(MAX_ANSWER_CHARS + 1);
        assert!(intake(chat, &long, "", Some("A-1")).check(&forms).is_err());
    }

    #[test]
    fn the_offline_form_needs_a_name_and_an_address() {
        let forms = forms();
        let offline = ConversationKind::Offline;
        assert!(intake(offline, "Anna", "anna@example.com", None)
            .check(&forms)
            .is_ok());
        assert_eq!(
            intake(offline, "Anna", "", None)
                .check(&forms)
                .unwrap_err()
                .field,
            "email"
        );
        assert_eq!(
            intake(offline, "", "anna@example.com", None)
                .check(&forms)
                .unwrap_err()
                .field,
            "name"
        );
        assert!(intake(offline, "Anna", "anna@example.com", Some("A-1"))
            .check(&forms)
            .is_err());
    }
}
