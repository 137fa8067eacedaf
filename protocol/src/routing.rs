//! Routing: how a site's new chats find an operator, and the roster an operator picks from when
//! they hand a chat to someone else.
//!
//! A site routes by hand (operators accept from the inbox, the default) or automatically: a
//! deployment assigns each waiting chat to an online operator who serves the site and has room
//! under their capacity (their most concurrent active chats), in turn (round robin) or to whoever
//! has the fewest (least busy). A chat nobody has room for waits, and its visitor sees their
//! place in the queue.

use crate::ids::OperatorId;
use serde::{Deserialize, Serialize};

/// How a site's waiting chats are assigned.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutingMode {
    /// Operators accept waiting chats themselves.
    #[default]
    Manual,
    /// Each chat goes to the operator with room who was assigned one longest ago.
    RoundRobin,
    /// Each chat goes to the operator with room who has the fewest active chats.
    LeastBusy,
}

impl RoutingMode {
    /// Every mode, in the order the admin app lists them.
    pub const ALL: [RoutingMode; 3] = [
        RoutingMode::Manual,
        RoutingMode::RoundRobin,
        RoutingMode::LeastBusy,
    ];

    /// The name used in JSON and in the admin app's select.
    pub fn as_str(self) -> &'static str {
        match self {
            RoutingMode::Manual => "manual",
            RoutingMode::RoundRobin => "round_robin",
            RoutingMode::LeastBusy => "least_busy",
        }
    }

    /// The mode named `name`, if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// Whether the deployment assigns chats itself.
    pub fn is_automatic(self) -> bool {
        self != RoutingMode::Manual
    }
}

/// `PUT /v1/admin/sites/{id}/routing`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingEdit {
    /// The new mode.
    pub mode: RoutingMode,
}

/// The largest capacity an admin may set (0 means no limit).
pub const MAX_CAPACITY: u32 = 100;

/// Whether an operator with `active` chats has room for one more under `capacity` (0: no
/// limit).
pub fn has_room(active: u32, capacity: u32) -> bool {
    capacity == 0 || active < capacity
}

/// `GET /v1/roster`: an operator one may hand a chat to, as any operator may see them (no e-mail
/// address, no role).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterEntry {
    /// The operator.
    pub id: OperatorId,
    /// Their name.
    pub name: String,
    /// Online on either deployment.
    pub online: bool,
    /// Their active chats now.
    pub active: u32,
    /// Their most concurrent chats (0: no limit).
    pub capacity: u32,
    /// Whether they serve the site this roster was asked for.
    pub serves: bool,
}

impl RosterEntry {
    /// Whether an operator (not an admin overriding it) may transfer a chat to them now, and if
    /// not, the sentence saying why.
    pub fn transferable(&self) -> Result<(), String> {
        if !self.serves {
            return Err(format!("{} does not serve this site", self.name));
        }
        if !self.online {
            return Err(format!("{} is not online", self.name));
        }
        if !has_room(self.active, self.capacity) {
            return Err(format!(
                "{} is at capacity ({} of {} chats)",
                self.name, self.active, self.capacity
            ));
        }
        Ok(())
    }
}

/// The longest note a transfer may carry, in bytes (the same as a message's default limit).
pub const MAX_TRANSFER_NOTE_BYTES: usize = crate::DEFAULT_MAX_MESSAGE_BYTES;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_round_trip_by_name() {
        for mode in RoutingMode::ALL {
            assert_eq!(RoutingMode::parse(mode.as_str()), Some(mode));
            let json = serde_json::to_string(&mode).unwrap();
            assert_eq!(json, format!("\"{}\"", mode.as_str()));
        }
        assert_eq!(RoutingMode::parse("random"), None);
        assert!(!RoutingMode::Manual.is_automatic());
        assert!(RoutingMode::LeastBusy.is_automatic());
    }

    #[test]
    fn room_is_under_the_capacity_and_zero_means_no_limit() {
        assert!(has_room(0, 1));
        assert!(!has_room(1, 1));
        assert!(has_room(50, 0));
    }

    #[test]
    fn a_transfer_target_must_serve_be_online_and_have_room() {
        let mut entry = RosterEntry {
            id: OperatorId::from_parts(1, [1; 10]),
            name: "Bob".into(),
            online: true,
            active: 0,
            capacity: 1,
            serves: true,
        };
        assert_eq!(entry.transferable(), Ok(()));
        entry.active = 1;
        assert_eq!(
            entry.transferable(),
            Err("Bob is at capacity (1 of 1 chats)".into())
        );
        entry.online = false;
        assert_eq!(entry.transferable(), Err("Bob is not online".into()));
        entry.serves = false;
        assert_eq!(
            entry.transferable(),
            Err("Bob does not serve this site".into())
        );
    }
}
