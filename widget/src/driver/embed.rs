//! What the page's own code asks of the connection through the JavaScript API (`crate::api`):
//! who the visitor is (`identify`), their custom attributes (`setAttributes`), and forgetting
//! them (`shutdown`). A change of visitor waits for the outbox to drain, so a message written as
//! one visitor is never sent as another, and nothing written is lost to a logout. Beside them,
//! the context every `hello` carries: the browser's, and the page's attributes.

use super::{with_link, Widget};
use browser::monotonic_ms;
use client_core::Link;
use leptos::prelude::*;
use protocol::visitor::UserIdentity;
use protocol::{Auth, ClientFrame, SiteId};
use std::collections::BTreeMap;

/// A change of visitor waiting for the outbox to drain.
#[derive(Default)]
pub(super) enum Waiting {
    /// Nothing waits.
    #[default]
    Nothing,
    /// The page named another user.
    Identify(UserIdentity),
    /// The page's user logged out.
    Shutdown,
}

/// The page names its signed-in user.
pub fn identify(user: UserIdentity) {
    with_link(|w, link| w.identify(link, user));
}

/// The page sets custom attributes (`None` removes one); refused, with the reason, when the
/// result breaks a bound.
pub fn set_attributes(changes: Vec<(String, Option<String>)>) -> Result<(), String> {
    with_link(|w, link| w.set_attributes(link, changes)).unwrap_or(Ok(()))
}

/// The page's user logged out: forget the visitor once the outbox has drained, or at once
/// with `discard` (the page confirmed that unsent messages may go).
pub fn shutdown(discard: bool) {
    with_link(|w, link| w.shutdown(link, discard));
}

impl Widget {
    fn identify(&mut self, link: &mut Link, user: UserIdentity) {
        let current = self.persisted.identity();
        if current.as_ref() == Some(&user) {
            return;
        }
        let another = current.as_ref().map(|c| &c.user_id) != Some(&user.user_id);
        if another && !link.outbox().is_empty() {
            self.waiting = Waiting::Identify(user);
            return;
        }
        if another {
            // What was received of the last visitor's conversations says nothing of this one's.
            self.cursors.clear();
        }
        self.persisted.set_identity(Some(&user));
        self.present(link, Some(user));
    }

    /// Says hello again as `user` (or anonymously), keeping the token: the deployment decides
    /// which visitor that is.
    fn present(&mut self, link: &mut Link, user: Option<UserIdentity>) {
        link.set_auth(Auth::Visitor {
            site_id: SiteId(self.settings.site_id.clone()),
            token: self.persisted.token(),
            user: user.map(Box::new),
        });
        link.reconnect(monotonic_ms());
    }

    fn set_attributes(
        &mut self,
        link: &mut Link,
        changes: Vec<(String, Option<String>)>,
    ) -> Result<(), String> {
        let mut attributes = self.persisted.attributes();
        for (key, value) in changes {
            match value {
                Some(value) => attributes.insert(key, value),
                None => attributes.remove(&key),
            };
        }
        protocol::visitor::check_attributes(&attributes)?;
        self.persisted.set_attributes(&attributes);
        // In every later hello too: a change made while offline arrives with the next one.
        link.set_context(Some(visitor_context(attributes.clone())));
        link.send(monotonic_ms(), ClientFrame::Attributes { attributes });
        Ok(())
    }

    fn shutdown(&mut self, link: &mut Link, discard: bool) {
        if discard {
            for id in link.outbox().ids() {
                link.outbox_mut().remove(id);
            }
            self.outbox_changed(link);
        }
        if link.outbox().is_empty() {
            self.forget(link);
        } else {
            self.waiting = Waiting::Shutdown;
        }
    }

    /// After every change of the outbox: a change of visitor that waited for it to drain
    /// happens now.
    pub(super) fn outbox_drained(&mut self, link: &mut Link) {
        if !link.outbox().is_empty() {
            return;
        }
        match std::mem::take(&mut self.waiting) {
            Waiting::Identify(user) => self.identify(link, user),
            Waiting::Shutdown => self.forget(link),
            Waiting::Nothing => {}
        }
    }

    /// Forgets the visitor: the next hello makes a new, anonymous one.
    fn forget(&mut self, link: &mut Link) {
        self.persisted.forget_visitor();
        self.pending_intake = None;
        self.cursors.clear();
        let state = self.state;
        state.open.set(false);
        state.token.set(None);
        state.details_known.set(false);
        state.offline_sent.set(false);
        state.unread.set(0);
        state.notice.set(None);
        state.conversation.set(None);
        self.switch_conversation(link, None);
        link.set_context(Some(visitor_context(BTreeMap::new())));
        link.set_auth(Auth::Visitor {
            site_id: SiteId(self.settings.site_id.clone()),
            token: None,
            user: None,
        });
        link.reconnect(monotonic_ms());
    }

    /// A hello refused as unauthorised: when it named a user, the identity is what failed (a
    /// wrong signature, a site without a secret). The page's developer reads why in the
    /// console; the visitor carries on as before signing in. Returns whether that was it.
    pub(super) fn identity_refused(&mut self, link: &mut Link, reason: &str) -> bool {
        if self.persisted.identity().is_none() {
            return false;
        }
        web_sys::console::warn_1(&format!("LiveChat: {reason}").into());
        self.persisted.set_identity(None);
        link.set_auth(Auth::Visitor {
            site_id: SiteId(self.settings.site_id.clone()),
            token: self.persisted.token(),
            user: None,
        });
        true
    }
}

/// What operators see of this visitor's browser: where they came from, the browser, its
/// language and time zone (for their local time), and the page's custom `attributes`.
pub(super) fn visitor_context(
    attributes: std::collections::BTreeMap<String, String>,
) -> protocol::visitor::VisitorContext {
    let window = web_sys::window();
    let navigator = window.as_ref().map(|w| w.navigator());
    let referrer = window
        .as_ref()
        .and_then(|w| w.document())
        .map(|d| d.referrer())
        .filter(|r| !r.is_empty());
    let options = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new())
        .resolved_options();
    let time_zone = js_sys::Reflect::get(&options, &"timeZone".into())
        .ok()
        .and_then(|z| z.as_string());
    protocol::visitor::VisitorContext {
        referrer,
        user_agent: navigator.as_ref().and_then(|n| n.user_agent().ok()),
        language: navigator.as_ref().and_then(|n| n.language()),
        time_zone,
        attributes,
        user_id: None,
    }
}
