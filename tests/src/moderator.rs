//! The `moderator` binary as a real process watching a [`crate::pair`], and small HTTP helpers to
//! read what it publishes.

use crate::pair::Member;
use daemon::http::{HttpClient, Method};
use protocol::moderation::ActiveDeployment;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The secret the moderator presents to the pair (their `moderator_secret`).
pub const DEPLOYMENT_SECRET: &str = "pair moderator secret for tests";
/// The moderator's admin secret.
pub const ADMIN_SECRET: &str = "moderator admin secret for tests";
/// How long the primary must be up and synchronised before failback, in these tests.
pub const FAILBACK_HOLD_MS: u64 = 2_000;

/// The `moderator` binary under test.
pub fn moderator_bin() -> PathBuf {
    crate::binary("LIVECHAT_MODERATOR_BIN", "moderator")
}

/// A running moderator, killed when dropped.
pub struct ModeratorProcess {
    child: Option<Child>,
    /// Its base URL.
    pub url: String,
    /// Its port.
    port: u16,
    /// The deployments' URLs it probes, primary first.
    watches: [String; 2],
    /// Its data directory (the decision log).
    pub data_dir: tempfile::TempDir,
}

impl ModeratorProcess {
    /// Starts a moderator watching `primary` and `redundant`, probing every 250 ms (the default)
    /// with a 1 s probe timeout, so a loaded test machine does not fail over by itself; a killed
    /// deployment refuses connections at once, so detection stays at three probe intervals.
    pub fn start(primary: &Member, redundant: &Member) -> ModeratorProcess {
        Self::start_watching(primary.moderator_port, [primary.url(), redundant.url()])
    }

    /// Starts a moderator on `port` that probes (and tells clients about) the deployments at
    /// `watches`, primary first: the fault-injection suite puts proxies there.
    pub fn start_watching(port: u16, watches: [String; 2]) -> ModeratorProcess {
        let mut moderator = ModeratorProcess {
            child: None,
            url: format!("http://127.0.0.1:{port}"),
            port,
            watches,
            data_dir: tempfile::tempdir().unwrap(),
        };
        moderator.restart();
        moderator
    }

    /// Starts the process again (after [`ModeratorProcess::kill9`]) on the same decision log.
    pub fn restart(&mut self) {
        self.kill9();
        let child = Command::new(moderator_bin())
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .args(["--primary-url", &self.watches[0]])
            .args(["--redundant-url", &self.watches[1]])
            .args(["--probe-timeout-ms", "1000"])
            .args(["--failback-hold-ms", &FAILBACK_HOLD_MS.to_string()])
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .env("LIVECHAT_MODERATOR_ADMIN_SECRET", ADMIN_SECRET)
            .env("LIVECHAT_MODERATOR_DEPLOYMENT_SECRET", DEPLOYMENT_SECRET)
            .env("RUST_LOG", "warn")
            .arg("serve")
            .stdout(Stdio::null())
            .spawn()
            .expect("the moderator starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "the moderator did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The decision in force, from `/v1/active`.
    pub async fn active(&self) -> ActiveDeployment {
        serde_json::from_value(get_json(&format!("{}/v1/active", self.url)).await)
            .expect("an active deployment")
    }

    /// `/v1/status`.
    pub async fn status(&self) -> serde_json::Value {
        get_json(&format!("{}/v1/status", self.url)).await
    }

    /// The status page people read, as HTML.
    pub async fn status_page(&self) -> String {
        let answer = HttpClient::default()
            .call(Method::GET, &self.url, None, None, Duration::from_secs(10))
            .await
            .expect("the status page answers");
        String::from_utf8_lossy(&answer.body).into_owned()
    }

    /// Runs the `moderator` CLI against this moderator (for example `failover --to redundant`),
    /// with the admin secret unless `secret` says otherwise; returns whether it succeeded.
    pub fn cli(&self, args: &[&str], secret: Option<&str>) -> bool {
        let mut command = Command::new(moderator_bin());
        command
            .args(["--moderator-url", &self.url])
            .args(args)
            .env_remove("LIVECHAT_MODERATOR_ADMIN_SECRET");
        if let Some(secret) = secret {
            command.env("LIVECHAT_MODERATOR_ADMIN_SECRET", secret);
        }
        let output = command.output().expect("the moderator CLI runs");
        if !output.status.success() {
            // A refusal the test did not expect is then explained in its output.
            eprintln!(
                "moderator {args:?}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        output.status.success()
    }

    /// Waits until `/v1/active` names `deployment`, failing after `timeout`; returns the decision.
    pub async fn wait_for_active(&self, deployment: &str, timeout: Duration) -> ActiveDeployment {
        let deadline = Instant::now() + timeout;
        loop {
            let active = self.active().await;
            if active.active == deployment {
                return active;
            }
            assert!(
                Instant::now() < deadline,
                "{deployment} never became active: {}",
                self.status().await
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until both deployments report knowing the epoch in force.
    pub async fn wait_until_pushed(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status = self.status().await;
            let epoch = &status["active"]["epoch"];
            let known = status["deployments"]
                .as_array()
                .unwrap()
                .iter()
                .all(|d| &d["last_probe"]["role"]["epoch"] == epoch);
            if known {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the decision never reached both deployments: {status}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the moderator with SIGKILL.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ModeratorProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// GETs `url` and parses the answer as JSON (any status).
pub async fn get_json(url: &str) -> serde_json::Value {
    get_json_with(url, None).await
}

/// `GET url` with a bearer secret (a deployment's replication status, its detailed health).
pub async fn get_json_with(url: &str, bearer: Option<&str>) -> serde_json::Value {
    let answer = HttpClient::default()
        .call(Method::GET, url, bearer, None, Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    serde_json::from_slice(&answer.body).unwrap_or_else(|e| panic!("GET {url}: {e}"))
}
