//! An operator's open socket ends with its session: a logout (here or on the other deployment),
//! the session's expiry, and a new password or role close it at once, with a sentence the console
//! shows. Sessions created afterwards are unaffected.

mod support;

use protocol::{ErrorCode, OperatorRole, ServerFrame};
use support::{operator_hello, Client, TestServer, PASSWORD};

/// Waits for the deployment to sign `client` out: an `unauthorized` error with a sentence, then a
/// close with code 1008. Returns the sentence.
async fn signed_out(client: &mut Client) -> String {
    let sentence = client
        .recv_until(|frame| match frame {
            ServerFrame::Error {
                code: ErrorCode::Unauthorized,
                message,
                ..
            } => Some(message),
            _ => None,
        })
        .await;
    assert_eq!(client.closed().await, Some(1008));
    sentence
}

/// An operator socket for a fresh login of `email` on `server`, and the session token.
async fn logged_in(server: &TestServer, email: &str) -> (Client, String) {
    let login = server.login(email).await;
    let mut client = server.connect().await;
    client.send(&operator_hello(login.token.clone())).await;
    client.welcome().await;
    (client, login.token)
}

/// Whether `client` is still served: a ping is answered.
async fn still_open(client: &mut Client) -> bool {
    client.send(&protocol::ClientFrame::Ping { nonce: 7 }).await;
    loop {
        match client.recv().await {
            ServerFrame::Pong { nonce: 7 } => return true,
            ServerFrame::Error { .. } => return false,
            _ => continue,
        }
    }
}

#[tokio::test]
async fn logging_out_closes_the_sessions_sockets_and_no_others() {
    let server = TestServer::start().await;
    let (mut first_tab, token) = logged_in(&server, "alice@example.com").await;
    let mut second_tab = server.connect().await;
    second_tab.send(&operator_hello(token.clone())).await;
    second_tab.welcome().await;
    let (mut other_session, _) = logged_in(&server, "alice@example.com").await;

    let (status, _) = server
        .http("POST", "/v1/operators/logout", Some(&token), None)
        .await;
    assert_eq!(status, axum::http::StatusCode::NO_CONTENT);
    for tab in [&mut first_tab, &mut second_tab] {
        let sentence = signed_out(tab).await;
        assert!(sentence.starts_with("Signed out"), "{sentence}");
        assert!(sentence.contains("logged out"), "{sentence}");
    }
    assert!(still_open(&mut other_session).await);
    // The token is refused from now on, with the same sentence.
    let mut again = server.connect().await;
    again.send(&operator_hello(token)).await;
    assert!(signed_out(&mut again).await.contains("logged out"));
}

#[tokio::test]
async fn a_new_password_or_role_signs_the_operator_out_everywhere_but_later_logins_work() {
    let server = TestServer::start().await;
    let (mut bob, _) = logged_in(&server, "bob@example.com").await;
    let (mut alice, _) = logged_in(&server, "alice@example.com").await;
    // Bob becomes an admin (the command line's `operator add --replace` does this).
    let hash = server::auth::hash_password(PASSWORD);
    server
        .state
        .store
        .write(move |w| w.add_operator("bob@example.com", "Bob", &hash, OperatorRole::Admin, true))
        .await
        .unwrap();
    let sentence = signed_out(&mut bob).await;
    assert!(sentence.contains("password or role changed"), "{sentence}");
    assert!(still_open(&mut alice).await, "other operators stay");
    let (mut bob_again, _) = logged_in(&server, "bob@example.com").await;
    assert!(still_open(&mut bob_again).await);
}

#[tokio::test]
async fn an_expiring_session_closes_its_socket_when_it_expires() {
    let server = TestServer::start().await;
    let login = server.login("alice@example.com").await;
    // A second session of Alice's that expires in a moment.
    let token = server::auth::new_session_token();
    let hash = server::auth::session_token_hash(&token);
    let expires_at = server.state.now_ms() + 1_500;
    server
        .state
        .store
        .write(move |w| w.create_session(&hash, login.operator.id, expires_at))
        .await
        .unwrap();
    let mut client = server.connect().await;
    client.send(&operator_hello(token)).await;
    client.welcome().await;
    let sentence = signed_out(&mut client).await;
    assert!(sentence.contains("expired"), "{sentence}");
}

#[tokio::test]
async fn a_logout_on_one_deployment_closes_the_sessions_socket_on_the_other() {
    let (primary, redundant) = TestServer::start_pair().await;
    support::converged(&primary, &redundant).await;
    let login = primary.login("alice@example.com").await;
    support::converged(&primary, &redundant).await;
    let mut on_redundant = redundant.connect().await;
    on_redundant
        .send(&operator_hello(login.token.clone()))
        .await;
    on_redundant.welcome().await;
    let (status, _) = primary
        .http("POST", "/v1/operators/logout", Some(&login.token), None)
        .await;
    assert_eq!(status, axum::http::StatusCode::NO_CONTENT);
    let sentence = signed_out(&mut on_redundant).await;
    assert!(sentence.contains("logged out"), "{sentence}");
}

#[tokio::test]
async fn a_session_from_the_other_deployment_works_before_its_record_arrives() {
    let (primary, redundant, to_primary, to_redundant) =
        TestServer::start_pair_through_proxies().await;
    support::converged(&primary, &redundant).await;
    // The link is down, so no session record can arrive: the worst a busy machine can do.
    to_primary.cut();
    to_redundant.cut();
    // Eight logins of each operator: within the per-account login limit.
    for email in ["bob@example.com", "alice@example.com"].repeat(8) {
        let (mut on_primary, _) = {
            let login = redundant.login(email).await;
            let mut client = primary.connect().await;
            client.send(&operator_hello(login.token.clone())).await;
            (client, login.token)
        };
        let welcome = on_primary.recv().await;
        assert!(
            matches!(welcome, ServerFrame::Welcome { .. }),
            "a fresh login on the other deployment is accepted: {welcome:?}"
        );
    }
    // HTTP calls accept it too.
    let login = redundant.login("alice@example.com").await;
    let (status, json) = primary
        .http("GET", "/v1/operators/me", Some(&login.token), None)
        .await;
    assert_eq!(status, axum::http::StatusCode::OK, "{json}");
    assert_eq!(json["email"], "alice@example.com");

    // A logout while the link is down reaches the other deployment with the link, and ends the
    // socket there.
    let mut on_primary = primary.connect().await;
    on_primary.send(&operator_hello(login.token.clone())).await;
    on_primary.welcome().await;
    let (status, _) = redundant
        .http("POST", "/v1/operators/logout", Some(&login.token), None)
        .await;
    assert_eq!(status, axum::http::StatusCode::NO_CONTENT);
    to_primary.heal();
    to_redundant.heal();
    let sentence = signed_out(&mut on_primary).await;
    assert!(sentence.contains("logged out"), "{sentence}");
}

#[tokio::test]
async fn a_session_token_signed_with_another_secret_or_for_nobody_is_refused() {
    let server = TestServer::start().await;
    let login = server.login("alice@example.com").await;
    let forged = server::auth::TokenSigner::new(b"not this deployment's secret").issue_session(
        login.operator.id,
        server.state.now_ms() + 60_000,
        u64::MAX,
    );
    let nobody = server.state.signer.issue_session(
        protocol::OperatorId(uuid::Uuid::now_v7()),
        server.state.now_ms() + 60_000,
        1,
    );
    for token in [forged, nobody] {
        let mut client = server.connect().await;
        client.send(&operator_hello(token)).await;
        let sentence = signed_out(&mut client).await;
        assert!(sentence.contains("not valid"), "{sentence}");
    }
}
