//! The visitor's widget in headless Chromium under the faults a data centre can throw at it, with
//! real processes (primary, redundant, moderator). Each test starts its own trio; they run one at
//! a time, so the two cores of a test machine do not turn load into false failovers.
//!
//! - The moderator killed mid-chat, then the primary: the visitor chats on; a new visitor arriving
//!   with both down gets the widget from the redundant deployment and starts a chat.
//! - Both deployments down: five messages typed, the page reloaded, the deployments back: all five
//!   delivered once, in order.
//! - The primary frozen (SIGSTOP, no connection closed): the widget notices and moves; and a
//!   moderator naming the frozen deployment does not keep a new visitor from the live one.
//! - Manual failover: the widget is drained to the redundant deployment without a gap.

use fantoccini::Client;
use tests::browser::{
    lines, widget_deployment, widget_element, widget_has, widget_state, ChromeDriver, Line, WAIT,
};
use tests::deployment::SITE_ID;
use tests::eventually;
use tests::moderator::{ModeratorProcess, ADMIN_SECRET};
use tests::page::serve_page;
use tests::pair::{start_pair, stored_counts, wait_until_in_sync, Member};

/// One test at a time (see the module documentation).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn open_widget(client: &Client, page: &str) {
    client.goto(page).await.unwrap();
    widget_element(client, "chat-launcher")
        .await
        .click()
        .await
        .unwrap();
    widget_element(client, "chat-panel").await;
}

async fn online(client: &Client) {
    eventually("the widget to be online", WAIT, || async {
        (widget_state(client).await == "online").then_some(())
    })
    .await;
}

async fn write(client: &Client, text: &str) {
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

/// Waits until the widget shows exactly `texts`, all acknowledged.
async fn shows(client: &Client, texts: &[&str]) -> Vec<Line> {
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

/// The demo page naming both deployments and the moderator, on its own origin.
async fn page(primary: &Member, redundant: &Member, moderator: &ModeratorProcess) -> String {
    let html = xtask::render_demo_page(
        &tests::root(),
        &[primary.url(), redundant.url()],
        Some(&moderator.url),
        SITE_ID,
    )
    .unwrap();
    serve_page(html).await
}

/// Every line is stored exactly once on both deployments, once they agree.
async fn stored_once_on_both(primary: &Member, redundant: &Member, shown: &[Line]) {
    let (a, b) = (
        primary.data_dir.path().to_owned(),
        redundant.data_dir.path().to_owned(),
    );
    tokio::task::spawn_blocking(move || wait_until_in_sync(&a, &b))
        .await
        .unwrap();
    for dir in [primary.data_dir.path(), redundant.data_dir.path()] {
        let stored = stored_counts(dir);
        for line in shown {
            assert_eq!(stored.get(&line.id), Some(&1), "{line:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_moderator_and_then_the_primary_down_chats_go_on_and_new_ones_start() {
    let _serial = SERIAL.lock().await;
    let (mut primary, redundant) = start_pair(0);
    let mut moderator = ModeratorProcess::start(&primary, &redundant);
    moderator.wait_until_pushed().await;
    let page = page(&primary, &redundant, &moderator).await;
    let mut chrome = ChromeDriver::start().await;
    let visitor = chrome.session().await;
    open_widget(&visitor, &page).await;
    online(&visitor).await;
    write(&visitor, "one").await;
    shows(&visitor, &["one"]).await;

    // The moderator dies mid-chat: nothing changes for the visitor.
    moderator.kill9();
    write(&visitor, "two").await;
    shows(&visitor, &["one", "two"]).await;

    // Then the primary dies too, with nobody left to decide: the visitor moves on by itself.
    primary.kill9();
    write(&visitor, "three").await;
    let shown = shows(&visitor, &["one", "two", "three"]).await;
    assert_eq!(widget_deployment(&visitor).await, redundant.url());

    // A new visitor arrives with the primary and the moderator both down: the snippet loads the
    // widget from the redundant deployment, and the chat starts there.
    let newcomer = chrome.session().await;
    open_widget(&newcomer, &page).await;
    online(&newcomer).await;
    write(&newcomer, "anyone there?").await;
    let greeted = shows(&newcomer, &["anyone there?"]).await;
    assert_eq!(widget_deployment(&newcomer).await, redundant.url());
    assert!(!widget_has(&visitor, "chat-notice").await);
    assert!(!widget_has(&newcomer, "chat-notice").await);

    // The primary returns (the moderator stays down): everything reaches it by replication.
    primary.start();
    stored_once_on_both(&primary, &redundant, &shown).await;
    stored_once_on_both(&primary, &redundant, &greeted).await;
    visitor.close().await.unwrap();
    newcomer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_typed_while_both_deployments_are_down_survive_a_reload() {
    let _serial = SERIAL.lock().await;
    let (mut primary, mut redundant) = start_pair(0);
    let moderator = ModeratorProcess::start(&primary, &redundant);
    moderator.wait_until_pushed().await;
    let page = page(&primary, &redundant, &moderator).await;

    let mut chrome = ChromeDriver::start().await;
    let visitor = chrome.session().await;
    open_widget(&visitor, &page).await;
    online(&visitor).await;
    write(&visitor, "first").await;
    shows(&visitor, &["first"]).await;

    primary.kill9();
    redundant.kill9();
    let typed = ["one", "two", "three", "four", "five"];
    for text in typed {
        write(&visitor, text).await;
    }
    eventually("five pending messages", WAIT, || async {
        let shown = lines(&visitor, true, "").await;
        (shown.iter().filter(|l| l.status == "pending").count() == 5).then_some(())
    })
    .await;
    visitor.refresh().await.unwrap();
    primary.start();
    redundant.start();

    widget_element(&visitor, "chat-launcher")
        .await
        .click()
        .await
        .unwrap();
    let mut expected = vec!["first"];
    expected.extend(typed);
    let shown = shows(&visitor, &expected).await;
    stored_once_on_both(&primary, &redundant, &shown).await;
    visitor.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_primary_is_noticed_and_a_moderator_naming_it_is_bypassed() {
    let _serial = SERIAL.lock().await;
    let (primary, redundant) = start_pair(0);
    let moderator = ModeratorProcess::start(&primary, &redundant);
    moderator.wait_until_pushed().await;
    let page = page(&primary, &redundant, &moderator).await;

    let mut chrome = ChromeDriver::start().await;
    let visitor = chrome.session().await;
    open_widget(&visitor, &page).await;
    online(&visitor).await;
    write(&visitor, "before").await;
    shows(&visitor, &["before"]).await;

    // SIGSTOP: no connection is closed; only silence tells.
    primary.freeze();
    write(&visitor, "during").await;
    shows(&visitor, &["before", "during"]).await;
    assert_eq!(widget_deployment(&visitor).await, redundant.url());

    // An admin pins the frozen primary: the moderator now names a deployment nobody can reach.
    // A new visitor still gets the widget and a conversation, from the redundant deployment.
    assert!(moderator.cli(&["failover", "--to", "primary"], Some(ADMIN_SECRET)));
    let newcomer = chrome.session().await;
    open_widget(&newcomer, &page).await;
    online(&newcomer).await;
    write(&newcomer, "hello from a newcomer").await;
    shows(&newcomer, &["hello from a newcomer"]).await;
    assert_eq!(widget_deployment(&newcomer).await, redundant.url());
    assert!(!widget_has(&visitor, "chat-notice").await);

    primary.thaw();
    visitor.close().await.unwrap();
    newcomer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_failover_drains_the_widget_to_the_redundant_deployment_without_a_gap() {
    let _serial = SERIAL.lock().await;
    let (primary, redundant) = start_pair(0);
    let moderator = ModeratorProcess::start(&primary, &redundant);
    moderator.wait_until_pushed().await;
    let page = page(&primary, &redundant, &moderator).await;

    let mut chrome = ChromeDriver::start().await;
    let visitor = chrome.session().await;
    open_widget(&visitor, &page).await;
    online(&visitor).await;
    assert_eq!(widget_deployment(&visitor).await, primary.url());
    write(&visitor, "a").await;
    write(&visitor, "b").await;
    assert!(moderator.cli(&["failover", "--to", "redundant"], Some(ADMIN_SECRET)));
    write(&visitor, "c").await;
    write(&visitor, "d").await;
    let shown = shows(&visitor, &["a", "b", "c", "d"]).await;
    eventually("the widget on the redundant deployment", WAIT, || async {
        (widget_deployment(&visitor).await == redundant.url()).then_some(())
    })
    .await;
    assert_eq!(widget_state(&visitor).await, "online");
    // The primary no longer has any client: it can be taken down for maintenance, and
    // everything written is on the redundant deployment.
    let (a, b) = (
        primary.data_dir.path().to_owned(),
        redundant.data_dir.path().to_owned(),
    );
    tokio::task::spawn_blocking(move || wait_until_in_sync(&a, &b))
        .await
        .unwrap();
    let stored = stored_counts(redundant.data_dir.path());
    for line in &shown {
        assert_eq!(stored.get(&line.id), Some(&1));
    }
    visitor.close().await.unwrap();
}
