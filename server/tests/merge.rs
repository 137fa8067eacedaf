//! The merge rules, deterministically: two stores that took writes while cut off from each other
//! exchange their logs (in both orders) and must end identical. No network: the exchange is the
//! same `apply_remote` the replication link uses.

use protocol::{
    AuthorKind, ConversationId, ConversationState, MessageId, OperatorRole, SiteId, VisitorId,
};
use server::clock::system_clock;
use server::identity::Identity;
use server::store::{Site, Store};

/// Password hashes in the form the store accepts (PHC strings); no password matches them.
const HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const OTHER_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$b3RoZXJzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

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
    let cursor = to.store.read(move |c| c.cursor(&peer)).await.unwrap();
    let batch = from
        .store
        .read(move |c| c.local_events_after(&origin, cursor, 10_000))
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
            w.set_cursor(&peer, last)
        })
        .await
        .unwrap();
}

/// The link heals: each side pulls the other's log, `a` first or `b` first, and they must agree.
async fn heal(a: &Side, b: &Side, a_first: bool) {
    if a_first {
        pull(a, b).await;
        pull(b, a).await;
    } else {
        pull(b, a).await;
        pull(a, b).await;
    }
    assert_identical(a, b);
}

fn assert_identical(a: &Side, b: &Side) {
    let differences = server::store::sync_check::compare(a.dir.path(), b.dir.path()).unwrap();
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

/// Both sides know the site, the visitor and two operators (created on `a`, pulled by `b`).
async fn linked_pair(skew_b: i64) -> (Side, Side, VisitorId, [protocol::OperatorProfile; 2]) {
    let (a, b) = (side("primary", 0), side("redundant", skew_b));
    let visitor = VisitorId(uuid::Uuid::now_v7());
    let operators = a
        .store
        .write(move |w| {
            w.upsert_site(&Site {
                id: SiteId("acme".into()),
                name: "Acme".into(),
                allowed_origins: vec![server::store::ANY_ORIGIN.into()],
            })?;
            w.ensure_visitor(visitor, &SiteId("acme".into()))?;
            let alice = w.add_operator(
                "alice@example.com",
                "Alice",
                HASH,
                OperatorRole::Agent,
                false,
            )?;
            let bob = w.add_operator("bob@example.com", "Bob", HASH, OperatorRole::Agent, false)?;
            Ok([alice, bob])
        })
        .await
        .unwrap();
    pull(&a, &b).await;
    assert_identical(&a, &b);
    (a, b, visitor, operators)
}

fn visitor_poster(visitor: VisitorId) -> Identity {
    Identity::Visitor {
        visitor_id: visitor,
        site_id: SiteId("acme".into()),
        page_url: None,
    }
}

async fn post(
    side: &Side,
    poster: Identity,
    conversation: ConversationId,
    id: MessageId,
    body: &str,
) -> protocol::Message {
    let body = body.to_owned();
    side.store
        .write(move |w| w.post_message(&poster, conversation, id, &body, None, None))
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
    let on_a = post(
        &a,
        visitor_poster(visitor),
        conversation,
        id,
        "are you there?",
    )
    .await;
    let on_b = post(
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
        .read(move |c| c.messages_after(conversation, 0))
        .await
        .unwrap()
        .len();
    assert_eq!(count, 1);

    // The side whose copy gave way numbered the kept one anew: a client that had the other
    // copy and resumes after it gets the kept one, with the clock value both sides show it by.
    let (kept, replaced, replaced_side) = if on_a.hlc < on_b.hlc {
        (on_a, on_b, &b)
    } else {
        (on_b, on_a, &a)
    };
    let after = replaced.seq;
    let resumed = replaced_side
        .store
        .read(move |c| c.messages_after(conversation, after))
        .await
        .unwrap();
    assert_eq!(resumed.len(), 1, "{resumed:?}");
    assert_eq!((resumed[0].id, resumed[0].hlc), (id, kept.hlc));
    assert!(resumed[0].seq > replaced.seq);
    // The full-text index followed the new number, and later messages number on above it.
    let next = post(
        replaced_side,
        visitor_poster(visitor),
        conversation,
        MessageId(uuid::Uuid::now_v7()),
        "hello?",
    )
    .await;
    assert!(next.seq > resumed[0].seq);
    let db =
        rusqlite::Connection::open(replaced_side.dir.path().join(server::store::DATABASE_FILE))
            .unwrap();
    db.execute(
        "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')",
        [],
    )
    .unwrap();
    let found: i64 = db
        .query_row(
            "SELECT count(*) FROM messages_fts f JOIN messages m ON m.seq = f.rowid
             WHERE messages_fts MATCH 'there' AND m.id = ?1",
            [id.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(found, 1);
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
        .write(move |w| w.accept(conversation, &al))
        .await
        .unwrap();
    let bo = bob.clone();
    b.store
        .write(move |w| w.accept(conversation, &bo))
        .await
        .unwrap();
    post(
        &a,
        Identity::Operator(alice.clone()),
        conversation,
        MessageId(uuid::Uuid::now_v7()),
        "Alice here",
    )
    .await;
    post(
        &b,
        Identity::Operator(bob.clone()),
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
        .read(move |c| c.conversation(conversation))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary.state, ConversationState::Active);
    // Bob's accept happened later on the hybrid clock, so the chat is his on both sides.
    assert_eq!(summary.operator.unwrap().id, bob.id);
    let messages = b
        .store
        .read(move |c| c.messages_after(conversation, 0))
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
        .write(move |w| w.close(conversation, &admin_close))
        .await
        .unwrap();
    pull(&a, &b).await;
    pull(&b, &a).await;
    let state = b
        .store
        .read(move |c| c.conversation(conversation))
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
            .write(move |w| w.accept(conversation, &al))
            .await
            .unwrap();
        let answer = post(
            &b,
            Identity::Operator(alice.clone()),
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
        .read(move |c| c.local_events_after(&origin, 0, 10_000))
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

/// One step of a random schedule: an action on one side, or an exchange between the sides.
#[derive(Clone, Debug)]
enum Step {
    /// The visitor posts message `message` (its conversation follows from its number, so the same
    /// message posted on both sides is the same record, as when a client resends elsewhere).
    Post { on_a: bool, message: u8 },
    /// The side's operator accepts a conversation.
    Accept { on_a: bool, conversation: u8 },
    /// The side's operator closes a conversation.
    Close { on_a: bool, conversation: u8 },
    /// One side pulls the other's new events.
    Pull { into_a: bool },
    /// One side receives the other's whole log again (duplicates, as after a lost cursor).
    Replay { into_a: bool },
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    prop_oneof![
        4 => (any::<bool>(), 0u8..12).prop_map(|(on_a, message)| Step::Post { on_a, message }),
        1 => (any::<bool>(), 0u8..3).prop_map(|(on_a, conversation)| Step::Accept { on_a, conversation }),
        1 => (any::<bool>(), 0u8..3).prop_map(|(on_a, conversation)| Step::Close { on_a, conversation }),
        2 => any::<bool>().prop_map(|into_a| Step::Pull { into_a }),
        1 => any::<bool>().prop_map(|into_a| Step::Replay { into_a }),
    ]
}

async fn replay(from: &Side, to: &Side) {
    let origin = from.store.origin().to_owned();
    let batch = from
        .store
        .read(move |c| c.local_events_after(&origin, 0, 10_000))
        .await
        .unwrap();
    to.store
        .write(move |w| {
            for event in &batch {
                w.apply_remote(event)?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

async fn run_schedule(steps: Vec<Step>) {
    let (a, b, visitor, [alice, bob]) = linked_pair(0).await;
    let conversation = |k: u8| {
        ConversationId(uuid::Uuid::from_u128(
            0x0100_0000_0000_7000_8000_0000_0000_0000 + k as u128,
        ))
    };
    for step in steps {
        let side = |on_a: bool| if on_a { &a } else { &b };
        // Refusals (a closed conversation, a chat taken by the other operator) are part of the
        // game: each side refuses by its own current state, and nothing refused is stored.
        match step {
            Step::Post { on_a, message } => {
                let id = MessageId(uuid::Uuid::from_u128(
                    0x0200_0000_0000_7000_8000_0000_0000_0000 + message as u128,
                ));
                let (c, body) = (conversation(message % 3), format!("m{message}"));
                let poster = visitor_poster(visitor);
                let _ = side(on_a)
                    .store
                    .write(move |w| w.post_message(&poster, c, id, &body, None, None))
                    .await;
            }
            Step::Accept {
                on_a,
                conversation: k,
            } => {
                let op = if on_a { alice.clone() } else { bob.clone() };
                let c = conversation(k);
                let _ = side(on_a).store.write(move |w| w.accept(c, &op)).await;
            }
            Step::Close {
                on_a,
                conversation: k,
            } => {
                let op = protocol::OperatorProfile {
                    role: OperatorRole::Admin,
                    ..if on_a { alice.clone() } else { bob.clone() }
                };
                let c = conversation(k);
                let _ = side(on_a).store.write(move |w| w.close(c, &op)).await;
            }
            Step::Pull { into_a: true } => pull(&b, &a).await,
            Step::Pull { into_a: false } => pull(&a, &b).await,
            Step::Replay { into_a: true } => replay(&b, &a).await,
            Step::Replay { into_a: false } => replay(&a, &b).await,
        }
    }
    // The link heals: each side pulls what it has not seen.
    pull(&a, &b).await;
    pull(&b, &a).await;
    assert_identical(&a, &b);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 48, ..Default::default() })]

    /// Whatever the two sides did while apart, in whatever order their logs crossed, and however
    /// often events were delivered again, they end identical.
    #[test]
    fn random_schedules_converge(steps in proptest::collection::vec(step(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run_schedule(steps));
    }
}

/// What a session token is worth on `side` now.
async fn session_on(side: &Side, hash: &str) -> server::store::SessionStatus {
    let (hash, now) = (hash.to_owned(), side.store.now_ms());
    side.store
        .read(move |r| r.session_status(&hash, now, None))
        .await
        .unwrap()
}

async fn new_session(side: &Side, operator: protocol::OperatorId) -> String {
    let hash = server::auth::session_token_hash(&server::auth::new_session_token());
    let (stored, expires_at) = (hash.clone(), side.store.now_ms() + 3_600_000);
    side.store
        .write(move |w| w.create_session(&stored, operator, expires_at))
        .await
        .unwrap();
    hash
}

#[tokio::test]
async fn password_changes_and_logins_on_both_sides_of_a_cut_end_the_same_sessions() {
    for a_first in [true, false] {
        let (a, b, _, [_, bob]) = linked_pair(0).await;
        let before_cut = new_session(&a, bob.id).await;
        pull(&a, &b).await;
        // Cut off: `a` gives Bob a new password; `b` logs Bob in, then makes him an admin,
        // then logs him in again.
        a.store
            .write(|w| {
                w.add_operator(
                    "bob@example.com",
                    "Bob",
                    OTHER_HASH,
                    OperatorRole::Agent,
                    true,
                )
            })
            .await
            .unwrap();
        let during_cut = new_session(&b, bob.id).await;
        b.store
            .write(|w| w.add_operator("bob@example.com", "Bob", HASH, OperatorRole::Admin, true))
            .await
            .unwrap();
        let after_role = new_session(&b, bob.id).await;
        heal(&a, &b, a_first).await;
        use server::store::SessionStatus::{AccountChanged, Live};
        for hash in [&before_cut, &during_cut, &after_role] {
            let (on_a, on_b) = (session_on(&a, hash).await, session_on(&b, hash).await);
            assert_eq!(on_a, on_b, "the same verdict on both sides");
        }
        assert_eq!(session_on(&a, &before_cut).await, AccountChanged);
        assert_eq!(session_on(&a, &during_cut).await, AccountChanged);
        // The last login came after every change either side had seen.
        assert!(matches!(session_on(&a, &after_role).await, Live { .. }));
    }
}

/// A site as `side` shows it to admins.
async fn admin_site(side: &Side, id: &str) -> Option<protocol::admin::AdminSite> {
    let id = SiteId(id.into());
    side.store.read(move |r| r.admin_site(&id)).await.unwrap()
}

#[tokio::test]
async fn admin_edits_on_both_sides_of_a_cut_link_agree_after_healing() {
    use protocol::admin::{Appearance, OperatorState, SiteForms, SiteScope};
    use protocol::replication::{OperatorSetting, SiteSetting};
    for a_first in [true, false] {
        let (a, b, _, [alice, bob]) = linked_pair(0).await;
        let site = |id: &str, name: &str| Site {
            id: SiteId(id.into()),
            name: name.into(),
            allowed_origins: vec!["https://shop.example".into()],
        };
        let (shop, gone) = (site("shop", "Shop"), site("gone", "Gone"));
        a.store
            .write(move |w| {
                w.create_site(&shop, "s".repeat(43))?;
                w.create_site(&gone, "g".repeat(43))
            })
            .await
            .unwrap();
        pull(&a, &b).await;
        // Cut off. On `a`: the shop's look, a new name, Alice disabled, Bob removed, and an
        // edit of the site `b` removes.
        let look = |color: &str, title: &str| Appearance {
            accent_color: color.into(),
            title: title.into(),
            ..Appearance::default()
        };
        let (look_a, look_b) = (look("#111111", "From A"), look("#222222", "From B"));
        let on_a = look_a.clone();
        a.store
            .write(move |w| {
                let shop = SiteId("shop".into());
                w.set_site_setting(&shop, SiteSetting::Appearance(on_a))?;
                w.edit_site(&site("shop", "Shop (A)"))?;
                w.set_operator_setting(alice.id, OperatorSetting::Disabled(true))?;
                w.remove_operator(bob.id)?;
                w.set_site_setting(
                    &SiteId("gone".into()),
                    SiteSetting::Appearance(Appearance::default()),
                )
            })
            .await
            .unwrap();
        // On `b`, later by the clock: another look, the forms, another name, Alice's sites, Bob
        // renamed (his removal must win), the other site removed.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let on_b = look_b.clone();
        b.store
            .write(move |w| {
                let shop = SiteId("shop".into());
                w.set_site_setting(&shop, SiteSetting::Appearance(on_b))?;
                let mut forms = SiteForms::default();
                forms.prechat.enabled = true;
                w.set_site_setting(&shop, SiteSetting::Forms(forms))?;
                w.edit_site(&site("shop", "Shop (B)"))?;
                w.set_operator_setting(
                    alice.id,
                    OperatorSetting::Sites(SiteScope::Only(vec![SiteId("acme".into())])),
                )?;
                w.edit_operator(bob.id, Some("Robert"), None, None)?;
                w.remove_site(&SiteId("gone".into()))
            })
            .await
            .unwrap();
        heal(&a, &b, a_first).await;
        for side in [&a, &b] {
            let shop = admin_site(side, "shop").await.unwrap();
            assert_eq!(shop.appearance, look_b, "the later look wins");
            assert!(
                shop.forms.prechat.enabled,
                "the forms, set on one side only, stay"
            );
            assert_eq!(shop.name, "Shop (B)");
            assert_eq!(shop.identity_secret.as_deref(), Some(&*"s".repeat(43)));
            assert!(
                admin_site(side, "gone").await.is_none(),
                "a removal is final"
            );
            let team = side.store.read(|r| r.admin_operators()).await.unwrap();
            assert_eq!(
                team.len(),
                1,
                "Bob's removal wins over his new name: {team:?}"
            );
            assert_eq!(team[0].state, OperatorState::Disabled);
            assert_eq!(team[0].sites, SiteScope::Only(vec![SiteId("acme".into())]));
            let taken = side
                .store
                .read(|r| r.operator_by_email("bob@example.com"))
                .await
                .unwrap();
            assert!(
                taken.is_none(),
                "a removed operator's address is free again"
            );
        }
    }
}

/// An intake of `kind` with a name and an address.
fn intake(kind: protocol::ConversationKind, name: &str) -> protocol::Intake {
    protocol::Intake {
        kind,
        details: protocol::VisitorDetails {
            name: Some(name.into()),
            email: Some("anna@example.com".into()),
            fields: Vec::new(),
        },
    }
}

#[tokio::test]
async fn forms_filled_in_on_both_sides_of_a_cut_link_agree_after_healing() {
    use protocol::ConversationKind;
    for a_first in [true, false] {
        let (a, b, visitor, _) = linked_pair(0).await;
        // Cut off: the visitor leaves an offline message at `a`, then (later by the clock)
        // fills in the offline form again at `b` with another name; and the same offline
        // message, resent to `b` by the widget's outbox, is stored there too.
        let offline = ConversationId(uuid::Uuid::now_v7());
        let first = MessageId(uuid::Uuid::now_v7());
        for (side, name) in [(&a, "Anna"), (&b, "Anna")] {
            let poster = visitor_poster(visitor);
            let given = intake(ConversationKind::Offline, name);
            side.store
                .write(move |w| {
                    w.post_message(&poster, offline, first, "Call me", Some(&given), None)
                })
                .await
                .unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let later = ConversationId(uuid::Uuid::now_v7());
        let poster = visitor_poster(visitor);
        let given = intake(ConversationKind::Offline, "Anna Berg");
        b.store
            .write(move |w| {
                w.post_message(
                    &poster,
                    later,
                    MessageId(uuid::Uuid::now_v7()),
                    "Again",
                    Some(&given),
                    None,
                )
            })
            .await
            .unwrap();
        heal(&a, &b, a_first).await;
        for side in [&a, &b] {
            let details = side
                .store
                .read(move |r| r.visitor_details(visitor))
                .await
                .unwrap();
            assert_eq!(
                details.unwrap().name.as_deref(),
                Some("Anna Berg"),
                "the later form wins"
            );
            let conversation = side
                .store
                .read(move |r| r.conversation(offline))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(conversation.kind, ConversationKind::Offline);
            let messages = side
                .store
                .read(move |r| r.messages_after(offline, 0))
                .await
                .unwrap();
            assert_eq!(messages.len(), 1, "the resent offline message is kept once");
        }
    }
}

#[tokio::test]
async fn read_marks_and_ratings_on_both_sides_of_a_cut_link_agree_after_healing() {
    use protocol::conversation::{Rating, RatingScale};
    use protocol::replication::Reader;
    for a_first in [true, false] {
        let (a, b, visitor, [alice, _]) = linked_pair(0).await;
        let conversation = ConversationId(uuid::Uuid::now_v7());
        let first = post(
            &a,
            visitor_poster(visitor),
            conversation,
            MessageId(uuid::Uuid::now_v7()),
            "one",
        )
        .await;
        let second = post(
            &a,
            visitor_poster(visitor),
            conversation,
            MessageId(uuid::Uuid::now_v7()),
            "two",
        )
        .await;
        let op = alice.clone();
        a.store
            .write(move |w| w.close(conversation, &op))
            .await
            .unwrap();
        pull(&a, &b).await;
        // Cut off: the operator reads everything at `a` and only the first message at `b` (a
        // stale console); the visitor rates at `a`, then changes their mind at `b`.
        a.store
            .write(move |w| w.mark_read(conversation, Reader::Operator, second.hlc))
            .await
            .unwrap();
        b.store
            .write(move |w| w.mark_read(conversation, Reader::Operator, first.hlc))
            .await
            .unwrap();
        let rating = |score: u8| Rating {
            scale: RatingScale::GoodBad,
            score,
            comment: None,
        };
        a.store
            .write(move |w| w.rate(conversation, visitor, rating(0)))
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        b.store
            .write(move |w| w.rate(conversation, visitor, rating(1)))
            .await
            .unwrap();
        heal(&a, &b, a_first).await;
        for side in [&a, &b] {
            let summary = side
                .store
                .read(move |r| r.conversation(conversation))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                summary.operator_read, second.hlc,
                "read state only moves forward"
            );
            assert_eq!(summary.rating, Some(rating(1)), "the later rating wins");
        }
    }
}

#[tokio::test]
async fn a_message_with_a_file_stored_on_both_sides_of_a_cut_link_is_kept_once_with_its_file() {
    let file = protocol::conversation::Attachment {
        hash: "ab".repeat(32),
        name: "offer.pdf".into(),
        size: 24,
        content_type: "application/pdf".into(),
    };
    for a_first in [true, false] {
        let (a, b, visitor, _) = linked_pair(0).await;
        let conversation = ConversationId(uuid::Uuid::now_v7());
        let id = MessageId(uuid::Uuid::now_v7());
        // Cut off: the widget's outbox sends the same message to both sides; `b` also takes
        // another file-only message.
        for side in [&a, &b] {
            let (poster, file) = (visitor_poster(visitor), file.clone());
            side.store
                .write(move |w| w.post_message(&poster, conversation, id, "", None, Some(&file)))
                .await
                .unwrap();
        }
        let (poster, other) = (visitor_poster(visitor), file.clone());
        let second = MessageId(uuid::Uuid::now_v7());
        b.store
            .write(move |w| w.post_message(&poster, conversation, second, "", None, Some(&other)))
            .await
            .unwrap();
        heal(&a, &b, a_first).await;
        for side in [&a, &b] {
            let messages = side
                .store
                .read(move |r| r.messages_after(conversation, 0))
                .await
                .unwrap();
            assert_eq!(messages.len(), 2, "{messages:?}");
            assert!(messages
                .iter()
                .all(|m| m.attachment.as_ref() == Some(&file)));
        }
    }
}

#[tokio::test]
async fn private_notes_written_on_both_sides_of_a_cut_link_are_kept_once_and_stay_private() {
    for a_first in [true, false] {
        let (a, b, visitor, [alice, bob]) = linked_pair(0).await;
        let conversation = ConversationId(uuid::Uuid::now_v7());
        post(
            &a,
            visitor_poster(visitor),
            conversation,
            MessageId(uuid::Uuid::now_v7()),
            "Hi",
        )
        .await;
        pull(&a, &b).await;
        // Cut off: Alice's console sends the same note to both sides (its outbox resent it after
        // a failover), Bob writes another one on `b`.
        let shared = MessageId(uuid::Uuid::now_v7());
        for side in [&a, &b] {
            let poster = Identity::Operator(alice.clone());
            side.store
                .write(move |w| w.post_note(&poster, conversation, shared, "VIP customer"))
                .await
                .unwrap();
        }
        let poster = Identity::Operator(bob.clone());
        let other = MessageId(uuid::Uuid::now_v7());
        b.store
            .write(move |w| w.post_note(&poster, conversation, other, "Refund approved"))
            .await
            .unwrap();
        heal(&a, &b, a_first).await;
        assert_identical(&a, &b);
        for side in [&a, &b] {
            let all = side
                .store
                .read(move |r| r.messages_after(conversation, 0))
                .await
                .unwrap();
            let notes: Vec<_> = all.iter().filter(|m| m.private).map(|m| m.id).collect();
            assert_eq!(notes.len(), 2, "{all:?}");
            assert!(notes.contains(&shared) && notes.contains(&other));
            let for_visitor = side
                .store
                .read(move |r| r.messages_after_for(conversation, 0, false))
                .await
                .unwrap();
            assert_eq!(for_visitor.len(), 1, "{for_visitor:?}");
            let summary = side
                .store
                .read(move |r| r.conversation(conversation))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                summary.last_message.as_deref(),
                Some("Hi"),
                "a note is no preview"
            );
        }
    }
}

#[tokio::test]
async fn canned_replies_edited_and_removed_on_both_sides_of_a_cut_link_agree_after_healing() {
    use protocol::canned::{CannedId, CannedReply, CannedScope};
    for a_first in [true, false] {
        let (a, b, _, [alice, _]) = linked_pair(0).await;
        let reply = |id: CannedId, shortcut: &str, text: &str| CannedReply {
            id,
            scope: CannedScope::Site(SiteId("acme".into())),
            shortcut: shortcut.into(),
            text: text.into(),
        };
        let (kept, gone) = (
            CannedId(uuid::Uuid::now_v7()),
            CannedId(uuid::Uuid::now_v7()),
        );
        let both = [
            reply(kept, "hours", "We open at 9."),
            reply(gone, "old", "Old text"),
        ];
        a.store
            .write(move |w| {
                for r in both {
                    w.set_canned(r.id, Some(r))?;
                }
                Ok(())
            })
            .await
            .unwrap();
        pull(&a, &b).await;
        // Cut off: `a` edits one and removes the other; `b` edits the removed one, then adds one
        // of its own. Later writes win per reply.
        let edit = reply(kept, "hours", "We open at 8.");
        a.store
            .write(move |w| w.set_canned(kept, Some(edit)))
            .await
            .unwrap();
        let late = reply(gone, "old", "Edited on b");
        b.store
            .write(move |w| w.set_canned(gone, Some(late)))
            .await
            .unwrap();
        // The clocks tick in milliseconds: within the same one the two writes would be ordered
        // by origin alone, so the removal waits for the next.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        a.store
            .write(move |w| w.set_canned(gone, None))
            .await
            .unwrap();
        let added = CannedId(uuid::Uuid::now_v7());
        let new = reply(added, "new", "Added on b");
        b.store
            .write(move |w| w.set_canned(added, Some(new)))
            .await
            .unwrap();
        heal(&a, &b, a_first).await;
        assert_identical(&a, &b);
        for side in [&a, &b] {
            let profile = alice.clone();
            let all = side
                .store
                .read(move |r| r.canned_for(&profile))
                .await
                .unwrap();
            let texts: Vec<_> = all
                .iter()
                .map(|r| (r.shortcut.as_str(), r.text.as_str()))
                .collect();
            assert_eq!(texts, [("hours", "We open at 8."), ("new", "Added on b")]);
        }
    }
}

#[tokio::test]
async fn two_deployments_routing_the_same_chat_during_a_split_agree_on_one_assignee() {
    use protocol::replication::{OperatorSetting, SiteSetting};
    use protocol::routing::RoutingMode;
    let (a, b, visitor, [alice, bob]) = linked_pair(0).await;
    let site = SiteId("acme".into());
    let (s, al, bo) = (site.clone(), alice.id, bob.id);
    a.store
        .write(move |w| {
            w.set_site_setting(&s, SiteSetting::Routing(RoutingMode::RoundRobin))?;
            w.set_operator_setting(al, OperatorSetting::Capacity(1))?;
            w.set_operator_setting(bo, OperatorSetting::Capacity(1))
        })
        .await
        .unwrap();
    let conversation = ConversationId(uuid::Uuid::now_v7());
    let id = MessageId(uuid::Uuid::now_v7());
    post(&a, visitor_poster(visitor), conversation, id, "anyone?").await;
    pull(&a, &b).await;
    // Cut off, each side sees only its own operator online and routes the chat to them; an
    // admin on one side also changes the site's mode while the other raises Bob's capacity.
    let routed_a = a
        .store
        .write(move |w| w.route_waiting(&[al]))
        .await
        .unwrap();
    assert_eq!(routed_a.len(), 1);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let routed_b = b
        .store
        .write(move |w| w.route_waiting(&[bo]))
        .await
        .unwrap();
    assert_eq!(routed_b.len(), 1);
    let s = site.clone();
    a.store
        .write(move |w| w.set_site_setting(&s, SiteSetting::Routing(RoutingMode::LeastBusy)))
        .await
        .unwrap();
    b.store
        .write(move |w| w.set_operator_setting(bo, OperatorSetting::Capacity(3)))
        .await
        .unwrap();
    heal(&a, &b, false).await;
    for side in [&a, &b] {
        let summary = side
            .store
            .read(move |r| r.conversation(conversation))
            .await
            .unwrap()
            .unwrap();
        // The later assignment (on the hybrid clock) wins on both sides; Alice's room is back.
        assert_eq!(summary.operator.unwrap().id, bob.id);
        let loads = side
            .store
            .read(move |r| Ok((r.active_chats(al)?, r.active_chats(bo)?)))
            .await
            .unwrap();
        assert_eq!(loads, (0, 1));
        let s = site.clone();
        let mode = side.store.read(move |r| r.site_routing(&s)).await.unwrap();
        assert_eq!(mode, RoutingMode::LeastBusy);
        let team = side.store.read(|r| r.admin_operators()).await.unwrap();
        let capacity = |id| team.iter().find(|o| o.id == id).unwrap().capacity;
        assert_eq!((capacity(al), capacity(bo)), (1, 3));
    }
    // Both "joined" notices stay in the transcript.
    let messages = a
        .store
        .read(move |r| r.messages_after(conversation, 0))
        .await
        .unwrap();
    let joined = messages
        .iter()
        .filter(|m| m.author.kind == AuthorKind::System && m.body.ends_with("joined the chat"))
        .count();
    assert_eq!(joined, 2);
    // Healed in the other order, the same.
    let (c, d, visitor, [_, _]) = linked_pair(0).await;
    let conversation = ConversationId(uuid::Uuid::now_v7());
    let id = MessageId(uuid::Uuid::now_v7());
    let s = site.clone();
    c.store
        .write(move |w| w.set_site_setting(&s, SiteSetting::Routing(RoutingMode::RoundRobin)))
        .await
        .unwrap();
    post(&c, visitor_poster(visitor), conversation, id, "hello?").await;
    pull(&c, &d).await;
    let team = c.store.read(|r| r.admin_operators()).await.unwrap();
    let (first, second) = (team[0].id, team[1].id);
    c.store
        .write(move |w| w.route_waiting(&[first]))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    d.store
        .write(move |w| w.route_waiting(&[second]))
        .await
        .unwrap();
    heal(&c, &d, true).await;
}

#[tokio::test]
async fn pages_and_browser_context_reported_on_both_sides_of_a_cut_link_agree_after_healing() {
    use protocol::visitor::VisitorContext;
    let (a, b, visitor, _) = linked_pair(0).await;
    let context = |agent: &str| VisitorContext {
        user_agent: Some(agent.into()),
        language: Some("de-CH".into()),
        ..Default::default()
    };
    // Cut off, the visitor's widget reports pages and its browser to each side in turn.
    let old = context("Firefox/120");
    a.store
        .write(move |w| w.visit(visitor, Some("https://shop.example/"), Some(&old)))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let new = context("Firefox/121");
    b.store
        .write(move |w| w.visit(visitor, Some("https://shop.example/pricing"), Some(&new)))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    a.store
        .write(move |w| w.visit(visitor, Some("https://shop.example/pricing"), None))
        .await
        .unwrap();
    heal(&a, &b, true).await;
    for side in [&a, &b] {
        let (_, view) = side
            .store
            .read(move |r| r.visitor_context_view(visitor))
            .await
            .unwrap()
            .unwrap();
        // Every page view is kept; the same page twice in a row shows once, the newest first.
        let pages: Vec<_> = view.pages.iter().map(|p| p.url.as_str()).collect();
        assert_eq!(
            pages,
            ["https://shop.example/pricing", "https://shop.example/"]
        );
        // The later context wins.
        assert_eq!(
            view.context.unwrap().user_agent.as_deref(),
            Some("Firefox/121")
        );
    }
}
