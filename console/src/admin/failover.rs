//! The failover panel: both deployments' health and replication lag, the moderator's decision
//! and the recent ones, and buttons for a planned failover to either deployment and for release.
//! Every call goes to the admin API of a deployment, which checks the session and talks to the
//! moderator with its own secret: no secret is ever in the browser.

use super::{call, json, ErrorLine};
use crate::api::Refused;
use crate::i18n::{t, t_with};
use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::moderation::{ActiveDeployment, DeploymentHealth, FailoverRequest, FailoverStatus};

/// How often the panel refreshes while shown.
const REFRESH_MS: u64 = 1000;

/// The panel.
#[component]
pub fn FailoverPanel() -> impl IntoView {
    let status = RwSignal::new(None::<FailoverStatus>);
    let error = RwSignal::new(None::<Refused>);
    let busy = RwSignal::new(false);
    // The panel polls while it is mounted; the loop ends when it is not.
    let alive = StoredValue::new(true);
    on_cleanup(move || alive.set_value(false));
    let load = move || {
        spawn_local(async move {
            match call::<FailoverStatus>("GET", "/v1/admin/failover", None).await {
                Ok(found) => {
                    status.set(found);
                    if !busy.get_untracked() {
                        error.set(None);
                    }
                }
                Err(refused) => error.set(Some(refused)),
            }
        });
    };
    fn poll(load: impl Fn() + Copy + 'static, alive: StoredValue<bool>) {
        if alive.try_get_value().unwrap_or(false) {
            load();
            browser::set_timeout(REFRESH_MS, move || poll(load, alive));
        }
    }
    poll(load, alive);
    let command = move |path: &'static str, body: Option<String>| {
        busy.set(true);
        spawn_local(async move {
            match call::<ActiveDeployment>("POST", path, body).await {
                Ok(_) => error.set(None),
                Err(refused) => error.set(Some(refused)),
            }
            busy.set(false);
            load();
        });
    };
    let deployments = move || {
        status.with(|s| {
            s.as_ref()
                .map(|s| s.deployments.clone())
                .unwrap_or_default()
        })
    };
    let pinned = move || status.with(|s| s.as_ref().is_some_and(|s| s.active.pinned));
    let decision = move || {
        status.with(|s| {
            s.as_ref().map(|s| {
                let when = browser::local_time(s.decided_at_ms as i64).1;
                let values = [
                    ("active", s.active.active.as_str()),
                    ("epoch", &s.active.epoch.to_string()),
                    ("reason", &s.reason.replace('_', " ")),
                    ("when", &when),
                ];
                if s.active.pinned {
                    t_with("failover.decision_pinned", &values)
                } else {
                    t_with("failover.decision", &values)
                }
            })
        })
    };
    let recent = move || {
        status.with(|s| {
            s.as_ref()
                .map(|s| {
                    s.recent_decisions
                        .iter()
                        .rev()
                        .take(8)
                        .cloned()
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    };
    let row = move |d: DeploymentHealth| {
        let id = d.id.clone();
        let lag = d.lag_ms();
        let health = if d.up { "up" } else { "down" };
        let probe = d
            .last_probe
            .as_ref()
            .and_then(|p| p.error.clone())
            .unwrap_or_default();
        let to = FailoverRequest { to: id.clone() };
        view! {
            <li class=format!("deployment {health}") data-testid="failover-deployment" data-id=id.clone()
                data-health=health data-lag-ms=lag.map(|l| l.to_string()).unwrap_or_default()
                data-active=d.active.to_string()>
                <strong>{id.clone()}</strong>" "<span class="role">{crate::i18n::deployment_role(d.role)}</span>
                <span class="health">{if d.up { t("failover.up") } else { t("failover.down") }}</span>
                <span class="lag">{lag.map(|l| t_with("failover.lag", &[("ms", &l.to_string())])).unwrap_or_else(|| t("failover.lag_unknown"))}</span>
                {(d.active).then(|| view! { <span class="active">{t("failover.active")}</span> })}
                <small>{d.url.clone()}" "{probe}</small>
                <button type="button" data-testid="failover-to" data-id=id.clone() disabled=move || busy.get()
                    on:click=move |_| command("/v1/admin/failover", json(&to))>
                    {t_with("failover.make_active", &[("id", &id)])}
                </button>
            </li>
        }
    };
    view! {
        <section class="card" data-testid="failover-panel">
            <h2>{t("common.failover")}</h2>
            <p>{t("failover.a_planned_failover_makes")}</p>
            <p class="decision">{decision}</p>
            <ul class="deployments">{move || deployments().into_iter().map(row).collect_view()}</ul>
            <div class="actions">
                <button type="button" data-testid="failover-release" disabled=move || busy.get() || !pinned()
                    on:click=move |_| command("/v1/admin/failover/release", None)>{t("failover.release")}</button>
            </div>
            <ErrorLine error=error testid="failover-error" />
            <h3>{t("failover.recent_decisions")}</h3>
            <ol class="decisions">
                {move || recent().into_iter().map(|d| view! {
                    <li>{t_with("failover.past_decision", &[("epoch", &d.epoch.to_string()), ("active", &d.active), ("reason", &d.reason.replace('_', " "))])}</li>
                }).collect_view()}
            </ol>
        </section>
    }
}
