//! The moderator with real processes: the primary killed with SIGKILL makes the redundant
//! deployment active; a restarted primary becomes active again only once it holds everything (a
//! primary that is healthy but cut off from replication is held back past the hold time); manual
//! failover moves connected native visitors to the redundant deployment without losing or doubling
//! a message, and `release` brings everyone back.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use tests::deployment::{server_bin, SITE_ID};
use tests::moderator::{ModeratorProcess, ADMIN_SECRET, FAILBACK_HOLD_MS};
use tests::pair::{start_pair, wait_until_in_sync, Member};
use tests::visitor::{chat, VisitorReport};

/// `server check-sync` once: true when the two data directories hold the same data.
fn in_sync_now(a: &Path, b: &Path) -> bool {
    Command::new(server_bin())
        .arg("check-sync")
        .arg(a)
        .arg(b)
        .output()
        .unwrap()
        .status
        .success()
}

async fn in_sync(primary: &Member, redundant: &Member) {
    let (a, b) = (
        primary.data_dir.path().to_owned(),
        redundant.data_dir.path().to_owned(),
    );
    tokio::task::spawn_blocking(move || wait_until_in_sync(&a, &b))
        .await
        .unwrap();
}

/// How many times each message id is stored in a deployment's database.
fn stored_counts(dir: &Path) -> BTreeMap<String, usize> {
    let conn = rusqlite::Connection::open_with_flags(
        dir.join("livechat.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = conn.prepare("SELECT id FROM messages").unwrap();
    let mut counts = BTreeMap::new();
    for id in stmt.query_map([], |r| r.get::<_, String>(0)).unwrap() {
        *counts.entry(id.unwrap()).or_default() += 1;
    }
    counts
}

async fn visitors(
    count: usize,
    start: &Member,
    fallback: &Member,
    messages: usize,
    interval: Duration,
) -> Vec<VisitorReport> {
    let tasks: Vec<_> = (0..count)
        .map(|_| {
            tokio::spawn(chat(
                SITE_ID,
                start.url(),
                fallback.url(),
                messages,
                interval,
                Duration::from_secs(60),
            ))
        })
        .collect();
    let mut reports = Vec::new();
    for task in tasks {
        reports.push(task.await.unwrap());
    }
    reports
}

fn reasons(status: &serde_json::Value) -> Vec<String> {
    status["recent_decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["reason"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_fails_over_and_failback_waits_until_the_primary_holds_everything() {
    let (mut primary, redundant) = start_pair(0);
    let moderator = ModeratorProcess::start(&primary, &redundant);
    moderator.wait_until_pushed().await;
    assert_eq!(moderator.active().await.active, "primary");
    in_sync(&primary, &redundant).await;

    primary.kill9();
    let killed = Instant::now();
    let switched = moderator
        .wait_for_active("redundant", Duration::from_secs(20))
        .await;
    // A figure for the log, not an assertion: timing belongs to the benchmarks.
    eprintln!(
        "the redundant deployment became active {} ms after the kill (epoch {})",
        killed.elapsed().as_millis(),
        switched.epoch
    );

    // Visitors write to the redundant deployment while the primary is down.
    let reports = visitors(8, &redundant, &primary, 10, Duration::from_millis(20)).await;
    for report in &reports {
        assert!(report.unacked.is_empty(), "{report:?}");
        assert_eq!(report.acked.len(), 10);
    }

    // The primary comes back healthy but unable to pull from the redundant deployment: it lacks
    // what was written meanwhile, so it must not become active, however long it stays healthy.
    primary.start_cut_off();
    let up_deadline = Instant::now() + Duration::from_secs(20);
    while moderator.status().await["deployments"][0]["up"] != true {
        assert!(
            Instant::now() < up_deadline,
            "the primary never counted as up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(2 * FAILBACK_HOLD_MS + 1_000)).await;
    assert_eq!(moderator.active().await.active, "redundant");
    assert!(!in_sync_now(
        primary.data_dir.path(),
        redundant.data_dir.path()
    ));

    // With its replication link restored it catches up, and only then is failback decided.
    primary.kill9();
    primary.start();
    let back = moderator
        .wait_for_active("primary", Duration::from_secs(60))
        .await;
    assert!(
        in_sync_now(primary.data_dir.path(), redundant.data_dir.path()),
        "failback was decided before the primary held everything"
    );
    assert!(back.epoch > switched.epoch);
    let status = moderator.status().await;
    let reasons = reasons(&status);
    assert_eq!(reasons.first().map(String::as_str), Some("initial"));
    assert!(reasons.contains(&"primary_down".to_owned()), "{status}");
    assert_eq!(
        reasons.last().map(String::as_str),
        Some("failback"),
        "{status}"
    );
    // Every message written during the outage is on the primary, exactly once.
    let stored = stored_counts(primary.data_dir.path());
    for report in &reports {
        for id in &report.acked {
            assert_eq!(stored.get(&id.to_string()), Some(&1));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_failover_moves_connected_visitors_without_losing_a_message() {
    let (primary, redundant) = start_pair(0);
    let mut moderator = ModeratorProcess::start(&primary, &redundant);
    moderator.wait_until_pushed().await;
    in_sync(&primary, &redundant).await;

    // Twenty visitors chat on the primary; a second in, an admin moves everyone.
    let chatting = {
        let (primary_url, redundant_url) = (primary.url(), redundant.url());
        tokio::spawn(async move {
            let tasks: Vec<_> = (0..20)
                .map(|_| {
                    tokio::spawn(chat(
                        SITE_ID,
                        primary_url.clone(),
                        redundant_url.clone(),
                        60,
                        Duration::from_millis(50),
                        Duration::from_secs(60),
                    ))
                })
                .collect();
            let mut reports = Vec::new();
            for task in tasks {
                reports.push(task.await.unwrap());
            }
            reports
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!moderator.cli(&["failover", "--to", "redundant"], None));
    assert!(!moderator.cli(
        &["failover", "--to", "redundant"],
        Some("not the admin secret")
    ));
    assert!(moderator.cli(&["failover", "--to", "redundant"], Some(ADMIN_SECRET)));
    let pinned = moderator.active().await;
    assert!(pinned.pinned && pinned.active == "redundant", "{pinned:?}");
    let reports = chatting.await.unwrap();

    in_sync(&primary, &redundant).await;
    let on_primary = stored_counts(primary.data_dir.path());
    let on_redundant = stored_counts(redundant.data_dir.path());
    let mut acked = 0;
    for report in &reports {
        assert!(report.unacked.is_empty(), "lost messages: {report:?}");
        assert_eq!(report.acked.len(), 60);
        assert_eq!(report.welcomed_by.first(), Some(&primary.url()));
        assert_eq!(
            report.welcomed_by.last(),
            Some(&redundant.url()),
            "{report:?}"
        );
        assert_eq!(report.redirects, [pinned.epoch], "{report:?}");
        for id in &report.acked {
            assert_eq!(on_primary.get(&id.to_string()), Some(&1));
            assert_eq!(on_redundant.get(&id.to_string()), Some(&1));
        }
        acked += report.acked.len();
    }
    assert_eq!(acked, 20 * 60);

    // A pin holds even though the primary is healthy and synchronised.
    tokio::time::sleep(Duration::from_millis(2 * FAILBACK_HOLD_MS)).await;
    assert_eq!(moderator.active().await.active, "redundant");
    assert!(moderator.cli(&["release"], Some(ADMIN_SECRET)));
    moderator
        .wait_for_active("primary", Duration::from_secs(30))
        .await;
    moderator.wait_until_pushed().await;

    // With the moderator gone, both deployments keep serving and keep their last decision: a new
    // visitor on the primary chats without being sent anywhere.
    moderator.kill9();
    let late = chat(
        SITE_ID,
        primary.url(),
        redundant.url(),
        3,
        Duration::from_millis(10),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!((late.acked.len(), late.redirects.len()), (3, 0), "{late:?}");
}
