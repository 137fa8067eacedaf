//! The moderator's decision as a deployment takes it: `POST /v1/role` is refused without the
//! moderator secret or with a decision that does not name this deployment, an older epoch never
//! replaces a newer one, `/health` reports what is known, and a deployment that is not active
//! keeps serving its clients while telling them (on connection and on every change) where to go.

mod support;

use axum::http::StatusCode;
use protocol::moderation::{ActiveDeployment, DeploymentInfo, DeploymentRole};
use protocol::{ClientFrame, ConversationId, MessageId, ServerFrame};
use support::TestServer;

const SECRET: &str = "moderator secret for tests";

fn decision(epoch: u64, active: &str) -> String {
    let info = |id: &str, role| DeploymentInfo {
        id: id.into(),
        url: format!("https://{id}.example.com"),
        role,
    };
    serde_json::to_string(&ActiveDeployment {
        epoch,
        active: active.into(),
        url: format!("https://{active}.example.com"),
        pinned: false,
        deployments: vec![
            info("primary", DeploymentRole::Primary),
            info("redundant", DeploymentRole::Redundant),
        ],
    })
    .unwrap()
}

async fn start() -> TestServer {
    TestServer::start_with(|c| c.moderator_secret = Some(SECRET.into())).await
}

#[tokio::test]
async fn decisions_need_the_moderator_secret_and_must_name_this_deployment() {
    let server = start().await;
    let (status, body) = server
        .http("POST", "/v1/role", None, Some(decision(2, "redundant")))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = server
        .http(
            "POST",
            "/v1/role",
            Some("not the secret at all"),
            Some(decision(2, "redundant")),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = server
        .http(
            "POST",
            "/v1/role",
            Some(SECRET),
            Some(decision(2, "elsewhere")),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = server
        .http("POST", "/v1/role", Some(SECRET), Some("{\"epoch\":".into()))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // Nothing refused was adopted.
    let (_, health) = server.http("GET", "/health", Some(SECRET), None).await;
    assert_eq!(health["role"]["epoch"], 0, "{health}");

    // Without a configured secret, no moderator is accepted at all.
    let open = TestServer::start().await;
    let (status, _) = open
        .http("POST", "/v1/role", Some(""), Some(decision(2, "redundant")))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_newest_epoch_wins_and_health_reports_it() {
    let server = start().await;
    let (status, body) = server
        .http(
            "POST",
            "/v1/role",
            Some(SECRET),
            Some(decision(5, "redundant")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["epoch"], 5);
    // A push that crossed a newer one on the way is answered with what is known, not adopted.
    let (status, body) = server
        .http(
            "POST",
            "/v1/role",
            Some(SECRET),
            Some(decision(4, "primary")),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["epoch"], 5);
    assert_eq!(body["active"], "redundant");
    let (_, health) = server.http("GET", "/health", Some(SECRET), None).await;
    assert_eq!(health["role"]["epoch"], 5, "{health}");
    assert_eq!(health["role"]["active"], "redundant");
}

#[tokio::test]
async fn clients_of_a_deployment_that_is_not_active_are_served_and_redirected() {
    let server = start().await;
    // While this deployment (primary) is active, nobody is redirected.
    let (status, _) = server
        .http(
            "POST",
            "/v1/role",
            Some(SECRET),
            Some(decision(2, "primary")),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (mut visitor, _) = server.visitor(None).await;

    // The moderator moves everyone to the redundant deployment: the connected visitor is told.
    server
        .http(
            "POST",
            "/v1/role",
            Some(SECRET),
            Some(decision(3, "redundant")),
        )
        .await;
    let (epoch, url) = visitor
        .recv_until(|f| match f {
            ServerFrame::Redirect { epoch, url, .. } => Some((epoch, url)),
            _ => None,
        })
        .await;
    assert_eq!((epoch, url.as_str()), (3, "https://redundant.example.com"));

    // It is still served: a message sent after the redirect is stored and acknowledged.
    let message_id = MessageId(uuid::Uuid::now_v7());
    visitor
        .send(&ClientFrame::Send {
            conversation_id: ConversationId(uuid::Uuid::now_v7()),
            message_id,
            body: "still here".into(),
            intake: None,
            attachment: None,
            private: false,
        })
        .await;
    visitor
        .recv_until(|f| match f {
            ServerFrame::Ack { message_id: id, .. } if id == message_id => Some(()),
            _ => None,
        })
        .await;

    // A client connecting now is redirected right after its welcome.
    let (mut late, _) = server.visitor(None).await;
    assert!(matches!(
        late.recv().await,
        ServerFrame::Redirect { epoch: 3, .. }
    ));
}

#[tokio::test]
async fn an_epoch_beyond_what_browsers_read_exactly_is_refused_and_changes_nothing() {
    let server = start().await;
    for epoch in [u64::MAX, protocol::moderation::MAX_EPOCH + 1] {
        let (status, body) = server
            .http(
                "POST",
                "/v1/role",
                Some(SECRET),
                Some(decision(epoch, "redundant")),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    let (_, health) = server.http("GET", "/health", Some(SECRET), None).await;
    assert_eq!(health["role"]["epoch"], 0, "{health}");
}

#[tokio::test]
async fn a_restarted_deployment_keeps_the_last_decision_and_redirects_at_once() {
    let server = start().await;
    server
        .http(
            "POST",
            "/v1/role",
            Some(SECRET),
            Some(decision(7, "redundant")),
        )
        .await;
    let dir = server.shutdown().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = TestServer::start_on(listener, dir, false, |c| {
        c.moderator_secret = Some(SECRET.into())
    })
    .await;
    // No moderator has spoken since the restart: the decision comes from the data directory.
    let (_, health) = server.http("GET", "/health", Some(SECRET), None).await;
    assert_eq!(health["role"]["epoch"], 7, "{health}");
    assert_eq!(health["role"]["active"], "redundant");
    let (mut visitor, _) = server.visitor(None).await;
    assert!(matches!(
        visitor.recv().await,
        ServerFrame::Redirect { epoch: 7, .. }
    ));
    // An older decision pushed after the restart still does not replace it.
    let (_, known) = server
        .http(
            "POST",
            "/v1/role",
            Some(SECRET),
            Some(decision(6, "primary")),
        )
        .await;
    assert_eq!(known["epoch"], 7);
}
