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

use tests::browser::{
    lines, open_widget, widget_deployment, widget_element, widget_has, widget_online, widget_shows,
    widget_state, widget_write, ChromeDriver, WAIT,
};
use tests::deployment::SITE_ID;
use tests::eventually;
use tests::moderator::{ModeratorProcess, ADMIN_SECRET};
use tests::page::serve_page;
use tests::pair::{start_pair, stored_once_on_both, Member};
use tests::visitor::Visitor;

/// One test at a time (see the module documentation).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Primary, redundant and moderator, with the moderator's decision known to both deployments, and
/// the customer page naming all three.
/// And an operator online (a native console), so widgets show their composer.
async fn trio() -> (Member, Member, ModeratorProcess, String, Visitor) {
    let (primary, redundant) = start_pair(0);
    let moderator = ModeratorProcess::start(&primary, &redundant);
    moderator.wait_until_pushed().await;
    let page = page(&primary, &redundant, &moderator).await;
    let standby = Visitor::standby(
        [primary.url(), redundant.url()],
        Some(moderator.url.clone()),
    )
    .await;
    (primary, redundant, moderator, page, standby)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_moderator_and_then_the_primary_down_chats_go_on_and_new_ones_start() {
    let _serial = SERIAL.lock().await;
    let (mut primary, redundant, mut moderator, page, _standby) = trio().await;
    let mut chrome = ChromeDriver::start().await;
    let visitor = chrome.session().await;
    open_widget(&visitor, &page).await;
    widget_online(&visitor).await;
    widget_write(&visitor, "one").await;
    widget_shows(&visitor, &["one"]).await;

    // The moderator dies mid-chat: nothing changes for the visitor.
    moderator.kill9();
    widget_write(&visitor, "two").await;
    widget_shows(&visitor, &["one", "two"]).await;

    // Then the primary dies too, with nobody left to decide: the visitor moves on by itself.
    primary.kill9();
    widget_write(&visitor, "three").await;
    let shown = widget_shows(&visitor, &["one", "two", "three"]).await;
    assert_eq!(widget_deployment(&visitor).await, redundant.url());

    // A new visitor arrives with the primary and the moderator both down: the snippet loads the
    // widget from the redundant deployment, and the chat starts there.
    let newcomer = chrome.session().await;
    open_widget(&newcomer, &page).await;
    widget_online(&newcomer).await;
    widget_write(&newcomer, "anyone there?").await;
    let greeted = widget_shows(&newcomer, &["anyone there?"]).await;
    assert_eq!(widget_deployment(&newcomer).await, redundant.url());
    assert!(!widget_has(&visitor, "chat-notice").await);
    assert!(!widget_has(&newcomer, "chat-notice").await);

    // The primary returns (the moderator stays down): everything reaches it by replication.
    primary.start();
    stored_once_on_both(&primary, &redundant, shown.iter().map(|l| l.id.clone())).await;
    stored_once_on_both(&primary, &redundant, greeted.iter().map(|l| l.id.clone())).await;
    visitor.close().await.unwrap();
    newcomer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_typed_while_both_deployments_are_down_survive_a_reload() {
    let _serial = SERIAL.lock().await;
    let (mut primary, mut redundant, _moderator, page, _standby) = trio().await;

    let mut chrome = ChromeDriver::start().await;
    let visitor = chrome.session().await;
    open_widget(&visitor, &page).await;
    widget_online(&visitor).await;
    widget_write(&visitor, "first").await;
    widget_shows(&visitor, &["first"]).await;

    primary.kill9();
    redundant.kill9();
    let typed = ["one", "two", "three", "four", "five"];
    for text in typed {
        widget_write(&visitor, text).await;
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
    let shown = widget_shows(&visitor, &expected).await;
    stored_once_on_both(&primary, &redundant, shown.iter().map(|l| l.id.clone())).await;
    visitor.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_primary_is_noticed_and_a_moderator_naming_it_is_bypassed() {
    let _serial = SERIAL.lock().await;
    let (primary, redundant, moderator, page, _standby) = trio().await;

    let mut chrome = ChromeDriver::start().await;
    let visitor = chrome.session().await;
    open_widget(&visitor, &page).await;
    widget_online(&visitor).await;
    widget_write(&visitor, "before").await;
    widget_shows(&visitor, &["before"]).await;

    // SIGSTOP: no connection is closed; only silence tells.
    primary.freeze();
    widget_write(&visitor, "during").await;
    widget_shows(&visitor, &["before", "during"]).await;
    assert_eq!(widget_deployment(&visitor).await, redundant.url());

    // An admin pins the frozen primary: the moderator now names a deployment nobody can reach.
    // A new visitor still gets the widget and a conversation, from the redundant deployment.
    assert!(moderator.cli(&["failover", "--to", "primary"], Some(ADMIN_SECRET)));
    let newcomer = chrome.session().await;
    open_widget(&newcomer, &page).await;
    widget_online(&newcomer).await;
    widget_write(&newcomer, "hello from a newcomer").await;
    widget_shows(&newcomer, &["hello from a newcomer"]).await;
    assert_eq!(widget_deployment(&newcomer).await, redundant.url());
    assert!(!widget_has(&visitor, "chat-notice").await);

    primary.thaw();
    visitor.close().await.unwrap();
    newcomer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_failover_drains_the_widget_to_the_redundant_deployment_without_a_gap() {
    let _serial = SERIAL.lock().await;
    let (primary, redundant, moderator, page, _standby) = trio().await;

    let mut chrome = ChromeDriver::start().await;
    let visitor = chrome.session().await;
    open_widget(&visitor, &page).await;
    widget_online(&visitor).await;
    assert_eq!(widget_deployment(&visitor).await, primary.url());
    widget_write(&visitor, "a").await;
    widget_write(&visitor, "b").await;
    assert!(moderator.cli(&["failover", "--to", "redundant"], Some(ADMIN_SECRET)));
    widget_write(&visitor, "c").await;
    widget_write(&visitor, "d").await;
    let shown = widget_shows(&visitor, &["a", "b", "c", "d"]).await;
    eventually("the widget on the redundant deployment", WAIT, || async {
        (widget_deployment(&visitor).await == redundant.url()).then_some(())
    })
    .await;
    assert_eq!(widget_state(&visitor).await, "online");
    // Everything written, before and after the switch, is on both deployments exactly once.
    stored_once_on_both(&primary, &redundant, shown.iter().map(|l| l.id.clone())).await;
    visitor.close().await.unwrap();
}
