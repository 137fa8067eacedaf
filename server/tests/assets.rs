//! The site built into the binary: with no `--assets-dir`, a deployment serves the widget, the
//! console and the loader itself, with the same types, compression, cache and CORS headers as
//! from a directory, a content hash as `ETag` (answered 304), the console's policy, and nothing
//! outside the site. From either, a file's compressed copy made by the build (brotli, else gzip)
//! is what a browser that accepts it gets.
//!
//! A debug build reads the embedded files from `target/site`, which `cargo xtask test` builds
//! before any test runs (and says so with `LIVECHAT_SITE_DIR`); run alone without a site, the
//! test says why it has nothing to check.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use support::TestServer;
use tower::ServiceExt;

async fn get(
    server: &TestServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> axum::http::Response<Body> {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    server::app(server.state.clone())
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_deployment_with_no_assets_dir_serves_the_site_built_into_it() {
    let site = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/site");
    if !site.join("widget/widget.js").exists() {
        assert!(
            std::env::var_os("LIVECHAT_SITE_DIR").is_none(),
            "the test run built a site, but the server does not see it at {}",
            site.display()
        );
        eprintln!(
            "no site built at {}: nothing embedded to check",
            site.display()
        );
        return;
    }
    let server = TestServer::start().await;
    assert!(server.state.config.assets_dir.is_none());

    let wasm = get(
        &server,
        "GET",
        "/widget/widget_bg.wasm",
        &[("accept-encoding", "gzip"), ("origin", support::ORIGIN)],
    )
    .await;
    assert_eq!(wasm.status(), StatusCode::OK);
    let headers = wasm.headers().clone();
    assert_eq!(headers["content-type"], "application/wasm");
    assert_eq!(headers["content-encoding"], "gzip");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["vary"], "accept-encoding");
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");
    // A browser that takes brotli gets the build's brotli copy, byte for byte, under its own tag.
    let brotli_copy = site.join("widget/widget_bg.wasm.br");
    assert!(brotli_copy.exists(), "the build compresses the module");
    let br = get(
        &server,
        "GET",
        "/widget/widget_bg.wasm",
        &[("accept-encoding", "gzip, deflate, br, zstd")],
    )
    .await;
    assert_eq!(br.status(), StatusCode::OK);
    assert_eq!(br.headers()["content-encoding"], "br");
    assert_eq!(br.headers()["content-type"], "application/wasm");
    assert_ne!(br.headers()["etag"].to_str().unwrap(), etag);
    let body = axum::body::to_bytes(br.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(&body[..], &std::fs::read(&brotli_copy).unwrap()[..]);
    // Brotli refused: the gzip copy.
    let gz = get(
        &server,
        "GET",
        "/widget/widget_bg.wasm",
        &[("accept-encoding", "br;q=0, gzip;q=0.8")],
    )
    .await;
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let body = axum::body::to_bytes(gz.into_body(), usize::MAX)
        .await
        .unwrap();
    let gzip_copy = site.join("widget/widget_bg.wasm.gz");
    assert_eq!(&body[..], &std::fs::read(&gzip_copy).unwrap()[..]);
    // The browser's copy (gzip, as first asked) is current: 304, no body.
    let again = get(
        &server,
        "GET",
        "/widget/widget_bg.wasm",
        &[("if-none-match", &etag), ("accept-encoding", "gzip")],
    )
    .await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let changed = get(
        &server,
        "GET",
        "/widget/widget_bg.wasm",
        &[("if-none-match", "\"other\"")],
    )
    .await;
    assert_eq!(changed.status(), StatusCode::OK);

    // The console: its page under the slash form of its name, with its policy.
    let bare = get(&server, "GET", "/console", &[]).await;
    assert!(bare.status().is_redirection(), "{}", bare.status());
    assert_eq!(bare.headers()["location"], "/console/");
    let console = get(&server, "GET", "/console/", &[]).await;
    assert_eq!(console.status(), StatusCode::OK);
    assert!(console.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let policy = console.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(
        policy.contains("'sha256-"),
        "the inline loader's hash: {policy}"
    );

    let loader = get(&server, "GET", "/loader.js", &[]).await;
    assert_eq!(loader.status(), StatusCode::OK);
    assert!(loader.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));

    // Only the site, only to read.
    for path in [
        "/widget/../../Cargo.toml",
        "/widget/..%2F..%2FCargo.toml",
        "/nothing-here",
        "/widget/nothing.js",
    ] {
        assert_eq!(
            get(&server, "GET", path, &[]).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    assert_eq!(
        get(&server, "POST", "/widget/widget.js", &[])
            .await
            .status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
    // The API is untouched by the site.
    assert_eq!(
        get(&server, "GET", "/health", &[]).await.status(),
        StatusCode::OK
    );
    server.shutdown().await;
}

/// Answers `path` from a deployment serving `assets` (a directory), with `accept_encoding`: the
/// content encoding (if any), the `Vary` header and the body.
async fn from_dir(
    assets: &std::path::Path,
    path: &str,
    accept_encoding: Option<&str>,
) -> (Option<String>, String, Vec<u8>) {
    let data = tempfile::tempdir().unwrap();
    let config = server::config::Config {
        data_dir: data.path().to_owned(),
        assets_dir: Some(assets.to_owned()),
        token_secret: Some("test secret of sixteen+".into()),
        ..Default::default()
    };
    let app = server::app(server::AppState::open(config).unwrap());
    let mut request = Request::get(path);
    if let Some(accepted) = accept_encoding {
        request = request.header("accept-encoding", accepted);
    }
    let response = app
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    let encoding = response
        .headers()
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_owned());
    let vary = response.headers()["vary"].to_str().unwrap().to_owned();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    (encoding, vary, body)
}

#[tokio::test]
async fn a_file_is_sent_as_the_compressed_copy_the_browser_takes() {
    let assets = tempfile::tempdir().unwrap();
    let widget = assets.path().join("widget");
    std::fs::create_dir_all(&widget).unwrap();
    // Stand-ins for the build's copies: distinct bytes show which one was sent.
    std::fs::write(widget.join("widget.js"), "export default 1;").unwrap();
    std::fs::write(widget.join("widget.js.br"), b"brotli copy").unwrap();
    std::fs::write(widget.join("widget.js.gz"), b"gzip copy").unwrap();
    let dir = assets.path();
    let path = "/widget/widget.js";

    let (encoding, vary, body) = from_dir(dir, path, Some("gzip, deflate, br, zstd")).await;
    assert_eq!(encoding.as_deref(), Some("br"));
    assert_eq!(body, b"brotli copy");
    assert!(vary.contains("accept-encoding"), "{vary}");

    // Brotli refused, or not offered: the gzip copy.
    for accepted in ["br;q=0, gzip", "gzip, deflate"] {
        let (encoding, _, body) = from_dir(dir, path, Some(accepted)).await;
        assert_eq!(encoding.as_deref(), Some("gzip"), "{accepted}");
        assert_eq!(body, b"gzip copy", "{accepted}");
    }
    // Neither: the file itself.
    let (encoding, vary, body) = from_dir(dir, path, None).await;
    assert_eq!(encoding, None);
    assert_eq!(body, b"export default 1;");
    assert!(vary.contains("accept-encoding"), "{vary}");
}
