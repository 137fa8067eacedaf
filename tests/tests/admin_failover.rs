//! Admin changes across the loss of a data centre, with real processes: a burst of changes to the
//! primary (a site's look, new operators) is acknowledged and the primary is killed with SIGKILL
//! at once; the admin's session carries on at the redundant deployment, whose changes win by
//! their later clock; once the primary is back the two agree, with nothing acknowledged lost and
//! nothing doubled.

use daemon::http::{HttpClient, Method};
use std::time::Duration;
use tests::deployment::{ADMIN_EMAIL, ADMIN_PASSWORD, SITE_ID};
use tests::pair::{in_sync, start_pair};

/// `method url` with a JSON body and a bearer token: (status, JSON body).
async fn call(
    method: Method,
    url: &str,
    token: Option<&str>,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let answer = HttpClient::default()
        .call(
            method,
            url,
            token,
            Some(body.to_string().into_bytes()),
            Duration::from_secs(10),
        )
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let json = serde_json::from_slice(&answer.body).unwrap_or(serde_json::Value::Null);
    (answer.status, json)
}

async fn title_on(base: &str) -> String {
    let config =
        tests::moderator::get_json(&format!("{base}/v1/sites/{SITE_ID}/widget-config")).await;
    config["appearance"]["title"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_changes_acknowledged_before_a_kill_are_kept_and_the_other_deployment_takes_over() {
    let (mut primary, redundant) = start_pair(0);
    let (status, login) = call(
        Method::POST,
        &format!("{}/v1/operators/login", primary.url()),
        None,
        serde_json::json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
    )
    .await;
    assert_eq!(status, 200, "{login}");
    let token = login["token"].as_str().unwrap().to_owned();
    in_sync(&primary, &redundant).await;

    // A burst of changes, each acknowledged, and the primary killed right after the last.
    let look = format!("{}/v1/admin/sites/{SITE_ID}/appearance", primary.url());
    for n in 1..=20 {
        let (status, json) = call(
            Method::PUT,
            &look,
            Some(&token),
            serde_json::json!({"title": format!("Title {n}"), "accentColor": "#123456"}),
        )
        .await;
        assert_eq!(status, 200, "{json}");
        let (status, json) = call(
            Method::POST,
            &format!("{}/v1/admin/operators", primary.url()),
            Some(&token),
            serde_json::json!({"email": format!("agent{n}@example.com"), "name": format!("Agent {n}"),
                               "role": "agent", "password": "a long password"}),
        )
        .await;
        assert_eq!(status, 201, "{json}");
    }
    primary.kill9();

    // The same session works on the redundant deployment, which takes the next change.
    let (status, json) = call(
        Method::PUT,
        &format!("{}/v1/admin/sites/{SITE_ID}/appearance", redundant.url()),
        Some(&token),
        serde_json::json!({"title": "After the failover", "accentColor": "#654321"}),
    )
    .await;
    assert_eq!(status, 200, "{json}");

    // The primary comes back: the pair agrees, the later change wins on both, and every
    // operator acknowledged before the kill is there once.
    primary.start();
    in_sync(&primary, &redundant).await;
    for base in [primary.url(), redundant.url()] {
        assert_eq!(title_on(&base).await, "After the failover");
        let team = HttpClient::default()
            .call(
                Method::GET,
                &format!("{base}/v1/admin/operators"),
                Some(&token),
                None,
                Duration::from_secs(10),
            )
            .await
            .unwrap();
        let team: Vec<serde_json::Value> = serde_json::from_slice(&team.body).unwrap();
        for n in 1..=20 {
            let email = format!("agent{n}@example.com");
            let count = team.iter().filter(|o| o["email"] == email.as_str()).count();
            assert_eq!(count, 1, "{email} on {base}");
        }
    }
}
