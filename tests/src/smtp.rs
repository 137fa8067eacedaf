//! A real SMTP server for the mail tests: PyPI's `aiosmtpd` in its own process (installed by
//! `cargo xtask test`), storing every mail it accepts in a maildir the test reads.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `aiosmtpd` on loopback; killed when dropped.
pub struct SmtpServer {
    /// `smtp://127.0.0.1:PORT`, for `smtp_url`.
    pub url: String,
    maildir: tempfile::TempDir,
    child: Child,
}

impl SmtpServer {
    /// Starts it on a free port and waits until it accepts connections.
    pub fn start() -> SmtpServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let maildir = tempfile::tempdir().unwrap();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m aiosmtpd (run `cargo xtask test`, which installs it)");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "aiosmtpd did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpServer {
            url: format!("smtp://127.0.0.1:{port}"),
            maildir,
            child,
        }
    }

    /// Every mail received so far, as raw text (headers and body).
    pub fn mails(&self) -> Vec<String> {
        let new = self.maildir.path().join("mail").join("new");
        let mut paths: Vec<PathBuf> = std::fs::read_dir(new)
            .map(|entries| entries.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        paths.sort();
        paths
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect()
    }

    /// Waits (at most `limit`) for a mail containing every one of `parts`, and returns it.
    pub async fn wait_for(&self, parts: &[&str], limit: Duration) -> String {
        crate::eventually(&format!("a mail with {parts:?}"), limit, || async {
            self.mails()
                .into_iter()
                .find(|mail| parts.iter().all(|p| mail.contains(p)))
        })
        .await
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
