//! The replication protocol between the two deployments: the event log entries they exchange and
//! the frames of the replication WebSocket (`/v1/replication`).
//!
//! Every state change on a deployment is one [`LoggedEvent`], appended to its log in the same
//! transaction as the change itself. The peer pulls the log: it subscribes with the last sequence
//! number it applied, receives batches in order, applies each batch and its new cursor in one
//! transaction, and answers [`ReplicationFrame::Applied`]. Applying is idempotent (an event id is
//! applied once) and every change merges by a rule that gives the same result in any order, so the
//! two databases converge whatever the timing.

use crate::ids::{ConversationId, MessageId, OperatorId, SiteId, VisitorId};
use crate::model::{AuthorKind, ConversationState, OperatorRole};
use serde::{Deserialize, Serialize};

/// The path of the replication endpoint.
pub const REPLICATION_PATH: &str = "/v1/replication";

/// The path from which a deployment that lost its data takes back its own events from the peer
/// (`?origin=<its name>&after=<position>&below=<origin_seq>`, the replication secret): see
/// [`ReturnedEvents`].
pub const RETURNED_PATH: &str = "/v1/replication/returned";

/// The most events one [`ReturnedEvents`] page carries.
pub const RETURNED_PAGE: usize = 500;

/// A page of the events the peer holds whose origin is the caller, in the peer's log order: how a
/// deployment restarted on an empty (or restored) data directory takes back what it had written
/// itself before the loss. The peer's own events come back over the ordinary pull link.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReturnedEvents {
    /// The events, each with its original origin and position in the caller's log.
    pub events: Vec<LoggedEvent>,
    /// The position in the peer's log to ask after for the next page.
    pub next_after: u64,
    /// True when this page was the last: nothing further of the caller's is held below `below`.
    pub done: bool,
}

/// A hybrid logical clock value: milliseconds since the Unix epoch in the high 48 bits, a logical
/// counter in the low 16. Comparing two values as integers orders events causally, even when the
/// deployments' wall clocks disagree.
pub type Hlc = u64;

/// Builds an HLC value from a wall time and a counter.
pub fn hlc_from_parts(wall_ms: u64, logical: u16) -> Hlc {
    (wall_ms << 16) | u64::from(logical)
}

/// The wall-clock part of an HLC value, in Unix milliseconds.
pub fn hlc_wall_ms(hlc: Hlc) -> u64 {
    hlc >> 16
}

/// One change, as recorded in a deployment's event log and applied by its peer.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedEvent {
    /// Unique across deployments (UUIDv7); an event is applied once per deployment.
    pub id: uuid::Uuid,
    /// The deployment where the change happened.
    pub origin: String,
    /// The origin's sequence number for this event (its position in the origin's log).
    pub seq: u64,
    /// When the change happened, on the origin's hybrid logical clock.
    pub hlc: Hlc,
    /// What changed.
    pub change: Change,
}

/// A state change. Each variant documents how it merges.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// A site was created or edited. Last writer wins by (hlc, origin).
    SiteUpserted {
        /// The site.
        id: SiteId,
        /// Its display name.
        name: String,
        /// Origins allowed to embed the widget.
        allowed_origins: Vec<String>,
    },
    /// An operator was created or edited. Last writer wins by (hlc, origin). The password hash
    /// travels so the operator can log in at either deployment.
    OperatorUpserted {
        /// The account.
        id: OperatorId,
        /// Login e-mail address.
        email: String,
        /// Display name.
        name: String,
        /// argon2id PHC string.
        password_hash: String,
        /// Admin or agent.
        role: OperatorRole,
        /// The change takes the operator's existing sessions away (a new password, another
        /// role): every session created before it ends, on both deployments. Absent in events
        /// written before sessions could end this way.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        ends_sessions: bool,
    },
    /// A site setting (its look, its forms, its identity secret) was set. Last writer wins by
    /// (hlc, origin), for each site and kind of setting apart: two admins editing the look and
    /// the forms of one site on the two deployments both keep their change.
    SiteSettingSet {
        /// The site.
        site_id: SiteId,
        /// The setting and its new value.
        setting: SiteSetting,
    },
    /// A canned reply was created, edited (`Some`) or removed (`None`). Last writer wins by
    /// (hlc, origin) for each reply: a removal is a value like any other, so an edit on one
    /// deployment and a removal on the other agree on whichever came last.
    CannedReplySet {
        /// The reply.
        id: crate::canned::CannedId,
        /// Its new value; `None` once removed.
        reply: Option<crate::canned::CannedReply>,
    },
    /// A site was removed: its widget says it is unavailable, its conversations stay. Final: an
    /// edit of the site, in any order, does not bring it back, and its id is not used again.
    SiteRemoved {
        /// The site.
        id: SiteId,
    },
    /// An operator setting (disabled, the sites they serve) was set. Last writer wins by (hlc,
    /// origin), for each operator and kind of setting apart. Disabling ends the operator's
    /// sessions like a new password does.
    OperatorSettingSet {
        /// The account.
        operator_id: OperatorId,
        /// The setting and its new value.
        setting: OperatorSetting,
    },
    /// An operator was removed: their sessions end, their e-mail address is free again, their
    /// name stays on what they wrote. Final, like a site's removal.
    OperatorRemoved {
        /// The account.
        id: OperatorId,
    },
    /// An operator logged in: the session is valid at both deployments. Grow-only.
    SessionCreated {
        /// SHA-256 of the token.
        token_hash: String,
        /// The operator.
        operator_id: OperatorId,
        /// Expiry, Unix milliseconds.
        expires_at: i64,
    },
    /// An operator logged out. Removal is final (a token is never reissued).
    SessionDeleted {
        /// SHA-256 of the token.
        token_hash: String,
    },
    /// A visitor was first seen. Grow-only.
    /// A visitor opened a page (grow-only: one record per event).
    PageViewed {
        /// The visitor.
        visitor_id: VisitorId,
        /// The page, without query or fragment.
        url: String,
    },
    /// What a visitor's widget said of their browser (last writer wins per visitor).
    VisitorContextSet {
        /// The visitor.
        visitor_id: VisitorId,
        /// The context.
        context: crate::visitor::VisitorContext,
    },
    VisitorSeen {
        /// The visitor.
        id: VisitorId,
        /// Their site.
        site_id: SiteId,
    },
    /// A visitor opened a conversation. Grow-only; the id was chosen by the visitor's widget, so
    /// both deployments opening it is the same conversation.
    ConversationOpened {
        /// The conversation.
        id: ConversationId,
        /// Its site.
        site_id: SiteId,
        /// Its visitor.
        visitor_id: VisitorId,
        /// The page the visitor was on.
        page_url: Option<String>,
        /// Unix milliseconds.
        created_at: i64,
        /// A chat or an offline message; absent in events written before offline messages.
        #[serde(default, skip_serializing_if = "is_chat")]
        conversation_kind: crate::conversation::ConversationKind,
    },
    /// A visitor filled in a form: what they told about themselves. Last writer wins by (hlc,
    /// origin) per visitor, so a later form replaces an earlier one on both deployments.
    VisitorDetailsSet {
        /// The visitor.
        visitor_id: VisitorId,
        /// Their answers.
        details: crate::conversation::VisitorDetails,
    },
    /// A message was stored. Grow-only set by id; when both deployments stored the same id before
    /// replicating, the copy with the smaller (hlc, origin) is kept on both.
    MessagePosted {
        /// The message.
        id: MessageId,
        /// Its conversation.
        conversation_id: ConversationId,
        /// Visitor, operator or system.
        author_kind: AuthorKind,
        /// The visitor's or operator's id; absent for system messages.
        author_id: Option<uuid::Uuid>,
        /// The operator's display name.
        author_name: Option<String>,
        /// The text.
        body: String,
        /// Unix milliseconds on the origin.
        sent_at: i64,
        /// A file sent with it: the receiving deployment fetches the bytes from the origin
        /// (`/v1/replication/files/{hash}`) before it applies the event, so a message is on both
        /// deployments only with its file.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attachment: Option<crate::conversation::Attachment>,
        /// A private note between operators (never sent to the visitor).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        private: bool,
    },
    /// The visitor or an operator read a conversation up to a message. The largest value wins,
    /// per conversation and reader: read state only moves forward.
    ConversationRead {
        /// The conversation.
        id: ConversationId,
        /// Who read it.
        reader: Reader,
        /// The newest message read, by its `hlc`.
        up_to: Hlc,
    },
    /// The visitor rated a conversation. Last writer wins by (hlc, origin) per conversation.
    ConversationRated {
        /// The conversation.
        id: ConversationId,
        /// The rating.
        rating: crate::conversation::Rating,
    },
    /// A conversation's state or operator changed. The state only moves forward (waiting, then
    /// active, then closed: the larger wins); among changes of equal state the operator of the
    /// latest (hlc, origin) wins.
    ConversationStateChanged {
        /// The conversation.
        id: ConversationId,
        /// The new state.
        state: ConversationState,
        /// The assigned operator.
        operator_id: Option<OperatorId>,
    },
}

fn is_chat(kind: &crate::conversation::ConversationKind) -> bool {
    *kind == crate::conversation::ConversationKind::Chat
}

/// Who read a conversation (see [`Change::ConversationRead`]).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reader {
    /// The conversation's visitor.
    Visitor,
    /// An operator.
    Operator,
}

impl Reader {
    /// The lower-case name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Reader::Visitor => "visitor",
            Reader::Operator => "operator",
        }
    }
}

/// A site setting, each kind merged on its own (see [`Change::SiteSettingSet`]).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "key", content = "value", rename_all = "snake_case")]
pub enum SiteSetting {
    /// The widget's look and texts.
    Appearance(crate::admin::Appearance),
    /// The pre-chat form and what happens when nobody is online.
    Forms(crate::admin::SiteForms),
    /// The secret the site's backend signs visitors' identities with.
    IdentitySecret(String),
    /// How its waiting chats are assigned.
    Routing(crate::routing::RoutingMode),
}

impl SiteSetting {
    /// The key it is stored under: one register per site and key.
    pub fn key(&self) -> &'static str {
        match self {
            SiteSetting::Appearance(_) => "appearance",
            SiteSetting::Forms(_) => "forms",
            SiteSetting::IdentitySecret(_) => "identity_secret",
            SiteSetting::Routing(_) => "routing",
        }
    }
}

/// An operator setting, each kind merged on its own (see [`Change::OperatorSettingSet`]).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "key", content = "value", rename_all = "snake_case")]
pub enum OperatorSetting {
    /// Disabled (true) or active.
    Disabled(bool),
    /// The sites whose conversations they see.
    Sites(crate::admin::SiteScope),
    /// The most chats assigned to them at once (0: no limit).
    Capacity(u32),
}

impl OperatorSetting {
    /// The key it is stored under: one register per operator and key.
    pub fn key(&self) -> &'static str {
        match self {
            OperatorSetting::Disabled(_) => "disabled",
            OperatorSetting::Sites(_) => "sites",
            OperatorSetting::Capacity(_) => "capacity",
        }
    }
}

/// What each end of a replication link says about itself when the link starts, so that a pair
/// set up wrongly is found on the first exchange instead of by a visitor during a failover.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Introduction {
    /// Random for each run of a deployment: the same value at both ends means the peer URL leads
    /// back to the deployment itself.
    pub instance: String,
    /// A keyed digest of a fixed text under the token secret: equal at both ends when the
    /// deployments accept each other's visitor and operator tokens. It reveals nothing of the
    /// secret and signs nothing a deployment would accept.
    pub token_check: String,
}

/// Frames on the replication WebSocket.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReplicationFrame {
    /// Puller → source, first frame: who is asking, and from where in the source's log.
    Subscribe {
        /// The puller's deployment name.
        deployment: String,
        /// The last sequence number of the source's log the puller has applied.
        after_seq: u64,
        /// The puller reads [`ReplicationFrame::Presence`]; a puller from before presence
        /// leaves it out and is sent none (it would take the unknown frame for a broken link).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        presence: bool,
        /// Who the puller is, for the source to notice a misconfigured pair. Absent from
        /// deployments older than the check.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        introduction: Option<Introduction>,
    },
    /// Source → puller: events in log order. The first batch on a link is the greeting: empty,
    /// and the only one carrying an `introduction`.
    Batch {
        /// The source's deployment name.
        deployment: String,
        /// The events, in increasing `seq`.
        events: Vec<LoggedEvent>,
        /// The source's newest sequence number, so the puller knows how far behind it is.
        head_seq: u64,
        /// Who the source is (greeting only; absent from deployments older than the check).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        introduction: Option<Introduction>,
    },
    /// Source → puller, between batches: someone connected to the source is typing. Not stored
    /// and not confirmed; dropped while a batch awaits confirmation, like any typing notice.
    Typing {
        /// The conversation.
        conversation_id: ConversationId,
        /// The conversation's visitor (the receiving deployment routes by it).
        visitor_id: VisitorId,
        /// The conversation's site, when the visitor types (operators may serve some sites
        /// only). Absent from deployments older than the admin app.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        site_id: Option<SiteId>,
        /// Who is typing.
        author: crate::model::Author,
        /// True while typing.
        typing: bool,
    },
    /// Source → puller, between batches and at every heartbeat: the operators online at the
    /// source now (the whole list, not a change). Not stored: the puller forgets it when the link
    /// ends or when it has not heard it again for a few heartbeats.
    Presence {
        /// Who is online, with the sites they serve.
        online: Vec<crate::conversation::OnlineOperator>,
    },
    /// Puller → source: everything up to `seq` is durably applied.
    Applied {
        /// The new cursor.
        seq: u64,
    },
}

impl ReplicationFrame {
    /// Encodes the frame as JSON text.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("replication frames always serialise")
    }

    /// Decodes a frame.
    pub fn decode(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// `GET /v1/replication/status`: how far apart the two deployments are.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationStatus {
    /// This deployment's name.
    pub deployment: String,
    /// The peer's name, once it has been reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// Whether a peer is configured at all.
    pub peer_configured: bool,
    /// Whether this deployment's pull link to the peer is up now.
    pub peer_reachable: bool,
    /// The newest event of this deployment's own log.
    pub local_head: u64,
    /// How far into this deployment's log the peer has confirmed applying.
    pub peer_applied: u64,
    /// Events of the peer not yet applied here (as of the peer's last report).
    pub inbound_behind: u64,
    /// Events of this deployment not yet confirmed by the peer.
    pub outbound_behind: u64,
    /// Age of the oldest event of ours the peer has not confirmed, in milliseconds (0 when none).
    pub outbound_lag_ms: u64,
    /// Age of the oldest event of the peer's that we know of and have not applied, in
    /// milliseconds (0 when caught up).
    pub inbound_lag_ms: u64,
    /// Events from the peer set aside instead of applied (they broke a rule every event keeps,
    /// or the database refused them); an operator should look at them.
    #[serde(default)]
    pub quarantined: u64,
    /// Why the newest of them was set aside.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine_reason: Option<String>,
    /// True while this deployment, started on an empty or restored data directory, is still
    /// taking back from the peer what it had written itself: it is not caught up, so the moderator
    /// does not make it active again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rebuilding: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_hlc_parts_compose() {
        let event = LoggedEvent {
            id: uuid::Uuid::from_u128(7),
            origin: "primary".into(),
            seq: 3,
            hlc: hlc_from_parts(1_700_000_000_000, 2),
            change: Change::ConversationStateChanged {
                id: ConversationId::from_parts(1, [1; 10]),
                state: ConversationState::Active,
                operator_id: Some(OperatorId::from_parts(2, [2; 10])),
            },
        };
        let frame = ReplicationFrame::Batch {
            deployment: "primary".into(),
            events: vec![event.clone()],
            head_seq: 9,
            introduction: None,
        };
        assert_eq!(ReplicationFrame::decode(&frame.encode()).unwrap(), frame);
        assert_eq!(hlc_wall_ms(event.hlc), 1_700_000_000_000);
        assert!(hlc_from_parts(5, 0) > hlc_from_parts(4, u16::MAX));
    }

    #[test]
    fn admin_changes_round_trip_and_name_their_register() {
        let changes = [
            Change::SiteSettingSet {
                site_id: SiteId("acme".into()),
                setting: SiteSetting::Appearance(crate::admin::Appearance::default()),
            },
            Change::SiteSettingSet {
                site_id: SiteId("acme".into()),
                setting: SiteSetting::IdentitySecret("s".repeat(43)),
            },
            Change::SiteRemoved {
                id: SiteId("acme".into()),
            },
            Change::OperatorSettingSet {
                operator_id: OperatorId::from_parts(2, [2; 10]),
                setting: OperatorSetting::Sites(crate::admin::SiteScope::Only(vec![SiteId(
                    "acme".into(),
                )])),
            },
            Change::OperatorRemoved {
                id: OperatorId::from_parts(2, [2; 10]),
            },
        ];
        for change in changes {
            let json = serde_json::to_string(&change).unwrap();
            assert_eq!(
                serde_json::from_str::<Change>(&json).unwrap(),
                change,
                "{json}"
            );
        }
        let json = serde_json::to_value(SiteSetting::Forms(Default::default())).unwrap();
        assert_eq!(json["key"], "forms");
        assert_eq!(SiteSetting::Forms(Default::default()).key(), "forms");
        assert_eq!(OperatorSetting::Disabled(true).key(), "disabled");
    }
}
