//! The settings a site owner puts in the snippet (`window.LiveChat`), and what the loader adds.

use serde::Deserialize;
use wasm_bindgen::JsValue;

/// The widget's configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// The site id from the admin tools.
    pub site_id: String,
    /// The deployments' base URLs (`https://chat-a.example.com`), primary first.
    pub deployments: Vec<String>,
    /// The moderator's base URL (`https://moderator.example.com`): asked which deployment is
    /// active, and bypassed when it does not answer.
    #[serde(default)]
    pub moderator: Option<String>,
    /// The deployment the loader fetched the widget from (tried as well, should the snippet not
    /// list it).
    #[serde(default)]
    pub asset_base: Option<String>,
    /// The panel's title (a translated default without).
    #[serde(default)]
    pub title: Option<String>,
    /// The greeting shown above an empty conversation (a translated default without).
    #[serde(default)]
    pub greeting: Option<String>,
    /// Set by the loader when the visitor clicked its button before this module was loaded: the
    /// panel opens at once.
    #[serde(default)]
    pub open_on_start: bool,
    /// The accent colour (`#rrggbb`), from the snippet or the site's stored look.
    #[serde(default)]
    pub accent_color: Option<String>,
    /// `bottom_left` puts the launcher and the panel on the left.
    #[serde(default)]
    pub position: Option<String>,
    /// The launcher's accessible name.
    #[serde(default)]
    pub launcher_label: Option<String>,
    /// The widget's language (`de`) unless the page chooses one, from the snippet or the site's
    /// stored look.
    #[serde(default)]
    pub language: Option<String>,
    /// `auto`, `light` or `dark`, from the snippet or the site's stored look.
    #[serde(default)]
    pub theme: Option<String>,
    /// Shown while nobody is online, from the snippet or the site's stored texts.
    #[serde(default)]
    pub away_text: Option<String>,
    /// The site's forms, from the loader (the site's stored settings); the defaults without.
    #[serde(default)]
    pub forms: protocol::admin::SiteForms,
    /// Whether the deployment can send e-mail (transcripts by mail), from the loader.
    #[serde(default)]
    pub mail: bool,
    /// What files the visitor may send (the deployment's and the site's rules), from the loader;
    /// without it the deployment alone decides, after the upload.
    #[serde(default)]
    pub files: Option<protocol::files::FileRules>,
    /// Set by the loader when the deployments do not know the site (removed, or not for this
    /// page): the widget says so and does not connect.
    #[serde(default)]
    pub unavailable: bool,
}

impl Settings {
    /// The accent colour, if it is one (`#` and six hex digits): it goes into a style attribute.
    pub fn accent(&self) -> Option<&str> {
        self.accent_color.as_deref().filter(|c| {
            c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit())
        })
    }

    /// The URL of a file beside the widget (`widget/notify.wav`): on the deployment that served
    /// it, else the first one the snippet names.
    pub fn asset_url(&self, path: &str) -> String {
        self.asset_urls(path).swap_remove(0)
    }

    /// Every URL of a file beside the widget, the deployment that served the widget first, then
    /// the others: where [`get_asset`] looks when one is gone.
    pub fn asset_urls(&self, path: &str) -> Vec<String> {
        let mut bases: Vec<String> = self.asset_base.iter().cloned().collect();
        for base in self.deployment_bases() {
            if !bases
                .iter()
                .any(|b| b.trim_end_matches('/') == base.trim_end_matches('/'))
            {
                bases.push(base);
            }
        }
        if bases.is_empty() {
            bases.push(String::new());
        }
        bases
            .iter()
            .map(|base| format!("{}/{path}", base.trim_end_matches('/')))
            .collect()
    }

    /// The text colour on the accent: white, or the widget's near-black where white would not
    /// reach WCAG AA's contrast as well (a light accent such as yellow).
    pub fn on_accent(&self) -> &'static str {
        let Some(hex) = self.accent() else {
            return "#fff";
        };
        if contrast_with_white(hex) >= contrast_with_ink(hex) {
            "#fff"
        } else {
            "#1d2230"
        }
    }

    /// `light` or `dark` when the site fixes the colours; `None` follows the visitor's system.
    pub fn fixed_theme(&self) -> Option<&'static str> {
        match self.theme.as_deref() {
            Some("light") => Some("light"),
            Some("dark") => Some("dark"),
            _ => None,
        }
    }

    /// A site text the owner left at its English default is dropped, so the widget shows its
    /// own translation instead (an Arabic visitor of a site that never set a title reads an
    /// Arabic one); a text the owner wrote is theirs and stays.
    fn translatable(mut self) -> Settings {
        let defaults = protocol::admin::Appearance::default();
        let keep = |text: Option<String>, default: &str| text.filter(|t| t != default);
        self.title = keep(self.title, &defaults.title);
        self.greeting = keep(self.greeting, &defaults.greeting);
        self.away_text = keep(self.away_text, &defaults.away_text);
        self.launcher_label = keep(self.launcher_label, &defaults.launcher_label);
        self
    }

    /// Whether the launcher and the panel sit on the left.
    pub fn on_left(&self) -> bool {
        self.position.as_deref() == Some("bottom_left")
    }
}

impl Settings {
    /// Reads `window.LiveChat`.
    pub fn from_window(window: &web_sys::Window) -> Result<Settings, String> {
        let value = js_sys::Reflect::get(window, &JsValue::from_str("LiveChat"))
            .map_err(|_| "window.LiveChat is not readable".to_owned())?;
        if value.is_undefined() || value.is_null() {
            return Err("window.LiveChat is missing; paste the whole snippet".into());
        }
        let settings: Settings = serde_wasm_bindgen::from_value(value)
            .map_err(|e| format!("window.LiveChat is invalid: {e}"))?;
        if settings.deployments.is_empty() {
            return Err("window.LiveChat.deployments must list at least one URL".into());
        }
        Ok(settings.translatable())
    }

    /// The deployments' base URLs, primary first, then the one that served the widget if the
    /// snippet does not list it.
    pub fn deployment_bases(&self) -> Vec<String> {
        let mut bases: Vec<String> = Vec::new();
        for base in self.deployments.iter().chain(&self.asset_base) {
            if !bases
                .iter()
                .any(|b| b.trim_end_matches('/') == base.trim_end_matches('/'))
            {
                bases.push(base.clone());
            }
        }
        bases
    }
}

/// WCAG 2.1 relative luminance of `#rrggbb`.
fn luminance(hex: &str) -> f64 {
    let channel = |i: usize| {
        let v = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0)) / 255.0;
        if v <= 0.039_28 {
            v / 12.92
        } else {
            // The browser's `Math.pow`: Rust's `powf` would bring its own copy (2 KB) into
            // every visitor's download for this one line.
            js_sys::Math::pow((v + 0.055) / 1.055, 2.4)
        }
    };
    0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)
}

fn contrast_with_white(hex: &str) -> f64 {
    1.05 / (luminance(hex) + 0.05)
}

/// Against `#1d2230`, the widget's text colour (luminance about 0.0162).
fn contrast_with_ink(hex: &str) -> f64 {
    (luminance(hex) + 0.05) / (luminance("#1d2230") + 0.05)
}

/// Fetches a text file beside the widget (the emoji table, a language): from the deployment that
/// served the widget, else from the others in turn, so that a visitor who first needs it after
/// that deployment died still gets it. `done` has the text, or `None` when no deployment gave it.
pub fn get_asset(settings: &Settings, path: &str, done: impl FnOnce(Option<String>) + 'static) {
    fn attempt(urls: Vec<String>, index: usize, done: Box<dyn FnOnce(Option<String>)>) {
        let Some(url) = urls.get(index).cloned() else {
            done(None);
            return;
        };
        browser::get_text(&url, 10_000, move |answer| match answer {
            Some((200, body)) => done(Some(body)),
            _ => attempt(urls, index + 1, done),
        });
    }
    attempt(settings.asset_urls(path), 0, Box::new(done));
}
