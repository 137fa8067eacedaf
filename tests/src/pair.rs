//! Two deployments as real processes, `primary` and `redundant`, replicating to each other on
//! fixed loopback ports so that either can be killed with SIGKILL and restarted in place.

use crate::deployment::{server_bin, site_dir_path, ADMIN_EMAIL, ADMIN_PASSWORD, SITE_ID};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN_SECRET: &str = "pair token secret for tests";
/// The replication secret both deployments of a pair share (it also opens their status).
pub const REPLICATION_SECRET: &str = "pair replication secret for tests";

/// One deployment of the pair.
pub struct Member {
    /// Its name.
    pub name: &'static str,
    /// Its port.
    pub port: u16,
    /// Its peer's port.
    peer_port: u16,
    /// Where the pair's moderator listens (reserved at start, so the deployments can tell their
    /// consoles where it is).
    pub moderator_port: u16,
    /// When set, the port its replication link pulls from instead of the peer's (a closed one).
    cut_off_from: Option<u16>,
    /// Its data directory.
    pub data_dir: tempfile::TempDir,
    /// How far its wall clock is shifted, in milliseconds (taken into account at the next start).
    pub skew_ms: i64,
    /// Where it is reached, when not directly (the fault-injection suite's proxies).
    routes: Option<Routes>,
    /// The running process, if any.
    child: Option<Child>,
    /// The mail server it sends through (`LIVECHAT_SMTP_URL`), set before it starts.
    pub smtp_url: Option<String>,
    /// More environment variables for its next start (`LIVECHAT_BACKUP_DIR`, …).
    pub env: Vec<(&'static str, String)>,
    /// Where its log lines go at its next start (the test's own stderr when unset).
    pub stderr_file: Option<std::path::PathBuf>,
}

/// How a deployment is reached when something (a fault-injecting proxy) stands in between.
#[derive(Clone, Debug)]
pub struct Routes {
    /// The deployments' base URLs as clients reach them, primary first (`LIVECHAT_PUBLIC_URLS`):
    /// redirects name these.
    pub public_urls: [String; 2],
    /// Where its replication link pulls from the peer.
    pub peer_url: String,
    /// The moderator's base URL as clients reach it.
    pub moderator_url: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The limits of a pair under test: every load generator, fault-suite participant and idle
/// connection comes from loopback, and the benchmark sends far faster than people type, so the
/// per-address and per-connection limits (sized for people on the internet) are raised. The
/// limits themselves are tested against the defaults in `server/tests/floods.rs`. The widget's
/// configuration is not cached, so a page loaded right after a change of look shows it (the
/// default, 30 s, is tested in `server/tests/admin.rs`).
const LOAD_LIMITS: &str = "\
new_visitors_per_minute_per_address = 1000000
new_conversations_per_hour_per_visitor = 1000000
messages_per_minute_per_connection = 1000000
typing_per_minute_per_connection = 1000000
max_connections_per_address = 1000000
max_connections = 1000000
idle_timeout_secs = 3600
widget_config_max_age_secs = 0
";

impl Member {
    /// The configuration file with [`LOAD_LIMITS`], written beside the data directory.
    fn limits_file(&self) -> PathBuf {
        let path = self.data_dir.path().join("limits.toml");
        if !path.exists() {
            // A data directory deleted under a test (a lost disk) comes back empty but for this.
            std::fs::create_dir_all(self.data_dir.path()).expect("the data directory");
            std::fs::write(&path, LOAD_LIMITS).expect("the limits file");
        }
        path
    }

    fn command(&self) -> Command {
        let mut command = Command::new(server_bin());
        command
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .args(["--deployment", self.name, "--peer-url", &self.peer_url()])
            .env("LIVECHAT_TOKEN_SECRET", TOKEN_SECRET)
            .env("LIVECHAT_REPLICATION_SECRET", REPLICATION_SECRET)
            .env(
                "LIVECHAT_MODERATOR_SECRET",
                crate::moderator::DEPLOYMENT_SECRET,
            )
            .env("LIVECHAT_OPERATOR_PASSWORD", ADMIN_PASSWORD)
            .env("LIVECHAT_CLOCK_SKEW_MS", self.skew_ms.to_string())
            .env("LIVECHAT_PUBLIC_URLS", self.public_urls())
            .env("LIVECHAT_MODERATOR_URL", self.moderator_url())
            .env(
                "LIVECHAT_MODERATOR_ADMIN_SECRET",
                crate::moderator::ADMIN_SECRET,
            )
            .env("RUST_LOG", "error")
            .env("LIVECHAT_CONFIG", self.limits_file());
        if let Some(url) = &self.smtp_url {
            command.env("LIVECHAT_SMTP_URL", url);
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        // The widget and the console are served when built (the browser tests need them).
        let site = site_dir_path();
        if site.join("widget/widget_bg.wasm").exists() {
            command.arg("--assets-dir").arg(site);
        }
        command
    }

    /// Runs a `server` admin command (`operator add …`) on its data directory; the process
    /// must not be running. Returns whether it succeeded.
    pub fn admin(&self, args: &[&str]) -> bool {
        self.command()
            .args(args)
            .output()
            .is_ok_and(|output| output.status.success())
    }

    /// Runs a `server` admin command like [`Member::admin`] and returns what it printed, or
    /// `None` when it failed.
    pub fn admin_output(&self, args: &[&str]) -> Option<String> {
        let output = self.command().args(args).output().ok()?;
        let printed = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        output.status.success().then_some(printed)
    }

    /// Starts (or restarts) the process and waits until it answers `/health`.
    pub fn start(&mut self) {
        let mut command = self.command();
        command
            .args(["--listen", &format!("127.0.0.1:{}", self.port), "serve"])
            .stdout(Stdio::null());
        if let Some(path) = &self.stderr_file {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("the log file opens");
            command.stderr(file);
        }
        let child = command.spawn().expect("the server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "{} did not start listening",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts (or restarts) the process with its pull link pointed at a closed port: it serves
    /// clients and its peer still pulls from it, but it cannot catch up on what the peer wrote.
    pub fn start_cut_off(&mut self) {
        self.cut_off_from = Some(free_port());
        self.start();
        self.cut_off_from = None;
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Freezes the process (SIGSTOP): its connections stay open and silent, like a hung machine.
    pub fn freeze(&self) {
        self.signal("STOP");
    }

    /// Lets a frozen process run again (SIGCONT).
    pub fn thaw(&self) {
        self.signal("CONT");
    }

    fn signal(&self, name: &str) {
        if let Some(child) = &self.child {
            crate::signal(child.id(), name);
        }
    }

    /// Kills the process with SIGKILL: no shutdown, no flush, like a power cut.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            let _ = child.wait();
        }
    }

    /// Stops the process with SIGTERM, as an operator upgrading it does, and waits until it has
    /// exited (it tells its clients to move, serves them through the drain grace and flushes its
    /// writes). Returns whether it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        crate::signal(child.id(), "TERM");
        child.wait().is_ok_and(|status| status.success())
    }

    /// Routes it through proxies from its next start on.
    pub fn route_through(&mut self, routes: Routes) {
        self.routes = Some(routes);
    }

    fn peer_url(&self) -> String {
        match (self.cut_off_from, &self.routes) {
            (Some(closed), _) => format!("http://127.0.0.1:{closed}"),
            (None, Some(routes)) => routes.peer_url.clone(),
            (None, None) => format!("http://127.0.0.1:{}", self.peer_port),
        }
    }

    fn moderator_url(&self) -> String {
        match &self.routes {
            Some(routes) => routes.moderator_url.clone(),
            None => format!("http://127.0.0.1:{}", self.moderator_port),
        }
    }

    /// Both deployments' base URLs, primary first, comma-separated.
    fn public_urls(&self) -> String {
        if let Some(routes) = &self.routes {
            return routes.public_urls.join(",");
        }
        let (primary, redundant) = if self.name == "primary" {
            (self.port, self.peer_port)
        } else {
            (self.peer_port, self.port)
        };
        format!("http://127.0.0.1:{primary},http://127.0.0.1:{redundant}")
    }

    /// The base URL of the deployment.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The WebSocket URL of the deployment.
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}{}", self.port, protocol::WS_PATH)
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Starts both, with the demo site and the admin operator created on the primary (they
/// replicate). The redundant deployment's wall clock is `redundant_skew_ms` off.
pub fn start_pair(redundant_skew_ms: i64) -> (Member, Member) {
    let (mut primary, mut redundant) = prepare_pair(redundant_skew_ms);
    primary.start();
    redundant.start();
    (primary, redundant)
}

/// Like [`start_pair`], without starting the processes, so their routes can be set first.
pub fn prepare_pair(redundant_skew_ms: i64) -> (Member, Member) {
    let (port_a, port_b, moderator_port) = (free_port(), free_port(), free_port());
    let member = |name, port, peer_port, skew_ms| Member {
        moderator_port,
        name,
        port,
        peer_port,
        cut_off_from: None,
        data_dir: tempfile::tempdir().unwrap(),
        skew_ms,
        routes: None,
        child: None,
        smtp_url: None,
        env: Vec::new(),
        stderr_file: None,
    };
    let (primary, redundant) = (
        member("primary", port_a, port_b, 0),
        member("redundant", port_b, port_a, redundant_skew_ms),
    );
    for args in [
        &[
            "site",
            "add",
            "--id",
            SITE_ID,
            "--name",
            "Pair",
            "--allow-any-origin",
        ][..],
        &[
            "operator",
            "add",
            "--email",
            ADMIN_EMAIL,
            "--name",
            "Ada Admin",
            "--role",
            "admin",
        ][..],
    ] {
        assert!(primary.admin(args), "{args:?} failed");
    }
    (primary, redundant)
}

/// `server check-sync` once: true when the two data directories hold the same data.
pub fn in_sync_now(a: &Path, b: &Path) -> bool {
    Command::new(server_bin())
        .arg("check-sync")
        .arg(a)
        .arg(b)
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Runs `server check-sync` until it reports the two data directories identical, at most
/// `limit`; on failure, returns its last report.
pub fn check_sync_within(a: &Path, b: &Path, limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        let output = Command::new(server_bin())
            .arg("check-sync")
            .arg(a)
            .arg(b)
            .output()
            .map_err(|e| format!("check-sync did not run: {e}"))?;
        if output.status.success() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs `server check-sync` until it reports the two data directories identical (at most 60 s).
pub fn wait_until_in_sync(a: &Path, b: &Path) {
    if let Err(report) = check_sync_within(a, b, Duration::from_secs(60)) {
        panic!("never in sync:\n{report}");
    }
}

/// Waits (without blocking the runtime) until `server check-sync` reports the pair identical.
pub async fn in_sync(primary: &Member, redundant: &Member) {
    let (a, b) = (
        primary.data_dir.path().to_owned(),
        redundant.data_dir.path().to_owned(),
    );
    tokio::task::spawn_blocking(move || wait_until_in_sync(&a, &b))
        .await
        .unwrap();
}

/// Once the pair agrees, asserts that each of `ids` is stored exactly once on both deployments.
pub async fn stored_once_on_both(
    primary: &Member,
    redundant: &Member,
    ids: impl IntoIterator<Item = String>,
) {
    in_sync(primary, redundant).await;
    let stores = [
        stored_counts(primary.data_dir.path()),
        stored_counts(redundant.data_dir.path()),
    ];
    for id in ids {
        for (stored, member) in stores.iter().zip([primary, redundant]) {
            assert_eq!(stored.get(&id), Some(&1), "message {id} on {}", member.name);
        }
    }
}

/// How many times each message id is stored in a deployment's database.
pub fn stored_counts(dir: &Path) -> BTreeMap<String, usize> {
    let conn = rusqlite::Connection::open_with_flags(
        dir.join("livechat.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = conn.prepare("SELECT id FROM messages").unwrap();
    let mut counts = BTreeMap::new();
    for id in stmt.query_map([], |r| r.get::<_, String>(0)).unwrap() {
        *counts.entry(id.unwrap()).or_default() += 1;
    }
    counts
}
