//! The launcher costs a new visitor nothing but the snippet: the loader draws the chat button
//! itself and fetches the WebAssembly widget only when it is clicked. The widget then adopts that
//! very button (it toggles the panel and shows the unread count), and a returning visitor, who may
//! have replies waiting, gets the widget without clicking.

use std::time::Duration;
use tests::browser::{
    widget_element, widget_has, widget_online, widget_shows, widget_write, ChromeDriver, WAIT,
};
use tests::deployment::{Deployment, ADMIN_EMAIL, ADMIN_PASSWORD};
use tests::eventually;
use tests::visitor::Visitor;

/// The conversation, as the visitor sees it once the reply arrived.
const CHAT: [&str; 3] = [
    "Is the Ethiopian roast in stock?",
    "Ada Admin joined the chat",
    "Yes, freshly roasted on Monday.",
];

/// Whether the page has fetched the widget's WebAssembly module.
async fn module_fetched(client: &fantoccini::Client) -> bool {
    let names = client
        .execute(
            "return performance.getEntriesByType('resource').map(e => e.name)",
            vec![],
        )
        .await
        .expect("script runs");
    names.as_array().is_some_and(|names| {
        names
            .iter()
            .any(|n| n.as_str().is_some_and(|n| n.ends_with("widget_bg.wasm")))
    })
}

/// What the page downloaded for the widget's module and what that decoded to, in bytes.
async fn module_sizes(client: &fantoccini::Client) -> (u64, u64) {
    let sizes = client
        .execute(
            "const e = performance.getEntriesByType('resource')\
               .find(e => e.name.endsWith('widget_bg.wasm'));\
             return [e.encodedBodySize, e.decodedBodySize];",
            vec![],
        )
        .await
        .expect("script runs");
    let size = |i: usize| sizes[i].as_u64().expect("a size");
    (size(0), size(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widget_loads_on_the_first_click_and_adopts_the_loaders_button() {
    let deployment = Deployment::start();
    let _standby = Visitor::standby([deployment.url(), deployment.url()], None).await;
    let mut chrome = ChromeDriver::start().await;
    let visitor = chrome.session().await;
    visitor
        .goto(&format!("{}/", deployment.page_origin()))
        .await
        .unwrap();

    // A new visitor: the button is there, the module is not fetched, however long they read.
    let launcher = widget_element(&visitor, "chat-launcher").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !module_fetched(&visitor).await,
        "the widget loaded before any click"
    );
    assert!(!widget_has(&visitor, "chat-panel").await);

    // The first click loads the widget and opens the panel.
    launcher.click().await.unwrap();
    widget_element(&visitor, "chat-panel").await;
    assert!(module_fetched(&visitor).await);
    // What came over the wire is the build's compressed copy (brotli, or gzip where the browser
    // does not offer brotli), byte for byte, not the module itself.
    let (downloaded, module) = module_sizes(&visitor).await;
    let site = tests::deployment::site_dir();
    let copy = |suffix: &str| {
        std::fs::metadata(site.join(format!("widget/widget_bg.wasm.{suffix}")))
            .map(|m| m.len())
            .unwrap_or(0)
    };
    assert_eq!(
        module,
        std::fs::metadata(site.join("widget/widget_bg.wasm"))
            .unwrap()
            .len()
    );
    assert!(
        downloaded == copy("br") || downloaded == copy("gz"),
        "downloaded {downloaded} B of the {module} B module; copies: {} B brotli, {} B gzip",
        copy("br"),
        copy("gz")
    );
    widget_online(&visitor).await;
    widget_write(&visitor, "Is the Ethiopian roast in stock?").await;
    widget_shows(&visitor, &["Is the Ethiopian roast in stock?"]).await;

    // The same button, now the widget's, closes the panel; a reply arrives meanwhile and is
    // counted on the button.
    launcher.click().await.unwrap();
    eventually("the panel to close", WAIT, || async {
        (!widget_has(&visitor, "chat-panel").await).then_some(())
    })
    .await;
    let urls = [deployment.url(), deployment.url()];
    let mut operator = Visitor::operator(ADMIN_EMAIL, ADMIN_PASSWORD, urls, None).await;
    assert!(
        operator.until(WAIT, |o| !o.conversations.is_empty()).await,
        "the operator never saw the conversation"
    );
    let conversation = operator.conversations[0].id;
    operator.send(protocol::ClientFrame::Accept {
        conversation_id: conversation,
    });
    operator.pump(Duration::from_millis(500)).await;
    operator.write_to(conversation, "Yes, freshly roasted on Monday.");
    assert!(operator.acknowledged(WAIT).await);
    let badge = widget_element(&visitor, "chat-unread").await;
    assert_ne!(badge.text().await.unwrap(), "0");
    assert_eq!(
        launcher.attr("aria-expanded").await.unwrap().as_deref(),
        Some("false")
    );

    // Opening reads the reply and clears the count.
    launcher.click().await.unwrap();
    widget_shows(&visitor, &CHAT).await;
    assert!(!widget_has(&visitor, "chat-unread").await);
    assert_eq!(
        launcher.attr("aria-expanded").await.unwrap().as_deref(),
        Some("true")
    );

    // A returning visitor gets the widget without clicking, so replies reach them.
    visitor.refresh().await.unwrap();
    eventually("the widget to load by itself", WAIT, || async {
        module_fetched(&visitor).await.then_some(())
    })
    .await;
    widget_element(&visitor, "chat-launcher")
        .await
        .click()
        .await
        .unwrap();
    widget_shows(&visitor, &CHAT).await;
    visitor.close().await.unwrap();
}

/// The SHA-256 of each inline `<script>` of `html`, as a CSP source.
fn inline_script_hashes(html: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    html.split("<script")
        .skip(1)
        .filter_map(|tag| {
            let (attributes, rest) = tag.split_once('>')?;
            if attributes.contains("src=") {
                return None;
            }
            let body = rest.split_once("</script>")?.0;
            let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body));
            Some(format!(" 'sha256-{hash}'"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widget_works_on_a_customer_page_with_the_documented_strict_policy() {
    let deployment = Deployment::start();
    let page = xtask::render_demo_page(
        &tests::root(),
        &[deployment.url()],
        None,
        tests::deployment::SITE_ID,
    )
    .expect("the demo page renders");
    // Every policy violation is recorded, from before the snippet runs.
    let recorder =
        "<script>window.violations=[];document.addEventListener('securitypolicyviolation',\
        e=>window.violations.push(e.violatedDirective+' '+e.blockedURI));</script>";
    let page = page.replacen("<head>", &format!("<head>{recorder}"), 1);
    // The policy ARCHITECTURE.md documents: the inline snippet by hash, the deployment for
    // scripts and connections (HTTP and WebSocket), WebAssembly, and inline styles.
    let deployment_url = deployment.url();
    let socket_url = deployment_url.replacen("http", "ws", 1);
    let policy = format!(
        "default-src 'none'; script-src{} {deployment_url} 'wasm-unsafe-eval'; \
         connect-src {deployment_url} {socket_url}; style-src 'unsafe-inline'; img-src data:",
        inline_script_hashes(&page)
    );
    let url = tests::page::serve_page_with_headers(
        page,
        format!("content-security-policy: {policy}\r\n"),
    )
    .await;
    deployment.allow_origins(&[url.trim_end_matches('/')]);
    let _standby = Visitor::standby([deployment.url(), deployment.url()], None).await;

    let mut chrome = ChromeDriver::start().await;
    let visitor = chrome.session().await;
    visitor.goto(&url).await.unwrap();
    widget_element(&visitor, "chat-launcher")
        .await
        .click()
        .await
        .unwrap();
    widget_element(&visitor, "chat-panel").await;
    widget_online(&visitor).await;
    widget_write(&visitor, "Do you ship to Tromsø?").await;
    let urls = [deployment.url(), deployment.url()];
    let mut operator = Visitor::operator(ADMIN_EMAIL, ADMIN_PASSWORD, urls, None).await;
    assert!(
        operator.until(WAIT, |o| !o.conversations.is_empty()).await,
        "the message reached the operator through the policy"
    );
    let violations = visitor
        .execute("return window.violations", vec![])
        .await
        .expect("script runs");
    assert_eq!(
        violations,
        serde_json::json!([]),
        "the policy blocked something"
    );
    visitor.close().await.unwrap();
}

/// A page may import the widget with its own code instead of the snippet's loader. The widget
/// then draws its own button, with code fetched on first use (`widget/src/ui/later.rs`); it opens
/// the panel, and the chat works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_loader_the_widget_draws_its_own_button() {
    let deployment = Deployment::start();
    let base = deployment.url();
    let site = tests::deployment::SITE_ID;
    let page = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Shop</title></head><body>\
         <script>window.LiveChat = {{ siteId: \"{site}\", deployments: [\"{base}\"] }};</script>\
         <script type=\"module\">import init from \"{base}/widget/widget.js\";\
         await init({{ module_or_path: \"{base}/widget/widget_bg.wasm\" }});</script>\
         </body></html>"
    );
    let url = tests::page::serve_page(page).await;
    deployment.allow_origins(&[url.trim_end_matches('/')]);
    let _standby = Visitor::standby([deployment.url(), deployment.url()], None).await;
    let mut chrome = ChromeDriver::start().await;
    let visitor = chrome.session().await;
    visitor.goto(&url).await.unwrap();
    let launcher = widget_element(&visitor, "chat-launcher").await;
    let loader = visitor
        .execute("return window.__liveChatLoader === true", vec![])
        .await
        .unwrap();
    assert_eq!(loader, false, "no loader ran: the button is the widget's");
    launcher.click().await.unwrap();
    widget_element(&visitor, "chat-panel").await;
    widget_online(&visitor).await;
    widget_write(&visitor, "Drawn without the loader").await;
    widget_shows(&visitor, &["Drawn without the loader"]).await;
    visitor.close().await.unwrap();
}
