//! What the console says about the operator's attention: their availability (chosen, or away
//! after a while without input) and how far they have read the open conversations.

use super::{with_console, Console};
use browser::monotonic_ms;
use client_core::Link;
use leptos::prelude::*;
use protocol::{Auth, AuthorKind, ClientFrame, ConversationId, Presence};

/// The operator may have read new visitor messages in the open panes (the page is visible):
/// tells the deployment how far, once per new message.
pub fn mark_read() {
    with_console(|console, link| {
        let Some(link) = link else {
            return;
        };
        let marks: Vec<(ConversationId, u64)> = console.state.transcripts.with_untracked(|all| {
            all.iter()
                .map(|(id, t)| {
                    let newest = t
                        .entries()
                        .iter()
                        .filter(|e| e.author.kind == AuthorKind::Visitor)
                        .map(|e| e.hlc)
                        .max()
                        .unwrap_or(0);
                    (*id, newest)
                })
                .collect()
        });
        for (conversation_id, up_to) in marks {
            if up_to
                > console
                    .read_sent
                    .get(&conversation_id)
                    .copied()
                    .unwrap_or(0)
            {
                console.read_sent.insert(conversation_id, up_to);
                link.send(
                    monotonic_ms(),
                    ClientFrame::Read {
                        conversation_id,
                        up_to,
                    },
                );
            }
        }
    });
}

/// The operator chose online or away in the presence select. Remembered for the next console
/// (and the other deployment after a failover, which learns it on the next welcome).
pub fn set_presence(presence: Presence) {
    with_console(|console, link| {
        console.auto_away = false;
        console.choose_presence(link, presence);
    });
}

/// Notes keyboard and pointer input, so an idle console sets its operator away after the
/// deployment's idle time and back online at the next input; checks every few seconds.
pub(super) fn watch_input() {
    use wasm_bindgen::{closure::Closure, JsCast};
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let on_input = Closure::<dyn FnMut()>::new(|| {
        with_console(|console, link| {
            console.last_input_ms = browser::now_ms();
            if console.auto_away {
                console.auto_away = false;
                console.choose_presence(link, Presence::Online);
            }
        });
    });
    for kind in ["keydown", "pointerdown", "pointermove", "wheel"] {
        let _ = document.add_event_listener_with_callback(kind, on_input.as_ref().unchecked_ref());
    }
    // The listeners live as long as the page.
    on_input.forget();
    fn check() {
        with_console(|console, link| {
            let idle = browser::now_ms() - console.last_input_ms;
            let online = console.state.presence.get_untracked() == Presence::Online;
            if console.idle_away_ms > 0 && idle >= console.idle_away_ms && online && link.is_some()
            {
                console.auto_away = true;
                console.choose_presence(link, Presence::Away);
            }
        });
        browser::set_timeout(5_000, check);
    }
    browser::set_timeout(5_000, check);
}

impl Console {
    /// Shows, remembers and announces a presence choice.
    pub(super) fn choose_presence(&mut self, link: Option<&mut Link>, presence: Presence) {
        self.state.presence.set(presence);
        self.store.set("presence", Some(presence.as_str()));
        if let Some(link) = link {
            // The next `hello` (after a reload or a failover) carries the choice.
            if let Some(token) = self.token.clone() {
                link.set_auth(Auth::Operator {
                    token,
                    presence: Some(presence),
                });
            }
            link.send(monotonic_ms(), ClientFrame::Presence { state: presence });
        }
    }
}
