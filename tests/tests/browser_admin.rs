//! The admin app as a site owner uses it, in headless Chromium against a real pair and moderator:
//! the owner creates a site for their shop's origin, pastes the snippet the console shows into
//! the shop's page, adds an agent, and a visitor there chats with that agent; the owner changes
//! the accent colour and the title and a fresh page load shows them; an agent calling an admin
//! route gets 403; disabling the agent signs their open console out. Then the primary dies: the
//! owner's console, loaded from it, goes on with the redundant deployment with no error shown,
//! and all of it works with a console loaded from the redundant deployment; a removed site's
//! widget says the chat is unavailable.

use fantoccini::{Client, Locator};
use tests::browser::{
    by_test_id, console_accept_first, console_login, console_reply, lines, open_widget,
    widget_element, widget_online, widget_shows, widget_write, ChromeDriver, WAIT,
};
use tests::eventually;
use tests::moderator::ModeratorProcess;
use tests::page::serve_page_slot;
use tests::pair::{in_sync, start_pair};

const AGENT_EMAIL: &str = "sam@example.com";
const AGENT_PASSWORD: &str = "sam's own password";

/// The first element matching `css`, waiting for it.
async fn find(client: &Client, css: &str) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no element {css}: {e}"))
}

async fn click(client: &Client, testid: &str) {
    by_test_id(client, testid).await.click().await.unwrap();
}

/// Replaces the text of a field.
async fn type_into(client: &Client, testid: &str, text: &str) {
    let field = by_test_id(client, testid).await;
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Sets a field a keyboard cannot fill in (a colour picker) as its own input event would.
async fn set_value(client: &Client, testid: &str, value: &str) {
    by_test_id(client, testid).await;
    let script = r#"
        const field = document.querySelector('[data-testid="' + arguments[0] + '"]');
        field.value = arguments[1];
        field.dispatchEvent(new Event('input', { bubbles: true }));
        field.dispatchEvent(new Event('change', { bubbles: true }));
    "#;
    client
        .execute(script, vec![testid.into(), value.into()])
        .await
        .unwrap();
}

/// Logs in to the console at `url` as someone other than the test admin.
async fn log_in_as(client: &Client, url: &str, email: &str, password: &str) {
    client.goto(url).await.unwrap();
    type_into(client, "login-email", email).await;
    type_into(client, "login-password", password).await;
    click(client, "login-submit").await;
    by_test_id(client, "console-connection").await;
}

/// Waits for `element` (a CSS selector) to carry `attribute` = `value`.
async fn attribute_becomes(client: &Client, css: &str, attribute: &str, value: &str) {
    eventually(&format!("{css} with {attribute}={value}"), WAIT, || async {
        let element = client.find(Locator::Css(css)).await.ok()?;
        (element.attr(attribute).await.ok()?.as_deref() == Some(value)).then_some(())
    })
    .await;
}

/// The launcher's background colour and the open panel's title, after a fresh load of `page`.
/// Each load has an address of its own (the page server ignores the query), so the browser
/// navigates for real instead of treating it as the page already open.
async fn fresh_look(visitor: &Client, page: &str) -> (String, String) {
    static LOADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = LOADS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    open_widget(visitor, &format!("{page}?load={n}")).await;
    let script = r#"
        const root = document.getElementById('livechat-root').shadowRoot;
        const launcher = root.querySelector('[data-testid="chat-launcher"]');
        const title = root.querySelector('[data-testid="chat-panel"] .title');
        return [getComputedStyle(launcher).backgroundColor, title ? title.textContent : ''];
    "#;
    let value = visitor.execute(script, vec![]).await.unwrap();
    (
        value[0].as_str().unwrap_or_default().to_owned(),
        value[1].as_str().unwrap_or_default().to_owned(),
    )
}

/// Shows the admin area's tab `tab` (`admin-sites`, `admin-operators`).
async fn admin_tab(owner: &Client, tab: &str) {
    by_test_id(owner, "nav-admin").await;
    if owner
        .find(Locator::Css("[data-testid=\"admin-sites\"]"))
        .await
        .is_err()
    {
        click(owner, "nav-admin").await;
    }
    click(owner, tab).await;
}

/// Changes the shop's title (and colour, when given) and saves.
async fn change_look(owner: &Client, color: Option<&str>, title: &str) {
    admin_tab(owner, "admin-sites").await;
    find(owner, "[data-testid=\"site-item\"][data-site=\"shop\"]")
        .await
        .click()
        .await
        .unwrap();
    if let Some(color) = color {
        set_value(owner, "appearance-color", color).await;
    }
    type_into(owner, "appearance-title", title).await;
    click(owner, "appearance-save").await;
    eventually("the look saved", WAIT, || async {
        let form = by_test_id(owner, "appearance-save").await;
        let text = owner
            .execute(
                "return arguments[0].closest('form').textContent",
                vec![serde_json::to_value(&form).unwrap()],
            )
            .await
            .ok()?;
        text.as_str()?.contains("Saved").then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_sets_up_a_site_and_a_team_in_the_browser_on_either_deployment() {
    let (mut primary, redundant) = start_pair(0);
    let moderator = ModeratorProcess::start(&primary, &redundant);
    moderator.wait_until_pushed().await;
    let (page_url, page) = serve_page_slot().await;
    let origin = page_url.trim_end_matches('/').to_owned();
    let mut chrome = ChromeDriver::start().await;

    // The owner creates the shop's site for the shop's origin and copies its snippet.
    let owner = chrome.session().await;
    console_login(&owner, &format!("{}/console/", primary.url())).await;
    admin_tab(&owner, "admin-sites").await;
    click(&owner, "site-new").await;
    type_into(&owner, "site-id-input", "shop").await;
    type_into(&owner, "site-name-input", "The Shop").await;
    type_into(&owner, "site-origins-input", "not an origin").await;
    click(&owner, "site-save").await;
    let error = by_test_id(&owner, "site-error").await.text().await.unwrap();
    assert!(error.contains("origins"), "{error}");
    assert!(owner
        .find(Locator::Css(
            "[data-testid=\"site-item\"][data-site=\"shop\"]"
        ))
        .await
        .is_err());
    type_into(&owner, "site-origins-input", &origin).await;
    click(&owner, "site-save").await;
    find(&owner, "[data-testid=\"site-item\"][data-site=\"shop\"]").await;
    let snippet = eventually("the snippet", WAIT, || async {
        let script =
            "return document.querySelector('[data-testid=\"snippet-code\"]')?.textContent ?? ''";
        let text = owner.execute(script, vec![]).await.ok()?;
        let text = text.as_str()?.to_owned();
        text.contains("window.LiveChat").then_some(text)
    })
    .await;
    assert!(snippet.contains("\"siteId\": \"shop\""), "{snippet}");
    assert!(snippet.contains(&primary.url()) && snippet.contains(&redundant.url()));
    click(&owner, "snippet-copy").await;
    *page.lock().unwrap() = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>The Shop</title>\n{snippet}</head>\
         <body><h1>The Shop</h1></body></html>"
    );

    // The owner adds an agent, who logs in.
    admin_tab(&owner, "admin-operators").await;
    click(&owner, "operator-new").await;
    type_into(&owner, "operator-email-input", AGENT_EMAIL).await;
    type_into(&owner, "operator-name-input", "Sam Agent").await;
    type_into(&owner, "operator-password-input", AGENT_PASSWORD).await;
    click(&owner, "operator-save").await;
    let agent_item = format!("[data-testid=\"operator-item\"][data-email=\"{AGENT_EMAIL}\"]");
    attribute_becomes(&owner, &agent_item, "data-state", "active").await;
    attribute_becomes(&owner, &agent_item, "data-role", "agent").await;
    let agent = chrome.session().await;
    log_in_as(
        &agent,
        &format!("{}/console/", primary.url()),
        AGENT_EMAIL,
        AGENT_PASSWORD,
    )
    .await;
    attribute_becomes(
        &agent,
        "[data-testid=\"console-connection\"]",
        "data-state",
        "online",
    )
    .await;
    assert!(
        agent
            .find(Locator::Css("[data-testid=\"nav-admin\"]"))
            .await
            .is_err(),
        "an agent sees no admin area"
    );
    // The server refuses the agent an admin route whatever the console shows.
    let status = agent
        .execute_async(
            r#"const done = arguments[0];
               fetch('/v1/admin/sites', { headers: { Authorization: 'Bearer ' + localStorage.getItem('livechat.console.token') } })
                 .then(r => done(r.status), () => done(0));"#,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(status, 403);

    // A visitor on the shop's page chats with the agent.
    let visitor = chrome.session().await;
    open_widget(&visitor, &page_url).await;
    widget_online(&visitor).await;
    widget_write(&visitor, "hello shop").await;
    let pane = console_accept_first(&agent).await;
    console_reply(&agent, &pane, "hi from Sam").await;
    widget_shows(
        &visitor,
        &["hello shop", "Sam Agent joined the chat", "hi from Sam"],
    )
    .await;

    // A new look, seen on the next page load.
    change_look(&owner, Some("#aa3300"), "Shop help").await;
    let look = fresh_look(&visitor, &page_url).await;
    assert_eq!(look, ("rgb(170, 51, 0)".to_owned(), "Shop help".to_owned()));

    // A setting written in the snippet wins over the stored one.
    let stored_page = page.lock().unwrap().clone();
    *page.lock().unwrap() = stored_page.replace(
        "</head>",
        "<script>window.LiveChat.title = \"Written in the snippet\";</script></head>",
    );
    let look = fresh_look(&visitor, &page_url).await;
    assert_eq!(
        look,
        (
            "rgb(170, 51, 0)".to_owned(),
            "Written in the snippet".to_owned()
        )
    );
    *page.lock().unwrap() = stored_page;

    // The forms: the pre-chat form on, the launcher hidden when nobody is online.
    // And files narrowed to PNG images of at most 1 MB (the widget is told what applies).
    click(&owner, "prechat-enabled").await;
    set_value(&owner, "offline-mode", "hide_launcher").await;
    click(&owner, "files-limit").await;
    set_value(&owner, "files-max-mb", "1").await;
    set_value(&owner, "files-types", "image/png\nimage/x-not-allowed-here").await;
    click(&owner, "forms-save").await;
    let config_url = format!("{}/v1/sites/shop/widget-config", primary.url());
    eventually("the forms stored", WAIT, || async {
        let config = tests::moderator::get_json(&config_url).await;
        (config["forms"]["prechat"]["enabled"] == true
            && config["forms"]["offline"] == "hide_launcher"
            && config["files"]
                == serde_json::json!({"max_bytes": 1024 * 1024, "types": ["image/png"]}))
        .then_some(())
    })
    .await;

    // Disabling the agent signs their open console out.
    admin_tab(&owner, "admin-operators").await;
    find(
        &owner,
        &format!("{agent_item} [data-testid=\"operator-disable\"]"),
    )
    .await
    .click()
    .await
    .unwrap();
    attribute_becomes(&owner, &agent_item, "data-state", "disabled").await;
    let signed_out = by_test_id(&agent, "login-error")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(signed_out, "Signed out: an admin disabled your account.");

    // The primary dies. The owner's console, loaded from it, carries on with the redundant
    // deployment: the agent is enabled again there, with no error shown.
    in_sync(&primary, &redundant).await;
    primary.kill9();
    find(
        &owner,
        &format!("{agent_item} [data-testid=\"operator-enable\"]"),
    )
    .await
    .click()
    .await
    .unwrap();
    attribute_becomes(&owner, &agent_item, "data-state", "active").await;
    assert!(
        owner
            .find(Locator::Css("[data-testid=\"team-error\"]"))
            .await
            .is_err(),
        "no error shown"
    );
    // A console loaded from the redundant deployment does everything too.
    let owner = chrome.session().await;
    console_login(&owner, &format!("{}/console/", redundant.url())).await;
    admin_tab(&owner, "admin-operators").await;
    attribute_becomes(&owner, &agent_item, "data-state", "active").await;
    change_look(&owner, None, "Shop help, from B").await;
    let look = fresh_look(&visitor, &page_url).await;
    assert_eq!(
        look,
        ("rgb(170, 51, 0)".to_owned(), "Shop help, from B".to_owned())
    );

    // The agent, enabled again, logs in there and the chat goes on.
    log_in_as(
        &agent,
        &format!("{}/console/", redundant.url()),
        AGENT_EMAIL,
        AGENT_PASSWORD,
    )
    .await;
    let item = by_test_id(&agent, "inbox-item").await;
    let conversation = item.attr("data-conversation").await.unwrap().unwrap();
    item.click().await.unwrap();
    let pane = format!("[data-testid=\"conversation-pane\"][data-conversation=\"{conversation}\"]");
    widget_online(&visitor).await;
    widget_write(&visitor, "still there?").await;
    eventually("the visitor's question in the console", WAIT, || async {
        let texts: Vec<String> = lines(&agent, false, &pane)
            .await
            .into_iter()
            .map(|l| l.text)
            .collect();
        texts.iter().any(|t| t == "still there?").then_some(())
    })
    .await;
    console_reply(&agent, &pane, "yes, on the other data centre").await;
    widget_shows(
        &visitor,
        &[
            "hello shop",
            "Sam Agent joined the chat",
            "hi from Sam",
            "still there?",
            "yes, on the other data centre",
        ],
    )
    .await;
    assert!(
        !tests::browser::widget_has(&visitor, "chat-notice").await,
        "no error shown"
    );

    // The owner removes the site: the shop's widget says the chat is unavailable.
    admin_tab(&owner, "admin-sites").await;
    find(&owner, "[data-testid=\"site-item\"][data-site=\"shop\"]")
        .await
        .click()
        .await
        .unwrap();
    click(&owner, "site-remove").await;
    eventually("the site gone from the list", WAIT, || async {
        let css = "[data-testid=\"site-item\"][data-site=\"shop\"]";
        owner.find(Locator::Css(css)).await.is_err().then_some(())
    })
    .await;
    open_widget(&visitor, &page_url).await;
    eventually(
        "the widget to say the chat is unavailable",
        WAIT,
        || async { (tests::browser::widget_state(&visitor).await == "unavailable").then_some(()) },
    )
    .await;
    let notice = widget_element(&visitor, "chat-notice")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(notice, "This chat is not available on this page.");
}
