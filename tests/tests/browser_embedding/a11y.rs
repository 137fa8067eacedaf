//! Accessibility (WCAG 2.1 AA), in Chromium against a real pair: axe-core (from npm, installed
//! by `cargo xtask test`) finds no serious or critical violation in the open widget (chat,
//! offline, pre-chat and rating forms, in light and dark colours and with a light accent that
//! needs dark text) nor in the console's main views; the widget works from the keyboard alone
//! (Enter opens and moves the focus in, Esc closes and gives it back to the launcher); on a
//! small screen Tab stays inside the full-screen panel and the page behind does not scroll.

use daemon::http::Method;
use fantoccini::Client;
use tests::browser::{
    console_login, widget_element, widget_has, widget_online, widget_shows, ChromeDriver, WAIT,
};
use tests::deployment::SITE_ID;
use tests::eventually;
use tests::page::demo_pair;

/// axe-core's script: where `cargo xtask test` installed it, or `LIVECHAT_AXE_SCRIPT`.
fn axe_script() -> String {
    let path = std::env::var_os("LIVECHAT_AXE_SCRIPT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tests::root().join("target/tools/axe/node_modules/axe-core/axe.min.js"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core is not at {} ({e}); `cargo xtask test` installs it",
            path.display()
        )
    })
}

/// The serious and critical violations axe finds in `scope` (a CSS selector; the widget's host
/// or the whole document), one line each with the elements concerned.
async fn violations(client: &Client, axe: &str, scope: &str) -> Vec<String> {
    let loaded = client
        .execute("return typeof axe !== 'undefined'", vec![])
        .await
        .unwrap();
    if loaded != true {
        client
            .execute(&format!("{axe}\nreturn true;"), vec![])
            .await
            .expect("axe-core loads");
    }
    let script = r#"
        const done = arguments[arguments.length - 1];
        axe.run({ include: [[arguments[0]]] }, { resultTypes: ['violations'] }).then((result) => {
            done(result.violations
                .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                .map((v) => v.id + ' (' + v.impact + '): ' + v.help + ' at ' +
                    v.nodes.map((n) => JSON.stringify(n.target) + ' ' + n.failureSummary).join('; ')));
        }, (error) => done(['axe failed: ' + error]));
    "#;
    let found = client
        .execute_async(script, vec![scope.into()])
        .await
        .expect("axe runs");
    found
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

async fn assert_accessible(client: &Client, axe: &str, scope: &str, what: &str) {
    let found = violations(client, axe, scope).await;
    assert!(found.is_empty(), "{what}:\n{}", found.join("\n"));
}

/// What has the focus inside the widget (`data-testid`, or the tag name without one).
async fn widget_focus(client: &Client) -> String {
    let script = r#"
        const active = document.getElementById('livechat-root').shadowRoot.activeElement;
        return active ? (active.getAttribute('data-testid') || active.tagName.toLowerCase()) : '';
    "#;
    client
        .execute(script, vec![])
        .await
        .unwrap()
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Presses `key` (a WebDriver key code, or text) on whatever has the focus.
async fn press(client: &Client, key: &str) {
    client
        .active_element()
        .await
        .unwrap()
        .send_keys(key)
        .await
        .unwrap();
}

const ENTER: &str = "\u{E007}";
const ESCAPE: &str = "\u{E00C}";
const TAB: &str = "\u{E004}";
const SPACE: &str = " ";

async fn set_look(base: &str, look: serde_json::Value) {
    let path = format!("/v1/admin/sites/{SITE_ID}/appearance");
    let (status, body) = tests::deployment::admin_call(base, Method::PUT, &path, look).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widget_and_the_console_pass_axe_and_work_from_the_keyboard() {
    let pair = demo_pair().await;
    let axe = axe_script();
    let mut chrome = ChromeDriver::start().await;
    let visitor = chrome.session().await;
    visitor.goto(&pair.page_url).await.unwrap();

    // Nobody online: the offline form.
    widget_element(&visitor, "chat-launcher")
        .await
        .click()
        .await
        .unwrap();
    widget_element(&visitor, "offline-form").await;
    assert_accessible(&visitor, &axe, "#livechat-root", "the offline form").await;

    // Someone online: the chat, from the keyboard alone. Esc closes and the focus is back on
    // the launcher; Enter opens and the focus is in the composer.
    let deployments = [pair.primary.url(), pair.redundant.url()];
    let _standby =
        tests::visitor::Visitor::standby(deployments, Some(pair.moderator.url.clone())).await;
    widget_element(&visitor, "chat-input")
        .await
        .click()
        .await
        .unwrap();
    press(&visitor, ESCAPE).await;
    eventually("Esc to close the panel", WAIT, || async {
        (!widget_has(&visitor, "chat-panel").await).then_some(())
    })
    .await;
    assert_eq!(widget_focus(&visitor).await, "chat-launcher");
    press(&visitor, ENTER).await;
    widget_element(&visitor, "chat-panel").await;
    eventually("the focus to move into the panel", WAIT, || async {
        (widget_focus(&visitor).await == "chat-input").then_some(())
    })
    .await;
    widget_online(&visitor).await;
    press(&visitor, "Can I pay by invoice?").await;
    press(&visitor, ENTER).await;
    widget_shows(&visitor, &["Can I pay by invoice?"]).await;
    assert_accessible(&visitor, &axe, "#livechat-root", "the chat").await;
    // Esc, then Space on the launcher, opens it again.
    press(&visitor, ESCAPE).await;
    eventually("Esc to close the panel", WAIT, || async {
        (widget_focus(&visitor).await == "chat-launcher").then_some(())
    })
    .await;
    press(&visitor, SPACE).await;
    widget_element(&visitor, "chat-panel").await;

    // The visitor ends the chat: the rating form.
    widget_element(&visitor, "chat-end")
        .await
        .click()
        .await
        .unwrap();
    widget_element(&visitor, "rating-form").await;
    assert_accessible(&visitor, &axe, "#livechat-root", "the rating form").await;

    // Dark colours, and a yellow accent that needs dark text on it.
    set_look(
        &pair.primary.url(),
        serde_json::json!({ "theme": "dark", "accentColor": "#ffd23f" }),
    )
    .await;
    // The site's look is cached for the loader for a moment; the next page load reads it.
    eventually("the dark look to reach the widget", WAIT, || async {
        visitor.refresh().await.ok()?;
        widget_element(&visitor, "chat-launcher").await.click().await.ok()?;
        widget_element(&visitor, "chat-panel").await;
        let dark = visitor
            .execute(
                "return document.getElementById('livechat-root').shadowRoot.querySelector('.livechat').className",
                vec![],
            )
            .await
            .ok()?;
        dark.as_str()?.contains("dark").then_some(())
    })
    .await;
    widget_online(&visitor).await;
    assert_accessible(&visitor, &axe, "#livechat-root", "the dark widget").await;

    // A small screen: the panel covers the page, which does not scroll; Tab stays inside.
    visitor.set_window_size(390, 800).await.unwrap();
    let overflow = "return getComputedStyle(document.documentElement).overflow";
    eventually("the page behind to stop scrolling", WAIT, || async {
        (visitor.execute(overflow, vec![]).await.ok()? == "hidden").then_some(())
    })
    .await;
    for _ in 0..12 {
        press(&visitor, TAB).await;
        let focus = visitor
            .execute(
                "return !!document.getElementById('livechat-root').shadowRoot.activeElement?.closest('[data-testid=chat-panel]')",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(focus, true, "Tab left the full-screen panel");
    }
    assert_accessible(&visitor, &axe, "#livechat-root", "the full-screen widget").await;
    visitor.close().await.unwrap();

    // The pre-chat form, for a new visitor.
    let forms = serde_json::json!({
        "prechat": { "enabled": true, "fields": [
            { "key": "name", "label": "Name", "kind": "name", "required": true },
            { "key": "email", "label": "E-mail", "kind": "email", "required": false }
        ]},
        "offline": "form"
    });
    let path = format!("/v1/admin/sites/{SITE_ID}/forms");
    let (status, body) =
        tests::deployment::admin_call(&pair.primary.url(), Method::PUT, &path, forms).await;
    assert_eq!(status, 200, "{body}");
    let newcomer = chrome.session().await;
    eventually("the pre-chat form", WAIT, || async {
        newcomer.goto(&pair.page_url).await.ok()?;
        widget_element(&newcomer, "chat-launcher")
            .await
            .click()
            .await
            .ok()?;
        widget_element(&newcomer, "chat-panel").await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        widget_has(&newcomer, "prechat-form").await.then_some(())
    })
    .await;
    assert_accessible(&newcomer, &axe, "#livechat-root", "the pre-chat form").await;
    newcomer.close().await.unwrap();

    // The console: login, the inbox, history and the admin area.
    let console = chrome.session().await;
    let console_url = format!("{}/console/", pair.primary.url());
    console.goto(&console_url).await.unwrap();
    tests::browser::by_test_id(&console, "login-email").await;
    assert_accessible(&console, &axe, "body", "the console's login").await;
    console_login(&console, &console_url).await;
    assert_accessible(&console, &axe, "body", "the inbox").await;
    for (nav, what) in [("nav-history", "history"), ("nav-admin", "the admin area")] {
        tests::browser::by_test_id(&console, nav)
            .await
            .click()
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert_accessible(&console, &axe, "body", what).await;
    }
    console.close().await.unwrap();
}
