//! Canned replies in the console: the operator's list (their own and their sites'), loaded with
//! each welcome; the manager (`canned-manage`) to add and remove them; and the suggestions the
//! reply box shows while its text starts with `/`, which insert a reply with its placeholders
//! filled in from the conversation.

use crate::admin::{call, ErrorLine};
use crate::api::Refused;
use crate::i18n::{t, t_with};
use crate::state::ConsoleState;
use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::canned::{fill, CannedId, CannedReply, CannedScope};
use protocol::{ConversationSummary, OperatorRole};

/// Fetches the operator's canned replies into the state.
pub fn load(state: ConsoleState) {
    spawn_local(async move {
        if let Ok(Some(replies)) = call::<Vec<CannedReply>>("GET", "/v1/canned", None).await {
            state.canned.set(replies);
        }
    });
}

/// The replies whose shortcut starts with what follows `/` in `draft` (none when `draft` does
/// not start with `/` or holds more than the shortcut).
pub fn matching(state: ConsoleState, draft: &str) -> Vec<CannedReply> {
    let Some(typed) = draft.strip_prefix('/').filter(|t| !t.contains(' ')) else {
        return Vec::new();
    };
    state.canned.with(|all| {
        all.iter()
            .filter(|r| r.shortcut.starts_with(typed))
            .take(8)
            .cloned()
            .collect()
    })
}

/// `reply`'s text for the conversation `summary`, placeholders filled in.
pub fn filled(
    state: ConsoleState,
    reply: &CannedReply,
    summary: Option<&ConversationSummary>,
) -> String {
    let visitor = summary.and_then(|s| s.visitor.clone());
    let operator = state
        .operator
        .with_untracked(|o| o.as_ref().map(|o| o.name.clone()));
    fill(&reply.text, |name| match name {
        "visitor.name" => visitor.as_ref().and_then(|v| v.name.clone()),
        "visitor.email" => visitor.as_ref().and_then(|v| v.email.clone()),
        "operator.name" => operator.clone(),
        _ => None,
    })
}

/// The manager: every reply the operator may use, a form to add one (personal, or for a site
/// when the operator is an admin), and a button to remove each.
#[component]
pub fn CannedManager(
    /// The console's state.
    state: ConsoleState,
) -> impl IntoView {
    let error = RwSignal::new(None::<Refused>);
    let shortcut = RwSignal::new(String::new());
    let text = RwSignal::new(String::new());
    let scope = RwSignal::new(String::from("personal"));
    let is_admin = move || {
        state
            .operator
            .with(|o| o.as_ref().is_some_and(|o| o.role == OperatorRole::Admin))
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(me) = state.operator.get_untracked().map(|o| o.id) else {
            return;
        };
        let chosen = scope.get_untracked();
        let reply = CannedReply {
            id: CannedId(browser::new_message_id().0),
            scope: match chosen.strip_prefix("site:") {
                Some(site) => CannedScope::Site(protocol::SiteId(site.to_owned())),
                None => CannedScope::Personal(me),
            },
            shortcut: shortcut.get_untracked().trim().to_owned(),
            text: text.get_untracked().trim().to_owned(),
        };
        // The same rules as the deployment's, so a mistake is named before anything is sent.
        if let Err(e) = reply.check() {
            error.set(Some(Refused {
                message: e.message,
                field: Some(e.field),
            }));
            return;
        }
        let path = format!("/v1/canned/{}", reply.id);
        let body = serde_json::to_string(&reply).ok();
        spawn_local(async move {
            match call::<CannedReply>("PUT", &path, body).await {
                Ok(_) => {
                    error.set(None);
                    shortcut.set(String::new());
                    text.set(String::new());
                    load(state);
                }
                Err(refused) => error.set(Some(refused)),
            }
        });
    };
    let remove = move |id: CannedId| {
        spawn_local(async move {
            match call::<()>("DELETE", &format!("/v1/canned/{id}"), None).await {
                Ok(_) => load(state),
                Err(refused) => error.set(Some(refused)),
            }
        });
    };
    let sites = move || {
        let mut sites: Vec<String> = state
            .inbox
            .with(|i| i.iter().map(|c| c.site_id.0.clone()).collect());
        sites.sort();
        sites.dedup();
        sites
    };
    view! {
        <main class="canned card">
            <h2>{t("common.canned_replies")}</h2>
            <p class="hint">{t("canned.type_and_the_shortcut")}</p>
            <ul class="canned-list">
                <For each=move || state.canned.get() key=|r| (r.id, r.text.clone()) let:reply>
                    <li data-testid="canned-item" data-shortcut=reply.shortcut.clone()>
                        <code>{format!("/{}", reply.shortcut)}</code>
                        <span>{reply.text.clone()}</span>
                        <small>{match &reply.scope {
                            CannedScope::Site(site) => t_with("canned.scope_site", &[("site", &site.0)]),
                            CannedScope::Personal(_) => t("canned.scope_personal"),
                        }}</small>
                        <button type="button" data-testid="canned-remove" aria-label=t("common.remove")
                            on:click=move |_| remove(reply.id)>"×"</button>
                    </li>
                </For>
            </ul>
            <form on:submit=save>
                <label>{t("canned.shortcut")}
                    <input data-testid="canned-shortcut" type="text" placeholder=t("canned.refund")
                        prop:value=move || shortcut.get() on:input=move |ev| shortcut.set(event_target_value(&ev)) />
                </label>
                <label>{t("common.text")}
                    <textarea data-testid="canned-text" rows="3" placeholder=t("canned.hi_visitor_name")
                        prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))></textarea>
                </label>
                <label>{t("canned.for")}
                    <select data-testid="canned-scope" prop:value=move || scope.get()
                        on:change=move |ev| scope.set(event_target_value(&ev))>
                        <option value="personal">{t("canned.me_only")}</option>
                        <Show when=is_admin>
                            <For each=sites key=|s| s.clone() let:site>
                                <option value=format!("site:{site}")>{t_with("canned.everyone_on", &[("site", &site)])}</option>
                            </For>
                        </Show>
                    </select>
                </label>
                <ErrorLine error=error testid="canned-error" />
                <button data-testid="canned-save" type="submit" class="primary">{t("canned.add_reply")}</button>
            </form>
        </main>
    }
}
