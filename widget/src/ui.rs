//! The widget's views: the launcher button and the chat panel. They only render [`ChatState`]
//! and call the driver; all chat logic lives in the driver and in `client-core`. The panel is
//! drawn with the DOM directly (see [`crate::dom`] for why); the parts loaded on first use
//! (`later`) are drawn by Leptos inside their chunk.

mod files;
mod forms;
mod later;
mod transcript;

use crate::dom::{self, listen, swap, El};
use crate::driver;
use crate::i18n::{t, t_with};
use crate::settings::Settings;
use crate::state::{ChatState, ConnectionState};
use later::on_first_use;
use leptos::prelude::*;
use protocol::admin::OfflineMode;
use protocol::ConversationState;
use wasm_bindgen::JsCast;
use web_sys::Element;

/// The whole widget, drawn into `container`. `adopted` is the loader's button when the loader
/// drew one: it becomes the launcher instead of a new one.
pub fn app(
    settings: Settings,
    state: ChatState,
    adopted: Option<web_sys::HtmlElement>,
    container: &Element,
) {
    match adopted {
        Some(button) => adopt_launcher(button, state),
        // Without the loader (the module imported by a page's own code), the button is drawn
        // here: rarely needed, so it waits for the chunk like the other extras.
        None => {
            let label = settings.launcher_label.clone();
            let place = on_first_use(move |place| later::launcher(place, label.clone(), state));
            let _ = container.append_child(&place);
        }
    }
    swap(
        container,
        Box::new(move || u8::from(state.open.get())),
        Box::new(move |open| (open == 1).then(|| panel(&settings, state))),
    );
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
fn panel(settings: &Settings, state: ChatState) -> Element {
    let connection = move || state.connection.get();
    let site_title = settings.title.clone();
    let title = move || site_title.clone().unwrap_or_else(|| t("panel.title"));
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
    let dir = move || {
        Some(if crate::state::right_to_left(&state.shown_locale()) {
            "rtl".to_owned()
        } else {
            "ltr".to_owned()
        })
    };
    let locale = move || Some(state.shown_locale());

    let header = El::new("header")
        .child(El::new("span").class("title").text_with(title.clone()).el())
        .child(
            El::new("span")
                .class("connection")
                .testid("chat-connection")
                .attr_with("data-state", move || Some(connection().as_str().to_owned()))
                .attr_with("data-deployment", move || {
                    Some(state.deployment.get().unwrap_or_default())
                })
                .attr_with("title", move || Some(connection_label(connection())))
                .text_with(move || connection_label(connection()))
                .el(),
        )
        .child(
            El::new("button")
                .class("sound")
                .testid("chat-sound-toggle")
                .attr_with("aria-pressed", move || Some(state.muted.get().to_string()))
                .attr_with("aria-label", move || {
                    Some(if state.muted.get() {
                        t("sound.unmute")
                    } else {
                        t("sound.mute")
                    })
                })
                .on("click", move |_| state.muted.update(|m| *m = !*m))
                .text_with(move || if state.muted.get() { "🔕" } else { "🔔" }.to_owned())
                .el(),
        )
        .show(can_end, || {
            El::new("button")
                .class("end")
                .testid("chat-end")
                .on("click", |_| driver::end_chat())
                .text_with(|| t("panel.end"))
                .el()
        });
    let header = header.el();
    let close = El::new("button")
        .class("close")
        .attr_with("aria-label", || Some(t("panel.close")))
        .text("×")
        .el();
    let _ = header.append_child(&close);

    let lang = El::new("div")
        .class("lang")
        .testid("chat-language")
        .attr_with("data-lang", locale)
        .attr_with("dir", dir)
        .child(header)
        .show(
            move || availability().is_some(),
            move || {
                let away = away_text.clone();
                El::new("p")
                    .class("availability")
                    .testid("chat-availability")
                    .attr_with("data-state", move || {
                        Some(availability().unwrap_or_default().to_owned())
                    })
                    .text_with(move || {
                        if availability() == Some("online") {
                            t("availability.online")
                        } else {
                            away.clone().unwrap_or_else(|| t("availability.away"))
                        }
                    })
                    .el()
            },
        )
        .el();
    swap(
        &lang,
        Box::new(move || shown.get() as u8),
        Box::new(move |body| {
            Some(if body == Body::Offline as u8 {
                on_first_use(move |place| later::offline_form(place, state))
            } else if body == Body::Prechat as u8 {
                let fields = prechat_fields.clone();
                on_first_use(move |place| later::prechat_form(place, fields.clone(), state))
            } else {
                transcript::transcript(greeting.clone(), scale, mail, state)
            })
        }),
    );
    let lang = El(lang)
        .show(
            move || state.offline_sent.get(),
            || {
                El::new("p")
                    .class("sent")
                    .testid("offline-sent")
                    .attr("role", "status")
                    .text_with(|| t("offline.sent"))
                    .el()
            },
        )
        .show(
            move || queue_position().is_some(),
            move || {
                El::new("p")
                    .class("queue")
                    .testid("queue-position")
                    .attr_with("data-position", move || {
                        Some(queue_position().unwrap_or_default().to_string())
                    })
                    .attr("role", "status")
                    .text_with(move || match queue_position() {
                        Some(1) => t("queue.next"),
                        Some(n) => t_with("queue.position", &[("n", &n.to_string())]),
                        None => String::new(),
                    })
                    .el()
            },
        )
        .show(
            move || state.operator_typing.get().is_some(),
            move || {
                El::new("div")
                    .class("typing")
                    .testid("chat-typing")
                    .text_with(move || {
                        let name = state.operator_typing.get().unwrap_or_default();
                        t_with("typing", &[("name", &name)])
                    })
                    .el()
            },
        )
        .show(
            move || state.notice.get().is_some(),
            move || {
                El::new("div")
                    .class("notice")
                    .testid("chat-notice")
                    .attr("role", "status")
                    .text_with(move || state.notice.get().unwrap_or_default())
                    .el()
            },
        )
        .show(
            move || state.uploads.with(|u| !u.is_empty()),
            move || on_first_use(move |place| later::uploads(place, state)),
        )
        .show(
            move || shown.get() == Body::Chat,
            move || composer(&composer_settings, state),
        )
        .el();

    let section = El::new("section")
        .class("panel")
        .testid("chat-panel")
        .attr("role", "dialog")
        .attr_with("aria-label", move || Some(title()))
        .attr_with("lang", locale)
        .attr_with("dir", dir)
        .on("keydown", move |ev| {
            crate::focus::panel_key(ev.unchecked_ref(), state)
        })
        .on("dragover", |ev| ev.prevent_default())
        .on("drop", |ev| files::dropped(ev.unchecked_into()))
        // The language and direction every text inside is in (`display: contents`: the
        // panel's layout is as if this element were not there).
        .child(lang)
        .el();
    let panel: web_sys::HtmlElement = section.clone().unchecked_into();
    let closing = panel.clone();
    listen(
        &close,
        "click",
        Box::new(move |_| crate::focus::close_to_launcher(&closing, state)),
    );
    // Effects first run after the panel is in the page and its parts are drawn: the focus can
    // move into it then.
    crate::state::effect(move || crate::focus::panel_shown(&panel));
    section
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

/// The emoji picker, the text field, the attach button and the send button. Enter sends;
/// shortcodes (`:smile:`) become emoji first (an unknown one is named, and nothing is sent); the
/// field clears once the message is queued.
fn composer(settings: &Settings, state: ChatState) -> Element {
    let text = state.draft;
    let settings = StoredValue::new(settings.clone());
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
        .then(String::new)
    };
    let input = El::new("input")
        .testid("chat-input")
        .attr("type", "text")
        .attr_with("placeholder", || Some(t("composer.placeholder")))
        .attr_with("aria-label", || Some(t("composer.label")))
        .attr("autocomplete", "off")
        .attr_with("disabled", disabled)
        .on("paste", |ev| files::pasted(ev.unchecked_into()))
        .on("input", move |ev| {
            let value = dom::input_value(&ev);
            driver::typing(!value.is_empty());
            text.set(value);
        })
        .el();
    let field: web_sys::HtmlInputElement = input.clone().unchecked_into();
    crate::state::effect(move || {
        let draft = text.get();
        if field.value() != draft {
            field.set_value(&draft);
        }
    });
    let form = El::new("form")
        .class("composer")
        .on("submit", move |ev| {
            ev.prevent_default();
            send();
        })
        .child(
            El::new("button")
                .attr("type", "button")
                .class("emoji")
                .testid("chat-emoji")
                .attr_with("aria-label", || Some(t("composer.emoji")))
                .attr_with("aria-expanded", move || {
                    Some(state.emoji_open.get().to_string())
                })
                .on("click", toggle_picker)
                .text("🙂")
                .el(),
        )
        .child(files::attach_button())
        .child(input)
        .child(
            El::new("button")
                .testid("chat-send")
                .attr("type", "submit")
                .attr_with("disabled", disabled)
                .text_with(|| t("composer.send"))
                .el(),
        )
        .el();
    El::new("div")
        .class("part")
        .show(
            move || state.emoji_open.get(),
            move || {
                El::new("div")
                    .class("emoji-picker")
                    .attr("role", "group")
                    .attr_with("aria-label", || Some(t("composer.emoji")))
                    .child(on_first_use(move |place| {
                        later::emoji_options(place, state)
                    }))
                    .el()
            },
        )
        .child(form)
        .el()
}
