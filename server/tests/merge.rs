//! The merge rules, deterministically: two stores that took writes while cut off from each other
//! exchange their logs (in both orders) and must end identical. No network: the exchange is the
//! same `apply_remote` the replication link uses.

use protocol::{
    AuthorKind, ConversationId, ConversationState, MessageId, OperatorRole, SiteId, VisitorId,
};
use server::hlc::system_clock;
use server::store::records::{self, Poster, Site};
use server::store::{events, Store};

struct Side {
    dir: tempfile::TempDir,
    store: Store,
}

fn side(name: &str, skew_ms: i64) -> Side {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_as(dir.path(), name, system_clock(skew_ms)).unwrap();
    Side { dir, store }
}

/// Applies every event of `from` that `to` has not applied yet, as the replication link would.
async fn pull(from: &Side, to: &Side) {
    let origin = from.store.origin().to_owned();
    let peer = origin.clone();
    let cursor = to
        .store
        .read(move |c| events::cursor(c, &peer))
        .await
        .unwrap();
    let batch = from
        .store
        .read(move |c| events::local_after(c, &origin, cursor, 10_000))
        .await
        .unwrap();
    let peer = from.store.origin().to_owned();
    to.store
        .write(move |w| {
            let mut last = cursor;
            for event in &batch {
                w.apply_remote(event)?;
                last = event.seq;
            }
            events::set_cursor(w, &peer, last, w.now_ms())
        })
        .await
        .unwrap();
}

fn assert_identical(a: &Side, b: &Side) {
    let differences = server::sync_check::compare(a.dir.path(), b.dir.path()).unwrap();
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

/// Both sides know the site, the visitor and two operators (created on `a`, pulled by `b`).
async fn linked_pair(skew_b: i64) -> (Side, Side, VisitorId, [protocol::OperatorProfile; 2]) {
    let (a, b) = (side("primary", 0), side("redundant", skew_b));
    let visitor = VisitorId(uuid::Uuid::now_v7());
    let operators = a
        .store
        .write(move |w| {
            records::upsert_site(
                w,
                &Site {
                    id: SiteId("acme".into()),
                    name: "Acme".into(),
                    allowed_origins: vec![],
                },
            )?;
            records::ensure_visitor(w, visitor, &SiteId("acme".into()))?;
            let alice = records::add_operator(
                w,
                "alice@example.com",
                "Alice",
                "h",
                OperatorRole::Agent,
                false,
            )?;
            let bob = records::add_operator(
                w,
                "bob@example.com",
                "Bob",
                "h",
                OperatorRole::Agent,
                false,
            )?;
            Ok([alice, bob])
        })
        .await
        .unwrap();
    pull(&a, &b).await;
    assert_identical(&a, &b);
    (a, b, visitor, operators)
}

fn visitor_poster(visitor: VisitorId) -> Poster {
    Poster::Visitor {
        visitor_id: visitor,
        site_id: SiteId("acme".into()),
        page_url: None,
    }
}

async fn post(
    side: &Side,
    poster: Poster,
    conversation: ConversationId,
    id: MessageId,
    body: &str,
) -> protocol::Message {
    let body = body.to_owned();
    side.store
        .write(move |w| records::post_message(w, &poster, conversation, id, &body))
        .await
        .unwrap()
        .message
}

#[tokio::test]
async fn the_same_message_stored_on_both_sides_is_kept_once_with_one_clock_value() {
    let (a, b, visitor, _) = linked_pair(0).await;
    let conversation = ConversationId(uuid::Uuid::now_v7());
    let id = MessageId(uuid::Uuid::now_v7());
    // The widget sent the message to the primary, lost the ack, and resent it to the redundant
    // deployment before replication ran: both opened the conversation and stored the message.
    post(
        &a,
        visitor_poster(visitor),
        conversation,
        id,
        "are you there?",
    )
    .await;
    post(
        &b,
        visitor_poster(visitor),
        conversation,
        id,
        "are you there?",
    )
    .await;
    pull(&a, &b).await;
    pull(&b, &a).await;
    assert_identical(&a, &b);
    let count = a
        .store
        .read(move |c| records::messages_after(c, conversation, 0))
        .await
        .unwrap()
        .len();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn two_operators_accepting_on_the_two_sides_converge_and_keep_every_message() {
    let (a, b, visitor, [alice, bob]) = linked_pair(0).await;
    let conversation = ConversationId(uuid::Uuid::now_v7());
    post(
        &a,
        visitor_poster(visitor),
        conversation,
        MessageId(uuid::Uuid::now_v7()),
        "help",
    )
    .await;
    pull(&a, &b).await;
    // Cut off from each other, Alice accepts on the primary and Bob on the redundant side, and
    // each answers.
    let al = alice.clone();
    a.store
        .write(move |w| records::accept(w, conversation, &al))
        .await
        .unwrap();
    let bo = bob.clone();
    b.store
        .write(move |w| records::accept(w, conversation, &bo))
        .await
        .unwrap();
    post(
        &a,
        Poster::Operator(alice.clone()),
        conversation,
        MessageId(uuid::Uuid::now_v7()),
        "Alice here",
    )
    .await;
    post(
        &b,
        Poster::Operator(bob.clone()),
        conversation,
        MessageId(uuid::Uuid::now_v7()),
        "Bob here",
    )
    .await;
    // The link heals; the order of exchange does not matter.
    pull(&b, &a).await;
    pull(&a, &b).await;
    assert_identical(&a, &b);
    let summary = a
        .store
        .read(move |c| records::conversation(c, conversation))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary.state, ConversationState::Active);
    // Bob's accept happened later on the hybrid clock, so the chat is his on both sides.
    assert_eq!(summary.operator.unwrap().id, bob.id);
    let messages = b
        .store
        .read(move |c| records::messages_after(c, conversation, 0))
        .await
        .unwrap();
    let bodies: Vec<_> = messages.iter().map(|m| m.body.as_str()).collect();
    assert!(
        bodies.contains(&"Alice here") && bodies.contains(&"Bob here"),
        "{bodies:?}"
    );
    // Closing wins over any accept, whichever side closes.
    let al = alice.clone();
    let admin_close = protocol::OperatorProfile {
        role: OperatorRole::Admin,
        ..al
    };
    a.store
        .write(move |w| records::close(w, conversation, &admin_close))
        .await
        .unwrap();
    pull(&a, &b).await;
    pull(&b, &a).await;
    let state = b
        .store
        .read(move |c| records::conversation(c, conversation))
        .await
        .unwrap()
        .unwrap()
        .state;
    assert_eq!(state, ConversationState::Closed);
    assert_identical(&a, &b);
}

#[tokio::test]
async fn a_deployment_thirty_seconds_behind_still_orders_replies_after_questions() {
    for skew in [-30_000, 30_000] {
        let (a, b, visitor, [alice, _]) = linked_pair(skew).await;
        let conversation = ConversationId(uuid::Uuid::now_v7());
        let question = post(
            &a,
            visitor_poster(visitor),
            conversation,
            MessageId(uuid::Uuid::now_v7()),
            "question",
        )
        .await;
        pull(&a, &b).await;
        let al = alice.clone();
        b.store
            .write(move |w| records::accept(w, conversation, &al))
            .await
            .unwrap();
        let answer = post(
            &b,
            Poster::Operator(alice.clone()),
            conversation,
            MessageId(uuid::Uuid::now_v7()),
            "answer",
        )
        .await;
        pull(&b, &a).await;
        let follow_up = post(
            &a,
            visitor_poster(visitor),
            conversation,
            MessageId(uuid::Uuid::now_v7()),
            "thanks",
        )
        .await;
        pull(&a, &b).await;
        assert!(
            question.hlc < answer.hlc && answer.hlc < follow_up.hlc,
            "skew {skew}"
        );
        assert_identical(&a, &b);
        let order = |side: &Side| {
            let conn =
                rusqlite::Connection::open(side.dir.path().join(server::store::DATABASE_FILE))
                    .unwrap();
            let mut stmt = conn
                .prepare("SELECT body FROM messages WHERE author_kind <> 'system' ORDER BY hlc, id")
                .unwrap();
            stmt.query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap()
        };
        assert_eq!(order(&a), ["question", "answer", "thanks"], "skew {skew}");
        assert_eq!(order(&b), order(&a));
        assert_eq!(AuthorKind::Operator, answer.author.kind);
    }
}

#[tokio::test]
async fn applying_the_same_log_twice_changes_nothing() {
    let (a, b, visitor, _) = linked_pair(0).await;
    let conversation = ConversationId(uuid::Uuid::now_v7());
    for i in 0..10 {
        post(
            &a,
            visitor_poster(visitor),
            conversation,
            MessageId(uuid::Uuid::now_v7()),
            &format!("m{i}"),
        )
        .await;
    }
    pull(&a, &b).await;
    // Replay everything from the start, as after a crash that lost the cursor.
    let origin = a.store.origin().to_owned();
    let batch = a
        .store
        .read(move |c| events::local_after(c, &origin, 0, 10_000))
        .await
        .unwrap();
    b.store
        .write(move |w| {
            for event in &batch {
                assert!(
                    w.apply_remote(event)?.is_none(),
                    "an event was applied twice"
                );
            }
            Ok(())
        })
        .await
        .unwrap();
    assert_identical(&a, &b);
}
