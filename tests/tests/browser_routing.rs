//! Routing and transfers in headless Chromium, against a real pair and moderator: two agents with
//! capacity 1 and three visitors, two chats assigned in turn and the third waiting with its place
//! in the queue until a chat ends; then a transfer (refused while the colleague is full, then with
//! a note once they have room), the visitor chatting on with the new operator while the primary
//! is killed, nothing lost or doubled.

use daemon::http::{HttpClient, Method};
use fantoccini::{Client, Locator};
use std::time::Duration;
use tests::browser::{
    by_test_id, console_login_as, console_reply, lines, open_widget, widget_element, widget_has,
    widget_write, ChromeDriver, WAIT,
};
use tests::deployment::{admin_token, SITE_ID};
use tests::eventually;
use tests::page::{demo_pair, DemoPair};
use tests::pair::{in_sync, stored_once_on_both};

/// The agents' password.
const PASSWORD: &str = "routing-password-1";

/// Calls the admin API of `base` as the admin; returns the answer's JSON, failing on a refusal.
async fn admin_call(
    base: &str,
    token: &str,
    method: Method,
    path: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let answer = HttpClient::default()
        .call(
            method,
            &format!("{base}{path}"),
            Some(token),
            Some(body.to_string().into_bytes()),
            Duration::from_secs(10),
        )
        .await
        .expect("the deployment answers");
    assert!(
        (200..300).contains(&answer.status),
        "{path}: {}",
        String::from_utf8_lossy(&answer.body)
    );
    serde_json::from_slice(&answer.body).expect("a JSON answer")
}

/// Adds an agent with capacity 1; returns their id.
async fn add_agent(base: &str, token: &str, name: &str, email: &str) -> String {
    let draft =
        serde_json::json!({ "email": email, "name": name, "role": "agent", "password": PASSWORD });
    let created = admin_call(base, token, Method::POST, "/v1/admin/operators", draft).await;
    let id = created["operator"]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/admin/operators/{id}");
    admin_call(
        base,
        token,
        Method::PATCH,
        &path,
        serde_json::json!({ "capacity": 1 }),
    )
    .await;
    id
}

/// The texts the widget shows, in order.
async fn widget_texts(client: &Client) -> Vec<String> {
    lines(client, true, "")
        .await
        .into_iter()
        .map(|l| l.text)
        .collect()
}

/// Waits until the widget shows `text`.
async fn widget_shows_text(client: &Client, text: &str) -> Vec<String> {
    eventually(&format!("the widget to show {text:?}"), WAIT, || async {
        let shown = widget_texts(client).await;
        shown.iter().any(|t| t == text).then_some(shown)
    })
    .await
}

/// The conversation the widget is in, from its storage.
async fn widget_conversation(client: &Client) -> String {
    let script =
        format!("return JSON.parse(localStorage.getItem('livechat.{SITE_ID}.conversation'));");
    let value = client.execute(&script, vec![]).await.unwrap();
    value.as_str().expect("a conversation").to_owned()
}

/// The widget's queue position, if it shows one.
async fn queue_position(client: &Client) -> Option<String> {
    if !widget_has(client, "queue-position").await {
        return None;
    }
    widget_element(client, "queue-position")
        .await
        .attr("data-position")
        .await
        .unwrap()
}

/// Opens `conversation`'s pane in the console (from the inbox); returns its CSS selector.
async fn open_pane(client: &Client, conversation: &str) -> String {
    let item = format!("[data-testid=\"inbox-item\"][data-conversation=\"{conversation}\"]");
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&item))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let pane = format!("[data-testid=\"conversation-pane\"][data-conversation=\"{conversation}\"]");
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&pane))
        .await
        .unwrap();
    pane
}

/// The element `testid` inside `pane`, once it is there.
async fn in_pane(client: &Client, pane: &str, testid: &str) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&format!("{pane} [data-testid=\"{testid}\"]")))
        .await
        .unwrap()
}

/// Chooses `operator` in the transfer form of `pane`, once the roster lists them, and submits.
async fn transfer(client: &Client, pane: &str, operator: &str, note: &str) {
    let target = format!("{pane} [data-testid=\"transfer-target\"]");
    tests::browser::choose_when_offered(client, &target, operator).await;
    in_pane(client, pane, "transfer-note")
        .await
        .send_keys(note)
        .await
        .unwrap();
    in_pane(client, pane, "transfer-submit")
        .await
        .click()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_full_agents_queue_the_third_visitor_and_a_transfer_carries_on_across_a_failover() {
    let mut chrome = ChromeDriver::start().await;
    let DemoPair {
        mut primary,
        redundant,
        page_url,
        ..
    } = demo_pair().await;
    let base = primary.url();
    let token = admin_token(&base).await;
    let ann = add_agent(&base, &token, "Ann", "ann@example.com").await;
    let ben = add_agent(&base, &token, "Ben", "ben@example.com").await;
    let path = format!("/v1/admin/sites/{SITE_ID}/routing");
    admin_call(
        &base,
        &token,
        Method::PUT,
        &path,
        serde_json::json!({ "mode": "round_robin" }),
    )
    .await;
    in_sync(&primary, &redundant).await;

    // Both agents online in their consoles.
    let mut consoles = Vec::new();
    for email in ["ann@example.com", "ben@example.com"] {
        let console = chrome.session().await;
        console_login_as(&console, &format!("{base}/console/"), email, PASSWORD).await;
        eventually("the console to be online", WAIT, || async {
            let state = by_test_id(&console, "console-connection")
                .await
                .attr("data-state")
                .await
                .ok()??;
            (state == "online").then_some(())
        })
        .await;
        consoles.push(console);
    }

    // Three visitors write: two chats are assigned, one to each; the third waits, first in line.
    let mut visitors = Vec::new();
    for n in 1..=3 {
        let visitor = chrome.session().await;
        open_widget(&visitor, &page_url).await;
        widget_write(&visitor, &format!("Question {n}")).await;
        visitors.push(visitor);
    }
    let mut assigned = Vec::new();
    for visitor in &visitors[..2] {
        let joined = eventually("an operator to join", WAIT, || async {
            let shown = widget_texts(visitor).await;
            shown.into_iter().find(|t| t.ends_with(" joined the chat"))
        })
        .await;
        assigned.push(joined.trim_end_matches(" joined the chat").to_owned());
    }
    let mut names = assigned.clone();
    names.sort();
    assert_eq!(names, ["Ann", "Ben"], "one chat each");
    eventually("the third visitor's place in the queue", WAIT, || async {
        (queue_position(&visitors[2]).await.as_deref() == Some("1")).then_some(())
    })
    .await;
    assert!(!widget_texts(&visitors[2])
        .await
        .iter()
        .any(|t| t.ends_with("joined the chat")));

    // The first visitor's operator ends that chat: the third visitor is theirs now.
    let (first, second) = (&assigned[0], &assigned[1]);
    let console_of = |name: &str| &consoles[usize::from(name == "Ben")];
    let id_of = |name: &str| {
        if name == "Ann" {
            ann.clone()
        } else {
            ben.clone()
        }
    };
    let chat = widget_conversation(&visitors[0]).await;
    let pane = open_pane(console_of(first), &chat).await;
    in_pane(console_of(first), &pane, "close-conversation")
        .await
        .click()
        .await
        .unwrap();
    widget_shows_text(&visitors[2], &format!("{first} joined the chat")).await;
    eventually("the queue position to go", WAIT, || async {
        queue_position(&visitors[2]).await.is_none().then_some(())
    })
    .await;

    // The second operator tries to hand the second chat to the first, who is full: refused with
    // the reason. With room given, the transfer goes through with a note.
    let (from, to) = (console_of(second), console_of(first));
    let chat = widget_conversation(&visitors[1]).await;
    let pane = open_pane(from, &chat).await;
    in_pane(from, &pane, "transfer")
        .await
        .click()
        .await
        .unwrap();
    transfer(from, &pane, &id_of(first), "").await;
    let refused = in_pane(from, &pane, "transfer-error")
        .await
        .text()
        .await
        .unwrap();
    assert!(refused.contains("at capacity"), "{refused}");
    let path = format!("/v1/admin/operators/{}", id_of(first));
    admin_call(
        &base,
        &token,
        Method::PATCH,
        &path,
        serde_json::json!({ "capacity": 2 }),
    )
    .await;
    in_pane(from, &pane, "transfer")
        .await
        .click()
        .await
        .unwrap();
    in_pane(from, &pane, "transfer")
        .await
        .click()
        .await
        .unwrap();
    transfer(from, &pane, &id_of(first), "Asked about invoices").await;
    let notice = format!("{second} transferred the chat to {first}");
    widget_shows_text(&visitors[1], &notice).await;
    eventually("the old operator's reply box to close", WAIT, || async {
        let input = in_pane(from, &pane, "reply-input").await;
        (!input.is_enabled().await.ok()?).then_some(())
    })
    .await;
    let pane_to = open_pane(to, &chat).await;
    eventually("the note to reach the new operator", WAIT, || async {
        let note = to
            .find(Locator::Css(&format!(
                "{pane_to} [data-testid=\"console-note\"]"
            )))
            .await
            .ok()?;
        note.text()
            .await
            .ok()?
            .contains("Asked about invoices")
            .then_some(())
    })
    .await;

    // The primary dies; the visitor chats on with the new operator, nothing lost or doubled.
    in_sync(&primary, &redundant).await;
    primary.kill9();
    widget_write(&visitors[1], "Are you still there?").await;
    eventually("the question to reach the new operator", WAIT, || async {
        let shown = lines(to, false, &pane_to).await;
        shown
            .iter()
            .any(|l| l.text == "Are you still there?")
            .then_some(())
    })
    .await;
    console_reply(to, &pane_to, "Yes, I have your invoices here").await;
    let shown = widget_shows_text(&visitors[1], "Yes, I have your invoices here").await;
    let expected = [
        "Question 2".to_owned(),
        format!("{second} joined the chat"),
        notice.clone(),
        "Are you still there?".to_owned(),
        "Yes, I have your invoices here".to_owned(),
    ];
    assert_eq!(
        shown, expected,
        "nothing lost, doubled or leaked (the note stays private)"
    );
    for console in &consoles {
        let notice = console
            .find(Locator::Css("[data-testid=\"console-notice\"]"))
            .await;
        assert!(notice.is_err(), "no error shown");
    }
    let ids: Vec<String> = lines(&visitors[1], true, "")
        .await
        .into_iter()
        .map(|l| l.id)
        .collect();
    primary.start();
    stored_once_on_both(&primary, &redundant, ids).await;

    // An admin assigns the third visitor's chat from the first operator to the second with the
    // pane's select: the first operator is told, and the visitor sees who took over.
    let admin = chrome.session().await;
    tests::browser::console_login(&admin, &format!("{}/console/", redundant.url())).await;
    let third = widget_conversation(&visitors[2]).await;
    let admin_pane = open_pane(&admin, &third).await;
    let select = format!("{admin_pane} [data-testid=\"assign-select\"]");
    tests::browser::choose_when_offered(&admin, &select, &id_of(second)).await;
    widget_shows_text(
        &visitors[2],
        &format!("Ada Admin assigned the chat to {second}"),
    )
    .await;
    let told = eventually("the first operator to be told", WAIT, || async {
        let notice = to
            .find(Locator::Css("[data-testid=\"console-notice\"]"))
            .await
            .ok()?;
        notice.text().await.ok()
    })
    .await;
    assert!(
        told.contains(&format!("{second} now has your chat")),
        "{told}"
    );
    for client in visitors.into_iter().chain(consoles).chain([admin]) {
        client.close().await.unwrap();
    }
}
