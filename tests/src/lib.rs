//! Support for the end-to-end tests: the real `server` and `moderator` binaries in their own
//! processes, native visitors that follow redirects, and real headless Chromium sessions driven
//! over WebDriver (chromedriver).
//!
//! `cargo xtask test` builds the server and the static site first and passes their paths in
//! `LIVECHAT_SERVER_BIN` and `LIVECHAT_SITE_DIR`; without those the defaults under `target/` are
//! used, and a missing build fails the test with a message saying to run `cargo xtask test`.

pub mod browser;
pub mod burst;
pub mod chaos;
pub mod deployment;
pub mod metrics;
pub mod moderator;
pub mod page;
pub mod pair;
pub mod proxy;
pub mod smtp;
pub mod visitor;

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A binary under test: `$env` when set (as `cargo xtask test` does), else `target/debug/<name>`;
/// a missing one fails the test with advice.
pub fn binary(env: &str, name: &str) -> PathBuf {
    let path = std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/debug").join(name));
    assert!(
        path.exists(),
        "{} is missing: run `cargo xtask test`, which builds it",
        path.display()
    );
    path
}

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .to_owned()
}

/// Polls `check` every 100 ms until it yields a value, failing the test after `timeout` with
/// `what` in the message. Used where the only observable event is a change in a page.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends signal `name` (`STOP`, `CONT`, `KILL`) to process `pid`.
pub fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args(["-s", name, &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -s {name} {pid} failed");
}
