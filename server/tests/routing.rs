//! Routing: a site that assigns chats automatically gives each waiting chat to an online
//! operator with room, tells the visitors who wait their place in the queue, and assigns the
//! next one when a chat ends. Transfers and admin assignments check who may hand a chat to whom,
//! tell the visitor, and keep the note private. The HTTP routes check roles and limits.

mod support;

use axum::http::StatusCode;
use protocol::routing::{RosterEntry, RoutingMode};
use protocol::{
    ClientFrame, ConversationId, ConversationState, ConversationSummary, ErrorCode, OperatorId,
    ServerFrame, Session,
};
use support::{new_conversation, Client, TestServer};

/// Logs `email` in and returns their session token and operator id.
async fn token_of(server: &TestServer, email: &str) -> (String, OperatorId) {
    let login = server.login(email).await;
    (login.token, login.operator.id)
}

/// Sets the site's routing and each listed operator's capacity, as an admin would.
async fn configure(server: &TestServer, mode: RoutingMode, capacities: &[(OperatorId, u32)]) {
    let (admin, _) = token_of(server, "alice@example.com").await;
    let body = serde_json::json!({ "mode": mode }).to_string();
    let (status, json) = server
        .http(
            "PUT",
            "/v1/admin/sites/acme/routing",
            Some(&admin),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["routing"], mode.as_str());
    for (id, capacity) in capacities {
        let body = serde_json::json!({ "capacity": capacity }).to_string();
        let path = format!("/v1/admin/operators/{id}");
        let (status, json) = server.http("PATCH", &path, Some(&admin), Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{json}");
        assert_eq!(json["capacity"], *capacity);
    }
}

/// The next summary of `conversation` that `pick` accepts.
async fn summary_where(
    client: &mut Client,
    conversation: ConversationId,
    mut pick: impl FnMut(&ConversationSummary) -> bool,
) -> ConversationSummary {
    client
        .recv_until(|f| match f {
            ServerFrame::Conversation { conversation: c } if c.id == conversation && pick(&c) => {
                Some(c)
            }
            _ => None,
        })
        .await
}

/// The next error frame's code and sentence.
async fn refusal(client: &mut Client) -> (ErrorCode, String) {
    client
        .recv_until(|f| match f {
            ServerFrame::Error { code, message, .. } => Some((code, message)),
            _ => None,
        })
        .await
}

fn transfer(conversation_id: ConversationId, to: OperatorId, note: Option<&str>) -> ClientFrame {
    ClientFrame::Transfer {
        conversation_id,
        operator_id: to,
        note: note.map(str::to_owned),
    }
}

#[tokio::test]
async fn waiting_chats_go_to_operators_with_room_and_the_rest_wait_their_turn() {
    let server = TestServer::start().await;
    let (_, alice_id) = token_of(&server, "alice@example.com").await;
    let (_, bob_id) = token_of(&server, "bob@example.com").await;
    configure(
        &server,
        RoutingMode::RoundRobin,
        &[(alice_id, 1), (bob_id, 1)],
    )
    .await;
    let (mut alice, _) = server.operator("alice@example.com").await;
    let (_bob, _) = server.operator("bob@example.com").await;

    let mut visitors = Vec::new();
    for n in 0..3 {
        let (mut visitor, _) = server.visitor(None).await;
        let conversation = new_conversation();
        visitor.post(conversation, &format!("question {n}")).await;
        visitors.push((visitor, conversation));
    }
    // The first two are assigned, one to each operator; the third waits, first in line.
    let mut assignees = Vec::new();
    for (visitor, conversation) in &mut visitors[..2] {
        // The notice comes first, then the summary.
        let joined = visitor.next_message().await;
        assert!(joined.body.ends_with("joined the chat"), "{}", joined.body);
        let active = summary_where(visitor, *conversation, |c| {
            c.state == ConversationState::Active
        })
        .await;
        assert_eq!(active.queue_position, None);
        assignees.push(active.operator.unwrap().id);
    }
    assignees.sort();
    let mut both = vec![alice_id, bob_id];
    both.sort();
    assert_eq!(assignees, both, "one chat each");
    let (third, third_id) = &mut visitors[2];
    // It may first hear a later place (the others still waited when it wrote), then its own.
    let waiting = summary_where(third, *third_id, |c| c.queue_position == Some(1)).await;
    assert_eq!(waiting.state, ConversationState::Waiting);
    assert_eq!(waiting.queue_position, Some(1));
    // A visitor who reconnects is told their place in the welcome too.
    let found = server
        .state
        .store
        .read({
            let id = *third_id;
            move |r| r.conversation(id)
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.queue_position, Some(1));

    // Alice ends her chat: the third chat is hers.
    let alices = visitors
        .iter()
        .take(2)
        .zip(&assignees)
        .map(|((_, c), _)| *c)
        .collect::<Vec<_>>();
    let mut alices_chat = None;
    for c in alices {
        let summary = server
            .state
            .store
            .read(move |r| r.conversation(c))
            .await
            .unwrap()
            .unwrap();
        if summary.operator.as_ref().map(|o| o.id) == Some(alice_id) {
            alices_chat = Some(c);
        }
    }
    alice
        .send(&ClientFrame::Close {
            conversation_id: alices_chat.unwrap(),
        })
        .await;
    let (third, third_id) = &mut visitors[2];
    let assigned = summary_where(third, *third_id, |c| c.state == ConversationState::Active).await;
    assert_eq!(assigned.operator.unwrap().id, alice_id);
    assert_eq!(assigned.queue_position, None);
}

#[tokio::test]
async fn least_busy_routing_skips_operators_who_are_away_or_serve_other_sites() {
    let server = TestServer::start().await;
    let (_, alice_id) = token_of(&server, "alice@example.com").await;
    let (_, bob_id) = token_of(&server, "bob@example.com").await;
    configure(
        &server,
        RoutingMode::LeastBusy,
        &[(alice_id, 0), (bob_id, 0)],
    )
    .await;
    let (mut alice, _) = server.operator("alice@example.com").await;
    alice
        .send(&ClientFrame::Presence {
            state: protocol::Presence::Away,
        })
        .await;
    let (_bob, _) = server.operator("bob@example.com").await;
    // Bob, the only one online, takes both (no limit); Alice, away, none.
    for n in 0..2 {
        let (mut visitor, _) = server.visitor(None).await;
        let conversation = new_conversation();
        visitor.post(conversation, &format!("hello {n}")).await;
        let active = summary_where(&mut visitor, conversation, |c| {
            c.state == ConversationState::Active
        })
        .await;
        assert_eq!(active.operator.unwrap().id, bob_id);
    }
}

#[tokio::test]
async fn a_transfer_moves_the_chat_tells_the_visitor_and_keeps_the_note_private() {
    let server = TestServer::start().await;
    let (_, bob_id) = token_of(&server, "bob@example.com").await;
    let (_, alice_id) = token_of(&server, "alice@example.com").await;
    configure(&server, RoutingMode::Manual, &[(bob_id, 1)]).await;
    let (mut visitor, _) = server.visitor(None).await;
    let conversation = new_conversation();
    visitor.post(conversation, "I need billing help").await;
    let (mut bob, _) = server.operator("bob@example.com").await;
    bob.send(&ClientFrame::Accept {
        conversation_id: conversation,
    })
    .await;
    visitor.next_message().await;
    summary_where(&mut visitor, conversation, |c| {
        c.state == ConversationState::Active
    })
    .await;

    // The visitor cannot hand it over; Alice is not online yet; an unknown operator is not found.
    visitor.send(&transfer(conversation, alice_id, None)).await;
    assert_eq!(refusal(&mut visitor).await.0, ErrorCode::Forbidden);
    bob.send(&transfer(conversation, alice_id, None)).await;
    let (code, why) = refusal(&mut bob).await;
    assert_eq!(
        (code, why.as_str()),
        (ErrorCode::Conflict, "Alice is not online")
    );
    bob.send(&transfer(
        conversation,
        OperatorId(uuid::Uuid::now_v7()),
        None,
    ))
    .await;
    assert_eq!(refusal(&mut bob).await.0, ErrorCode::NotFound);
    bob.send(&transfer(conversation, bob_id, None)).await;
    let (code, why) = refusal(&mut bob).await;
    assert_eq!(
        (code, why.as_str()),
        (ErrorCode::Conflict, "Bob already has this chat")
    );
    let long = "x".repeat(protocol::routing::MAX_TRANSFER_NOTE_BYTES + 1);
    let (mut alice, _) = server.operator("alice@example.com").await;
    bob.send(&transfer(conversation, alice_id, Some(&long)))
        .await;
    assert_eq!(refusal(&mut bob).await.0, ErrorCode::Malformed);

    // With Alice online it moves, the note reaching operators only.
    bob.send(&transfer(
        conversation,
        alice_id,
        Some("wants a refund for May"),
    ))
    .await;
    let notice = visitor.next_message().await;
    assert_eq!(notice.body, "Bob transferred the chat to Alice");
    let moved = summary_where(&mut visitor, conversation, |c| {
        c.operator.as_ref().is_some_and(|o| o.id == alice_id)
    })
    .await;
    assert_eq!(moved.state, ConversationState::Active);
    let note = alice
        .recv_until(|f| match f {
            ServerFrame::Message { message } if message.private => Some(message),
            _ => None,
        })
        .await;
    assert_eq!(note.body, "wants a refund for May");
    let history = server
        .state
        .store
        .read(move |r| r.messages_after_for(conversation, 0, false))
        .await
        .unwrap();
    assert!(history.iter().all(|m| !m.private), "{history:?}");

    // Bob no longer has it: he can neither transfer nor close it; the visitor chats on with Alice.
    bob.send(&transfer(conversation, bob_id, None)).await;
    assert_eq!(refusal(&mut bob).await.0, ErrorCode::Forbidden);
    visitor.post(conversation, "thanks, Alice").await;
    let seen = alice
        .recv_until(|f| match f {
            ServerFrame::Message { message } if message.body == "thanks, Alice" => Some(message),
            _ => None,
        })
        .await;
    assert!(!seen.private);
}

#[tokio::test]
async fn an_admin_assigns_a_waiting_chat_to_anyone_who_serves_the_site_but_agents_only_transfer_to_room(
) {
    let server = TestServer::start().await;
    let (_, bob_id) = token_of(&server, "bob@example.com").await;
    let (_, alice_id) = token_of(&server, "alice@example.com").await;
    configure(&server, RoutingMode::Manual, &[(alice_id, 1)]).await;
    let (mut visitor, _) = server.visitor(None).await;
    let first = new_conversation();
    visitor.post(first, "first").await;
    let second = new_conversation();
    visitor.post(second, "second").await;

    // Alice (admin) assigns the waiting chat to Bob, who is offline: an admin decides.
    let (mut alice, _) = server.operator("alice@example.com").await;
    alice.send(&transfer(first, bob_id, None)).await;
    let notice = visitor.next_message().await;
    assert_eq!(notice.body, "Alice assigned the chat to Bob");
    let assigned = summary_where(&mut visitor, first, |c| {
        c.state == ConversationState::Active
    })
    .await;
    assert_eq!(assigned.operator.unwrap().id, bob_id);

    // Alice takes the second chat: at capacity 1 she is full, so Bob cannot transfer to her.
    alice
        .send(&ClientFrame::Accept {
            conversation_id: second,
        })
        .await;
    summary_where(&mut visitor, second, |c| {
        c.state == ConversationState::Active
    })
    .await;
    let (mut bob, _) = server.operator("bob@example.com").await;
    bob.send(&transfer(first, alice_id, None)).await;
    let (code, why) = refusal(&mut bob).await;
    assert_eq!(code, ErrorCode::Conflict);
    assert_eq!(why, "Alice is at capacity (1 of 1 chats)");
    // An agent cannot assign a chat that is not theirs.
    let third = new_conversation();
    visitor.post(third, "third").await;
    bob.send(&transfer(third, alice_id, None)).await;
    assert_eq!(refusal(&mut bob).await.0, ErrorCode::Forbidden);
    // A closed chat is not handed over.
    alice
        .send(&ClientFrame::Close {
            conversation_id: second,
        })
        .await;
    summary_where(&mut visitor, second, |c| {
        c.state == ConversationState::Closed
    })
    .await;
    alice.send(&transfer(second, bob_id, None)).await;
    assert_eq!(refusal(&mut alice).await.0, ErrorCode::ConversationClosed);
}

#[tokio::test]
async fn the_roster_and_routing_routes_check_roles_and_input() {
    let server = TestServer::start().await;
    let (admin, alice_id) = token_of(&server, "alice@example.com").await;
    let (agent, bob_id) = token_of(&server, "bob@example.com").await;
    let (_alice, session) = server.operator("alice@example.com").await;
    assert!(matches!(session, Session::Operator { .. }));

    let (status, json) = server
        .http("GET", "/v1/roster?site=acme", Some(&agent), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let roster: Vec<RosterEntry> = serde_json::from_value(json).unwrap();
    let alice = roster.iter().find(|e| e.id == alice_id).unwrap();
    let bob = roster.iter().find(|e| e.id == bob_id).unwrap();
    assert!(alice.online && alice.serves && !bob.online);
    assert!(
        serde_json::to_string(&roster).unwrap().find('@').is_none(),
        "no e-mail addresses"
    );
    // No session, no site, a malformed site, a site one does not serve.
    assert_eq!(
        server
            .http("GET", "/v1/roster?site=acme", None, None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.http("GET", "/v1/roster", Some(&agent), None).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        server
            .http("GET", "/v1/roster?site=%3Cx%3E", Some(&agent), None)
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    server
        .restrict_operator("bob@example.com", &["other"])
        .await;
    let (agent, _) = token_of(&server, "bob@example.com").await;
    assert_eq!(
        server
            .http("GET", "/v1/roster?site=acme", Some(&agent), None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    // Routing and capacity are for admins, and checked.
    let body = serde_json::json!({ "mode": "least_busy" }).to_string();
    let (status, _) = server
        .http(
            "PUT",
            "/v1/admin/sites/acme/routing",
            Some(&agent),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let body = serde_json::json!({ "mode": "random" }).to_string();
    let (status, _) = server
        .http(
            "PUT",
            "/v1/admin/sites/acme/routing",
            Some(&admin),
            Some(body),
        )
        .await;
    assert!(status.is_client_error(), "{status}");
    let body = serde_json::json!({ "mode": "least_busy" }).to_string();
    let (status, _) = server
        .http(
            "PUT",
            "/v1/admin/sites/nowhere/routing",
            Some(&admin),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let path = format!("/v1/admin/operators/{bob_id}");
    let body = serde_json::json!({ "capacity": 101 }).to_string();
    let (status, json) = server.http("PATCH", &path, Some(&admin), Some(body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json["field"], "capacity", "{json}");
}
