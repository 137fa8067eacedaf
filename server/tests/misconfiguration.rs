//! A pair set up wrongly is found on the first exchange of the replication link and reported in
//! `/health` with a sentence saying what to change: a wrong replication secret, a peer URL that
//! leads back to the deployment itself, two deployments with one name, and token secrets that
//! differ (each deployment would refuse the other's visitors). A pair set up right reports none.

mod support;

use axum::http::StatusCode;
use std::time::Duration;
use support::{converged, pair_config, TestServer};

const SECRET: &str = "replication secret for tests";

/// The problems `server` reports in `/health` to a caller with `secret`.
async fn problems(server: &TestServer, secret: &str) -> Vec<(String, String)> {
    let (status, health) = server.http("GET", "/health", Some(secret), None).await;
    assert_eq!(status, StatusCode::OK, "{health}");
    health["problems"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|p| {
                    let field = |f: &str| p[f].as_str().unwrap().to_owned();
                    (field("code"), field("message"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Waits (bounded) until `server` reports a problem named `code`, and returns its sentence.
async fn reported(server: &TestServer, secret: &str, code: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let found = problems(server, secret).await;
        if let Some((_, message)) = found.iter().find(|(c, _)| c == code) {
            return message.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{code} was never reported; /health shows {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Two deployments on their own ports, each pointed at the other, set up by `tune_a` and
/// `tune_b` after the correct pair configuration.
async fn pair(
    tune_a: impl FnOnce(&mut server::config::Config),
    tune_b: impl FnOnce(&mut server::config::Config),
) -> (TestServer, TestServer) {
    let a = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url_a = format!("http://{}", a.local_addr().unwrap());
    let url_b = format!("http://{}", b.local_addr().unwrap());
    let first = TestServer::start_on(a, tempfile::tempdir().unwrap(), true, |c| {
        pair_config(c, "primary", &url_b);
        tune_a(c);
    })
    .await;
    let second = TestServer::start_on(b, tempfile::tempdir().unwrap(), false, |c| {
        pair_config(c, "redundant", &url_a);
        tune_b(c);
    })
    .await;
    (first, second)
}

#[tokio::test]
async fn a_pair_set_up_right_reports_no_problem() {
    let (primary, redundant) = TestServer::start_pair().await;
    converged(&primary, &redundant).await;
    assert!(problems(&primary, SECRET).await.is_empty());
    assert!(problems(&redundant, SECRET).await.is_empty());
    // A load balancer without the secret learns nothing about the configuration.
    let (_, health) = primary.http("GET", "/health", None, None).await;
    assert!(health.get("problems").is_none(), "{health}");
}

#[tokio::test]
async fn a_wrong_replication_secret_is_reported_at_both_ends() {
    let other = "another replication secret";
    let (primary, redundant) = pair(|_| {}, |c| c.replication_secret = Some(other.into())).await;
    // Each one's pull is refused by the other, and each one saw the other's wrong secret.
    let refused = reported(&primary, SECRET, "replication_secret_refused").await;
    assert!(
        refused.contains("set the same replication_secret"),
        "{refused}"
    );
    reported(&primary, SECRET, "replication_secret_wrong").await;
    reported(&redundant, other, "replication_secret_refused").await;
    reported(&redundant, other, "replication_secret_wrong").await;
}

#[tokio::test]
async fn a_peer_url_leading_back_to_the_deployment_itself_is_reported() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let own = format!("http://{}", listener.local_addr().unwrap());
    let lonely = TestServer::start_on(listener, tempfile::tempdir().unwrap(), true, |c| {
        pair_config(c, "primary", &own)
    })
    .await;
    let message = reported(&lonely, SECRET, "peer_is_self").await;
    assert!(
        message.contains(&own) && message.contains("other deployment"),
        "{message}"
    );
    // Its own log is not pulled into itself under a second cursor.
    assert!(!problems(&lonely, SECRET)
        .await
        .iter()
        .any(|(code, _)| code == "same_name"));
}

#[tokio::test]
async fn two_deployments_with_one_name_are_reported_by_both() {
    let (first, second) = pair(|_| {}, |c| c.deployment = "primary".into()).await;
    for side in [&first, &second] {
        let message = reported(side, SECRET, "same_name").await;
        assert!(message.contains("\"primary\""), "{message}");
    }
    // Neither pulled the other's log under the shared name.
    for side in [&first, &second] {
        let cursor = side.state.store.read(|r| r.cursor("primary")).await;
        assert_eq!(cursor.unwrap(), 0);
    }
}

#[tokio::test]
async fn token_secrets_that_differ_are_reported_while_replication_goes_on() {
    let (primary, redundant) = pair(
        |_| {},
        |c| c.token_secret = Some("a different token secret".into()),
    )
    .await;
    let message = reported(&primary, SECRET, "token_secrets_differ").await;
    assert!(
        message.contains("redundant") && message.contains("token_secret"),
        "{message}"
    );
    reported(&redundant, SECRET, "token_secrets_differ").await;
    // What it warns about is real: a token from one is refused by the other. Replication itself
    // still carries everything.
    converged(&primary, &redundant).await;
    let login = primary.login("alice@example.com").await;
    let (status, _) = redundant
        .http("GET", "/v1/conversations", Some(&login.token), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
