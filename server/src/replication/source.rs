//! Serving this deployment's event log to the peer.
//!
//! The conversation on the socket: we greet with an empty batch naming ourselves; the peer answers
//! `subscribe` with the last sequence number it applied; we then send batches of at most
//! [`BATCH`] events read from disk, up to [`IN_FLIGHT`] of them before `applied` confirms the
//! oldest (a confirmation names a sequence number and covers every batch up to it), and an empty
//! batch every [`HEARTBEAT`] when there is nothing new, so either side notices a dead link.

use super::LinkError;
use crate::extract::require_shared_secret;
use crate::hub::{Event, REMOTE_ORIGIN};
use crate::state::AppState;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use protocol::replication::ReplicationFrame;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// The most events in one batch: bounds memory on both sides during a long catch-up.
pub const BATCH: usize = 500;
/// How often an idle link proves it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long the peer may take to confirm a batch before the link is dropped.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);
/// The most batches sent and not yet confirmed: enough that the peer never waits for this end
/// to read the next, few enough that a link's memory stays bounded.
pub const IN_FLIGHT: usize = 4;

/// `GET /v1/replication`: checks the shared secret, then hands the socket to [`serve_peer`].
pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if let Err(refused) = require_shared_secret(
        &headers,
        state.config.replication_secret.as_deref(),
        "replication",
    ) {
        state.problems.raise(crate::problems::Problem::SecretWrong);
        return refused.into_response();
    }
    state.problems.resolve("replication_secret_wrong");
    ws.max_message_size(64 << 20)
        .on_upgrade(move |socket| async move {
            if let Err(reason) = serve_peer(socket, state).await {
                tracing::info!(%reason, "replication link to a peer ended");
            }
        })
}

async fn send(socket: &mut WebSocket, frame: &ReplicationFrame) -> Result<(), LinkError> {
    Ok(socket.send(WsMessage::Text(frame.encode().into())).await?)
}

async fn receive(socket: &mut WebSocket, within: Duration) -> Result<ReplicationFrame, LinkError> {
    loop {
        let next = tokio::time::timeout(within, socket.recv())
            .await
            .map_err(|_| LinkError::Silent)?;
        if let Some(frame) = read_frame(next)? {
            return Ok(frame);
        }
    }
}

/// What one item read from the socket is: a frame, nothing to act on (`None`: pings, binary), or
/// the end of the link.
fn read_frame(
    next: Option<Result<WsMessage, axum::Error>>,
) -> Result<Option<ReplicationFrame>, LinkError> {
    match next {
        Some(Ok(WsMessage::Text(text))) => ReplicationFrame::decode(&text)
            .map(Some)
            .map_err(LinkError::Unreadable),
        Some(Ok(WsMessage::Close(_))) | None => Err(LinkError::Closed),
        Some(Err(e)) => Err(e.into()),
        Some(Ok(_)) => Ok(None),
    }
}

/// Tells the peer which of our operators are online.
async fn send_presence(socket: &mut WebSocket, state: &AppState) -> Result<(), LinkError> {
    let online = state.presence.local_online();
    send(socket, &ReplicationFrame::Presence { online }).await
}

/// Streams our log to one peer until the link breaks or we shut down.
pub async fn serve_peer(mut socket: WebSocket, state: AppState) -> Result<(), LinkError> {
    let me = state.store.origin().to_owned();
    let mut head = state.store.head();
    let greeting = ReplicationFrame::Batch {
        deployment: me.clone(),
        events: Vec::new(),
        head_seq: *head.borrow(),
        introduction: Some((*state.introduction).clone()),
    };
    send(&mut socket, &greeting).await?;
    let (mut cursor, reads_presence) = match receive(&mut socket, CONFIRM_TIMEOUT).await? {
        ReplicationFrame::Subscribe {
            deployment,
            after_seq,
            presence,
            introduction,
        } => {
            // The puller checks the same on its side; this end reports it too, for a pair where
            // only the other deployment has a peer URL.
            if let Some(problem) = crate::problems::check_introduction(
                &state.problems,
                &state.introduction,
                &me,
                &deployment,
                None,
                introduction.as_ref(),
            ) {
                return Err(LinkError::Misconfigured(problem.message()));
            }
            tracing::info!(peer = %deployment, after_seq, "peer subscribed to our log");
            state.link.update(|l| {
                l.peer.get_or_insert(deployment);
            });
            state.link.peer_confirmed(after_seq);
            (after_seq, presence)
        }
        other => return Err(LinkError::unexpected("subscribe", &other)),
    };
    let mut shutdown = state.shutdown.clone();
    let mut typing = state.hub.subscribe_all();
    // Our online operators go to the peer whenever they change and with every heartbeat (the
    // peer forgets a list it has not heard again), also between the batches of a long catch-up.
    let mut presence = state.presence.subscribe();
    let mut presence_sent = tokio::time::Instant::now();
    if reads_presence {
        send_presence(&mut socket, &state).await?;
    }
    // Batches go out without waiting for the previous one's confirmation, up to IN_FLIGHT of
    // them: the peer applies the next while this end reads the one after, and a peer that takes
    // several queued batches at once confirms them together. `sent` is the last event sent,
    // `cursor` the last confirmed; each confirmation moves the cursor, whatever it covers.
    let mut sent = cursor;
    let mut in_flight: VecDeque<(u64, tokio::time::Instant)> = VecDeque::new();
    let mut idle_since = tokio::time::Instant::now();
    loop {
        let due = presence.has_changed().unwrap_or(false) || presence_sent.elapsed() >= HEARTBEAT;
        if reads_presence && due {
            presence.mark_unchanged();
            presence_sent = tokio::time::Instant::now();
            send_presence(&mut socket, &state).await?;
        }
        let room = in_flight.len() < IN_FLIGHT;
        let heartbeat_due = in_flight.is_empty() && idle_since.elapsed() >= HEARTBEAT;
        if room {
            // The head is marked seen before the read, so an event committed during the read
            // wakes the wait below instead of waiting for the heartbeat.
            let head_seq = *head.borrow_and_update();
            let origin = me.clone();
            let after = sent;
            let batch = state
                .store
                .read(move |r| r.local_events_after(&origin, after, BATCH))
                .await?;
            if !batch.is_empty() || heartbeat_due {
                // An empty batch is the heartbeat: the peer confirms it like any other.
                sent = batch.last().map_or(sent, |e| e.seq);
                let frame = ReplicationFrame::Batch {
                    deployment: me.clone(),
                    events: batch,
                    head_seq: head_seq.max(sent),
                    introduction: None,
                };
                send(&mut socket, &frame).await?;
                in_flight.push_back((sent, tokio::time::Instant::now()));
                continue;
            }
        }
        // The oldest batch sent and not confirmed bounds how long the peer may stay silent.
        let confirm_by = in_flight
            .front()
            .map(|(_, at)| *at + CONFIRM_TIMEOUT)
            .unwrap_or_else(|| idle_since + HEARTBEAT);
        tokio::select! {
            frame = socket.recv() => {
                match read_frame(frame)? {
                    Some(ReplicationFrame::Applied { seq }) => {
                        cursor = cursor.max(seq);
                        state.link.peer_confirmed(seq);
                        // A confirmation covers every batch up to it.
                        in_flight.pop_front();
                        while in_flight.front().is_some_and(|(last, _)| *last <= cursor) {
                            in_flight.pop_front();
                        }
                        if in_flight.is_empty() {
                            idle_since = tokio::time::Instant::now();
                        }
                    }
                    Some(other) => return Err(LinkError::unexpected("applied", &other)),
                    None => {}
                }
            }
            changed = head.changed(), if room => { changed.map_err(|_| LinkError::StoreClosed)?; }
            _ = shutdown.changed() => return Ok(()),
            _ = tokio::time::sleep_until(confirm_by) => {
                if !in_flight.is_empty() {
                    return Err(LinkError::Silent);
                }
            }
            _ = presence.changed(), if reads_presence => {}
            event = typing.recv() => {
                match event {
                    // Typing on this deployment is relayed live; typing relayed from the peer
                    // (REMOTE_ORIGIN) is not sent back.
                    Ok(Event::Typing { visitor_id, site_id, conversation_id, author, typing, origin }) if origin != REMOTE_ORIGIN => {
                        send(&mut socket, &ReplicationFrame::Typing { conversation_id, visitor_id, site_id, author, typing }).await?;
                    }
                    Err(RecvError::Closed) => return Ok(()),
                    _ => {}
                }
            }
        }
    }
}
