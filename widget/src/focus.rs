//! The keyboard and small screens: Enter or Space on the launcher opens the panel (it is a
//! button) and moves focus into it; Esc closes it and gives focus back to the launcher; on a
//! small screen, where the panel covers the page, Tab stays inside the open panel and the page
//! behind does not scroll; the panel is as tall as what the on-screen keyboard leaves.

use crate::state::ChatState;
use leptos::prelude::*;
use std::cell::Cell;
use wasm_bindgen::{closure::Closure, JsCast};

thread_local! {
    /// Set when the visitor opened the panel from the launcher: focus then moves into it (a
    /// page's own `open` call does not take the focus from the page).
    static FROM_LAUNCHER: Cell<bool> = const { Cell::new(false) };
}

/// What can take the focus inside the panel.
const FOCUSABLE: &str =
    "button:not([disabled]), input:not([disabled]), textarea:not([disabled]), select, a[href]";

/// Small screens, where the panel is full-screen (the same width as the stylesheet's).
fn small_screen() -> bool {
    web_sys::window()
        .and_then(|w| w.match_media("(max-width: 480px)").ok().flatten())
        .is_some_and(|m| m.matches())
}

/// The launcher toggled the panel.
pub fn launcher_used() {
    FROM_LAUNCHER.with(|f| f.set(true));
}

/// The panel was shown: focus goes to its first field (the composer, a form's first input), or
/// its first control, when the visitor opened it from the launcher.
pub fn panel_shown(panel: &web_sys::HtmlElement) {
    if !FROM_LAUNCHER.with(|f| f.replace(false)) {
        return;
    }
    let target = panel
        .query_selector("input:not([type=file]):not([disabled]), textarea")
        .ok()
        .flatten()
        .or_else(|| panel.query_selector(FOCUSABLE).ok().flatten());
    if let Some(target) = target.and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok()) {
        let _ = target.focus();
    }
}

/// Esc closes and gives focus back to the launcher; Tab wraps inside the panel on small screens.
pub fn panel_key(event: &web_sys::KeyboardEvent, state: ChatState) {
    let Some(panel) = event
        .current_target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok())
    else {
        return;
    };
    match event.key().as_str() {
        "Escape" => {
            event.prevent_default();
            close_to_launcher(&panel, state);
        }
        "Tab" if small_screen() => {
            let Ok(all) = panel.query_selector_all(FOCUSABLE) else {
                return;
            };
            let element = |i: u32| {
                all.item(i)
                    .and_then(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
            };
            let (Some(first), Some(last)) = (element(0), element(all.length().saturating_sub(1)))
            else {
                return;
            };
            let active = panel
                .get_root_node()
                .dyn_into::<web_sys::ShadowRoot>()
                .ok()
                .and_then(|root| root.active_element());
            let at = |e: &web_sys::HtmlElement| active.as_ref() == Some(e.unchecked_ref());
            if event.shift_key() && at(&first) {
                event.prevent_default();
                let _ = last.focus();
            } else if !event.shift_key() && at(&last) {
                event.prevent_default();
                let _ = first.focus();
            }
        }
        _ => {}
    }
}

/// Closes the panel and puts the focus on the launcher (Esc, the close button).
pub fn close_to_launcher(panel: &web_sys::HtmlElement, state: ChatState) {
    let launcher = panel
        .get_root_node()
        .dyn_into::<web_sys::ShadowRoot>()
        .ok()
        .and_then(|root| {
            root.query_selector("[data-testid=\"chat-launcher\"]")
                .ok()
                .flatten()
        })
        .and_then(|l| l.dyn_into::<web_sys::HtmlElement>().ok());
    state.open.set(false);
    if let Some(launcher) = launcher {
        let _ = launcher.focus();
    }
}

/// Locks the page's scrolling while the panel covers it, and keeps `--viewport-height` on
/// `container` at the visible height (smaller while the on-screen keyboard is up). Needs the
/// mounted app's reactive owner.
pub fn install(container: web_sys::HtmlElement, state: ChatState) {
    let root = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        .map(send_wrapper::SendWrapper::new);
    // Followed as the window changes size (a phone turned, a window narrowed).
    let small = RwSignal::new(small_screen());
    crate::state::effect_on(move |locked: Option<bool>| {
        let lock = state.open.get() && small.get();
        if let Some(root) = &root {
            if lock && locked != Some(true) {
                let _ = root.style().set_property("overflow", "hidden");
            } else if !lock && locked == Some(true) {
                let _ = root.style().remove_property("overflow");
            }
        }
        lock
    });
    let Some(viewport) = web_sys::window().and_then(|w| w.visual_viewport()) else {
        return;
    };
    let follow = {
        let viewport = viewport.clone();
        move || {
            let height = format!("{}px", viewport.height());
            let _ = container.style().set_property("--viewport-height", &height);
            let now_small = small_screen();
            if small.get_untracked() != now_small {
                small.set(now_small);
            }
        }
    };
    follow();
    let listener = Closure::<dyn FnMut()>::new(follow);
    let _ = viewport.add_event_listener_with_callback("resize", listener.as_ref().unchecked_ref());
    // The viewport lives as long as the page; so does its listener.
    listener.forget();
}
