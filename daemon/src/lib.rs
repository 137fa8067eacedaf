//! Service plumbing shared by the long-running programs (the `server` and the `moderator`):
//!
//! - [`config`]: configuration in layers (built-in defaults, then a TOML file with unknown keys
//!   refused, then environment variables and flags), with one error type;
//! - [`shutdown_signal`]: resolves on Ctrl-C or SIGTERM, for graceful shutdown;
//! - [`http`]: a small HTTP/1.1 client (plain or TLS) where every call has a deadline and a
//!   bounded answer;
//! - [`logging`]: log lines for people or one JSON object per line, with the program's name;
//! - [`metrics`]: the process's metrics, rendered in the Prometheus text format;
//! - [`listen`]: serving a router over plain TCP or TLS with header-read and handshake timeouts;
//! - [`tls`]: rustls configurations from PEM files and system roots, and the rule that secrets
//!   stay off plain HTTP.
//!
//! Nothing here knows about chats or deployments; the native client uses the HTTP client too.

pub mod config;
pub mod http;
pub mod listen;
pub mod logging;
pub mod metrics;
pub mod tls;

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}
