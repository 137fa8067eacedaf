//! Headless Chromium through chromedriver. Chromedriver runs in its own process group, which a
//! `Drop` guard kills, so a failing test leaves no browser behind.

use crate::eventually;
use fantoccini::{Client, ClientBuilder, Locator};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The flags Chromium needs on a closed network: without the background-networking ones it stalls
/// trying to reach Google's services.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
];

/// A chromedriver process serving browser sessions.
pub struct ChromeDriver {
    /// The process (leader of its own process group).
    child: Child,
    /// Where it listens.
    port: u16,
    /// One profile directory per session, removed at the end.
    profiles: Vec<tempfile::TempDir>,
}

impl ChromeDriver {
    /// Starts chromedriver on a free loopback port and waits until it accepts connections.
    pub async fn start() -> ChromeDriver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new("/usr/bin/chromedriver");
        command
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Set LIVECHAT_CHROMEDRIVER_LOG to a file path to see every WebDriver command and browser log.
        if let Some(log) = std::env::var_os("LIVECHAT_CHROMEDRIVER_LOG") {
            command
                .arg("--verbose")
                .arg(format!("--log-path={}", log.to_string_lossy()));
        }
        let child = command
            .process_group(0)
            .spawn()
            .expect("chromedriver is installed (cargo xtask test installs it)");
        let driver = ChromeDriver {
            child,
            port,
            profiles: Vec::new(),
        };
        crate::eventually(
            "chromedriver to listen",
            Duration::from_secs(20),
            || async {
                tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .ok()
                    .map(|_| ())
            },
        )
        .await;
        driver
    }

    /// Opens a new browser with a fresh profile.
    pub async fn session(&mut self) -> Client {
        self.session_downloading_to(None).await
    }

    /// Opens a new browser with a fresh profile that saves downloads in `downloads`, without
    /// asking.
    pub async fn session_downloading_to(&mut self, downloads: Option<&std::path::Path>) -> Client {
        let prefs = downloads
            .map(|dir| {
                serde_json::json!({
                    "download.default_directory": dir,
                    "download.prompt_for_download": false,
                })
            })
            .unwrap_or_else(|| serde_json::json!({}));
        self.session_with(prefs).await
    }

    /// Opens a new browser with a fresh profile and these Chromium preferences (for example
    /// `profile.default_content_setting_values.notifications` = 1 to allow notifications).
    pub async fn session_with(&mut self, prefs: serde_json::Value) -> Client {
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        self.profiles.push(profile);
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": args,
                "prefs": prefs,
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a Chromium session")
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // Negative pid: the whole process group, so the browsers chromedriver started go too.
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

/// Finds an element by `data-testid` in the page, waiting for it to appear.
pub async fn by_test_id(client: &Client, id: &str) -> fantoccini::elements::Element {
    let selector = format!("[data-testid=\"{id}\"]");
    client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(&selector))
        .await
        .unwrap_or_else(|e| panic!("no element {selector}: {e}"))
}

/// How long the browser tests wait for anything a person would see.
pub const WAIT: Duration = Duration::from_secs(30);

/// One message as a page shows it: id, author, status, text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// `data-id`.
    pub id: String,
    /// `data-author`.
    pub author: String,
    /// `data-status`.
    pub status: String,
    /// The text.
    pub text: String,
}

impl Line {
    /// Whether a deployment has stored it: `sent`, `delivered` (on both) or `read`.
    pub fn acknowledged(&self) -> bool {
        matches!(self.status.as_str(), "sent" | "delivered" | "read")
    }
}

/// Reads the messages shown in the widget (inside its shadow root) or in the console (within the
/// CSS `scope`).
pub async fn lines(client: &Client, in_widget: bool, scope: &str) -> Vec<Line> {
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
pub async fn widget_element(client: &Client, id: &str) -> fantoccini::elements::Element {
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

/// Whether an element with `data-testid` = `id` is in the widget right now (no waiting).
pub async fn widget_has(client: &Client, id: &str) -> bool {
    let script = r#"
        const root = document.getElementById('livechat-root')?.shadowRoot;
        return !!(root && root.querySelector('[data-testid="' + arguments[0] + '"]'));
    "#;
    client
        .execute(script, vec![id.into()])
        .await
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// The deployment the widget is connected to (`data-deployment` of `chat-connection`).
pub async fn widget_deployment(client: &Client) -> String {
    attribute(
        widget_element(client, "chat-connection").await,
        "data-deployment",
    )
    .await
}

/// An attribute's value, empty when absent.
async fn attribute(element: fantoccini::elements::Element, name: &str) -> String {
    element.attr(name).await.ok().flatten().unwrap_or_default()
}

/// The widget's connection indicator (`data-state` of `chat-connection`).
pub async fn widget_state(client: &Client) -> String {
    attribute(
        widget_element(client, "chat-connection").await,
        "data-state",
    )
    .await
}

/// Opens `page` and the widget's panel.
pub async fn open_widget(client: &Client, page: &str) {
    client.goto(page).await.unwrap();
    widget_element(client, "chat-launcher")
        .await
        .click()
        .await
        .unwrap();
    widget_element(client, "chat-panel").await;
}

/// Waits until the widget says it is online.
pub async fn widget_online(client: &Client) {
    eventually("the widget to be online", WAIT, || async {
        (widget_state(client).await == "online").then_some(())
    })
    .await;
}

/// Types `text` into the widget and sends it.
pub async fn widget_write(client: &Client, text: &str) {
    widget_element(client, "chat-input")
        .await
        .send_keys(text)
        .await
        .unwrap();
    widget_element(client, "chat-send")
        .await
        .click()
        .await
        .unwrap();
}

/// Waits until `lines_now` yields exactly `texts`, all acknowledged (`sent`, `delivered` or
/// `read`), and returns the lines.
async fn shows_exactly<F, Fut>(what: &str, texts: &[&str], lines_now: F) -> Vec<Line>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Vec<Line>>,
{
    eventually(&format!("{what} to show {texts:?}"), WAIT, || async {
        let shown = lines_now().await;
        let matches = shown
            .iter()
            .map(|l| l.text.as_str())
            .eq(texts.iter().copied())
            && shown.iter().all(|l| l.acknowledged());
        matches.then_some(shown)
    })
    .await
}

/// Waits until the widget shows exactly `texts`, all acknowledged.
pub async fn widget_shows(client: &Client, texts: &[&str]) -> Vec<Line> {
    shows_exactly("the widget", texts, || lines(client, true, "")).await
}

/// Waits until the console's pane (`pane`, a CSS selector) shows exactly `texts`, all acknowledged.
pub async fn console_shows(client: &Client, pane: &str, texts: &[&str]) -> Vec<Line> {
    shows_exactly("the console", texts, || lines(client, false, pane)).await
}

/// Sets a page field's value (a select or a text field, found by `css`) as a person would:
/// `input` and `change` follow.
pub async fn set_field(client: &Client, css: &str, value: &str) {
    let script = r#"
        const field = document.querySelector(arguments[0]);
        field.value = arguments[1];
        field.dispatchEvent(new Event('input', { bubbles: true }));
        field.dispatchEvent(new Event('change', { bubbles: true }));
    "#;
    client
        .execute(script, vec![css.into(), value.into()])
        .await
        .unwrap();
}

/// Chooses `value` in the select `css` once it offers it (options that arrive from a call).
pub async fn choose_when_offered(client: &Client, css: &str, value: &str) {
    let option = format!("{css} option[value=\"{value}\"]");
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&option))
        .await
        .unwrap();
    set_field(client, css, value).await;
}

/// Logs in to the console at `console_url` with the test admin's credentials.
pub async fn console_login(client: &Client, console_url: &str) {
    let (email, password) = (
        crate::deployment::ADMIN_EMAIL,
        crate::deployment::ADMIN_PASSWORD,
    );
    console_login_as(client, console_url, email, password).await;
}

/// Logs in to the console at `console_url` as `email` with `password`.
pub async fn console_login_as(client: &Client, console_url: &str, email: &str, password: &str) {
    client.goto(console_url).await.unwrap();
    by_test_id(client, "login-email")
        .await
        .send_keys(email)
        .await
        .unwrap();
    by_test_id(client, "login-password")
        .await
        .send_keys(password)
        .await
        .unwrap();
    by_test_id(client, "login-submit")
        .await
        .click()
        .await
        .unwrap();
}

/// Opens the first conversation of the inbox and accepts it; returns its pane's CSS selector.
pub async fn console_accept_first(client: &Client) -> String {
    let item = by_test_id(client, "inbox-item").await;
    let conversation = item
        .attr("data-conversation")
        .await
        .unwrap()
        .expect("data-conversation");
    item.click().await.unwrap();
    let pane = format!("[data-testid=\"conversation-pane\"][data-conversation=\"{conversation}\"]");
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&format!("{pane} [data-testid=\"accept\"]")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    pane
}

/// The reply field of `pane`, once it is enabled.
pub async fn console_reply_input(client: &Client, pane: &str) -> fantoccini::elements::Element {
    eventually("the reply field to be enabled", WAIT, || async {
        let input = client
            .find(Locator::Css(&format!(
                "{pane} [data-testid=\"reply-input\"]"
            )))
            .await
            .ok()?;
        input.is_enabled().await.ok()?.then_some(input)
    })
    .await
}

/// Clicks the send button of `pane`.
pub async fn console_send(client: &Client, pane: &str) {
    client
        .find(Locator::Css(&format!(
            "{pane} [data-testid=\"reply-send\"]"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Types `text` as a reply in `pane` and sends it.
pub async fn console_reply(client: &Client, pane: &str, text: &str) {
    console_reply_input(client, pane)
        .await
        .send_keys(text)
        .await
        .unwrap();
    console_send(client, pane).await;
}

/// The deployment the console says it is connected to.
pub async fn console_deployment(client: &Client) -> String {
    attribute(
        by_test_id(client, "console-deployment").await,
        "data-deployment",
    )
    .await
}
