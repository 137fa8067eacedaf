//! The team: every operator with role and state, actions to disable, enable and remove them, and
//! a form to add one (with a password or an invitation link) or change their name, role,
//! password and the sites they serve.

use super::{call, invalid, json, ErrorLine};
use crate::api::Refused;
use crate::i18n::t;
use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::admin::{
    AdminOperator, AdminSite, OperatorCreated, OperatorDraft, OperatorEdit, OperatorState,
    SiteScope,
};
use protocol::{OperatorId, OperatorRole, SiteId};

/// The list of operators and the form.
#[component]
pub fn Team() -> impl IntoView {
    let team = RwSignal::new(Vec::<AdminOperator>::new());
    let sites = RwSignal::new(Vec::<SiteId>::new());
    // `Some(None)`: the form for a new operator; `Some(Some(id))`: editing that one.
    let editing = RwSignal::new(None::<Option<OperatorId>>);
    let error = RwSignal::new(None::<Refused>);
    // The link of the operator just invited; it outlives the form, which is rebuilt for them.
    let invitation = RwSignal::new(None::<String>);
    let reload = move || {
        spawn_local(async move {
            match call::<Vec<AdminOperator>>("GET", "/v1/admin/operators", None).await {
                Ok(list) => team.set(list.unwrap_or_default()),
                Err(refused) => error.set(Some(refused)),
            }
            if let Ok(Some(list)) = call::<Vec<AdminSite>>("GET", "/v1/admin/sites", None).await {
                sites.set(list.into_iter().map(|s| s.id).collect());
            }
        })
    };
    reload();
    let form = move || {
        let choice = editing.get()?;
        let operator = match choice {
            None => None,
            Some(id) => Some(team.with_untracked(|t| t.iter().find(|o| o.id == id).cloned())?),
        };
        Some(
            view! { <OperatorForm operator=operator team=team sites=sites editing=editing invitation=invitation /> },
        )
    };
    view! {
        <div class="admin-split">
            <section class="list wide">
                <button data-testid="operator-new" class="primary" on:click=move |_| {
                    invitation.set(None);
                    editing.set(Some(None));
                }>{t("team.add_operator")}</button>
                <ul class="team">
                    <For each=move || team.get() key=|o: &AdminOperator| (o.id, o.name.clone(), o.role, o.state, o.sites.clone()) let:operator>
                        <OperatorItem operator=operator team=team editing=editing error=error invitation=invitation />
                    </For>
                </ul>
                <ErrorLine error=error testid="team-error" />
            </section>
            <section class="detail">
                {form}
                <Show when=move || invitation.with(Option::is_some)>
                    <p class="card invitation">{t("team.send_them_this_link")} " "
                        <code data-testid="operator-invitation">{move || invitation.get().unwrap_or_default()}</code></p>
                </Show>
            </section>
        </div>
    }
}

/// Replaces an operator's entry with what the server answered.
fn keep(team: RwSignal<Vec<AdminOperator>>, operator: AdminOperator) {
    team.update(|list| match list.iter_mut().find(|o| o.id == operator.id) {
        Some(old) => *old = operator,
        None => list.push(operator),
    });
}

/// One operator, with their actions.
#[component]
fn OperatorItem(
    /// The operator.
    operator: AdminOperator,
    /// The team.
    team: RwSignal<Vec<AdminOperator>>,
    /// Which operator the form edits.
    editing: RwSignal<Option<Option<OperatorId>>>,
    /// Where a refused action is shown.
    error: RwSignal<Option<Refused>>,
    /// The invitation link shown, cleared when another operator is edited.
    invitation: RwSignal<Option<String>>,
) -> impl IntoView {
    let id = operator.id;
    let path = format!("/v1/admin/operators/{id}");
    let set_state = {
        let path = path.clone();
        move |state: OperatorState| {
            let path = path.clone();
            spawn_local(async move {
                let body = OperatorEdit {
                    state: Some(state),
                    ..OperatorEdit::default()
                };
                match call::<AdminOperator>("PATCH", &path, json(&body)).await {
                    Ok(Some(operator)) => {
                        error.set(None);
                        keep(team, operator);
                    }
                    Ok(None) => {}
                    Err(refused) => error.set(Some(refused)),
                }
            });
        }
    };
    let remove = move |_| {
        let path = path.clone();
        spawn_local(async move {
            match call::<()>("DELETE", &path, None).await {
                Ok(_) => {
                    error.set(None);
                    team.update(|list| list.retain(|o| o.id != id));
                }
                Err(refused) => error.set(Some(refused)),
            }
        });
    };
    let disabled = operator.state == OperatorState::Disabled;
    let (disable, enable) = (set_state.clone(), set_state);
    let sites = match &operator.sites {
        SiteScope::All => t("team.all_sites"),
        SiteScope::Only(sites) => sites
            .iter()
            .map(|s| s.0.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    };
    view! {
        <li class="operator" data-testid="operator-item" data-email=operator.email.clone()
            data-role=operator.role.as_str() data-state=operator.state.as_str()>
            <span class="who"><strong>{operator.name.clone()}</strong> " " <small>{operator.email.clone()}</small></span>
            <span class="role">{crate::i18n::role(operator.role)}</span>
            <span class="state">{crate::i18n::operator_state(operator.state)}</span>
            <span class="scope">{sites}</span>
            <span class="actions">
                <button type="button" data-testid="operator-edit" on:click=move |_| {
                    invitation.set(None);
                    editing.set(Some(Some(id)));
                }>{t("team.edit")}</button>
                {if disabled {
                    view! { <button type="button" data-testid="operator-enable" on:click=move |_| enable(OperatorState::Active)>{t("team.enable")}</button> }.into_any()
                } else {
                    view! { <button type="button" data-testid="operator-disable" on:click=move |_| disable(OperatorState::Disabled)>{t("team.disable")}</button> }.into_any()
                }}
                <button type="button" data-testid="operator-remove" on:click=remove>{t("common.remove")}</button>
            </span>
        </li>
    }
}

/// Adds an operator, or changes one.
#[component]
fn OperatorForm(
    /// The operator being edited, or `None` for a new one.
    operator: Option<AdminOperator>,
    /// The team.
    team: RwSignal<Vec<AdminOperator>>,
    /// Every site, for the sites they serve.
    sites: RwSignal<Vec<SiteId>>,
    /// Which operator the form edits.
    editing: RwSignal<Option<Option<OperatorId>>>,
    /// Where the invitation link of a new operator goes.
    invitation: RwSignal<Option<String>>,
) -> impl IntoView {
    let id = operator.as_ref().map(|o| o.id);
    let email = RwSignal::new(
        operator
            .as_ref()
            .map(|o| o.email.clone())
            .unwrap_or_default(),
    );
    let name = RwSignal::new(
        operator
            .as_ref()
            .map(|o| o.name.clone())
            .unwrap_or_default(),
    );
    let role = RwSignal::new(operator.as_ref().map_or(OperatorRole::Agent, |o| o.role));
    let capacity = RwSignal::new(operator.as_ref().map_or(0, |o| o.capacity));
    let password = RwSignal::new(String::new());
    let scope = RwSignal::new(
        operator
            .as_ref()
            .map(|o| o.sites.clone())
            .unwrap_or_default(),
    );
    let error = RwSignal::new(None::<Refused>);
    let saved = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        saved.set(false);
        let password = Some(password.get_untracked()).filter(|p| !p.is_empty());
        let (email, name, role, sites) = (
            email.get_untracked(),
            name.get_untracked(),
            role.get_untracked(),
            scope.get_untracked(),
        );
        spawn_local(async move {
            let result = match id {
                Some(id) => {
                    let body = OperatorEdit {
                        name: Some(name),
                        role: Some(role),
                        sites: Some(sites),
                        password,
                        state: None,
                        capacity: Some(capacity.get_untracked()),
                    };
                    let path = format!("/v1/admin/operators/{id}");
                    call::<AdminOperator>("PATCH", &path, json(&body))
                        .await
                        .map(|o| {
                            o.map(|operator| OperatorCreated {
                                operator,
                                invitation_url: None,
                            })
                        })
                }
                None => {
                    let body = OperatorDraft {
                        email,
                        name,
                        role,
                        password,
                        sites,
                    };
                    call::<OperatorCreated>("POST", "/v1/admin/operators", json(&body)).await
                }
            };
            match result {
                Ok(Some(created)) => {
                    error.set(None);
                    saved.set(true);
                    if created.invitation_url.is_some() {
                        invitation.set(created.invitation_url);
                    }
                    let id = created.operator.id;
                    keep(team, created.operator);
                    if editing.get_untracked() != Some(Some(id)) {
                        editing.set(Some(Some(id)));
                    }
                }
                Ok(None) => {}
                Err(refused) => error.set(Some(refused)),
            }
        });
    };
    let serves = move |site: &SiteId| scope.with(|s| s.allows(site));
    let all_sites = move || scope.with(|s| *s == SiteScope::All);
    view! {
        <form class="card" on:submit=submit>
            <h2>{if id.is_some() { t("team.operator") } else { t("team.new_operator") }}</h2>
            <label>{t("common.e_mail")}
                <input data-testid="operator-email-input" type="email" required=true disabled=id.is_some()
                    aria-invalid=invalid(error, "email") aria-describedby="operator-error"
                    prop:value=move || email.get() on:input=move |ev| email.set(event_target_value(&ev)) />
            </label>
            <label>{t("common.name")}
                <input data-testid="operator-name-input" type="text" required=true
                    aria-invalid=invalid(error, "name") aria-describedby="operator-error"
                    prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
            </label>
            <label>{t("team.role")}
                <select data-testid="operator-role-select" prop:value=move || role.get().as_str()
                    on:change=move |ev| role.set(OperatorRole::parse(&event_target_value(&ev)).unwrap_or(OperatorRole::Agent))>
                    <option value="agent">{t("team.agent_chats")}</option>
                    <option value="admin">{t("team.admin_chats_and_manages")}</option>
                </select>
            </label>
            <label>{if id.is_some() { t("team.new_password") } else { t("team.initial_password") }}
                <input data-testid="operator-password-input" type="password" autocomplete="new-password"
                    aria-invalid=invalid(error, "password") aria-describedby="operator-error"
                    prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev)) />
            </label>
            <Show when=move || id.is_some()>
                <label>{t("team.capacity_most_chats_assigned")}
                    <input data-testid="capacity-input" type="number" min="0" max="100" step="1"
                        aria-invalid=invalid(error, "capacity") aria-describedby="operator-error"
                        prop:value=move || capacity.get().to_string()
                        on:input=move |ev| capacity.set(event_target_value(&ev).trim().parse().unwrap_or(0)) />
                </label>
            </Show>
            <fieldset aria-invalid=invalid(error, "sites")>
                <legend>{t("team.sites_they_serve")}</legend>
                <label class="check">
                    <input data-testid="operator-all-sites" type="checkbox" prop:checked=all_sites
                        on:change=move |ev| scope.set(match event_target_checked(&ev) {
                            true => SiteScope::All,
                            false => SiteScope::Only(Vec::new()),
                        }) />
                    {t("team.all_sites_including_new")}
                </label>
                <For each=move || sites.get() key=|s: &SiteId| s.clone() let:site>
                    <label class="check">
                        <input data-testid="operator-site" data-site=site.0.clone() type="checkbox"
                            disabled=all_sites prop:checked={ let site = site.clone(); move || serves(&site) }
                            on:change={ let site = site.clone(); move |ev| {
                                let on = event_target_checked(&ev);
                                scope.update(|s| {
                                    let mut list = match s { SiteScope::Only(list) => list.clone(), SiteScope::All => Vec::new() };
                                    list.retain(|x| *x != site);
                                    if on { list.push(site.clone()); }
                                    *s = SiteScope::Only(list);
                                });
                            }} />
                        {site.0.clone()}
                    </label>
                </For>
            </fieldset>
            <ErrorLine error=error testid="operator-error" />
            <div class="actions">
                <button data-testid="operator-save" type="submit" class="primary">{if id.is_some() { t("common.save") } else { t("team.add_operator") }}</button>
                <Show when=move || saved.get()><span class="saved" role="status">{t("common.saved")}</span></Show>
            </div>
        </form>
    }
}
