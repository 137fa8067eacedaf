//! The operator's workday in headless Chromium, against a real pair and moderator: private
//! notes are shown to operators and never reach the widget, and a note written while the
//! primary dies is stored once on both deployments, with no error shown.

use fantoccini::Client;
use tests::browser::{
    by_test_id, console_accept_first, console_login, console_reply, open_widget, widget_shows,
    widget_write, ChromeDriver, WAIT,
};
use tests::deployment::SITE_ID;
use tests::eventually;
use tests::moderator::ModeratorProcess;
use tests::page::serve_page;
use tests::pair::{in_sync, prepare_pair, stored_once_on_both};

/// The notes shown in the console's `pane`: id, `data-status` and text.
async fn notes(client: &Client, pane: &str) -> Vec<(String, String, String)> {
    let script = r#"
        return Array.from(document.querySelectorAll(arguments[0] + ' [data-testid="console-note"]'))
            .map(e => [e.dataset.id, e.dataset.status || '', e.querySelector('.body').textContent]);
    "#;
    let value = client.execute(script, vec![pane.into()]).await.unwrap();
    value
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    let text = |i: usize| r[i].as_str().unwrap_or_default().to_owned();
                    (text(0), text(1), text(2))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Writes a private note in `pane`.
async fn write_note(client: &Client, pane: &str, text: &str) {
    let css = |id: &str| format!("{pane} [data-testid=\"{id}\"]");
    let field = client
        .find(fantoccini::Locator::Css(&css("note-input")))
        .await
        .unwrap();
    field.send_keys(text).await.unwrap();
    client
        .find(fantoccini::Locator::Css(&css("note-send")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Waits until the pane shows exactly `texts` as notes, each stored (not `pending`).
async fn notes_shown(client: &Client, pane: &str, texts: &[&str]) -> Vec<String> {
    eventually(&format!("the notes {texts:?}"), WAIT, || async {
        let shown = notes(client, pane).await;
        let same = shown.iter().map(|n| n.2.as_str()).eq(texts.iter().copied());
        (same && shown.iter().all(|n| n.1 != "pending"))
            .then(|| shown.into_iter().map(|n| n.0).collect())
    })
    .await
}

/// The widget's whole shadow root as HTML.
async fn widget_html(client: &Client) -> String {
    let script = "return document.getElementById('livechat-root').shadowRoot.innerHTML;";
    let value = client.execute(script, vec![]).await.unwrap();
    value.as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_notes_stay_with_operators_and_survive_a_killed_primary() {
    let (mut primary, mut redundant) = prepare_pair(0);
    primary.start();
    redundant.start();
    let moderator = ModeratorProcess::start(&primary, &redundant);
    moderator.wait_until_pushed().await;
    let deployments = [primary.url(), redundant.url()];
    let page = xtask::render_demo_page(&tests::root(), &deployments, Some(&moderator.url), SITE_ID)
        .unwrap();
    let page_url = serve_page(page).await;
    let mut chrome = ChromeDriver::start().await;
    let operator = chrome.session().await;
    console_login(&operator, &format!("{}/console/", primary.url())).await;
    let visitor = chrome.session().await;
    open_widget(&visitor, &page_url).await;
    widget_write(&visitor, "Where is my order?").await;
    widget_shows(&visitor, &["Where is my order?"]).await;
    let pane = console_accept_first(&operator).await;

    // A note, then a reply: the reply reaches the widget, the note never does.
    write_note(&operator, &pane, "Second complaint this week").await;
    notes_shown(&operator, &pane, &["Second complaint this week"]).await;
    console_reply(&operator, &pane, "Let me check that for you").await;
    let joined = "Ada Admin joined the chat";
    let shown = ["Where is my order?", joined, "Let me check that for you"];
    widget_shows(&visitor, &shown).await;
    assert!(!widget_html(&visitor).await.contains("complaint"));
    in_sync(&primary, &redundant).await;

    // The primary dies as the next note is written: it is stored once, at the redundant
    // deployment, and the console shows no error.
    primary.kill9();
    write_note(&operator, &pane, "Offer free shipping").await;
    let ids = notes_shown(
        &operator,
        &pane,
        &["Second complaint this week", "Offer free shipping"],
    )
    .await;
    by_test_id(&operator, "console-connection").await;
    assert!(
        operator
            .find(fantoccini::Locator::Css("[data-testid=\"console-notice\"]"))
            .await
            .is_err(),
        "no error shown"
    );
    primary.start();
    stored_once_on_both(&primary, &redundant, ids).await;
    assert!(!widget_html(&visitor).await.contains("shipping"));
    widget_shows(&visitor, &shown).await;
    for client in [visitor, operator] {
        client.close().await.unwrap();
    }
}
