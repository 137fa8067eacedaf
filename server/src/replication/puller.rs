//! Pulling the peer's event log into this deployment, for as long as the deployment runs.
//!
//! Each batch (or every batch already waiting on the socket, together) is applied in one
//! transaction with the new cursor, so a crash can neither skip nor apply an event twice; only then
//! is it confirmed to the peer. Applied messages and
//! conversation changes are published to our own hub: a visitor connected here and an operator
//! connected to the peer chat in near real time (live relay).

use super::LinkError;
use crate::hub::Event;
use crate::problems::{check_introduction, Problem};
use crate::state::AppState;
use crate::store::StoreError;
use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use futures_util::{FutureExt, SinkExt, StreamExt};
use protocol::replication::{Change, LoggedEvent, ReplicationFrame};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// How long to wait for a frame before declaring the link dead (the source sends a heartbeat
/// every two seconds).
const SILENCE_LIMIT: Duration = Duration::from_secs(8);

/// The most events applied in one transaction when several batches are waiting (the source's
/// batches in flight, each of at most `source::BATCH`).
const MERGED_EVENTS: usize = super::source::BATCH * super::source::IN_FLIGHT;

/// The longest pause between two attempts to reach the peer.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(10);

/// The pauses between attempts to reach the peer: from 100 ms, doubling up to
/// [`MAX_RECONNECT_DELAY`], with jitter so the two deployments do not retry in step; started
/// afresh after every successful subscription.
fn reconnect_delays() -> ExponentialBackoff {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(MAX_RECONNECT_DELAY)
        .with_jitter()
        .without_max_times()
        .build()
}

/// Connects to the peer, pulls, and reconnects with backoff whenever the link breaks, until the
/// deployment shuts down.
pub async fn run(state: AppState) {
    let Some(peer_url) = state.config.peer_url.clone() else {
        return;
    };
    let mut shutdown = state.shutdown.clone();
    let mut backoff = reconnect_delays();
    loop {
        let outcome = tokio::select! {
            outcome = pull(&state, &peer_url, &mut backoff) => outcome,
            _ = shutdown.changed() => return,
        };
        state.link.update(|l| l.pull_connected = false);
        // The peer's operators count only while we hear from it, and a little longer: its
        // consoles are reconnecting here (see `REMOTE_GRACE`).
        if let Some(since) = state.presence.remote_lost() {
            let presence = state.presence.clone();
            tokio::spawn(async move {
                tokio::time::sleep(crate::presence::REMOTE_GRACE).await;
                presence.forget_lost(since);
            });
        }
        if let Err(reason) = outcome {
            tracing::warn!(peer = %peer_url, %reason, "replication pull link is down; retrying");
        }
        let delay = backoff.next().unwrap_or(MAX_RECONNECT_DELAY);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => return,
        }
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn receive(socket: &mut Socket) -> Result<ReplicationFrame, LinkError> {
    loop {
        let next = tokio::time::timeout(SILENCE_LIMIT, socket.next())
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
    next: Option<Result<WsMessage, tokio_tungstenite::tungstenite::Error>>,
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

/// Acts on a frame between batches (typing and presence are relayed at once) and hands back a
/// batch's events and the peer's head.
fn take_frame(
    state: &AppState,
    frame: ReplicationFrame,
) -> Result<Option<(Vec<LoggedEvent>, u64)>, LinkError> {
    match frame {
        ReplicationFrame::Batch {
            events, head_seq, ..
        } => Ok(Some((events, head_seq))),
        ReplicationFrame::Typing {
            conversation_id,
            visitor_id,
            site_id,
            author,
            typing,
        } => {
            state.hub.publish(Event::Typing {
                visitor_id,
                site_id,
                conversation_id,
                author,
                typing,
                origin: crate::hub::REMOTE_ORIGIN,
            });
            Ok(None)
        }
        ReplicationFrame::Presence { online } => {
            state.presence.remote_heard(online);
            Ok(None)
        }
        other => Err(LinkError::unexpected("a batch", &other)),
    }
}

async fn send(socket: &mut Socket, frame: &ReplicationFrame) -> Result<(), LinkError> {
    Ok(socket.send(WsMessage::Text(frame.encode().into())).await?)
}

/// One connection's life: greeting, subscribe, then batches until something breaks.
async fn pull(
    state: &AppState,
    peer_url: &str,
    backoff: &mut ExponentialBackoff,
) -> Result<(), LinkError> {
    let url = protocol::websocket_url(peer_url, protocol::replication::REPLICATION_PATH);
    let mut request = url.as_str().into_client_request()?;
    let secret = state.config.replication_secret.clone().unwrap_or_default();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {secret}")
            .parse()
            .map_err(|_| LinkError::BadSecret)?,
    );
    // `wss://` peers are verified with the system roots and the configured CA file.
    let tls = tokio_tungstenite::Connector::Rustls(state.peer_tls.clone());
    let connected = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_tungstenite::connect_async_tls_with_config(request, None, true, Some(tls)),
    )
    .await
    .map_err(|_| LinkError::ConnectTimeout)?;
    let mut socket = match connected {
        Ok((socket, _)) => socket,
        Err(tokio_tungstenite::tungstenite::Error::Http(answer))
            if answer.status() == axum::http::StatusCode::UNAUTHORIZED =>
        {
            state.problems.raise(Problem::SecretRefused {
                peer_url: peer_url.to_owned(),
            });
            return Err(LinkError::SecretRefused);
        }
        Err(other) => return Err(other.into()),
    };
    state.problems.resolve("replication_secret_refused");
    let (peer, introduction) = match receive(&mut socket).await? {
        ReplicationFrame::Batch {
            deployment,
            introduction,
            ..
        } => (deployment, introduction),
        other => return Err(LinkError::unexpected("a greeting", &other)),
    };
    if let Some(problem) = check_introduction(
        &state.problems,
        &state.introduction,
        state.store.origin(),
        &peer,
        Some(peer_url),
        introduction.as_ref(),
    ) {
        return Err(LinkError::Misconfigured(problem.message()));
    }
    let lookup = peer.clone();
    let cursor = state.store.read(move |r| r.cursor(&lookup)).await?;
    send(
        &mut socket,
        &ReplicationFrame::Subscribe {
            deployment: state.store.origin().to_owned(),
            after_seq: cursor,
            presence: true,
            introduction: Some((*state.introduction).clone()),
        },
    )
    .await?;
    state.link.update(|l| {
        l.peer = Some(peer.clone());
        l.pull_connected = true;
        l.head_known = false;
        l.applied_from_peer = cursor;
    });
    *backoff = reconnect_delays();
    tracing::info!(%peer, after_seq = cursor, "replication pull link is up");
    loop {
        let Some((mut events, mut head_seq)) = take_frame(state, receive(&mut socket).await?)?
        else {
            continue;
        };
        // The source sends several batches before it hears back: those already here are
        // applied in the same transaction and confirmed together, one fsync for all of them.
        while events.len() < MERGED_EVENTS {
            let Some(next) = socket.next().now_or_never() else {
                break;
            };
            let Some(frame) = read_frame(next)? else {
                continue;
            };
            if let Some((more, head)) = take_frame(state, frame)? {
                events.extend(more);
                head_seq = head_seq.max(head);
            }
        }
        state.link.update(|l| {
            l.peer_head = head_seq;
            l.head_known = true;
            l.inbound_oldest_hlc = events.first().map(|e| e.hlc);
        });
        // A message is applied only with its file: the peer's copy is fetched first.
        fetch_files(state, peer_url, &events).await?;
        let applied = apply_batch(state, &peer, events).await?;
        state.link.update(|l| {
            l.applied_from_peer = l.applied_from_peer.max(applied);
            l.inbound_oldest_hlc = None;
        });
        send(&mut socket, &ReplicationFrame::Applied { seq: applied }).await?;
    }
}

/// Fetches from the peer every file the batch's messages carry that is not stored here yet,
/// checks it against its hash and stores it durably. A file the peer does not have (it answers
/// 404) is logged and skipped: the message is applied, and its file answers 404 here too.
pub(super) async fn fetch_files(
    state: &AppState,
    peer_url: &str,
    events: &[LoggedEvent],
) -> Result<(), LinkError> {
    let wanted: Vec<&protocol::conversation::Attachment> = events
        .iter()
        .filter_map(|e| match &e.change {
            Change::MessagePosted {
                attachment: Some(file),
                ..
            } => Some(file),
            _ => None,
        })
        .filter(|file| state.files.size(&file.hash).is_none())
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let client = daemon::http::HttpClient::with_tls(state.peer_tls.clone());
    let secret = state.config.replication_secret.clone().unwrap_or_default();
    for file in wanted {
        if !crate::files::is_hash(&file.hash) {
            continue;
        }
        let url = format!(
            "{}/v1/replication/files/{}",
            peer_url.trim_end_matches('/'),
            file.hash
        );
        let answer = client
            .call_limited(
                daemon::http::Method::GET,
                &url,
                Some(&secret),
                None,
                Duration::from_secs(60),
                state.config.max_file_bytes.max(file.size as usize) + 1,
            )
            .await
            .map_err(|e| LinkError::File(e.to_string()))?;
        if answer.status == 404 {
            tracing::warn!(hash = %file.hash, "the peer has no file for a message it sent");
            continue;
        }
        if answer.status != 200 || crate::files::hash_of(&answer.body) != file.hash {
            return Err(LinkError::File(format!(
                "{url} answered {} with bytes that are not the file",
                answer.status
            )));
        }
        let files = state.files.clone();
        let body = answer.body;
        tokio::task::spawn_blocking(move || files.put(&body))
            .await
            .map_err(|e| LinkError::File(e.to_string()))?
            .map_err(|e| LinkError::File(e.to_string()))?;
    }
    Ok(())
}

/// Applies a batch and its cursor in one transaction, then relays what changed to local clients.
/// Returns the new cursor.
async fn apply_batch(
    state: &AppState,
    peer: &str,
    events: Vec<LoggedEvent>,
) -> Result<u64, LinkError> {
    // Most batches are all good events: applied without a savepoint per event. Should the
    // database refuse one, the whole job is undone and the batch applied again event by event,
    // each in its own savepoint, so that one is set aside and the rest go on.
    let events = std::sync::Arc::new(events);
    let relay = match write_batch(state, peer, events.clone(), false).await {
        Err(StoreError::Sqlite(e)) => {
            tracing::warn!(error = %e, "the database refused a replicated event; applying the batch one event at a time");
            write_batch(state, peer, events, true).await
        }
        other => other,
    }?;
    let (cursor, messages, conversations) = relay;
    for message in messages {
        if let Some(conversation) = conversations
            .iter()
            .find(|c| c.id == message.conversation_id)
        {
            state.hub.publish(Event::Message {
                visitor_id: conversation.visitor_id,
                site_id: conversation.site_id.clone(),
                message,
                origin: crate::hub::REMOTE_ORIGIN,
            });
        }
    }
    for conversation in conversations {
        state.hub.publish(Event::Conversation { conversation });
    }
    Ok(cursor)
}

/// What a batch changed: the new cursor, the messages and the conversations to relay.
type Applied = (
    u64,
    Vec<protocol::Message>,
    Vec<protocol::ConversationSummary>,
);

/// One write job applying `events` (each isolated in a savepoint of its own if `isolate`) and
/// the new cursor.
async fn write_batch(
    state: &AppState,
    peer: &str,
    events: std::sync::Arc<Vec<LoggedEvent>>,
    isolate: bool,
) -> Result<Applied, StoreError> {
    let peer_name = peer.to_owned();
    state
        .store
        .write(move |w| {
            let start = w.cursor(&peer_name)?;
            let mut cursor = start;
            let mut messages = Vec::new();
            let mut conversations = Vec::new();
            // The source sends only its own events, in order; anything else or anything already
            // covered by the cursor is skipped.
            for event in events
                .iter()
                .filter(|e| e.origin == peer_name && e.seq > start)
            {
                let touched = match isolate {
                    true => w.apply_remote(event)?,
                    false => w.apply_remote_fast(event)?,
                };
                if let Some(conversation) = touched {
                    if let Change::MessagePosted { id, .. } = &event.change {
                        messages.push(*id);
                    }
                    if !conversations.contains(&conversation) {
                        conversations.push(conversation);
                    }
                }
                cursor = event.seq;
            }
            w.set_cursor(&peer_name, cursor)?;
            let messages = messages
                .into_iter()
                .filter_map(|id| w.message(id).ok().flatten())
                .collect::<Vec<_>>();
            let conversations = conversations
                .into_iter()
                .filter_map(|id| w.conversation(id).ok().flatten())
                .collect::<Vec<_>>();
            Ok((cursor, messages, conversations))
        })
        .await
}
