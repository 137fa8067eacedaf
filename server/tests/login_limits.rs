//! Login under attack: guessing is limited per account and per address with `429` and
//! `Retry-After`, and a flood of logins is refused at the door instead of taking every thread, so
//! the chat's own reads go on.

mod support;

use axum::http::StatusCode;
use support::{TestServer, PASSWORD};

fn login_body(email: &str, password: &str) -> String {
    serde_json::json!({ "email": email, "password": password }).to_string()
}

async fn attempt(
    server: &TestServer,
    email: &str,
    password: &str,
) -> (StatusCode, serde_json::Value) {
    server
        .http(
            "POST",
            "/v1/operators/login",
            None,
            Some(login_body(email, password)),
        )
        .await
}

#[tokio::test]
async fn guessing_one_accounts_password_is_stopped_and_the_right_one_waits_too() {
    let server = TestServer::start_with(|c| c.login_attempts_per_minute_per_account = 3).await;
    for _ in 0..3 {
        let (status, _) = attempt(&server, "alice@example.com", "guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = attempt(&server, "Alice@Example.com ", "guess").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"], "too_many_requests");
    // Even the right password waits: otherwise the limit would tell a guesser nothing.
    let (status, _) = attempt(&server, "alice@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Another account is not affected.
    let (status, _) = attempt(&server, "bob@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn one_address_trying_many_accounts_is_stopped_with_retry_after() {
    // Five a minute: one more every 12 s, far longer than the attempts take even on a busy
    // machine, so the sixth is refused whatever the speed.
    let server = TestServer::start_with(|c| c.login_attempts_per_minute_per_address = 5).await;
    let client = reqwest_free::Client::new(server.address);
    // Over a real socket the deployment sees the client's address (127.0.0.1 here).
    let mut last = (0, None);
    for n in 0..6 {
        last = client
            .post_json(
                "/v1/operators/login",
                &login_body(&format!("nobody{n}@example.com"), "x"),
            )
            .await;
        if last.0 == 429 {
            break;
        }
    }
    assert_eq!(
        last.0, 429,
        "the sixth attempt in a minute from one address is refused"
    );
    let wait: u64 = last.1.expect("a Retry-After header").parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
}

#[tokio::test]
async fn a_login_flood_is_refused_at_the_door_and_reads_go_on() {
    let server = TestServer::start_with(|c| {
        c.login_attempts_per_minute_per_address = 10_000;
        c.login_attempts_per_minute_per_account = 10_000;
        c.password_check_threads = 1;
        c.password_check_queue = 2;
    })
    .await;
    let operator = server.login("bob@example.com").await;
    let floods: Vec<_> = (0..40)
        .map(|n| {
            let state = server.state.clone();
            let body = login_body(&format!("flood{n}@example.com"), "x");
            tokio::spawn(async move {
                support::http_with(state, "POST", "/v1/operators/login", None, Some(body))
                    .await
                    .0
            })
        })
        .collect();
    // While the flood is in flight, the inbox (a database read) answers.
    let (status, _) = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        server.http("GET", "/v1/conversations", Some(&operator.token), None),
    )
    .await
    .expect("the inbox answers during a login flood");
    assert_eq!(status, StatusCode::OK);
    let mut statuses = Vec::new();
    for flood in floods {
        statuses.push(flood.await.unwrap());
    }
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "with one checker and a queue of two, most of 40 simultaneous logins are refused at once"
    );
}

/// A minimal HTTP/1.1 client over a real socket, so the deployment sees a client address.
mod reqwest_free {
    use std::net::SocketAddr;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    pub struct Client(SocketAddr);

    impl Client {
        pub fn new(address: SocketAddr) -> Self {
            Client(address)
        }

        /// POSTs a JSON body; returns the status and the `Retry-After` header, if any.
        pub async fn post_json(&self, path: &str, body: &str) -> (u16, Option<String>) {
            let mut socket = tokio::net::TcpStream::connect(self.0).await.unwrap();
            let request = format!(
                "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(request.as_bytes()).await.unwrap();
            let mut answer = String::new();
            socket.read_to_string(&mut answer).await.unwrap();
            let status = answer
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let retry_after = answer.lines().find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("retry-after:")
                    .map(|v| v.trim().to_owned())
            });
            (status, retry_after)
        }
    }
}

#[tokio::test]
async fn past_the_hourly_allowance_the_wait_grows_to_minutes() {
    let server = TestServer::start_with(|c| {
        c.login_attempts_per_minute_per_account = 100;
        c.login_attempts_per_hour_per_account = 3;
    })
    .await;
    for _ in 0..3 {
        let (status, _) = attempt(&server, "bob@example.com", "guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let client = reqwest_free::Client::new(server.address);
    let (status, wait) = client
        .post_json(
            "/v1/operators/login",
            &login_body("bob@example.com", "guess"),
        )
        .await;
    assert_eq!(status, 429);
    let wait: u64 = wait.expect("a Retry-After header").parse().unwrap();
    assert!(
        wait > 60,
        "one attempt every 20 minutes now, told to wait {wait} s"
    );
}
