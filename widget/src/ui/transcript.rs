//! The conversation in the panel: the greeting, a line per message (its author, text, file, time
//! and delivery status), and once the conversation ended, the rating and the transcript tools.

use super::later::{self, on_first_use};
use crate::dom::{self, El};
use crate::driver;
use crate::i18n::t;
use crate::state::ChatState;
use client_core::{shown_status, Entry};
use leptos::prelude::*;
use protocol::conversation::RatingScale;
use protocol::{AuthorKind, ConversationState};
use web_sys::{Element, Node};

/// The messages, kept scrolled to the newest: the greeting, a line per message, and once the
/// conversation ended, the rating and the transcript tools.
pub(super) fn transcript(
    greeting: Option<String>,
    scale: RatingScale,
    mail: bool,
    state: ChatState,
) -> Element {
    // Messages shown while the panel is open and the page visible are read.
    crate::state::effect(move || {
        state.transcript.track();
        if state.open.get() && state.visible.get() {
            driver::mark_read();
        }
    });
    let ended = move || {
        state.conversation.with(|c| {
            c.as_ref()
                .is_some_and(|c| c.state == ConversationState::Closed)
        })
    };
    let list = El::new("div")
        .class("messages")
        .attr("role", "log")
        .attr("aria-live", "polite")
        .child(
            El::new("p")
                .class("greeting")
                .text_with(move || greeting.clone().unwrap_or_else(|| t("panel.greeting")))
                .el(),
        )
        .el();
    // The lines go before this mark, the end of the conversation after it.
    let end = dom::document().create_text_node("");
    let _ = list.append_child(&end);
    let list = El(list)
        .show(ended, move || {
            El::new("div")
                .class("part")
                .child(
                    El::new("p")
                        .class("ended")
                        .text_with(|| t("chat.ended"))
                        .el(),
                )
                .child(on_first_use(move |place| {
                    later::after_chat(place, scale, mail, state)
                }))
                .el()
        })
        .el();

    // One line per message, kept while its id, status and sequence number stay (as Leptos's
    // `For` keyed them), each under an owner of its own.
    let outer = Owner::current();
    let mut lines: Vec<(LineKey, Element, Owner)> = Vec::new();
    let holder = list.clone();
    crate::state::effect(move || {
        let entries = state.transcript.with(|t| t.entries().to_vec());
        let mut old = std::mem::take(&mut lines);
        for entry in entries {
            let key = (entry.id, entry.status, entry.seq);
            let line = match old.iter().position(|(k, ..)| *k == key) {
                Some(at) => old.swap_remove(at),
                None => {
                    let (owner, element) = dom::build(&outer, || message_line(entry, state));
                    (key, element, owner)
                }
            };
            lines.push(line);
        }
        for (_, element, owner) in old {
            element.remove();
            owner.cleanup();
        }
        // Only the lines out of place move (a new one, one reordered by the clock), so the
        // focus on a link in a line that stays is kept.
        let mut next: Node = end.clone().into();
        for (_, element, _) in lines.iter().rev() {
            if element.next_sibling().as_ref() != Some(&next) {
                let _ = holder.insert_before(element, Some(&next));
            }
            next = element.clone().into();
        }
    });
    let scrolled = list.clone();
    crate::state::effect(move || {
        state.transcript.track();
        state.operator_typing.track();
        scrolled.set_scroll_top(scrolled.scroll_height());
    });
    list
}

/// What keeps a message's line: its id, delivery status and sequence number.
type LineKey = (
    protocol::MessageId,
    client_core::DeliveryStatus,
    Option<u64>,
);

/// One message. The body is rendered as text, never as HTML.
fn message_line(entry: Entry, state: ChatState) -> Element {
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
    let mut element = El::new("div")
        .class(&format!("message {author}"))
        .testid("chat-message")
        .attr("data-id", &id.to_string())
        .attr("data-author", author)
        .attr_with("data-status", move || Some(status.get().to_owned()));
    if let Some(name) = &entry.author.name {
        element = element.child(El::new("span").class("name").text(name).el());
    }
    element = element.child(El::new("span").class("body").text(&entry.body).el());
    if let Some(file) = entry.attachment {
        element = element.child(on_first_use(move |place| {
            later::attachment(place, file.clone(), state)
        }));
    }
    element
        .child(
            El::new("span")
                .class("meta")
                .child(
                    El::new("time")
                        .testid("chat-time")
                        .attr_with("datetime", move || Some(when.get().2))
                        .attr_with("title", move || Some(when.get().1))
                        .text_with(move || when.get().0)
                        .el(),
                )
                .child(
                    El::new("span")
                        .class("status")
                        .text_with(move || match status.get() {
                            "pending" => t("message.sending"),
                            "read" => t("message.read"),
                            _ => String::new(),
                        })
                        .el(),
                )
                .el(),
        )
        .el()
}
