//! What the deployment accepts from clients beyond size and format: no invisible characters that
//! disguise a message, no secrets from the visitor's page address in front of operators, and no
//! parsing for callers without the moderator's secret.

mod support;

use axum::http::StatusCode;
use protocol::{ErrorCode, ServerFrame, Session};
use support::{new_conversation, TestServer, ORIGIN};

#[tokio::test]
async fn a_message_with_a_direction_override_is_refused_clearly_and_not_stored() {
    let server = TestServer::start().await;
    let (mut visitor, _) = server.visitor(None).await;
    let conversation = new_conversation();
    let (_, reply) = visitor.post(conversation, "invoice\u{202E}fdp.exe").await;
    let ServerFrame::Error { code, message, .. } = reply else {
        panic!("refused, got {reply:?}");
    };
    assert_eq!(code, ErrorCode::Malformed);
    assert!(message.contains("U+202E"), "{message}");
    // Nothing was stored: not even the conversation the message would have opened.
    let stored = server
        .state
        .store
        .read(move |r| r.conversation(conversation))
        .await
        .unwrap();
    assert!(stored.is_none());
    // Line breaks and any script are fine.
    let (_, reply) = visitor.post(conversation, "שלום\nhello\tthere").await;
    assert!(matches!(reply, ServerFrame::Ack { .. }), "{reply:?}");
}

#[tokio::test]
async fn operators_see_the_visitors_page_without_its_query_or_fragment() {
    let server = TestServer::start().await;
    let mut visitor = server.connect().await;
    let page = format!("{ORIGIN}/account/reset?token=s3cret&email=a@b.c#step2");
    visitor
        .send(&support::visitor_hello("acme", Some(page)))
        .await;
    let Session::Visitor { .. } = visitor.welcome().await else {
        panic!("a visitor session");
    };
    let (_, reply) = visitor
        .post(new_conversation(), "I cannot reset my password")
        .await;
    let ServerFrame::Ack { message, .. } = reply else {
        panic!("stored, got {reply:?}");
    };
    let conversation = message.conversation_id;
    let stored = server
        .state
        .store
        .read(move |r| r.conversation(conversation))
        .await
        .unwrap()
        .expect("opened");
    assert_eq!(
        stored.page_url.as_deref(),
        Some(format!("{ORIGIN}/account/reset").as_str())
    );
}

#[tokio::test]
async fn a_role_push_without_the_secret_is_refused_before_its_body_is_read() {
    let server =
        TestServer::start_with(|c| c.moderator_secret = Some("moderator secret for tests".into()))
            .await;
    // A body that does not even parse: without the secret the answer is 401, not a parse error.
    let (status, body) = server
        .http(
            "POST",
            protocol::moderation::ROLE_PATH,
            None,
            Some("{ not json".into()),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = server
        .http(
            "POST",
            protocol::moderation::ROLE_PATH,
            Some("moderator secret for tests"),
            Some("{ not json".into()),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// The answer to a visitor `hello` for `site_id` from a page of `origin`.
async fn hello_answer(server: &TestServer, site_id: &str, origin: &str) -> ServerFrame {
    let mut client = server.connect_from(origin).await;
    client.send(&support::visitor_hello(site_id, None)).await;
    client.recv().await
}

#[tokio::test]
async fn an_unknown_site_and_a_disallowed_page_get_the_same_answer() {
    let server = TestServer::start().await;
    let unknown = hello_answer(&server, "no-such-site", ORIGIN).await;
    let disallowed = hello_answer(&server, "acme", "https://evil.example").await;
    assert!(
        matches!(
            &unknown,
            ServerFrame::Error {
                code: ErrorCode::Forbidden,
                ..
            }
        ),
        "{unknown:?}"
    );
    assert_eq!(unknown, disallowed, "site ids must not be probeable");
}

#[tokio::test]
async fn visitors_learn_an_operators_name_but_never_their_email_or_role() {
    let server = TestServer::start().await;
    let (mut alice, _) = server.operator("alice@example.com").await;
    let (mut visitor, session) = server.visitor(None).await;
    let Session::Visitor { token, .. } = session else {
        panic!("visitor session")
    };
    let conversation = new_conversation();
    visitor.post(conversation, "hello").await;
    alice
        .send(&protocol::ClientFrame::Accept {
            conversation_id: conversation,
        })
        .await;
    // Everything the accept pushes to the visitor, read as the text on the wire.
    let mut pushed = Vec::new();
    loop {
        let text = visitor.recv_text().await;
        let done = text.contains("\"state\":\"active\"");
        pushed.push(text);
        if done {
            break;
        }
    }
    // The welcome of a returning visitor lists the conversation with its operator too.
    let mut again = server.connect().await;
    again
        .send(&protocol::ClientFrame::Hello {
            protocol: protocol::PROTOCOL_VERSION,
            auth: protocol::Auth::Visitor {
                site_id: protocol::SiteId("acme".into()),
                token: Some(token),
                user: None,
            },
            page_url: None,
            context: None,
        })
        .await;
    pushed.push(again.recv_text().await);
    let all = pushed.concat();
    assert!(all.contains("\"name\":\"Alice\""), "{all}");
    assert!(!all.contains("alice@example.com"), "{all}");
    assert!(!all.contains("\"role\":\"a"), "{all}");
}
