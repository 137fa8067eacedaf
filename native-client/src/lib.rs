//! The native driver of the client core: [`Client`] runs a [`client_core::Link`] on tokio, with
//! real WebSockets, a real HTTP request to the moderator, the monotonic clock and an outbox file.
//! Tests, the load generator and command-line tools use it as a visitor or an operator would use
//! the widget or the console.
//!
//! - [`client`]: the driver loop and its handle. The moderator is asked over the deadline-bound
//!   HTTP client of the `daemon` crate.

pub mod client;

pub use client::{Client, ClientOptions, Trace};
