//! Private notes: written by any operator who serves the conversation's site (assigned or not,
//! in any state), stored once per id, shown to operators, and never sent to the visitor — not
//! live, not in a sync, not in a summary's preview, not over HTTP. Visitors cannot write them.

mod support;

use protocol::{ClientFrame, ConversationId, ErrorCode, MessageId, ServerFrame, Session};
use std::time::Duration;
use support::{new_conversation, Client, TestServer};

/// Sends a private note; returns the deployment's answer.
async fn note(
    client: &mut Client,
    conversation_id: ConversationId,
    id: MessageId,
    body: &str,
) -> ServerFrame {
    client
        .send(&ClientFrame::Send {
            conversation_id,
            message_id: id,
            body: body.into(),
            intake: None,
            attachment: None,
            private: true,
        })
        .await;
    client.reply_to(id).await
}

/// Asserts that `frame` refuses with `code`.
fn refused_with(frame: &ServerFrame, code: ErrorCode) {
    assert!(
        matches!(frame, ServerFrame::Error { code: c, .. } if *c == code),
        "not refused with {code:?}: {frame:?}"
    );
}

/// Every frame the visitor's socket gets within `window`, as text.
async fn frames_within(client: &mut Client, window: Duration) -> Vec<String> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + window;
    while let Ok(text) = tokio::time::timeout_at(deadline, client.recv_text()).await {
        seen.push(text);
    }
    seen
}

#[tokio::test]
async fn notes_reach_operators_and_never_the_visitor() {
    let server = TestServer::start().await;
    let (mut visitor, session) = server.visitor(None).await;
    let Session::Visitor { token, .. } = session else {
        panic!("a visitor's session")
    };
    let conversation = new_conversation();
    visitor.post(conversation, "My order is late").await;
    let (mut alice, _) = server.operator("alice@example.com").await;
    alice
        .send(&ClientFrame::Accept {
            conversation_id: conversation,
        })
        .await;
    let (mut bob, _) = server.operator("bob@example.com").await;

    // Bob, not assigned, writes a note; Alice sees it; resent, it is stored once.
    let id = MessageId(uuid::Uuid::now_v7());
    let secret = "customer threatened a chargeback";
    let acked = note(&mut bob, conversation, id, secret).await;
    let ServerFrame::Ack { message, .. } = acked else {
        panic!("{acked:?}")
    };
    assert!(message.private);
    let seen = alice
        .recv_until(|f| match f {
            ServerFrame::Message { message } if message.id == id => Some(message),
            _ => None,
        })
        .await;
    assert!(seen.private && seen.body == secret);
    let again = note(&mut bob, conversation, id, secret).await;
    assert!(matches!(again, ServerFrame::Ack { .. }), "{again:?}");

    // The visitor hears nothing of it, live or when catching up.
    let live = frames_within(&mut visitor, Duration::from_millis(500)).await;
    assert!(live.iter().all(|f| !f.contains(secret)), "{live:?}");
    visitor
        .send(&ClientFrame::Sync {
            conversation_id: conversation,
            after_seq: 0,
        })
        .await;
    let synced = frames_within(&mut visitor, Duration::from_millis(500)).await;
    assert!(
        synced.iter().any(|f| f.contains("My order is late")),
        "{synced:?}"
    );
    assert!(synced.iter().all(|f| !f.contains(secret)), "{synced:?}");
    let (_, session) = server.visitor(Some(token.clone())).await;
    let Session::Visitor { conversations, .. } = session else {
        panic!("a visitor's session")
    };
    assert_ne!(conversations[0].last_message.as_deref(), Some(secret));
    let path = format!("/v1/conversations/{conversation}/messages");
    let (_, body) = server.http("GET", &path, Some(&token), None).await;
    assert!(!body.to_string().contains(secret), "{body}");
    let alice_token = server.login("alice@example.com").await.token;
    let (_, body) = server.http("GET", &path, Some(&alice_token), None).await;
    assert!(body.to_string().contains(secret), "{body}");

    // Visitors cannot write notes, notes carry no files, and an agent of another site none.
    let refused = note(
        &mut visitor,
        conversation,
        MessageId(uuid::Uuid::now_v7()),
        "hi",
    )
    .await;
    refused_with(&refused, ErrorCode::Forbidden);
    server
        .restrict_operator("bob@example.com", &["elsewhere"])
        .await;
    let (mut outsider, _) = server.operator("bob@example.com").await;
    let refused = note(
        &mut outsider,
        conversation,
        MessageId(uuid::Uuid::now_v7()),
        "x",
    )
    .await;
    refused_with(&refused, ErrorCode::Forbidden);
    // A resent note id may not become a message, nor the reverse.
    let reused = alice.post(conversation, "same id?").await.0;
    let refused = note(&mut alice, conversation, reused, "now a note").await;
    refused_with(&refused, ErrorCode::Conflict);
}
