//! What goes into and comes out of a [`Link`](super::Link): its configuration, the actions the
//! driver carries out, the events the app receives, the status it shows, and the known active
//! deployment the driver persists.

use crate::outbox::PendingMessage;
use protocol::{ClientFrame, ErrorCode, ServerFrame};

/// Tuning and addresses.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    /// The deployments' base URLs (`https://chat-a.example.com`), primary first; one or two.
    pub deployments: Vec<String>,
    /// The moderator's base URL, if there is one.
    pub moderator: Option<String>,
    /// Send a `ping` after this long without sending anything, in ms.
    pub heartbeat_ms: u64,
    /// Declare the link dead after this long without receiving anything, in ms.
    pub silence_ms: u64,
    /// While the chat is active (a message written or received in the last `active_window_ms`,
    /// or one sent and not yet acknowledged): send a `ping` after this long without sending
    /// anything, in ms.
    pub active_heartbeat_ms: u64,
    /// While the chat is active: declare the link dead after this long without receiving
    /// anything (counted from the later of the last receipt and the start of a wait for an
    /// acknowledgement), in ms.
    pub active_silence_ms: u64,
    /// How long after the last message written or received a chat counts as active, in ms.
    pub active_window_ms: u64,
    /// How long the moderator may take to answer, in ms.
    pub moderator_timeout_ms: u64,
    /// How long opening a connection and getting its welcome may take, in ms.
    pub connect_timeout_ms: u64,
    /// How long the deployment a working connection is to be left for (on a redirect or a
    /// return) may take to welcome, in ms, while the working connection stays up; a healthy one
    /// welcomes in milliseconds. Also how long a connection attempt runs alone before the other
    /// deployment is tried beside it.
    pub switch_timeout_ms: u64,
    /// How long a deployment that failed is not returned to on a redirect, in ms.
    pub suspect_ms: u64,
    /// Seeds the jitter of the backoff (any value; different per client).
    pub seed: u64,
}

impl LinkConfig {
    /// The defaults: a heartbeat every second, dead after 2.5 s of silence; while the chat is
    /// active (a message in the last 10 s, or one waiting for its acknowledgement, which a
    /// healthy deployment sends within milliseconds), a heartbeat every 500 ms and dead after
    /// 1.5 s of silence. An idle link costs one ping a second; a frozen or black-holed
    /// deployment costs a chat in progress 1.5 s.
    pub fn new(deployments: Vec<String>, moderator: Option<String>, seed: u64) -> Self {
        Self {
            deployments,
            moderator,
            heartbeat_ms: 1_000,
            silence_ms: 2_500,
            active_heartbeat_ms: 500,
            active_silence_ms: 1_500,
            active_window_ms: 10_000,
            moderator_timeout_ms: 800,
            connect_timeout_ms: 4_000,
            switch_timeout_ms: 1_000,
            suspect_ms: 5_000,
            seed,
        }
    }
}

/// What the driver must do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// GET `url` (the moderator's `/v1/active`) within `timeout_ms`, then call
    /// [`Link::moderator_answered`] with the decoded answer, or `None` on any failure.
    AskModerator {
        /// The full URL.
        url: String,
        /// The deadline.
        timeout_ms: u64,
    },
    /// Open a WebSocket to `url`, then report [`Link::opened`], [`Link::received`] and
    /// [`Link::closed`] with this `conn`.
    Open {
        /// Names the connection in callbacks.
        conn: u64,
        /// The WebSocket URL.
        url: String,
    },
    /// Send `frame` on connection `conn`.
    Send {
        /// The connection.
        conn: u64,
        /// The frame.
        frame: ClientFrame,
    },
    /// Close connection `conn`; the link ignores its callbacks from now on.
    Close {
        /// The connection.
        conn: u64,
    },
}

/// The link's state, for a connection indicator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkStatus {
    /// Not started, or stopped for good.
    Idle,
    /// Looking for a deployment.
    Connecting,
    /// Welcomed by deployment `deployment` (an index into [`LinkConfig::deployments`]).
    Online {
        /// Which deployment.
        deployment: usize,
    },
    /// Both deployments failed; waiting before the next round.
    Offline,
}

/// What the app hears.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The status changed.
    Status(LinkStatus),
    /// A deployment welcomed the client (the frame is the `welcome`). `moved` is true when it is
    /// not the deployment that welcomed it last: sequence numbers are per deployment, so the app
    /// resynchronises in full and merges by id instead of asking for what follows its last one.
    Welcome {
        /// The `welcome` frame.
        frame: ServerFrame,
        /// The deployment.
        deployment: usize,
        /// Whether it differs from the previous welcome's.
        moved: bool,
    },
    /// Any other frame for the app: `ack`, `replicated`, `message`, `history`, `conversation`,
    /// `typing`, `error`. (`pong` and `redirect` are handled here.)
    Frame(ServerFrame),
    /// A deployment refused a message for good (too large, empty, not allowed, a conversation
    /// closed meanwhile): resending cannot help, so the link has taken it out of the outbox (an
    /// [`Event::OutboxChanged`] follows). The app tells the writer, or, for a conversation closed
    /// while the message travelled, may queue it again in a new conversation. A refusal that a
    /// later attempt can cure (`internal`, `too_many_requests`: nothing was stored) keeps the
    /// message in the outbox and arrives as a [`Event::Frame`]. A refusal is reported once,
    /// however often it arrives.
    Refused {
        /// The message, as it was in the outbox.
        message: PendingMessage,
        /// Why it was refused.
        code: ErrorCode,
        /// The deployment's explanation, for the writer.
        reason: String,
    },
    /// The outbox changed: persist it.
    OutboxChanged,
}

/// The newest decision the client knows: which deployment is active, under which epoch. Persisted
/// by the driver so a reload during a moderator outage still starts at the right place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KnownActive {
    /// The moderator's epoch.
    pub epoch: u64,
    /// Index into [`LinkConfig::deployments`].
    pub deployment: usize,
}
