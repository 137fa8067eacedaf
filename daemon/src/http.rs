//! A small HTTP client for native programs: a client asking the moderator which deployment is
//! active, and the moderator probing the deployments and answering its admin CLI. HTTP/1.1 on
//! hyper, over TLS (rustls) for `https://` URLs; every call has a deadline and a bounded answer, so a slow or garbage-speaking peer is
//! a failed call, never a stuck or crashed caller.

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
pub use hyper::Method;
use hyper::Request;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// The largest answer read, in bytes: a health report is far smaller.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// A status code and body.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The body.
    pub body: Bytes,
}

/// Why a call failed. Every variant means no usable answer arrived.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL or a header could not form a request.
    #[error("invalid request to {url}: {reason}")]
    InvalidRequest {
        /// The URL asked for.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// Connecting or exchanging the request failed (refused, reset, not HTTP).
    #[error("{0}")]
    Exchange(String),
    /// The answer's body could not be read, or was larger than [`MAX_ANSWER_BYTES`].
    #[error("reading the answer failed: {0}")]
    Body(String),
    /// No whole answer within the deadline.
    #[error("no answer within {} ms", .0.as_millis())]
    Timeout(Duration),
}

/// A pooled HTTP client for `http://` and `https://` URLs. Cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl Default for HttpClient {
    /// A client trusting the system's root certificates.
    fn default() -> Self {
        // Only a CA file can fail to load, and none is named here.
        let tls = crate::tls::client_config(None)
            .expect("the system roots alone always make a configuration");
        Self::with_tls(tls)
    }
}

impl HttpClient {
    /// A client verifying servers with `tls` (for example the system roots plus a private CA,
    /// [`crate::tls::client_config`]).
    pub fn with_tls(tls: std::sync::Arc<rustls::ClientConfig>) -> Self {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*tls).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Self {
            client: Client::builder(TokioExecutor::new())
                // A deployment frozen mid-connection must not be handed a pooled connection
                // forever; idle ones are dropped quickly.
                .pool_idle_timeout(Duration::from_secs(5))
                .build(connector),
        }
    }

    /// Sends a request and reads the answer (at most 256 KiB), all within `timeout`.
    pub async fn call(
        &self,
        method: Method,
        url: &str,
        bearer: Option<&str>,
        json: Option<Vec<u8>>,
        timeout: Duration,
    ) -> Result<Answer, HttpError> {
        self.call_limited(method, url, bearer, json, timeout, MAX_ANSWER_BYTES)
            .await
    }

    /// Like [`HttpClient::call`], with an answer of at most `max_answer_bytes` (a file).
    pub async fn call_limited(
        &self,
        method: Method,
        url: &str,
        bearer: Option<&str>,
        json: Option<Vec<u8>>,
        timeout: Duration,
        max_answer_bytes: usize,
    ) -> Result<Answer, HttpError> {
        let mut request = Request::builder().method(method).uri(url);
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if json.is_some() {
            request = request.header("content-type", "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(json.unwrap_or_default())))
            .map_err(|e| HttpError::InvalidRequest {
                url: url.to_owned(),
                reason: e.to_string(),
            })?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| HttpError::Exchange(describe(&e)))?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), max_answer_bytes)
                .collect()
                .await
                .map_err(|e| HttpError::Body(e.to_string()))?
                .to_bytes();
            Ok(Answer { status, body })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| HttpError::Timeout(timeout))?
    }
}

/// The innermost cause of a client error ("connection refused" rather than "client error").
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}
