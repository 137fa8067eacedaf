//! Floods from one client meet a limit with a clear answer and store nothing: new visitors per
//! address, new conversations per visitor, messages and typing notices per connection,
//! connections per address and in total, silent connections.

mod support;

use protocol::{ClientFrame, ErrorCode, ServerFrame, Session};
use std::time::{Duration, Instant};
use support::{new_conversation, visitor_hello, Client, TestServer};

fn too_many(frame: &ServerFrame) -> bool {
    matches!(
        frame,
        ServerFrame::Error {
            code: ErrorCode::TooManyRequests,
            ..
        }
    )
}

/// How many rows `table` has, read from the deployment's database file.
fn rows(server: &TestServer, table: &str) -> i64 {
    let db = server.data_dir.path().join(server::store::DATABASE_FILE);
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn new_visitors_from_one_address_are_limited_and_the_excess_stores_nothing() {
    let server = TestServer::start_with(|c| c.new_visitors_per_minute_per_address = 3).await;
    for _ in 0..3 {
        let (_, session) = server.visitor(None).await;
        assert!(matches!(session, Session::Visitor { .. }));
    }
    let stored = rows(&server, "visitors");
    let mut client = server.connect().await;
    client.send(&visitor_hello("acme", None)).await;
    let reply = client.recv().await;
    assert!(too_many(&reply), "{reply:?}");
    assert_eq!(client.closed().await, Some(1008));
    assert_eq!(rows(&server, "visitors"), stored, "no visitor stored");
}

#[tokio::test]
async fn a_visitor_opening_conversation_after_conversation_is_stopped_but_keeps_writing_in_them() {
    let server = TestServer::start_with(|c| c.new_conversations_per_hour_per_visitor = 2).await;
    let (mut visitor, session) = server.visitor(None).await;
    let Session::Visitor { token, .. } = session else {
        panic!("visitor")
    };
    let (first, second) = (new_conversation(), new_conversation());
    for c in [first, second] {
        let (_, ack) = visitor.post(c, "hello").await;
        assert!(matches!(ack, ServerFrame::Ack { .. }), "{ack:?}");
    }
    let third = new_conversation();
    let (_, reply) = visitor.post(third, "and another").await;
    assert!(too_many(&reply), "{reply:?}");
    assert_eq!(visitor.closed().await, Some(1008));
    let conversations = rows(&server, "conversations");
    assert_eq!(conversations, 2, "the third was not opened");
    // On a new connection the visitor still writes in the conversations they have.
    let (mut again, _) = server.visitor(Some(token)).await;
    let (_, ack) = again.post(first, "still here").await;
    assert!(matches!(ack, ServerFrame::Ack { .. }), "{ack:?}");
}

#[tokio::test]
async fn a_message_flood_is_refused_with_the_message_id_and_the_connection_closed() {
    let server = TestServer::start_with(|c| c.messages_per_minute_per_connection = 5).await;
    let (mut visitor, session) = server.visitor(None).await;
    let Session::Visitor { token, .. } = session else {
        panic!("visitor")
    };
    let conversation = new_conversation();
    for n in 0..5 {
        let (_, ack) = visitor.post(conversation, &format!("message {n}")).await;
        assert!(matches!(ack, ServerFrame::Ack { .. }), "{ack:?}");
    }
    let (id, reply) = visitor.post(conversation, "one too many").await;
    let ServerFrame::Error {
        code, message_id, ..
    } = &reply
    else {
        panic!("refused: {reply:?}")
    };
    assert_eq!((*code, *message_id), (ErrorCode::TooManyRequests, Some(id)));
    assert!(code.retryable(), "the client keeps it in its outbox");
    assert_eq!(visitor.closed().await, Some(1008));
    let messages = rows(&server, "messages");
    // Sent again after reconnecting, as the client's outbox does, it is stored once.
    let (mut again, _) = server.visitor(Some(token)).await;
    again
        .send(&ClientFrame::Send {
            conversation_id: conversation,
            message_id: id,
            body: "one too many".into(),
            intake: None,
            attachment: None,
            private: false,
        })
        .await;
    let ack = again.recv().await;
    assert!(matches!(ack, ServerFrame::Ack { .. }), "{ack:?}");
    assert_eq!(rows(&server, "messages"), messages + 1);
}

/// Counts the typing notices `operator` receives within `within`.
async fn typing_seen(operator: &mut Client, within: Duration) -> usize {
    let deadline = Instant::now() + within;
    let mut seen = 0;
    while let Ok(Ok(text)) = tokio::time::timeout_at(deadline.into(), async {
        Ok::<_, ()>(operator.recv_text().await)
    })
    .await
    {
        if text.contains("\"type\":\"typing\"") {
            seen += 1;
        }
    }
    seen
}

#[tokio::test]
async fn a_typing_flood_is_coalesced_and_limited_and_the_console_stays() {
    let server = TestServer::start_with(|c| c.typing_per_minute_per_connection = 10).await;
    let (mut operator, _) = server.operator("alice@example.com").await;
    let (mut visitor, _) = server.visitor(None).await;
    let conversation = new_conversation();
    visitor.post(conversation, "hi").await;
    // A thousand "still typing": one reaches the operator.
    for _ in 0..1000 {
        visitor
            .send(&ClientFrame::Typing {
                conversation_id: conversation,
                typing: true,
            })
            .await;
    }
    let seen = typing_seen(&mut operator, Duration::from_millis(700)).await;
    assert_eq!(seen, 1, "repeats are coalesced");
    // Alternating start and stop: at most the per-minute limit.
    for n in 0..200 {
        visitor
            .send(&ClientFrame::Typing {
                conversation_id: conversation,
                typing: n % 2 == 0,
            })
            .await;
    }
    let seen = typing_seen(&mut operator, Duration::from_millis(700)).await;
    assert!(
        seen <= 10,
        "{seen} typing notices passed a limit of 10 a minute"
    );
    // Both connections are still served.
    for client in [&mut visitor, &mut operator] {
        client.send(&ClientFrame::Ping { nonce: 1 }).await;
        let pong = client
            .recv_until(|f| matches!(f, ServerFrame::Pong { .. }).then_some(()))
            .await;
        assert_eq!(pong, ());
    }
}

#[tokio::test]
async fn connections_per_address_and_in_total_are_capped_with_plain_http_answers() {
    let server = TestServer::start_with(|c| {
        c.max_connections_per_address = 3;
        c.max_connections = 5;
    })
    .await;
    let url = format!("ws://{}{}", server.address, protocol::WS_PATH);
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(server.connect().await);
    }
    let refused = tokio_tungstenite::connect_async(url.as_str()).await;
    let Err(tokio_tungstenite::tungstenite::Error::Http(response)) = refused else {
        panic!("refused over HTTP: {refused:?}")
    };
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    // Another address (127.0.0.2 is loopback too) gets the last places, then nobody does.
    let other = || async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let stream = socket.connect(server.address).await.unwrap();
        tokio_tungstenite::client_async(url.as_str(), stream).await
    };
    let mut held_elsewhere = Vec::new();
    for _ in 0..2 {
        held_elsewhere.push(other().await.expect("a place for another address"));
    }
    let full = other().await;
    let Err(tokio_tungstenite::tungstenite::Error::Http(response)) = full else {
        panic!("the deployment is full: {full:?}")
    };
    assert_eq!(response.status(), 503);
    // A closed connection gives its place back.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(tokio_tungstenite::connect_async(url.as_str()).await.is_ok());
}

#[tokio::test]
async fn a_welcomed_connection_that_goes_silent_is_closed() {
    let server = TestServer::start_with(|c| c.idle_timeout_secs = 5).await;
    let (mut visitor, _) = server.visitor(None).await;
    let started = Instant::now();
    assert_eq!(
        visitor.closed_within(Duration::from_secs(10)).await,
        Some(1008)
    );
    assert!(started.elapsed() >= Duration::from_secs(4));
}

#[tokio::test]
async fn a_frame_beyond_twice_the_largest_legitimate_one_drops_the_connection_unread() {
    let server = TestServer::start_with(|c| c.max_message_bytes = 100).await;
    let (mut visitor, _) = server.visitor(None).await;
    // 100 bytes of message allow frames of 1,224 bytes; the connection buffers at most 2,448.
    visitor
        .send_text(format!(
            r#"{{"type":"send","body":"{}"}}"#,
            "z".repeat(3_000)
        ))
        .await;
    assert_ne!(
        visitor.closed().await,
        None.or(Some(1000)),
        "closed, not served"
    );
    assert_eq!(rows(&server, "messages"), 0);
}

/// The answer to a tokenless `hello` arriving with `X-Forwarded-For: forwarded`.
async fn hello_forwarded_for(server: &TestServer, forwarded: &str) -> ServerFrame {
    let header = format!("X-Forwarded-For: {forwarded}\r\n");
    let mut client = server
        .connect_with_headers(Some(support::ORIGIN.as_bytes()), &header)
        .await;
    client.send(&visitor_hello("acme", None)).await;
    client.recv().await
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_limited_and_elsewhere_the_header_is_ignored(
) {
    let behind_proxy = TestServer::start_with(|c| {
        c.new_visitors_per_minute_per_address = 2;
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    for _ in 0..2 {
        let reply = hello_forwarded_for(&behind_proxy, "198.51.100.7, 203.0.113.1").await;
        assert!(matches!(reply, ServerFrame::Welcome { .. }), "{reply:?}");
    }
    // The same client again (whatever it claims further left), and then another client.
    let reply = hello_forwarded_for(&behind_proxy, "192.0.2.99, 203.0.113.1").await;
    assert!(too_many(&reply), "{reply:?}");
    let reply = hello_forwarded_for(&behind_proxy, "203.0.113.2").await;
    assert!(matches!(reply, ServerFrame::Welcome { .. }), "{reply:?}");

    // Without a trusted proxy, a client cannot pick its own address.
    let direct = TestServer::start_with(|c| c.new_visitors_per_minute_per_address = 2).await;
    for n in 0..3 {
        let reply = hello_forwarded_for(&direct, &format!("203.0.113.{n}")).await;
        assert_eq!(too_many(&reply), n == 2, "{reply:?}");
    }
}
