//! The visitor's chat widget, a Leptos (CSR) app compiled to WebAssembly.
//!
//! The loader (`www/loader.js`) imports this module from a deployment; [`boot`] then reads the
//! site's settings from `window.LiveChat`, creates a host element with an open **shadow root** on
//! the customer's page, and mounts the app inside it, so the page's CSS cannot reach the widget and
//! the widget's CSS cannot leak out. The widget runs in the host page (not in an iframe) so that its
//! `localStorage` belongs to the customer's origin: the visitor's token and outbox are found again
//! whichever deployment served the assets.
//!
//! - [`settings`]: what the snippet configures.
//! - [`state`]: the reactive state the UI renders.
//! - [`driver`]: the WebSocket connection that feeds the state.
//! - [`storage`]: what survives a reload (token, conversation, outbox).
//! - [`ui`]: the components.

pub mod driver;
pub mod settings;
pub mod state;
pub mod storage;
pub mod ui;

use wasm_bindgen::JsCast;

/// The id of the element hosting the widget's shadow root on the customer's page.
pub const HOST_ID: &str = "livechat-root";

/// Starts the widget: settings, shadow root, connection, UI.
pub fn boot() {
    console_error_panic_hook::set_once();
    let Some(window) = web_sys::window() else {
        return;
    };
    let Some(document) = window.document() else {
        return;
    };
    let settings = match settings::Settings::from_window(&window) {
        Ok(settings) => settings,
        Err(problem) => {
            web_sys::console::error_1(&format!("LiveChat: {problem}").into());
            return;
        }
    };
    if document.get_element_by_id(HOST_ID).is_some() {
        // The snippet was pasted twice; one widget is enough.
        return;
    }
    let Some(container) = create_shadow_container(&document) else {
        return;
    };
    let state = state::ChatState::new();
    driver::start(settings.clone(), state);
    leptos::mount::mount_to(container, move || ui::app(settings, state)).forget();
}

/// Creates `<div id="livechat-root">` at the end of `<body>` with an open shadow root holding the
/// widget's stylesheet and the element the app mounts into.
fn create_shadow_container(document: &web_sys::Document) -> Option<web_sys::HtmlElement> {
    let host = document.create_element("div").ok()?;
    host.set_id(HOST_ID);
    let shadow = host
        .attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open))
        .ok()?;
    let style = document.create_element("style").ok()?;
    style.set_text_content(Some(include_str!("widget.css")));
    shadow.append_child(&style).ok()?;
    let container = document.create_element("div").ok()?;
    container.set_class_name("livechat");
    shadow.append_child(&container).ok()?;
    document.body()?.append_child(&host).ok()?;
    container.dyn_into::<web_sys::HtmlElement>().ok()
}
