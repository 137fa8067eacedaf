//! The console's connection: the client core's [`Link`], run by the browser driver
//! ([`browser::link::Driver`]) while logged in,
//! keeping the inbox and the open conversations live. The link knows both deployments and the
//! moderator (from `/v1/client-config`), so when the deployment that served the console dies the
//! console carries on at the other one. Replies go through the link's persisted outbox, like the
//! widget's messages, so an operator's reply survives a lost connection, a reload or a failover.

use crate::api;
use crate::i18n::t;

mod attention;
mod files;
mod replies;
use crate::state::{ConnectionState, ConsoleState};
use attention::watch_input;
pub use attention::{mark_read, set_presence};
use browser::link::{Driver, LinkApp};
use browser::{monotonic_ms, LocalStore};
use client_core::{Cursors, Event, Link, LinkConfig, LinkStatus, Outbox, Transcript};
pub use files::attach;
use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::{
    Auth, AuthorKind, ClientConfig, ClientFrame, ConversationId, ConversationState,
    ConversationSummary, ErrorCode, Presence, ServerFrame, Session,
};
pub use replies::{note, reply};
use std::collections::BTreeMap;

/// Runs `f` on the console (and its link, while logged in), then carries out what followed.
fn with_console<R>(f: impl FnOnce(&mut Console, Option<&mut Link>) -> R) -> Option<R> {
    browser::link::with::<Console, _>(f)
}

/// Starts the link when there is both a session and a configuration and none runs yet.
fn connect() {
    let Some(driver) = Driver::<Console>::current() else {
        return;
    };
    if let Some(link) = driver.update(|console, link| console.new_link(link.is_some())) {
        driver.connect(link);
    }
}

/// Creates the driver, learns where the deployments are, and connects when a session token was
/// kept from an earlier visit.
pub fn start(state: ConsoleState) {
    let store = LocalStore::new("livechat.console.");
    let token = store.get("token");
    let driver = Driver::install(Console {
        state,
        store,
        token,
        config: None,
        cursors: Cursors::default(),
        typing_sent: Default::default(),
        idle_away_ms: 0,
        read_sent: BTreeMap::new(),
        last_input_ms: browser::now_ms(),
        auto_away: false,
        files: Default::default(),
        next_upload: 0,
        file_rules: None,
    });
    state
        .token
        .set(driver.update(|console, _| console.token.clone()));
    watch_input();
    state.visible.set(browser::page_visible());
    browser::watch_visibility(move |visible| state.visible.set(visible));
    // An invitation link (`/console/#invite=TOKEN`) asks for a password first.
    let invitation = web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .and_then(|hash| hash.strip_prefix("#invite=").map(str::to_owned));
    driver.update(|console, _| {
        if let Some(token) = invitation {
            console.state.invitation.set(Some(token));
            return;
        }
        if console.token.is_some() {
            console.state.logged_in.set(true);
            console.state.connection.set(ConnectionState::Connecting);
        }
    });
    // Leptos's executor starts with the app's mount, after this: the browser's own runs now.
    wasm_bindgen_futures::spawn_local(async {
        let config = api::client_config().await;
        with_console(|console, _| console.config = Some(config));
        connect();
    });
}

/// Logs in with the form's values and connects; a refusal is shown as the notice.
pub fn login(email: String, password: String) {
    spawn_local(async move { logged_in(api::login(email, password).await) });
}

/// Chooses the password an invitation link asks for, and logs in with it.
pub fn accept_invitation(token: String, password: String) {
    spawn_local(async move { logged_in(api::accept_invitation(token, password).await) });
}

/// Keeps the session of a successful login and connects, or shows why it failed.
fn logged_in(result: Result<protocol::LoginResponse, api::CallError>) {
    match result {
        Ok(response) => {
            with_console(|console, _| {
                console.store.set("token", Some(&response.token));
                console.state.token.set(Some(response.token.clone()));
                console.token = Some(response.token);
                console.state.notice.set(None);
                console.state.invitation.set(None);
                console.state.logged_in.set(true);
                console.state.connection.set(ConnectionState::Connecting);
            });
            connect();
        }
        Err(error) => {
            with_console(|console, _| console.state.notice.set(Some(error.to_string())));
        }
    }
}

/// Where the admin area's calls go, in order: the deployment the console is connected to (the
/// active one, as the link follows the moderator), the one that served the console, then the
/// others it knows.
pub fn admin_bases() -> Vec<String> {
    with_console(|console, _| {
        let own = web_sys::window()
            .and_then(|w| w.location().origin().ok())
            .unwrap_or_default();
        let connected = console.state.deployment.get_untracked();
        let known = console.config.as_ref().map(|c| c.deployments.clone());
        let mut bases: Vec<String> = Vec::new();
        for base in connected
            .into_iter()
            .chain([own])
            .chain(known.into_iter().flatten())
        {
            let base = base.trim_end_matches('/').to_owned();
            if !bases.contains(&base) {
                bases.push(base);
            }
        }
        bases
    })
    .unwrap_or_else(|| vec![String::new()])
}

/// The session token, for the admin area's HTTP calls.
pub fn session_token() -> Option<String> {
    with_console(|console, _| console.token.clone()).flatten()
}

/// Ends the session here and on the server.
pub fn logout() {
    let token = with_console(|console, _| console.forget_session()).flatten();
    if let Some(token) = token {
        spawn_local(async move { api::logout(&token).await });
    }
}

/// Opens a conversation in a pane (or leaves it open) and loads its messages.
pub fn open_conversation(summary: ConversationSummary) {
    with_console(|console, link| console.open_conversation(link, summary));
}

/// Closes a pane (the conversation itself is untouched).
pub fn close_pane(id: ConversationId) {
    with_console(|console, _| {
        console
            .state
            .open
            .update(|open| open.retain(|c| c.id != id));
        console.state.transcripts.update(|t| {
            t.remove(&id);
        });
    });
}

/// Takes a waiting conversation.
pub fn accept(id: ConversationId) {
    with_console(|_, link| {
        send(
            link,
            ClientFrame::Accept {
                conversation_id: id,
            },
        )
    });
}

/// Hands a chat to another operator (a transfer, or an admin's assignment), with a note.
pub fn transfer(id: ConversationId, to: protocol::OperatorId, note: String) {
    let note = Some(note.trim().to_owned()).filter(|n| !n.is_empty());
    with_console(|_, link| {
        let (conversation_id, operator_id) = (id, to);
        send(
            link,
            ClientFrame::Transfer {
                conversation_id,
                operator_id,
                note,
            },
        )
    });
}

/// Ends a conversation for both sides.
pub fn close_conversation(id: ConversationId) {
    with_console(|_, link| {
        send(
            link,
            ClientFrame::Close {
                conversation_id: id,
            },
        )
    });
}

/// Tells the visitor the operator is typing: at most one notice every two seconds per
/// conversation, and one when the field is emptied.
pub fn typing(id: ConversationId, active: bool) {
    with_console(|console, link| {
        let now = browser::now_ms();
        let last = console.typing_sent.get(&id).copied().unwrap_or(0);
        let frame = if active && now - last > 2_000 {
            console.typing_sent.insert(id, now);
            ClientFrame::Typing {
                conversation_id: id,
                typing: true,
            }
        } else if !active && last > 0 {
            console.typing_sent.remove(&id);
            ClientFrame::Typing {
                conversation_id: id,
                typing: false,
            }
        } else {
            return;
        };
        send(link, frame);
    });
}

/// Sends a frame that is not worth keeping (accept, close, typing, sync) if online.
fn send(link: Option<&mut Link>, frame: ClientFrame) {
    if let Some(link) = link {
        link.send(monotonic_ms(), frame);
    }
}

/// The console's side of the link: what the operator sees and what is kept for a reload.
struct Console {
    /// What the UI renders.
    state: ConsoleState,
    /// The session token, the outbox and the last known active deployment in `localStorage`.
    store: LocalStore,
    /// The session token, while logged in.
    token: Option<String>,
    /// Where the deployments and the moderator are, once asked.
    config: Option<ClientConfig>,
    /// Per deployment and message log, the highest sequence number received of each
    /// conversation: a pane catches up on only what it missed, even after a move and back.
    cursors: Cursors,
    /// When a typing notice was last sent, per conversation (ms).
    typing_sent: BTreeMap<ConversationId, i64>,
    /// After how long without input the console sets the operator away (ms; 0: never), from
    /// the welcome.
    idle_away_ms: i64,
    /// The read mark last sent per conversation (cleared by every welcome, so a mark lost with a
    /// connection is sent again).
    read_sent: BTreeMap<ConversationId, u64>,
    /// When the operator last pressed a key or moved the pointer (ms).
    last_input_ms: i64,
    /// Whether the console itself set the operator away (then input sets them online again).
    auto_away: bool,
    /// The files the operator sent from this page, by hash: uploaded again should a deployment
    /// that never got one be asked to take the reply carrying it.
    files: std::collections::HashMap<String, web_sys::File>,
    /// Numbers the uploads shown.
    next_upload: u64,
    /// What files the deployment accepts, from its welcome.
    file_rules: Option<protocol::files::FileRules>,
}

impl LinkApp for Console {
    fn on_event(&mut self, link: &mut Link, event: Event) {
        match event {
            Event::Status(status) => self.show_status(status),
            Event::Welcome {
                frame, deployment, ..
            } => {
                self.cursors.welcomed(deployment, &frame);
                self.on_welcome(link, frame);
            }
            Event::Frame(frame) => self.on_frame(link, frame),
            Event::Refused {
                message,
                reason,
                code,
            } => {
                let id = message.message_id;
                if code == ErrorCode::NotFound
                    && message.attachment.is_some()
                    && self.upload_again(link, message)
                {
                    return;
                }
                self.forget_pending(id);
                self.state.notice.set(Some(reason));
            }
            Event::OutboxChanged => self.outbox_changed(link),
        }
    }

    fn settled(&mut self, link: &Link) {
        if let Some(known) = link.known_active() {
            self.store.set_json("active", &known);
            if let Some(config) = &self.config {
                self.state
                    .moderator_view
                    .set(config.deployments.get(known.deployment).cloned());
            }
        }
    }

    fn wants_link(&self) -> bool {
        self.token.is_some()
    }
}

impl Console {
    /// A link for the session, when there is both a session and a configuration and no link
    /// runs yet (`running`).
    fn new_link(&self, running: bool) -> Option<Link> {
        let (Some(token), Some(config), false) = (&self.token, &self.config, running) else {
            return None;
        };
        let outbox: Outbox = self.store.get_json("outbox").unwrap_or_default();
        Some(Link::new(
            LinkConfig::new(
                config.deployments.clone(),
                config.moderator.clone(),
                browser::random_u64(),
            ),
            Auth::Operator {
                token: token.clone(),
                presence: self.store.get("presence").and_then(|p| Presence::parse(&p)),
            },
            None,
            outbox,
            self.store.get_json("active"),
        ))
    }

    fn show_status(&mut self, status: LinkStatus) {
        let (shown, deployment) = match status {
            LinkStatus::Online { deployment } => (
                ConnectionState::Online,
                self.config
                    .as_ref()
                    .and_then(|c| c.deployments.get(deployment).cloned()),
            ),
            LinkStatus::Connecting | LinkStatus::Idle => (ConnectionState::Connecting, None),
            LinkStatus::Offline => (ConnectionState::Offline, None),
        };
        self.state.connection.set(shown);
        self.state.deployment.set(deployment);
    }

    fn forget_session(&mut self) -> Option<String> {
        let token = self.token.take();
        self.store.set("token", None);
        self.state.token.set(None);
        self.store.set("presence", None);
        // With the token gone the driver stops the link (`wants_link`).
        self.cursors.clear();
        self.state.logged_in.set(false);
        self.state.operator.set(None);
        self.state.connection.set(ConnectionState::LoggedOut);
        self.state.deployment.set(None);
        self.state.inbox.set(Vec::new());
        self.state.open.set(Vec::new());
        self.state.view.set(crate::state::View::Inbox);
        self.state.transcripts.set(Default::default());
        token
    }

    fn on_welcome(&mut self, link: &mut Link, frame: ServerFrame) {
        let ServerFrame::Welcome {
            session:
                Session::Operator {
                    operator,
                    inbox,
                    presence,
                    idle_away_secs,
                    files,
                },
            ..
        } = frame
        else {
            return;
        };
        self.file_rules = files;
        self.idle_away_ms = i64::try_from(idle_away_secs.saturating_mul(1000)).unwrap_or(0);
        // The operator's own choice, kept across reloads and deployments, wins over a fresh
        // deployment's "online"; otherwise the deployment knows (another console chose).
        let chosen = self
            .store
            .get("presence")
            .and_then(|p| Presence::parse(&p))
            .unwrap_or(presence);
        self.state.presence.set(chosen);
        if chosen != presence {
            link.send(monotonic_ms(), ClientFrame::Presence { state: chosen });
        }
        self.read_sent.clear();
        self.state.operator.set(Some(operator));
        self.state.inbox.set(inbox);
        // Fetched again with every welcome: edited on the other deployment meanwhile, or
        // by an admin since.
        crate::canned::load(self.state);
        // Catch up on what the open panes missed: only what is new in a message log the console
        // has read before, everything (merged by id) from one it has not.
        let open: Vec<_> = self
            .state
            .open
            .get_untracked()
            .iter()
            .map(|c| c.id)
            .collect();
        for id in open {
            link.send(monotonic_ms(), self.cursors.sync(id));
        }
    }

    fn on_frame(&mut self, link: &mut Link, frame: ServerFrame) {
        match frame {
            ServerFrame::Ack { message, .. } => self.apply_messages(std::slice::from_ref(&message)),
            ServerFrame::Message { message } => {
                if message.author.kind == AuthorKind::Visitor {
                    self.state.visitor_typing.update(|t| {
                        t.remove(&message.conversation_id);
                    });
                    let me = self
                        .state
                        .operator
                        .with_untracked(|o| o.as_ref().map(|o| o.id));
                    let mine = self.state.inbox.with_untracked(|inbox| {
                        inbox.iter().any(|c| {
                            c.id == message.conversation_id
                                && c.operator.as_ref().map(|o| o.id) == me
                                && me.is_some()
                        })
                    });
                    if mine {
                        crate::notify::alert(self.state, &t("driver.new_message"), &message.body);
                    }
                }
                self.apply_messages(std::slice::from_ref(&message));
            }
            ServerFrame::History {
                conversation_id,
                messages,
            } => {
                // A long conversation comes a page at a time.
                if let Some(next) = self.cursors.history(conversation_id, &messages) {
                    link.send(monotonic_ms(), next);
                }
                self.apply_messages(&messages);
            }
            ServerFrame::Conversation { conversation } => self.apply_summary(conversation),
            ServerFrame::Typing {
                conversation_id,
                typing,
                ..
            } => {
                self.state.visitor_typing.update(|t| {
                    if typing {
                        t.insert(conversation_id, true);
                    } else {
                        t.remove(&conversation_id);
                    }
                });
            }
            ServerFrame::Presence { state } => {
                self.store.set("presence", Some(state.as_str()));
                self.state.presence.set(state);
            }
            ServerFrame::Error { code, message, .. } => self.on_error(code, message),
            // Availability is for visitors.
            ServerFrame::Availability { .. } | ServerFrame::TranscriptEmailed { .. } => {}
            // Welcomes, redirects, draining notices, pongs and replication confirmations are the
            // link's business.
            ServerFrame::Welcome { .. }
            | ServerFrame::Replicated { .. }
            | ServerFrame::Redirect { .. }
            | ServerFrame::Draining
            | ServerFrame::Pong { .. } => {}
        }
    }

    fn on_error(&mut self, code: ErrorCode, message: String) {
        if code == ErrorCode::Unauthorized {
            // The session expired, was logged out (here, in another tab or on the other
            // deployment) or its account changed: whether at `hello` or on an open connection
            // (the deployment then closes it), back to the login form with the deployment's
            // sentence ("Signed out: ...").
            self.forget_session();
            self.state.notice.set(Some(message));
            return;
        }
        // Refusals of messages the outbox holds arrive as `Event::Refused`; what is left is for
        // the operator to read (an `internal` failure keeps the reply queued).
        self.state.notice.set(Some(message));
    }

    fn apply_messages(&mut self, messages: &[protocol::Message]) {
        for message in messages {
            self.cursors.received(message);
        }
        self.state.transcripts.update(|all| {
            for message in messages {
                if let Some(transcript) = all.get_mut(&message.conversation_id) {
                    transcript.apply_stored(message);
                }
            }
        });
    }

    fn apply_summary(&mut self, summary: ConversationSummary) {
        crate::handover::tell_if_taken(self.state, &summary);
        let known = self
            .state
            .inbox
            .with_untracked(|inbox| inbox.iter().any(|c| c.id == summary.id));
        if !known && summary.state == ConversationState::Waiting {
            let preview = summary.last_message.clone().unwrap_or_default();
            crate::notify::alert(self.state, &t("driver.new_chat_waiting"), &preview);
        }
        self.state.inbox.update(|inbox| {
            // A read mark or a rating changes a summary without new activity: it keeps its
            // place in the inbox.
            let unmoved = inbox
                .iter()
                .position(|c| c.id == summary.id && c.updated_at == summary.updated_at);
            match unmoved {
                Some(at) if summary.state != ConversationState::Closed => {
                    inbox[at] = summary.clone()
                }
                _ => {
                    inbox.retain(|c| c.id != summary.id);
                    if summary.state != ConversationState::Closed {
                        inbox.insert(0, summary.clone());
                    }
                }
            }
        });
        self.state.open.update(|open| {
            for pane in open.iter_mut().filter(|c| c.id == summary.id) {
                *pane = summary.clone();
            }
        });
    }

    fn open_conversation(&mut self, link: Option<&mut Link>, summary: ConversationSummary) {
        let id = summary.id;
        if self
            .state
            .open
            .with_untracked(|open| open.iter().any(|c| c.id == id))
        {
            return;
        }
        self.state.open.update(|open| open.push(summary));
        let mut transcript = Transcript::new(Some(id));
        let pending = link
            .as_ref()
            .map(|l| l.outbox().pending().to_vec())
            .unwrap_or_default();
        for message in pending.iter().filter(|m| m.conversation_id == id) {
            transcript.add_outgoing(message, AuthorKind::Operator);
        }
        self.state.transcripts.update(|t| {
            t.insert(id, transcript);
        });
        // A new pane shows everything, whatever was received of it before.
        self.cursors.forget(id);
        send(link, self.cursors.sync(id));
    }
}
