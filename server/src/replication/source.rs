//! Serving this deployment's event log to the peer.
//!
//! The conversation on the socket: we greet with an empty batch naming ourselves; the peer answers
//! `subscribe` with the last sequence number it applied; we then send batches of at most
//! [`BATCH`] events read from disk, each confirmed by `applied` before the next, and an empty batch
//! every [`HEARTBEAT`] when there is nothing new, so either side notices a dead link.

use super::LinkError;
use crate::extract::require_shared_secret;
use crate::hub::{Event, REMOTE_ORIGIN};
use crate::state::AppState;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use protocol::replication::ReplicationFrame;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// The most events in one batch: bounds memory on both sides during a long catch-up.
pub const BATCH: usize = 500;
/// How often an idle link proves it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long the peer may take to confirm a batch before the link is dropped.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);

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
        match next {
            Some(Ok(WsMessage::Text(text))) => {
                return ReplicationFrame::decode(&text).map_err(LinkError::Unreadable)
            }
            Some(Ok(WsMessage::Close(_))) | None => return Err(LinkError::Closed),
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(_)) => continue,
        }
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
    loop {
        let due = presence.has_changed().unwrap_or(false) || presence_sent.elapsed() >= HEARTBEAT;
        if reads_presence && due {
            presence.mark_unchanged();
            presence_sent = tokio::time::Instant::now();
            send_presence(&mut socket, &state).await?;
        }
        let origin = me.clone();
        let batch = state
            .store
            .read(move |r| r.local_events_after(&origin, cursor, BATCH))
            .await?;
        let head_seq = *head.borrow_and_update();
        if batch.is_empty() {
            tokio::select! {
                changed = head.changed() => { changed.map_err(|_| LinkError::StoreClosed)?; continue; }
                _ = shutdown.changed() => return Ok(()),
                _ = tokio::time::sleep(HEARTBEAT) => {}
                _ = presence.changed(), if reads_presence => continue,
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
                    continue;
                }
            }
        }
        let frame = ReplicationFrame::Batch {
            deployment: me.clone(),
            events: batch,
            head_seq,
            introduction: None,
        };
        send(&mut socket, &frame).await?;
        match receive(&mut socket, CONFIRM_TIMEOUT).await? {
            ReplicationFrame::Applied { seq } => {
                cursor = cursor.max(seq);
                state.link.peer_confirmed(seq);
            }
            other => return Err(LinkError::unexpected("applied", &other)),
        }
    }
}
