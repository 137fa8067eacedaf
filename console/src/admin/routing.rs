//! A site's routing: by hand (operators accept from the inbox) or automatic, in turn or to the
//! least busy operator with room. Saved when chosen; each operator's capacity is set in the Team
//! tab.

use super::{json, ErrorLine};
use crate::api::Refused;
use leptos::prelude::*;
use protocol::admin::AdminSite;
use protocol::routing::{RoutingEdit, RoutingMode};

/// What the admin app calls each mode.
fn label(mode: RoutingMode) -> &'static str {
    match mode {
        RoutingMode::Manual => "By hand: operators accept chats from the inbox",
        RoutingMode::RoundRobin => "Automatic, in turn (round robin)",
        RoutingMode::LeastBusy => "Automatic, to the least busy operator",
    }
}

/// The routing card of a site.
#[component]
pub fn RoutingCard(
    /// The site.
    id: String,
    /// Its mode now.
    mode: RoutingMode,
    /// Every site, and which is selected (the answer replaces the site in the list).
    sites: RwSignal<Vec<AdminSite>>,
    /// Which site is selected.
    selected: RwSignal<Option<Option<String>>>,
) -> impl IntoView {
    let error = RwSignal::new(None::<Refused>);
    let saved = RwSignal::new(false);
    let chosen = RwSignal::new(mode);
    let change = move |ev: leptos::ev::Event| {
        let Some(mode) = RoutingMode::parse(&event_target_value(&ev)) else {
            return;
        };
        chosen.set(mode);
        let path = format!("/v1/admin/sites/{id}/routing");
        super::sites::save(
            (sites, selected),
            (error, saved),
            ("PUT", path, json(&RoutingEdit { mode })),
        );
    };
    view! {
        <section class="card">
            <h2>"Routing"</h2>
            <p>"Automatic routing gives each new chat to an online operator with room under their capacity; when everyone is full, visitors see their place in the queue."</p>
            <label>"New chats"
                <select data-testid="routing-mode" prop:value=move || chosen.get().as_str() on:change=change>
                    {RoutingMode::ALL.into_iter().map(|m| view! { <option value=m.as_str()>{label(m)}</option> }).collect_view()}
                </select>
            </label>
            <ErrorLine error=error testid="routing-error" />
            <Show when=move || saved.get()><span class="saved" role="status">"Saved"</span></Show>
        </section>
    }
}
