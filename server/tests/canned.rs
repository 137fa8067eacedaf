//! Canned replies through the real router: personal ones for any operator, a site's for admins
//! to manage and for everyone who serves the site to use; bad input refused naming its field,
//! nothing stored; nobody edits or removes what is not theirs.

mod support;

use axum::http::StatusCode;
use serde_json::{json, Value};
use support::TestServer;

fn reply(id: &str, scope: Value, shortcut: &str, text: &str) -> Value {
    json!({ "id": id, "scope": scope, "shortcut": shortcut, "text": text })
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[tokio::test]
async fn personal_and_site_replies_are_kept_apart_and_checked() {
    let server = TestServer::start().await;
    let alice = server.login("alice@example.com").await; // an admin
    let bob = server.login("bob@example.com").await; // an agent
    let put = |token: String, body: Value| {
        let server = &server;
        async move {
            let path = format!("/v1/canned/{}", body["id"].as_str().unwrap());
            server
                .http("PUT", &path, Some(&token), Some(body.to_string()))
                .await
        }
    };
    let list = |token: String| {
        let server = &server;
        async move { server.http("GET", "/v1/canned", Some(&token), None).await.1 }
    };
    let bob_id = serde_json::to_value(bob.operator.id).unwrap();

    // Bob keeps a personal reply; a site's replies are for admins to manage.
    let mine = reply(
        &new_id(),
        json!({ "personal": bob_id }),
        "hi",
        "Hi {visitor.name}!",
    );
    let (status, body) = put(bob.token.clone(), mine.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let shared = reply(
        &new_id(),
        json!({ "site": "acme" }),
        "refund",
        "Refunds take 3 days.",
    );
    let (status, _) = put(bob.token.clone(), shared.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = put(alice.token.clone(), shared.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let shortcuts = |replies: Value| -> Vec<String> {
        replies
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["shortcut"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(shortcuts(list(bob.token.clone()).await), ["hi", "refund"]);
    assert_eq!(shortcuts(list(alice.token.clone()).await), ["refund"]);

    // Bad input names its field and stores nothing.
    let bad = [
        (
            reply(&new_id(), json!({ "site": "acme" }), "Big", "x"),
            "shortcut",
        ),
        (
            reply(
                &new_id(),
                json!({ "site": "acme" }),
                "age",
                "You are {visitor.age}",
            ),
            "text",
        ),
        (
            reply(&new_id(), json!({ "site": "acme" }), "refund", "Again"),
            "shortcut",
        ),
    ];
    for (body, field) in bad {
        let (status, answer) = put(alice.token.clone(), body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["field"], field, "{answer}");
    }
    let elsewhere = reply(&new_id(), json!({ "site": "nowhere" }), "x", "x");
    assert_eq!(
        put(alice.token.clone(), elsewhere).await.0,
        StatusCode::NOT_FOUND
    );
    let path = format!("/v1/canned/{}", new_id());
    let (status, answer) = server
        .http("PUT", &path, Some(&alice.token), Some(shared.to_string()))
        .await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("id"))
    );
    assert_eq!(shortcuts(list(bob.token.clone()).await), ["hi", "refund"]);
    assert_eq!(
        server.http("GET", "/v1/canned", None, None).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Nobody changes what is not theirs: Alice cannot take Bob's personal reply, Bob cannot
    // edit or remove the site's.
    assert_eq!(
        put(alice.token.clone(), mine.clone()).await.0,
        StatusCode::FORBIDDEN
    );
    let mut edited = shared.clone();
    edited["text"] = json!("Refunds take a week.");
    assert_eq!(
        put(bob.token.clone(), edited.clone()).await.0,
        StatusCode::FORBIDDEN
    );
    let shared_path = format!("/v1/canned/{}", shared["id"].as_str().unwrap());
    assert_eq!(
        server
            .http("DELETE", &shared_path, Some(&bob.token), None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(put(alice.token.clone(), edited).await.0, StatusCode::OK);
    assert_eq!(
        server
            .http("DELETE", &shared_path, Some(&alice.token), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        server
            .http("DELETE", &shared_path, Some(&alice.token), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(shortcuts(list(bob.token.clone()).await), ["hi"]);

    // An agent who does not serve the site does not see its replies.
    let shared = reply(
        &new_id(),
        json!({ "site": "acme" }),
        "hours",
        "We open at 9.",
    );
    assert_eq!(put(alice.token.clone(), shared).await.0, StatusCode::OK);
    server
        .restrict_operator("bob@example.com", &["elsewhere"])
        .await;
    let bob = server.login("bob@example.com").await;
    assert_eq!(shortcuts(list(bob.token.clone()).await), ["hi"]);
}
