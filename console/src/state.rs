//! The reactive state of the console. The driver writes it; the components read it.

use client_core::Transcript;
use leptos::prelude::*;
use protocol::{ConversationId, ConversationSummary, OperatorProfile, Presence};
use std::collections::BTreeMap;

/// The operator's connection (`console-connection`'s `data-state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    /// Not logged in: no connection is wanted.
    LoggedOut,
    /// Opening a connection or waiting for the welcome.
    Connecting,
    /// Welcomed; the inbox is live.
    Online,
    /// Lost; retrying in the background.
    Offline,
}

impl ConnectionState {
    /// The name used in `data-state`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::LoggedOut => "logged-out",
            ConnectionState::Connecting => "connecting",
            ConnectionState::Online => "online",
            ConnectionState::Offline => "offline",
        }
    }
}

/// What the logged-in console shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// The inbox and the open conversations.
    Inbox,
    /// The admin area (admins only; the server refuses everyone else anyway).
    Admin,
    /// The canned replies' manager.
    Canned,
    /// Closed conversations and their search.
    History,
}

/// Every signal of the console; `Copy`, so closures capture it freely.
#[derive(Clone, Copy)]
pub struct ConsoleState {
    /// The logged-in operator, once welcomed.
    pub operator: RwSignal<Option<OperatorProfile>>,
    /// Whether a session token is held (the login form shows when not).
    pub logged_in: RwSignal<bool>,
    /// The connection's state.
    pub connection: RwSignal<ConnectionState>,
    /// The base URL of the deployment the console is connected to, while online.
    pub deployment: RwSignal<Option<String>>,
    /// The base URL of the deployment the moderator names as active, as last heard.
    pub moderator_view: RwSignal<Option<String>>,
    /// Waiting and active conversations, most recently updated first.
    pub inbox: RwSignal<Vec<ConversationSummary>>,
    /// The conversations open side by side, in opening order, with their latest summary.
    pub open: RwSignal<Vec<ConversationSummary>>,
    /// The transcripts of the open conversations.
    pub transcripts: RwSignal<BTreeMap<ConversationId, Transcript>>,
    /// Conversations whose visitor is typing now.
    pub visitor_typing: RwSignal<BTreeMap<ConversationId, bool>>,
    /// A message for the operator (a refused action, a failed login).
    pub notice: RwSignal<Option<String>>,
    /// Inbox or admin area.
    pub view: RwSignal<View>,
    /// The token of the invitation link the console was opened with, until a password is chosen.
    pub invitation: RwSignal<Option<String>>,
    /// The operator's availability (`presence-select`).
    pub presence: RwSignal<Presence>,
    /// The operator's replies still in the outbox (not yet on both deployments).
    pub unconfirmed: RwSignal<Vec<protocol::MessageId>>,
    /// Whether the console's page is visible (messages are read only while it is).
    pub visible: RwSignal<bool>,
    /// The operator's session token, while logged in (files are fetched with it).
    pub token: RwSignal<Option<String>>,
    /// The files being uploaded now.
    pub uploads: RwSignal<Vec<browser::files::Uploading>>,
    /// The canned replies the operator may use.
    pub canned: RwSignal<Vec<protocol::canned::CannedReply>>,
    /// Whether the operator switched browser notifications on.
    pub notify: RwSignal<bool>,
    /// Whether alerts play a sound.
    pub sound: RwSignal<bool>,
    /// What arrived while the console was hidden (the title's count).
    pub unread: RwSignal<u32>,
    /// How many alerts were raised since the page loaded (`notifications-enable`'s
    /// `data-alerts`, for tests).
    pub alerts: RwSignal<u32>,
}

impl ConsoleState {
    /// The initial state: logged out, empty.
    pub fn new() -> Self {
        Self {
            operator: RwSignal::new(None),
            logged_in: RwSignal::new(false),
            connection: RwSignal::new(ConnectionState::LoggedOut),
            deployment: RwSignal::new(None),
            moderator_view: RwSignal::new(None),
            inbox: RwSignal::new(Vec::new()),
            open: RwSignal::new(Vec::new()),
            transcripts: RwSignal::new(BTreeMap::new()),
            visitor_typing: RwSignal::new(BTreeMap::new()),
            notice: RwSignal::new(None),
            view: RwSignal::new(View::Inbox),
            invitation: RwSignal::new(None),
            presence: RwSignal::new(Presence::Online),
            unconfirmed: RwSignal::new(Vec::new()),
            visible: RwSignal::new(true),
            token: RwSignal::new(None),
            uploads: RwSignal::new(Vec::new()),
            canned: RwSignal::new(Vec::new()),
            notify: RwSignal::new(crate::notify::stored().0),
            sound: RwSignal::new(crate::notify::stored().1),
            unread: RwSignal::new(0),
            alerts: RwSignal::new(0),
        }
    }

    /// The latest summary of the open conversation `id` (tracked).
    pub fn open_summary(self, id: protocol::ConversationId) -> Option<ConversationSummary> {
        self.open
            .with(|open| open.iter().find(|c| c.id == id).cloned())
    }

    /// Where the console fetches files now: the deployment it is connected to, with the
    /// operator's session token.
    pub fn file_source(self) -> browser::files::Source {
        std::sync::Arc::new(move || {
            Some((
                self.deployment.get_untracked()?,
                self.token.get_untracked()?,
            ))
        })
    }
}

impl Default for ConsoleState {
    fn default() -> Self {
        Self::new()
    }
}
