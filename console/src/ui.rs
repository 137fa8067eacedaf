//! The console's components: the login form, the inbox, and one pane per open conversation.
//! They render [`ConsoleState`] and call the driver; they hold no chat logic.

use crate::admin::AdminArea;
use crate::driver;
use crate::i18n::{t, t_with};
use crate::state::{ConsoleState, View};
use browser::files::{files_of, AttachmentView, UploadList};
use client_core::{shown_status, Entry};
use leptos::prelude::*;
use protocol::{
    AuthorKind, ConversationId, ConversationKind, ConversationState, ConversationSummary,
    OperatorRole, VisitorDetails,
};

/// The whole console: the invitation's password form when opened from one, the login form until
/// logged in, then inbox and panes (or, for admins, the admin area).
pub fn app(state: ConsoleState) -> impl IntoView {
    view! {
        <Show when=move || state.invitation.with(Option::is_none) fallback=move || view! { <Invitation state=state /> }>
            <Show when=move || state.logged_in.get() fallback=move || view! { <Login state=state /> }>
                <Workspace state=state />
            </Show>
        </Show>
    }
}

/// An invited operator chooses their password.
#[component]
fn Invitation(
    /// The console's state (the invitation's token, the refusal notice).
    state: ConsoleState,
) -> impl IntoView {
    let password = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if let Some(token) = state.invitation.get_untracked() {
            driver::accept_invitation(token, password.get_untracked());
        }
    };
    view! {
        <main class="login">
            <form on:submit=submit>
                <h1>{t("ui.welcome_to_the_team")}</h1>
                <p>{t("ui.choose_the_password_you")}</p>
                <label>{t("ui.password")}
                    <input data-testid="invite-password" type="password" autocomplete="new-password" required=true minlength="8"
                        prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev)) />
                </label>
                <button data-testid="invite-submit" type="submit">{t("ui.set_password_and_log")}</button>
                <Show when=move || state.notice.get().is_some()>
                    <p class="error" data-testid="invite-error" role="alert">{move || state.notice.get().unwrap_or_default()}</p>
                </Show>
            </form>
        </main>
    }
}

/// E-mail and password.
#[component]
fn Login(
    /// The console's state (for the refusal notice).
    state: ConsoleState,
) -> impl IntoView {
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        driver::login(email.get_untracked(), password.get_untracked());
    };
    view! {
        <main class="login">
            <form on:submit=submit>
                <h1>{t("ui.livechat_console")}</h1>
                <label>{t("common.e_mail")}
                    <input data-testid="login-email" type="email" autocomplete="username" required=true
                        prop:value=move || email.get() on:input=move |ev| email.set(event_target_value(&ev)) />
                </label>
                <label>{t("ui.password")}
                    <input data-testid="login-password" type="password" autocomplete="current-password" required=true
                        prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev)) />
                </label>
                <button data-testid="login-submit" type="submit">{t("ui.log_in")}</button>
                <Show when=move || state.notice.get().is_some()>
                    <p class="error" data-testid="login-error" role="alert">{move || state.notice.get().unwrap_or_default()}</p>
                </Show>
            </form>
        </main>
    }
}

/// The logged-in layout: top bar, inbox on the left, open conversations side by side.
#[component]
fn Workspace(
    /// The console's state.
    state: ConsoleState,
) -> impl IntoView {
    crate::notify::install(state);
    let name = move || state.operator.get().map(|o| o.name).unwrap_or_default();
    let connection = move || state.connection.get().as_str();
    let is_admin = move || {
        state
            .operator
            .with(|o| o.as_ref().is_some_and(|o| o.role == OperatorRole::Admin))
    };
    view! {
        <header class="topbar">
            <strong>{t("ui.livechat")}</strong>
            <span class="connection" data-testid="console-connection" data-state=connection>{move || crate::i18n::connection(state.connection.get())}</span>
            <span class="deployment" data-testid="console-deployment"
                data-deployment=move || state.deployment.get().unwrap_or_default()
                data-moderator=move || state.moderator_view.get().unwrap_or_default()>
                {move || state.deployment.get().map(|d| t_with("ui.on_deployment", &[("host", host_of(&d))])).unwrap_or_default()}
                {move || state.moderator_view.get().map(|d| format!(" · {}", t_with("ui.moderator_names", &[("host", host_of(&d))]))).unwrap_or_default()}
            </span>
            <Show when=is_admin>
                <button data-testid="nav-admin" class:active=move || state.view.get() == View::Admin
                    on:click=move |_| state.view.update(|v| *v = if *v == View::Admin { View::Inbox } else { View::Admin })>
                    {move || if state.view.get() == View::Admin { t("ui.inbox") } else { t("admin.admin") }}
                </button>
            </Show>
            <button data-testid="nav-history" class:active=move || state.view.get() == View::History
                on:click=move |_| state.view.update(|v| *v = if *v == View::History { View::Inbox } else { View::History })>
                {move || if state.view.get() == View::History { t("ui.inbox") } else { t("ui.history") }}
            </button>
            <button data-testid="canned-manage" class:active=move || state.view.get() == View::Canned
                on:click=move |_| state.view.update(|v| *v = if *v == View::Canned { View::Inbox } else { View::Canned })>
                {move || if state.view.get() == View::Canned { t("ui.inbox") } else { t("common.canned_replies") }}
            </button>
            <button data-testid="notifications-enable" data-alerts=move || state.alerts.get().to_string()
                aria-pressed=move || state.notify.get().to_string()
                title=t("ui.notify_me_of_new")
                on:click=move |_| crate::notify::toggle_notifications(state)>
                {move || if state.notify.get() { t("ui.notifications_on") } else { t("ui.notify_me") }}
            </button>
            <button data-testid="console-sound" aria-pressed=move || state.sound.get().to_string()
                aria-label=move || if state.sound.get() { t("ui.mute_sound") } else { t("ui.sound_on") }
                on:click=move |_| crate::notify::toggle_sound(state)>
                {move || if state.sound.get() { "🔔" } else { "🔕" }}
            </button>
            <select data-testid="presence-select" aria-label=t("ui.your_availability")
                data-state=move || state.presence.get().as_str()
                prop:value=move || state.presence.get().as_str()
                on:change=move |ev| {
                    if let Some(p) = protocol::Presence::parse(&event_target_value(&ev)) {
                        driver::set_presence(p);
                    }
                }>
                <option value="online">{t("ui.online")}</option>
                <option value="away">{t("ui.away")}</option>
            </select>
            <span class="me">{name}</span>
            <button data-testid="logout" on:click=move |_| driver::logout()>{t("ui.log_out")}</button>
        </header>
        <Show when=move || state.notice.get().is_some()>
            <p class="notice" data-testid="console-notice" role="status">{move || state.notice.get().unwrap_or_default()}
                <button aria-label=t("ui.dismiss") on:click=move |_| state.notice.set(None)>"×"</button>
            </p>
        </Show>
        <Show when=move || state.view.get() == View::Admin && is_admin()>
            <AdminArea />
        </Show>
        <Show when=move || state.view.get() == View::Canned>
            <crate::canned::CannedManager state=state />
        </Show>
        <Show when=move || state.view.get() == View::History>
            <crate::history::History />
        </Show>
        <div class="workspace" hidden=move || match state.view.get() {
            View::Inbox => false,
            View::Admin => is_admin(),
            View::Canned | View::History => true,
        }>
            <Inbox state=state />
            <div class="panes">
                <Show when=move || state.open.with(Vec::is_empty)>
                    <p class="empty">{t("ui.pick_a_conversation_from")}</p>
                </Show>
                <For each=move || state.open.get() key=|c: &ConversationSummary| c.id let:summary>
                    <Pane id=summary.id state=state />
                </For>
            </div>
        </div>
    }
}

/// Waiting and active conversations, newest activity first.
#[component]
fn Inbox(
    /// The console's state.
    state: ConsoleState,
) -> impl IntoView {
    view! {
        <nav class="inbox" aria-label=t("ui.inbox")>
            <h2>{t("ui.inbox")} " " <span class="count">{move || state.inbox.with(Vec::len)}</span></h2>
            <For each=move || state.inbox.get() key=|c: &ConversationSummary| (c.id, c.updated_at, c.state) let:c>
                <InboxItem summary=c />
            </For>
        </nav>
    }
}

/// One conversation in the inbox; a click opens it.
#[component]
fn InboxItem(
    /// The conversation.
    summary: ConversationSummary,
) -> impl IntoView {
    let id = summary.id.to_string();
    let state_name = summary.state.as_str();
    let who = summary
        .operator
        .as_ref()
        .map(|o| format!(" · {}", o.name))
        .unwrap_or_default();
    let preview = summary.last_message.clone().unwrap_or_default();
    let page = summary.page_url.clone().unwrap_or_default();
    let label = visitor_label(&summary);
    let kind = summary.kind.as_str();
    let offline = (summary.kind == ConversationKind::Offline)
        .then(|| view! { <span class="kind">{t("ui.offline_message")}</span> });
    view! {
        <button class=format!("inbox-item {state_name} {kind}") data-testid="inbox-item" data-conversation=id
            data-state=state_name data-kind=kind on:click=move |_| driver::open_conversation(summary.clone())>
            {offline}
            <span class="who">{label}<span class="state">{format!(" {}{who}", crate::i18n::conversation_state(summary.state))}</span></span>
            <span class="preview">{preview}</span>
            <span class="page">{page}</span>
        </button>
    }
}

/// The visitor's name when they gave one, else "Visitor" and the end of their id.
pub(crate) fn visitor_label(summary: &ConversationSummary) -> String {
    if let Some(name) = summary.visitor.as_ref().and_then(|v| v.name.clone()) {
        return name;
    }
    let id = summary.visitor_id.to_string();
    t_with("ui.visitor_n", &[("id", &id[id.len() - 4..])])
}

/// What the visitor told about themselves in a form, beside the conversation.
#[component]
fn VisitorCard(
    /// Their answers.
    details: VisitorDetails,
) -> impl IntoView {
    let mut rows: Vec<(String, String)> = Vec::new();
    if let Some(name) = details.name {
        rows.push((t("common.name"), name));
    }
    if let Some(email) = details.email {
        rows.push((t("common.e_mail"), email));
    }
    rows.extend(details.fields.into_iter().map(|f| (f.label, f.value)));
    view! {
        <dl class="visitor" data-testid="conversation-visitor">
            {rows.into_iter().map(|(label, value)| view! { <dt>{label}</dt><dd>{value}</dd> }).collect_view()}
        </dl>
    }
}

/// One open conversation: header with actions, transcript, typing indicator, reply box.
#[component]
fn Pane(
    /// The conversation.
    id: ConversationId,
    /// The console's state.
    state: ConsoleState,
) -> impl IntoView {
    let summary = move || state.open_summary(id);
    let conversation_state = move || {
        summary()
            .map(|s| s.state)
            .unwrap_or(ConversationState::Closed)
    };
    let mine = move || {
        let me = state.operator.with(|o| o.as_ref().map(|o| o.id));
        summary()
            .and_then(|s| s.operator)
            .map(|o| Some(o.id) == me)
            .unwrap_or(false)
    };
    let can_reply = move || conversation_state() == ConversationState::Active && mine();
    let title = move || summary().map(|s| visitor_label(&s)).unwrap_or_default();
    let page = move || summary().and_then(|s| s.page_url).unwrap_or_default();
    let entries = move || {
        state
            .transcripts
            .with(|t| t.get(&id).map(|t| t.entries().to_vec()).unwrap_or_default())
    };
    let typing = move || state.visitor_typing.with(|t| t.contains_key(&id));
    let list = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        state.transcripts.track();
        if let Some(list) = list.get() {
            list.set_scroll_top(list.scroll_height());
        }
        // What an open pane shows while the page is visible is read.
        if state.visible.get() {
            driver::mark_read();
        }
    });
    let visitor_read = Signal::derive(move || summary().map_or(0, |s| s.visitor_read));
    // The visitor never changes: the context panel is made once per pane.
    let summary_now = state
        .open
        .with_untracked(|open| open.iter().find(|c| c.id == id).map(|c| c.visitor_id));
    let rating = move || summary().and_then(|s| s.rating);
    view! {
        <section class="pane" data-testid="conversation-pane" data-conversation=id.to_string()
            data-state=move || conversation_state().as_str()
            on:dragover=|ev| ev.prevent_default()
            on:drop=move |ev| {
                ev.prevent_default();
                if can_reply() {
                    driver::attach(id, files_of(ev.data_transfer().and_then(|d| d.files())));
                }
            }>
            <header>
                <div><strong>{title}</strong><small>{page}</small></div>
                <Show when=move || conversation_state() == ConversationState::Waiting>
                    <button data-testid="accept" on:click=move |_| driver::accept(id)>{t("ui.accept")}</button>
                </Show>
                <crate::handover::Handover id=id state=state />
                <Show when=move || conversation_state() != ConversationState::Closed>
                    <button data-testid="close-conversation" on:click=move |_| driver::close_conversation(id)>{t("ui.end_chat")}</button>
                </Show>
                <button class="dismiss" aria-label=t("ui.close_pane") on:click=move |_| driver::close_pane(id)>"×"</button>
            </header>
            {move || summary().and_then(|s| s.visitor).map(|details| view! { <VisitorCard details=details /> })}
            {summary_now.map(|visitor| view! { <crate::context::VisitorContextPanel id=id visitor=visitor /> })}
            {move || rating().map(|r| view! {
                <p class="rating" data-testid="conversation-rating" data-value=r.score.to_string()>
                    {t_with("common.rated", &[("score", &r.scale.label(r.score))])}
                    {r.comment.map(|c| view! { <q>{c}</q> })}
                </p>
            })}
            <div class="messages" node_ref=list>
                <For each=entries key=|e: &Entry| (e.id, e.status, e.seq) let:entry>
                    <Line entry=entry visitor_read=visitor_read state=state />
                </For>
            </div>
            <Show when=typing>
                <p class="typing" data-testid="console-typing">{t("ui.visitor_is_typing")}</p>
            </Show>
            <UploadList uploads=state.uploads conversation=Some(id) testid="console-upload" />
            <ReplyBox id=id enabled=Signal::derive(can_reply) state=state />
            <NoteBox id=id />
        </section>
    }
}

/// One message, rendered as text, with its time and, for the operator's own, how far it got.
#[component]
fn Line(
    /// The message.
    entry: Entry,
    /// How far the visitor has read.
    visitor_read: Signal<u64>,
    /// The console's state (the replies not yet on both deployments).
    state: ConsoleState,
) -> impl IntoView {
    let author = entry.author.kind.as_str();
    let (time, full, iso) = browser::local_time(entry.at);
    let id = entry.id;
    let line = entry.clone();
    let status = Memo::new(move |_| {
        let in_outbox = state.unconfirmed.with(|u| u.contains(&id));
        shown_status(&line, AuthorKind::Operator, in_outbox, visitor_read.get())
    });
    let id = entry.id.to_string();
    let content = view! {
        <span class="body">{entry.body}</span>
        {entry.attachment.map(|file| view! {
            <AttachmentView file=file testid="console-attachment" source=state.file_source() />
        })}
        <time datetime=iso title=full>{time}</time>
        <span class="status">{move || if status.get() == "read" { t("ui.read") } else { String::new() }}</span>
    };
    // A private note is marked apart, so tests and eyes never take it for a message.
    match entry.private {
        true => view! {
            <div class=format!("line note {author}") data-testid="console-note" data-id=id
                data-author=author data-status=move || status.get()>
                <span class="note-label">{t("common.note")}</span>
                {content}
            </div>
        }
        .into_any(),
        false => view! {
            <div class=format!("line {author}") data-testid="console-message" data-id=id
                data-author=author data-status=move || status.get()>
                {content}
            </div>
        }
        .into_any(),
    }
}

/// The reply field of a pane; enabled only in an active conversation assigned to this operator.
#[component]
fn ReplyBox(
    /// The conversation.
    id: ConversationId,
    /// Whether replying is allowed now.
    enabled: Signal<bool>,
    /// The console's state (the canned replies, the conversation's visitor).
    state: ConsoleState,
) -> impl IntoView {
    let text = RwSignal::new(String::new());
    // `/shortcut` offers the matching canned replies; choosing one puts its text in the field.
    let suggestions = Memo::new(move |_| crate::canned::matching(state, &text.get()));
    // Which suggestion Enter takes: ↓ and ↑ move it; a new list starts at the first.
    let selected = RwSignal::new(0usize);
    Effect::new(move |_| {
        suggestions.track();
        selected.set(0);
    });
    let choose = move |ev: leptos::ev::KeyboardEvent| {
        let count = suggestions.with_untracked(Vec::len);
        if count == 0 {
            return;
        }
        let step = match ev.key().as_str() {
            "ArrowDown" => 1,
            "ArrowUp" => count - 1,
            _ => return,
        };
        ev.prevent_default();
        selected.update(|s| *s = (*s + step) % count);
    };
    let insert = move |reply: &protocol::canned::CannedReply| {
        let summary = state
            .open
            .with_untracked(|open| open.iter().find(|c| c.id == id).cloned());
        text.set(crate::canned::filled(state, reply, summary.as_ref()));
    };
    let picker = NodeRef::<leptos::html::Input>::new();
    let picked = move |_| {
        if let Some(input) = picker.get() {
            driver::attach(id, files_of(input.files()));
            input.set_value("");
        }
    };
    let pasted = move |ev: leptos::ev::ClipboardEvent| {
        let files = files_of(ev.clipboard_data().and_then(|d| d.files()));
        if !files.is_empty() {
            ev.prevent_default();
            driver::attach(id, files);
        }
    };
    let indexed = move || {
        suggestions
            .get()
            .into_iter()
            .enumerate()
            .collect::<Vec<_>>()
    };
    let suggestion = move |(index, reply): (usize, protocol::canned::CannedReply)| {
        let chosen = reply.clone();
        view! {
            <li class:selected=move || selected.get() == index
                aria-selected=move || (selected.get() == index).to_string()>
                <button type="button" data-testid="canned-suggestion" data-shortcut=reply.shortcut.clone()
                    on:click=move |_| insert(&chosen)>
                    <code>{format!("/{}", reply.shortcut)}</code>" "{reply.text.clone()}
                </button>
            </li>
        }
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        // Enter on `/shortcut` takes the first suggestion instead of sending the shortcut.
        let at = selected.get_untracked();
        if let Some(chosen) = suggestions.with_untracked(|s| s.get(at).or(s.first()).cloned()) {
            insert(&chosen);
            return;
        }
        if driver::reply(id, &text.get_untracked()) {
            text.set(String::new());
        }
    };
    view! {
        <Show when=move || !suggestions.with(Vec::is_empty)>
            <ul class="suggestions" role="listbox" aria-label=t("common.canned_replies")>
                <For each=indexed key=|(i, r)| (*i, r.id) children=suggestion />
            </ul>
        </Show>
        <form class="reply" on:submit=submit>
            <label class="attach" title=t("ui.attach_a_file")>
                "📎"
                <input type="file" class="attach-input" data-testid="reply-attach" aria-label=t("ui.attach_a_file")
                    multiple=true disabled=move || !enabled.get() node_ref=picker on:change=picked />
            </label>
            <input data-testid="reply-input" type="text" placeholder=t("ui.reply") autocomplete="off"
                disabled=move || !enabled.get() prop:value=move || text.get() on:paste=pasted on:keydown=choose
                on:input=move |ev| {
                    let value = event_target_value(&ev);
                    driver::typing(id, !value.is_empty());
                    text.set(value);
                } />
            <button data-testid="reply-send" type="submit" disabled=move || !enabled.get()>{t("ui.send")}</button>
        </form>
    }
}

/// The private note field of a pane: any operator who sees the conversation may add one, in any
/// state; the visitor never sees it.
#[component]
fn NoteBox(
    /// The conversation.
    id: ConversationId,
) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if driver::note(id, &text.get_untracked()) {
            text.set(String::new());
        }
    };
    view! {
        <form class="note" on:submit=submit>
            <input data-testid="note-input" type="text" autocomplete="off"
                placeholder=t("ui.private_note_for_operators") aria-label=t("ui.private_note")
                prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev)) />
            <button data-testid="note-send" type="submit">{t("ui.add_note")}</button>
        </form>
    }
}

/// `https://chat-a.example.com/` as `chat-a.example.com`, for the top bar.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.trim_end_matches('/')
}
