//! Failover as people live it, in headless Chromium against real processes (primary, redundant,
//! moderator): the primary is killed with SIGKILL mid-chat and the visitor (widget) and the
//! operator (console, loaded from the primary) keep chatting; every message appears exactly once,
//! in the same order, on both screens, with no error shown; the primary comes back, everyone is
//! moved back to it once it holds everything, and nothing is lost on either deployment.

use std::time::{Duration, Instant};
use tests::browser::{
    console_accept_first, console_deployment, console_login, console_reply, console_shows, lines,
    open_widget, widget_element, widget_has, widget_online, widget_shows, widget_state,
    widget_write, ChromeDriver, WAIT,
};
use tests::deployment::SITE_ID;
use tests::eventually;
use tests::moderator::ModeratorProcess;
use tests::page::serve_page;
use tests::pair::{start_pair, stored_once_on_both};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_primary_mid_chat_goes_unnoticed_and_failback_loses_nothing() {
    let (mut primary, redundant) = start_pair(0);
    let moderator = ModeratorProcess::start(&primary, &redundant);
    moderator.wait_until_pushed().await;
    let deployments = [primary.url(), redundant.url()];
    let page = xtask::render_demo_page(&tests::root(), &deployments, Some(&moderator.url), SITE_ID)
        .unwrap();
    let page_url = serve_page(page).await;
    let _standby =
        tests::visitor::Visitor::standby(deployments.clone(), Some(moderator.url.clone())).await;

    // The visitor opens the shop and writes; the operator (a native client) accepts and replies.
    let mut chrome = ChromeDriver::start().await;
    let visitor = chrome.session().await;
    open_widget(&visitor, &page_url).await;
    widget_online(&visitor).await;
    widget_write(&visitor, "one").await;
    widget_shows(&visitor, &["one"]).await;

    // The operator logs in to the console served by the primary, accepts and replies.
    let operator = chrome.session().await;
    console_login(&operator, &format!("{}/console/", primary.url())).await;
    let pane = console_accept_first(&operator).await;
    console_reply(&operator, &pane, "reply one").await;
    widget_shows(&visitor, &["one", "Ada Admin joined the chat", "reply one"]).await;
    assert_eq!(console_deployment(&operator).await, primary.url());

    // The primary dies. The visitor types on; the operator, whose console came from the dead
    // deployment, sees it and answers.
    primary.kill9();
    let killed = Instant::now();
    widget_write(&visitor, "two").await;
    widget_write(&visitor, "three").await;
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
    console_reply(&operator, &pane, "reply two").await;
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

    // The emoji picker was never opened, so its code (a chunk fetched on first use) and its
    // table were never fetched: both come from the redundant, the primary being dead.
    widget_element(&visitor, "chat-emoji")
        .await
        .click()
        .await
        .unwrap();
    widget_element(&visitor, "emoji-option").await;
    widget_element(&visitor, "chat-emoji")
        .await
        .click()
        .await
        .unwrap();
    let fetched = visitor
        .execute(
            "return performance.getEntriesByType('resource').map((e) => e.name)\
                .filter((n) => n.includes('/widget/split_') || n.endsWith('/widget/emoji.json'))",
            vec![],
        )
        .await
        .unwrap();
    let fetched: Vec<String> = serde_json::from_value(fetched).unwrap();
    for part in ["/widget/split_", "/widget/emoji.json"] {
        assert!(
            fetched
                .iter()
                .any(|url| url.starts_with(&redundant.url()) && url.contains(part)),
            "{part} from the redundant: {fetched:?}"
        );
    }
    assert!(!widget_has(&visitor, "chat-notice").await, "no error shown");
    assert!(!widget_has(&visitor, "chat-part-failed").await);

    // The primary comes back; once it holds everything the moderator makes it active again and
    // both screens are sent back to it. The chat goes on there. It comes back after the
    // moderator has noticed the kill, so this is failback by redirect; a primary back before the
    // moderator noticed (clients return by asking it again) is covered in moderator_failover.rs.
    let since_kill = killed.elapsed();
    if since_kill < Duration::from_secs(6) {
        tokio::time::sleep(Duration::from_secs(6) - since_kill).await;
    }
    primary.start();
    moderator
        .wait_for_active("primary", Duration::from_secs(60))
        .await;
    eventually("the console back on the primary", WAIT, || async {
        (console_deployment(&operator).await == primary.url()).then_some(())
    })
    .await;
    widget_write(&visitor, "four").await;
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
    stored_once_on_both(
        &primary,
        &redundant,
        final_lines.iter().map(|l| l.id.clone()),
    )
    .await;
    let deadline = Instant::now() + WAIT;
    while widget_state(&visitor).await != "online" {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    visitor.close().await.unwrap();
    operator.close().await.unwrap();
}
