//! Failover as a visitor lives it, in headless Chromium against real processes (primary,
//! redundant, moderator): the primary is killed with SIGKILL mid-chat and the visitor and the
//! operator keep chatting; every message appears exactly once, in the same order, with no error
//! shown; the primary comes back, everyone is moved back to it once it holds everything, and
//! nothing is lost on either deployment.

use protocol::{AuthorKind, ClientFrame, ConversationId};
use std::time::{Duration, Instant};
use tests::browser::{lines, widget_element, widget_has, widget_state, ChromeDriver, Line, WAIT};
use tests::deployment::{ADMIN_EMAIL, ADMIN_PASSWORD, SITE_ID};
use tests::eventually;
use tests::moderator::ModeratorProcess;
use tests::page::serve_page;
use tests::pair::{start_pair, stored_counts, wait_until_in_sync};
use tests::visitor::Visitor;

async fn write_in_widget(client: &fantoccini::Client, text: &str) {
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
async fn widget_shows(client: &fantoccini::Client, texts: &[&str]) -> Vec<Line> {
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

    let mut operator = Visitor::operator(
        ADMIN_EMAIL,
        ADMIN_PASSWORD,
        deployments.clone(),
        Some(moderator.url.clone()),
    )
    .await;
    assert!(operator.until(WAIT, |o| !o.conversations.is_empty()).await);
    let conversation: ConversationId = operator.conversations[0].id;
    operator.send(ClientFrame::Accept {
        conversation_id: conversation,
    });
    operator.write_to(conversation, "reply one");
    widget_shows(&visitor, &["one", "Ada Admin joined the chat", "reply one"]).await;

    // The primary dies. The visitor types on; the operator answers.
    primary.kill9();
    write_in_widget(&visitor, "two").await;
    write_in_widget(&visitor, "three").await;
    assert!(
        operator
            .until(WAIT, |o| {
                o.received
                    .iter()
                    .filter(|m| m.author.kind == AuthorKind::Visitor)
                    .count()
                    >= 2
            })
            .await,
        "the operator hears the visitor after the failover"
    );
    operator.write_to(conversation, "reply two");
    let after_failover = [
        "one",
        "Ada Admin joined the chat",
        "reply one",
        "two",
        "three",
        "reply two",
    ];
    let shown = widget_shows(&visitor, &after_failover).await;
    assert_eq!(widget_state(&visitor).await, "online");
    assert!(!widget_has(&visitor, "chat-notice").await, "no error shown");
    assert_eq!(operator.welcomed_by.last(), Some(&redundant.url()));

    // The primary comes back; once it holds everything the moderator makes it active again and
    // both clients are sent back to it. The chat goes on there.
    primary.start();
    moderator
        .wait_for_active("primary", Duration::from_secs(60))
        .await;
    assert!(
        operator
            .until(WAIT, |o| o.welcomed_by.last() == Some(&o.deployments[0]))
            .await,
        "the operator returns to the primary"
    );
    write_in_widget(&visitor, "four").await;
    let mut expected = after_failover.to_vec();
    expected.push("four");
    let final_lines = widget_shows(&visitor, &expected).await;
    assert_eq!(
        final_lines[..shown.len()],
        shown[..],
        "the same order as before"
    );
    assert!(operator.drained(WAIT).await);

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
}
