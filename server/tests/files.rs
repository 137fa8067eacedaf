//! Files sent with messages: uploaded (limits, types, who may), carried by a message, served to
//! the conversation's participants only (images inline, everything else as a download, never
//! sniffed), and replicated: the peer has the file before it confirms the message.

mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use protocol::conversation::Attachment;
use protocol::{ClientFrame, ErrorCode, MessageId, ServerFrame, Session};
use support::{new_conversation, Client, TestServer};
use tower::ServiceExt;

/// A one-pixel PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0, 0, 0,
    1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89, 0, 0, 0, 0x0d, 0x49, 0x44, 0x41, 0x54,
    0x78, 0x9c, 0x63, 0, 1, 0, 0, 5, 0, 1, 0x0d, 0x0a, 0x2d, 0xb4, 0, 0, 0, 0, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];

/// A request through the router; returns status, headers and body.
async fn call(
    server: &TestServer,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let response = server::app(server.state.clone())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 64 << 20)
        .await
        .unwrap()
        .to_vec();
    (status, headers, body)
}

/// Uploads `bytes` as `content_type` named `name` with `token`.
async fn upload(
    server: &TestServer,
    token: Option<&str>,
    content_type: &str,
    name: &str,
    bytes: &[u8],
) -> (StatusCode, serde_json::Value) {
    let mut request = Request::post("/v1/files")
        .header(header::CONTENT_TYPE, content_type)
        .header("x-file-name", name);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let (status, _, body) = call(server, request.body(Body::from(bytes.to_vec())).unwrap()).await;
    (status, serde_json::from_slice(&body).unwrap_or_default())
}

async fn download(
    server: &TestServer,
    token: &str,
    hash: &str,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let request = Request::get(format!("/v1/files/{hash}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    call(server, request).await
}

/// Sends a message carrying `attachment`; returns the reply to it.
async fn send_file(
    client: &mut Client,
    conversation_id: protocol::ConversationId,
    attachment: Attachment,
) -> ServerFrame {
    let message_id = MessageId(uuid::Uuid::now_v7());
    client
        .send(&ClientFrame::Send {
            conversation_id,
            message_id,
            body: String::new(),
            intake: None,
            attachment: Some(attachment),

            private: false,
        })
        .await;
    client.reply_to(message_id).await
}

fn token_of(session: &Session) -> String {
    match session {
        Session::Visitor { token, .. } => token.clone(),
        other => panic!("a visitor's session, not {other:?}"),
    }
}

#[tokio::test]
async fn files_are_checked_carried_and_served_to_the_participants_only() {
    let server = TestServer::start_with(|c| c.max_file_bytes = 64 * 1024).await;
    let (mut visitor, session) = server.visitor(None).await;
    let token = token_of(&session);

    // Who may upload, and what.
    assert_eq!(
        upload(&server, None, "image/png", "dot.png", PNG).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = upload(&server, Some(&token), "text/html", "page.html", b"<script>").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    let big = vec![7u8; 64 * 1024 + 1];
    let (status, body) = upload(&server, Some(&token), "application/pdf", "big.pdf", &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"], "too_large", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("64 KB"),
        "{body}"
    );
    let (status, body) = upload(&server, Some(&token), "image/png", "dot%20one.png", PNG).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let image: Attachment = serde_json::from_value(body).unwrap();
    assert_eq!(image.name, "dot one.png");
    assert_eq!(image.size, PNG.len() as u64);
    assert_eq!(image.hash, server::files::hash_of(PNG));
    let pdf_bytes = b"%PDF-1.4 a tiny document";
    let (_, body) = upload(
        &server,
        Some(&token),
        "application/pdf",
        "offer.pdf",
        pdf_bytes,
    )
    .await;
    let pdf: Attachment = serde_json::from_value(body).unwrap();

    // A message carries them; a reference to a file not stored here, or lying about its size,
    // is refused and stores nothing.
    let conversation = new_conversation();
    let missing = Attachment {
        hash: "0".repeat(64),
        ..image.clone()
    };
    let refused = send_file(&mut visitor, conversation, missing).await;
    assert!(
        matches!(
            refused,
            ServerFrame::Error {
                code: ErrorCode::NotFound,
                ..
            }
        ),
        "{refused:?}"
    );
    let lying = Attachment {
        size: 1,
        ..image.clone()
    };
    let refused = send_file(&mut visitor, conversation, lying).await;
    assert!(
        matches!(
            refused,
            ServerFrame::Error {
                code: ErrorCode::Malformed,
                ..
            }
        ),
        "{refused:?}"
    );
    assert!(server
        .state
        .store
        .read(move |r| r.conversation(conversation))
        .await
        .unwrap()
        .is_none());
    let acked = send_file(&mut visitor, conversation, image.clone()).await;
    let ServerFrame::Ack { message, .. } = acked else {
        panic!("{acked:?}")
    };
    assert_eq!(message.attachment.as_ref(), Some(&image));
    send_file(&mut visitor, conversation, pdf.clone()).await;

    // The operator sees the file in the inbox preview and may download it.
    let (_alice, session) = server.operator("alice@example.com").await;
    let Session::Operator { inbox, .. } = session else {
        panic!("operator session")
    };
    assert_eq!(inbox[0].last_message.as_deref(), Some("📎 offer.pdf"));
    let alice = server.login("alice@example.com").await.token;

    // Served: the image inline as itself, the PDF as a download, neither sniffed.
    let (status, headers, bytes) = download(&server, &token, &image.hash).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, PNG);
    assert_eq!(headers[header::CONTENT_TYPE], "image/png");
    assert!(headers[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .starts_with("inline"));
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let (status, headers, _) = download(&server, &alice, &pdf.hash).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/octet-stream");
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "attachment; filename*=UTF-8''offer.pdf"
    );
    // Not to another visitor, nor to an agent who does not serve the site.
    let (_, stranger) = server.visitor(None).await;
    assert_eq!(
        download(&server, &token_of(&stranger), &image.hash).await.0,
        StatusCode::NOT_FOUND
    );
    server
        .restrict_operator("bob@example.com", &["elsewhere"])
        .await;
    let bob = server.login("bob@example.com").await.token;
    assert_eq!(
        download(&server, &bob, &image.hash).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        download(&server, &token, "../../secret").await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_file_is_on_both_deployments_before_its_message_is_confirmed_replicated() {
    let (primary, redundant) = TestServer::start_pair().await;
    support::converged(&primary, &redundant).await;
    let (mut visitor, session) = primary.visitor(None).await;
    let token = token_of(&session);
    let (status, body) = upload(&primary, Some(&token), "image/png", "dot.png", PNG).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let image: Attachment = serde_json::from_value(body).unwrap();
    assert_eq!(redundant.state.files.size(&image.hash), None);
    let conversation = new_conversation();
    let ServerFrame::Ack { message_id, .. } =
        send_file(&mut visitor, conversation, image.clone()).await
    else {
        panic!("ack")
    };
    let confirmed = visitor
        .recv_until(|f| match f {
            ServerFrame::Replicated { message_ids } => Some(message_ids),
            _ => None,
        })
        .await;
    assert!(confirmed.contains(&message_id));
    assert_eq!(
        redundant.state.files.size(&image.hash),
        Some(PNG.len() as u64),
        "confirmed only once the peer has the file"
    );
    // The other deployment serves it to the visitor (their token works there too).
    let (status, _, bytes) = download(&redundant, &token, &image.hash).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, PNG);
    // The peer's file route needs the replication secret.
    let request = Request::get(format!("/v1/replication/files/{}", image.hash))
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&primary, request).await.0, StatusCode::UNAUTHORIZED);
    support::converged(&primary, &redundant).await;
}

#[tokio::test]
async fn uploads_are_limited_per_address() {
    let server = TestServer::start_with(|c| c.uploads_per_minute_per_address = 2).await;
    let (_visitor, session) = server.visitor(None).await;
    let token = token_of(&session);
    for _ in 0..2 {
        assert_eq!(
            upload(&server, Some(&token), "image/png", "dot.png", PNG)
                .await
                .0,
            StatusCode::CREATED
        );
    }
    let (status, body) = upload(&server, Some(&token), "image/png", "dot.png", PNG).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
}

#[tokio::test]
async fn a_sites_file_rules_narrow_the_deployments_for_uploads_and_messages_and_reach_the_apps() {
    let server = TestServer::start().await;
    let admin = server.login("alice@example.com").await.token;
    let put_forms = |files: serde_json::Value| {
        let mut forms = serde_json::to_value(protocol::admin::SiteForms::default()).unwrap();
        forms["files"] = files;
        let (server, admin) = (&server, admin.clone());
        async move {
            server
                .http(
                    "PUT",
                    "/v1/admin/sites/acme/forms",
                    Some(&admin),
                    Some(forms.to_string()),
                )
                .await
        }
    };
    // Rules that are not rules are refused, naming the field.
    let (status, body) =
        put_forms(serde_json::json!({"max_bytes": 1024, "types": ["not a type"]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "files.types");
    let (status, body) = put_forms(serde_json::json!({"max_bytes": 0, "types": []})).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("files.max_bytes"))
    );
    let (status, body) = put_forms(
        serde_json::json!({"max_bytes": 1024, "types": ["image/png", "application/x-unknown"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The widget is told what applies: the smaller size, the types both allow.
    let request = Request::get("/v1/sites/acme/widget-config")
        .body(Body::empty())
        .unwrap();
    let (_, _, body) = call(&server, request).await;
    let config: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        config["files"],
        serde_json::json!({"max_bytes": 1024, "types": ["image/png"]})
    );

    // A visitor's uploads keep the site's rules.
    let (mut visitor, session) = server.visitor(None).await;
    let token = token_of(&session);
    let pdf = b"%PDF-1.4 a tiny document";
    let (status, _) = upload(&server, Some(&token), "application/pdf", "a.pdf", pdf).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, body) = upload(&server, Some(&token), "image/png", "big.png", &[1; 2048]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body["message"].as_str().unwrap().contains("1 KB"), "{body}");
    let conversation = new_conversation();
    let (_, body) = upload(&server, Some(&token), "image/png", "dot.png", PNG).await;
    let image: Attachment = serde_json::from_value(body).unwrap();
    let acked = send_file(&mut visitor, conversation, image).await;
    assert!(matches!(acked, ServerFrame::Ack { .. }), "{acked:?}");

    // An operator's upload is checked against the deployment's rules (which site it is for is
    // known only when it is sent); the message carrying it keeps the site's, and stores nothing.
    let (mut alice, session) = server.operator("alice@example.com").await;
    let Session::Operator { files, .. } = session else {
        panic!("operator session")
    };
    assert_eq!(files, Some(server.state.config.file_rules()));
    alice
        .send(&ClientFrame::Accept {
            conversation_id: conversation,
        })
        .await;
    let (status, body) = upload(&server, Some(&admin), "application/pdf", "a.pdf", pdf).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let document: Attachment = serde_json::from_value(body).unwrap();
    let refused = send_file(&mut alice, conversation, document).await;
    let ServerFrame::Error { code, message, .. } = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(code, ErrorCode::Forbidden);
    assert!(message.contains("application/pdf"), "{message}");
    let stored = server
        .state
        .store
        .read(move |r| r.messages_after(conversation, 0))
        .await
        .unwrap();
    assert!(
        stored
            .iter()
            .all(|m| m.attachment.as_ref().map(|a| a.content_type.as_str())
                != Some("application/pdf"))
    );
}

#[tokio::test]
async fn the_file_routes_answer_pages_of_any_origin_with_a_token() {
    let server = TestServer::start().await;
    let request = Request::builder()
        .method("OPTIONS")
        .uri("/v1/files")
        .header(header::ORIGIN, "https://shop.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization,content-type,x-file-name",
        )
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = call(&server, request).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let allowed = headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("x-file-name") && allowed.contains("authorization"));
    // The peer's route is not for browsers.
    let request = Request::builder()
        .method("OPTIONS")
        .uri(format!("/v1/replication/files/{}", "0".repeat(64)))
        .header(header::ORIGIN, "https://shop.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
        .body(Body::empty())
        .unwrap();
    let (_, headers, _) = call(&server, request).await;
    assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
}
