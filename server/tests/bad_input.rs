//! Every kind of bad input gets a clear error and stores nothing.

mod support;

use axum::http::StatusCode;
use protocol::{Auth, ClientFrame, ErrorCode, ServerFrame, Session, SiteId, PROTOCOL_VERSION};
use support::{new_conversation, TestServer};

fn error_code(frame: &ServerFrame) -> ErrorCode {
    match frame {
        ServerFrame::Error { code, .. } => *code,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn malformed_unknown_and_premature_frames_are_answered_and_the_socket_stays_usable() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    client.send_text("{\"type\":\"send\"".into()).await;
    assert_eq!(error_code(&client.recv().await), ErrorCode::Malformed);
    client
        .send_text(r#"{"type":"launch_rockets"}"#.into())
        .await;
    assert_eq!(error_code(&client.recv().await), ErrorCode::UnknownFrame);
    client
        .send(&ClientFrame::Sync {
            conversation_id: new_conversation(),
            after_seq: 0,
        })
        .await;
    assert_eq!(error_code(&client.recv().await), ErrorCode::HelloRequired);
    client
        .send(&ClientFrame::Hello {
            protocol: PROTOCOL_VERSION,
            auth: Auth::Visitor {
                site_id: SiteId("acme".into()),
                token: None,
                user: None,
            },
            page_url: None,
            context: None,
        })
        .await;
    assert!(matches!(client.welcome().await, Session::Visitor { .. }));
    client
        .send_text(
            r#"{"type":"send","conversation_id":"nope","message_id":"nope","body":"x"}"#.into(),
        )
        .await;
    assert_eq!(error_code(&client.recv().await), ErrorCode::Malformed);
    let (_, ack) = client.post(new_conversation(), "still works").await;
    assert!(matches!(ack, ServerFrame::Ack { .. }));
}

#[tokio::test]
async fn an_old_client_is_told_to_reload_and_disconnected() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    client
        .send_text(r#"{"type":"hello","protocol":0,"site":"acme"}"#.into())
        .await;
    let frame = client.recv().await;
    assert_eq!(error_code(&frame), ErrorCode::UnsupportedProtocol);
    let ServerFrame::Error { message, .. } = frame else {
        unreachable!()
    };
    assert!(message.contains("reload"), "{message}");
    assert_eq!(client.closed().await, Some(1008));
}

#[tokio::test]
async fn empty_oversized_and_foreign_messages_are_refused_and_not_stored() {
    let server = TestServer::start_with(|c| c.max_message_bytes = 100).await;
    let (mut visitor, _) = server.visitor(None).await;
    let conversation = new_conversation();
    let (_, empty) = visitor.post(conversation, "  \n ").await;
    assert_eq!(error_code(&empty), ErrorCode::EmptyMessage);
    let (_, large) = visitor.post(conversation, &"x".repeat(101)).await;
    assert_eq!(error_code(&large), ErrorCode::TooLarge);
    // A frame beyond any legitimate size (but within twice that) is refused before it is
    // parsed, with a clear error.
    visitor
        .send_text(format!(
            r#"{{"type":"send","body":"{}"}}"#,
            "y".repeat(1_500)
        ))
        .await;
    assert_eq!(error_code(&visitor.recv().await), ErrorCode::TooLarge);
    // None of it opened the conversation.
    visitor
        .send(&ClientFrame::Sync {
            conversation_id: conversation,
            after_seq: 0,
        })
        .await;
    assert_eq!(error_code(&visitor.recv().await), ErrorCode::NotFound);

    let (_, ack) = visitor.post(conversation, &"x".repeat(100)).await;
    assert!(matches!(ack, ServerFrame::Ack { .. }));
    let (mut intruder, _) = server.visitor(None).await;
    let (_, foreign) = intruder.post(conversation, "let me in").await;
    assert_eq!(error_code(&foreign), ErrorCode::Forbidden);
    intruder
        .send(&ClientFrame::Sync {
            conversation_id: conversation,
            after_seq: 0,
        })
        .await;
    assert_eq!(error_code(&intruder.recv().await), ErrorCode::Forbidden);
    intruder
        .send(&ClientFrame::Typing {
            conversation_id: conversation,
            typing: true,
        })
        .await;
    assert_eq!(error_code(&intruder.recv().await), ErrorCode::Forbidden);
    intruder
        .send(&ClientFrame::Accept {
            conversation_id: conversation,
        })
        .await;
    assert_eq!(error_code(&intruder.recv().await), ErrorCode::Forbidden);
}

#[tokio::test]
async fn forged_expired_and_foreign_site_tokens_are_refused() {
    let server = TestServer::start().await;
    let signer = server.state.signer.clone();
    let visitor = protocol::VisitorId(uuid::Uuid::now_v7());
    let cases = [
        (
            "forged",
            server::auth::TokenSigner::new(b"another secret!!").issue(
                &SiteId("acme".into()),
                visitor,
                i64::MAX / 2,
            ),
        ),
        ("expired", signer.issue(&SiteId("acme".into()), visitor, 1)),
        ("garbage", "not-a-token".to_owned()),
    ];
    for (case, token) in cases {
        let mut client = server.connect().await;
        client
            .send(&ClientFrame::Hello {
                protocol: PROTOCOL_VERSION,
                auth: Auth::Visitor {
                    site_id: SiteId("acme".into()),
                    token: Some(token),
                    user: None,
                },
                page_url: None,
                context: None,
            })
            .await;
        assert_eq!(
            error_code(&client.recv().await),
            ErrorCode::Unauthorized,
            "{case}"
        );
        assert_eq!(client.closed().await, Some(1008), "{case}");
    }
    let mut client = server.connect().await;
    client
        .send(&ClientFrame::Hello {
            protocol: PROTOCOL_VERSION,
            auth: Auth::Operator {
                token: "made-up".into(),
                presence: None,
            },
            page_url: None,
            context: None,
        })
        .await;
    assert_eq!(error_code(&client.recv().await), ErrorCode::Unauthorized);
    let mut client = server.connect().await;
    client
        .send(&ClientFrame::Hello {
            protocol: PROTOCOL_VERSION,
            auth: Auth::Visitor {
                site_id: SiteId("nope".into()),
                token: None,
                user: None,
            },
            page_url: None,
            context: None,
        })
        .await;
    // The same answer as for a page the site does not allow (below), so site ids cannot be
    // probed from outside.
    assert_eq!(error_code(&client.recv().await), ErrorCode::Forbidden);
}

#[tokio::test]
async fn a_page_from_another_origin_cannot_open_a_visitor_session() {
    let server = TestServer::start().await;
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{}/v1/ws",
            server.address
        ))
        .unwrap();
    request
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let mut client = support::Client { socket };
    client
        .send(&ClientFrame::Hello {
            protocol: PROTOCOL_VERSION,
            auth: Auth::Visitor {
                site_id: SiteId("acme".into()),
                token: None,
                user: None,
            },
            page_url: None,
            context: None,
        })
        .await;
    assert_eq!(error_code(&client.recv().await), ErrorCode::Forbidden);
}

#[tokio::test]
async fn http_errors_are_json_with_the_right_status() {
    let server = TestServer::start_with(|c| c.max_body_bytes = 1024).await;
    let wrong =
        serde_json::json!({ "email": "alice@example.com", "password": "wrong" }).to_string();
    let (status, body) = server
        .http("POST", "/v1/operators/login", None, Some(wrong))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let unknown = serde_json::json!({ "email": "nobody@example.com", "password": "x" }).to_string();
    assert_eq!(
        server
            .http("POST", "/v1/operators/login", None, Some(unknown))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = server
        .http(
            "POST",
            "/v1/operators/login",
            None,
            Some("{\"email\":".into()),
        )
        .await;
    assert_eq!(
        (status.is_client_error(), body["error"].as_str()),
        (true, Some("malformed"))
    );
    let huge = serde_json::json!({ "email": "a", "password": "p".repeat(5000) }).to_string();
    let (status, body) = server
        .http("POST", "/v1/operators/login", None, Some(huge))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large"))
    );
    let (status, body) = server.http("GET", "/v1/conversations", None, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let (status, _) = server
        .http("GET", "/v1/conversations", Some("forged"), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = server.http("GET", "/v1/no-such-thing", None, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}

#[tokio::test]
async fn a_visitor_token_reads_only_its_own_conversation_and_never_the_inbox() {
    let server = TestServer::start().await;
    let (mut owner, session) = server.visitor(None).await;
    let Session::Visitor {
        token: owner_token, ..
    } = session
    else {
        panic!()
    };
    let conversation = new_conversation();
    owner.post(conversation, "private").await;
    let (_, session) = server.visitor(None).await;
    let Session::Visitor {
        token: other_token, ..
    } = session
    else {
        panic!()
    };

    let path = format!("/v1/conversations/{conversation}/messages");
    let (status, body) = server.http("GET", &path, Some(&owner_token), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body[0]["body"], "private");
    let (status, body) = server.http("GET", &path, Some(&other_token), None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (status, _) = server
        .http("GET", "/v1/conversations", Some(&owner_token), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let login = server.login("bob@example.com").await;
    let (status, body) = server
        .http("GET", "/v1/conversations", Some(&login.token), None)
        .await;
    assert_eq!(
        (status, body.as_array().map(Vec::len)),
        (StatusCode::OK, Some(1))
    );
    assert_eq!(
        server
            .http("POST", "/v1/operators/logout", Some(&login.token), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        server
            .http("GET", "/v1/conversations", Some(&login.token), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn health_reports_a_writable_database() {
    let server = TestServer::start().await;
    let (status, body) = server.http("GET", "/health", None, None).await;
    assert_eq!((status, body["ok"].as_bool()), (StatusCode::OK, Some(true)));
    server.state.store.shutdown();
    // A probe's answer is reused for a quarter of a second.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (status, body) = server.http("GET", "/health", None, None).await;
    assert_eq!(
        (status, body["ok"].as_bool()),
        (StatusCode::SERVICE_UNAVAILABLE, Some(false))
    );
}

#[tokio::test]
async fn assets_are_served_with_the_wasm_type_compression_and_cache_headers() {
    let assets = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(assets.path().join("widget")).unwrap();
    std::fs::write(assets.path().join("widget/widget_bg.wasm"), vec![0u8; 4096]).unwrap();
    let dir = assets.path().to_owned();
    let server = TestServer::start_with(move |c| c.assets_dir = Some(dir)).await;
    let request = axum::http::Request::get("/widget/widget_bg.wasm")
        .header("accept-encoding", "gzip")
        .header("origin", support::ORIGIN)
        .body(axum::body::Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(server::app(server.state.clone()), request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(headers["content-type"], "application/wasm");
    assert_eq!(headers["content-encoding"], "gzip");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn parameters_not_understood_are_refused_as_api_errors() {
    // Found by schemathesis: axum's own rejections are plain text; every refusal must be an
    // `ApiError` naming what was not understood.
    let server = TestServer::start().await;
    let token = server.login("alice@example.com").await.token;
    for path in [
        "/v1/conversations/00000000-0000-7000-8000-000000000000/messages?after_seq=-1",
        "/v1/admin/sites/%FF%FE",
        "/v1/roster?site=%FF",
    ] {
        let (status, json) = server.http("GET", path, Some(&token), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {json}");
        assert_eq!(json["error"], "malformed", "{path}: {json}");
        assert!(
            json["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{path}: {json}"
        );
    }
}
