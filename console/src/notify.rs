//! Telling the operator while the console is hidden: a new waiting chat, or a visitor writing
//! in a conversation assigned to them, plays a short sound, counts in the tab's title, and,
//! once the operator switched them on (`notifications-enable`, which asks the browser for
//! permission, never on load), shows a browser notification. The sound and the notifications
//! are switched on and off apart, and the choice is kept in `localStorage`.

use crate::i18n::t;
use crate::state::ConsoleState;
use browser::LocalStore;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

fn store() -> LocalStore {
    LocalStore::new("livechat.console.")
}

/// The operator's choices as stored: notifications wanted, sound on (the default).
pub fn stored() -> (bool, bool) {
    let store = store();
    (
        store.get("notify").as_deref() == Some("on"),
        store.get("sound").as_deref() != Some("off"),
    )
}

/// Keeps the title counting what arrived while hidden, and clears the count on return. Runs
/// inside the mounted app (effects need it).
pub fn install(state: ConsoleState) {
    let title = web_sys::window()
        .and_then(|w| w.document())
        .map(|d| d.title())
        .unwrap_or_default();
    Effect::new(move |_| {
        if state.visible.get() {
            state.unread.set(0);
        }
    });
    Effect::new(move |_| {
        let unread = state.unread.get();
        if let Some(document) = web_sys::window().and_then(|w| w.document()) {
            document.set_title(&match unread {
                0 => title.clone(),
                n => format!("({n}) {title}"),
            });
        }
    });
}

/// Switches browser notifications on (asking the browser's permission first) or off.
pub fn toggle_notifications(state: ConsoleState) {
    if state.notify.get_untracked() {
        state.notify.set(false);
        store().set("notify", Some("off"));
        return;
    }
    let Ok(promise) = web_sys::Notification::request_permission() else {
        return;
    };
    wasm_bindgen_futures::spawn_local(async move {
        let granted = wasm_bindgen_futures::JsFuture::from(promise)
            .await
            .ok()
            .and_then(|answer| answer.as_string())
            .is_some_and(|answer| answer == "granted");
        state.notify.set(granted);
        store().set("notify", Some(if granted { "on" } else { "off" }));
        if !granted {
            state.notice.set(Some(t("notify.not_allowed")));
        }
    });
}

/// Switches the sound on or off.
pub fn toggle_sound(state: ConsoleState) {
    let on = !state.sound.get_untracked();
    state.sound.set(on);
    store().set("sound", Some(if on { "on" } else { "off" }));
}

/// Something the operator should know arrived: while the console is hidden it counts, sounds
/// and notifies (each as the operator chose).
pub fn alert(state: ConsoleState, title: &str, body: &str) {
    if state.visible.get_untracked() {
        return;
    }
    state.unread.update(|n| *n += 1);
    state.alerts.update(|n| *n += 1);
    if state.sound.get_untracked() {
        if let Ok(audio) = web_sys::HtmlAudioElement::new_with_src("/widget/notify.wav") {
            // A browser may refuse to play before any input; the count and title still show.
            let _ = audio.play();
        }
    }
    let allowed = web_sys::Notification::permission() == web_sys::NotificationPermission::Granted;
    if state.notify.get_untracked() && allowed {
        let options = web_sys::NotificationOptions::new();
        options.set_body(body);
        options.set_tag("livechat");
        if let Ok(notification) = web_sys::Notification::new_with_options(title, &options) {
            // A click brings the console back.
            let on_click = wasm_bindgen::closure::Closure::once_into_js(move || {
                if let Some(window) = web_sys::window() {
                    let _ = window.focus();
                }
            });
            notification.set_onclick(Some(on_click.unchecked_ref()));
        }
    }
}
