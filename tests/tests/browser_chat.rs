//! A person's chat, in two real headless Chromium browsers against the real server binary: the
//! visitor writes from the demo customer page, the operator logs in to the console, accepts and
//! replies, the visitor sees the reply and still has the whole history, in order, after a reload.

use fantoccini::{Client, Locator};
use std::time::Duration;
use tests::browser::{by_test_id, ChromeDriver};
use tests::deployment::{Deployment, ADMIN_EMAIL, ADMIN_PASSWORD};
use tests::eventually;

const WAIT: Duration = Duration::from_secs(30);

/// One line of a transcript as the page shows it: id, author, status, text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    id: String,
    author: String,
    status: String,
    text: String,
}

/// Reads the messages shown in the widget (inside its shadow root) or the console.
async fn lines(client: &Client, in_widget: bool, scope: &str) -> Vec<Line> {
    let script = r#"
        const [inWidget, scope] = arguments;
        const root = inWidget ? document.getElementById('livechat-root')?.shadowRoot : document;
        if (!root) return [];
        const testId = inWidget ? 'chat-message' : 'console-message';
        return Array.from(root.querySelectorAll(scope + ' [data-testid="' + testId + '"]')).map(e =>
            [e.dataset.id, e.dataset.author, e.dataset.status || '', e.querySelector('.body').textContent]);
    "#;
    let value = client
        .execute(script, vec![in_widget.into(), scope.into()])
        .await
        .expect("script runs");
    value
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| Line {
                    id: r[0].as_str().unwrap_or_default().into(),
                    author: r[1].as_str().unwrap_or_default().into(),
                    status: r[2].as_str().unwrap_or_default().into(),
                    text: r[3].as_str().unwrap_or_default().into(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Finds an element by `data-testid` inside the widget's shadow root, waiting for it.
async fn widget_element(client: &Client, id: &str) -> fantoccini::elements::Element {
    let host = client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("livechat-root"))
        .await
        .expect("the widget's host element");
    let selector = format!("[data-testid=\"{id}\"]");
    eventually(&format!("{selector} in the widget"), WAIT, || {
        let (host, selector) = (host.clone(), selector.clone());
        async move {
            host.shadow_root()
                .await
                .ok()?
                .find(Locator::Css(&selector))
                .await
                .ok()
        }
    })
    .await
}

async fn widget_state(client: &Client) -> String {
    widget_element(client, "chat-connection")
        .await
        .attr("data-state")
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}

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
