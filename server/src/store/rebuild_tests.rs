//! A deployment that lost its data directory takes its own events back from the peer, numbers
//! what it records next above everything before, and ends identical to the peer.

use super::*;
use crate::identity::Identity;
use protocol::{ConversationId, MessageId, SiteId, VisitorId};

fn site() -> Site {
    Site {
        id: SiteId("acme".into()),
        name: "Acme".into(),
        allowed_origins: vec!["https://acme.example".into()],
    }
}

fn open(dir: &Path, name: &str) -> Store {
    Store::open_as(dir, name, crate::clock::system_clock(0)).unwrap()
}

/// Applies `from`'s own log after `to`'s cursor for it, as the pull link does.
async fn pull(from: &Store, to: &Store) {
    let (origin, peer) = (from.origin().to_owned(), from.origin().to_owned());
    let cursor = to.read(move |r| r.cursor(&peer)).await.unwrap();
    let events = from
        .read(move |r| r.local_events_after(&origin, cursor, 10_000))
        .await
        .unwrap();
    let peer = from.origin().to_owned();
    to.write(move |w| {
        let mut last = cursor;
        for event in &events {
            w.apply_remote(event)?;
            last = event.seq;
        }
        w.set_cursor(&peer, last)
    })
    .await
    .unwrap();
}

/// Takes `lost`'s own events back from `peer`, page by page of `page` events.
async fn rebuild(lost: &Store, peer: &Store, page: usize) -> usize {
    let mut pages = 0;
    loop {
        let (after, below) = lost
            .read(|r| Ok((r.rebuild_position()?, r.own_seq_floor()?)))
            .await
            .unwrap();
        let Some(after) = after else { return pages };
        let origin = lost.origin().to_owned();
        let returned = peer
            .read(move |r| r.returned_events(&origin, after, below, page))
            .await
            .unwrap();
        pages += 1;
        lost.write(move |w| {
            for event in &returned.events {
                w.apply_returned(event)?;
            }
            w.set_rebuild_position((!returned.done).then_some(returned.next_after))
        })
        .await
        .unwrap();
    }
}

/// A primary and a redundant store on fresh directories, with the site created at the redundant
/// one (so it reaches the primary over the pull link again after a loss; everything else the
/// tests write at the primary is the primary's own) and pulled by the primary.
async fn pair_with_site() -> (tempfile::TempDir, tempfile::TempDir, Store, Store) {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (primary, redundant) = (
        open(dir_a.path(), "primary"),
        open(dir_b.path(), "redundant"),
    );
    redundant.write(|w| w.upsert_site(&site())).await.unwrap();
    pull(&redundant, &primary).await;
    (dir_a, dir_b, primary, redundant)
}

async fn chat(store: &Store, visitor: VisitorId, conversation: ConversationId, body: &str) {
    let poster = Identity::Visitor {
        visitor_id: visitor,
        site_id: site().id,
        page_url: None,
    };
    let body = body.to_owned();
    store
        .write(move |w| {
            w.ensure_visitor(visitor, &site().id)?;
            w.post_message(
                &poster,
                conversation,
                MessageId(uuid::Uuid::now_v7()),
                &body,
                None,
                None,
            )
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_deployment_started_empty_takes_its_own_past_back_and_numbers_above_it() {
    let started_ms = crate::clock::system_clock(0)();
    let (_lost_dir, dir_b, primary, redundant) = pair_with_site().await;
    let visitor = VisitorId(uuid::Uuid::now_v7());
    let conversation = ConversationId(uuid::Uuid::now_v7());
    for n in 0..7 {
        chat(
            &primary,
            visitor,
            conversation,
            &format!("before the loss {n}"),
        )
        .await;
    }
    chat(
        &redundant,
        VisitorId(uuid::Uuid::now_v7()),
        ConversationId(uuid::Uuid::now_v7()),
        "the peer's own",
    )
    .await;
    pull(&primary, &redundant).await;
    pull(&redundant, &primary).await;
    // A fresh directory numbers its own log from the floor, the wall clock in microseconds.
    let old_head = primary.read(|r| r.head("primary")).await.unwrap();
    assert!(old_head >= (started_ms as u64) * 1_000, "{old_head}");
    let cursor_at_peer = redundant.read(|r| r.cursor("primary")).await.unwrap();
    assert_eq!(cursor_at_peer, old_head);

    // The primary's directory is lost; it starts again on an empty one.
    primary.shutdown();
    drop(primary);
    // The floor counts a thousand positions per millisecond: a restart within the millisecond
    // of the old floor is not a case a real deployment meets.
    std::thread::sleep(std::time::Duration::from_millis(3));
    let dir_a = tempfile::tempdir().unwrap();
    let primary = open(dir_a.path(), "primary");
    assert_eq!(
        primary.read(|r| r.rebuild_position()).await.unwrap(),
        Some(0)
    );
    pull(&redundant, &primary).await;
    // What it records before its past is back is numbered above that past, so the peer, whose
    // cursor stands at the old head, does not skip it.
    chat(&primary, visitor, conversation, "during the rebuild").await;
    assert!(primary.read(|r| r.head("primary")).await.unwrap() > old_head);

    // Pages of three: an interrupted rebuild goes on from the position kept with the events.
    let pages = rebuild(&primary, &redundant, 3).await;
    assert!(pages >= 3, "{pages} pages");
    assert_eq!(primary.read(|r| r.rebuild_position()).await.unwrap(), None);
    // Taking back twice changes nothing: the events are applied once.
    let again = redundant
        .read(|r| r.returned_events("primary", 0, u64::MAX, 100))
        .await
        .unwrap();
    let before_again = primary.read(|r| r.head("primary")).await.unwrap();
    primary
        .write(move |w| {
            for event in &again.events {
                w.apply_returned(event)?;
            }
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(
        primary.read(|r| r.head("primary")).await.unwrap(),
        before_again
    );

    pull(&primary, &redundant).await;
    chat(&primary, visitor, conversation, "after the rebuild").await;
    pull(&primary, &redundant).await;
    primary.shutdown();
    redundant.shutdown();
    let differences = sync_check::compare(dir_a.path(), dir_b.path()).unwrap();
    assert!(differences.is_empty(), "{differences:?}");
    // The peer got both messages written after the loss.
    let reader = rusqlite::Connection::open(dir_b.path().join(DATABASE_FILE)).unwrap();
    let count: i64 = reader
        .query_row("SELECT count(*) FROM messages WHERE body IN ('during the rebuild', 'after the rebuild')", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 2);
}

#[tokio::test]
async fn an_event_of_another_origin_is_not_taken_back_as_ours() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (primary, redundant) = (
        open(dir_a.path(), "primary"),
        open(dir_b.path(), "redundant"),
    );
    redundant.write(|w| w.upsert_site(&site())).await.unwrap();
    let theirs = redundant
        .read(|r| r.local_events_after("redundant", 0, 10))
        .await
        .unwrap();
    let refused = primary
        .write(move |w| w.apply_returned(&theirs[0]))
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("not one of ours"), "{refused}");
}

#[tokio::test]
async fn events_that_come_back_before_what_they_refer_to_are_held_back_and_applied_later() {
    // Both orders a rebuild can meet: the peer's reply before the conversation we had opened
    // (the pull link first), and our reply before the conversation the peer had opened (the
    // pages first).
    for pull_first in [true, false] {
        let (_lost_dir, dir_b, primary, redundant) = pair_with_site().await;
        let (ours, theirs) = (
            VisitorId(uuid::Uuid::now_v7()),
            VisitorId(uuid::Uuid::now_v7()),
        );
        let (opened_here, opened_there) = (
            ConversationId(uuid::Uuid::now_v7()),
            ConversationId(uuid::Uuid::now_v7()),
        );
        chat(&primary, ours, opened_here, "opened here").await;
        chat(&redundant, theirs, opened_there, "opened there").await;
        pull(&primary, &redundant).await;
        pull(&redundant, &primary).await;
        chat(&redundant, ours, opened_here, "replied there").await;
        chat(&primary, theirs, opened_there, "replied here").await;
        pull(&primary, &redundant).await;
        primary.shutdown();
        drop(primary);
        std::thread::sleep(std::time::Duration::from_millis(3));

        let dir_a = tempfile::tempdir().unwrap();
        let primary = open(dir_a.path(), "primary");
        if pull_first {
            pull(&redundant, &primary).await;
            rebuild(&primary, &redundant, 2).await;
        } else {
            rebuild(&primary, &redundant, 2).await;
            pull(&redundant, &primary).await;
        }
        let (quarantined, _) = primary.read(|r| r.quarantine_report()).await.unwrap();
        assert!(quarantined > 0, "pull first: {pull_first}");
        assert!(primary.read(|r| r.rebuild_settling()).await.unwrap());
        let (_, held) = primary
            .write(|w| {
                let held = w.retry_held_back()?;
                w.end_rebuild()?;
                Ok(held)
            })
            .await
            .unwrap();
        assert_eq!(held, 0, "pull first: {pull_first}");
        assert_eq!(primary.read(|r| r.quarantine_report()).await.unwrap().0, 0);
        assert!(!primary.read(|r| r.rebuild_settling()).await.unwrap());
        primary.shutdown();
        redundant.shutdown();
        let differences = sync_check::compare(dir_a.path(), dir_b.path()).unwrap();
        assert!(
            differences.is_empty(),
            "pull first: {pull_first}: {differences:?}"
        );
    }
}
