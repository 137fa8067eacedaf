//! Files the visitor sends. A file is checked against the site's rules (the reason shows at
//! once, nothing is uploaded), uploaded with progress to the deployment the widget is connected
//! to, and then sent as a message through the outbox like any other: acknowledged only once a
//! deployment has stored it, kept until both have it.
//!
//! A failover in the middle changes nothing the visitor sees. An upload that fails is tried
//! again, a second later, at whichever deployment the link is connected to by then. A message
//! whose file reached only the deployment that went away is refused by the other one
//! (`not_found`): the widget still holds the file, uploads it there and sends the same message
//! again (same id, so stored once). Only after a reload, when the browser no longer lets the page
//! read the file, does the visitor have to attach it again.

use super::{with_link, Widget};
use browser::monotonic_ms;
use client_core::{Link, PendingMessage};
use leptos::prelude::*;
use protocol::MessageId;

/// What follows a successful upload.
#[derive(Clone, Copy)]
enum Then {
    /// A new message carries the file.
    Send,
    /// The outbox's message `id` already carries it: send it again.
    Resend(MessageId),
}

/// The visitor picked, dropped or pasted `files`: each is checked, uploaded and sent.
pub fn attach(files: Vec<web_sys::File>) {
    with_link(|w, _| {
        for file in files {
            w.attach(file);
        }
    });
}

impl Widget {
    fn attach(&mut self, file: web_sys::File) {
        if let Some(rules) = &self.settings.files {
            if let Err(why) = rules.check(&file.type_(), file.size() as u64) {
                self.state
                    .notice
                    .set(Some(format!("“{}” cannot be sent: {why}.", file.name())));
                return;
            }
        }
        self.state.notice.set(None);
        self.upload(file, Then::Send);
    }

    fn upload(&mut self, file: web_sys::File, then: Then) {
        self.next_upload += 1;
        let key = self.next_upload;
        let shown = browser::files::Uploading {
            key,
            name: file.name(),
            progress: 0,
            conversation: None,
        };
        let progress = browser::files::track(self.state.uploads, shown);
        let (held, name) = (file.clone(), file.name());
        browser::files::send(file, self.state.file_source(), progress, move |outcome| {
            with_link(|w, link| match outcome {
                Ok(attachment) => w.uploaded(link, (key, held, then), attachment),
                Err(why) => w.upload_refused(link, (key, name, then), &why),
            });
        });
    }

    /// A message the deployment refused because it does not have its file (uploaded to the
    /// other deployment, which may be gone): back into the outbox, the file uploaded here, the
    /// message sent again. False when the file is no longer held (the page was reloaded).
    pub(super) fn upload_again(&mut self, link: &mut Link, message: PendingMessage) -> bool {
        let held = message
            .attachment
            .as_ref()
            .and_then(|a| self.files.iter().find(|(hash, _)| *hash == a.hash))
            .map(|(_, file)| file.clone());
        let Some(file) = held else {
            return false;
        };
        let id = message.message_id;
        link.outbox_mut().push(message);
        self.outbox_changed(link);
        self.upload(file, Then::Resend(id));
        true
    }

    fn uploaded(
        &mut self,
        link: &mut Link,
        (key, file, then): (u64, web_sys::File, Then),
        attachment: protocol::conversation::Attachment,
    ) {
        browser::files::untrack(self.state.uploads, key);
        // The same file sent twice is held once.
        if !self.files.iter().any(|(hash, _)| *hash == attachment.hash) {
            self.files.push((attachment.hash.clone(), file));
        }
        match then {
            Then::Send => {
                self.compose(link, "", Some(attachment));
            }
            Then::Resend(id) => link.resend(monotonic_ms(), id),
        }
    }

    fn upload_refused(
        &mut self,
        link: &mut Link,
        (key, name, then): (u64, String, Then),
        why: &str,
    ) {
        browser::files::untrack(self.state.uploads, key);
        if let Then::Resend(id) = then {
            if link.outbox_mut().take(id).is_some() {
                self.outbox_changed(link);
            }
            self.state.transcript.update(|t| t.remove_pending(id));
        }
        self.state
            .notice
            .set(Some(format!("“{name}” was not sent: {why}.")));
    }
}
