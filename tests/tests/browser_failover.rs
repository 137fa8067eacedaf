//! Failover as people live it, in headless Chromium against real processes (primary, redundant,
//! moderator): the primary is killed with SIGKILL mid-chat and the visitor (widget) and the
//! operator (console, loaded from the primary) keep chatting; every message appears exactly once,
//! in the same order, on both screens, with no error shown; the primary comes back, everyone is
//! moved back to it once it holds everything, and nothing is lost on either deployment.

use fantoccini::{Client, Locator};
use std::time::{Duration, Instant};
use tests::browser::{
    by_test_id, lines, widget_element, widget_has, widget_state, ChromeDriver, Line, WAIT,
};
use tests::deployment::{ADMIN_EMAIL, ADMIN_PASSWORD, SITE_ID};
use tests::eventually;
use tests::moderator::ModeratorProcess;
use tests::page::serve_page;
use tests::pair::{start_pair, stored_counts, wait_until_in_sync};

async fn write_in_widget(client: &Client, text: &str) {
    widget_element(client, "chat-input")
        .await
        .send_keys(text)
        .await
        .unwrap();
    widget_element(client, "chat-send")
        .await
        .click()
        .await
        .unwrap();
}

/// Waits until the widget shows exactly `texts`, all acknowledged, and returns the lines.
async fn widget_shows(client: &Client, texts: &[&str]) -> Vec<Line> {
    eventually(&format!("the widget to show {texts:?}"), WAIT, || async {
        let shown = lines(client, true, "").await;
        let matches = shown
            .iter()
            .map(|l| l.text.as_str())
            .eq(texts.iter().copied())
            && shown.iter().all(|l| l.status == "sent");
        matches.then_some(shown)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_primary_mid_chat_goes_unnoticed_and_failback_loses_nothing() {
    let (mut primary, redundant) = start_pair(0);
    let moderator = ModeratorProcess::start(&primary, &redundant);
    moderator.wait_until_pushed().await;
    let deployments = [primary.url(), redundant.url()];
    let page = xtask::render_demo_page(&tests::root(), &deployments, Some(&moderator.url), SITE_ID)
        .unwrap();
    let page_url = serve_page(page).await;

    // The visitor opens the shop and writes; the operator (a native client) accepts and replies.
    let mut chrome = ChromeDriver::start().await;
    let visitor = chrome.session().await;
    visitor.goto(&page_url).await.unwrap();
    widget_element(&visitor, "chat-launcher")
        .await
        .click()
        .await
        .unwrap();
    eventually("the widget to be online", WAIT, || async {
        (widget_state(&visitor).await == "online").then_some(())
    })
    .await;
    write_in_widget(&visitor, "one").await;
    widget_shows(&visitor, &["one"]).await;

    // The operator logs in to the console served by the primary, accepts and replies.
    let operator = chrome.session().await;
    operator
        .goto(&format!("{}/console/", primary.url()))
        .await
        .unwrap();
    by_test_id(&operator, "login-email")
        .await
        .send_keys(ADMIN_EMAIL)
        .await
        .unwrap();
    by_test_id(&operator, "login-password")
        .await
        .send_keys(ADMIN_PASSWORD)
        .await
        .unwrap();
    by_test_id(&operator, "login-submit")
        .await
        .click()
        .await
        .unwrap();
    let item = by_test_id(&operator, "inbox-item").await;
    let conversation = item.attr("data-conversation").await.unwrap().unwrap();
    item.click().await.unwrap();
    let pane = format!("[data-testid=\"conversation-pane\"][data-conversation=\"{conversation}\"]");
    operator
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&format!("{pane} [data-testid=\"accept\"]")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    reply_in_console(&operator, &pane, "reply one").await;
    widget_shows(&visitor, &["one", "Ada Admin joined the chat", "reply one"]).await;
    assert_eq!(console_deployment(&operator).await, primary.url());

    // The primary dies. The visitor types on; the operator, whose console came from the dead
    // deployment, sees it and answers.
    primary.kill9();
    write_in_widget(&visitor, "two").await;
    write_in_widget(&visitor, "three").await;
    eventually(
        "the visitor's new messages in the console",
        WAIT,
        || async {
            let texts: Vec<String> = lines(&operator, false, &pane)
                .await
                .into_iter()
                .map(|l| l.text)
                .collect();
            (texts.iter().any(|t| t == "three")).then_some(())
        },
    )
    .await;
    reply_in_console(&operator, &pane, "reply two").await;
    let after_failover = [
        "one",
        "Ada Admin joined the chat",
        "reply one",
        "two",
        "three",
        "reply two",
    ];
    let shown = widget_shows(&visitor, &after_failover).await;
    let in_console = console_shows(&operator, &pane, &after_failover).await;
    assert_eq!(
        in_console.iter().map(|l| &l.id).collect::<Vec<_>>(),
        shown.iter().map(|l| &l.id).collect::<Vec<_>>(),
        "the same messages in the same order on both screens"
    );
    assert_eq!(widget_state(&visitor).await, "online");
    assert!(!widget_has(&visitor, "chat-notice").await, "no error shown");
    assert_eq!(console_deployment(&operator).await, redundant.url());

    // The primary comes back; once it holds everything the moderator makes it active again and
    // both screens are sent back to it. The chat goes on there.
    primary.start();
    moderator
        .wait_for_active("primary", Duration::from_secs(60))
        .await;
    eventually("the console back on the primary", WAIT, || async {
        (console_deployment(&operator).await == primary.url()).then_some(())
    })
    .await;
    write_in_widget(&visitor, "four").await;
    let mut expected = after_failover.to_vec();
    expected.push("four");
    let final_lines = widget_shows(&visitor, &expected).await;
    assert_eq!(
        final_lines[..shown.len()],
        shown[..],
        "the same order as before"
    );
    console_shows(&operator, &pane, &expected).await;

    // Both deployments hold every message exactly once.
    let (a, b) = (
        primary.data_dir.path().to_owned(),
        redundant.data_dir.path().to_owned(),
    );
    tokio::task::spawn_blocking(move || wait_until_in_sync(&a, &b))
        .await
        .unwrap();
    for dir in [primary.data_dir.path(), redundant.data_dir.path()] {
        let stored = stored_counts(dir);
        for line in &final_lines {
            assert_eq!(stored.get(&line.id), Some(&1), "{line:?}");
        }
    }
    let deadline = Instant::now() + WAIT;
    while widget_state(&visitor).await != "online" {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    visitor.close().await.unwrap();
    operator.close().await.unwrap();
}

async fn reply_in_console(operator: &Client, pane: &str, text: &str) {
    let input = eventually("the reply field to be enabled", WAIT, || async {
        let input = operator
            .find(Locator::Css(&format!(
                "{pane} [data-testid=\"reply-input\"]"
            )))
            .await
            .ok()?;
        input.is_enabled().await.ok()?.then_some(input)
    })
    .await;
    input.send_keys(text).await.unwrap();
    operator
        .find(Locator::Css(&format!(
            "{pane} [data-testid=\"reply-send\"]"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Waits until the console's pane shows exactly `texts`, all acknowledged.
async fn console_shows(operator: &Client, pane: &str, texts: &[&str]) -> Vec<Line> {
    eventually(&format!("the console to show {texts:?}"), WAIT, || async {
        let shown = lines(operator, false, pane).await;
        let matches = shown
            .iter()
            .map(|l| l.text.as_str())
            .eq(texts.iter().copied())
            && shown.iter().all(|l| l.status == "sent");
        matches.then_some(shown)
    })
    .await
}

/// The deployment the console says it is connected to.
async fn console_deployment(operator: &Client) -> String {
    by_test_id(operator, "console-deployment")
        .await
        .attr("data-deployment")
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}
