//! The browser driver of [`client_core::Link`], shared by the widget and the console: it carries
//! out the link's actions with WebSockets, `XMLHttpRequest` and timers, and turns browser
//! callbacks back into link inputs. The app owns the [`LinkHost`] (inside its thread-local driver)
//! and gives it a `deliver` function that reaches it from callbacks; after each input it drains
//! `host.link.poll_event()` for itself.

use crate::{get_text, monotonic_ms, set_timeout, Socket};
use client_core::{Action, Link};
use protocol::moderation::ActiveDeployment;
use protocol::ServerFrame;
use std::collections::HashMap;

/// Something that happened in the browser, for the link.
pub enum Input {
    /// The moderator answered (or not).
    Moderator(Option<ActiveDeployment>),
    /// A WebSocket opened.
    Opened(u64),
    /// A text frame arrived.
    Text(u64, String),
    /// A WebSocket closed or failed.
    Closed(u64),
    /// A timer the host set went off.
    Timer,
}

/// The link and the browser resources serving it.
pub struct LinkHost {
    /// The state machine. The app calls its `send_message`, `send` and `poll_event`.
    pub link: Link,
    sockets: HashMap<u64, Socket>,
    /// When the earliest pending timer fires (monotonic ms), so timers are not stacked up.
    timer_at: Option<u64>,
    /// Reaches this host from browser callbacks (through the app's thread-local driver).
    deliver: fn(Input),
}

impl LinkHost {
    /// Wraps `link`; `deliver` must hand its input to [`LinkHost::input`] and then let the app
    /// drain events.
    pub fn new(link: Link, deliver: fn(Input)) -> Self {
        Self {
            link,
            sockets: HashMap::new(),
            timer_at: None,
            deliver,
        }
    }

    /// Starts the link.
    pub fn start(&mut self) {
        self.link.start(monotonic_ms());
        self.carry_out();
    }

    /// Feeds one browser event to the link and carries out what follows.
    pub fn input(&mut self, input: Input) {
        let now = monotonic_ms();
        match input {
            Input::Moderator(answer) => self.link.moderator_answered(now, answer),
            Input::Opened(conn) => self.link.opened(conn, now),
            Input::Text(conn, text) => match ServerFrame::decode(&text) {
                Ok(frame) => self.link.received(conn, now, frame),
                Err(_) => {
                    web_sys::console::warn_1(&"LiveChat: ignoring an unreadable frame".into())
                }
            },
            Input::Closed(conn) => {
                if let Some(socket) = self.sockets.remove(&conn) {
                    // This runs inside the socket's own callback: free it afterwards.
                    socket.dispose_later();
                }
                self.link.closed(conn, now);
            }
            Input::Timer => {
                self.timer_at = None;
                self.link.handle_timeout(now);
            }
        }
        self.carry_out();
    }

    /// Carries out every pending action and sets the timer the link asks for. Call it after using
    /// the link directly (sending a message).
    pub fn carry_out(&mut self) {
        let deliver = self.deliver;
        while let Some(action) = self.link.poll_action() {
            match action {
                Action::AskModerator { url, timeout_ms } => {
                    get_text(&url, timeout_ms, move |answer| {
                        let decision = answer
                            .filter(|(status, _)| *status == 200)
                            .and_then(|(_, body)| serde_json::from_str(&body).ok());
                        deliver(Input::Moderator(decision));
                    });
                }
                Action::Open { conn, url } => {
                    let socket = Socket::open(
                        &url,
                        move || deliver(Input::Opened(conn)),
                        move |text| deliver(Input::Text(conn, text)),
                        move || deliver(Input::Closed(conn)),
                    );
                    match socket {
                        Ok(socket) => {
                            self.sockets.insert(conn, socket);
                        }
                        // An invalid URL fails at once; report it as a closed connection on
                        // the next turn, as a browser would.
                        Err(_) => set_timeout(0, move || deliver(Input::Closed(conn))),
                    }
                }
                Action::Send { conn, frame } => {
                    if let Some(socket) = self.sockets.get(&conn) {
                        socket.send(&frame);
                    }
                }
                Action::Close { conn } => {
                    if let Some(socket) = self.sockets.remove(&conn) {
                        socket.dispose_later();
                    }
                }
            }
        }
        if let Some(at) = self.link.poll_timeout() {
            if self.timer_at.is_none_or(|scheduled| at < scheduled) {
                self.timer_at = Some(at);
                let delay = at.saturating_sub(monotonic_ms());
                set_timeout(delay, move || deliver(Input::Timer));
            }
        }
    }
}
