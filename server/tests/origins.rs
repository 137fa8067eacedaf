//! Which pages may open visitor sessions: a site names its origins or allows any in so many words;
//! a connection without `Origin`, or with one that is not ASCII, to a site with a list is refused.

mod support;

use protocol::{ErrorCode, ServerFrame, SiteId};
use server::store::{Site, ANY_ORIGIN};
use std::process::Command;
use support::{visitor_hello, TestServer, ORIGIN};

/// The answer to a visitor `hello` for `site_id` on a connection whose upgrade carried `origin`.
async fn answer(server: &TestServer, site_id: &str, origin: Option<&[u8]>) -> ServerFrame {
    let mut client = server.connect_with_origin(origin).await;
    client.send(&visitor_hello(site_id, None)).await;
    client.recv().await
}

fn is_forbidden(frame: &ServerFrame) -> bool {
    matches!(
        frame,
        ServerFrame::Error {
            code: ErrorCode::Forbidden,
            ..
        }
    )
}

#[tokio::test]
async fn a_site_with_a_list_refuses_connections_without_a_readable_origin() {
    let server = TestServer::start().await;
    let listed = answer(&server, "acme", Some(ORIGIN.as_bytes())).await;
    assert!(matches!(listed, ServerFrame::Welcome { .. }), "{listed:?}");
    let missing = answer(&server, "acme", None).await;
    assert!(is_forbidden(&missing), "{missing:?}");
    // Not ASCII (browsers send international names as punycode): once this skipped the check,
    // now it matches nothing.
    let garbled = answer(&server, "acme", Some("https://acmé.example".as_bytes())).await;
    assert!(is_forbidden(&garbled), "{garbled:?}");
    let null = answer(&server, "acme", Some(b"null")).await;
    assert!(is_forbidden(&null), "{null:?}");
}

#[tokio::test]
async fn a_site_open_to_any_origin_takes_clients_without_one() {
    let server = TestServer::start().await;
    server
        .state
        .store
        .write(|w| {
            w.upsert_site(&Site {
                id: SiteId("open".into()),
                name: "Open".into(),
                allowed_origins: vec![ANY_ORIGIN.into()],
            })
        })
        .await
        .unwrap();
    for origin in [None, Some(&b"https://anywhere.example"[..])] {
        let reply = answer(&server, "open", origin).await;
        assert!(matches!(reply, ServerFrame::Welcome { .. }), "{reply:?}");
    }
}

/// Runs `server --data-dir DIR site add ARGS` and returns whether it succeeded and its stderr.
fn site_add(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("--data-dir")
        .arg(dir)
        .args(["site", "add", "--id", "shop", "--name", "Shop"])
        .args(args)
        .output()
        .expect("the server binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.success(), stderr)
}

#[tokio::test]
async fn site_add_needs_origins_or_an_explicit_any_and_saves_nothing_malformed() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, stderr) = site_add(dir.path(), &[]);
    assert!(!ok);
    assert!(stderr.contains("--allow-any-origin"), "{stderr}");
    let (ok, stderr) = site_add(
        dir.path(),
        &[
            "--origin",
            "https://shop.example",
            "--origin",
            "https://shop.example/cart",
        ],
    );
    assert!(!ok);
    assert!(stderr.contains("https://shop.example/cart"), "{stderr}");
    let store = server::store::Store::open(dir.path()).unwrap();
    let saved = store
        .read(|r| r.site(&SiteId("shop".into())))
        .await
        .unwrap();
    assert!(saved.is_none(), "nothing saved from refused commands");
    store.shutdown();

    let (ok, stderr) = site_add(dir.path(), &["--origin", "https://Shop.Example/"]);
    assert!(ok, "{stderr}");
    let (ok, stderr) = site_add(
        dir.path(),
        &["--allow-any-origin", "--origin", "https://x.example"],
    );
    assert!(!ok, "both at once is refused: {stderr}");
    let store = server::store::Store::open(dir.path()).unwrap();
    let saved = store
        .read(|r| r.site(&SiteId("shop".into())))
        .await
        .unwrap();
    assert_eq!(
        saved.unwrap().allowed_origins,
        vec!["https://shop.example".to_owned()]
    );
    store.shutdown();
}
