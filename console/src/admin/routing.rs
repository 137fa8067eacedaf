//! A site's routing: by hand (operators accept from the inbox) or automatic, in turn or to the
//! least busy operator with room. Saved when chosen; each operator's capacity is set in the Team
//! tab.

use super::{json, ErrorLine};
use crate::api::Refused;
use crate::i18n::t;
use leptos::prelude::*;
use protocol::admin::AdminSite;
use protocol::routing::{RoutingEdit, RoutingMode};

/// What the admin app calls each mode.
fn label(mode: RoutingMode) -> String {
    match mode {
        RoutingMode::Manual => t("routing.manual"),
        RoutingMode::RoundRobin => t("routing.round_robin"),
        RoutingMode::LeastBusy => t("routing.least_busy"),
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
            <h2>{t("routing.routing")}</h2>
            <p>{t("routing.automatic_routing_gives_each")}</p>
            <label>{t("routing.new_chats")}
                <select data-testid="routing-mode" prop:value=move || chosen.get().as_str() on:change=change>
                    {RoutingMode::ALL.into_iter().map(|m| view! { <option value=m.as_str()>{label(m)}</option> }).collect_view()}
                </select>
            </label>
            <ErrorLine error=error testid="routing-error" />
            <Show when=move || saved.get()><span class="saved" role="status">{t("common.saved")}</span></Show>
        </section>
    }
}
