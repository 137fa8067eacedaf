//! A native client restarted with a non-empty outbox: messages written while both deployments are
//! down survive the client's restart (its state file holds the token, the outbox and the last known
//! active deployment) and are delivered exactly once when a deployment returns, in the same
//! conversation, by the same visitor.

use std::time::Duration;
use tests::deployment::SITE_ID;
use tests::pair::{start_pair, stored_counts, stored_once_on_both, wait_until_in_sync};
use tests::visitor::Visitor;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_client_delivers_its_outbox_once() {
    let (mut primary, mut redundant) = start_pair(0);
    let state = tempfile::tempdir().unwrap();
    let state_file = state.path().join("client.json");
    let deployments = [primary.url(), redundant.url()];
    let with_state = |options: &mut native_client::ClientOptions| {
        options.state_file = Some(state_file.clone());
    };

    let mut first = Visitor::start_with(SITE_ID, deployments.clone(), None, with_state);
    first.write_paced(2, Duration::from_millis(20)).await;
    assert!(first.drained(Duration::from_secs(30)).await);
    let conversation_before = first.conversation();

    primary.kill9();
    redundant.kill9();
    first.write_paced(3, Duration::from_millis(20)).await;
    assert_eq!(first.outbox_len(), 3);
    let written = first.written.clone();
    drop(first);

    primary.start();
    redundant.start();
    let mut second = Visitor::start_with(SITE_ID, deployments, None, with_state);
    assert_eq!(second.conversation(), conversation_before);
    assert!(second.drained(Duration::from_secs(30)).await);

    stored_once_on_both(
        &primary,
        &redundant,
        written.iter().map(|id| id.to_string()),
    )
    .await;
}

#[test]
fn the_command_line_client_delivers_what_it_reads_to_both_deployments() {
    use std::io::Write;
    let (primary, redundant) = start_pair(0);
    let mut child =
        std::process::Command::new(tests::binary("LIVECHAT_CLIENT_BIN", "livechat-client"))
            .args(["--site", SITE_ID])
            .args([
                "--deployment",
                &primary.url(),
                "--deployment",
                &redundant.url(),
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"hello from a terminal\nand a second line\n")
        .unwrap();
    assert!(
        child.wait().unwrap().success(),
        "exits once both are on both"
    );
    wait_until_in_sync(primary.data_dir.path(), redundant.data_dir.path());
    assert_eq!(stored_counts(redundant.data_dir.path()).len(), 2);
}
