//! The throughput baseline: a bare tokio WebSocket relay with no storage and no replication. It
//! speaks just enough of the protocol (hello, send, ping) for the same load generator to drive it:
//! a visitor's message is acknowledged at once and forwarded to every operator. What the real
//! deployments do beyond this (durable group commit, the event log, replication, confirmations)
//! is what `throughput_ratio` prices.

use futures_util::{SinkExt, StreamExt};
use protocol::{
    Author, AuthorKind, ClientFrame, Message, OperatorId, OperatorProfile, OperatorRole,
    ServerFrame, Session, VisitorId,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;

#[derive(Default)]
struct Relay {
    operators: Mutex<Vec<mpsc::UnboundedSender<String>>>,
    seq: AtomicU64,
}

/// Starts the relay on a free loopback port; returns its base URL.
pub async fn start() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let relay = Arc::new(Relay::default());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(serve(stream, relay.clone()));
        }
    });
    Ok(url)
}

async fn serve(stream: tokio::net::TcpStream, relay: Arc<Relay>) {
    let Ok(socket) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (mut sink, mut stream) = socket.split();
    let (out, mut outgoing) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        while let Some(text) = outgoing.recv().await {
            if sink.send(WsMessage::Text(text.into())).await.is_err() {
                return;
            }
        }
    });
    while let Some(Ok(frame)) = stream.next().await {
        let WsMessage::Text(text) = frame else {
            continue;
        };
        let Ok(frame) = ClientFrame::decode(&text) else {
            continue;
        };
        let reply = match frame {
            ClientFrame::Hello { auth, .. } => {
                let session = match auth {
                    protocol::Auth::Visitor { .. } => Session::Visitor {
                        visitor_id: VisitorId(uuid::Uuid::now_v7()),
                        token: "relay".into(),
                        conversations: Vec::new(),
                        online: true,
                        details: None,
                    },
                    protocol::Auth::Operator { .. } => {
                        relay.operators.lock().expect("lock").push(out.clone());
                        Session::Operator {
                            operator: OperatorProfile {
                                id: OperatorId(uuid::Uuid::now_v7()),
                                name: "Relay".into(),
                                email: "relay@example.com".into(),
                                role: OperatorRole::Agent,
                                sites: Default::default(),
                            },
                            inbox: Vec::new(),
                            presence: Default::default(),
                            idle_away_secs: 0,
                            files: None,
                        }
                    }
                };
                ServerFrame::Welcome {
                    protocol: protocol::PROTOCOL_VERSION,
                    max_message_bytes: protocol::DEFAULT_MAX_MESSAGE_BYTES,
                    session,
                    replicates: false,
                    // The relay keeps nothing, so it has no log to resume from.
                    log: None,
                }
            }
            ClientFrame::Send {
                conversation_id,
                message_id,
                body,
                ..
            } => {
                let message = Message {
                    id: message_id,
                    conversation_id,
                    author: Author {
                        kind: AuthorKind::Visitor,
                        name: None,
                    },
                    body,
                    sent_at: 0,
                    seq: relay.seq.fetch_add(1, Ordering::Relaxed) + 1,
                    hlc: 0,
                    attachment: None,
                    private: false,
                };
                let forwarded = ServerFrame::Message {
                    message: message.clone(),
                }
                .encode();
                relay
                    .operators
                    .lock()
                    .expect("lock")
                    .retain(|operator| operator.send(forwarded.clone()).is_ok());
                ServerFrame::Ack {
                    message_id,
                    message,
                }
            }
            ClientFrame::Ping { nonce } => ServerFrame::Pong { nonce },
            _ => continue,
        };
        if out.send(reply.encode()).is_err() {
            break;
        }
    }
    drop(out);
    let _ = writer.await;
}
