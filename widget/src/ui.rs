//! The widget's components: a launcher button and the chat panel. They only render [`ChatState`]
//! and call the driver; all chat logic lives in the driver and in `client-core`.

mod files;
mod forms;
mod later;

use crate::driver;
use crate::i18n::{t, t_with, tr};
use crate::settings::Settings;
use crate::state::{ChatState, ConnectionState};
use client_core::{shown_status, Entry};
use files::AttachButton;
use later::on_first_use;
use leptos::prelude::*;
use protocol::admin::OfflineMode;
use protocol::conversation::RatingScale;
use protocol::{AuthorKind, ConversationState};

/// The whole widget. `adopted` is the loader's button when the loader drew one: it becomes the
/// launcher instead of a new one.
pub fn app(
    settings: Settings,
    state: ChatState,
    adopted: Option<web_sys::HtmlElement>,
) -> impl IntoView {
    let own_launcher = match adopted {
        Some(button) => {
            adopt_launcher(button, state);
            None
        }
        // Without the loader (the module imported by a page's own code), the button is drawn
        // here: rarely needed, so it waits for the chunk like the other extras.
        None => {
            let label = StoredValue::new(settings.launcher_label.clone());
            Some(on_first_use(move || {
                later::launcher(label.get_value(), state)
            }))
        }
    };
    view! {
        {own_launcher}
        <Show when=move || state.open.get()>
            <Panel settings=settings.clone() state=state />
        </Show>
    }
}

/// Gives the loader's button the launcher's behaviour: it toggles the panel, says whether the
/// panel is open, and shows the unread count, exactly as `later::launcher` renders them.
fn adopt_launcher(button: web_sys::HtmlElement, state: ChatState) {
    use wasm_bindgen::{closure::Closure, JsCast};
    let toggle = Closure::<dyn FnMut()>::new(move || {
        crate::focus::launcher_used();
        state.open.update(|open| *open = !*open);
        state.unread.set(0);
    });
    let _ = button.add_event_listener_with_callback("click", toggle.as_ref().unchecked_ref());
    // The button lives as long as the page; so does its handler.
    toggle.forget();
    let button = send_wrapper::SendWrapper::new(button);
    crate::state::effect(move || {
        let open = state.open.get();
        let unread = state.unread.get();
        let _ = button.set_attribute("aria-expanded", &open.to_string());
        let display = if state.launcher_hidden.get() {
            "none"
        } else {
            ""
        };
        let _ = button.style().set_property("display", display);
        let _ = button.set_attribute("data-chimes", &state.chimes.get().to_string());
        let badge = button.query_selector(".badge").ok().flatten();
        match (badge, unread) {
            (Some(badge), 0) => badge.remove(),
            (Some(badge), n) => badge.set_text_content(Some(&n.to_string())),
            (None, 0) => {}
            (None, n) => {
                if let Some(badge) = button
                    .owner_document()
                    .and_then(|d| d.create_element("span").ok())
                {
                    badge.set_class_name("badge");
                    let _ = badge.set_attribute("data-testid", "chat-unread");
                    badge.set_text_content(Some(&n.to_string()));
                    let _ = button.append_child(&badge);
                }
            }
        }
    });
}

/// What the panel's body shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Body {
    /// The conversation and the composer.
    Chat,
    /// The pre-chat form, before a new conversation.
    Prechat,
    /// The offline form, when nobody is online and no conversation is going on.
    Offline,
}

/// Which body the panel shows now.
fn body(settings: &Settings, state: ChatState) -> Body {
    let closed = state.conversation.with(|c| {
        c.as_ref()
            .is_some_and(|c| c.state == ConversationState::Closed)
    });
    let ongoing = !closed && state.transcript.with(|t| !t.entries().is_empty());
    if ongoing || state.offline_sent.get() {
        return Body::Chat;
    }
    let away = state.online.get() == Some(false);
    if away && settings.forms.offline == OfflineMode::Form {
        return Body::Offline;
    }
    if settings.forms.prechat.enabled && !state.details_known.get() {
        return Body::Prechat;
    }
    Body::Chat
}

/// The chat panel: header, availability, then the conversation or a form.
#[component]
fn Panel(
    /// The site's settings.
    settings: Settings,
    /// The widget's state.
    state: ChatState,
) -> impl IntoView {
    let connection = move || state.connection.get();
    let site_title = settings.title.clone();
    let title = StoredValue::new(site_title);
    let title = move || title.get_value().unwrap_or_else(|| t("panel.title"));
    let greeting = settings.greeting.clone();
    let away_text = settings.away_text.clone();
    let availability = move || {
        state
            .online
            .get()
            .map(|online| if online { "online" } else { "away" })
    };
    let forms = settings.clone();
    let shown = Memo::new(move |previous: Option<&Body>| {
        let next = body(&forms, state);
        // A form the visitor typed into stays until it is sent (sending clears the mark).
        match previous {
            Some(&form @ (Body::Offline | Body::Prechat)) if state.form_dirty.get() => form,
            _ => next,
        }
    });
    let prechat_fields = settings.forms.prechat.fields.clone();
    let scale = settings.forms.rating;
    let composer_settings = settings.clone();
    let mail = settings.mail;
    let can_end = move || {
        state.conversation.with(|c| {
            c.as_ref()
                .is_some_and(|c| c.state != ConversationState::Closed)
        })
    };
    // While everyone who could answer is busy, the visitor's place in the site's queue.
    let queue_position = move || {
        state
            .conversation
            .with(|c| c.as_ref().and_then(|c| c.queue_position))
    };
    let locale = move || state.shown_locale();
    let dir = move || {
        if crate::state::right_to_left(&locale()) {
            "rtl"
        } else {
            "ltr"
        }
    };
    let panel = NodeRef::<leptos::html::Section>::new();
    crate::state::effect(move || {
        if let Some(panel) = panel.get() {
            crate::focus::panel_shown(&panel);
        }
    });
    view! {
        <section class="panel" data-testid="chat-panel" role="dialog" aria-label=title lang=locale dir=dir
            node_ref=panel on:keydown=move |ev| crate::focus::panel_key(&ev, state)
            on:dragover=|ev| ev.prevent_default() on:drop=files::dropped>
            // The language and direction every text inside is in (`display: contents`: the
            // panel's layout is as if this element were not there).
            <div class="lang" data-testid="chat-language" data-lang=locale dir=dir>
            <header>
                <span class="title">{title}</span>
                <span class="connection" data-testid="chat-connection" data-state=move || connection().as_str()
                    data-deployment=move || state.deployment.get().unwrap_or_default()
                    title=move || connection_label(connection())>
                    {move || connection_label(connection())}
                </span>
                <button class="sound" data-testid="chat-sound-toggle"
                    aria-pressed=move || state.muted.get().to_string()
                    aria-label=move || if state.muted.get() { t("sound.unmute") } else { t("sound.mute") }
                    on:click=move |_| state.muted.update(|m| *m = !*m)>
                    {move || if state.muted.get() { "🔕" } else { "🔔" }}
                </button>
                <Show when=can_end>
                    <button class="end" data-testid="chat-end" on:click=move |_| driver::end_chat()>{tr("panel.end")}</button>
                </Show>
                <button class="close" aria-label=tr("panel.close")
                    on:click=move |_| if let Some(panel) = panel.get() { crate::focus::close_to_launcher(&panel, state) }>"×"</button>
            </header>
            <Show when=move || availability().is_some()>
                <p class="availability" data-testid="chat-availability" data-state=move || availability().unwrap_or_default()>
                    {let away = away_text.clone(); move || if availability() == Some("online") { t("availability.online") } else { away.clone().unwrap_or_else(|| t("availability.away")) }}
                </p>
            </Show>
            {move || match shown.get() {
                Body::Offline => on_first_use(move || later::offline_form(state)).into_any(),
                Body::Prechat => {
                    let fields = StoredValue::new(prechat_fields.clone());
                    on_first_use(move || later::prechat_form(fields.get_value(), state)).into_any()
                }
                Body::Chat => view! { <Transcript greeting=greeting.clone() scale=scale mail=mail state=state /> }.into_any(),
            }}
            <Show when=move || state.offline_sent.get()>
                <p class="sent" data-testid="offline-sent" role="status">{tr("offline.sent")}</p>
            </Show>
            <Show when=move || queue_position().is_some()>
                <p class="queue" data-testid="queue-position" data-position=move || queue_position().unwrap_or_default().to_string() role="status">
                    {move || match queue_position() {
                        Some(1) => t("queue.next"),
                        Some(n) => t_with("queue.position", &[("n", &n.to_string())]),
                        None => String::new(),
                    }}
                </p>
            </Show>
            <Show when=move || state.operator_typing.get().is_some()>
                <div class="typing" data-testid="chat-typing">
                    {move || t_with("typing", &[("name", &state.operator_typing.get().unwrap_or_default())])}
                </div>
            </Show>
            <Show when=move || state.notice.get().is_some()>
                <div class="notice" data-testid="chat-notice" role="status">{move || state.notice.get().unwrap_or_default()}</div>
            </Show>
            <Show when=move || state.uploads.with(|u| !u.is_empty())>
                {on_first_use(move || later::uploads(state))}
            </Show>
            <Show when=move || shown.get() == Body::Chat>
                <Composer settings=composer_settings.clone() state=state />
            </Show>
            </div>
        </section>
    }
}

fn connection_label(state: ConnectionState) -> String {
    t(match state {
        ConnectionState::Online => "connection.online",
        ConnectionState::Connecting => "connection.connecting",
        ConnectionState::Offline => "connection.offline",
        ConnectionState::Outdated => "connection.outdated",
        ConnectionState::Unavailable => "connection.unavailable",
    })
}

/// The messages, kept scrolled to the newest.
#[component]
fn Transcript(
    /// Shown while the conversation is empty (the site's; a translated default without).
    greeting: Option<String>,
    /// The site's rating scale, asked for once the conversation ended.
    scale: RatingScale,
    /// Whether the deployment can e-mail the transcript.
    mail: bool,
    /// The widget's state.
    state: ChatState,
) -> impl IntoView {
    // Messages shown while the panel is open and the page visible are read.
    crate::state::effect(move || {
        state.transcript.track();
        if state.open.get() && state.visible.get() {
            driver::mark_read();
        }
    });
    let list = NodeRef::<leptos::html::Div>::new();
    crate::state::effect(move || {
        state.transcript.track();
        state.operator_typing.track();
        if let Some(list) = list.get() {
            list.set_scroll_top(list.scroll_height());
        }
    });
    let entries = move || state.transcript.with(|t| t.entries().to_vec());
    let ended = move || {
        state.conversation.with(|c| {
            c.as_ref()
                .is_some_and(|c| c.state == ConversationState::Closed)
        })
    };
    view! {
        <div class="messages" node_ref=list role="log" aria-live="polite">
            <p class="greeting">{move || greeting.clone().unwrap_or_else(|| t("panel.greeting"))}</p>
            <For each=entries key=|e: &Entry| (e.id, e.status, e.seq) let:entry>
                <MessageLine entry=entry state=state />
            </For>
            <Show when=ended>
                <p class="ended">{tr("chat.ended")}</p>
                {on_first_use(move || later::after_chat(scale, mail, state))}
            </Show>
        </div>
    }
}

/// One message. The body is rendered as text, never as HTML.
#[component]
fn MessageLine(
    /// The message.
    entry: Entry,
    /// The widget's state (what is confirmed, what the operator read).
    state: ChatState,
) -> impl IntoView {
    let author = entry.author.kind.as_str();
    let at = entry.at;
    let when = Memo::new(move |_| browser::local_time_in(at, &state.shown_locale()));
    let id = entry.id;
    let line = entry.clone();
    let status = Memo::new(move |_| {
        let in_outbox = state.unconfirmed.with(|u| u.contains(&id));
        let read = state
            .conversation
            .with(|c| c.as_ref().map_or(0, |c| c.operator_read));
        shown_status(&line, AuthorKind::Visitor, in_outbox, read)
    });
    view! {
        <div class=format!("message {author}") data-testid="chat-message" data-id=entry.id.to_string()
            data-author=author data-status=status>
            {entry.author.name.map(|name| view! { <span class="name">{name}</span> })}
            <span class="body">{entry.body}</span>
            {entry.attachment.map(|file| {
                let file = StoredValue::new(file);
                on_first_use(move || later::attachment(file.get_value(), state))
            })}
            <span class="meta">
                <time data-testid="chat-time" datetime=move || when.get().2 title=move || when.get().1>
                    {move || when.get().0}
                </time>
                <span class="status">{move || match status.get() {
                    "pending" => t("message.sending"),
                    "read" => t("message.read"),
                    _ => String::new(),
                }}</span>
            </span>
        </div>
    }
}

/// The text field, the emoji picker and the send button. Enter sends; shortcodes (`:smile:`)
/// become emoji first (an unknown one is named, and nothing is sent); the field clears once the
/// message is queued.
#[component]
fn Composer(
    /// The site's settings (where the emoji table is).
    settings: Settings,
    /// The widget's state.
    state: ChatState,
) -> impl IntoView {
    let text = state.draft;
    let settings = StoredValue::new(settings);
    let send = move || {
        let draft = text.get_untracked();
        if !crate::emoji::has_shortcode(&draft) {
            if driver::send_message(&draft) {
                text.set(String::new());
            }
            return;
        }
        crate::emoji::load(&settings.get_value(), state, move |loaded| {
            let replaced = loaded.and_then(|()| {
                state.emoji.with_untracked(|table| {
                    crate::emoji::replace(&draft, table.as_ref().expect("the table was loaded"))
                })
            });
            match replaced {
                Ok(body) if driver::send_message(&body) => text.set(String::new()),
                Ok(_) => {}
                Err(e) => state.notice.set(Some(e)),
            }
        });
    };
    let toggle_picker = move |_| {
        if state.emoji_open.get_untracked() {
            state.emoji_open.set(false);
            return;
        }
        crate::emoji::load(&settings.get_value(), state, move |loaded| match loaded {
            Ok(()) => state.emoji_open.set(true),
            Err(e) => state.notice.set(Some(e)),
        });
    };
    let disabled = move || {
        matches!(
            state.connection.get(),
            ConnectionState::Outdated | ConnectionState::Unavailable
        )
    };
    view! {
        <Show when=move || state.emoji_open.get()>
            <div class="emoji-picker" role="group" aria-label=tr("composer.emoji")>
                {on_first_use(move || later::emoji_options(state))}
            </div>
        </Show>
        <form class="composer" on:submit=move |ev| { ev.prevent_default(); send(); }>
            <button type="button" class="emoji" data-testid="chat-emoji" aria-label=tr("composer.emoji")
                aria-expanded=move || state.emoji_open.get().to_string() on:click=toggle_picker>"🙂"</button>
            <AttachButton />
            <input data-testid="chat-input" type="text" placeholder=tr("composer.placeholder") aria-label=tr("composer.label")
                autocomplete="off" prop:value=move || text.get() disabled=disabled on:paste=files::pasted
                on:input=move |ev| {
                    let value = event_target_value(&ev);
                    driver::typing(!value.is_empty());
                    text.set(value);
                } />
            <button data-testid="chat-send" type="submit" disabled=disabled>{tr("composer.send")}</button>
        </form>
    }
}
