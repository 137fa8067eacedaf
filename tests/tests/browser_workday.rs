//! The operator's workday in headless Chromium, against a real pair and moderator: private
//! notes are shown to operators and never reach the widget, and a note written while the
//! primary dies is stored once on both deployments, with no error shown.

use fantoccini::Client;
use tests::browser::widget_deployment;
use tests::browser::{
    by_test_id, console_accept_first, console_login, console_reply, open_widget, widget_shows,
    widget_write, ChromeDriver, WAIT,
};
use tests::deployment::SITE_ID;
use tests::eventually;
use tests::page::{demo_pair, DemoPair};
use tests::pair::{in_sync, stored_once_on_both};

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

/// A demo pair with a console logged in at the primary and a widget whose first message,
/// `first`, the operator accepted; returns them and the conversation's pane.
async fn chatting(chrome: &mut ChromeDriver, first: &str) -> (DemoPair, Client, Client, String) {
    let demo = demo_pair().await;
    let operator = chrome.session().await;
    console_login(&operator, &format!("{}/console/", demo.primary.url())).await;
    let visitor = chrome.session().await;
    open_widget(&visitor, &demo.page_url).await;
    widget_write(&visitor, first).await;
    widget_shows(&visitor, &[first]).await;
    let pane = console_accept_first(&operator).await;
    (demo, operator, visitor, pane)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_notes_stay_with_operators_and_survive_a_killed_primary() {
    let mut chrome = ChromeDriver::start().await;
    let (demo, operator, visitor, pane) = chatting(&mut chrome, "Where is my order?").await;
    let DemoPair {
        mut primary,
        redundant,
        ..
    } = demo;

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

/// Sets a console field's value as typing would (for selects and text fields alike).
async fn set_console_value(client: &Client, css: &str, value: &str) {
    tests::browser::set_field(client, css, value).await;
}

async fn click_css(client: &Client, css: &str) {
    client
        .find(fantoccini::Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canned_reply_made_before_a_failover_is_inserted_with_a_slash_after_it() {
    let mut chrome = ChromeDriver::start().await;
    let (demo, operator, visitor, pane) = chatting(&mut chrome, "Do you ship abroad?").await;
    let DemoPair {
        mut primary,
        redundant,
        ..
    } = demo;

    // The admin adds a reply for everyone on the site; a wrong placeholder is named first.
    by_test_id(&operator, "canned-manage")
        .await
        .click()
        .await
        .unwrap();
    set_console_value(&operator, "[data-testid=\"canned-shortcut\"]", "ship").await;
    set_console_value(
        &operator,
        "[data-testid=\"canned-text\"]",
        "Hi {visitor.nickname}",
    )
    .await;
    set_console_value(
        &operator,
        "[data-testid=\"canned-scope\"]",
        &format!("site:{SITE_ID}"),
    )
    .await;
    click_css(&operator, "[data-testid=\"canned-save\"]").await;
    let error = by_test_id(&operator, "canned-error")
        .await
        .text()
        .await
        .unwrap();
    assert!(error.contains("{visitor.nickname}"), "{error}");
    let text = "Hi {visitor.name}, {operator.name} here: we ship to all of Europe.";
    set_console_value(&operator, "[data-testid=\"canned-text\"]", text).await;
    click_css(&operator, "[data-testid=\"canned-save\"]").await;
    by_test_id(&operator, "canned-item").await;
    assert_eq!(
        by_test_id(&operator, "canned-item")
            .await
            .attr("data-shortcut")
            .await
            .unwrap()
            .as_deref(),
        Some("ship")
    );
    in_sync(&primary, &redundant).await;

    // The primary dies; the console carries on at the redundant deployment, which has the
    // reply: `/sh` offers it, and choosing it fills in the placeholders.
    primary.kill9();
    eventually("the console on the redundant deployment", WAIT, || async {
        let shown = by_test_id(&operator, "console-deployment").await;
        (shown.attr("data-deployment").await.ok()?? == redundant.url()).then_some(())
    })
    .await;
    by_test_id(&operator, "canned-manage")
        .await
        .click()
        .await
        .unwrap();
    let input = format!("{pane} [data-testid=\"reply-input\"]");
    let field = operator
        .find(fantoccini::Locator::Css(&input))
        .await
        .unwrap();
    field.send_keys("/sh").await.unwrap();
    click_css(
        &operator,
        &format!("{pane} [data-testid=\"canned-suggestion\"][data-shortcut=\"ship\"]"),
    )
    .await;
    let filled = "Hi there, Ada Admin here: we ship to all of Europe.";
    eventually("the reply filled in", WAIT, || async {
        (field.prop("value").await.ok()?? == filled).then_some(())
    })
    .await;
    click_css(&operator, &format!("{pane} [data-testid=\"reply-send\"]")).await;
    let joined = "Ada Admin joined the chat";
    widget_shows(&visitor, &["Do you ship abroad?", joined, filled]).await;
    for client in [visitor, operator] {
        client.close().await.unwrap();
    }
}

/// Presses `key` with Alt held, on whatever has the focus.
async fn alt(client: &Client, pressed: char) {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    let alt: char = fantoccini::key::Key::Alt.into();
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: alt })
        .then(KeyAction::Down { value: pressed })
        .then(KeyAction::Up { value: pressed })
        .then(KeyAction::Up { value: alt });
    client.perform_actions(keys).await.unwrap();
}

/// The `data-testid` of the element with the focus, and its pane's conversation.
async fn focus(client: &Client) -> (String, String) {
    let script = r#"
        const e = document.activeElement;
        const pane = e && e.closest('[data-testid="conversation-pane"]');
        return [e?.dataset?.testid || '', pane ? pane.dataset.conversation : ''];
    "#;
    let value = client.execute(script, vec![]).await.unwrap();
    (
        value[0].as_str().unwrap_or_default().to_owned(),
        value[1].as_str().unwrap_or_default().to_owned(),
    )
}

/// Creates a canned reply for the demo site through the API, as the test admin.
async fn canned(
    deployment: &tests::deployment::Deployment,
    token: &str,
    shortcut: &str,
    text: &str,
) {
    let id = uuid::Uuid::now_v7();
    let body = serde_json::json!({
        "id": id, "scope": { "site": SITE_ID }, "shortcut": shortcut, "text": text
    });
    let answer = daemon::http::HttpClient::default()
        .call(
            daemon::http::Method::PUT,
            &format!("{}/v1/canned/{id}", deployment.url()),
            Some(token),
            Some(body.to_string().into_bytes()),
            std::time::Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_is_usable_from_the_keyboard() {
    use fantoccini::key::Key;
    let deployment = tests::deployment::Deployment::start();
    let mut chrome = ChromeDriver::start().await;
    let operator = chrome.session().await;
    console_login(&operator, &deployment.console_url()).await;
    let token = tests::deployment::admin_token(&deployment.url()).await;
    canned(&deployment, &token, "ship", "We ship everywhere.").await;
    canned(&deployment, &token, "shop", "Our shop opens at 9.").await;
    let visitor = chrome.session().await;
    open_widget(&visitor, &format!("{}/", deployment.page_origin())).await;
    widget_write(&visitor, "Hello?").await;
    widget_shows(&visitor, &["Hello?"]).await;
    let item = by_test_id(&operator, "inbox-item").await;
    let conversation = item.attr("data-conversation").await.unwrap().unwrap();
    operator.refresh().await.unwrap();
    by_test_id(&operator, "inbox-item").await;

    // Alt+↓ opens the first conversation, the cursor on Accept while it waits; Alt+A accepts
    // it and the cursor moves to the reply field.
    alt(&operator, Key::Down.into()).await;
    eventually("the cursor on Accept", WAIT, || async {
        (focus(&operator).await == ("accept".to_owned(), conversation.clone())).then_some(())
    })
    .await;
    alt(&operator, 'a').await;
    eventually("the cursor in the reply field", WAIT, || async {
        (focus(&operator).await == ("reply-input".to_owned(), conversation.clone())).then_some(())
    })
    .await;
    // `/sh` offers both replies; ↓ chooses the second, Enter puts it in, Enter sends.
    let enter: char = Key::Enter.into();
    let down: char = Key::Down.into();
    let field = operator
        .find(fantoccini::Locator::Css(&format!(
            "[data-conversation=\"{conversation}\"] [data-testid=\"reply-input\"]"
        )))
        .await
        .unwrap();
    field.send_keys("/sh").await.unwrap();
    eventually("two suggestions", WAIT, || async {
        let shown = operator
            .find_all(fantoccini::Locator::Css(
                "[data-testid=\"canned-suggestion\"]",
            ))
            .await
            .ok()?;
        (shown.len() == 2).then_some(())
    })
    .await;
    field.send_keys(&format!("{down}{enter}")).await.unwrap();
    eventually("the second reply inserted", WAIT, || async {
        (field.prop("value").await.ok()?? == "Our shop opens at 9.").then_some(())
    })
    .await;
    field.send_keys(&enter.to_string()).await.unwrap();
    let joined = "Ada Admin joined the chat";
    widget_shows(&visitor, &["Hello?", joined, "Our shop opens at 9."]).await;
    for client in [visitor, operator] {
        client.close().await.unwrap();
    }
}

/// Makes the console's page report itself hidden (or visible again), as switching to another
/// tab or window does, and records the notifications the page shows.
async fn console_hidden(client: &Client, hidden: bool) {
    let script = r#"
        const hidden = arguments[0];
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => hidden ? 'hidden' : 'visible' });
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
        if (!window.__shown) {
            window.__shown = [];
            const Real = window.Notification;
            const Spy = function (title, options) { window.__shown.push(title); return new Real(title, options); };
            Object.defineProperty(Spy, 'permission', { get: () => Real.permission });
            Spy.requestPermission = (...a) => Real.requestPermission(...a);
            window.Notification = Spy;
        }
        document.dispatchEvent(new Event('visibilitychange'));
    "#;
    client.execute(script, vec![hidden.into()]).await.unwrap();
}

/// The notifications shown so far, and the page's title.
async fn shown_and_title(client: &Client) -> (Vec<String>, String) {
    let value = client
        .execute("return [window.__shown || [], document.title];", vec![])
        .await
        .unwrap();
    let shown = value[0]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| t.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    (shown, value[1].as_str().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hidden_console_notifies_of_new_chats_and_messages_until_switched_off() {
    let deployment = tests::deployment::Deployment::start();
    let mut chrome = ChromeDriver::start().await;
    let allowed = serde_json::json!({ "profile.default_content_setting_values.notifications": 1 });
    let operator = chrome.session_with(allowed).await;
    console_login(&operator, &deployment.console_url()).await;
    let title = operator.title().await.unwrap();
    // Asked for with the button, never on load.
    let button = by_test_id(&operator, "notifications-enable").await;
    assert_eq!(
        button.attr("aria-pressed").await.unwrap().as_deref(),
        Some("false")
    );
    button.click().await.unwrap();
    eventually("notifications on", WAIT, || async {
        let pressed = by_test_id(&operator, "notifications-enable")
            .await
            .attr("aria-pressed")
            .await
            .ok()??;
        (pressed == "true").then_some(())
    })
    .await;
    console_hidden(&operator, true).await;

    // A new waiting chat, then a message in the operator's own chat: each notifies and counts.
    let visitor = chrome.session().await;
    open_widget(&visitor, &format!("{}/", deployment.page_origin())).await;
    widget_write(&visitor, "Anyone there?").await;
    eventually("the new chat notified", WAIT, || async {
        let (shown, now) = shown_and_title(&operator).await;
        (shown == ["A new chat is waiting"] && now == format!("(1) {title}")).then_some(())
    })
    .await;
    console_accept_first(&operator).await;
    widget_write(&visitor, "My order 1234").await;
    eventually("the message notified", WAIT, || async {
        let (shown, now) = shown_and_title(&operator).await;
        (shown.len() == 2 && shown[1] == "New message" && now == format!("(2) {title}"))
            .then_some(())
    })
    .await;
    // Back on the console: the count goes.
    console_hidden(&operator, false).await;
    eventually("the title restored", WAIT, || async {
        (shown_and_title(&operator).await.1 == title).then_some(())
    })
    .await;

    // Switched off: still counted in the title, no notification.
    by_test_id(&operator, "notifications-enable")
        .await
        .click()
        .await
        .unwrap();
    console_hidden(&operator, true).await;
    widget_write(&visitor, "Hello again").await;
    eventually("the message counted", WAIT, || async {
        (shown_and_title(&operator).await.1 == format!("(1) {title}")).then_some(())
    })
    .await;
    assert_eq!(
        shown_and_title(&operator).await.0.len(),
        2,
        "no new notification"
    );
    for client in [visitor, operator] {
        client.close().await.unwrap();
    }
}

/// Searches the console's history for `words`; returns the conversations listed once `wanted`
/// is among them.
async fn history_finds(client: &Client, words: &str, wanted: &str) -> Vec<String> {
    set_console_value(client, "[data-testid=\"history-search\"]", words).await;
    eventually(&format!("the history to find {words:?}"), WAIT, || async {
        let script = r#"
            return Array.from(document.querySelectorAll('[data-testid="history-item"]'))
                .map(e => e.dataset.conversation);
        "#;
        let value = client.execute(script, vec![]).await.ok()?;
        let found: Vec<String> = value
            .as_array()?
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        found.iter().any(|c| c == wanted).then_some(found)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_chat_is_found_by_a_word_on_both_deployments_with_its_notes() {
    let mut chrome = ChromeDriver::start().await;
    let (demo, operator, visitor, pane) = chatting(&mut chrome, "The grinder rattles loudly").await;
    let DemoPair {
        mut primary,
        redundant,
        ..
    } = demo;
    write_note(&operator, &pane, "Warranty until March").await;
    notes_shown(&operator, &pane, &["Warranty until March"]).await;
    console_reply(&operator, &pane, "Sorry to hear that").await;
    click_css(
        &operator,
        &format!("{pane} [data-testid=\"close-conversation\"]"),
    )
    .await;
    let conversation = pane
        .split("data-conversation=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    in_sync(&primary, &redundant).await;

    // Found by a word at the primary, with the site filter; opened read only, note included.
    by_test_id(&operator, "nav-history")
        .await
        .click()
        .await
        .unwrap();
    set_console_value(&operator, "[data-testid=\"history-filter-site\"]", SITE_ID).await;
    let found = history_finds(&operator, "rattles", &conversation).await;
    assert_eq!(found, std::slice::from_ref(&conversation));
    let item = format!("[data-testid=\"history-item\"][data-conversation=\"{conversation}\"]");
    click_css(&operator, &item).await;
    let transcript = by_test_id(&operator, "transcript-view")
        .await
        .text()
        .await
        .unwrap();
    for text in [
        "The grinder rattles loudly",
        "Warranty until March",
        "Sorry to hear that",
    ] {
        assert!(transcript.contains(text), "{transcript}");
    }
    // Words that are full-text syntax are only words: no error, nothing found.
    set_console_value(
        &operator,
        "[data-testid=\"history-search\"]",
        "\"NEAR(grinder* OR",
    )
    .await;
    eventually("the syntax to be searched as words", WAIT, || async {
        operator
            .find(fantoccini::Locator::Css("[data-testid=\"history-item\"]"))
            .await
            .is_err()
            .then_some(())
    })
    .await;
    assert!(operator
        .find(fantoccini::Locator::Css("[data-testid=\"history-error\"]"))
        .await
        .is_err());

    // With the primary gone, the redundant deployment answers the same search.
    primary.kill9();
    let found = history_finds(&operator, "grinder", &conversation).await;
    assert_eq!(found, [conversation]);
    primary.start();
    for client in [visitor, operator] {
        client.close().await.unwrap();
    }
}

/// The failover panel's deployments: (id, data-health, data-lag-ms, data-active).
async fn panel_rows(client: &Client) -> Vec<(String, String, String, String)> {
    let script = r#"
        return Array.from(document.querySelectorAll('[data-testid="failover-deployment"]'))
            .map(e => [e.dataset.id, e.dataset.health, e.dataset.lagMs || '', e.dataset.active]);
    "#;
    let value = client.execute(script, vec![]).await.unwrap();
    value
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    let text = |i: usize| r[i].as_str().unwrap_or_default().to_owned();
                    (text(0), text(1), text(2), text(3))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Opens the admin area's failover tab (from the inbox).
async fn open_failover_panel(client: &Client) {
    by_test_id(client, "nav-admin").await.click().await.unwrap();
    by_test_id(client, "admin-failover")
        .await
        .click()
        .await
        .unwrap();
    by_test_id(client, "failover-panel").await;
}

/// Waits until the panel names `active` as the active deployment, both up, each with its lag.
async fn panel_shows_active(client: &Client, active: &str) {
    eventually(
        &format!("the panel to show {active} active"),
        WAIT,
        || async {
            let rows = panel_rows(client).await;
            let ok = rows.len() == 2
                && rows
                    .iter()
                    .all(|r| r.1 == "up" && r.2.parse::<u64>().is_ok())
                && rows.iter().any(|r| r.0 == active && r.3 == "true");
            ok.then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admins_planned_failover_from_the_panel_moves_the_widget_and_release_brings_it_back() {
    let mut chrome = ChromeDriver::start().await;
    let (demo, operator, visitor, pane) =
        chatting(&mut chrome, "Is the shop open on Sunday?").await;
    let DemoPair {
        primary, redundant, ..
    } = demo;
    assert_eq!(widget_deployment(&visitor).await, primary.url());
    open_failover_panel(&operator).await;
    panel_shows_active(&operator, "primary").await;
    // No secret of the moderator's ever reaches the page.
    let html = operator.source().await.unwrap();
    assert!(!html.contains(tests::moderator::ADMIN_SECRET));

    // A planned failover to the redundant deployment: the widget moves, and the chat goes on.
    click_css(
        &operator,
        "[data-testid=\"failover-to\"][data-id=\"redundant\"]",
    )
    .await;
    eventually(
        "the widget to move to the redundant deployment",
        WAIT,
        || async { (widget_deployment(&visitor).await == redundant.url()).then_some(()) },
    )
    .await;
    panel_shows_active(&operator, "redundant").await;
    widget_write(&visitor, "And on holidays?").await;
    by_test_id(&operator, "nav-admin")
        .await
        .click()
        .await
        .unwrap();
    console_reply(&operator, &pane, "Closed on holidays").await;
    let joined = "Ada Admin joined the chat";
    let shown = [
        "Is the shop open on Sunday?",
        joined,
        "And on holidays?",
        "Closed on holidays",
    ];
    widget_shows(&visitor, &shown).await;

    // Release: the primary holds everything, so the moderator fails back and the widget follows.
    open_failover_panel(&operator).await;
    click_css(&operator, "[data-testid=\"failover-release\"]").await;
    eventually("the widget to return to the primary", WAIT, || async {
        (widget_deployment(&visitor).await == primary.url()).then_some(())
    })
    .await;
    widget_write(&visitor, "Thanks!").await;
    let mut all = shown.to_vec();
    all.push("Thanks!");
    let lines = widget_shows(&visitor, &all).await;
    assert!(operator
        .find(fantoccini::Locator::Css("[data-testid=\"failover-error\"]"))
        .await
        .is_err());
    stored_once_on_both(&primary, &redundant, lines.into_iter().map(|l| l.id)).await;
    for client in [visitor, operator] {
        client.close().await.unwrap();
    }
}

/// The text of the context panel's `testid` in `pane`, once it is not `wanted`-less.
async fn context_shows(client: &Client, pane: &str, testid: &str, wanted: &str) -> String {
    let css = format!("{pane} [data-testid=\"{testid}\"]");
    eventually(&format!("{testid} to show {wanted:?}"), WAIT, || async {
        let text = client
            .find(fantoccini::Locator::Css(&css))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.contains(wanted).then_some(text)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_visitors_pages_appear_in_the_context_panel_even_across_a_failover() {
    let mut chrome = ChromeDriver::start().await;
    let (demo, operator, visitor, pane) =
        chatting(&mut chrome, "Which grinder do you recommend?").await;
    let DemoPair {
        mut primary,
        redundant,
        page_url,
        ..
    } = demo;
    let first = page_url.clone();
    context_shows(&operator, &pane, "context-page", &first).await;
    let browser = context_shows(&operator, &pane, "context-browser", "Chrome").await;
    assert!(browser.contains("on Linux"), "{browser}");
    let time = context_shows(&operator, &pane, "context-local-time", ":").await;
    assert!(!time.is_empty());
    context_shows(&operator, &pane, "context-returning", "New").await;

    // The visitor opens another page: the widget comes back by itself and the panel follows,
    // the first page now among those before. The query string never reaches operators.
    let pricing = format!("{first}pricing");
    visitor
        .goto(&format!("{pricing}?coupon=SECRET"))
        .await
        .unwrap();
    context_shows(&operator, &pane, "context-page", &pricing).await;
    context_shows(&operator, &pane, "context-page-history", &first).await;
    let panel = by_test_id(&operator, "visitor-context")
        .await
        .text()
        .await
        .unwrap();
    assert!(!panel.contains("SECRET"), "{panel}");

    // With the primary dead, the next page is recorded by the redundant deployment and shown.
    in_sync(&primary, &redundant).await;
    primary.kill9();
    let contact = format!("{first}contact");
    visitor.goto(&contact).await.unwrap();
    context_shows(&operator, &pane, "context-page", &contact).await;
    primary.start();
    in_sync(&primary, &redundant).await;
    for client in [visitor, operator] {
        client.close().await.unwrap();
    }
}
