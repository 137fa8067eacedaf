//! The WebSocket endpoint `/v1/ws`: the socket loop. What each frame does is decided in
//! [`session`], which knows nothing about sockets.
//!
//! The loop waits for several things at once: a frame from the client, an event from the hub,
//! replication confirmations, a new decision of the moderator (a client of a deployment that is not
//! active is sent a `redirect`, once welcomed and again on every change), a change to operator
//! accounts or sessions and an operator session's expiry (the session is checked again, and a
//! socket whose session has ended is told why and closed), and the deployment shutting down (then
//! it tells the client `draining`, serves it for [`DRAIN_GRACE`] at most while it moves, and closes
//! with "going away", so a client that does not know the frame reconnects at once as well).
//! Requests to catch up (`sync`) are answered after whatever else the client sent, so its
//! messages and pings never wait behind its own bulk reads, and a ping is answered even while
//! the frame before it waits for the disk.

mod audience;
mod outcome;
mod outgoing;
mod session;

use crate::error::ApiFailure;
use crate::extract::ClientAddress;
use crate::hub::{RecvError, Subscription};
use crate::state::AppState;
use crate::throttle::connections::Full;
use crate::throttle::ConnectionGuard;
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use protocol::{ClientFrame, ErrorCode, ServerFrame};
use session::Session;
use std::net::IpAddr;
use std::time::Duration;

/// A client must say `hello` within this time or be disconnected.
const HELLO_TIMEOUT: Duration = Duration::from_secs(15);

/// How often an operator's socket checks its session even when nothing announced a change: a
/// change written by another process (the `server operator add --replace` command beside a
/// running deployment) reaches open sockets within this time.
const SESSION_RECHECK: Duration = Duration::from_secs(30);

/// How long a socket is still served after `draining`: a client that knows the frame connects
/// elsewhere and closes this one within milliseconds; one that does not is closed after this.
pub(crate) const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// Close code for "the server is going away" (shutdown): clients reconnect immediately.
const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code for a policy violation (no valid `hello`).
const CLOSE_POLICY: u16 = 1008;
/// Close code for "try again later" (this connection fell behind and must resynchronise).
const CLOSE_TRY_AGAIN: u16 = 1013;

/// The WebSocket route.
pub fn router() -> Router<AppState> {
    Router::new().route(protocol::WS_PATH, get(upgrade))
}

async fn upgrade(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // A place is taken before the upgrade, so a full deployment answers with plain HTTP (429 for
    // one address, 503 for everyone) and the connection costs nothing more.
    let place = match state.connections.admit(address) {
        Ok(place) => place,
        Err(full) => {
            tracing::info!(?address, %full, "a WebSocket was refused");
            let status = match full {
                Full::Address => StatusCode::TOO_MANY_REQUESTS,
                Full::Everyone => StatusCode::SERVICE_UNAVAILABLE,
            };
            let failure = ApiFailure {
                status,
                ..ApiFailure::too_many_requests(full.to_string(), 5)
            };
            return failure.into_response();
        }
    };
    // An `Origin` that is not ASCII is kept (lossily) rather than dropped, so it matches no
    // allowed origin instead of skipping the check.
    let origin = headers
        .get(header::ORIGIN)
        .map(|o| String::from_utf8_lossy(o.as_bytes()).into_owned());
    // Frames up to the hard limit are read and answered with a clear `too_large` error; only a
    // frame beyond it (twice the largest legitimate one) drops the connection unread. The hard
    // limit is what one connection can make the deployment buffer: about 36 KiB with the default
    // message limit, where it was 16 times the frame limit (784 KiB) before.
    let hard_limit = session::frame_limit(state.config.max_message_bytes) * 2;
    // Most connections are idle most of the time: small buffers (the defaults are 128 KiB each)
    // keep an idle connection to a few KiB of memory. tungstenite fills its whole read buffer
    // with zeros before each read, so the buffer's size is resident for every connection that
    // ever sent a frame: 1 KiB holds a few of the client's usual frames (a message or a ping is
    // a few hundred bytes). Larger frames still arrive whole (the buffer grows to the frame's
    // announced length); they are only read in more steps.
    ws.max_message_size(hard_limit)
        .max_frame_size(hard_limit)
        .read_buffer_size(1024)
        .write_buffer_size(0)
        .on_upgrade(move |socket| run(socket, state, origin, address, place))
}

/// The connection's loop. Written as a function returning an `async` block, not as an `async fn`:
/// an `async fn` moves each argument into a local of its own and keeps both in its future, so the
/// socket was held twice by every connection, idle or not; the block uses what it captured in
/// place.
#[allow(clippy::manual_async_fn)]
fn run(
    mut socket: WebSocket,
    state: AppState,
    origin: Option<String>,
    address: Option<IpAddr>,
    // Held for the connection's life: dropping it gives the place back.
    place: ConnectionGuard,
) -> impl std::future::Future<Output = ()> {
    async move {
        // Captured, so that it lives as long as the connection.
        let _held = &place;
        let connection_id = state.hub.connection_id();
        // Subscribed by a successful `hello`, to the feed its peer may see.
        let mut events: Option<Subscription> = None;
        let mut shutdown = state.shutdown.clone();
        let mut confirmed = state.link.confirmed();
        let mut role = state.role.subscribe();
        let mut session = Session::new(state.clone(), connection_id, origin, address);
        // One deadline, so an idle connection holds one timer: for `hello` until it arrives, then
        // for silence (clients ping every second; one silent this long went away without closing).
        let idle_limit = Duration::from_secs(state.config.idle_timeout_secs);
        let deadline = tokio::time::sleep(HELLO_TIMEOUT);
        tokio::pin!(deadline);
        let mut last_frame = tokio::time::Instant::now();
        // Operators only (visitors' connections hold nothing for it): when their session is checked
        // next, and the account changes that call for a check at once.
        let mut operator: Option<OperatorWatch> = None;
        // Visitors only: the presence board, so the widget hears when someone comes online.
        let mut presence: Option<tokio::sync::watch::Receiver<u64>> = None;
        // Counts the connection by role from `hello` on, for as long as it stays open.
        let mut connected = crate::telemetry::Connected::default();
        // Set once the deployment started shutting down and told the client so.
        let mut draining: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
        // Frames that arrived while an earlier one was being handled, in order (pings excepted:
        // those were answered at once).
        let mut early = Early::default();
        loop {
            // What this turn sends, and whether the connection closes after it. Every branch only
            // decides; the writing happens once, below: each `await` of an async function keeps a
            // place of its own in the connection's future, which every idle connection holds.
            let mut frames: Vec<ServerFrame> = Vec::new();
            let mut closing: Option<(u16, &'static str)> = None;
            tokio::select! {
                // In this order: what the client sends first (a message waits for its `ack`, a
                // ping for its `pong`), the rare signals (deadlines, confirmations, decisions,
                // shutdown), queued `sync`s (see `session::syncs`), and hub events last.
                biased;
                incoming = next_frame(&mut socket, &mut early) => {
                    let text = match incoming {
                        Some(Ok(WsMessage::Text(text))) => Some(text),
                        Some(Ok(WsMessage::Binary(_))) => {
                            frames.push(ServerFrame::error(ErrorCode::Malformed, "frames must be JSON text"));
                            None
                        }
                        Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => return,
                        Some(Ok(_)) => continue,
                    };
                    if let Some(text) = text {
                        let was_authenticated = session.is_authenticated();
                        let arrived = std::time::Instant::now();
                        // Boxed: handling a frame needs a large future, and only while it runs.
                        let Some(outcome) = Box::pin(handle_answering_pings(
                            &mut session,
                            &mut socket,
                            text.as_str(),
                            &mut early,
                        ))
                        .await
                        else {
                            return;
                        };
                        if outcome.replies.iter().any(|f| matches!(f, ServerFrame::Ack { .. })) {
                            crate::telemetry::acknowledged_after(arrived.elapsed());
                        }
                        if events.is_none() {
                            events = session.take_subscription();
                        }
                        frames = outcome.replies;
                        // Noted, not re-armed: resetting a timer on every frame costs the timer
                        // wheel's lock under load; the deadline re-arms itself from this when it fires.
                        last_frame = tokio::time::Instant::now();
                        if !was_authenticated && session.is_authenticated() {
                            deadline.as_mut().reset(last_frame + idle_limit);
                            connected.counted_as(
                                match (session.watches_presence(), session.session_expires_at().is_some()) {
                                    (true, _) => "visitor",
                                    (false, true) => "operator",
                                    (false, false) => "other",
                                },
                            );
                            if session.watches_presence() {
                                let mut board = state.presence.subscribe();
                                board.mark_unchanged();
                                presence = Some(board);
                            }
                            if session.session_expires_at().is_some() {
                                operator = Some(OperatorWatch {
                                    timer: Box::pin(tokio::time::sleep_until(next_session_check(&state, &session))),
                                    accounts: state.store.accounts_changed(),
                                });
                            }
                            frames.extend(crate::role::redirect_for(role.borrow_and_update().as_ref(), &state.config.deployment));
                        }
                        closing = outcome.close.map(|reason| (CLOSE_POLICY, reason));
                    }
                }
                () = &mut deadline => {
                    if session.is_authenticated() {
                        if last_frame.elapsed() < idle_limit {
                            deadline.as_mut().reset(last_frame + idle_limit);
                            continue;
                        }
                        closing = Some((CLOSE_POLICY, "idle for too long"));
                    } else {
                        frames.push(ServerFrame::error(ErrorCode::HelloRequired, "no hello received in time"));
                        closing = Some((CLOSE_POLICY, "no hello"));
                    }
                }
                // Only while a message of this connection waits for the peer: the confirmation moves
            // with every batch the peer applies, and waking every open connection for each one
            // (thousands of idle visitors) cost more than the messages did.
            Ok(()) = confirmed.changed(), if session.awaits_peer() => {
                    let up_to = *confirmed.borrow_and_update();
                    frames.extend(session.replicated_up_to(up_to));
                }
                alive = session_due(&mut operator) => {
                    if !alive { return; }
                    match Box::pin(session.session_ended()).await {
                        // The console shows the sentence on its login form.
                        Some(reason) => {
                            frames.push(ServerFrame::error(ErrorCode::Unauthorized, reason));
                            closing = Some((CLOSE_POLICY, "signed out"));
                        }
                        None => {
                            if let Some(watch) = &mut operator {
                                watch.timer.as_mut().reset(next_session_check(&state, &session));
                            }
                        }
                    }
                }
                Some(()) = presence_changed(&mut presence) => {
                    frames.extend(session.availability_changed());
                }
                Ok(()) = role.changed() => {
                    let redirect = crate::role::redirect_for(role.borrow_and_update().as_ref(), &state.config.deployment);
                    frames.extend(redirect.filter(|_| session.is_authenticated()));
                }
                _ = shutdown.changed(), if draining.is_none() => {
                    // A socket before `hello` holds nothing worth a grace.
                    if session.is_authenticated() {
                        frames.push(ServerFrame::Draining);
                        draining = Some(Box::pin(tokio::time::sleep(DRAIN_GRACE)));
                    } else {
                        closing = Some((CLOSE_GOING_AWAY, "deployment shutting down"));
                    }
                }
                () = grace_over(&mut draining) => {
                    closing = Some((CLOSE_GOING_AWAY, "deployment shutting down"));
                }
                // Queued `sync`s before hub events, as when each was answered on arrival: events
                // wait while a client catches up, and each follows the snapshots taken before it.
                () = std::future::ready(()), if session.has_waiting_syncs() => {
                    frames = Box::pin(session.answer_next_sync()).await.replies;
                }
                event = next_event(&mut events) => {
                    let first = match event {
                        Ok(event) => Some(event),
                        Err(RecvError::Lagged(_)) => None,
                        Err(RecvError::Closed) => return,
                    };
                    let Some(feed) = events.as_mut() else { return };
                    // With whatever else is queued for this connection, in one write.
                    let lagged = match first {
                        Some(first) => {
                            let (ready, lagged) =
                                outgoing::ready_events(first, feed, |event| session.filter_event(event));
                            frames = ready;
                            lagged
                        }
                        None => true,
                    };
                    if lagged {
                        // It reconnects and catches up from the database, so nothing it missed is lost.
                        tracing::warn!("a connection fell behind the hub; asking it to resynchronise");
                        closing = Some((CLOSE_TRY_AGAIN, "fell behind; reconnect and sync"));
                    }
                }
            }
            if outgoing::send_all(&mut socket, &frames).await.is_err() {
                return;
            }
            if let Some((code, reason)) = closing {
                close(&mut socket, code, reason).await;
                return;
            }
        }
    }
}

/// How many frames, and how many bytes of them, are read ahead while one is being handled;
/// beyond either the socket is not read until the handling is done (so TCP slows the client
/// down), and a ping waits too. The bytes bound what read-ahead adds to one connection's buffer:
/// at most this plus one frame of the hard limit.
const EARLY_LIMIT: usize = 32;
const EARLY_BYTES: usize = 16 * 1024;

/// Frames read ahead while an earlier one was being handled, and whether the socket ended.
#[derive(Default)]
struct Early {
    frames: std::collections::VecDeque<WsMessage>,
    bytes: usize,
    ended: bool,
}

impl Early {
    fn has_room(&self) -> bool {
        !self.ended && self.frames.len() < EARLY_LIMIT && self.bytes < EARLY_BYTES
    }

    fn push(&mut self, frame: WsMessage) {
        self.bytes += size(&frame);
        self.frames.push_back(frame);
    }

    fn pop(&mut self) -> Option<WsMessage> {
        let frame = self.frames.pop_front()?;
        self.bytes -= size(&frame);
        Some(frame)
    }
}

/// A frame's payload size in bytes.
fn size(frame: &WsMessage) -> usize {
    match frame {
        WsMessage::Text(text) => text.len(),
        WsMessage::Binary(bytes) | WsMessage::Ping(bytes) | WsMessage::Pong(bytes) => bytes.len(),
        WsMessage::Close(_) => 0,
    }
}

/// The next frame: one read ahead first, then the socket's.
async fn next_frame(
    socket: &mut WebSocket,
    early: &mut Early,
) -> Option<Result<WsMessage, axum::Error>> {
    match early.pop() {
        Some(frame) => Some(Ok(frame)),
        None if early.ended => None,
        None => socket.recv().await,
    }
}

/// Handles one frame while answering the pings that arrive meanwhile. Handling a message waits
/// for its group commit, which takes long when the disk is slow or the machine busy; a client
/// hears nothing on its connection during that wait but `pong`s, and one that hears nothing for
/// 1.5 s while its message waits for an `ack` takes the deployment for frozen and leaves it. So
/// a slow deployment must still answer pings: in a fault run, clients left healthy, merely busy
/// deployments again and again, and the reconnections made them busier. Other frames read
/// meanwhile wait their turn in `early`, so they are still handled in order. `None`: the socket
/// failed while a `pong` was sent.
async fn handle_answering_pings(
    session: &mut Session,
    socket: &mut WebSocket,
    text: &str,
    early: &mut Early,
) -> Option<outcome::Outcome> {
    let handling = session.handle_text(text);
    tokio::pin!(handling);
    loop {
        tokio::select! {
            biased;
            outcome = &mut handling => return Some(outcome),
            incoming = socket.recv(), if early.has_room() => match incoming {
                Some(Ok(WsMessage::Text(next))) => match ClientFrame::decode(next.as_str()) {
                    Ok(ClientFrame::Ping { nonce }) => {
                        outgoing::send_all(socket, &[ServerFrame::Pong { nonce }]).await.ok()?;
                    }
                    _ => early.push(WsMessage::Text(next)),
                },
                Some(Ok(other)) => early.push(other),
                None | Some(Err(_)) => early.ended = true,
            },
        }
    }
}

/// Resolves when a draining socket's grace is over; never, before the deployment drains.
async fn grace_over(draining: &mut Option<std::pin::Pin<Box<tokio::time::Sleep>>>) {
    match draining {
        Some(grace) => grace.as_mut().await,
        None => std::future::pending().await,
    }
}

/// Resolves when the presence board changed; never for a socket that does not watch it, and
/// `None` once the board is gone.
async fn presence_changed(board: &mut Option<tokio::sync::watch::Receiver<u64>>) -> Option<()> {
    match board {
        Some(board) => board.changed().await.ok(),
        None => std::future::pending().await,
    }
}

/// An operator's connection's session check: its timer, and the store's account changes.
struct OperatorWatch {
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
    accounts: tokio::sync::watch::Receiver<u64>,
}

/// Resolves when an operator's session is due for a check (its timer, or an account change);
/// `false` if the store is gone. Never, for a visitor or before `hello`.
async fn session_due(operator: &mut Option<OperatorWatch>) -> bool {
    match operator {
        None => std::future::pending().await,
        Some(watch) => tokio::select! {
            () = watch.timer.as_mut() => true,
            changed = watch.accounts.changed() => changed.is_ok(),
        },
    }
}

/// When an operator's socket checks its session next: at its expiry, or after
/// [`SESSION_RECHECK`] if that comes first.
fn next_session_check(state: &AppState, session: &Session) -> tokio::time::Instant {
    let left = session
        .session_expires_at()
        .map(|at| Duration::from_millis(u64::try_from(at - state.now_ms()).unwrap_or(0)))
        .unwrap_or(SESSION_RECHECK);
    tokio::time::Instant::now() + left.min(SESSION_RECHECK)
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let _ = socket
        .send(WsMessage::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}

/// The next event of the connection's feed; never, before `hello` subscribed it to one.
async fn next_event(events: &mut Option<Subscription>) -> Result<crate::hub::Event, RecvError> {
    match events {
        Some(events) => events.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    /// The size of the future a function returns, without calling it.
    fn future_size<A, B, C, D, E, F: std::future::Future>(_: fn(A, B, C, D, E) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    /// Every open WebSocket holds its loop's future for its whole life, idle or not, so its size
    /// is most of what an idle connection costs (target: 4 KiB in all, `docs/benchmarks.md`).
    /// It was 5,952 bytes before the handling of a frame was boxed, the writes gathered into one
    /// place, the state shared through one pointer and the socket no longer held twice; a change
    /// that adds an `await` of a large future in the loop shows here.
    #[test]
    fn the_connection_loop_future_stays_small() {
        let size = future_size(super::run);
        assert!(
            size <= 3_000,
            "the connection loop's future is {size} bytes"
        );
    }
}
