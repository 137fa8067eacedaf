//! Security headers: `nosniff` and `Referrer-Policy` on every answer; the console's pages carry a
//! policy that allows only its own scripts (Trunk's inline loader by hash), WebAssembly and the
//! configured deployments and moderator, and forbid framing.

use axum::body::Body;
use axum::http::Request;
use base64::Engine;
use sha2::Digest;
use tower::ServiceExt;

const LOADER: &str = "\nimport init from '/console/console.js';\nawait init();\n";

/// A deployment whose assets are a console page with an inline loader and a widget file, and the
/// data directory to keep while it runs.
fn app(assets: &std::path::Path) -> (axum::Router, tempfile::TempDir) {
    std::fs::create_dir_all(assets.join("console")).unwrap();
    std::fs::create_dir_all(assets.join("widget")).unwrap();
    std::fs::write(
        assets.join("console/index.html"),
        format!("<html><head><script type=\"module\">{LOADER}</script></head></html>"),
    )
    .unwrap();
    std::fs::write(assets.join("widget/widget.js"), "export default 1;").unwrap();
    let data = tempfile::tempdir().unwrap();
    let config = server::config::Config {
        data_dir: data.path().to_owned(),
        assets_dir: Some(assets.to_owned()),
        token_secret: Some("test secret of sixteen+".into()),
        public_urls: vec![
            "https://chat-a.example".into(),
            "https://chat-b.example".into(),
        ],
        moderator_url: Some("https://moderator.example".into()),
        ..Default::default()
    };
    (server::app(server::AppState::open(config).unwrap()), data)
}

async fn headers_of(app: &axum::Router, path: &str) -> axum::http::HeaderMap {
    let request = Request::get(path).body(Body::empty()).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.headers().clone()
}

#[tokio::test]
async fn the_console_runs_only_its_own_code_and_cannot_be_framed() {
    let assets = tempfile::tempdir().unwrap();
    let (app, _data) = app(assets.path());
    let headers = headers_of(&app, "/console/").await;
    let policy = headers["content-security-policy"].to_str().unwrap();
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(LOADER));
    for part in [
        "default-src 'none'",
        "'wasm-unsafe-eval'",
        &format!("'sha256-{hash}'"),
        "frame-ancestors 'none'",
        "https://chat-a.example wss://chat-a.example",
        "https://chat-b.example wss://chat-b.example",
        "https://moderator.example",
    ] {
        assert!(policy.contains(part), "{part} missing from {policy}");
    }
    assert!(!policy.contains("'unsafe-inline'"), "{policy}");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
}

#[tokio::test]
async fn widget_files_and_the_api_are_never_sniffed_and_leak_no_referrer() {
    let assets = tempfile::tempdir().unwrap();
    let (app, _data) = app(assets.path());
    for path in ["/widget/widget.js", "/v1/client-config", "/health"] {
        let headers = headers_of(&app, path).await;
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
    }
    // The widget runs inside the customer's page, under the customer's policy.
    let widget = headers_of(&app, "/widget/widget.js").await;
    assert!(!widget.contains_key("content-security-policy"));
    assert!(!widget.contains_key("x-frame-options"));
}
