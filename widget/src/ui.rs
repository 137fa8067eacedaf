//! The widget's components: a launcher button and the chat panel. They only render [`ChatState`]
//! and call the driver; all chat logic lives in the driver and in `client-core`.

use crate::driver;
use crate::settings::Settings;
use crate::state::{ChatState, ConnectionState};
use client_core::{shown_status, Entry};
use leptos::prelude::*;
use protocol::admin::{FieldKind, FormField, OfflineMode};
use protocol::conversation::{FieldAnswer, Rating, RatingScale};
use protocol::{AuthorKind, ConversationState, VisitorDetails};

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
        None => {
            let label = settings
                .launcher_label
                .clone()
                .unwrap_or_else(|| "Open chat".into());
            Some(view! { <Launcher label=label state=state /> })
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
/// panel is open, and shows the unread count, exactly as [`Launcher`] renders them.
fn adopt_launcher(button: web_sys::HtmlElement, state: ChatState) {
    use wasm_bindgen::{closure::Closure, JsCast};
    let toggle = Closure::<dyn FnMut()>::new(move || {
        state.open.update(|open| *open = !*open);
        state.unread.set(0);
    });
    let _ = button.add_event_listener_with_callback("click", toggle.as_ref().unchecked_ref());
    // The button lives as long as the page; so does its handler.
    toggle.forget();
    let button = send_wrapper::SendWrapper::new(button);
    Effect::new(move |_| {
        let open = state.open.get();
        let unread = state.unread.get();
        let _ = button.set_attribute("aria-expanded", &open.to_string());
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

/// The round button that opens and closes the panel, with the unread count.
#[component]
fn Launcher(
    /// Its accessible name.
    label: String,
    /// The widget's state.
    state: ChatState,
) -> impl IntoView {
    let toggle = move |_| {
        state.open.update(|open| *open = !*open);
        state.unread.set(0);
    };
    view! {
        <button class="launcher" data-testid="chat-launcher" aria-label=label
            aria-expanded=move || state.open.get().to_string() data-chimes=move || state.chimes.get().to_string()
            on:click=toggle>
            <svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16v12H7l-3 3z"/></svg>
            <Show when=move || { state.unread.get() > 0 }>
                <span class="badge" data-testid="chat-unread">{move || state.unread.get()}</span>
            </Show>
        </button>
    }
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
    let title = settings.title.clone();
    let label = title.clone();
    let greeting = settings.greeting.clone();
    let away_text = settings.away_text.clone().unwrap_or_else(|| {
        "We are away right now. Leave a message and we will answer by e-mail.".into()
    });
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
    let mail = settings.mail;
    let can_end = move || {
        state.conversation.with(|c| {
            c.as_ref()
                .is_some_and(|c| c.state != ConversationState::Closed)
        })
    };
    view! {
        <section class="panel" data-testid="chat-panel" role="dialog" aria-label=label>
            <header>
                <span class="title">{title}</span>
                <span class="connection" data-testid="chat-connection" data-state=move || connection().as_str()
                    data-deployment=move || state.deployment.get().unwrap_or_default()
                    title=move || connection_label(connection())>
                    {move || connection_label(connection())}
                </span>
                <button class="sound" data-testid="chat-sound-toggle"
                    aria-pressed=move || state.muted.get().to_string()
                    aria-label=move || if state.muted.get() { "Turn the sound on" } else { "Mute the sound" }
                    on:click=move |_| state.muted.update(|m| *m = !*m)>
                    {move || if state.muted.get() { "🔕" } else { "🔔" }}
                </button>
                <Show when=can_end>
                    <button class="end" data-testid="chat-end" on:click=move |_| driver::end_chat()>"End chat"</button>
                </Show>
                <button class="close" aria-label="Close chat" on:click=move |_| state.open.set(false)>"×"</button>
            </header>
            <Show when=move || availability().is_some()>
                <p class="availability" data-testid="chat-availability" data-state=move || availability().unwrap_or_default()>
                    {let away = away_text.clone(); move || if availability() == Some("online") { "We are online.".to_owned() } else { away.clone() }}
                </p>
            </Show>
            {move || match shown.get() {
                Body::Offline => view! { <OfflineForm state=state /> }.into_any(),
                Body::Prechat => view! { <PrechatForm fields=prechat_fields.clone() state=state /> }.into_any(),
                Body::Chat => view! { <Transcript greeting=greeting.clone() scale=scale mail=mail state=state /> }.into_any(),
            }}
            <Show when=move || state.offline_sent.get()>
                <p class="sent" data-testid="offline-sent" role="status">"Thanks! We got your message and will answer by e-mail."</p>
            </Show>
            <Show when=move || state.operator_typing.get().is_some()>
                <div class="typing" data-testid="chat-typing">
                    {move || format!("{} is typing…", state.operator_typing.get().unwrap_or_default())}
                </div>
            </Show>
            <Show when=move || state.notice.get().is_some()>
                <div class="notice" data-testid="chat-notice" role="status">{move || state.notice.get().unwrap_or_default()}</div>
            </Show>
            <Show when=move || shown.get() == Body::Chat>
                <Composer state=state />
            </Show>
        </section>
    }
}

fn connection_label(state: ConnectionState) -> &'static str {
    match state {
        ConnectionState::Online => "Online",
        ConnectionState::Connecting => "Connecting…",
        ConnectionState::Offline => "Reconnecting…",
        ConnectionState::Outdated => "Please reload",
        ConnectionState::Unavailable => "Unavailable",
    }
}

/// The messages, kept scrolled to the newest.
#[component]
fn Transcript(
    /// Shown while the conversation is empty.
    greeting: String,
    /// The site's rating scale, asked for once the conversation ended.
    scale: RatingScale,
    /// Whether the deployment can e-mail the transcript.
    mail: bool,
    /// The widget's state.
    state: ChatState,
) -> impl IntoView {
    // Messages shown while the panel is open and the page visible are read.
    Effect::new(move |_| {
        state.transcript.track();
        if state.open.get() && state.visible.get() {
            driver::mark_read();
        }
    });
    let list = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
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
        <div class="messages" node_ref=list aria-live="polite">
            <p class="greeting">{greeting}</p>
            <For each=entries key=|e: &Entry| (e.id, e.status, e.seq) let:entry>
                <MessageLine entry=entry state=state />
            </For>
            <Show when=ended>
                <p class="ended">"This chat has ended. Write again to start a new one."</p>
                <RatingForm scale=scale state=state />
                <TranscriptTools mail=mail state=state />
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
    let (time, full, iso) = browser::local_time(entry.at);
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
            <span class="meta">
                <time data-testid="chat-time" datetime=iso title=full>{time}</time>
                <span class="status">{move || match status.get() {
                    "pending" => "Sending…",
                    "read" => "Read",
                    _ => "",
                }}</span>
            </span>
        </div>
    }
}

/// After the chat ended: the site's rating, with an optional comment.
#[component]
fn RatingForm(
    /// Good or bad, or one to five.
    scale: RatingScale,
    /// The widget's state.
    state: ChatState,
) -> impl IntoView {
    let chosen = RwSignal::new(None::<u8>);
    let comment = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(score) = chosen.get_untracked() else {
            error.set(Some("Please choose a rating.".into()));
            return;
        };
        let text = comment.get_untracked().trim().to_owned();
        let rating = Rating {
            scale,
            score,
            comment: Some(text).filter(|t| !t.is_empty()),
        };
        if let Err(e) = driver::rate(rating) {
            error.set(Some(e));
        }
    };
    let options = move || {
        scale
            .scores()
            .map(|score| {
                let label = scale.label(score);
                view! {
                    <button type="button" data-testid="rating-option" data-value=score.to_string()
                        aria-pressed=move || (chosen.get() == Some(score)).to_string()
                        on:click=move |_| chosen.set(Some(score))>{label}</button>
                }
            })
            .collect_view()
    };
    view! {
        <Show when=move || scale != RatingScale::Off>
            <Show when=move || !state.rating_given.get()
                fallback=|| view! { <p class="sent" role="status">"Thank you for your feedback!"</p> }>
                <form class="form rating" data-testid="rating-form" on:submit=submit>
                    <p>"How was this chat?"</p>
                    <div class="options">{options}</div>
                    <textarea data-testid="rating-comment" rows="2" placeholder="Anything to add? (optional)"
                        prop:value=move || comment.get() on:input=move |ev| comment.set(event_target_value(&ev))></textarea>
                    <Show when=move || error.get().is_some()>
                        <p class="error" role="alert">{move || error.get().unwrap_or_default()}</p>
                    </Show>
                    <button data-testid="rating-submit" type="submit">"Send rating"</button>
                </form>
            </Show>
        </Show>
    }
}

/// The conversation as plain text or HTML, for the download links: one line per message with
/// its local time and author.
fn transcript_file(state: ChatState, html: bool) -> String {
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut out = String::new();
    if html {
        out.push_str("<!doctype html><meta charset=\"utf-8\"><title>Chat transcript</title><ul>");
    }
    state.transcript.with(|t| {
        for entry in t.entries() {
            let who = match entry.author.kind {
                AuthorKind::Visitor => "You".to_owned(),
                AuthorKind::Operator => entry.author.name.clone().unwrap_or("Operator".into()),
                AuthorKind::System => "—".to_owned(),
            };
            let (_, when, _) = browser::local_time(entry.at);
            match html {
                true => out.push_str(&format!(
                    "<li><time>{}</time> <b>{}</b>: {}</li>",
                    escape(&when),
                    escape(&who),
                    escape(&entry.body)
                )),
                false => out.push_str(&format!("[{when}] {who}: {}\n", entry.body)),
            }
        }
    });
    if html {
        out.push_str("</ul>");
    }
    let kind = if html { "text/html" } else { "text/plain" };
    format!(
        "data:{kind};charset=utf-8,{}",
        String::from(js_sys::encode_uri_component(&out))
    )
}

/// Download the transcript (text or HTML) and, where the deployment sends mail, have it e-mailed.
#[component]
fn TranscriptTools(
    /// Whether the deployment can e-mail it.
    mail: bool,
    /// The widget's state.
    state: ChatState,
) -> impl IntoView {
    let address = RwSignal::new(String::new());
    let send = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        state.transcript_mail.set(None);
        if let Err(e) = driver::email_transcript(&address.get_untracked()) {
            state.transcript_mail.set(Some(Err(e)));
        }
    };
    view! {
        <div class="transcript">
            <span>"Transcript: "</span>
            <a data-testid="transcript-download" data-format="text" download="chat.txt"
                href=move || transcript_file(state, false)>"text"</a>
            " · "
            <a data-testid="transcript-download" data-format="html" download="chat.html"
                href=move || transcript_file(state, true)>"HTML"</a>
            <Show when=move || mail>
                <form class="mail" on:submit=send novalidate=true>
                    <input data-testid="transcript-email-input" type="email" placeholder="you@example.com"
                        aria-label="E-mail address for the transcript" autocomplete="email"
                        prop:value=move || address.get() on:input=move |ev| address.set(event_target_value(&ev)) />
                    <button data-testid="transcript-email-send" type="submit">"E-mail it"</button>
                </form>
                {move || state.transcript_mail.get().map(|outcome| match outcome {
                    Ok(()) => view! { <p class="sent" data-testid="transcript-emailed" role="status">"The transcript is on its way."</p> }.into_any(),
                    Err(e) => view! { <p class="error" data-testid="transcript-error" role="alert">{e}</p> }.into_any(),
                })}
            </Show>
        </div>
    }
}

/// A form's error line, when the last attempt was refused.
fn form_error(state: ChatState) -> impl IntoView {
    view! {
        <Show when=move || state.form_error.get().is_some()>
            <p class="error" data-testid="form-error" role="alert">{move || state.form_error.get().unwrap_or_default()}</p>
        </Show>
    }
}

/// The pre-chat form: the site's fields, checked by the same rules as on the deployment.
#[component]
fn PrechatForm(
    /// The site's fields.
    fields: Vec<FormField>,
    /// The widget's state.
    state: ChatState,
) -> impl IntoView {
    let values: Vec<(FormField, RwSignal<String>)> = fields
        .into_iter()
        .map(|f| (f, RwSignal::new(String::new())))
        .collect();
    let answers = values.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut details = VisitorDetails::default();
        for (field, value) in &answers {
            let value = value.get_untracked().trim().to_owned();
            match field.kind {
                FieldKind::Name => details.name = Some(value).filter(|v| !v.is_empty()),
                FieldKind::Email => details.email = Some(value).filter(|v| !v.is_empty()),
                FieldKind::Text if !value.is_empty() => details.fields.push(FieldAnswer {
                    key: field.key.clone(),
                    label: field.label.clone(),
                    value,
                }),
                FieldKind::Text => {}
            }
        }
        if let Err(e) = driver::submit_prechat(details) {
            state.form_error.set(Some(e));
        }
    };
    let inputs = values
        .into_iter()
        .map(|(field, value)| {
            let label = format!("{}{}", field.label, if field.required { " *" } else { "" });
            let set = move |ev: leptos::ev::Event| {
                state.form_dirty.set(true);
                value.set(event_target_value(&ev));
            };
            let get = move || value.get();
            let input = match field.kind {
                FieldKind::Name => view! {
                    <input data-testid="prechat-name" type="text" autocomplete="name" prop:value=get on:input=set />
                }
                .into_any(),
                FieldKind::Email => view! {
                    <input data-testid="prechat-email" type="email" autocomplete="email" prop:value=get on:input=set />
                }
                .into_any(),
                FieldKind::Text => view! {
                    <input data-testid="prechat-custom" data-key=field.key.clone() type="text" prop:value=get on:input=set />
                }
                .into_any(),
            };
            view! { <label>{label}{input}</label> }
        })
        .collect_view();
    view! {
        <form class="form" data-testid="prechat-form" on:submit=submit novalidate=true>
            <p>"Before we start, please tell us who you are."</p>
            {inputs}
            {form_error(state)}
            <button data-testid="prechat-submit" type="submit">"Start the chat"</button>
        </form>
    }
}

/// The offline form: name, e-mail address and message, sent like a message (through the outbox).
#[component]
fn OfflineForm(
    /// The widget's state.
    state: ChatState,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let message = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let details = VisitorDetails {
            name: Some(name.get_untracked().trim().to_owned()).filter(|v| !v.is_empty()),
            email: Some(email.get_untracked().trim().to_owned()).filter(|v| !v.is_empty()),
            fields: Vec::new(),
        };
        if let Err(e) = driver::submit_offline(details, &message.get_untracked()) {
            state.form_error.set(Some(e));
        }
    };
    view! {
        <form class="form" data-testid="offline-form" on:submit=submit novalidate=true>
            <label>"Name *"
                <input data-testid="offline-name" type="text" autocomplete="name"
                    prop:value=move || name.get() on:input=move |ev| { state.form_dirty.set(true); name.set(event_target_value(&ev)) } />
            </label>
            <label>"E-mail *"
                <input data-testid="offline-email" type="email" autocomplete="email"
                    prop:value=move || email.get() on:input=move |ev| { state.form_dirty.set(true); email.set(event_target_value(&ev)) } />
            </label>
            <label>"Message *"
                <textarea data-testid="offline-message" rows="4"
                    prop:value=move || message.get() on:input=move |ev| { state.form_dirty.set(true); message.set(event_target_value(&ev)) }></textarea>
            </label>
            {form_error(state)}
            <button data-testid="offline-submit" type="submit">"Send"</button>
        </form>
    }
}

/// The text field and send button. Enter sends; the field clears once the message is queued.
#[component]
fn Composer(
    /// The widget's state.
    state: ChatState,
) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let send = move || {
        if driver::send_message(&text.get_untracked()) {
            text.set(String::new());
        }
    };
    let disabled = move || {
        matches!(
            state.connection.get(),
            ConnectionState::Outdated | ConnectionState::Unavailable
        )
    };
    view! {
        <form class="composer" on:submit=move |ev| { ev.prevent_default(); send(); }>
            <input data-testid="chat-input" type="text" placeholder="Write a message…" aria-label="Message"
                autocomplete="off" prop:value=move || text.get() disabled=disabled
                on:input=move |ev| {
                    let value = event_target_value(&ev);
                    driver::typing(!value.is_empty());
                    text.set(value);
                } />
            <button data-testid="chat-send" type="submit" disabled=disabled>"Send"</button>
        </form>
    }
}
