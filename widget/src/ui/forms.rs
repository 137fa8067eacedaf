//! The panel's forms: the pre-chat and offline forms, the rating after a chat, and the
//! transcript's download links and e-mail form. Their rules live in `protocol` (checked again by
//! the deployment); these only collect and show.

use crate::driver;
use crate::i18n::{t, tr};
use crate::state::ChatState;
use leptos::prelude::*;
use protocol::admin::{FieldKind, FormField};
use protocol::conversation::{Attachment, FieldAnswer, Rating, RatingScale};
use protocol::{AuthorKind, VisitorDetails};

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
pub(super) fn PrechatForm(
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
            <p>{tr("prechat.intro")}</p>
            {inputs}
            {form_error(state)}
            <button data-testid="prechat-submit" type="submit">{tr("prechat.start")}</button>
        </form>
    }
}

/// The offline form: name, e-mail address and message, sent like a message (through the outbox).
#[component]
pub(super) fn OfflineForm(
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
            <label>{tr("form.name")}" *"
                <input data-testid="offline-name" type="text" autocomplete="name"
                    prop:value=move || name.get() on:input=move |ev| { state.form_dirty.set(true); name.set(event_target_value(&ev)) } />
            </label>
            <label>{tr("form.email")}" *"
                <input data-testid="offline-email" type="email" autocomplete="email"
                    prop:value=move || email.get() on:input=move |ev| { state.form_dirty.set(true); email.set(event_target_value(&ev)) } />
            </label>
            <label>{tr("form.message")}" *"
                <textarea data-testid="offline-message" rows="4"
                    prop:value=move || message.get() on:input=move |ev| { state.form_dirty.set(true); message.set(event_target_value(&ev)) }></textarea>
            </label>
            {form_error(state)}
            <button data-testid="offline-submit" type="submit">{tr("form.send")}</button>
        </form>
    }
}

/// After the chat ended: the site's rating, with an optional comment.
#[component]
pub(super) fn RatingForm(
    /// Good or bad, or one to five.
    scale: RatingScale,
    /// The widget's state.
    state: ChatState,
) -> impl IntoView {
    // Kept in the state, not here: the form is drawn anew when the panel's body changes (nobody
    // online for a moment during a failover), and what the visitor chose must stay.
    let (chosen, comment) = (state.rating_choice, state.rating_comment);
    let error = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(score) = chosen.get_untracked() else {
            error.set(Some(t("rating.choose")));
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
                fallback=|| view! { <p class="sent" role="status">{t("rating.thanks")}</p> }>
                <form class="form rating" data-testid="rating-form" on:submit=submit>
                    <p>{tr("rating.question")}</p>
                    <div class="options">{options}</div>
                    <textarea data-testid="rating-comment" rows="2" placeholder=tr("rating.comment")
                        prop:value=move || comment.get() on:input=move |ev| comment.set(event_target_value(&ev))></textarea>
                    <Show when=move || error.get().is_some()>
                        <p class="error" role="alert">{move || error.get().unwrap_or_default()}</p>
                    </Show>
                    <button data-testid="rating-submit" type="submit">{tr("rating.send")}</button>
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
                AuthorKind::Visitor => crate::i18n::t("transcript.you"),
                AuthorKind::Operator => entry
                    .author
                    .name
                    .clone()
                    .unwrap_or_else(|| crate::i18n::t("transcript.operator")),
                AuthorKind::System => "—".to_owned(),
            };
            let (_, when, _) = browser::local_time(entry.at);
            let text = Attachment::with_body(&entry.body, entry.attachment.as_ref());
            match html {
                true => out.push_str(&format!(
                    "<li><time>{}</time> <b>{}</b>: {}</li>",
                    escape(&when),
                    escape(&who),
                    escape(&text)
                )),
                false => out.push_str(&format!("[{when}] {who}: {text}\n")),
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
pub(super) fn TranscriptTools(
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
            <span>{tr("transcript.label")}" "</span>
            <a data-testid="transcript-download" data-format="text" download="chat.txt"
                href=move || transcript_file(state, false)>{tr("transcript.text")}</a>
            " · "
            <a data-testid="transcript-download" data-format="html" download="chat.html"
                href=move || transcript_file(state, true)>"HTML"</a>
            <Show when=move || mail>
                <form class="mail" on:submit=send novalidate=true>
                    <input data-testid="transcript-email-input" type="email" placeholder="you@example.com"
                        aria-label=tr("transcript.email_label") autocomplete="email"
                        prop:value=move || address.get() on:input=move |ev| address.set(event_target_value(&ev)) />
                    <button data-testid="transcript-email-send" type="submit">{tr("transcript.email_send")}</button>
                </form>
                {move || state.transcript_mail.get().map(|outcome| match outcome {
                    Ok(()) => view! { <p class="sent" data-testid="transcript-emailed" role="status">{t("transcript.emailed")}</p> }.into_any(),
                    Err(e) => view! { <p class="error" data-testid="transcript-error" role="alert">{e}</p> }.into_any(),
                })}
            </Show>
        </div>
    }
}
