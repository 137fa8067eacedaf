//! Emoji: the picker's table and the shortcodes (`:smile:` becomes 😄), from `emoji.json` beside
//! the widget (on whichever deployment answers), fetched the first time the picker opens or a
//! message holds a shortcode, so the widget's first load does not carry it.

use crate::settings::Settings;
use crate::state::ChatState;
use leptos::prelude::*;

pub use client_core::shortcodes::Table;

/// Fetches the table once (later calls find it loaded); `then` runs when it is there, or with
/// the reason it could not be had.
pub fn load(
    settings: &Settings,
    state: ChatState,
    then: impl FnOnce(Result<(), String>) + 'static,
) {
    if state.emoji.with_untracked(Option::is_some) {
        then(Ok(()));
        return;
    }
    crate::settings::get_asset(settings, "widget/emoji.json", move |answer| {
        let table = answer.and_then(|body| browser::from_json::<Table>(&body));
        match table {
            Some(table) => {
                state.emoji.set(Some(table));
                then(Ok(()));
            }
            None => then(Err("The emoji could not be loaded; try again.".into())),
        }
    });
}

pub use client_core::shortcodes::{has_shortcode, replace};
