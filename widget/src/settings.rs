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
    /// The deployment the loader fetched the widget from; tried first.
    #[serde(default)]
    pub asset_base: Option<String>,
    /// The panel's title.
    #[serde(default = "default_title")]
    pub title: String,
    /// The greeting shown above an empty conversation.
    #[serde(default = "default_greeting")]
    pub greeting: String,
}

fn default_title() -> String {
    "Chat with us".into()
}

fn default_greeting() -> String {
    "Hi! Ask us anything, we usually answer within minutes.".into()
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
        Ok(settings)
    }

    /// The WebSocket URLs to try, the one that served the widget first.
    pub fn endpoints(&self) -> Vec<String> {
        let mut bases: Vec<String> = self.asset_base.iter().cloned().collect();
        for base in &self.deployments {
            if !bases
                .iter()
                .any(|b| b.trim_end_matches('/') == base.trim_end_matches('/'))
            {
                bases.push(base.clone());
            }
        }
        bases
            .iter()
            .map(|base| protocol::websocket_url(base, protocol::WS_PATH))
            .collect()
    }
}
