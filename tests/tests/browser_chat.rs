//! A person's chat, in two real headless Chromium browsers against the real server binary: the
//! visitor writes from the demo customer page, the operator logs in to the console, accepts and
//! replies, the visitor sees the reply and still has the whole history, in order, after a reload.

use fantoccini::Locator;
use tests::browser::{by_test_id, lines, widget_element, widget_state, ChromeDriver, WAIT};
use tests::deployment::{Deployment, ADMIN_EMAIL, ADMIN_PASSWORD};
use tests::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_and_an_operator_chat_in_real_browsers() {
    let deployment = Deployment::start();
    let mut chrome = ChromeDriver::start().await;
    let visitor = chrome.session().await;
    let operator = chrome.session().await;

    // The visitor opens the customer's page, then the widget, and writes.
    visitor
        .goto(&format!("{}/", deployment.page_origin()))
        .await
        .unwrap();
    widget_element(&visitor, "chat-launcher")
        .await
        .click()
        .await
        .unwrap();
    widget_element(&visitor, "chat-panel").await;
    eventually("the widget to be online", WAIT, || async {
        (widget_state(&visitor).await == "online").then_some(())
    })
    .await;
    let input = widget_element(&visitor, "chat-input").await;
    input
        .send_keys("Hello! Do you ship to Tromsø?")
        .await
        .unwrap();
    widget_element(&visitor, "chat-send")
        .await
        .click()
        .await
        .unwrap();
    let first = eventually("the visitor's message to be sent", WAIT, || async {
        let shown = lines(&visitor, true, "").await;
        shown
            .into_iter()
            .find(|l| l.author == "visitor" && l.status == "sent")
    })
    .await;
    assert_eq!(first.text, "Hello! Do you ship to Tromsø?");

    // The operator logs in, sees the waiting chat, accepts it and replies.
    operator.goto(&deployment.console_url()).await.unwrap();
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
    let conversation = item
        .attr("data-conversation")
        .await
        .unwrap()
        .expect("data-conversation");
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
    eventually("the visitor's message in the console", WAIT, || async {
        lines(&operator, false, &pane)
            .await
            .into_iter()
            .any(|l| l.id == first.id && l.author == "visitor")
            .then_some(())
    })
    .await;
    let reply_input = eventually("the reply field to be enabled", WAIT, || async {
        let input = operator
            .find(Locator::Css(&format!(
                "{pane} [data-testid=\"reply-input\"]"
            )))
            .await
            .ok()?;
        input.is_enabled().await.ok()?.then_some(input)
    })
    .await;
    reply_input
        .send_keys("Yes, in two to three days.")
        .await
        .unwrap();
    // The visitor sees the operator typing before the reply arrives.
    widget_element(&visitor, "chat-typing").await;
    operator
        .find(Locator::Css(&format!(
            "{pane} [data-testid=\"reply-send\"]"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // The reply reaches the visitor, after the "joined" notice.
    let expected = [
        "Hello! Do you ship to Tromsø?",
        "Ada Admin joined the chat",
        "Yes, in two to three days.",
    ];
    let shown = eventually("the reply in the widget", WAIT, || async {
        let shown = lines(&visitor, true, "").await;
        (shown.len() == 3 && shown.iter().all(|l| l.status == "sent")).then_some(shown)
    })
    .await;
    assert_eq!(
        shown.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(),
        expected
    );
    assert_eq!(
        shown.iter().map(|l| l.author.as_str()).collect::<Vec<_>>(),
        ["visitor", "system", "operator"]
    );
    let in_console = eventually("the reply acknowledged in the console", WAIT, || async {
        let shown = lines(&operator, false, &pane).await;
        (shown.len() == 3 && shown.iter().all(|l| l.status == "sent")).then_some(shown)
    })
    .await;
    assert_eq!(
        in_console.iter().map(|l| &l.id).collect::<Vec<_>>(),
        shown.iter().map(|l| &l.id).collect::<Vec<_>>()
    );

    // After a reload the visitor finds the same conversation, in the same order.
    visitor.refresh().await.unwrap();
    widget_element(&visitor, "chat-launcher")
        .await
        .click()
        .await
        .unwrap();
    let reloaded = eventually("the history after a reload", WAIT, || async {
        let shown = lines(&visitor, true, "").await;
        (shown.len() == 3).then_some(shown)
    })
    .await;
    assert_eq!(reloaded, shown);

    visitor.close().await.unwrap();
    operator.close().await.unwrap();
}
