//! Serves the built static site (the widget, the console, the loader and the demo page) so that a
//! deployment is self-contained: if one data centre is gone, the other serves the assets too.
//!
//! The site is built into the binary ([`Site`]): a release build of `server` embeds the files of
//! `target/site` as they were when it was compiled (build the site first: `cargo xtask dist` does
//! both), so one file runs a complete deployment. A debug build reads the same files from disk
//! at each request, so a rebuilt site shows without recompiling the server. `--assets-dir` still
//! overrides both (a site built separately, the tests' own copies).
//!
//! Widget assets are fetched cross-origin by the loader on customers' pages (`import()` of the
//! module and `fetch()` of the `.wasm` both use CORS), so every asset is served with
//! `Access-Control-Allow-Origin: *`; they are public files. File names carry no content hash (the
//! loader must find them by a stable name), so they are served with `Cache-Control: no-cache`: the
//! browser keeps a copy but revalidates it (`If-Modified-Since` from a directory, the file's
//! content hash as `ETag` when embedded, answered 304), so a visitor never runs a JavaScript glue
//! file from one release against the `.wasm` of another.
//!
//! What a visitor downloads is compressed once, at build time: `cargo xtask` writes a brotli
//! (`.br`, best quality) and a gzip (`.gz`, level 9) copy beside every module, script, stylesheet
//! and JSON file, and a browser that accepts one gets it as it is (brotli first). Files without a
//! copy are gzipped per request.

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Router;
use std::path::{Path, PathBuf};
use tower_http::compression::CompressionLayer;
use tower_http::cors::CorsLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

/// The loader, built into the binary so that every deployment renders the same snippet
/// (`GET /v1/admin/sites/{id}/snippet`) whether or not it serves the static site: minified
/// (`www/loader.min.js`, made from `www/loader.js` by `cargo xtask`), since every page of a
/// customer's site carries it.
pub const LOADER: &str = include_str!("../../www/loader.min.js");

/// The site built into the binary. Missing when the server was compiled before the site was
/// built: then it is empty and a deployment serves the API only, unless given `--assets-dir`.
#[derive(rust_embed::Embed)]
#[folder = "../target/site/"]
#[allow_missing = true]
struct Site;

/// Where a deployment's static files come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Assets {
    /// A directory given with `--assets-dir`.
    Dir(PathBuf),
    /// The site built into the binary.
    Embedded,
}

impl Assets {
    /// The directory if one is configured, else the embedded site if the binary has one, else
    /// nothing (an API-only deployment).
    pub fn choose(dir: Option<&Path>) -> Option<Assets> {
        match dir {
            Some(dir) => Some(Assets::Dir(dir.to_owned())),
            None => Site::get("widget/widget.js").map(|_| Assets::Embedded),
        }
    }

    /// The console's `index.html` (its inline script's hash goes into the console's policy), or
    /// an empty text when there is none.
    pub fn console_index(&self) -> String {
        match self {
            Assets::Dir(dir) => {
                std::fs::read_to_string(dir.join("console/index.html")).unwrap_or_default()
            }
            Assets::Embedded => Site::get("console/index.html")
                .map(|file| String::from_utf8_lossy(&file.data).into_owned())
                .unwrap_or_default(),
        }
    }
}

/// A router serving every file of `assets`; directories serve their `index.html`.
pub fn router<S: Clone + Send + Sync + 'static>(assets: &Assets) -> Router<S> {
    let files = match assets {
        // The build wrote a brotli and a gzip copy beside each file a browser runs (`cargo xtask`,
        // `precompress`): those are sent as they are when the browser takes them, so what a
        // visitor downloads is compressed as far as it goes without a compressor per request.
        Assets::Dir(dir) => Router::new()
            .fallback_service(ServeDir::new(dir).precompressed_br().precompressed_gzip()),
        Assets::Embedded => Router::new().fallback(embedded),
    };
    files
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        // The files are public: any page may see how long they took and how much was
        // downloaded (the Resource Timing sizes a customer's monitoring, and the tests, read).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::HeaderName::from_static("timing-allow-origin"),
            HeaderValue::from_static("*"),
        ))
        // Every file may be sent in more than one encoding: caches keep one copy per encoding.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::VARY,
            HeaderValue::from_static("accept-encoding"),
        ))
        .layer(CorsLayer::new().allow_origin(tower_http::cors::Any))
        // Whatever has no compressed copy (the pages, the sound) is gzipped per request; a
        // response that already has a `Content-Encoding` passes through untouched.
        .layer(CompressionLayer::new())
}

/// The compressed copy of a file to send for a request's `Accept-Encoding`: brotli when the
/// browser takes it, else gzip, else none (`identity`). An encoding given `q=0` is refused.
fn preferred_encoding(headers: &HeaderMap) -> Option<&'static str> {
    let accepted: Vec<&str> = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next()?;
            let refused = parts.any(|param| {
                param
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (!refused).then_some(name)
        })
        .collect();
    ["br", "gzip"]
        .into_iter()
        .find(|encoding| accepted.iter().any(|a| a.eq_ignore_ascii_case(encoding)))
}

/// One file of the embedded site, answered like the directory service answers: `GET` and `HEAD`
/// only, `index.html` for a directory (and a redirect to the slash form of its name), 404 for
/// anything else, 304 when the browser's copy is current.
async fn embedded(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
        )
            .into_response();
    }
    let path = uri.path().trim_start_matches('/');
    // Names are looked up, never joined to a path, but a debug build reads from disk: nothing
    // that could climb out of the site gets that far.
    if path.split('/').any(|part| part == "..") || path.contains('\\') {
        return StatusCode::NOT_FOUND.into_response();
    }
    let name = if path.is_empty() || path.ends_with('/') {
        format!("{path}index.html")
    } else {
        path.to_owned()
    };
    let Some(file) = Site::get(&name) else {
        if Site::get(&format!("{path}/index.html")).is_some() {
            return Redirect::temporary(&format!("/{path}/")).into_response();
        }
        return StatusCode::NOT_FOUND.into_response();
    };
    let content_type = file.metadata.mimetype().to_owned();
    // The compressed copy the build made, when the browser takes one: its own bytes, so its own
    // tag.
    let (file, encoding) = match preferred_encoding(&headers).and_then(|encoding| {
        let suffix = if encoding == "br" { "br" } else { "gz" };
        Site::get(&format!("{name}.{suffix}")).map(|copy| (copy, encoding))
    }) {
        Some((copy, encoding)) => (copy, Some(encoding)),
        None => (file, None),
    };
    let hash = file.metadata.sha256_hash();
    let etag = format!("\"{}\"", hex(&hash[..16]));
    let current = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag));
    if current {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let mut response = (
        [(header::CONTENT_TYPE, content_type), (header::ETAG, etag)],
        // Embedded files are borrowed from the binary: no copy per request.
        match file.data {
            std::borrow::Cow::Borrowed(data) => axum::body::Bytes::from_static(data),
            std::borrow::Cow::Owned(data) => axum::body::Bytes::from(data),
        },
    )
        .into_response();
    if let Some(encoding) = encoding {
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    response
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
