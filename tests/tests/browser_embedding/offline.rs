//! The chat with no deployment reachable, in Chromium: a returning visitor reloads the page
//! while both deployments are down; the loader finds no deployment and starts the widget kept
//! in the page's Cache Storage, which shows the conversation as last seen (a file in it shown by
//! the chunk of code kept beside the widget) and the unsent messages as pending, and takes one
//! more.
//! Only the redundant deployment comes back: all six arrive once and in order.

use std::time::Duration;
use tests::browser::{
    lines, widget_element, widget_has, widget_online, widget_shows, widget_write, ChromeDriver,
    WAIT,
};
use tests::eventually;
use tests::page::demo_pair;

/// How many entries of the page's Cache Storage (where the loader keeps the widget) have `part`
/// in their URL: `/wasm/` for the kept versions of the widget, `/chunk/` for its chunks (code
/// fetched on first use).
async fn kept(client: &fantoccini::Client, part: &str) -> usize {
    let script = r#"
        const [part, done] = arguments;
        caches.open('livechat-widget').then((c) => c.keys())
            .then((keys) => done(keys.filter((k) => k.url.includes(part)).length), () => done(0));
    "#;
    client
        .execute_async(script, vec![part.into()])
        .await
        .ok()
        .and_then(|v| v.as_u64())
        .unwrap_or(0) as usize
}

/// Drops a small PDF named `name` on the widget's panel, as a visitor dragging a file would.
async fn drop_file(client: &fantoccini::Client, name: &str) {
    let script = r#"
        const [name] = arguments;
        const panel = document.getElementById('livechat-root').shadowRoot.querySelector('.panel');
        const data = new DataTransfer();
        data.items.add(new File(['%PDF-1.4\n% kept through an outage\n'], name, { type: 'application/pdf' }));
        panel.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
    "#;
    client.execute(script, vec![name.into()]).await.unwrap();
}

/// How many files named `name` the widget shows.
async fn files_shown(client: &fantoccini::Client, name: &str) -> usize {
    let script = r#"
        const [name] = arguments;
        const root = document.getElementById('livechat-root')?.shadowRoot;
        return Array.from(root?.querySelectorAll('[data-testid="chat-attachment"]') || [])
            .filter((e) => e.dataset.name === name).length;
    "#;
    client
        .execute(script, vec![name.into()])
        .await
        .ok()
        .and_then(|v| v.as_u64())
        .unwrap_or(0) as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returning_visitor_writes_through_a_total_outage_and_a_reload() {
    let mut pair = demo_pair().await;
    let deployments = [pair.primary.url(), pair.redundant.url()];
    let _standby =
        tests::visitor::Visitor::standby(deployments, Some(pair.moderator.url.clone())).await;
    let mut chrome = ChromeDriver::start().await;
    let visitor = chrome.session().await;
    visitor.goto(&pair.page_url).await.unwrap();
    widget_element(&visitor, "chat-launcher")
        .await
        .click()
        .await
        .unwrap();
    widget_online(&visitor).await;
    widget_write(&visitor, "Before the outage").await;
    widget_shows(&visitor, &["Before the outage"]).await;
    // A file: the widget shows it with code fetched on first use, which the page keeps too.
    drop_file(&visitor, "menu.pdf").await;
    widget_shows(&visitor, &["Before the outage", ""]).await;
    eventually("the file shown", WAIT, || async {
        (files_shown(&visitor, "menu.pdf").await == 1).then_some(())
    })
    .await;
    eventually(
        "the widget and its chunk kept in Cache Storage",
        WAIT,
        || async {
            (kept(&visitor, "/wasm/").await == 1 && kept(&visitor, "/chunk/").await == 1)
                .then_some(())
        },
    )
    .await;
    tests::pair::in_sync(&pair.primary, &pair.redundant).await;

    // Both data centres go away. Five messages wait in the outbox.
    pair.primary.kill9();
    pair.redundant.kill9();
    let written: Vec<String> = (1..=6).map(|i| format!("Written offline {i}")).collect();
    for text in &written[..5] {
        widget_write(&visitor, text).await;
    }
    // A reload: no deployment serves the widget, so the kept one starts and shows them.
    visitor.refresh().await.unwrap();
    eventually(
        "the kept widget to show the conversation and the five pending",
        WAIT,
        || async {
            if !widget_has(&visitor, "chat-panel").await {
                // The launcher (the loader's until the widget adopts it) opens the panel.
                widget_element(&visitor, "chat-launcher")
                    .await
                    .click()
                    .await
                    .ok()?;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            let shown = lines(&visitor, true, "").await;
            let pending: Vec<&str> = shown
                .iter()
                .filter(|l| l.status == "pending")
                .map(|l| l.text.as_str())
                .collect();
            // The conversation as last seen (kept in localStorage), then what waits.
            let earlier = shown.len() > 2
                && shown[0].text == "Before the outage"
                && shown[1].text.is_empty()
                && shown[..2].iter().all(|l| l.acknowledged());
            let waiting = pending == written[..5].iter().map(String::as_str).collect::<Vec<_>>();
            (earlier && waiting && shown.len() == 7).then_some(())
        },
    )
    .await;
    // It is the kept copy that runs: the widget adopted the loader's button, and no deployment
    // served it (the loader names the one that did).
    let from_cache = visitor
        .execute(
            "return window.LiveChat.launcherAdopted === true && window.LiveChat.assetBase === undefined",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(from_cache, true);
    // The file, shown by the chunk the page kept: no deployment could have served it.
    eventually("the file shown by the kept chunk", WAIT, || async {
        (files_shown(&visitor, "menu.pdf").await == 1).then_some(())
    })
    .await;
    assert!(!widget_has(&visitor, "chat-part-failed").await);
    let state = widget_element(&visitor, "chat-connection")
        .await
        .attr("data-state")
        .await
        .unwrap()
        .unwrap_or_default();
    assert_ne!(state, "online", "nothing is reachable");
    widget_write(&visitor, &written[5]).await;

    // Only the redundant deployment comes back: all six arrive, once, in order.
    pair.redundant.start();
    let expected: Vec<&str> = ["Before the outage", ""]
        .into_iter()
        .chain(written.iter().map(String::as_str))
        .collect();
    let shown = tokio::time::timeout(Duration::from_secs(90), widget_shows(&visitor, &expected))
        .await
        .expect("the messages to arrive once the redundant deployment is back");
    let counts = tests::pair::stored_counts(pair.redundant.data_dir.path());
    for line in &shown {
        assert_eq!(counts.get(&line.id), Some(&1), "{} stored once", line.text);
    }
    visitor.close().await.unwrap();
}
