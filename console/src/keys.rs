//! The console without a mouse: Alt+↓ and Alt+↑ move to the next and previous conversation of
//! the inbox (opening its pane and putting the cursor in its reply field), Alt+A accepts the
//! conversation the cursor is in (or the oldest waiting one), Enter sends, and `/` in a reply
//! field offers the canned replies (↓ and ↑ choose, Enter inserts).

use crate::driver;
use crate::state::{ConsoleState, View};
use leptos::prelude::*;
use protocol::{ConversationId, ConversationState};
use wasm_bindgen::JsCast;

/// Listens to the page's keys for as long as the console runs.
pub fn watch(state: ConsoleState) {
    let handle = window_event_listener(leptos::ev::keydown, move |ev| {
        if !ev.alt_key() || state.view.get_untracked() != View::Inbox {
            return;
        }
        match ev.key().as_str() {
            "ArrowDown" => move_by(state, 1),
            "ArrowUp" => move_by(state, -1),
            "a" | "A" | "å" => accept_here(state),
            _ => return,
        }
        ev.prevent_default();
    });
    // The console lives as long as the page.
    std::mem::forget(handle);
}

/// The conversation whose pane holds the cursor, if any.
fn focused() -> Option<ConversationId> {
    let active = web_sys::window()?.document()?.active_element()?;
    let pane = active
        .closest("[data-testid=\"conversation-pane\"]")
        .ok()??;
    ConversationId::parse(&pane.get_attribute("data-conversation")?).ok()
}

/// Opens the conversation `steps` away in the inbox from the focused one (the first from none).
fn move_by(state: ConsoleState, steps: isize) {
    let inbox = state.inbox.get_untracked();
    if inbox.is_empty() {
        return;
    }
    let at = focused().and_then(|id| inbox.iter().position(|c| c.id == id));
    let next = match at {
        Some(at) => (at as isize + steps).rem_euclid(inbox.len() as isize) as usize,
        None if steps > 0 => 0,
        None => inbox.len() - 1,
    };
    let summary = inbox[next].clone();
    let id = summary.id;
    driver::open_conversation(summary);
    focus_reply(id);
}

/// Accepts the focused conversation if it waits, else the oldest waiting one.
fn accept_here(state: ConsoleState) {
    let inbox = state.inbox.get_untracked();
    let waiting = |id: &ConversationId| {
        inbox
            .iter()
            .any(|c| c.id == *id && c.state == ConversationState::Waiting)
    };
    let chosen = focused().filter(waiting).or_else(|| {
        inbox
            .iter()
            .rev()
            .find(|c| c.state == ConversationState::Waiting)
            .map(|c| c.id)
    });
    let Some(id) = chosen else { return };
    if let Some(summary) = inbox.iter().find(|c| c.id == id).cloned() {
        driver::open_conversation(summary);
    }
    driver::accept(id);
    focus_reply(id);
}

/// Puts the cursor in the reply field of `id`'s pane once it is drawn (and enabled).
fn focus_reply(id: ConversationId) {
    focus_when_ready(id, 20);
}

fn focus_when_ready(id: ConversationId, attempts: u32) {
    let pane = format!("[data-testid=\"conversation-pane\"][data-conversation=\"{id}\"]");
    let find = |css: String| {
        web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.query_selector(&css).ok().flatten())
    };
    let field = find(format!("{pane} [data-testid=\"reply-input\"]"))
        .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok());
    if let Some(field) = field.filter(|f| !f.disabled()) {
        let _ = field.focus();
        return;
    }
    // Not enabled yet (waiting to be accepted): the Accept button holds the cursor meanwhile,
    // so Enter or Alt+A accepts this one.
    if let Some(accept) = find(format!("{pane} [data-testid=\"accept\"]"))
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = accept.focus();
    }
    // Drawn on the next frame, or enabled once accepted: look again shortly.
    if attempts > 0 {
        browser::set_timeout(50, move || focus_when_ready(id, attempts - 1));
    }
}
