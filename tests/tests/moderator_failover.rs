//! The moderator with real processes: the primary killed with SIGKILL makes the redundant
//! deployment active; a restarted primary becomes active again only once it holds everything (a
//! primary that is healthy but cut off from replication is held back past the hold time); manual
//! failover moves connected native visitors to the redundant deployment without losing or doubling
//! a message, and `release` brings everyone back.

use std::time::{Duration, Instant};
use tests::deployment::SITE_ID;
use tests::moderator::{ModeratorProcess, ADMIN_SECRET, FAILBACK_HOLD_MS};
use tests::pair::{in_sync, in_sync_now, start_pair, stored_once_on_both};
use tests::visitor::Visitor;

/// Starts `count` visitors (knowing both deployments and the moderator), has each write
/// `messages` messages one every `interval`, and returns them once every message is acknowledged.
async fn chatting(
    count: usize,
    deployments: [String; 2],
    moderator: String,
    messages: usize,
    interval: Duration,
) -> Vec<Visitor> {
    let tasks: Vec<_> = (0..count)
        .map(|_| {
            let mut visitor = Visitor::start(SITE_ID, deployments.clone(), Some(moderator.clone()));
            tokio::spawn(async move {
                visitor.write_paced(messages, interval).await;
                assert!(
                    visitor.acknowledged(Duration::from_secs(30)).await,
                    "unacknowledged messages"
                );
                visitor
            })
        })
        .collect();
    let mut visitors = Vec::new();
    for task in tasks {
        visitors.push(task.await.unwrap());
    }
    visitors
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

    // Visitors arriving now are sent to the redundant deployment and write there. Their messages
    // are acknowledged but stay in their outboxes: the primary does not have them yet.
    let deployments = [primary.url(), redundant.url()];
    let mut visitors = chatting(
        8,
        deployments.clone(),
        moderator.url.clone(),
        10,
        Duration::from_millis(20),
    )
    .await;
    for visitor in &visitors {
        assert_eq!(visitor.welcomed_by, [redundant.url()]);
        assert_eq!(visitor.outbox_len(), 10);
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
    // The visitors follow the redirect back, and their outboxes drain: every message written
    // during the outage is on both deployments, exactly once.
    for visitor in &mut visitors {
        assert!(visitor.drained(Duration::from_secs(30)).await);
    }
    let written: Vec<String> = visitors
        .iter()
        .flat_map(|v| v.written.iter().map(|id| id.to_string()))
        .collect();
    stored_once_on_both(&primary, &redundant, written).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_failover_moves_connected_visitors_without_losing_a_message() {
    let (primary, redundant) = start_pair(0);
    let mut moderator = ModeratorProcess::start(&primary, &redundant);
    moderator.wait_until_pushed().await;
    in_sync(&primary, &redundant).await;

    // Twenty visitors chat on the primary; a second in, an admin moves everyone.
    let deployments = [primary.url(), redundant.url()];
    let chat = tokio::spawn(chatting(
        20,
        deployments.clone(),
        moderator.url.clone(),
        60,
        Duration::from_millis(50),
    ));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!moderator.cli(&["failover", "--to", "redundant"], None));
    assert!(!moderator.cli(
        &["failover", "--to", "redundant"],
        Some("not the admin secret")
    ));
    assert!(moderator.cli(&["failover", "--to", "redundant"], Some(ADMIN_SECRET)));
    let pinned = moderator.active().await;
    assert!(pinned.pinned && pinned.active == "redundant", "{pinned:?}");
    let mut visitors = chat.await.unwrap();
    for visitor in &mut visitors {
        assert!(visitor.drained(Duration::from_secs(30)).await);
        // Moved once, without bouncing back and forth.
        assert_eq!(visitor.welcomed_by, [primary.url(), redundant.url()]);
    }

    let written: Vec<String> = visitors
        .iter()
        .flat_map(|v| v.written.iter().map(|id| id.to_string()))
        .collect();
    assert_eq!(written.len(), 20 * 60);
    stored_once_on_both(&primary, &redundant, written).await;

    // A pin holds even though the primary is healthy and synchronised.
    tokio::time::sleep(Duration::from_millis(2 * FAILBACK_HOLD_MS)).await;
    assert_eq!(moderator.active().await.active, "redundant");
    assert!(moderator.cli(&["release"], Some(ADMIN_SECRET)));
    moderator
        .wait_for_active("primary", Duration::from_secs(30))
        .await;
    // Released, everyone is sent back to the primary.
    for visitor in &mut visitors {
        let deadline = Instant::now() + Duration::from_secs(20);
        while visitor.welcomed_by.last() != Some(&primary.url()) {
            assert!(Instant::now() < deadline, "{:?}", visitor.welcomed_by);
            visitor.pump(Duration::from_millis(50)).await;
        }
    }
    moderator.wait_until_pushed().await;

    // With the moderator gone, both deployments keep serving and keep their last decision: a new
    // visitor (whose moderator does not answer) reaches the primary and chats.
    moderator.kill9();
    let mut late = Visitor::start(SITE_ID, deployments, Some(moderator.url.clone()));
    late.write_paced(3, Duration::from_millis(10)).await;
    assert!(late.drained(Duration::from_secs(30)).await);
    assert_eq!(late.welcomed_by, [primary.url()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_return_to_a_primary_that_came_back_before_the_moderator_noticed() {
    let (mut primary, redundant) = start_pair(0);
    let moderator = ModeratorProcess::start(&primary, &redundant);
    moderator.wait_until_pushed().await;
    let deployments = [primary.url(), redundant.url()];
    let mut visitor = Visitor::start(SITE_ID, deployments, Some(moderator.url.clone()));
    visitor.write_paced(2, Duration::from_millis(20)).await;
    assert!(visitor.drained(Duration::from_secs(30)).await);
    assert_eq!(visitor.welcomed_by, [primary.url()]);

    // A blip: the primary is killed and restarted at once, likely before three probes fail, so
    // the moderator may never change its decision and no redirect would come.
    primary.kill9();
    primary.start();
    assert!(
        visitor
            .until(Duration::from_secs(30), |v| {
                v.welcomed_by.len() >= 3 && v.welcomed_by.last() == Some(&v.deployments[0])
            })
            .await,
        "the visitor went back to the primary: {:?}",
        visitor.welcomed_by
    );
    visitor.write_paced(2, Duration::from_millis(20)).await;
    assert!(visitor.drained(Duration::from_secs(30)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_with_different_token_secrets_is_named_on_the_moderator_page() {
    let (mut primary, mut redundant) = tests::pair::prepare_pair(0);
    redundant.env.push((
        "LIVECHAT_TOKEN_SECRET",
        "a token secret only the redundant one has".into(),
    ));
    primary.start();
    redundant.start();
    let moderator = ModeratorProcess::start(&primary, &redundant);
    let deadline = Instant::now() + Duration::from_secs(30);
    let problems = loop {
        let status = moderator.status().await;
        let problems = status["problems"].as_array().cloned().unwrap_or_default();
        if problems.len() >= 2 {
            break problems;
        }
        assert!(Instant::now() < deadline, "no problem reported: {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Each deployment found it on its link, and says which setting to change.
    for (problem, name) in problems.iter().zip(["primary", "redundant"]) {
        assert_eq!(problem["code"], "token_secrets_differ", "{problem}");
        let message = problem["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{name}: ")) && message.contains("same token_secret"),
            "{message}"
        );
    }
    let page = moderator.status_page().await;
    assert!(
        page.contains("data-testid=\"moderator-problem\" data-code=\"token_secrets_differ\""),
        "{page}"
    );
}
