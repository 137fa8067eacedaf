//! The operator console, a Leptos (CSR) app served by each deployment under `/console/`.
//!
//! - [`api`]: login, logout, invitations and the admin API over HTTP.
//! - [`admin`]: the admin area (sites, snippet, look, forms, team).
//! - [`state`]: the reactive state the UI renders.
//! - [`driver`]: the operator's WebSocket, which keeps the inbox and open chats live.
//! - [`ui`]: the components.
//! - [`i18n`]: their texts, from `console/locales/en.txt`.

pub mod admin;
pub mod api;
pub mod canned;
pub mod context;
pub mod driver;
pub mod handover;
pub mod history;
pub mod i18n;
pub mod keys;
pub mod notify;
pub mod state;
pub mod ui;

/// Starts the console: state, saved session, UI.
pub fn boot() {
    console_error_panic_hook::set_once();
    let state = state::ConsoleState::new();
    driver::start(state);
    keys::watch(state);
    leptos::mount::mount_to_body(move || ui::app(state));
}
