//! Headless Chromium through chromedriver. Chromedriver runs in its own process group, which a
//! `Drop` guard kills, so a failing test leaves no browser behind.

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
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        self.profiles.push(profile);
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": "/usr/bin/chromium", "args": args }),
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
