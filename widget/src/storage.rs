//! What the widget keeps in the customer page's `localStorage`, per site: the visitor token, the
//! current conversation and its latest messages, the outbox and the last known active deployment. When storage is unavailable the chat still works, it just
//! does not survive a reload.

use browser::LocalStore;
use client_core::{KnownActive, Outbox};
use protocol::ConversationId;

/// How many of the current conversation's latest messages are kept for the next page.
pub const KEPT_MESSAGES: usize = 30;

/// The persisted part of the widget for one site.
pub struct Persisted {
    /// Keys under `livechat.<site id>.`.
    store: LocalStore,
}

impl Persisted {
    /// Opens the storage for `site_id`.
    pub fn open(site_id: &str) -> Self {
        Self {
            store: LocalStore::new(format!("livechat.{site_id}.")),
        }
    }

    /// The visitor token.
    pub fn token(&self) -> Option<String> {
        self.store.get("token")
    }

    /// Keeps (or forgets) the visitor token.
    pub fn set_token(&self, token: Option<&str>) {
        self.store.set("token", token);
    }

    /// The conversation shown last.
    pub fn conversation(&self) -> Option<ConversationId> {
        self.store.get_json("conversation")
    }

    /// Keeps (or forgets) the current conversation.
    pub fn set_conversation(&self, id: Option<ConversationId>) {
        match id {
            Some(id) => self.store.set_json("conversation", &id),
            None => self.store.set("conversation", None),
        }
    }

    /// The outbox; an unreadable one is treated as empty.
    pub fn outbox(&self) -> Outbox {
        self.store.get_json("outbox").unwrap_or_default()
    }

    /// Saves the outbox; called after every change so a reload never loses a typed message.
    pub fn set_outbox(&self, outbox: &Outbox) {
        self.store.set_json("outbox", outbox);
    }

    /// The pre-chat form's answers, kept until the first message carries them.
    pub fn intake(&self) -> Option<protocol::Intake> {
        self.store.get_json("intake")
    }

    /// Keeps (or forgets, once a message carries them) the pre-chat form's answers.
    pub fn set_intake(&self, intake: Option<&protocol::Intake>) {
        match intake {
            Some(intake) => self.store.set_json("intake", intake),
            None => self.store.set("intake", None),
        }
    }

    /// A rating given and not yet confirmed by a deployment, with its conversation.
    pub fn rating(&self) -> Option<(ConversationId, protocol::conversation::Rating)> {
        self.store.get_json("rating")
    }

    /// Keeps (or forgets, once confirmed) the rating being sent.
    pub fn set_rating(&self, rating: Option<&(ConversationId, protocol::conversation::Rating)>) {
        match rating {
            Some(rating) => self.store.set_json("rating", rating),
            None => self.store.set("rating", None),
        }
    }

    /// The signed-in user the page named last (`identify`), presented in every `hello` until
    /// `shutdown`.
    pub fn identity(&self) -> Option<protocol::visitor::UserIdentity> {
        self.store.get_json("identity")
    }

    /// Keeps (or forgets) the signed-in user.
    pub fn set_identity(&self, user: Option<&protocol::visitor::UserIdentity>) {
        match user {
            Some(user) => self.store.set_json("identity", user),
            None => self.store.set("identity", None),
        }
    }

    /// The custom attributes the page set (`setAttributes`).
    pub fn attributes(&self) -> std::collections::BTreeMap<String, String> {
        self.store.get_json("attributes").unwrap_or_default()
    }

    /// Keeps the custom attributes.
    pub fn set_attributes(&self, attributes: &std::collections::BTreeMap<String, String>) {
        self.store.set_json("attributes", attributes);
    }

    /// The latest messages of `conversation` as this page last saw them (at most
    /// [`KEPT_MESSAGES`]): shown at once after a reload, before a deployment answers, and while
    /// none does. A deployment's history replaces them by id once it arrives.
    pub fn recent(&self, conversation: ConversationId) -> Vec<protocol::Message> {
        self.store
            .get_json::<(ConversationId, Vec<protocol::Message>)>("recent")
            .filter(|(kept, _)| *kept == conversation)
            .map(|(_, messages)| messages)
            .unwrap_or_default()
    }

    /// Keeps a stored message of the current conversation among the recent ones (a message of
    /// another conversation starts the list afresh).
    pub fn remember(&self, message: &protocol::Message) {
        let mut kept = self.recent(message.conversation_id);
        kept.retain(|m| m.id != message.id);
        // Kept in (hlc, id) order, so the new one only needs its place.
        let at = kept.partition_point(|m| (m.hlc, m.id) < (message.hlc, message.id));
        kept.insert(at, message.clone());
        let excess = kept.len().saturating_sub(KEPT_MESSAGES);
        kept.drain(..excess);
        self.store
            .set_json("recent", &(message.conversation_id, kept));
    }

    /// Forgets the visitor (`shutdown`, when the site's user logs out): who they are, their
    /// conversation, forms, rating and outbox. The last known active deployment stays: it is
    /// about the deployments, not the visitor.
    pub fn forget_visitor(&self) {
        for key in [
            "token",
            "conversation",
            "outbox",
            "intake",
            "rating",
            "identity",
            "attributes",
            "recent",
        ] {
            self.store.set(key, None);
        }
    }

    /// The newest decision of the moderator the widget heard of, so a reload while the moderator
    /// is down still starts at the active deployment.
    pub fn known_active(&self) -> Option<KnownActive> {
        self.store.get_json("active")
    }

    /// Keeps the newest decision heard of.
    pub fn set_known_active(&self, known: KnownActive) {
        if self.known_active() != Some(known) {
            self.store.set_json("active", &known);
        }
    }
}
