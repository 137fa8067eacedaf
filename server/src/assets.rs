//! Serves the built static site (the widget, the console, the loader and the demo page) so that a
//! deployment is self-contained: if one data centre is gone, the other serves the assets too.
//!
//! Widget assets are fetched cross-origin by the loader on customers' pages (`import()` of the
//! module and `fetch()` of the `.wasm` both use CORS), so every asset is served with
//! `Access-Control-Allow-Origin: *`; they are public files. File names carry no content hash (the
//! loader must find them by a stable name), so they are served with `Cache-Control: no-cache`: the
//! browser keeps a copy but revalidates it (`If-Modified-Since`, answered 304), so a visitor never
//! runs a JavaScript glue file from one release against the `.wasm` of another.

use axum::http::{header, HeaderValue};
use axum::Router;
use std::path::Path;
use tower_http::compression::CompressionLayer;
use tower_http::cors::CorsLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

/// The loader, built into the binary so that every deployment renders the same snippet
/// (`GET /v1/admin/sites/{id}/snippet`) whether or not it serves the static site.
pub const LOADER: &str = include_str!("../../www/loader.js");

/// A router serving every file under `dir`; directories serve their `index.html`.
pub fn router<S: Clone + Send + Sync + 'static>(dir: &Path) -> Router<S> {
    Router::new()
        .fallback_service(ServeDir::new(dir))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        .layer(CorsLayer::new().allow_origin(tower_http::cors::Any))
        .layer(CompressionLayer::new())
}
