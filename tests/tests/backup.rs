//! Backups and restores of a real deployment, as an operator runs them: `server backup` while
//! visitors chat, `server restore` into a new data directory that a deployment then serves, a
//! restore refused under a running deployment, and the schedule with retention and an off-site
//! copy.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use tests::deployment::{server_bin, SITE_ID};
use tests::pair::{self, stored_counts};
use tests::visitor::Visitor;

/// Runs `server` with `args` (and nothing else configured).
fn server(args: &[&str]) -> Output {
    Command::new(server_bin())
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .expect("the server binary runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `server --data-dir DIR backup --to TO`, which must succeed; returns the backup's path.
fn backup(data_dir: &Path, to: &Path) -> PathBuf {
    let data = data_dir.to_string_lossy();
    let output = server(&["--data-dir", &data, "backup", "--to", &to.to_string_lossy()]);
    assert!(output.status.success(), "backup failed: {}", text(&output));
    let printed = String::from_utf8_lossy(&output.stdout);
    let path = printed
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("unexpected answer: {printed}"));
    PathBuf::from(path)
}

/// `server --data-dir DIR restore --from BACKUP [more]`.
fn restore(backup: &Path, data_dir: &Path, more: &[&str]) -> Output {
    let mut args = vec![
        "--data-dir".to_owned(),
        data_dir.to_string_lossy().into_owned(),
        "restore".to_owned(),
        "--from".to_owned(),
        backup.to_string_lossy().into_owned(),
    ];
    args.extend(more.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    server(&args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_visitors_chat_restores_into_a_deployment_that_serves_it() {
    let (primary, redundant) = pair::start_pair(0);
    let backups = tempfile::tempdir().expect("a directory");
    let deployments = [primary.url(), redundant.url()];
    let mut visitor = Visitor::start(SITE_ID, deployments, None);
    // Backups are taken while the visitor writes: each must be whole, none may stop the chat.
    let (data, to) = (
        primary.data_dir.path().to_owned(),
        backups.path().to_owned(),
    );
    let during = tokio::task::spawn_blocking(move || {
        (0..3)
            .map(|_| {
                std::thread::sleep(Duration::from_millis(150));
                backup(&data, &to)
            })
            .collect::<Vec<_>>()
    });
    visitor.write_paced(120, Duration::from_millis(5)).await;
    assert!(
        visitor.acknowledged(Duration::from_secs(30)).await,
        "every message is acknowledged while backups run"
    );
    let during = during.await.expect("the backups ran");
    pair::wait_until_in_sync(primary.data_dir.path(), redundant.data_dir.path());

    let last = backup(primary.data_dir.path(), backups.path());
    let written = stored_counts(primary.data_dir.path());
    assert_eq!(written.len(), 120, "all written, once");

    // A restore under the running deployment is refused and changes nothing.
    let refused = restore(&last, primary.data_dir.path(), &["--replace"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("a deployment is running"),
        "{}",
        text(&refused)
    );
    assert_eq!(stored_counts(primary.data_dir.path()), written);

    // Each backup taken mid-chat restores to a prefix of the chat, every message once.
    for taken in &during {
        let target = tempfile::tempdir().expect("a directory");
        let output = restore(taken, target.path(), &[]);
        assert!(output.status.success(), "{}", text(&output));
        let held = stored_counts(target.path());
        assert!(held.values().all(|n| *n == 1) && held.keys().all(|k| written.contains_key(k)));
    }

    // The last one holds everything and, restored, serves the chat again.
    // A deployment set up afresh on other ports (its own site and admin already written, so
    // the restore must be told to replace them; they are moved aside, not deleted).
    let (mut restored, _unused_peer) = pair::prepare_pair(0);
    let occupied = restore(&last, restored.data_dir.path(), &[]);
    assert!(!occupied.status.success());
    assert!(text(&occupied).contains("--replace"), "{}", text(&occupied));
    let output = restore(&last, restored.data_dir.path(), &["--replace"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("verified"), "{}", text(&output));
    pair::check_sync_within(
        primary.data_dir.path(),
        restored.data_dir.path(),
        Duration::from_secs(5),
    )
    .expect("the restored directory holds what the deployment held");
    restored.start();
    let health = tests::moderator::get_json(&format!("{}/health", restored.url())).await;
    assert_eq!(health["ok"], true, "{health}");
    assert_eq!(stored_counts(restored.data_dir.path()), written);
    let mut returning = Visitor::start(SITE_ID, [restored.url(), restored.url()], None);
    returning.write("after the restore");
    assert!(returning.acknowledged(Duration::from_secs(20)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_backups_keep_the_newest_and_copy_each_off_site() {
    let (mut primary, _redundant) = pair::prepare_pair(0);
    let (local, offsite) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    primary.env = vec![
        ("LIVECHAT_BACKUP_DIR", local.path().display().to_string()),
        ("LIVECHAT_BACKUP_EVERY", "1s".into()),
        ("LIVECHAT_BACKUP_KEEP", "2".into()),
        (
            "LIVECHAT_BACKUP_OFFSITE_DIR",
            offsite.path().display().to_string(),
        ),
    ];
    primary.start();
    let backups = |dir: &Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("livechat-primary-"))
            .collect();
        names.sort();
        names
    };
    // Bounded: at most 30 s for the schedule to take four backups.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 4 {
        assert!(Instant::now() < deadline, "only {seen:?} were taken");
        for dir in [local.path(), offsite.path()] {
            // Two, and a third for the moment between a new one's rename and the pruning.
            let names = backups(dir);
            assert!(names.len() <= 3, "retention keeps two: {names:?}");
        }
        seen.extend(backups(local.path()));
        std::thread::sleep(Duration::from_millis(100));
    }
    // The newest local backup is copied off-site (give the copy of the latest a moment).
    let health = tests::eventually(
        "a successful backup in /health",
        Duration::from_secs(10),
        || {
            let url = format!("{}/health", primary.url());
            async move {
                let report =
                    tests::moderator::get_json_with(&url, Some(pair::REPLICATION_SECRET)).await;
                report["backup"]["last_success_ms"].as_i64().map(|_| report)
            }
        },
    )
    .await;
    assert!(health["backup"]["last_error"].is_null(), "{health}");
    for name in backups(offsite.path()) {
        let target = tempfile::tempdir().unwrap();
        let output = restore(&offsite.path().join(&name), target.path(), &[]);
        assert!(output.status.success(), "{name}: {}", text(&output));
    }
    tests::eventually("two backups in each place", Duration::from_secs(10), || {
        let counts = (backups(local.path()).len(), backups(offsite.path()).len());
        async move { (counts == (2, 2)).then_some(()) }
    })
    .await;
}

#[test]
fn a_second_deployment_on_the_same_data_directory_is_refused() {
    let (mut primary, _redundant) = pair::start_pair(0);
    let data = primary.data_dir.path().to_string_lossy().into_owned();
    let output = server(&["--data-dir", &data, "--listen", "127.0.0.1:0", "serve"]);
    assert!(!output.status.success());
    assert!(
        text(&output).contains("already serving from"),
        "{}",
        text(&output)
    );
    primary.kill9();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_whose_data_directory_is_deleted_fails_its_health_check() {
    let (primary, _redundant) = pair::start_pair(0);
    let url = format!("{}/health", primary.url());
    let healthy = tests::moderator::get_json_with(&url, Some(pair::REPLICATION_SECRET)).await;
    assert_eq!(healthy["ok"], true, "{healthy}");
    // Deleted by mistake while it runs: its open file would still take writes nobody finds again.
    std::fs::remove_dir_all(primary.data_dir.path()).expect("deleted");
    let report = tests::moderator::get_json_with(&url, Some(pair::REPLICATION_SECRET)).await;
    assert_eq!(report["ok"], false, "{report}");
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.contains("was deleted")),
        "{report}"
    );
}
