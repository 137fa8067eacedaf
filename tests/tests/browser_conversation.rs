//! The conversation around the messages, in headless Chromium against a real pair and
//! moderator: with nobody online the widget offers the offline form (a wrong address is refused
//! in the widget, nothing is sent), and what the visitor leaves reaches the operator's inbox
//! marked offline with their name and address; once the operator is online a new visitor gets
//! the site's pre-chat form, and its answers reach the operator with the first message; the
//! operator's presence select moves visitors between "online" and the away text. Then the primary
//! is killed in the middle of an offline form being sent: it arrives once, on both deployments,
//! with no error shown, and its e-mail reaches the site (a real SMTP server, `aiosmtpd`). And:
//! read receipts both ways, times, a rating given while the primary dies, the transcript
//! downloaded and e-mailed.

use daemon::http::Method;
use fantoccini::{Client, Locator};
use tests::browser::{
    by_test_id, lines, open_widget, widget_element, widget_has, widget_shows, widget_write,
    ChromeDriver, WAIT,
};
use tests::deployment::SITE_ID;
use tests::eventually;
use tests::moderator::ModeratorProcess;
use tests::page::serve_page;
use tests::pair::{prepare_pair, stored_once_on_both, Member};
use tests::smtp::SmtpServer;

/// A pair that sends its mail to `smtp`, with its moderator.
async fn mailing_pair(smtp: &SmtpServer) -> (Member, Member, ModeratorProcess) {
    let (mut primary, mut redundant) = prepare_pair(0);
    for member in [&mut primary, &mut redundant] {
        member.smtp_url = Some(smtp.url.clone());
        member.start();
    }
    let moderator = ModeratorProcess::start(&primary, &redundant);
    moderator.wait_until_pushed().await;
    (primary, redundant, moderator)
}

/// Types `text` into the widget's field `testid`.
async fn widget_type(client: &Client, testid: &str, text: &str) {
    let field = widget_element(client, testid).await;
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn widget_click(client: &Client, testid: &str) {
    widget_element(client, testid).await.click().await.unwrap();
}

/// Waits until the widget's element `testid` has `attribute` = `value`.
async fn widget_attr_becomes(client: &Client, testid: &str, attribute: &str, value: &str) {
    eventually(
        &format!("{testid} with {attribute}={value}"),
        WAIT,
        || async {
            let element = widget_element(client, testid).await;
            (element.attr(attribute).await.ok()??.as_str() == value).then_some(())
        },
    )
    .await;
}

/// Waits for a console element matching `css` to carry `attribute` = `value`.
async fn console_attr_becomes(client: &Client, css: &str, attribute: &str, value: &str) {
    eventually(&format!("{css} with {attribute}={value}"), WAIT, || async {
        let element = client.find(Locator::Css(css)).await.ok()?;
        (element.attr(attribute).await.ok()??.as_str() == value).then_some(())
    })
    .await;
}

/// The text of the console's first element matching `css`, once it contains `expected`.
async fn console_text_has(client: &Client, css: &str, expected: &str) {
    eventually(&format!("{css} to say {expected:?}"), WAIT, || async {
        let element = client.find(Locator::Css(css)).await.ok()?;
        element.text().await.ok()?.contains(expected).then_some(())
    })
    .await;
}

/// Logs the test admin in to the console at `url` (the same as the other tests' helper, but
/// without waiting for an inbox item).
async fn console_at(client: &Client, url: &str) {
    tests::browser::console_login(client, url).await;
    by_test_id(client, "presence-select").await;
}

/// Turns on the demo site's pre-chat form (name required, e-mail, an order number) through the
/// admin API.
async fn enable_prechat(base: &str) {
    let forms = serde_json::json!({
        "prechat": { "enabled": true, "fields": [
            { "key": "name", "label": "Name", "kind": "name", "required": true },
            { "key": "email", "label": "E-mail", "kind": "email", "required": false },
            { "key": "order", "label": "Order number", "kind": "text", "required": false }
        ]},
        "offline": "form",
        "notify_email": "support@shop.example"
    });
    let path = format!("/v1/admin/sites/{SITE_ID}/forms");
    let (status, body) = tests::deployment::admin_call(base, Method::PUT, &path, forms).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_and_prechat_forms_reach_the_operator_and_survive_a_killed_primary() {
    let smtp = SmtpServer::start();
    let (mut primary, redundant, moderator) = mailing_pair(&smtp).await;
    let deployments = [primary.url(), redundant.url()];
    let page = xtask::render_demo_page(&tests::root(), &deployments, Some(&moderator.url), SITE_ID)
        .unwrap();
    let page_url = serve_page(page).await;
    enable_prechat(&primary.url()).await;
    let mut chrome = ChromeDriver::start().await;

    // Nobody is online: the offline form. A wrong address is refused in the widget.
    let anna = chrome.session().await;
    open_widget(&anna, &page_url).await;
    widget_attr_becomes(&anna, "chat-availability", "data-state", "away").await;
    widget_type(&anna, "offline-name", "Anna").await;
    widget_type(&anna, "offline-email", "anna.example.com").await;
    widget_type(&anna, "offline-message", "Do you deliver on Sundays?").await;
    widget_click(&anna, "offline-submit").await;
    let error = widget_element(&anna, "form-error")
        .await
        .text()
        .await
        .unwrap();
    assert!(error.contains("not an e-mail address"), "{error}");
    assert!(!widget_has(&anna, "offline-sent").await);
    widget_type(&anna, "offline-email", "anna@example.com").await;
    widget_click(&anna, "offline-submit").await;
    widget_element(&anna, "offline-sent").await;
    widget_shows(&anna, &["Do you deliver on Sundays?"]).await;
    // The site's notification address gets it, with Anna's address to reply to.
    let mail = smtp
        .wait_for(
            &[
                "support@shop.example",
                "Offline message from Anna",
                "Do you deliver on Sundays?",
            ],
            WAIT,
        )
        .await;
    assert!(mail.contains("Reply-To: anna@example.com"), "{mail}");

    // The operator logs in: the offline message is in the inbox, marked, with her details.
    let operator = chrome.session().await;
    console_at(&operator, &format!("{}/console/", primary.url())).await;
    console_attr_becomes(
        &operator,
        "[data-testid=presence-select]",
        "data-state",
        "online",
    )
    .await;
    console_attr_becomes(
        &operator,
        "[data-testid=inbox-item]",
        "data-kind",
        "offline",
    )
    .await;
    console_text_has(&operator, "[data-testid=inbox-item]", "Anna").await;
    by_test_id(&operator, "inbox-item")
        .await
        .click()
        .await
        .unwrap();
    console_text_has(
        &operator,
        "[data-testid=conversation-visitor]",
        "anna@example.com",
    )
    .await;
    widget_attr_becomes(&anna, "chat-availability", "data-state", "online").await;

    // A new visitor, with someone online: the pre-chat form first (the name is required).
    let bea = chrome.session().await;
    open_widget(&bea, &page_url).await;
    widget_attr_becomes(&bea, "chat-availability", "data-state", "online").await;
    widget_element(&bea, "prechat-form").await;
    // The form came in the chunk, and its styles with it: laid out as a column, not inline.
    let display = bea
        .execute(
            "return getComputedStyle(document.getElementById('livechat-root').shadowRoot\
               .querySelector('[data-testid=prechat-form]')).display",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(display, "flex");
    widget_click(&bea, "prechat-submit").await;
    let error = widget_element(&bea, "form-error")
        .await
        .text()
        .await
        .unwrap();
    assert!(error.contains("Name"), "{error}");
    widget_type(&bea, "prechat-name", "Bea").await;
    widget_type(&bea, "prechat-email", "bea@example.com").await;
    widget_type(&bea, "prechat-custom", "A-1017").await;
    widget_click(&bea, "prechat-submit").await;
    widget_write(&bea, "Where is my order?").await;
    widget_shows(&bea, &["Where is my order?"]).await;
    eventually("Bea's chat in the inbox", WAIT, || async {
        for item in operator
            .find_all(Locator::Css("[data-testid=inbox-item]"))
            .await
            .ok()?
        {
            let text = item.text().await.ok()?;
            if text.contains("Bea") && item.attr("data-kind").await.ok()?? == "chat" {
                item.click().await.ok()?;
                return Some(());
            }
        }
        None
    })
    .await;
    eventually("Bea's order number beside her chat", WAIT, || async {
        for card in operator
            .find_all(Locator::Css("[data-testid=conversation-visitor]"))
            .await
            .ok()?
        {
            if card.text().await.ok()?.contains("A-1017") {
                return Some(());
            }
        }
        None
    })
    .await;
    // A returning visitor is not asked again.
    bea.refresh().await.unwrap();
    widget_click(&bea, "chat-launcher").await;
    widget_shows(&bea, &["Where is my order?"]).await;
    assert!(!widget_has(&bea, "prechat-form").await);

    // The operator goes away: visitors see the away text.
    let select = by_test_id(&operator, "presence-select").await;
    select.select_by_value("away").await.unwrap();
    console_attr_becomes(
        &operator,
        "[data-testid=presence-select]",
        "data-state",
        "away",
    )
    .await;
    widget_attr_becomes(&bea, "chat-availability", "data-state", "away").await;

    // A third visitor fills in the offline form; the primary dies as it is sent.
    let cleo = chrome.session().await;
    open_widget(&cleo, &page_url).await;
    widget_type(&cleo, "offline-name", "Cleo").await;
    widget_type(&cleo, "offline-email", "cleo@example.com").await;
    widget_type(&cleo, "offline-message", "Sent while a data centre burns").await;
    primary.kill9();
    widget_click(&cleo, "offline-submit").await;
    widget_element(&cleo, "offline-sent").await;
    let sent = widget_shows(&cleo, &["Sent while a data centre burns"]).await;
    assert!(!widget_has(&cleo, "chat-notice").await, "no error shown");
    // The operator's console, from the dead deployment, carries on at the other one and
    // finds Cleo's message there.
    eventually("Cleo's message in the console", WAIT, || async {
        for item in operator
            .find_all(Locator::Css("[data-testid=inbox-item]"))
            .await
            .ok()?
        {
            if item.text().await.ok()?.contains("Cleo") {
                return (item.attr("data-kind").await.ok()?? == "offline").then_some(());
            }
        }
        None
    })
    .await;
    // The deployment that stored it mails it.
    smtp.wait_for(
        &[
            "Offline message from Cleo",
            "Sent while a data centre burns",
        ],
        WAIT,
    )
    .await;
    primary.start();
    stored_once_on_both(&primary, &redundant, sent.iter().map(|l| l.id.clone())).await;
    let anna_lines = lines(&anna, true, "").await;
    assert_eq!(anna_lines.len(), 1, "{anna_lines:?}");
    for client in [anna, bea, cleo, operator] {
        client.close().await.unwrap();
    }
}

/// Waits until the message `text` has `data-status` = `status`, in the widget or in the
/// console's `pane`.
async fn status_becomes(client: &Client, pane: Option<&str>, text: &str, status: &str) {
    let place = if pane.is_some() { "console" } else { "widget" };
    eventually(
        &format!("{text:?} to be {status} in the {place}"),
        WAIT,
        || async {
            let shown = lines(client, pane.is_none(), pane.unwrap_or("")).await;
            shown
                .iter()
                .any(|l| l.text == text && l.status == status)
                .then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_times_and_a_rating_given_while_the_primary_dies() {
    let smtp = SmtpServer::start();
    let (mut primary, redundant, moderator) = mailing_pair(&smtp).await;
    let deployments = [primary.url(), redundant.url()];
    let page = xtask::render_demo_page(&tests::root(), &deployments, Some(&moderator.url), SITE_ID)
        .unwrap();
    let page_url = serve_page(page).await;
    let mut chrome = ChromeDriver::start().await;
    let operator = chrome.session().await;
    console_at(&operator, &format!("{}/console/", primary.url())).await;
    let visitor = chrome.session().await;
    open_widget(&visitor, &page_url).await;
    widget_attr_becomes(&visitor, "chat-availability", "data-state", "online").await;

    // The visitor's message: on both deployments (delivered), then read once the operator
    // opens the conversation.
    widget_write(&visitor, "Hello, anyone?").await;
    status_becomes(&visitor, None, "Hello, anyone?", "delivered").await;
    let pane = tests::browser::console_accept_first(&operator).await;
    status_becomes(&visitor, None, "Hello, anyone?", "read").await;
    // Every message shows its time, in the visitor's locale.
    let time = widget_element(&visitor, "chat-time").await;
    let shown = time.text().await.unwrap();
    assert!(
        shown.contains(':') || shown.chars().any(|c| c.is_ascii_digit()),
        "{shown:?}"
    );
    assert!(time.attr("datetime").await.unwrap().unwrap().contains('T'));

    // The operator's reply is read by the visitor with the panel open.
    tests::browser::console_reply(&operator, &pane, "Yes, here!").await;
    widget_shows(
        &visitor,
        &["Hello, anyone?", "Ada Admin joined the chat", "Yes, here!"],
    )
    .await;
    status_becomes(&operator, Some(&pane), "Yes, here!", "read").await;

    // The operator ends the chat; the visitor is asked for a rating. The primary dies just
    // as it is sent: the rating arrives at the other deployment, once, with no error shown.
    by_test_id(&operator, "close-conversation")
        .await
        .click()
        .await
        .unwrap();
    widget_element(&visitor, "rating-form").await;
    widget_click(&visitor, "rating-submit").await;
    assert!(
        widget_has(&visitor, "rating-form").await,
        "a rating must be chosen first"
    );
    let good = "[data-testid=\"rating-option\"][data-value=\"1\"]";
    let host = visitor.find(Locator::Id("livechat-root")).await.unwrap();
    host.shadow_root()
        .await
        .unwrap()
        .find(Locator::Css(good))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    widget_type(&visitor, "rating-comment", "Quick and friendly").await;
    primary.kill9();
    widget_click(&visitor, "rating-submit").await;
    eventually("the rating in the console", WAIT, || async {
        let rating = operator
            .find(Locator::Css(&format!(
                "{pane} [data-testid=\"conversation-rating\"]"
            )))
            .await
            .ok()?;
        let text = rating.text().await.ok()?;
        (rating.attr("data-value").await.ok()?? == "1" && text.contains("Quick and friendly"))
            .then_some(())
    })
    .await;
    assert!(!widget_has(&visitor, "chat-notice").await, "no error shown");
    assert!(
        !widget_has(&visitor, "rating-form").await,
        "the form is done"
    );

    // A new message after the end starts a new conversation; the visitor can end it too.
    widget_write(&visitor, "One more thing").await;
    widget_shows(&visitor, &["One more thing"]).await;
    widget_click(&visitor, "chat-end").await;
    widget_element(&visitor, "rating-form").await;
    primary.start();
    let all = lines(&visitor, true, "").await;
    stored_once_on_both(&primary, &redundant, all.iter().map(|l| l.id.clone())).await;
    for client in [visitor, operator] {
        client.close().await.unwrap();
    }
}

/// The launcher's `data-chimes` and the unread badge's count (0 without one).
async fn chimes_and_unread(client: &Client) -> (String, String) {
    let script = r#"
        const root = document.getElementById('livechat-root')?.shadowRoot;
        const launcher = root?.querySelector('[data-testid="chat-launcher"]');
        const badge = root?.querySelector('[data-testid="chat-unread"]');
        return [launcher?.dataset.chimes || '', badge ? badge.textContent : '0'];
    "#;
    let value = client.execute(script, vec![]).await.unwrap();
    (
        value[0].as_str().unwrap_or_default().to_owned(),
        value[1].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_to_a_closed_panel_chimes_counts_and_shows_in_the_title_unless_muted() {
    let deployment = tests::deployment::Deployment::start();
    let mut chrome = ChromeDriver::start().await;
    let operator = chrome.session().await;
    tests::browser::console_login(&operator, &deployment.console_url()).await;
    let visitor = chrome.session().await;
    let page = format!("{}/", deployment.page_origin());
    open_widget(&visitor, &page).await;
    widget_write(&visitor, "Hi there").await;
    widget_shows(&visitor, &["Hi there"]).await;
    let pane = tests::browser::console_accept_first(&operator).await;
    let title = visitor.title().await.unwrap();

    // The panel closes; a reply chimes, counts, and shows in the tab's title.
    widget_click(&visitor, "chat-launcher").await;
    tests::browser::console_reply(&operator, &pane, "Hello!").await;
    eventually("the reply counted", WAIT, || async {
        (chimes_and_unread(&visitor).await == ("1".into(), "1".into())).then_some(())
    })
    .await;
    assert_eq!(visitor.title().await.unwrap(), format!("(1) {title}"));
    // Opening the panel reads it: the count and the title go back.
    widget_click(&visitor, "chat-launcher").await;
    eventually("the count cleared", WAIT, || async {
        (chimes_and_unread(&visitor).await.1 == "0").then_some(())
    })
    .await;
    eventually("the title restored", WAIT, || async {
        (visitor.title().await.ok()? == title).then_some(())
    })
    .await;

    // Muted (and remembered after a reload): counted, not chimed.
    widget_click(&visitor, "chat-sound-toggle").await;
    widget_attr_becomes(&visitor, "chat-sound-toggle", "aria-pressed", "true").await;
    visitor.refresh().await.unwrap();
    widget_click(&visitor, "chat-launcher").await;
    widget_attr_becomes(&visitor, "chat-sound-toggle", "aria-pressed", "true").await;
    widget_click(&visitor, "chat-launcher").await;
    tests::browser::console_reply(&operator, &pane, "Still there?").await;
    eventually("the muted reply counted", WAIT, || async {
        (chimes_and_unread(&visitor).await == ("0".into(), "1".into())).then_some(())
    })
    .await;
    for client in [visitor, operator] {
        client.close().await.unwrap();
    }
}

/// One deployment with an operator standing by, and a visitor whose widget is open and ready.
async fn one_visitor() -> (
    tests::deployment::Deployment,
    tests::visitor::Visitor,
    ChromeDriver,
    Client,
) {
    let deployment = tests::deployment::Deployment::start();
    let standby =
        tests::visitor::Visitor::standby([deployment.url(), deployment.url()], None).await;
    let mut chrome = ChromeDriver::start().await;
    let visitor = chrome.session().await;
    open_widget(&visitor, &format!("{}/", deployment.page_origin())).await;
    widget_element(&visitor, "chat-input").await;
    (deployment, standby, chrome, visitor)
}

/// Whether the page fetched a file whose URL has `part` in it.
async fn fetched(client: &Client, part: &str) -> bool {
    let script =
        "return performance.getEntriesByType('resource').some(e => e.name.includes(arguments[0]));";
    client
        .execute(script, vec![part.into()])
        .await
        .unwrap()
        .as_bool()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emoji_come_from_the_picker_and_from_shortcodes_and_load_only_when_used() {
    let (_deployment, _standby, _chrome, visitor) = one_visitor().await;
    assert!(
        !fetched(&visitor, "/widget/emoji.json").await,
        "the emoji table is not part of the first load"
    );
    // An unknown shortcode: named, nothing sent, the text kept.
    widget_write(&visitor, "Thanks :nosuchemoji:").await;
    let notice = widget_element(&visitor, "chat-notice")
        .await
        .text()
        .await
        .unwrap();
    assert!(notice.contains(":nosuchemoji:"), "{notice}");
    assert!(lines(&visitor, true, "").await.is_empty());
    assert!(fetched(&visitor, "/widget/emoji.json").await);
    // A known one, and one from the picker.
    widget_type(&visitor, "chat-input", "Great :+1:").await;
    widget_click(&visitor, "chat-send").await;
    widget_shows(&visitor, &["Great 👍"]).await;
    // The picker's buttons are code fetched when it first opens.
    assert!(
        !fetched(&visitor, "/widget/split_").await,
        "the picker is not part of the first load"
    );
    widget_click(&visitor, "chat-emoji").await;
    let host = visitor.find(Locator::Id("livechat-root")).await.unwrap();
    let tada = eventually("the picker's 🎉", WAIT, || async {
        host.shadow_root()
            .await
            .ok()?
            .find(Locator::Css(
                "[data-testid=\"emoji-option\"][data-shortcode=\"tada\"]",
            ))
            .await
            .ok()
    })
    .await;
    assert!(fetched(&visitor, "/widget/split_").await);
    tada.click().await.unwrap();
    widget_click(&visitor, "chat-send").await;
    widget_shows(&visitor, &["Great 👍", "🎉"]).await;
    visitor.close().await.unwrap();
}

/// A part of the widget loaded on first use that nothing can give (no deployment serves its
/// code, none is kept) says so, with a button that tries again; the rest of the widget works on,
/// and once the code can be fetched the button brings the part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_whose_code_cannot_be_fetched_says_so_and_tries_again() {
    let (_deployment, _standby, _chrome, visitor) = one_visitor().await;
    // Every fetch of the widget's chunk fails, as when no deployment answers, until allowed.
    let block = r#"
        const fetchFirst = window.fetch;
        window.chunkBlocked = true;
        window.fetch = (url, ...rest) => window.chunkBlocked && String(url).includes('/widget/split_')
            ? Promise.reject(new TypeError('unreachable'))
            : fetchFirst(url, ...rest);
    "#;
    visitor.execute(block, vec![]).await.unwrap();
    widget_click(&visitor, "chat-emoji").await;
    let failed = widget_element(&visitor, "chat-part-failed")
        .await
        .text()
        .await
        .unwrap();
    assert!(failed.contains("could not be loaded"), "{failed}");
    assert!(!widget_has(&visitor, "emoji-option").await);
    // The chat itself is unaffected.
    widget_write(&visitor, "Still here").await;
    widget_shows(&visitor, &["Still here"]).await;
    // The code can be fetched again: the button brings the picker.
    visitor
        .execute("window.chunkBlocked = false", vec![])
        .await
        .unwrap();
    let host = visitor.find(Locator::Id("livechat-root")).await.unwrap();
    host.shadow_root()
        .await
        .unwrap()
        .find(Locator::Css("[data-testid=\"chat-part-failed\"] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    widget_element(&visitor, "emoji-option").await;
    assert!(!widget_has(&visitor, "chat-part-failed").await);
    visitor.close().await.unwrap();
}
