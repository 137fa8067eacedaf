//! The site owner's admin API (`/v1/admin/...`, admins only), the widget's public configuration
//! (`GET /v1/sites/{id}/widget-config`), and the settings both carry.
//!
//! The rules a setting must keep ([`Appearance::check`], [`SiteForms::check`]) live here, beside
//! the types, so the deployment (which enforces them, for its own API and for replicated events)
//! and the console (which shows the sentence next to the field) apply the same ones.

use crate::ids::{OperatorId, SiteId};
use crate::model::OperatorRole;
use serde::{Deserialize, Serialize};

/// The languages the widget's texts are offered in (BCP 47 primary tags).
pub const LANGUAGES: [&str; 12] = [
    "en", "de", "fr", "es", "nb", "pt", "it", "nl", "pl", "ja", "ar", "he",
];

/// The longest short text of a site (launcher label, panel title), in characters.
pub const MAX_LABEL_CHARS: usize = 80;
/// The longest long text of a site (greeting, away text, a field's label), in characters.
pub const MAX_TEXT_CHARS: usize = 500;
/// The most custom fields a pre-chat form has.
pub const MAX_FORM_FIELDS: usize = 10;

/// What is wrong with one field of a request: the console shows `message` next to `field`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The field's name in the request body (`accent_color`, `allowed_origins`).
    pub field: String,
    /// The sentence to show.
    pub message: String,
}

impl FieldError {
    /// An error about `field`.
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

pub use crate::appearance::{Appearance, LauncherPosition, Theme};

/// What a pre-chat form field asks for.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// The visitor's name.
    Name,
    /// The visitor's e-mail address (checked as one).
    Email,
    /// Free text.
    Text,
}

/// One field of the pre-chat form.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormField {
    /// The key the answer is stored under (`name`, `email`, `order_number`).
    pub key: String,
    /// The label shown to the visitor.
    pub label: String,
    /// What it asks for.
    pub kind: FieldKind,
    /// Whether the visitor must fill it in.
    #[serde(default)]
    pub required: bool,
}

/// The form a visitor fills in before their first message.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrechatForm {
    /// Whether it is shown at all.
    pub enabled: bool,
    /// Its fields, in order.
    pub fields: Vec<FormField>,
}

/// What the widget does when no operator who serves the site is online.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfflineMode {
    /// Offer the offline form (name, e-mail, message): the default.
    #[default]
    Form,
    /// Hide the launcher.
    HideLauncher,
}

impl OfflineMode {
    /// The name used on the wire and in the console's select.
    pub fn as_str(self) -> &'static str {
        match self {
            OfflineMode::Form => "form",
            OfflineMode::HideLauncher => "hide_launcher",
        }
    }

    /// The inverse of [`OfflineMode::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "form" => Some(OfflineMode::Form),
            "hide_launcher" => Some(OfflineMode::HideLauncher),
            _ => None,
        }
    }
}

/// A site's forms.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SiteForms {
    /// The pre-chat form.
    pub prechat: PrechatForm,
    /// When nobody is online.
    pub offline: OfflineMode,
    /// How visitors rate a conversation after it ended.
    pub rating: crate::conversation::RatingScale,
    /// Where the offline form's messages are e-mailed (when the deployment has SMTP set up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_email: Option<String>,
    /// What visitors and operators may send in the site's conversations, narrowing the
    /// deployment's rules; `None` keeps the deployment's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<crate::files::FileRules>,
}

impl Default for SiteForms {
    fn default() -> Self {
        Self {
            prechat: PrechatForm {
                enabled: false,
                fields: vec![
                    FormField {
                        key: "name".into(),
                        label: "Name".into(),
                        kind: FieldKind::Name,
                        required: false,
                    },
                    FormField {
                        key: "email".into(),
                        label: "E-mail".into(),
                        kind: FieldKind::Email,
                        required: true,
                    },
                ],
            },
            offline: OfflineMode::Form,
            rating: Default::default(),
            notify_email: None,
            files: None,
        }
    }
}

impl SiteForms {
    /// Every rule the forms keep, or the first one broken.
    pub fn check(&self) -> Result<(), FieldError> {
        if let Some(address) = &self.notify_email {
            if !crate::conversation::is_email(address) {
                return Err(FieldError::new(
                    "notify_email",
                    format!("“{address}” is not an e-mail address"),
                ));
            }
        }
        if let Some(files) = &self.files {
            check_file_rules(files)?;
        }
        let fields = &self.prechat.fields;
        if fields.len() > MAX_FORM_FIELDS + 2 {
            return Err(FieldError::new(
                "prechat.fields",
                format!("a pre-chat form has at most {MAX_FORM_FIELDS} custom fields"),
            ));
        }
        for (i, field) in fields.iter().enumerate() {
            let ok_key = (1..=40).contains(&field.key.len())
                && field
                    .key
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !ok_key {
                return Err(FieldError::new(
                    "prechat.fields",
                    format!(
                        "`{}` is not a field key: use 1 to 40 lower-case letters, digits and _",
                        field.key
                    ),
                ));
            }
            if fields[..i].iter().any(|f| f.key == field.key) {
                return Err(FieldError::new(
                    "prechat.fields",
                    format!("two fields have the key `{}`", field.key),
                ));
            }
            text("prechat.fields", &field.label, MAX_LABEL_CHARS)?;
        }
        if self.prechat.enabled && fields.is_empty() {
            return Err(FieldError::new(
                "prechat.fields",
                "a pre-chat form that is on needs at least one field",
            ));
        }
        Ok(())
    }
}

/// A site's file rules: a size of at least one byte, at most 30 well-formed media types.
fn check_file_rules(files: &crate::files::FileRules) -> Result<(), FieldError> {
    if files.max_bytes == 0 {
        return Err(FieldError::new(
            "files.max_bytes",
            "the largest file needs at least one byte",
        ));
    }
    if files.types.len() > 30 {
        return Err(FieldError::new("files.types", "list at most 30 file types"));
    }
    for kind in &files.types {
        if !crate::files::is_media_type(kind) {
            return Err(FieldError::new(
                "files.types",
                format!("`{kind}` is not a media type (such as image/png)"),
            ));
        }
    }
    Ok(())
}

/// Whether `value` has 1 to `max` characters and none that would let it disguise itself.
pub(crate) fn text(field: &str, value: &str, max: usize) -> Result<(), FieldError> {
    let count = value.chars().count();
    if value.trim().is_empty() || count > max {
        return Err(FieldError::new(
            field,
            format!("this needs 1 to {max} characters (it has {count})"),
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| (c.is_control() && *c != '\n') || ('\u{202a}'..='\u{202e}').contains(c))
    {
        return Err(FieldError::new(
            field,
            format!("this contains the invisible character U+{:04X}", c as u32),
        ));
    }
    Ok(())
}

/// `GET /v1/sites/{id}/widget-config`: what the loader and the widget need to look right, public
/// (the identity secret is never in it).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WidgetConfig {
    /// The site.
    pub site_id: SiteId,
    /// Look and texts.
    pub appearance: Appearance,
    /// Forms.
    pub forms: SiteForms,
    /// Whether an operator who serves the site was online when this was answered (the loader
    /// hides the launcher on that when the site says so; the widget then hears every change).
    #[serde(default)]
    pub online: bool,
    /// Whether the deployment can send e-mail (the widget then offers the transcript by mail).
    #[serde(default)]
    pub mail: bool,
    /// What files visitors may send: the deployment's rules narrowed by the site's (the widget
    /// checks a file against them before uploading it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<crate::files::FileRules>,
}

/// Which sites an operator serves.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteScope {
    /// Every site, including those created later: the default.
    #[default]
    All,
    /// Only these.
    Only(Vec<SiteId>),
}

impl SiteScope {
    /// Whether a conversation of `site` is for this operator.
    pub fn allows(&self, site: &SiteId) -> bool {
        match self {
            SiteScope::All => true,
            SiteScope::Only(sites) => sites.contains(site),
        }
    }
}

/// `POST /v1/admin/sites`: a new site.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteDraft {
    /// The id the snippet carries (`acme`): letters, digits, `-`, `_` and `.`.
    pub id: SiteId,
    /// The site's name, for the team.
    pub name: String,
    /// The origins whose pages may embed the chat, or `["*"]` for every page.
    pub allowed_origins: Vec<String>,
}

/// `PUT /v1/admin/sites/{id}`: a site's name and origins.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteEdit {
    /// The site's name.
    pub name: String,
    /// The origins whose pages may embed the chat, or `["*"]`.
    pub allowed_origins: Vec<String>,
}

/// A site as admins see it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminSite {
    /// The id the snippet carries.
    pub id: SiteId,
    /// Its name.
    pub name: String,
    /// Allowed origins, normalised, or `["*"]`.
    pub allowed_origins: Vec<String>,
    /// The secret the site's backend signs visitors' identities with; absent for sites created
    /// before there were secrets, until an admin rotates one in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_secret: Option<String>,
    /// Look and texts (the defaults until changed).
    pub appearance: Appearance,
    /// Forms (the defaults until changed).
    pub forms: SiteForms,
    /// How its chats are assigned (by hand until changed).
    #[serde(default)]
    pub routing: crate::routing::RoutingMode,
}

/// `GET /v1/admin/sites/{id}/snippet`: the HTML to paste.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snippet {
    /// The whole snippet: the settings and the loader, inline.
    pub snippet: String,
}

/// Whether an operator may log in.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorState {
    /// May log in.
    #[default]
    Active,
    /// May not; every session ended when the account was disabled.
    Disabled,
}

impl OperatorState {
    /// The name used on the wire and in `data-state`.
    pub fn as_str(self) -> &'static str {
        match self {
            OperatorState::Active => "active",
            OperatorState::Disabled => "disabled",
        }
    }
}

/// An operator as admins see them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminOperator {
    /// The account.
    pub id: OperatorId,
    /// Login e-mail address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Admin or agent.
    pub role: OperatorRole,
    /// Active or disabled.
    pub state: OperatorState,
    /// The sites whose conversations they see.
    pub sites: SiteScope,
    /// The most chats assigned to them at once (0: no limit).
    #[serde(default)]
    pub capacity: u32,
}

/// `POST /v1/admin/operators`: a new team member, with an initial password or, without one, an
/// invitation link that lets them choose it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorDraft {
    /// Login e-mail address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Admin or agent.
    pub role: OperatorRole,
    /// The initial password (at least 8 characters); absent to invite instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The sites they serve (all by default).
    #[serde(default)]
    pub sites: SiteScope,
}

/// The answer to [`OperatorDraft`] and to `POST /v1/admin/operators/{id}/invitation`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorCreated {
    /// The account.
    pub operator: AdminOperator,
    /// The link that lets them choose a password, when invited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation_url: Option<String>,
}

/// `PATCH /v1/admin/operators/{id}`: what changes (absent fields stay).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorEdit {
    /// A new display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new role (their sessions end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<OperatorRole>,
    /// Disable (their sessions end) or enable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<OperatorState>,
    /// The sites they serve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sites: Option<SiteScope>,
    /// A new password (at least 8 characters; their sessions end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// A new capacity (0: no limit; at most [`crate::routing::MAX_CAPACITY`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u32>,
}

/// `POST /v1/operators/invitation`: an invited operator chooses their password and is logged in.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptInvitation {
    /// The token from the invitation link.
    pub token: String,
    /// The chosen password (at least 8 characters).
    pub password: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_keep_their_own_rules_and_bad_values_name_their_field() {
        assert_eq!(Appearance::default().check(), Ok(()));
        assert_eq!(SiteForms::default().check(), Ok(()));
        let bad = Appearance {
            accent_color: "red".into(),
            ..Appearance::default()
        };
        assert_eq!(bad.check().unwrap_err().field, "accent_color");
        let bad = Appearance {
            language: "xx".into(),
            ..Appearance::default()
        };
        assert_eq!(bad.check().unwrap_err().field, "language");
        let bad = Appearance {
            title: "x".repeat(MAX_LABEL_CHARS + 1),
            ..Appearance::default()
        };
        assert_eq!(bad.check().unwrap_err().field, "title");
        let bad = Appearance {
            greeting: "hi \u{202e}".into(),
            ..Appearance::default()
        };
        assert_eq!(bad.check().unwrap_err().field, "greeting");
        let mut forms = SiteForms::default();
        forms.prechat.fields[1].key = "name".into();
        assert!(forms.check().is_err());
    }

    #[test]
    fn appearance_speaks_the_snippets_names() {
        let json = serde_json::to_value(Appearance::default()).unwrap();
        assert!(json.get("accentColor").is_some());
        assert_eq!(json["position"], "bottom_right");
        // A stored appearance from an older release lacks newer fields; they take defaults.
        let old: Appearance = serde_json::from_str(r##"{"accentColor":"#000000"}"##).unwrap();
        assert_eq!(old.title, Appearance::default().title);
        assert!(!SiteScope::Only(vec![SiteId("a".into())]).allows(&SiteId("b".into())));
    }
}
