//! Identifiers. Messages and conversations are named by their creator (the client), so a client that
//! resends after a lost acknowledgement names the same record again and the deployment stores it once.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// Builds a UUIDv7 from a Unix time in milliseconds and ten random bytes. The caller
            /// supplies both so that this crate reads neither a clock nor a random source, which keeps
            /// it usable unchanged in the browser and in deterministic tests.
            pub fn from_parts(unix_ms: u64, random: [u8; 10]) -> Self {
                Self(uuid::Builder::from_unix_timestamp_millis(unix_ms, &random).into_uuid())
            }

            /// Parses the canonical hyphenated form.
            pub fn parse(text: &str) -> Result<Self, uuid::Error> {
                Uuid::parse_str(text).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_id!(
    /// A message, named by the client that wrote it (UUIDv7, so ids sort roughly by creation time).
    MessageId
);
uuid_id!(
    /// A conversation, named by the visitor's widget when it sends the first message, so a retried
    /// first message never opens a second conversation.
    ConversationId
);
uuid_id!(
    /// A visitor: one browser profile on one site, named by the deployment on first contact.
    VisitorId
);
uuid_id!(
    /// An operator account.
    OperatorId
);

/// A site, named by its owner in the admin tools (a short slug such as `acme`), which is what the
/// snippet carries.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SiteId(pub String);

impl fmt::Display for SiteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_built_from_parts_are_version_7_and_sort_by_time() {
        let earlier = MessageId::from_parts(1_700_000_000_000, [9; 10]);
        let later = MessageId::from_parts(1_700_000_000_001, [0; 10]);
        assert_eq!(earlier.0.get_version_num(), 7);
        assert!(earlier < later);
        assert_eq!(MessageId::parse(&earlier.to_string()).unwrap(), earlier);
    }
}
