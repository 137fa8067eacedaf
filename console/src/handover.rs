//! Handing a chat to someone else: the assignee's transfer (to an operator who is online and has
//! room, with an optional private note for them) and an admin's assignment (of any waiting or
//! active chat, to anyone who serves the site), picked from the deployment's roster; and telling
//! an operator when a chat of theirs went to someone else (a transfer, an admin, or the two
//! deployments' routers during a split, where the later assignment wins).

use crate::driver;
use crate::i18n::{t, t_with};
use crate::state::ConsoleState;
use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::routing::RosterEntry;
use protocol::{ConversationId, ConversationState, ConversationSummary, OperatorId, OperatorRole};

thread_local! {
    /// The chats this console handed to someone else: their move needs no notice.
    static HANDED: std::cell::RefCell<Vec<ConversationId>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Hands `id` to `to`, remembering that this console did it.
fn hand_over(id: ConversationId, to: OperatorId, note: String) {
    HANDED.with(|h| h.borrow_mut().push(id));
    driver::transfer(id, to, note);
}

/// Before `summary` replaces what the console knew: if the chat was this operator's and now is
/// someone else's (not by this console's own transfer), says so; the pane's reply box closes by
/// itself, since the chat is not theirs.
pub fn tell_if_taken(state: ConsoleState, summary: &ConversationSummary) {
    if HANDED.with(|h| h.borrow().contains(&summary.id)) {
        return;
    }
    let me = state.operator.with_untracked(|o| o.as_ref().map(|o| o.id));
    let known = |list: &Vec<ConversationSummary>| {
        list.iter()
            .find(|c| c.id == summary.id)
            .and_then(|c| c.operator.as_ref().map(|o| o.id))
    };
    let had = state
        .inbox
        .with_untracked(known)
        .or_else(|| state.open.with_untracked(known));
    let now = summary.operator.as_ref();
    if me.is_some() && had == me && summary.state == ConversationState::Active {
        if let Some(now) = now.filter(|o| Some(o.id) != me) {
            let who = crate::ui::visitor_label(summary);
            state.notice.set(Some(t_with(
                "handover.now_has_your_chat",
                &[("operator", &now.name), ("visitor", &who)],
            )));
        }
    }
}

/// The transfer button and dialog of a pane (for the chat's assignee and admins), and the
/// admin's assign select.
#[component]
pub fn Handover(
    /// The conversation.
    id: ConversationId,
    /// The console's state.
    state: ConsoleState,
) -> impl IntoView {
    let summary = move || state.open_summary(id);
    let me = move || state.operator.with(|o| o.as_ref().map(|o| o.id));
    let admin = move || {
        state
            .operator
            .with(|o| o.as_ref().is_some_and(|o| o.role == OperatorRole::Admin))
    };
    let live = move || summary().is_some_and(|s| s.state != ConversationState::Closed);
    let mine = move || {
        summary().is_some_and(|s| {
            s.state == ConversationState::Active && s.operator.map(|o| o.id) == me()
        })
    };
    let roster = RwSignal::new(Vec::<RosterEntry>::new());
    let dialog = RwSignal::new(false);
    let target = RwSignal::new(String::new());
    let note = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let load = move || {
        let Some(site) = summary().map(|s| s.site_id) else {
            return;
        };
        spawn_local(async move {
            let path = format!("/v1/roster?site={}", site.0);
            match crate::admin::call::<Vec<RosterEntry>>("GET", &path, None).await {
                Ok(found) => roster.set(found.unwrap_or_default()),
                Err(refused) => error.set(Some(refused.message)),
            }
        });
    };
    if admin() && live() {
        load();
    }
    let others = move || {
        let me = me();
        roster.with(|r| {
            r.iter()
                .filter(|e| Some(e.id) != me && e.serves)
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let option = |entry: RosterEntry| {
        let load = match entry.capacity {
            0 => t_with("handover.load", &[("n", &entry.active.to_string())]),
            cap => t_with(
                "handover.load_of",
                &[("n", &entry.active.to_string()), ("cap", &cap.to_string())],
            ),
        };
        let presence = if entry.online {
            t("handover.online")
        } else {
            t("handover.offline")
        };
        let label = t_with(
            "handover.option",
            &[
                ("name", &entry.name),
                ("presence", &presence),
                ("load", &load),
            ],
        );
        view! { <option value=entry.id.to_string()>{label}</option> }
    };
    let picked = move |value: &str| OperatorId::parse(value).ok();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(to) = picked(&target.get_untracked()) else {
            error.set(Some(t("handover.choose_who")));
            return;
        };
        // The same rule the deployment applies, so the common refusal needs no round trip;
        // an admin may hand a chat to anyone who serves the site.
        let entry = roster.with_untracked(|r| r.iter().find(|e| e.id == to).cloned());
        if let Some(Err(why)) = entry.filter(|_| !admin()).map(|e| e.transferable()) {
            error.set(Some(format!("{why}.")));
            return;
        }
        hand_over(id, to, note.get_untracked());
        note.set(String::new());
        error.set(None);
        dialog.set(false);
    };
    let assign = move |ev: leptos::ev::Event| {
        if let Some(to) = picked(&event_target_value(&ev)) {
            hand_over(id, to, String::new());
        }
    };
    let toggle = move |_| {
        if !dialog.get_untracked() {
            load();
        }
        dialog.update(|d| *d = !*d);
    };
    view! {
        <Show when=move || mine() || (admin() && summary().is_some_and(|s| s.state == ConversationState::Active))>
            <button data-testid="transfer" aria-expanded=move || dialog.get().to_string() on:click=toggle>{t("handover.transfer")}</button>
        </Show>
        <Show when=move || admin() && live()>
            <select data-testid="assign-select" aria-label=t("handover.assign_to") on:focus=move |_| load() on:change=assign>
                <option value="">{t("handover.assign_to_2")}</option>
                <For each=others key=|e: &RosterEntry| (e.id, e.online, e.active) children=option />
            </select>
        </Show>
        <Show when=move || dialog.get()>
            <form class="transfer" on:submit=submit>
                <label>{t("handover.transfer_to")}
                    <select data-testid="transfer-target" prop:value=move || target.get()
                        on:change=move |ev| target.set(event_target_value(&ev))>
                        <option value="">{t("handover.choose")}</option>
                        <For each=others key=|e: &RosterEntry| (e.id, e.online, e.active) children=option />
                    </select>
                </label>
                <textarea data-testid="transfer-note" rows="2" placeholder=t("handover.private_note_for_them")
                    aria-label=t("handover.private_note_for_the")
                    prop:value=move || note.get() on:input=move |ev| note.set(event_target_value(&ev))></textarea>
                <button data-testid="transfer-submit" type="submit">{t("handover.transfer")}</button>
                <Show when=move || error.get().is_some()>
                    <p class="error" data-testid="transfer-error" role="alert">{move || error.get().unwrap_or_default()}</p>
                </Show>
            </form>
        </Show>
    }
}
