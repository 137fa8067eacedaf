//! A native visitor that writes a fixed number of messages, keeps every unacknowledged one in an
//! outbox that it resends (same ids) on every reconnect, and moves at once to the deployment named
//! in a `redirect` frame. When a deployment cannot be reached it tries the other one.
//!
//! This is the behaviour the moderator issue asks of "connected native clients"; the shared,
//! sans-IO client core that the widget and the console will use comes with client failover.

use futures_util::{SinkExt, StreamExt};
use protocol::{
    Auth, ClientFrame, ConversationId, MessageId, ServerFrame, Session, SiteId, PROTOCOL_VERSION,
};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// What one visitor did.
#[derive(Debug, Default)]
pub struct VisitorReport {
    /// Every message id a deployment acknowledged, once each.
    pub acked: BTreeSet<MessageId>,
    /// Message ids still unacknowledged when the visitor gave up (empty on success).
    pub unacked: Vec<MessageId>,
    /// The epochs of the redirects followed, in order.
    pub redirects: Vec<u64>,
    /// The base URL of every deployment that welcomed the visitor, in order.
    pub welcomed_by: Vec<String>,
}

/// Writes `count` messages, one every `interval`, starting on `start`; `fallback` is the other
/// deployment. Gives up after `limit`.
pub async fn chat(
    site: &str,
    start: String,
    fallback: String,
    count: usize,
    interval: Duration,
    limit: Duration,
) -> VisitorReport {
    let deadline = Instant::now() + limit;
    let conversation = ConversationId(uuid::Uuid::now_v7());
    let mut report = VisitorReport::default();
    let mut outbox: BTreeMap<MessageId, String> = BTreeMap::new();
    let mut written = 0;
    let mut token = None;
    let mut base = start;
    let mut newest_epoch = 0;
    let other = |base: &str| {
        if base == fallback {
            None
        } else {
            Some(fallback.clone())
        }
    };
    'connection: while Instant::now() < deadline && (written < count || !outbox.is_empty()) {
        let url = protocol::websocket_url(&base, protocol::WS_PATH);
        let Ok(Ok((mut socket, _))) = tokio::time::timeout(
            Duration::from_secs(2),
            tokio_tungstenite::connect_async(url),
        )
        .await
        else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            base = other(&base).unwrap_or(base);
            continue;
        };
        let hello = ClientFrame::Hello {
            protocol: PROTOCOL_VERSION,
            auth: Auth::Visitor {
                site_id: SiteId(site.into()),
                token: token.clone(),
            },
            page_url: None,
        };
        if socket
            .send(WsMessage::Text(hello.encode().into()))
            .await
            .is_err()
        {
            continue;
        }
        let mut welcomed = false;
        let mut ticker = tokio::time::interval(interval);
        loop {
            let can_write = welcomed && written < count;
            tokio::select! {
                _ = ticker.tick(), if can_write => {
                    let id = MessageId(uuid::Uuid::now_v7());
                    let body = format!("message {written}");
                    written += 1;
                    outbox.insert(id, body.clone());
                    let send = ClientFrame::Send { conversation_id: conversation, message_id: id, body };
                    if socket.send(WsMessage::Text(send.encode().into())).await.is_err() {
                        continue 'connection;
                    }
                }
                next = tokio::time::timeout(Duration::from_secs(5), socket.next()) => {
                    let text = match next {
                        Ok(Some(Ok(WsMessage::Text(text)))) => text,
                        Ok(Some(Ok(WsMessage::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue 'connection;
                        }
                        Ok(Some(Ok(_))) => continue,
                        // Nothing for 5 s: fine while idle, but check whether we are done.
                        Err(_) => {
                            if written == count && outbox.is_empty() { break 'connection; }
                            continue;
                        }
                    };
                    match ServerFrame::decode(&text) {
                        Ok(ServerFrame::Welcome { session: Session::Visitor { token: issued, .. }, .. }) => {
                            token = Some(issued);
                            welcomed = true;
                            report.welcomed_by.push(base.clone());
                            // Everything not yet acknowledged goes again, with the same ids.
                            for (id, body) in &outbox {
                                let send = ClientFrame::Send { conversation_id: conversation, message_id: *id, body: body.clone() };
                                if socket.send(WsMessage::Text(send.encode().into())).await.is_err() {
                                    continue 'connection;
                                }
                            }
                        }
                        Ok(ServerFrame::Ack { message_id, .. }) => {
                            outbox.remove(&message_id);
                            report.acked.insert(message_id);
                            if written == count && outbox.is_empty() {
                                break 'connection;
                            }
                        }
                        Ok(ServerFrame::Redirect { epoch, url, .. }) if epoch > newest_epoch => {
                            newest_epoch = epoch;
                            report.redirects.push(epoch);
                            let _ = socket.close(None).await;
                            base = url;
                            continue 'connection;
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    report.unacked = outbox.into_keys().collect();
    report
}
