//! A peer that sends what no local action would: every event passes the same rules as local
//! writes; one that breaks them, or that the database refuses, is quarantined (kept aside,
//! counted in the status) and the link goes on with the rest, and no clock value from the peer
//! can drag ours to the end of time.

mod support;

use futures_util::{SinkExt, StreamExt};
use protocol::replication::{hlc_from_parts, Change, LoggedEvent, ReplicationFrame};
use protocol::{AuthorKind, ConversationId, MessageId, OperatorId, OperatorRole, SiteId};
use std::time::Duration;
use support::TestServer;
use tokio_tungstenite::tungstenite::Message as WsMessage;

const SECRET: &str = "replication secret for tests";

fn event(seq: u64, hlc: u64, change: Change) -> LoggedEvent {
    LoggedEvent {
        id: uuid::Uuid::now_v7(),
        origin: "evil".into(),
        seq,
        hlc,
        change,
    }
}

/// Serves one replication connection: greets, takes the subscription, sends `events` in one
/// batch and reports the cursor the puller confirms.
async fn hostile_peer(
    listener: tokio::net::TcpListener,
    events: Vec<LoggedEvent>,
    confirmed: tokio::sync::mpsc::UnboundedSender<u64>,
) {
    let (tcp, _) = listener.accept().await.unwrap();
    let mut socket = tokio_tungstenite::accept_async(tcp).await.unwrap();
    let head_seq = events.len() as u64;
    let frame = |f: ReplicationFrame| WsMessage::Text(f.encode().into());
    socket
        .send(frame(ReplicationFrame::Batch {
            deployment: "evil".into(),
            events: Vec::new(),
            head_seq,
            introduction: None,
        }))
        .await
        .unwrap();
    let _subscribe = socket.next().await;
    socket
        .send(frame(ReplicationFrame::Batch {
            deployment: "evil".into(),
            events,
            head_seq,
            introduction: None,
        }))
        .await
        .unwrap();
    while let Some(Ok(WsMessage::Text(text))) = socket.next().await {
        if let Ok(ReplicationFrame::Applied { seq }) = ReplicationFrame::decode(&text) {
            let _ = confirmed.send(seq);
        }
    }
}

#[tokio::test]
async fn events_no_local_action_could_write_are_quarantined_and_the_link_goes_on() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let peer_url = format!("http://{}", listener.local_addr().unwrap());
    let server = TestServer::start_with(|c| support::pair_config(c, "primary", &peer_url)).await;
    let now = server.state.now_ms() as u64;
    let hlc = |n: u16| hlc_from_parts(now, n);
    let events = vec![
        // A clock value at the end of time.
        event(
            1,
            u64::MAX,
            Change::SiteUpserted {
                id: SiteId("late".into()),
                name: "Late".into(),
                allowed_origins: vec!["*".into()],
            },
        ),
        // An admin whose "password hash" is no hash at all.
        event(
            2,
            hlc(1),
            Change::OperatorUpserted {
                id: OperatorId(uuid::Uuid::now_v7()),
                email: "mallory@example.com".into(),
                name: "Mallory".into(),
                password_hash: "let me in".into(),
                role: OperatorRole::Admin,
                ends_sessions: false,
            },
        ),
        // A message in a conversation that exists nowhere: the database refuses it.
        event(
            3,
            hlc(2),
            Change::MessagePosted {
                id: MessageId(uuid::Uuid::now_v7()),
                conversation_id: ConversationId(uuid::Uuid::now_v7()),
                author_kind: AuthorKind::System,
                author_id: None,
                author_name: None,
                body: "orphan".into(),
                sent_at: now as i64,
                attachment: None,
                private: false,
            },
        ),
        // And one good event after them.
        event(
            4,
            hlc(3),
            Change::SiteUpserted {
                id: SiteId("fine".into()),
                name: "Fine".into(),
                allowed_origins: vec!["https://fine.example".into()],
            },
        ),
    ];
    let (confirmed, mut cursor) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(hostile_peer(listener, events, confirmed));
    let seq = tokio::time::timeout(Duration::from_secs(10), cursor.recv())
        .await
        .expect("the batch is confirmed")
        .unwrap();
    assert_eq!(seq, 4, "the link went past the bad events");

    let store = &server.state.store;
    let fine = store
        .read(|r| r.site(&SiteId("fine".into())))
        .await
        .unwrap();
    assert!(fine.is_some(), "the good event was applied");
    let late = store
        .read(|r| r.site(&SiteId("late".into())))
        .await
        .unwrap();
    assert!(late.is_none());
    let mallory = store
        .read(|r| r.operator_by_email("mallory@example.com"))
        .await
        .unwrap();
    assert!(mallory.is_none(), "no account from a broken event");
    assert!(
        store.last_hlc() < hlc_from_parts(now + 86_400_000, 0),
        "our clock was not dragged along"
    );
    // A local write after all that still gets a sane clock value.
    store
        .write(|w| {
            w.upsert_site(&server::store::Site {
                id: SiteId("after".into()),
                name: "After".into(),
                allowed_origins: vec!["*".into()],
            })
        })
        .await
        .unwrap();
    assert!(store.last_hlc() < hlc_from_parts(now + 86_400_000, 0));

    let (status, report) = server
        .http("GET", "/v1/replication/status", Some(SECRET), None)
        .await;
    assert_eq!(status, axum::http::StatusCode::OK);
    assert_eq!(report["quarantined"], 3, "{report}");
    assert!(report["quarantine_reason"].is_string(), "{report}");
    let (_, health) = server.http("GET", "/health", Some(SECRET), None).await;
    assert_eq!(health["replication"]["quarantined"], 3, "{health}");
}
