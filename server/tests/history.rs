//! History and search: closed conversations found by a word of their messages (full text, on
//! both deployments of a pair), filtered by site, operator, date and rating, paged; search text
//! with full-text syntax is only words; agents see only the sites they serve; transcripts come
//! with their notes to operators only. Bad input gets a clear refusal.

mod support;

use axum::http::StatusCode;
use protocol::history::{HistoryPage, TranscriptPage, HISTORY_PAGE};
use protocol::{ClientFrame, ConversationId, ServerFrame};
use support::{new_conversation, Client, TestServer};

/// A visitor's chat with `words`, accepted by Alice and closed by her; returns its id.
async fn closed_chat(server: &TestServer, alice: &mut Client, words: &str) -> ConversationId {
    let (mut visitor, _) = server.visitor(None).await;
    let conversation = new_conversation();
    visitor.post(conversation, words).await;
    for frame in [
        ClientFrame::Accept {
            conversation_id: conversation,
        },
        ClientFrame::Close {
            conversation_id: conversation,
        },
    ] {
        alice.send(&frame).await;
    }
    alice
        .recv_until(|f| match f {
            ServerFrame::Conversation { conversation: c }
                if c.id == conversation && c.state == protocol::ConversationState::Closed =>
            {
                Some(())
            }
            _ => None,
        })
        .await;
    conversation
}

async fn search(server: &TestServer, token: &str, query: &str) -> (StatusCode, serde_json::Value) {
    server
        .http("GET", &format!("/v1/history{query}"), Some(token), None)
        .await
}

async fn found(server: &TestServer, token: &str, query: &str) -> Vec<ConversationId> {
    let (status, json) = search(server, token, query).await;
    assert_eq!(status, StatusCode::OK, "{query}: {json}");
    let page: HistoryPage = serde_json::from_value(json).unwrap();
    page.conversations.iter().map(|c| c.id).collect()
}

#[tokio::test]
async fn closed_chats_are_found_by_their_words_and_filtered() {
    let server = TestServer::start().await;
    let token = server.login("alice@example.com").await.token;
    let (mut alice, _) = server.operator("alice@example.com").await;
    let refund = closed_chat(
        &server,
        &mut alice,
        "I want a refund for my espresso machine",
    )
    .await;
    let late = closed_chat(
        &server,
        &mut alice,
        "My order is late, crème brûlée missing",
    )
    .await;
    // An open chat is not history.
    let (mut visitor, _) = server.visitor(None).await;
    visitor
        .post(new_conversation(), "refund please, still open")
        .await;

    assert_eq!(found(&server, &token, "?q=refund").await, [refund]);
    assert_eq!(
        found(&server, &token, "?q=espr").await,
        [refund],
        "the last word as a prefix"
    );
    assert_eq!(
        found(&server, &token, "?q=creme%20brulee").await,
        [late],
        "diacritics fold"
    );
    assert_eq!(
        found(&server, &token, "?q=refund%20late").await,
        Vec::<ConversationId>::new()
    );
    assert_eq!(
        found(&server, &token, "").await,
        [late, refund],
        "newest first"
    );
    // Full-text syntax is only words: never an error page.
    for hostile in [
        "%22refund",
        "refund*",
        "NEAR(refund",
        "refund%20OR%20late",
        "body:refund",
        "-refund",
        "%5E",
        "%22%22%22",
    ] {
        let (status, json) = search(&server, &token, &format!("?q={hostile}")).await;
        assert_eq!(status, StatusCode::OK, "{hostile}: {json}");
    }
    // Filters: site, operator, date, rating.
    assert_eq!(found(&server, &token, "?site=acme&q=late").await, [late]);
    let alice_id = server.login("alice@example.com").await.operator.id;
    let bob_id = server.login("bob@example.com").await.operator.id;
    assert_eq!(
        found(&server, &token, &format!("?operator={alice_id}"))
            .await
            .len(),
        2
    );
    assert!(found(&server, &token, &format!("?operator={bob_id}"))
        .await
        .is_empty());
    assert!(found(&server, &token, "?from=99999999999999")
        .await
        .is_empty());
    assert_eq!(found(&server, &token, "?to=99999999999999").await.len(), 2);
    assert!(found(&server, &token, "?rating=good").await.is_empty());
    assert_eq!(found(&server, &token, "?rating=unrated").await.len(), 2);

    // The transcript, with a note, for operators.
    let (status, json) = server
        .http("GET", &format!("/v1/history/{refund}"), Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let transcript: TranscriptPage = serde_json::from_value(json).unwrap();
    assert_eq!(transcript.conversation.id, refund);
    assert!(transcript
        .messages
        .iter()
        .any(|m| m.body.contains("espresso")));

    // Bad input: a clear refusal.
    for (query, status) in [
        (format!("?q={}", "x".repeat(201)), StatusCode::BAD_REQUEST),
        ("?before=nonsense".to_owned(), StatusCode::BAD_REQUEST),
        ("?rating=great".to_owned(), StatusCode::BAD_REQUEST),
        ("?from=10&to=5".to_owned(), StatusCode::BAD_REQUEST),
        ("?site=%3Cx%3E".to_owned(), StatusCode::BAD_REQUEST),
        ("?operator=alice".to_owned(), StatusCode::BAD_REQUEST),
    ] {
        let (got, json) = search(&server, &token, &query).await;
        assert_eq!(got, status, "{query}: {json}");
        assert!(
            json["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{json}"
        );
    }
    let (status, _) = server.http("GET", "/v1/history", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = server
        .http("GET", "/v1/history/not-an-id", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn agents_see_the_history_of_their_sites_only_and_pages_follow_on() {
    let server = TestServer::start().await;
    let (mut alice, _) = server.operator("alice@example.com").await;
    let mut ids = Vec::new();
    for n in 0..HISTORY_PAGE + 3 {
        ids.push(closed_chat(&server, &mut alice, &format!("question number {n}")).await);
    }
    let token = server.login("alice@example.com").await.token;
    let (_, json) = search(&server, &token, "?q=question").await;
    let first: HistoryPage = serde_json::from_value(json).unwrap();
    assert_eq!(first.conversations.len(), HISTORY_PAGE);
    let next = first.next.clone().expect("a next page");
    let (_, json) = search(&server, &token, &format!("?q=question&before={next}")).await;
    let second: HistoryPage = serde_json::from_value(json).unwrap();
    assert_eq!(second.conversations.len(), 3);
    assert_eq!(second.next, None);
    let mut all: Vec<_> = first
        .conversations
        .iter()
        .chain(&second.conversations)
        .map(|c| c.id)
        .collect();
    all.sort();
    ids.sort();
    assert_eq!(all, ids, "every chat once across the pages");

    server
        .restrict_operator("bob@example.com", &["other"])
        .await;
    let agent = server.login("bob@example.com").await.token;
    assert!(found(&server, &agent, "?q=question").await.is_empty());
    let (status, _) = search(&server, &agent, "?site=acme").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = server
        .http(
            "GET",
            &format!("/v1/history/{}", ids[0]),
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another site's chat is not found"
    );
}

#[tokio::test]
async fn both_deployments_answer_the_same_search() {
    let (primary, redundant) = TestServer::start_pair().await;
    let (mut alice, _) = primary.operator("alice@example.com").await;
    let chat = closed_chat(&primary, &mut alice, "the grinder makes a strange noise").await;
    support::converged(&primary, &redundant).await;
    for side in [&primary, &redundant] {
        let token = side.login("alice@example.com").await.token;
        assert_eq!(found(side, &token, "?q=grinder%20noise").await, [chat]);
    }
}
