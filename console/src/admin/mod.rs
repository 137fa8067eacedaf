//! The admin area of the console, for admins: the sites (with their snippet, look and forms) and
//! the team. It calls the admin API of the deployment that served the console; the server checks
//! the role on every call, so hiding the area from agents is a courtesy, not the protection.
//!
//! - [`sites`]: the site list and one site's settings, snippet, look and forms.
//! - [`team`]: the operators.

mod failover;
mod files;
mod routing;
mod sites;
mod team;

use crate::api::{self, Refused};
use crate::driver;
use crate::i18n::t;
use leptos::prelude::*;

/// Which part of the admin area is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tab {
    Sites,
    Team,
    Failover,
}

/// The admin area: tabs for the sites and the team.
#[component]
pub fn AdminArea() -> impl IntoView {
    let tab = RwSignal::new(Tab::Sites);
    view! {
        <main class="admin">
            <nav class="tabs" aria-label=t("admin.admin")>
                <button data-testid="admin-sites" class:active=move || tab.get() == Tab::Sites
                    on:click=move |_| tab.set(Tab::Sites)>{t("admin.sites")}</button>
                <button data-testid="admin-operators" class:active=move || tab.get() == Tab::Team
                    on:click=move |_| tab.set(Tab::Team)>{t("admin.team")}</button>
                <button data-testid="admin-failover" class:active=move || tab.get() == Tab::Failover
                    on:click=move |_| tab.set(Tab::Failover)>{t("common.failover")}</button>
            </nav>
            {move || match tab.get() {
                Tab::Sites => view! { <sites::Sites /> }.into_any(),
                Tab::Team => view! { <team::Team /> }.into_any(),
                Tab::Failover => view! { <failover::FailoverPanel /> }.into_any(),
            }}
        </main>
    }
}

/// Calls the admin API with this console's session.
pub(crate) async fn call<T: serde::de::DeserializeOwned>(
    method: &str,
    path: &str,
    body: Option<String>,
) -> Result<Option<T>, Refused> {
    let token = driver::session_token().ok_or_else(|| Refused {
        message: t("admin.session_ended"),
        field: None,
    })?;
    api::admin(method, path, &token, body, &driver::admin_bases()).await
}

/// A request body as JSON.
fn json(value: &impl serde::Serialize) -> Option<String> {
    Some(serde_json::to_string(value).expect("requests serialise"))
}

/// Whether the last refusal in `error` is about `field` (the field is then marked invalid and
/// described by the form's error line).
fn invalid(
    error: RwSignal<Option<Refused>>,
    field: &'static str,
) -> impl Fn() -> Option<&'static str> {
    move || {
        error
            .with(|e| e.as_ref().and_then(|e| e.field.as_deref()) == Some(field))
            .then_some("true")
    }
}

/// The form's error line, with the field's name before the sentence when the error names one.
#[component]
pub(crate) fn ErrorLine(
    /// The last refusal, if any.
    error: RwSignal<Option<Refused>>,
    /// Its `data-testid` and `id`.
    testid: &'static str,
) -> impl IntoView {
    view! {
        <Show when=move || error.with(Option::is_some)>
            <p class="error" data-testid=testid id=testid role="alert">
                {move || error.get().map(|e| match e.field {
                    Some(field) => format!("{}: {}", field.replace('_', " "), e.message),
                    None => e.message,
                })}
            </p>
        </Show>
    }
}
