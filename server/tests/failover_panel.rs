//! The failover panel's routes: admins only (an agent gets 403, a stranger 401, before anything
//! reaches the moderator); a deployment without a moderator, without the moderator's admin
//! secret, or whose moderator does not answer says so in a sentence; a malformed request is
//! refused. The happy path, with a real moderator, is in `tests/tests/browser_workday.rs`.

mod support;

use axum::http::StatusCode;
use support::TestServer;

#[tokio::test]
async fn only_admins_reach_the_panel_and_every_failure_is_a_sentence() {
    // A moderator URL where nothing listens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let server = TestServer::start_with(|c| {
        c.moderator_url = Some(url.clone());
        c.moderator_admin_secret = Some("moderator admin secret for tests".into());
    })
    .await;
    let admin = server.login("alice@example.com").await.token;
    let agent = server.login("bob@example.com").await.token;
    let to = serde_json::json!({ "to": "redundant" }).to_string();

    for (method, path, body) in [
        ("GET", "/v1/admin/failover", None),
        ("POST", "/v1/admin/failover", Some(to.clone())),
        ("POST", "/v1/admin/failover/release", None),
    ] {
        let (status, _) = server.http(method, path, None, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        let (status, _) = server.http(method, path, Some(&agent), body.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
        let (status, json) = server.http(method, path, Some(&admin), body).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{method} {path}: {json}");
        let message = json["message"].as_str().unwrap();
        assert!(
            message.contains("the moderator did not answer"),
            "{message}"
        );
    }
    let (status, _) = server
        .http(
            "POST",
            "/v1/admin/failover",
            Some(&admin),
            Some("{\"to\": 3}".into()),
        )
        .await;
    assert!(status.is_client_error(), "{status}");
    let (status, _) = server
        .http(
            "POST",
            "/v1/admin/failover",
            Some(&admin),
            Some("{\"to\": \"\"}".into()),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = serde_json::json!({ "to": "redundant", "force": true }).to_string();
    let (status, _) = server
        .http("POST", "/v1/admin/failover", Some(&admin), Some(unknown))
        .await;
    assert!(status.is_client_error(), "{status}");

    // Without a moderator (404), or without its admin secret (403), the panel says what to
    // configure; neither is a server error.
    let bare = TestServer::start().await;
    let admin = bare.login("alice@example.com").await.token;
    let (status, json) = bare
        .http("GET", "/v1/admin/failover", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        json["message"].as_str().unwrap().contains("moderator_url"),
        "{json}"
    );
    let watched = TestServer::start_with(|c| c.moderator_url = Some(url.clone())).await;
    let admin = watched.login("alice@example.com").await.token;
    let (status, json) = watched
        .http("POST", "/v1/admin/failover/release", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("moderator_admin_secret"),
        "{json}"
    );
}
