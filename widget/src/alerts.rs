//! Getting the visitor's attention when an operator writes while they look elsewhere (the panel
//! closed, or the page in a background tab): the unread count on the launcher and in the tab's
//! title, and a short chime served beside the widget (`notify.wav`, fetched the first time it
//! plays, never from a third party). The visitor can mute the chime; the choice is kept per site.

use crate::settings::Settings;
use crate::state::ChatState;
use browser::LocalStore;
use leptos::prelude::*;
use std::cell::RefCell;
use wasm_bindgen::{closure::Closure, JsValue};

/// The chime, and what is done when the browser refuses to play it.
type Chime = (web_sys::HtmlAudioElement, Closure<dyn FnMut(JsValue)>);

thread_local! {
    /// The chime, made on first use; `None` until then.
    static CHIME: RefCell<Option<Chime>> = const { RefCell::new(None) };
    /// The page's own title, kept while ours shows the unread count.
    static TITLE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Where the visitor's mute choice is kept.
fn store(settings: &Settings) -> LocalStore {
    LocalStore::new(format!("livechat.{}.", settings.site_id))
}

/// Reads the mute choice and keeps the unread count and the title in step with what the
/// visitor sees: looking at the open panel reads everything.
pub fn install(settings: &Settings, state: ChatState) {
    state
        .muted
        .set(store(settings).get("muted").as_deref() == Some("1"));
    let kept = store(settings);
    crate::state::effect(move || {
        kept.set("muted", state.muted.get().then_some("1"));
    });
    crate::state::effect(move || {
        if state.open.get() && state.visible.get() {
            state.unread.set(0);
        }
    });
    crate::state::effect(move || show_in_title(state.unread.get()));
}

/// An operator's message arrived: counted and chimed unless the visitor is looking.
pub fn operator_wrote(settings: &Settings, state: ChatState) {
    if state.open.get_untracked() && state.visible.get_untracked() {
        return;
    }
    state.unread.update(|n| *n += 1);
    if !state.muted.get_untracked() {
        chime(settings);
        state.chimes.update(|n| *n += 1);
    }
}

fn chime(settings: &Settings) {
    CHIME.with(|chime| {
        let mut chime = chime.borrow_mut();
        if chime.is_none() {
            let url = settings.asset_url("widget/notify.wav");
            // A browser that refuses sound before the visitor interacted says so by rejecting
            // the play; that is not an error worth a console line.
            let refused = Closure::<dyn FnMut(JsValue)>::new(|_: JsValue| {});
            *chime = web_sys::HtmlAudioElement::new_with_src(&url)
                .ok()
                .map(|audio| (audio, refused));
        }
        if let Some((audio, refused)) = chime.as_ref() {
            audio.set_current_time(0.0);
            if let Ok(playing) = audio.play() {
                let _ = playing.catch(refused);
            }
        }
    });
}

/// "(2) Page title" while messages are unread; the page's own title again when read.
fn show_in_title(unread: u32) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    TITLE.with(|kept| {
        let mut kept = kept.borrow_mut();
        match (unread, kept.as_ref()) {
            (0, None) => {}
            (0, Some(original)) => {
                document.set_title(original);
                *kept = None;
            }
            (n, _) => {
                let original = kept.get_or_insert_with(|| document.title()).clone();
                document.set_title(&format!("({n}) {original}"));
            }
        }
    });
}
