//! A deployment as a real process: the `server` binary with a temporary data directory, a demo
//! site allowing the demo page's origin, and an admin operator, all set up through its CLI.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The admin's e-mail address.
pub const ADMIN_EMAIL: &str = "admin@example.com";
/// The admin's password.
pub const ADMIN_PASSWORD: &str = "correct horse battery";
/// The demo site's id.
pub const SITE_ID: &str = "demo";

/// A running server process, killed when dropped.
pub struct Deployment {
    /// The process.
    child: Child,
    /// Where the deployment listens.
    pub port: u16,
    /// The data directory (kept until the deployment is dropped).
    pub data_dir: tempfile::TempDir,
    /// The served site: the built widget and console plus the rendered demo page.
    pub assets_dir: tempfile::TempDir,
}

/// The `server` binary under test.
pub fn server_bin() -> PathBuf {
    crate::binary("LIVECHAT_SERVER_BIN", "server")
}

/// The built site (widget and console), where `cargo xtask test` put it.
pub fn site_dir_path() -> PathBuf {
    std::env::var_os("LIVECHAT_SITE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::root().join("target/site"))
}

/// The built site, failing the test with advice when it is missing.
pub fn site_dir() -> PathBuf {
    let path = site_dir_path();
    assert!(
        path.join("widget/widget_bg.wasm").exists(),
        "the widget is not built in {}: run `cargo xtask test`",
        path.display()
    );
    path
}

fn admin_command(data_dir: &Path) -> Command {
    let mut command = Command::new(server_bin());
    command
        .arg("--data-dir")
        .arg(data_dir)
        .env("LIVECHAT_OPERATOR_PASSWORD", ADMIN_PASSWORD);
    command
}

fn run(command: &mut Command) {
    let output = command.output().expect("the server binary runs");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

impl Deployment {
    /// Starts a deployment on a free port with the admin operator and the demo site.
    pub fn start() -> Deployment {
        let data_dir = tempfile::tempdir().expect("a temporary directory");
        let assets_dir = tempfile::tempdir().expect("a temporary directory");
        let site = site_dir();
        for app in ["widget", "console"] {
            std::os::unix::fs::symlink(site.join(app), assets_dir.path().join(app))
                .expect("symlink");
        }
        std::fs::copy(
            crate::root().join(xtask::LOADER_MIN),
            assets_dir.path().join("loader.js"),
        )
        .expect("loader.js");
        run(admin_command(data_dir.path()).args([
            "operator",
            "add",
            "--email",
            ADMIN_EMAIL,
            "--name",
            "Ada Admin",
            "--role",
            "admin",
        ]));

        let mut child = Command::new(server_bin())
            .arg("--data-dir")
            .arg(data_dir.path())
            .arg("--assets-dir")
            .arg(assets_dir.path())
            .args(["--listen", "127.0.0.1:0", "serve"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("the server prints its address");
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from the server: {line:?}"));
        let deployment = Deployment {
            child,
            port,
            data_dir,
            assets_dir,
        };
        // The page is served as http://localhost:PORT while the snippet names http://127.0.0.1:PORT:
        // two origins, as on a real customer's site.
        deployment.allow_origins(&[]);
        let page = xtask::render_demo_page(&crate::root(), &[deployment.url()], None, SITE_ID)
            .expect("the demo page renders");
        std::fs::write(deployment.assets_dir.path().join("index.html"), page)
            .expect("the demo page");
        deployment
    }

    /// The deployment's base URL, as the snippet names it.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The origin of the demo customer page.
    pub fn page_origin(&self) -> String {
        format!("http://localhost:{}", self.port)
    }

    /// Saves the demo site allowing the demo page's origin and `more`.
    pub fn allow_origins(&self, more: &[&str]) {
        let page = self.page_origin();
        let mut command = admin_command(self.data_dir.path());
        command.args(["site", "add", "--id", SITE_ID, "--name", "Northwind Coffee"]);
        for origin in std::iter::once(page.as_str()).chain(more.iter().copied()) {
            command.args(["--origin", origin]);
        }
        run(&mut command);
    }

    /// The operator console.
    pub fn console_url(&self) -> String {
        format!("{}/console/", self.url())
    }
}

impl Deployment {
    /// Sends SIGTERM and waits (at most 20 s) for the process to exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-s", "TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM could not be sent");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .expect("the process can be waited for")
            {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the deployment did not stop within 20 s of SIGTERM"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Logs the test admin in at the deployment `base` over HTTP; returns the session token.
pub async fn admin_token(base: &str) -> String {
    let login = serde_json::json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD });
    let answer = daemon::http::HttpClient::default()
        .call(
            daemon::http::Method::POST,
            &format!("{}/v1/operators/login", base.trim_end_matches('/')),
            None,
            Some(login.to_string().into_bytes()),
            std::time::Duration::from_secs(10),
        )
        .await
        .expect("the deployment answers a login");
    let session: serde_json::Value = serde_json::from_slice(&answer.body).expect("a login answer");
    session["token"]
        .as_str()
        .expect("the admin logs in")
        .to_owned()
}

/// An admin API call on the deployment at `base`, as the demo admin: returns the status and the
/// body as text.
pub async fn admin_call(
    base: &str,
    method: daemon::http::Method,
    path: &str,
    body: serde_json::Value,
) -> (u16, String) {
    let token = admin_token(base).await;
    let answer = daemon::http::HttpClient::default()
        .call(
            method,
            &format!("{}{path}", base.trim_end_matches('/')),
            Some(&token),
            Some(body.to_string().into_bytes()),
            std::time::Duration::from_secs(10),
        )
        .await
        .expect("the deployment answers");
    (
        answer.status,
        String::from_utf8_lossy(&answer.body).into_owned(),
    )
}
