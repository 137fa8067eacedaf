//! The replication source keeps several batches in flight: a peer that has not confirmed yet
//! still receives the next batches, up to `IN_FLIGHT`, and no more until it confirms; one
//! confirmation covers every batch up to the sequence number it names.

mod support;

use futures_util::{SinkExt, StreamExt};
use protocol::replication::ReplicationFrame;
use protocol::SiteId;
use server::replication::source::{BATCH, IN_FLIGHT};
use std::time::Duration;
use support::TestServer;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next batch on the link, skipping presence and typing; `None` if none comes within `wait`.
async fn next_batch(socket: &mut Socket, wait: Duration) -> Option<Vec<u64>> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let next = tokio::time::timeout_at(deadline, socket.next())
            .await
            .ok()?;
        let Some(Ok(WsMessage::Text(text))) = next else {
            panic!("the link ended: {next:?}");
        };
        if let ReplicationFrame::Batch { events, .. } = ReplicationFrame::decode(&text).unwrap() {
            return Some(events.iter().map(|e| e.seq).collect());
        }
    }
}

async fn send(socket: &mut Socket, frame: ReplicationFrame) {
    socket
        .send(WsMessage::Text(frame.encode().into()))
        .await
        .unwrap();
}

#[tokio::test]
async fn batches_go_out_before_the_previous_one_is_confirmed_up_to_the_limit() {
    // The peer URL leads nowhere: only this deployment's source is under test.
    let server =
        TestServer::start_with(|c| support::pair_config(c, "primary", "http://127.0.0.1:9")).await;
    // More events than the batches in flight can hold, in one job.
    let wanted = BATCH * (IN_FLIGHT + 2) + 1;
    server
        .state
        .store
        .write(move |w| {
            for i in 0..wanted {
                w.upsert_site(&server::store::Site {
                    id: SiteId(format!("site-{i}")),
                    name: format!("Site {i}"),
                    allowed_origins: vec!["*".into()],
                })?;
            }
            Ok(())
        })
        .await
        .unwrap();
    // The log's end as the store reads it (the head watch moves a moment after the write).
    let head = server
        .state
        .store
        .read(|r| r.head("primary"))
        .await
        .unwrap();

    let url = format!(
        "ws://{}{}",
        server.address,
        protocol::replication::REPLICATION_PATH
    );
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "authorization",
        "Bearer replication secret for tests".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let greeting = next_batch(&mut socket, Duration::from_secs(10)).await;
    assert_eq!(greeting, Some(Vec::new()), "the greeting is an empty batch");
    send(
        &mut socket,
        ReplicationFrame::Subscribe {
            deployment: "redundant".into(),
            after_seq: 0,
            presence: false,
            introduction: None,
        },
    )
    .await;

    // Nothing confirmed: IN_FLIGHT batches arrive, in order and without gaps, then the source
    // waits.
    let mut received = Vec::new();
    let mut lasts = Vec::new();
    for _ in 0..IN_FLIGHT {
        let batch = next_batch(&mut socket, Duration::from_secs(10))
            .await
            .expect("a batch arrives before any confirmation");
        assert_eq!(batch.len(), BATCH);
        lasts.push(*batch.last().unwrap());
        received.extend(batch);
    }
    assert!(
        next_batch(&mut socket, Duration::from_millis(700))
            .await
            .is_none(),
        "no batch beyond the limit goes out unconfirmed"
    );

    // One confirmation of the second batch covers the first too: two more may go out.
    send(&mut socket, ReplicationFrame::Applied { seq: lasts[1] }).await;
    for _ in 0..2 {
        let batch = next_batch(&mut socket, Duration::from_secs(10))
            .await
            .expect("room made by the confirmation is used");
        received.extend(batch);
    }
    assert!(
        next_batch(&mut socket, Duration::from_millis(700))
            .await
            .is_none(),
        "the two confirmed batches made room for two"
    );
    // Confirming everything received lets the rest of the log out.
    send(
        &mut socket,
        ReplicationFrame::Applied {
            seq: *received.last().unwrap(),
        },
    )
    .await;
    while received.last() != Some(&head) {
        let batch = next_batch(&mut socket, Duration::from_secs(10))
            .await
            .expect("the rest of the log follows");
        received.extend(batch);
    }
    assert!(
        received.windows(2).all(|w| w[0] < w[1]),
        "each event is sent once, in order"
    );

    // The status reports what the peer confirmed, not what it was sent.
    let status = server::replication::report(&server.state).await;
    assert!(status.peer_applied < head);
    send(&mut socket, ReplicationFrame::Applied { seq: head }).await;
    tokio::time::timeout(Duration::from_secs(10), async {
        while server::replication::report(&server.state)
            .await
            .peer_applied
            != head
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the last confirmation is recorded");
}
