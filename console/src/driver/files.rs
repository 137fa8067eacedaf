//! Files the operator sends, the same way the widget sends a visitor's: checked against the
//! deployment's rules before anything goes out, uploaded with progress to the deployment the
//! console is connected to (tried again at whichever is connected a second later, should it
//! fail), then sent as a reply through the outbox. A reply whose file reached only a deployment
//! that went away is refused by the other one (`not_found`): the console uploads the file it
//! still holds there and sends the same reply again.

use super::{with_console, Console};
use crate::i18n::t_with;
use browser::files::Uploading;
use browser::monotonic_ms;
use client_core::{Link, PendingMessage};
use leptos::prelude::*;
use protocol::conversation::Attachment;
use protocol::{ConversationId, MessageId};

/// What follows a successful upload.
#[derive(Clone, Copy)]
enum Then {
    /// A new reply in the conversation carries the file.
    Send(ConversationId),
    /// The outbox's reply `id` already carries it: send it again.
    Resend(MessageId),
}

/// The operator picked, dropped or pasted `files` in the pane of conversation `id`.
pub fn attach(id: ConversationId, files: Vec<web_sys::File>) {
    with_console(|console, _| {
        for file in files {
            if let Some(rules) = &console.file_rules {
                if let Err(why) = rules.check(&file.type_(), file.size() as u64) {
                    console.state.notice.set(Some(t_with(
                        "files.cannot_be_sent",
                        &[("name", &file.name()), ("why", &why.to_string())],
                    )));
                    continue;
                }
            }
            console.upload(file, id, Then::Send(id));
        }
    });
}

impl Console {
    fn upload(&mut self, file: web_sys::File, conversation: ConversationId, then: Then) {
        self.next_upload += 1;
        let key = self.next_upload;
        let shown = Uploading {
            key,
            name: file.name(),
            progress: 0,
            conversation: Some(conversation),
        };
        let progress = browser::files::track(self.state.uploads, shown);
        let (held, name) = (file.clone(), file.name());
        browser::files::send(file, self.state.file_source(), progress, move |outcome| {
            with_console(|console, link| match outcome {
                Ok(attachment) => console.uploaded(link, (key, held, then), attachment),
                Err(why) => console.upload_refused(link, (key, name, then), &why),
            });
        });
    }

    /// A reply refused because this deployment does not have its file: back into the outbox,
    /// the file uploaded here, the reply sent again. False when the file is no longer held.
    pub(super) fn upload_again(&mut self, link: &mut Link, message: PendingMessage) -> bool {
        let held = message
            .attachment
            .as_ref()
            .and_then(|a| self.files.get(&a.hash))
            .cloned();
        let Some(file) = held else {
            return false;
        };
        let (id, conversation) = (message.message_id, message.conversation_id);
        link.outbox_mut().push(message);
        self.outbox_changed(link);
        self.upload(file, conversation, Then::Resend(id));
        true
    }

    fn uploaded(
        &mut self,
        link: Option<&mut Link>,
        (key, file, then): (u64, web_sys::File, Then),
        attachment: Attachment,
    ) {
        browser::files::untrack(self.state.uploads, key);
        self.files.insert(attachment.hash.clone(), file);
        match then {
            Then::Send(id) => {
                self.compose(link, id, super::replies::Reply::File(attachment));
            }
            Then::Resend(id) => {
                if let Some(link) = link {
                    link.resend(monotonic_ms(), id);
                }
            }
        }
    }

    fn upload_refused(
        &mut self,
        link: Option<&mut Link>,
        (key, name, then): (u64, String, Then),
        why: &str,
    ) {
        browser::files::untrack(self.state.uploads, key);
        if let (Then::Resend(id), Some(link)) = (then, link) {
            if link.outbox_mut().take(id).is_some() {
                self.outbox_changed(link);
            }
            self.forget_pending(id);
        }
        self.state.notice.set(Some(t_with(
            "files.not_sent",
            &[("name", &name), ("why", why)],
        )));
    }
}
