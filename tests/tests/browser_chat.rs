//! A person's chat, in two real headless Chromium browsers against the real server binary: the
//! visitor writes from the demo customer page, the operator logs in to the console, accepts and
//! replies, the visitor sees the reply and still has the whole history, in order, after a reload.

use tests::browser::{
    console_accept_first, console_login, console_reply_input, console_send, console_shows,
    open_widget, widget_element, widget_online, widget_shows, widget_write, ChromeDriver,
};
use tests::deployment::Deployment;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_and_an_operator_chat_in_real_browsers() {
    let deployment = Deployment::start();
    let _standby =
        tests::visitor::Visitor::standby([deployment.url(), deployment.url()], None).await;
    let mut chrome = ChromeDriver::start().await;
    let visitor = chrome.session().await;
    let operator = chrome.session().await;

    // The visitor opens the customer's page, then the widget, and writes.
    open_widget(&visitor, &format!("{}/", deployment.page_origin())).await;
    widget_online(&visitor).await;
    widget_write(&visitor, "Hello! Do you ship to Tromsø?").await;
    let first = widget_shows(&visitor, &["Hello! Do you ship to Tromsø?"]).await[0].clone();
    assert_eq!(first.author, "visitor");

    // The operator logs in, sees the waiting chat, accepts it and replies.
    console_login(&operator, &deployment.console_url()).await;
    let pane = console_accept_first(&operator).await;
    console_shows(
        &operator,
        &pane,
        &["Hello! Do you ship to Tromsø?", "Ada Admin joined the chat"],
    )
    .await;
    console_reply_input(&operator, &pane)
        .await
        .send_keys("Yes, in two to three days.")
        .await
        .unwrap();
    // The visitor sees the operator typing before the reply arrives.
    widget_element(&visitor, "chat-typing").await;
    console_send(&operator, &pane).await;

    // The reply reaches the visitor, after the "joined" notice.
    let expected = [
        "Hello! Do you ship to Tromsø?",
        "Ada Admin joined the chat",
        "Yes, in two to three days.",
    ];
    let shown = widget_shows(&visitor, &expected).await;
    assert_eq!(shown[0].id, first.id);
    assert_eq!(
        shown.iter().map(|l| l.author.as_str()).collect::<Vec<_>>(),
        ["visitor", "system", "operator"]
    );
    let in_console = console_shows(&operator, &pane, &expected).await;
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
    let reloaded = widget_shows(&visitor, &expected).await;
    assert_eq!(reloaded, shown);

    visitor.close().await.unwrap();
    operator.close().await.unwrap();
}
