//! Issue 18's "done when" for a lost data directory, with real processes: the running primary's
//! data directory is deleted while native visitors chat; its health fails, the moderator makes the
//! redundant deployment active and the visitors move with nothing lost; the primary, restarted on
//! an empty directory, takes everything back from its peer (what it had written itself included),
//! `check-sync` reports both identical, and the moderator fails back only after that.

use std::time::{Duration, Instant};
use tests::deployment::SITE_ID;
use tests::moderator::{get_json_with, ModeratorProcess};
use tests::pair::{in_sync, in_sync_now, start_pair, stored_once_on_both, REPLICATION_SECRET};
use tests::visitor::Visitor;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_whose_data_directory_is_lost_rebuilds_from_its_peer_before_failback() {
    let (mut primary, redundant) = start_pair(0);
    let moderator = ModeratorProcess::start(&primary, &redundant);
    moderator.wait_until_pushed().await;
    assert_eq!(moderator.active().await.active, "primary");
    in_sync(&primary, &redundant).await;

    // Visitors chat with the primary; some of what it stores is its own history only (the
    // conversations it opened, its own events), which the redundant deployment never gives a
    // deployment back over the pull link.
    let deployments = [primary.url(), redundant.url()];
    let mut visitors: Vec<Visitor> = (0..6)
        .map(|_| Visitor::start(SITE_ID, deployments.clone(), Some(moderator.url.clone())))
        .collect();
    for visitor in &mut visitors {
        visitor.write_paced(5, Duration::from_millis(10)).await;
        assert!(visitor.drained(Duration::from_secs(30)).await);
        assert_eq!(visitor.welcomed_by, [primary.url()]);
    }

    // The data directory is deleted by mistake while they go on writing.
    let writing: Vec<_> = visitors
        .into_iter()
        .map(|mut visitor| {
            tokio::spawn(async move {
                visitor.write_paced(20, Duration::from_millis(100)).await;
                visitor
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    std::fs::remove_dir_all(primary.data_dir.path()).expect("deleted");
    let switched = moderator
        .wait_for_active("redundant", Duration::from_secs(20))
        .await;
    let mut visitors = Vec::new();
    for task in writing {
        visitors.push(task.await.unwrap());
    }
    // Every message is acknowledged as on both deployments: nothing written before or after
    // the deletion is lost, and the visitors are with the redundant deployment now.
    for visitor in &mut visitors {
        assert!(
            visitor.drained(Duration::from_secs(30)).await,
            "a message never reached both deployments"
        );
        assert!(visitor.refused.is_empty(), "refused: {:?}", visitor.refused);
        assert_eq!(visitor.welcomed_by.last(), Some(&redundant.url()));
    }

    // The primary is restarted on an empty data directory and rebuilds from its peer.
    primary.kill9();
    assert!(!primary.data_dir.path().exists());
    primary.start();
    let health = format!("{}/health", primary.url());
    let deadline = Instant::now() + Duration::from_secs(60);
    let back = loop {
        let active = moderator.active().await;
        if active.active == "primary" {
            break active;
        }
        assert!(
            Instant::now() < deadline,
            "the primary was never made active again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        in_sync_now(primary.data_dir.path(), redundant.data_dir.path()),
        "failback was decided before the rebuilt primary held everything"
    );
    assert!(back.epoch > switched.epoch);
    let report = get_json_with(&health, Some(REPLICATION_SECRET)).await;
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["replication"].get("rebuilding"), None, "{report}");

    // The visitors follow the failback and write again: both deployments take it, once.
    for visitor in &mut visitors {
        visitor.write_paced(2, Duration::from_millis(10)).await;
        assert!(visitor.drained(Duration::from_secs(30)).await);
    }
    let written: Vec<String> = visitors
        .iter()
        .flat_map(|v| v.written.iter().map(|id| id.to_string()))
        .collect();
    assert_eq!(written.len(), 6 * 27);
    stored_once_on_both(&primary, &redundant, written).await;
}
