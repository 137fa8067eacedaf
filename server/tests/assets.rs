//! The site built into the binary: with no `--assets-dir`, a deployment serves the widget, the
//! console and the loader itself, with the same types, compression, cache and CORS headers as
//! from a directory, a content hash as `ETag` (answered 304), the console's policy, and nothing
//! outside the site.
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
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");
    // The browser's copy is current: 304, no body.
    let again = get(
        &server,
        "GET",
        "/widget/widget_bg.wasm",
        &[("if-none-match", &etag)],
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
