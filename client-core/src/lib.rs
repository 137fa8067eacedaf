//! Client logic shared by the visitor widget and the operator console, with no IO: no sockets, no
//! storage, no clock reads (time is passed in). The browser drivers in `widget` and `console` feed
//! it what arrives and persist what it holds, so the same rules run in every client and are tested
//! natively.
//!
//! - [`transcript`]: the messages of one conversation, deduplicated by id, in a stable order.
//! - [`outbox`]: messages written but not yet acknowledged, persisted by the driver and resent on
//!   every reconnect (ingest is idempotent, so resending is always safe).
//! - [`backoff`]: when to try reconnecting after a failure.
//! - [`cursors`]: where each conversation resumes at a deployment (`sync` from the highest
//!   sequence number received from its message log), and the next page of a long history.
//! - [`shortcodes`]: emoji shortcodes (`:smile:`) found and replaced from a fetched table.
//! - [`exact_json`]: JSON text made safe for the browser's parser, whose numbers are doubles
//!   (HLC values are above 2^53).
//! - [`link`]: the connection to the pair of deployments: where to connect (moderator, last known
//!   active, primary, redundant), liveness by heartbeat, redirects, and the outbox kept until each
//!   message is on both deployments.

pub mod backoff;
pub mod cursors;
pub mod exact_json;
pub mod link;
pub mod outbox;
pub mod shortcodes;
pub mod transcript;

pub use backoff::Backoff;
pub use cursors::Cursors;
pub use link::{Action, Event, KnownActive, Link, LinkConfig, LinkStatus};
pub use outbox::{Outbox, PendingMessage};
pub use transcript::{shown_status, DeliveryStatus, Entry, Transcript};
