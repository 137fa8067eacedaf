//! The page's JavaScript API (`window.livechat`), in Chromium against a real pair and moderator:
//! calls made before the widget has loaded (`open`, `identify`, `on`) take effect once it has;
//! events report an operator's reply and the move to the redundant deployment when the primary
//! is killed; a verified user finds their conversation in a fresh browser profile, while a
//! forged signature is refused with a console warning and reveals nothing; wrong arguments give
//! one warning and do nothing else; `setLocale` sets the panel's language, texts and direction; `hide`
//! hides the launcher before and after the widget loads; `shutdown` forgets the visitor.

use fantoccini::Client;
use std::time::Duration;
use tests::browser::{
    lines, widget_element, widget_has, widget_online, widget_shows, widget_write, ChromeDriver,
    WAIT,
};
use tests::deployment::{ADMIN_EMAIL, ADMIN_PASSWORD, SITE_ID};
use tests::eventually;
use tests::visitor::Visitor;

const QUESTION: &str = "Did my order of Guji ship yesterday?";
const REPLY: &str = "It did, it arrives tomorrow.";

/// The demo page with `script` right after the snippet: it runs before the page has finished
/// loading, so before the loader has even drawn its button.
fn page_with(base: &str, script: &str) -> String {
    base.replace(
        "<!-- End of LiveChat snippet. -->",
        &format!("<script>{script}</script>"),
    )
}

/// Records every event and every console warning in `window.__events` and `__warnings`.
const RECORD: &str = r#"
    window.__events = []; window.__warnings = [];
    const warn = console.warn.bind(console);
    console.warn = (...parts) => { window.__warnings.push(parts.map(String).join(' ')); warn(...parts); };
    for (const name of ['ready', 'open', 'message', 'sent', 'connection', 'conversation:start']) {
        livechat('on', name, (e) => window.__events.push([name, JSON.stringify(e)]));
    }
"#;

/// The events recorded so far whose name is `name`, as their JSON payloads.
async fn events(client: &Client, name: &str) -> Vec<serde_json::Value> {
    let all = client
        .execute("return window.__events || []", vec![])
        .await
        .expect("script runs");
    all.as_array()
        .into_iter()
        .flatten()
        .filter(|e| e[0] == name)
        .filter_map(|e| serde_json::from_str(e[1].as_str()?).ok())
        .collect()
}

async fn warnings(client: &Client) -> Vec<String> {
    let all = client
        .execute("return window.__warnings || []", vec![])
        .await
        .expect("script runs");
    all.as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w.as_str().map(str::to_owned))
        .collect()
}

/// An attribute of a widget element.
async fn widget_attr(client: &Client, id: &str, name: &str) -> String {
    widget_element(client, id)
        .await
        .attr(name)
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_drives_the_widget_before_and_after_it_loads_and_hears_of_failover() {
    let (mut primary, mut redundant) = tests::pair::prepare_pair(0);
    let signature = primary
        .admin_output(&["site", "sign-user", SITE_ID, "alice-42"])
        .expect("server site sign-user");
    let forged = tests::pair::prepare_pair(0)
        .0
        .admin_output(&["site", "sign-user", SITE_ID, "alice-42"])
        .expect("a signature made with another site's secret");
    assert_ne!(signature, forged);
    primary.start();
    redundant.start();
    let moderator = tests::moderator::ModeratorProcess::start(&primary, &redundant);
    moderator.wait_until_pushed().await;
    // Someone online, so the widget offers the composer rather than the offline form.
    let deployments = [primary.url(), redundant.url()];
    let _standby = Visitor::standby(deployments.clone(), Some(moderator.url.clone())).await;
    let base = xtask::render_demo_page(
        &tests::root(),
        &[primary.url(), redundant.url()],
        Some(&moderator.url),
        SITE_ID,
    )
    .expect("the demo page renders");
    let identify = |signature: &str| {
        format!(
            "livechat('identify', {{ userId: 'alice-42', name: 'Alice Liddell', signature: '{signature}' }});"
        )
    };
    let mut chrome = ChromeDriver::start().await;

    // Yesterday, on her laptop: the page opens the chat and names her before anything loaded.
    let laptop_page = tests::page::serve_page(page_with(
        &base,
        &format!(
            "{RECORD} livechat('identify', 42); {} livechat('open');",
            identify(&signature)
        ),
    ))
    .await;
    let laptop = chrome.session().await;
    laptop.goto(&laptop_page).await.unwrap();
    widget_element(&laptop, "chat-panel").await;
    widget_online(&laptop).await;
    assert_eq!(
        warnings(&laptop).await.len(),
        1,
        "one warning for the call with a wrong argument: {:?}",
        warnings(&laptop).await
    );
    assert!(warnings(&laptop).await[0].contains("identify"));
    assert_eq!(events(&laptop, "ready").await.len(), 1);
    assert_eq!(events(&laptop, "open").await.len(), 1);
    widget_write(&laptop, QUESTION).await;
    widget_shows(&laptop, &[QUESTION]).await;
    eventually(
        "`sent` to fire once stored and once replicated",
        WAIT,
        || async {
            let sent = events(&laptop, "sent").await;
            let stored = sent.iter().any(|e| e["replicated"] == false);
            let replicated = sent.iter().any(|e| e["replicated"] == true);
            (stored && replicated).then_some(())
        },
    )
    .await;
    assert_eq!(events(&laptop, "conversation:start").await.len(), 1);

    // The operator answers; the page hears of it.
    let urls = [primary.url(), redundant.url()];
    let mut operator = Visitor::operator(
        ADMIN_EMAIL,
        ADMIN_PASSWORD,
        urls,
        Some(moderator.url.clone()),
    )
    .await;
    assert!(operator.until(WAIT, |o| !o.conversations.is_empty()).await);
    let conversation = operator.conversations[0].id;
    operator.send(protocol::ClientFrame::Accept {
        conversation_id: conversation,
    });
    operator.pump(Duration::from_millis(500)).await;
    operator.write_to(conversation, REPLY);
    assert!(operator.acknowledged(WAIT).await);
    eventually("`message` to fire for the reply", WAIT, || async {
        events(&laptop, "message")
            .await
            .iter()
            .any(|e| e["body"] == REPLY && e["conversationId"] == conversation.to_string())
            .then_some(())
    })
    .await;

    // The primary dies: the page learns that the chat moved, and to where.
    tests::pair::in_sync(&primary, &redundant).await;
    primary.kill9();
    let redundant_url = redundant.url();
    eventually(
        "`connection` to report the redundant deployment",
        WAIT,
        || async {
            events(&laptop, "connection")
                .await
                .iter()
                .any(|e| {
                    e["state"] == "online"
                        && e["deployment"]
                            .as_str()
                            .is_some_and(|d| d.trim_end_matches('/') == redundant_url)
                })
                .then_some(())
        },
    )
    .await;
    laptop.close().await.unwrap();

    // Today, on her phone (a fresh profile, nothing stored): she sees yesterday's chat.
    let phone_page = tests::page::serve_page(page_with(
        &base,
        &format!("{RECORD} {} livechat('open');", identify(&signature)),
    ))
    .await;
    let phone = chrome.session().await;
    phone.goto(&phone_page).await.unwrap();
    widget_online(&phone).await;
    widget_shows(&phone, &[QUESTION, "Ada Admin joined the chat", REPLY]).await;
    // (The loader warns that the dead primary did not serve the widget; nothing else.)
    let phone_warnings = warnings(&phone).await;
    assert!(
        phone_warnings
            .iter()
            .all(|w| w.starts_with("LiveChat: could not load the widget")),
        "{phone_warnings:?}"
    );
    phone.close().await.unwrap();
    // The primary is back (so what is written next reaches both deployments again).
    primary.start();

    // Someone forging her identity: refused, told so in the console, shown nothing of hers,
    // and chatting anonymously all the same. The same page asks for Arabic and hides the
    // launcher before the widget loaded.
    let forged_page = tests::page::serve_page(page_with(
        &base,
        &format!(
            "{RECORD} {} livechat('setLocale', 'ar'); livechat('hide'); livechat('open');",
            identify(&forged)
        ),
    ))
    .await;
    let forger = chrome.session().await;
    forger.goto(&forged_page).await.unwrap();
    widget_online(&forger).await;
    eventually("the refusal to be logged", WAIT, || async {
        warnings(&forger)
            .await
            .iter()
            .any(|w| w.contains("signature"))
            .then_some(())
    })
    .await;
    widget_write(&forger, "Hello?").await;
    widget_shows(&forger, &["Hello?"]).await;
    let shown = lines(&forger, true, "").await;
    assert!(shown.iter().all(|l| l.text != QUESTION && l.text != REPLY));
    assert_eq!(
        widget_attr(&forger, "chat-language", "data-lang").await,
        "ar"
    );
    assert_eq!(widget_attr(&forger, "chat-language", "dir").await, "rtl");
    assert_eq!(widget_attr(&forger, "chat-panel", "dir").await, "rtl");
    // Its texts in Arabic (fetched for this visitor only), then in German.
    let placeholder = || async { widget_attr(&forger, "chat-input", "placeholder").await };
    eventually("the Arabic texts", WAIT, || async {
        (placeholder().await == "اكتب رسالة…").then_some(())
    })
    .await;
    let hidden = "return getComputedStyle(document.getElementById('livechat-root').shadowRoot.querySelector('[data-testid=chat-launcher]')).display";
    assert_eq!(forger.execute(hidden, vec![]).await.unwrap(), "none");
    forger
        .execute("livechat('show'); livechat('setLocale', 'de-ch')", vec![])
        .await
        .unwrap();
    eventually("show and setLocale to apply", WAIT, || async {
        let display = forger.execute(hidden, vec![]).await.ok()?;
        let lang = widget_attr(&forger, "chat-language", "data-lang").await;
        let german = placeholder().await == "Nachricht schreiben…";
        (display != "none" && lang == "de-CH" && german).then_some(())
    })
    .await;
    assert_eq!(widget_attr(&forger, "chat-language", "dir").await, "ltr");

    // `shutdown` (the site's user logs out) forgets the visitor once the outbox has drained
    // (the message is on both deployments): the panel closes, and a new anonymous visitor
    // starts with an empty conversation.
    forger
        .execute("livechat('shutdown')", vec![])
        .await
        .unwrap();
    eventually("the visitor to be forgotten", WAIT, || async {
        let stored = forger
            .execute(
                "return Object.keys(localStorage).filter(k => k.endsWith('.conversation') || k.endsWith('.identity'))",
                vec![],
            )
            .await
            .ok()?;
        let forgotten = stored.as_array().is_some_and(Vec::is_empty);
        (forgotten && !widget_has(&forger, "chat-panel").await).then_some(())
    })
    .await;
    forger.execute("livechat('open')", vec![]).await.unwrap();
    widget_online(&forger).await;
    assert!(lines(&forger, true, "").await.is_empty());
    forger.close().await.unwrap();
}
