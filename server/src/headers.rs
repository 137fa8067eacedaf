//! Security headers. Every answer of a deployment carries `X-Content-Type-Options: nosniff` (a
//! file is only ever what its type says) and `Referrer-Policy: no-referrer` (no console address, no
//! conversation id in another site's logs). The operator console's pages also carry a Content
//! Security Policy that allows only this deployment's own scripts (the inline loader Trunk writes by
//! its hash), WebAssembly, and connections to the deployments and the moderator the console
//! follows, and that refuses to be framed (`frame-ancestors 'none'`, `X-Frame-Options: DENY`), so
//! no other page can overlay or drive it.
//!
//! The widget's files carry no policy of their own: they run inside the customer's page, whose
//! policy applies (what it must allow is in `ARCHITECTURE.md`).

use crate::config::Config;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The console's Content Security Policy, built once at start-up from the configuration and the
/// console's `index.html`.
#[derive(Clone)]
pub struct ConsolePolicy(Arc<HeaderValue>);

impl ConsolePolicy {
    /// The policy for the console whose page is `index` (its `index.html`), connecting to the
    /// configured public URLs and moderator.
    pub fn new(config: &Config, index: &str) -> ConsolePolicy {
        let scripts: String = inline_scripts(index)
            .map(|script| format!(" 'sha256-{}'", STANDARD.encode(Sha256::digest(script))))
            .collect();
        let mut connect = String::from("'self'");
        for url in config.public_urls.iter().chain(&config.moderator_url) {
            let origin = url.trim_end_matches('/');
            connect.push(' ');
            connect.push_str(origin);
            // The console's link to each deployment is a WebSocket on the same host.
            if let Some(rest) = origin.strip_prefix("http") {
                connect.push_str(" ws");
                connect.push_str(rest);
            }
        }
        let policy = format!(
            "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'{scripts}; \
             style-src 'self'; img-src 'self' data: blob:; connect-src {connect}; \
             frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        );
        ConsolePolicy(Arc::new(HeaderValue::from_str(&policy).unwrap_or_else(
            |_| HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'"),
        )))
    }
}

/// The text of each inline `<script>` (one without `src`), as the browser hashes it.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    html.split("<script").skip(1).filter_map(|tag| {
        let (attributes, rest) = tag.split_once('>')?;
        if attributes.contains("src=") {
            return None;
        }
        rest.split_once("</script>").map(|(body, _)| body)
    })
}

/// Adds the headers every answer carries.
pub async fn everywhere(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    daemon::listen::add_baseline_headers(response.headers_mut());
    response
}

/// Adds the console's policy to the console's pages.
pub async fn console(
    axum::extract::State(policy): axum::extract::State<ConsolePolicy>,
    request: Request,
    next: Next,
) -> Response {
    let is_console = request.uri().path().starts_with("/console");
    let mut response = next.run(request).await;
    if is_console {
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_SECURITY_POLICY, (*policy.0).clone());
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_scripts_are_found_and_external_ones_skipped() {
        let html = "<script type=\"module\">\nimport x;\n</script><script src=\"/a.js\"></script>";
        assert_eq!(
            inline_scripts(html).collect::<Vec<_>>(),
            vec!["\nimport x;\n"]
        );
    }
}
