//! What leaves a socket together: the frames that are ready at the same moment (a frame's
//! replies, or the hub events already queued for the connection) are written as one batch and
//! flushed once, and of several summaries of one conversation in a batch only the newest goes.
//!
//! Under load an operator hears of every message twice (the message and its conversation's new
//! summary). Writing and flushing each frame on its own cost a system call per frame, and every
//! summary but a conversation's newest is already out of date when it is written.

use crate::hub::{Event, Subscription, TryRecvError};
use axum::extract::ws::{Message as WsMessage, WebSocket};
use futures_util::SinkExt;
use protocol::ServerFrame;
use std::collections::HashSet;

/// The most hub events taken into one write: bounds how long the loop is away from the client's
/// own frames while a crowd writes.
const EVENT_BATCH: usize = 64;

/// The hub events ready now, starting with `first`: what they become for this connection (see
/// `filter`), and whether the connection fell behind the hub while they were read (then it must
/// be closed after they are written, as when the first read says so).
pub(super) fn ready_events(
    first: Event,
    feed: &mut Subscription,
    filter: impl Fn(Event) -> Option<ServerFrame>,
) -> (Vec<ServerFrame>, bool) {
    let mut frames: Vec<ServerFrame> = filter(first).into_iter().collect();
    let mut lagged = false;
    for _ in 1..EVENT_BATCH {
        match feed.try_recv() {
            Ok(event) => frames.extend(filter(event)),
            Err(TryRecvError::Lagged(_)) => {
                lagged = true;
                break;
            }
            Err(TryRecvError::Empty | TryRecvError::Closed) => break,
        }
    }
    keep_newest_summaries(&mut frames);
    (frames, lagged)
}

/// Drops every summary of a conversation that a later frame of the batch summarises again: a
/// summary is the conversation's whole state, so the newest says all the others said.
pub(super) fn keep_newest_summaries(frames: &mut Vec<ServerFrame>) {
    let mut seen = HashSet::new();
    let keep: Vec<bool> = frames
        .iter()
        .rev()
        .map(|frame| match frame {
            ServerFrame::Conversation { conversation } => seen.insert(conversation.id),
            _ => true,
        })
        .collect();
    let mut keep = keep.into_iter().rev();
    frames.retain(|_| keep.next().unwrap_or(true));
}

/// Writes `frames` in order and flushes once.
pub(super) async fn send_all(
    socket: &mut WebSocket,
    frames: &[ServerFrame],
) -> Result<(), axum::Error> {
    if frames.is_empty() {
        return Ok(());
    }
    for frame in frames {
        crate::telemetry::frame_sent(frame);
        socket.feed(WsMessage::Text(frame.encode().into())).await?;
    }
    socket.flush().await
}

#[cfg(test)]
mod tests;
