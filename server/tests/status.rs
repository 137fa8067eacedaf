//! What a deployment tells callers without a secret about itself: that it is up, not how the pair
//! is doing or what failed inside; and that asking costs it no writes.

mod support;

use axum::http::StatusCode;
use std::collections::BTreeSet;
use std::time::Instant;
use support::TestServer;

const MODERATOR_SECRET: &str = "moderator secret for tests";
const REPLICATION_SECRET: &str = "replication secret for tests";

async fn start() -> TestServer {
    TestServer::start_with(|c| {
        c.moderator_secret = Some(MODERATOR_SECRET.into());
        c.replication_secret = Some(REPLICATION_SECRET.into());
    })
    .await
}

#[tokio::test]
async fn the_replication_status_needs_the_moderators_or_the_peers_secret() {
    let server = start().await;
    let path = "/v1/replication/status";
    for token in [None, Some("guess"), Some("")] {
        let (status, body) = server.http("GET", path, token, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    for secret in [MODERATOR_SECRET, REPLICATION_SECRET] {
        let (status, body) = server.http("GET", path, Some(secret), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("deployment").is_some(), "{body}");
    }
}

#[tokio::test]
async fn public_health_says_up_or_down_and_nothing_inside() {
    let server = start().await;
    let (status, public) = server.http("GET", "/health", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let keys: BTreeSet<_> = public.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        BTreeSet::from(["ok".into(), "protocol".into()]),
        "{public}"
    );
    let (_, detailed) = server
        .http("GET", "/health", Some(MODERATOR_SECRET), None)
        .await;
    assert!(detailed.get("replication").is_some() && detailed.get("role").is_some());

    // A failing database: the public answer says so, without the storage error's text.
    server.state.store.shutdown();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (status, public) = server.http("GET", "/health", None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(public.get("error").is_none(), "{public}");
    let (_, detailed) = server
        .http("GET", "/health", Some(MODERATOR_SECRET), None)
        .await;
    assert!(
        detailed["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{detailed}"
    );
}

#[tokio::test]
async fn a_flood_of_health_checks_costs_a_few_writes_a_second() {
    let server = start().await;
    let db = server.data_dir.path().join(server::store::DATABASE_FILE);
    let conn = rusqlite::Connection::open(db).unwrap();
    let probe = || -> String {
        conn.query_row(
            "SELECT value FROM meta WHERE key = 'health_probe'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    let started = Instant::now();
    let mut written = BTreeSet::new();
    for _ in 0..200 {
        let (status, _) = server.http("GET", "/health", None, None).await;
        assert_eq!(status, StatusCode::OK);
        written.insert(probe());
    }
    // Each distinct stored value is one probe write: one per quarter second at most.
    let allowed = started.elapsed().as_millis() / 250 + 2;
    assert!(
        written.len() as u128 <= allowed,
        "{} probe writes in {:?} for 200 checks",
        written.len(),
        started.elapsed()
    );
}
