//! Storage tests: idempotent ingest, ordering, state changes, migrations and group commit.

use super::*;
use crate::identity::Identity;
use protocol::{
    AuthorKind, ConversationId, ConversationState, MessageId, OperatorProfile, OperatorRole,
    SiteId, VisitorId,
};

/// A password hash in the form the store accepts (a PHC string); no password matches it.
const HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fn site() -> Site {
    Site {
        id: SiteId("acme".into()),
        name: "Acme".into(),
        allowed_origins: vec!["https://acme.example".into()],
    }
}

async fn setup() -> (tempfile::TempDir, Store, Identity, OperatorProfile) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let visitor = VisitorId(uuid::Uuid::now_v7());
    let operator = store
        .write(move |conn| {
            conn.upsert_site(&site())?;
            conn.ensure_visitor(visitor, &site().id)?;
            conn.add_operator(
                "alice@example.com",
                "Alice",
                HASH,
                OperatorRole::Agent,
                false,
            )
        })
        .await
        .unwrap();
    let poster = Identity::Visitor {
        visitor_id: visitor,
        site_id: site().id,
        page_url: None,
    };
    (dir, store, poster, operator)
}

fn new_ids() -> (ConversationId, MessageId) {
    (
        ConversationId(uuid::Uuid::now_v7()),
        MessageId(uuid::Uuid::now_v7()),
    )
}

async fn post(
    store: &Store,
    poster: &Identity,
    c: ConversationId,
    m: MessageId,
    body: &str,
) -> Result<Posted, StoreError> {
    let (poster, body) = (poster.clone(), body.to_owned());
    store
        .write(move |conn| conn.post_message(&poster, c, m, &body, None, None))
        .await
}

#[tokio::test]
async fn a_resent_message_is_stored_once_and_acknowledged_again() {
    let (_dir, store, visitor, _) = setup().await;
    let (c, m) = new_ids();
    let first = post(&store, &visitor, c, m, "hello").await.unwrap();
    let again = post(&store, &visitor, c, m, "hello").await.unwrap();
    assert!(!first.duplicate);
    assert!(again.duplicate);
    assert_eq!(first.message, again.message);
    let stored = store
        .read(move |conn| conn.messages_after(c, 0))
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(first.conversation.state, ConversationState::Waiting);
}

#[tokio::test]
async fn a_message_id_cannot_be_reused_for_another_conversation() {
    let (_dir, store, visitor, _) = setup().await;
    let (c, m) = new_ids();
    post(&store, &visitor, c, m, "hello").await.unwrap();
    let other = ConversationId(uuid::Uuid::now_v7());
    assert!(matches!(
        post(&store, &visitor, other, m, "hello").await,
        Err(StoreError::Conflict(_))
    ));
    // The refused request opened no conversation: nothing half-stored.
    assert!(store
        .read(move |conn| conn.conversation(other))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn messages_keep_their_order_and_state_changes_apply_rules() {
    let (_dir, store, visitor, alice) = setup().await;
    let (c, _) = new_ids();
    for i in 0..5 {
        post(
            &store,
            &visitor,
            c,
            MessageId(uuid::Uuid::now_v7()),
            &format!("m{i}"),
        )
        .await
        .unwrap();
    }
    let op = Identity::Operator(alice.clone());
    assert!(matches!(
        post(&store, &op, c, MessageId(uuid::Uuid::now_v7()), "hi").await,
        Err(StoreError::Forbidden(_))
    ));
    let a = alice.clone();
    let accepted = store.write(move |conn| conn.accept(c, &a)).await.unwrap();
    assert_eq!(accepted.conversation.state, ConversationState::Active);
    assert_eq!(accepted.notice.unwrap().author.kind, AuthorKind::System);
    post(
        &store,
        &op,
        c,
        MessageId(uuid::Uuid::now_v7()),
        "how can I help?",
    )
    .await
    .unwrap();
    let bob = store
        .write(|conn| conn.add_operator("bob@example.com", "Bob", HASH, OperatorRole::Agent, false))
        .await
        .unwrap();
    let b = bob.clone();
    assert!(matches!(
        store.write(move |conn| conn.accept(c, &b)).await,
        Err(StoreError::Conflict(_))
    ));
    let a = alice.clone();
    store.write(move |conn| conn.close(c, &a)).await.unwrap();
    assert!(matches!(
        post(&store, &visitor, c, MessageId(uuid::Uuid::now_v7()), "late").await,
        Err(StoreError::ConversationClosed)
    ));
    let messages = store
        .read(move |conn| conn.messages_after(c, 0))
        .await
        .unwrap();
    let bodies: Vec<_> = messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(
        bodies,
        [
            "m0",
            "m1",
            "m2",
            "m3",
            "m4",
            "Alice joined the chat",
            "how can I help?",
            "Alice closed the chat"
        ]
    );
    assert!(messages.windows(2).all(|w| w[0].seq < w[1].seq));
    let after = messages[4].seq;
    let tail = store
        .read(move |conn| conn.messages_after(c, after))
        .await
        .unwrap();
    assert_eq!(tail.len(), 3);
}

#[tokio::test]
async fn another_visitor_cannot_post_into_a_conversation() {
    let (_dir, store, visitor, _) = setup().await;
    let (c, m) = new_ids();
    post(&store, &visitor, c, m, "mine").await.unwrap();
    let intruder_id = VisitorId(uuid::Uuid::now_v7());
    store
        .write(move |conn| conn.ensure_visitor(intruder_id, &site().id))
        .await
        .unwrap();
    let intruder = Identity::Visitor {
        visitor_id: intruder_id,
        site_id: site().id,
        page_url: None,
    };
    let result = post(
        &store,
        &intruder,
        c,
        MessageId(uuid::Uuid::now_v7()),
        "theirs",
    )
    .await;
    assert!(matches!(result, Err(StoreError::Forbidden(_))));
}

#[tokio::test]
async fn concurrent_writes_share_commits_and_a_failing_one_spoils_nothing() {
    let (_dir, store, visitor, _) = setup().await;
    let (c, m) = new_ids();
    post(&store, &visitor, c, m, "first").await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let (store, visitor) = (store.clone(), visitor.clone());
        tasks.push(tokio::spawn(async move {
            // Every tenth request reuses `m` for another conversation and must fail alone.
            let (conversation, id) = if i % 10 == 0 {
                (ConversationId(uuid::Uuid::now_v7()), m)
            } else {
                (c, MessageId(uuid::Uuid::now_v7()))
            };
            post(&store, &visitor, conversation, id, &format!("n{i}"))
                .await
                .is_ok()
        }));
    }
    let mut ok = 0;
    for task in tasks {
        ok += task.await.unwrap() as usize;
    }
    assert_eq!(ok, 180);
    let stored = store
        .read(move |conn| conn.messages_after(c, 0))
        .await
        .unwrap();
    assert_eq!(stored.len(), 181);
}

#[tokio::test]
async fn reopening_an_existing_file_keeps_data_and_does_not_migrate_twice() {
    let (dir, store, visitor, _) = setup().await;
    let (c, m) = new_ids();
    post(&store, &visitor, c, m, "kept").await.unwrap();
    store.shutdown();
    let reopened = Store::open(dir.path()).unwrap();
    let stored = reopened
        .read(move |conn| conn.messages_after(c, 0))
        .await
        .unwrap();
    assert_eq!(stored[0].body, "kept");
    let version: usize = reopened
        .read_blocking(|conn| {
            Ok(conn
                .conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))?)
        })
        .unwrap();
    assert_eq!(version, schema::MIGRATIONS.len());
    let sync: i64 = reopened
        .read_blocking(|conn| {
            Ok(conn
                .conn
                .query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0))?)
        })
        .map(|m| (m == "wal") as i64)
        .unwrap();
    assert_eq!(sync, 1);
}

#[tokio::test]
async fn a_database_from_a_newer_release_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let conn = rusqlite::Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
    }
    assert!(matches!(
        Store::open(dir.path()),
        Err(StoreError::NewerSchema { found: 999, .. })
    ));
}

#[tokio::test]
async fn writes_after_shutdown_fail_cleanly() {
    let (_dir, store, visitor, _) = setup().await;
    store.shutdown();
    let (c, m) = new_ids();
    assert!(matches!(
        post(&store, &visitor, c, m, "late").await,
        Err(StoreError::Closed)
    ));
}

#[tokio::test]
async fn a_site_saved_open_by_an_empty_list_stays_open_explicitly_after_migration_5() {
    let dir = tempfile::tempdir().unwrap();
    {
        // A database as version 4 left it, with a site that listed no origins.
        let mut conn = rusqlite::Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
        let tx = conn.transaction().unwrap();
        for migration in &schema::MIGRATIONS[..4] {
            tx.execute_batch(migration).unwrap();
        }
        tx.pragma_update(None, "user_version", 4).unwrap();
        tx.execute(
            "INSERT INTO sites (id, name, allowed_origins, created_at) VALUES ('old', 'Old', '[]', 1)",
            [],
        )
        .unwrap();
        tx.commit().unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let site = store
        .read(|r| r.site(&SiteId("old".into())))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(site.allowed_origins, vec![ANY_ORIGIN.to_owned()]);
    assert!(site.allows_origin(None));
    assert!(site.allows_origin(Some("https://anywhere.example")));
}

#[test]
fn origins_are_checked_and_kept_as_browsers_send_them() {
    assert_eq!(
        normalise_origin("https://Shop.Example/").unwrap(),
        "https://shop.example"
    );
    assert_eq!(
        normalise_origin("http://localhost:8080").unwrap(),
        "http://localhost:8080"
    );
    // The scheme's default port is left out, as in the browser's `Origin`.
    assert_eq!(
        normalise_origin("https://shop.example:443").unwrap(),
        "https://shop.example"
    );
    assert_eq!(
        normalise_origin("https://bücher.example").unwrap(),
        "https://xn--bcher-kva.example"
    );
    for bad in [
        "shop.example",
        "https://shop.example/checkout",
        "https://shop.example?x=1",
        "https://user@shop.example",
        "ftp://shop.example",
        "*",
        "",
    ] {
        assert!(normalise_origin(bad).is_err(), "{bad} accepted");
    }
    let listed = Site {
        allowed_origins: vec!["https://acme.example".into()],
        ..site()
    };
    assert!(listed.allows_origin(Some("https://acme.example")));
    assert!(!listed.allows_origin(Some("https://evil.example")));
    assert!(!listed.allows_origin(None));
}

#[tokio::test]
async fn long_expired_sessions_are_purged_and_check_sync_ignores_them() {
    let (dir_a, a, _, alice) = setup().await;
    let (dir_b, b, _, _) = setup().await;
    let now = a.now_ms();
    let long_ago = "a".repeat(64);
    let (kept, id) = ("b".repeat(64), alice.id);
    a.write(move |w| w.create_session(&long_ago, id, now - 3 * 86_400_000))
        .await
        .unwrap();
    // Only `a` holds a session that expired three days ago: no difference worth reporting.
    let differences = sync_check::compare(dir_a.path(), dir_b.path()).unwrap();
    assert!(
        !differences
            .iter()
            .any(|d| d.starts_with("operator sessions")),
        "{differences:?}"
    );
    a.write(move |w| w.create_session(&kept, id, now - 3_600_000))
        .await
        .unwrap();
    let purged = a
        .write(move |w| w.purge_expired_sessions(now))
        .await
        .unwrap();
    assert_eq!(purged, 1, "only the one expired for more than two days");
    // One expired an hour ago is still compared (both deployments keep it for a while).
    let differences = sync_check::compare(dir_a.path(), dir_b.path()).unwrap();
    assert!(
        differences
            .iter()
            .any(|d| d.starts_with("operator sessions")),
        "{differences:?}"
    );
    drop(b);
}

/// A burst of reads (a crowd of visitors saying hello at once) runs a few at a time and leaves
/// the pool with at most `MAX_READERS` connections, each a file descriptor the WebSockets need.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_reads_runs_a_few_at_a_time_on_a_bounded_pool() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let reads: Vec<_> = (0..200)
        .map(|_| {
            let (store, running, most) = (store.clone(), running.clone(), most.clone());
            tokio::spawn(async move {
                store
                    .read(move |r| {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(2));
                        let found = r.meta("nothing");
                        running.fetch_sub(1, Ordering::SeqCst);
                        found
                    })
                    .await
            })
        })
        .collect();
    for read in reads {
        assert_eq!(read.await.unwrap().unwrap(), None);
    }
    let most = most.load(Ordering::SeqCst);
    assert!(
        (1..=MAX_READERS).contains(&most),
        "{most} reads ran at once"
    );
    let pooled = store.readers.lock().unwrap().len();
    assert!(pooled <= MAX_READERS, "{pooled} connections kept");
    store.shutdown();
}

/// The peer pulls our log all the time. Its query must stay compiled between pulls: SQLite
/// recompiles a statement whose `LIMIT` is bound on every call, and that once cost the primary
/// a seventh of its request threads under load.
#[tokio::test]
async fn the_log_read_for_the_peer_is_compiled_once_however_often_it_is_read() {
    let (dir, store, poster, _) = setup().await;
    let (conversation, _) = new_ids();
    let conn = rusqlite::Connection::open_with_flags(
        dir.path().join(DATABASE_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap();
    let reader = Reader { conn: &conn };
    for round in 1..=5 {
        let id = MessageId(uuid::Uuid::now_v7());
        post(&store, &poster, conversation, id, "hello")
            .await
            .unwrap();
        let events = reader.local_events_after(store.origin(), 0, 100).unwrap();
        assert!(events.len() > round, "each round's message is in the log");
    }
    let statement = conn
        .prepare_cached(&super::events::local_events_sql(100))
        .unwrap();
    assert_eq!(
        statement.get_status(rusqlite::StatementStatus::RePrepare),
        0,
        "the cached query was compiled again"
    );
}

/// Messages join the full-text index once per group commit (schema migration 18): a batch's
/// messages are all searchable after its commit, one rolled back with its job never is, the
/// list of messages waiting to be indexed is empty between transactions, and the index agrees
/// with the table.
#[tokio::test]
async fn a_batch_of_messages_is_indexed_at_its_commit_and_a_refused_one_never_is() {
    let (_dir, store, poster, _) = setup().await;
    let (conversation, first) = new_ids();
    post(&store, &poster, conversation, first, "opening kiwi")
        .await
        .unwrap();
    let mut writes = Vec::new();
    for i in 0..40 {
        let (store, poster) = (store.clone(), poster.clone());
        writes.push(tokio::spawn(async move {
            let id = MessageId(uuid::Uuid::now_v7());
            let body = if i == 20 {
                "refused mango"
            } else {
                "ripe mango"
            };
            store
                .write(move |w| {
                    w.post_message(&poster, conversation, id, body, None, None)?;
                    match i {
                        20 => Err(StoreError::Invalid("refused on purpose".into())),
                        _ => Ok(()),
                    }
                })
                .await
        }));
    }
    let mut refused = 0;
    for write in writes {
        refused += write.await.unwrap().is_err() as usize;
    }
    assert_eq!(refused, 1);
    let count = |query: &'static str| {
        store.read_blocking(move |r| {
            Ok(r.conn.query_row(
                "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?1",
                [query],
                |row| row.get::<_, i64>(0),
            )?)
        })
    };
    assert_eq!(count("mango").unwrap(), 39);
    assert_eq!(count("kiwi").unwrap(), 1);
    assert_eq!(count("refused").unwrap(), 0);
    let waiting: i64 = store
        .read_blocking(|r| {
            Ok(r.conn
                .query_row("SELECT count(*) FROM messages_fts_pending", [], |row| {
                    row.get(0)
                })?)
        })
        .unwrap();
    assert_eq!(waiting, 0);
    store
        .write(|w| {
            w.conn().execute(
                "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')",
                [],
            )?;
            Ok(())
        })
        .await
        .unwrap();
}
