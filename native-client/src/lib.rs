//! The native driver of the client core: [`Client`] runs a [`client_core::Link`] on tokio, with
//! real WebSockets, a real HTTP request to the moderator, the monotonic clock and an outbox file.
//! Tests, the load generator and command-line tools use it as a visitor or an operator would use
//! the widget or the console.
//!
//! - [`client`]: the driver loop and its handle.
//! - [`http`]: a deadline-bound HTTP client (the moderator's `/v1/active`, and the moderator's own
//!   probes of the deployments).

pub mod client;
pub mod http;

pub use client::{Client, ClientOptions};
