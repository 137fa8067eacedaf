//! The whole chat through a real socket: a visitor writes, an operator accepts and replies, both
//! see typing and state changes, the visitor's history survives a reconnect.

mod support;

use protocol::{AuthorKind, ClientFrame, ConversationState, ServerFrame, Session};
use support::{new_conversation, TestServer};

#[tokio::test]
async fn visitor_and_operator_chat_end_to_end() {
    let server = TestServer::start().await;
    let (mut alice, session) = server.operator("alice@example.com").await;
    let Session::Operator {
        inbox, operator, ..
    } = session
    else {
        panic!("operator session")
    };
    assert!(inbox.is_empty());
    assert_eq!(operator.name, "Alice");

    let (mut visitor, session) = server.visitor(None).await;
    let Session::Visitor {
        token,
        conversations,
        ..
    } = session
    else {
        panic!("visitor session")
    };
    assert!(conversations.is_empty());

    // The visitor's first message opens the conversation and reaches the operator.
    let conversation = new_conversation();
    let (first_id, ack) = visitor
        .post(conversation, "Hi, do you ship to Norway?")
        .await;
    assert!(matches!(ack, ServerFrame::Ack { .. }));
    let seen = alice.next_message().await;
    assert_eq!((seen.id, seen.author.kind), (first_id, AuthorKind::Visitor));
    let waiting = alice.next_conversation().await;
    assert_eq!(waiting.state, ConversationState::Waiting);
    assert_eq!(
        waiting.page_url.as_deref(),
        Some("https://acme.example/pricing")
    );

    // Typing travels both ways.
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
    assert_eq!(typing, (AuthorKind::Visitor, true));

    // Accepting is pushed to the visitor as a state change and a notice.
    alice
        .send(&ClientFrame::Accept {
            conversation_id: conversation,
        })
        .await;
    let notice = visitor.next_message().await;
    assert_eq!(
        (notice.author.kind, notice.body.as_str()),
        (AuthorKind::System, "Alice joined the chat")
    );
    let active = visitor.next_conversation().await;
    assert_eq!(active.state, ConversationState::Active);
    assert_eq!(active.operator.unwrap().name, "Alice");

    alice
        .send(&ClientFrame::Typing {
            conversation_id: conversation,
            typing: true,
        })
        .await;
    let typing = visitor
        .recv_until(|f| match f {
            ServerFrame::Typing { author, .. } => Some(author),
            _ => None,
        })
        .await;
    assert_eq!(
        (typing.kind, typing.name.as_deref()),
        (AuthorKind::Operator, Some("Alice"))
    );

    let (reply_id, ack) = alice
        .post(conversation, "We do! Shipping takes 3 days.")
        .await;
    assert!(matches!(ack, ServerFrame::Ack { .. }), "{ack:?}");
    let reply = visitor
        .recv_until(|f| match f {
            ServerFrame::Message { message } if message.author.kind == AuthorKind::Operator => {
                Some(message)
            }
            _ => None,
        })
        .await;
    assert_eq!(
        (reply.id, reply.author.name.as_deref()),
        (reply_id, Some("Alice"))
    );

    // A second operator cannot take the chat, but sees it in the inbox.
    let (mut bob, session) = server.operator("bob@example.com").await;
    let Session::Operator { inbox, .. } = session else {
        panic!()
    };
    assert_eq!(inbox.len(), 1);
    bob.send(&ClientFrame::Accept {
        conversation_id: conversation,
    })
    .await;
    let refused = bob
        .recv_until(|f| match f {
            ServerFrame::Error { code, .. } => Some(code),
            _ => None,
        })
        .await;
    assert_eq!(refused, protocol::ErrorCode::Conflict);

    // The visitor reconnects with the token: same conversation, full history in order.
    drop(visitor);
    let (mut visitor, session) = server.visitor(Some(token)).await;
    let Session::Visitor { conversations, .. } = session else {
        panic!()
    };
    assert_eq!(conversations[0].id, conversation);
    visitor
        .send(&ClientFrame::Sync {
            conversation_id: conversation,
            after_seq: 0,
        })
        .await;
    let history = visitor
        .recv_until(|f| match f {
            ServerFrame::History { messages, .. } => Some(messages),
            _ => None,
        })
        .await;
    let ids: Vec<_> = history.iter().map(|m| m.id).collect();
    assert_eq!(ids.len(), 3);
    assert_eq!((ids[0], ids[2]), (first_id, reply_id));

    // Closing is pushed too, and the closed conversation takes no more messages.
    alice
        .send(&ClientFrame::Close {
            conversation_id: conversation,
        })
        .await;
    let closed = visitor.next_conversation().await;
    assert_eq!(closed.state, ConversationState::Closed);
    let (_, refused) = visitor.post(conversation, "one more thing").await;
    assert!(matches!(
        refused,
        ServerFrame::Error {
            code: protocol::ErrorCode::ConversationClosed,
            ..
        }
    ));
    server.shutdown().await;
}

#[tokio::test]
async fn a_resent_message_is_acknowledged_again_and_stored_once() {
    let server = TestServer::start().await;
    let (mut visitor, _) = server.visitor(None).await;
    let conversation = new_conversation();
    let message_id = protocol::MessageId(uuid::Uuid::now_v7());
    let send = ClientFrame::Send {
        conversation_id: conversation,
        message_id,
        body: "only once".into(),
        intake: None,
        attachment: None,
        private: false,
    };
    for _ in 0..3 {
        visitor.send(&send).await;
        let ack = visitor
            .recv_until(|f| match f {
                ServerFrame::Ack { message, .. } => Some(message),
                _ => None,
            })
            .await;
        assert_eq!(ack.id, message_id);
    }
    // A reconnect (new socket) resending it is acknowledged once more.
    let (mut again, _) = server.visitor(None).await;
    again.send(&send).await;
    let refused = again.recv().await;
    assert!(
        matches!(
            refused,
            ServerFrame::Error {
                code: protocol::ErrorCode::Conflict,
                ..
            }
        ),
        "another visitor cannot claim the id: {refused:?}"
    );
    visitor
        .send(&ClientFrame::Sync {
            conversation_id: conversation,
            after_seq: 0,
        })
        .await;
    let history = visitor
        .recv_until(|f| match f {
            ServerFrame::History { messages, .. } => Some(messages),
            _ => None,
        })
        .await;
    assert_eq!(history.len(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_tells_clients_to_move_serves_the_grace_then_closes_with_going_away() {
    let server = TestServer::start().await;
    let (mut visitor, _) = server.visitor(None).await;
    let conversation = new_conversation();
    let (id, ack) = visitor.post(conversation, "before shutdown").await;
    assert!(matches!(ack, ServerFrame::Ack { .. }));
    let stopping = tokio::spawn(server.shutdown());
    // First the word to move, before anything closes.
    visitor
        .recv_until(|f| matches!(f, ServerFrame::Draining).then_some(()))
        .await;
    // A message already on its way is still taken during the grace, and kept.
    let (late, ack) = visitor.post(conversation, "in flight").await;
    assert!(matches!(ack, ServerFrame::Ack { .. }), "{ack:?}");
    // A client that stays (an old one that skips `draining`) is closed after the grace.
    assert_eq!(visitor.closed().await, Some(1001));
    let data_dir = stopping.await.unwrap();
    let store = server::store::Store::open(data_dir.path()).unwrap();
    let stored = store
        .read(move |conn| conn.messages_after(conversation, 0))
        .await
        .unwrap();
    assert_eq!(
        stored.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![id, late]
    );
}

#[tokio::test]
async fn shutdown_ends_as_soon_as_the_clients_have_moved() {
    let server = TestServer::start().await;
    let (mut visitor, _) = server.visitor(None).await;
    // A socket that never said `hello` is closed at once, with no grace.
    let mut silent = server.connect().await;
    let stopping = tokio::spawn(server.shutdown());
    assert_eq!(silent.closed().await, Some(1001));
    visitor
        .recv_until(|f| matches!(f, ServerFrame::Draining).then_some(()))
        .await;
    // The client moves: it closes its socket, and the shutdown completes cleanly.
    visitor.socket.close(None).await.unwrap();
    stopping.await.unwrap();
}

#[tokio::test]
async fn pings_are_answered_before_and_after_hello() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    client.send(&ClientFrame::Ping { nonce: 1 }).await;
    assert_eq!(client.recv().await, ServerFrame::Pong { nonce: 1 });
    let (mut visitor, _) = server.visitor(None).await;
    visitor.send(&ClientFrame::Ping { nonce: 2 }).await;
    assert_eq!(visitor.recv().await, ServerFrame::Pong { nonce: 2 });
}

/// A client that moved here asks to catch up on every conversation it knows at once (an operator,
/// for hundreds). Its next message is acknowledged and its ping answered at once, not after
/// every one of those answers: a busy but healthy deployment must not look dead, and a message
/// must not wait seconds for its `ack` (it did, 12 s, in a fault run). Every request is still
/// answered.
#[tokio::test]
async fn a_message_and_a_ping_do_not_wait_behind_sync_requests() {
    const SYNCS: usize = 300;
    let server = TestServer::start().await;
    let (mut visitor, _) = server.visitor(None).await;
    let conversation = new_conversation();
    for n in 0..20 {
        visitor.post(conversation, &format!("line {n}")).await;
    }
    for _ in 0..SYNCS {
        visitor
            .send(&ClientFrame::Sync {
                conversation_id: conversation,
                after_seq: 0,
            })
            .await;
    }
    let message_id = protocol::MessageId(uuid::Uuid::now_v7());
    visitor
        .send(&ClientFrame::Send {
            conversation_id: conversation,
            message_id,
            body: "after the syncs".into(),
            intake: None,
            attachment: None,
            private: false,
        })
        .await;
    visitor.send(&ClientFrame::Ping { nonce: 7 }).await;
    let (mut histories, mut acked, mut ponged) = (0, None, None);
    while histories < SYNCS || acked.is_none() || ponged.is_none() {
        match visitor.recv().await {
            ServerFrame::History { messages, .. } => {
                assert!(messages.len() >= 20, "each answer holds the conversation");
                histories += 1;
            }
            ServerFrame::Ack { message_id: id, .. } if id == message_id => {
                acked.get_or_insert(histories);
            }
            ServerFrame::Pong { nonce: 7 } => {
                ponged.get_or_insert(histories);
            }
            _ => {}
        }
    }
    let (acked, ponged) = (acked.unwrap(), ponged.unwrap());
    assert!(
        acked < SYNCS / 2 && ponged < SYNCS / 2,
        "the ack came after {acked} and the pong after {ponged} of {SYNCS} sync answers"
    );
}

/// A deployment whose disk is slow still answers pings on a connection whose message waits for
/// its commit: a client hearing nothing for 1.5 s while a message waits takes the deployment for
/// frozen and leaves it. Frames other than pings still wait their turn.
#[tokio::test]
async fn pings_are_answered_while_a_message_waits_for_a_slow_disk() {
    let server = TestServer::start().await;
    let (mut visitor, _) = server.visitor(None).await;
    let conversation = new_conversation();
    visitor.post(conversation, "first").await;
    // Another connection holds the database's write lock, as a stalled disk holds a commit.
    let db = server.data_dir.path().join(server::store::DATABASE_FILE);
    let blocker = rusqlite::Connection::open(db).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let message_id = protocol::MessageId(uuid::Uuid::now_v7());
    for frame in [
        ClientFrame::Send {
            conversation_id: conversation,
            message_id,
            body: "while the disk is slow".into(),
            intake: None,
            attachment: None,
            private: false,
        },
        ClientFrame::Typing {
            conversation_id: conversation,
            typing: true,
        },
        ClientFrame::Ping { nonce: 9 },
    ] {
        visitor.send(&frame).await;
    }
    // The pong comes before the message's answer (an `ack`, or an error had the lock been held
    // past the store's busy timeout), while the lock is still held.
    let first = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        visitor.recv_until(|f| match f {
            ServerFrame::Pong { .. } => Some(f),
            ServerFrame::Ack { message_id: id, .. } if id == message_id => Some(f),
            ServerFrame::Error { .. } => Some(f),
            _ => None,
        }),
    )
    .await
    .expect("a frame");
    assert_eq!(
        first,
        ServerFrame::Pong { nonce: 9 },
        "the pong comes first"
    );
    blocker.execute_batch("COMMIT").unwrap();
    let ack = visitor.reply_to(message_id).await;
    assert!(matches!(ack, ServerFrame::Ack { .. }), "{ack:?}");
}

/// A conversation longer than one `history` page comes a page at a time: a full page means "ask
/// again after its last message". Every welcome names the message log the sequence numbers
/// belong to, the same on every connection to the same database, so a client that comes back
/// asks only for what is new.
#[tokio::test]
async fn a_long_conversation_is_synced_a_page_at_a_time_from_a_named_log() {
    let total = protocol::SYNC_PAGE + 5;
    let server =
        TestServer::start_with(|c| c.messages_per_minute_per_connection = total as u32 * 2).await;
    let hello = support::visitor_hello("acme", Some(format!("{}/", support::ORIGIN)));
    let mut writer = server.connect().await;
    writer.send(&hello).await;
    let ServerFrame::Welcome {
        log: Some(log),
        session: Session::Visitor { token, .. },
        ..
    } = writer.recv().await
    else {
        panic!("expected a welcome naming its log");
    };
    let conversation = new_conversation();
    for n in 0..total {
        writer
            .send(&ClientFrame::Send {
                conversation_id: conversation,
                message_id: protocol::MessageId(uuid::Uuid::now_v7()),
                body: format!("line {n}"),
                intake: None,
                attachment: None,
                private: false,
            })
            .await;
    }
    let mut acked = 0;
    while acked < total {
        if let ServerFrame::Ack { .. } = writer.recv().await {
            acked += 1;
        }
    }

    let (mut reader, session) = server.visitor(Some(token)).await;
    assert!(matches!(session, Session::Visitor { .. }));
    let mut pages = Vec::new();
    let mut after_seq = 0;
    loop {
        reader
            .send(&ClientFrame::Sync {
                conversation_id: conversation,
                after_seq,
            })
            .await;
        let messages = reader
            .recv_until(|f| match f {
                ServerFrame::History { messages, .. } => Some(messages),
                _ => None,
            })
            .await;
        pages.push(messages.len());
        let Some(last) = messages.last() else { break };
        after_seq = last.seq;
        if messages.len() < protocol::SYNC_PAGE {
            break;
        }
    }
    assert_eq!(pages, [protocol::SYNC_PAGE, 5]);

    let mut again = server.connect().await;
    again.send(&hello).await;
    match again.recv().await {
        ServerFrame::Welcome {
            log: Some(same), ..
        } => assert_eq!(same, log),
        other => panic!("expected a welcome naming its log, got {other:?}"),
    }
}
