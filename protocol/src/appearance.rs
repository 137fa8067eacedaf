//! The widget's look and texts for one site ([`Appearance`]): its colours (accent, light or dark),
//! where the launcher sits, and its texts; set in the admin app, served to the loader in the
//! widget-config, and overridable by the snippet.

use crate::admin::{text, FieldError, LANGUAGES, MAX_LABEL_CHARS, MAX_TEXT_CHARS};
use serde::{Deserialize, Serialize};

/// Where the launcher sits on the page.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LauncherPosition {
    /// Bottom right, the default.
    #[default]
    BottomRight,
    /// Bottom left.
    BottomLeft,
}

impl LauncherPosition {
    /// The name used on the wire and in the console's select.
    pub fn as_str(self) -> &'static str {
        match self {
            LauncherPosition::BottomRight => "bottom_right",
            LauncherPosition::BottomLeft => "bottom_left",
        }
    }

    /// The inverse of [`LauncherPosition::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "bottom_right" => Some(LauncherPosition::BottomRight),
            "bottom_left" => Some(LauncherPosition::BottomLeft),
            _ => None,
        }
    }
}

/// The widget's look and texts for one site. The field names are those of the snippet's
/// settings (`window.LiveChat`), so a setting written in the snippet overrides the stored one of
/// the same name.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Appearance {
    /// The launcher's and the visitor's bubbles' colour, `#rrggbb`.
    pub accent_color: String,
    /// Where the launcher sits.
    pub position: LauncherPosition,
    /// The launcher's accessible name and tooltip.
    pub launcher_label: String,
    /// The panel's title.
    pub title: String,
    /// Shown above an empty conversation.
    pub greeting: String,
    /// The widget's language unless the page chooses one (`setLocale`); the visitor's browser
    /// decides only where the site's look is not known (no deployment answered the loader).
    pub language: String,
    /// Shown when no operator is online.
    pub away_text: String,
    /// Light or dark, or following the visitor's system (`prefers-color-scheme`).
    pub theme: Theme,
}

/// The widget's colour scheme.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    /// Dark when the visitor's system is (the default).
    #[default]
    Auto,
    /// Always light.
    Light,
    /// Always dark.
    Dark,
}

impl Theme {
    /// The name used in settings and forms.
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Auto => "auto",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    /// The inverse of [`Theme::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        [Theme::Auto, Theme::Light, Theme::Dark]
            .into_iter()
            .find(|t| t.as_str() == text)
    }
}

impl Default for Appearance {
    fn default() -> Self {
        Self {
            accent_color: "#2f6fed".into(),
            position: LauncherPosition::BottomRight,
            launcher_label: "Open chat".into(),
            title: "Chat with us".into(),
            greeting: "Hi! Ask us anything, we usually answer within minutes.".into(),
            language: "en".into(),
            away_text: "We are away right now. Leave a message and we will answer by e-mail."
                .into(),
            theme: Theme::Auto,
        }
    }
}

impl Appearance {
    /// Every rule the appearance keeps, or the first one broken.
    pub fn check(&self) -> Result<(), FieldError> {
        let hex = self.accent_color.strip_prefix('#').unwrap_or("");
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(FieldError::new(
                "accent_color",
                format!(
                    "`{}` is not a colour: use the form #2f6fed",
                    self.accent_color
                ),
            ));
        }
        text("launcher_label", &self.launcher_label, MAX_LABEL_CHARS)?;
        text("title", &self.title, MAX_LABEL_CHARS)?;
        text("greeting", &self.greeting, MAX_TEXT_CHARS)?;
        text("away_text", &self.away_text, MAX_TEXT_CHARS)?;
        if !LANGUAGES.contains(&self.language.as_str()) {
            return Err(FieldError::new(
                "language",
                format!(
                    "`{}` is not a language the widget speaks; choose one of {}",
                    self.language,
                    LANGUAGES.join(", ")
                ),
            ));
        }
        Ok(())
    }
}
