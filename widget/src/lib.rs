//! The visitor's chat widget, compiled to WebAssembly: Leptos's reactive state, drawn with the DOM
//! directly (see [`dom`]), with the parts a visitor may never see drawn by Leptos in a chunk.
//!
//! The loader (`www/loader.js`) shows the chat button and imports this module from a deployment on
//! the first click (or at once for a returning visitor); [`boot`] then reads the site's settings
//! from `window.LiveChat`, takes over the loader's host element and its **shadow root** on the
//! customer's page (or creates them), and draws the app inside it, so the page's CSS cannot reach the widget and
//! the widget's CSS cannot leak out. The widget runs in the host page (not in an iframe) so that its
//! `localStorage` belongs to the customer's origin: the visitor's token and outbox are found again
//! whichever deployment served the assets.
//!
//! - [`settings`]: what the snippet configures.
//! - [`state`]: the reactive state the UI renders.
//! - [`driver`]: the WebSocket connection that feeds the state.
//! - [`storage`]: what survives a reload (token, conversation, outbox).
//! - [`emoji`]: the picker's table and shortcodes, fetched on first use.
//! - [`i18n`]: the texts in the visitor's language.
//! - [`focus`]: the keyboard (focus into the panel, Esc, Tab on small screens) and the page
//!   behind a full-screen panel.
//! - [`alerts`]: the unread count, the tab title and the chime.
//! - [`api`]: `window.livechat`, the JavaScript API for the site's own code, and its events.
//! - [`ui`]: the launcher and the panel, drawn with [`dom`]'s few tools.

pub mod alerts;
pub mod api;
pub mod dom;
pub mod driver;
pub mod emoji;
pub mod focus;
pub mod i18n;
pub mod settings;
pub mod state;
pub mod storage;
pub mod ui;

use leptos::prelude::Set;
use wasm_bindgen::JsCast;

/// The id of the element hosting the widget's shadow root on the customer's page.
pub const HOST_ID: &str = "livechat-root";

/// Starts the widget: settings, shadow root, connection, UI.
pub fn boot() {
    // A panic (there should be none) still says where and why in the browser's console. This is
    // `console_error_panic_hook` without the JavaScript stack trace, which cost every visitor
    // about 0.6 KB of the download; the message names the file and line.
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&format!("LiveChat: {info}").into());
    }));
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
    let mounted = match document.get_element_by_id(HOST_ID) {
        // The loader's button: take over its shadow root and the button itself.
        Some(host) if host.has_attribute(LOADER_MARK) => adopt_loader(&window, &host),
        // The snippet was pasted twice; one widget is enough.
        Some(_) => return,
        None => create_shadow_container(&document).map(|container| (container, None)),
    };
    let Some((container, launcher)) = mounted else {
        return;
    };
    // The site's look: the accent colour for everything under the container (the loader has
    // coloured its own button already), and the left side when asked.
    if let Some(accent) = settings.accent() {
        let _ = container.style().set_property("--accent", accent);
    }
    let _ = container
        .style()
        .set_property("--on-accent", settings.on_accent());
    let classes = ["livechat"]
        .into_iter()
        .chain(settings.on_left().then_some("left"))
        .chain(settings.fixed_theme())
        .collect::<Vec<_>>()
        .join(" ");
    container.set_class_name(&classes);
    let state = state::ChatState::new();
    state.site_language.set(settings.language.clone());
    if settings.open_on_start {
        state.open.set(true);
    }
    driver::start(settings.clone(), state);
    // The calls the page queued before the widget loaded run now, in order: an `identify`
    // among them changes the credentials before the first hello goes out.
    api::install(state);
    // Effects run as tasks of the browser's microtask queue; Leptos's mount started that
    // executor, and the panel has no mount (see `dom`).
    let _ = any_spawner::Executor::init_wasm_bindgen();
    // The widget's reactive owner, for the whole life of the page.
    let owner = leptos::prelude::Owner::new();
    owner.with(move || {
        alerts::install(&settings, state);
        focus::install(container.clone(), state);
        i18n::install(&settings, state);
        api::watch(state);
        ui::app(settings, state, launcher, &container);
    });
    std::mem::forget(owner);
}

/// The attribute the loader puts on the host element it created for its button.
const LOADER_MARK: &str = "data-loader";

/// The widget's stylesheet and the element the app mounts into, added to `shadow`.
fn add_container(
    document: &web_sys::Document,
    shadow: &web_sys::ShadowRoot,
) -> Option<web_sys::HtmlElement> {
    let style = document.create_element("style").ok()?;
    style.set_text_content(Some(include_str!(concat!(env!("OUT_DIR"), "/widget.css"))));
    shadow.append_child(&style).ok()?;
    let container = document.create_element("div").ok()?;
    container.set_class_name("livechat");
    shadow.append_child(&container).ok()?;
    container.dyn_into::<web_sys::HtmlElement>().ok()
}

/// Creates `<div id="livechat-root">` at the end of `<body>` with an open shadow root holding the
/// widget's stylesheet and the element the app mounts into.
fn create_shadow_container(document: &web_sys::Document) -> Option<web_sys::HtmlElement> {
    let host = document.create_element("div").ok()?;
    host.set_id(HOST_ID);
    let shadow = host
        .attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open))
        .ok()?;
    let container = add_container(document, &shadow)?;
    document.body()?.append_child(&host).ok()?;
    Some(container)
}

/// Takes over the loader's host element: the widget's stylesheet and app go into its shadow root,
/// and its button stays where it is (the same element, so a click landing while the module starts
/// is not lost) and becomes the widget's launcher. The loader stops handling its clicks.
fn adopt_loader(
    window: &web_sys::Window,
    host: &web_sys::Element,
) -> Option<(web_sys::HtmlElement, Option<web_sys::HtmlElement>)> {
    let document = window.document()?;
    let shadow = host.shadow_root()?;
    let container = add_container(&document, &shadow)?;
    // The loader's own stylesheet goes; the widget's one styles the button the same way.
    if let Ok(Some(style)) = shadow.query_selector("style") {
        style.remove();
    }
    let launcher = shadow
        .query_selector("[data-testid=\"chat-launcher\"]")
        .ok()
        .flatten()
        .and_then(|button| button.dyn_into::<web_sys::HtmlElement>().ok());
    if let Ok(settings) = js_sys::Reflect::get(window, &"LiveChat".into()) {
        let _ = js_sys::Reflect::set(&settings, &"launcherAdopted".into(), &true.into());
    }
    let _ = host.remove_attribute(LOADER_MARK);
    Some((container, launcher))
}
