//! Two real deployments linked over the network: everything replicates in both directions, a
//! visitor on one and an operator on the other chat live, and a deployment that was down catches
//! up from its cursor.

mod support;

use protocol::{ClientFrame, ConversationState, ServerFrame, Session};
use std::time::Duration;
use support::{converged, new_conversation, TestServer};

#[tokio::test]
async fn operators_sites_and_visitor_tokens_work_on_both_deployments() {
    let (primary, redundant) = TestServer::start_pair().await;
    // The site and the operators were created on the primary only.
    converged(&primary, &redundant).await;
    let (mut operator, session) = redundant.operator("alice@example.com").await;
    assert!(matches!(session, Session::Operator { .. }));
    // A visitor token issued by the primary is accepted by the redundant deployment.
    let (mut visitor, session) = primary.visitor(None).await;
    let Session::Visitor {
        token, visitor_id, ..
    } = session
    else {
        panic!()
    };
    let (_, session) = redundant.visitor(Some(token)).await;
    let Session::Visitor {
        visitor_id: same, ..
    } = session
    else {
        panic!()
    };
    assert_eq!(same, visitor_id);
    // And an operator session created on one side is valid on the other.
    let login = primary.login("bob@example.com").await;
    converged(&primary, &redundant).await;
    let (status, _) = redundant
        .http("GET", "/v1/conversations", Some(&login.token), None)
        .await;
    assert_eq!(status, axum::http::StatusCode::OK);
    drop((
        operator.socket.close(None).await,
        visitor.socket.close(None).await,
    ));
}

#[tokio::test]
async fn a_visitor_on_one_deployment_chats_live_with_an_operator_on_the_other() {
    let (primary, redundant) = TestServer::start_pair().await;
    converged(&primary, &redundant).await;
    let (mut alice, _) = redundant.operator("alice@example.com").await;
    let (mut visitor, _) = primary.visitor(None).await;
    let conversation = new_conversation();
    let (first, _) = visitor.post(conversation, "Hello from the primary").await;
    // The second acknowledgement level: the sender learns when the peer has the message too.
    let replicated = visitor
        .recv_until(|f| match f {
            ServerFrame::Replicated { message_ids } => Some(message_ids),
            _ => None,
        })
        .await;
    assert_eq!(replicated, vec![first]);
    // Relayed to the operator connected to the redundant deployment.
    let seen = alice.next_message().await;
    assert_eq!(seen.id, first);
    // The conversation exists there now, so the operator can take it and answer.
    alice
        .send(&ClientFrame::Accept {
            conversation_id: conversation,
        })
        .await;
    let active = visitor
        .recv_until(|f| match f {
            ServerFrame::Conversation { conversation }
                if conversation.state == ConversationState::Active =>
            {
                Some(conversation)
            }
            _ => None,
        })
        .await;
    assert_eq!(active.operator.unwrap().name, "Alice");
    // Typing travels across the deployments too, both ways.
    alice
        .send(&ClientFrame::Typing {
            conversation_id: conversation,
            typing: true,
        })
        .await;
    let typing = visitor
        .recv_until(|f| match f {
            ServerFrame::Typing { author, typing, .. } => Some((author.kind, typing)),
            _ => None,
        })
        .await;
    assert_eq!(typing, (protocol::AuthorKind::Operator, true));
    visitor
        .send(&ClientFrame::Typing {
            conversation_id: conversation,
            typing: true,
        })
        .await;
    let typing = alice
        .recv_until(|f| match f {
            ServerFrame::Typing { author, typing, .. } => Some((author.kind, typing)),
            _ => None,
        })
        .await;
    assert_eq!(typing, (protocol::AuthorKind::Visitor, true));
    let (reply, ack) = alice
        .post(conversation, "Hello from the redundant side")
        .await;
    assert!(matches!(ack, ServerFrame::Ack { .. }), "{ack:?}");
    let answer = visitor
        .recv_until(|f| match f {
            ServerFrame::Message { message } if message.id == reply => Some(message),
            _ => None,
        })
        .await;
    assert_eq!(answer.body, "Hello from the redundant side");
    converged(&primary, &redundant).await;
}

#[tokio::test]
async fn writes_on_both_sides_converge_and_a_restarted_deployment_catches_up() {
    let (primary, redundant) = TestServer::start_pair().await;
    converged(&primary, &redundant).await;
    let (mut on_primary, _) = primary.visitor(None).await;
    let (mut on_redundant, _) = redundant.visitor(None).await;
    let (a, b) = (new_conversation(), new_conversation());
    for i in 0..20 {
        on_primary.post(a, &format!("primary {i}")).await;
        on_redundant.post(b, &format!("redundant {i}")).await;
    }
    converged(&primary, &redundant).await;

    // The redundant deployment goes away; the primary keeps taking writes.
    let redundant_address = redundant.address;
    let redundant_dir = redundant.shutdown().await;
    for i in 0..300 {
        on_primary
            .post(a, &format!("while the peer was away {i}"))
            .await;
    }
    // It comes back on the same data directory and address and catches up from its cursor.
    let listener = tokio::net::TcpListener::bind(redundant_address)
        .await
        .unwrap();
    let primary_url = format!("http://{}", primary.address);
    let redundant = TestServer::start_on(listener, redundant_dir, false, |c| {
        support::pair_config(c, "redundant", &primary_url)
    })
    .await;
    converged(&primary, &redundant).await;
    let count = |server: &TestServer| {
        let conn =
            rusqlite::Connection::open(server.data_dir.path().join(server::store::DATABASE_FILE))
                .unwrap();
        conn.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get::<_, i64>(0))
            .unwrap()
    };
    assert_eq!(count(&primary), 340);
    assert_eq!(count(&redundant), 340);

    // The status endpoint reports both sides caught up.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, status) = primary
            .http(
                "GET",
                "/v1/replication/status",
                Some("replication secret for tests"),
                None,
            )
            .await;
        if status["peer_reachable"] == true
            && status["inbound_behind"] == 0
            && status["outbound_behind"] == 0
        {
            assert_eq!(status["deployment"], "primary");
            assert_eq!(status["peer"], "redundant");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "status never showed both sides caught up: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_replication_link_refuses_a_wrong_secret() {
    let (primary, _redundant) = TestServer::start_pair().await;
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{}{}",
            primary.address,
            protocol::replication::REPLICATION_PATH
        ))
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", "Bearer wrong".parse().unwrap());
    let refused = tokio_tungstenite::connect_async(request).await;
    let Err(tokio_tungstenite::tungstenite::Error::Http(response)) = refused else {
        panic!("expected a refusal")
    };
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn clients_write_on_both_sides_of_a_cut_link_and_the_deployments_agree_after_it_heals() {
    let (primary, redundant, to_primary, to_redundant) =
        TestServer::start_pair_through_proxies().await;
    converged(&primary, &redundant).await;
    let (mut visitor, session) = primary.visitor(None).await;
    let Session::Visitor { token, .. } = session else {
        panic!()
    };
    let (mut alice, _) = primary.operator("alice@example.com").await;
    let conversation = new_conversation();
    visitor.post(conversation, "before the cut").await;
    alice
        .send(&ClientFrame::Accept {
            conversation_id: conversation,
        })
        .await;
    converged(&primary, &redundant).await;

    to_primary.cut();
    to_redundant.cut();
    // Both sides keep taking writes: the visitor moved to the redundant deployment and resends
    // what it had not seen acknowledged (the same id), then goes on writing there; the operator
    // answers on the primary; another visitor starts a chat on the redundant side.
    let (mut moved, _) = redundant.visitor(Some(token)).await;
    let resent = protocol::MessageId(uuid::Uuid::now_v7());
    let send_resent = ClientFrame::Send {
        conversation_id: conversation,
        message_id: resent,
        body: "sent twice".into(),
        intake: None,
        attachment: None,
        private: false,
    };
    visitor.send(&send_resent).await;
    moved.send(&send_resent).await;
    for i in 0..10 {
        moved
            .post(conversation, &format!("visitor during the cut {i}"))
            .await;
        alice
            .post(conversation, &format!("operator during the cut {i}"))
            .await;
    }
    let (mut newcomer, _) = redundant.visitor(None).await;
    newcomer
        .post(new_conversation(), "a new chat during the cut")
        .await;
    let differences =
        server::store::sync_check::compare(primary.data_dir.path(), redundant.data_dir.path())
            .unwrap();
    assert!(
        !differences.is_empty(),
        "the cut should keep the deployments apart for now"
    );

    to_primary.heal();
    to_redundant.heal();
    converged(&primary, &redundant).await;
    let conn =
        rusqlite::Connection::open(redundant.data_dir.path().join(server::store::DATABASE_FILE))
            .unwrap();
    let copies: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM messages WHERE id = ?1",
            [resent.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(copies, 1);
    let total: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM messages WHERE author_kind <> 'system'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(total, 1 + 1 + 20 + 1);
}

/// Subscribes to `server`'s log as a peer would, saying whether it reads presence, and returns
/// the frame types it is sent within `window`.
async fn frames_sent_to_a_puller(
    server: &TestServer,
    reads_presence: bool,
    window: std::time::Duration,
) -> Vec<String> {
    use futures_util::{SinkExt, StreamExt};
    use protocol::replication::ReplicationFrame;
    use tokio_tungstenite::tungstenite::Message as WsMessage;
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{}{}",
            server.address,
            protocol::replication::REPLICATION_PATH
        ))
        .unwrap();
    request.headers_mut().insert(
        "authorization",
        "Bearer replication secret for tests".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let _greeting = socket.next().await;
    let subscribe = ReplicationFrame::Subscribe {
        deployment: "older".into(),
        after_seq: u64::MAX,
        presence: reads_presence,
        introduction: None,
    };
    socket
        .send(WsMessage::Text(subscribe.encode().into()))
        .await
        .unwrap();
    let mut kinds = Vec::new();
    let deadline = tokio::time::Instant::now() + window;
    while let Ok(Some(Ok(WsMessage::Text(text)))) =
        tokio::time::timeout_at(deadline, socket.next()).await
    {
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        kinds.push(value["type"].as_str().unwrap_or_default().to_owned());
    }
    kinds
}

#[tokio::test]
async fn presence_goes_only_to_pullers_that_read_it() {
    let (primary, _redundant) = TestServer::start_pair().await;
    let (_alice, _) = primary.operator("alice@example.com").await;
    let window = std::time::Duration::from_millis(2_500);
    let new = frames_sent_to_a_puller(&primary, true, window).await;
    assert!(new.iter().any(|k| k == "presence"), "{new:?}");
    // A deployment from before presence would take the frame for a broken link.
    let old = frames_sent_to_a_puller(&primary, false, window).await;
    assert!(!old.iter().any(|k| k == "presence"), "{old:?}");
    assert!(old.iter().any(|k| k == "batch"), "{old:?}");
}

#[tokio::test]
async fn the_returned_events_route_needs_the_secret_and_a_name_that_is_not_its_own() {
    let (primary, redundant) = TestServer::start_pair().await;
    converged(&primary, &redundant).await;
    let secret = Some("replication secret for tests");
    let path = |query: &str| format!("{}?{query}", protocol::replication::RETURNED_PATH);
    let (status, _) = redundant
        .http(
            "GET",
            &path("origin=primary&after=0&below=99999999999999999"),
            None,
            None,
        )
        .await;
    assert_eq!(status, axum::http::StatusCode::UNAUTHORIZED);
    let (status, body) = redundant
        .http("GET", &path("origin=redundant&below=10"), secret, None)
        .await;
    assert_eq!(status, axum::http::StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("own name"),
        "{body}"
    );
    for malformed in [
        "origin=primary",
        "origin=&below=1",
        "origin=primary&below=-1&after=x",
    ] {
        let (status, body) = redundant.http("GET", &path(malformed), secret, None).await;
        assert_eq!(
            status,
            axum::http::StatusCode::BAD_REQUEST,
            "{malformed}: {body}"
        );
    }
    let long = "x".repeat(65);
    let (status, _) = redundant
        .http(
            "GET",
            &path(&format!("origin={long}&below=1")),
            secret,
            None,
        )
        .await;
    assert_eq!(status, axum::http::StatusCode::BAD_REQUEST);
    // The primary's events the redundant deployment applied come back, in pages, and only
    // those below the floor asked for.
    let (status, page) = redundant
        .http(
            "GET",
            &path(&format!("origin=primary&below={}", u64::MAX)),
            secret,
            None,
        )
        .await;
    assert_eq!(status, axum::http::StatusCode::OK, "{page}");
    let events = page["events"].as_array().unwrap();
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| e["origin"] == "primary"));
    assert_eq!(page["done"], true);
    let (_, none) = redundant
        .http("GET", &path("origin=primary&below=1"), secret, None)
        .await;
    assert_eq!(none["events"].as_array().unwrap().len(), 0, "{none}");
}
