//! Round-trip and decoding tests for every frame.

use super::*;
use crate::ids::OperatorId;
use crate::model::{AuthorKind, ConversationState, OperatorCard, OperatorRole};
use crate::PROTOCOL_VERSION;

fn conversation() -> ConversationId {
    ConversationId::from_parts(1_700_000_000_000, [1; 10])
}

fn message() -> Message {
    Message {
        id: MessageId::from_parts(1_700_000_000_001, [2; 10]),
        conversation_id: conversation(),
        author: Author {
            kind: AuthorKind::Operator,
            name: Some("Alice".into()),
        },
        body: "Hello <b>there</b> \u{1F600}".into(),
        sent_at: 1_700_000_000_002,
        seq: 42,
        hlc: 7,
        attachment: None,
        private: false,
    }
}

fn alice() -> OperatorProfile {
    OperatorProfile {
        id: OperatorId::from_parts(2, [4; 10]),
        name: "Alice".into(),
        email: "alice@example.com".into(),
        role: OperatorRole::Agent,
        sites: Default::default(),
    }
}

fn summary() -> ConversationSummary {
    ConversationSummary {
        id: conversation(),
        site_id: SiteId("acme".into()),
        visitor_id: VisitorId::from_parts(1, [3; 10]),
        state: ConversationState::Active,
        operator: Some(OperatorCard::from(&alice())),
        created_at: 1,
        updated_at: 2,
        last_message: Some("hi".into()),
        page_url: Some("https://acme.example/pricing".into()),
        kind: crate::ConversationKind::Offline,
        visitor: Some(crate::VisitorDetails {
            name: Some("Anna".into()),
            ..Default::default()
        }),
        visitor_read: 9,
        operator_read: 8,
        rating: Some(crate::conversation::Rating {
            scale: crate::conversation::RatingScale::Stars,
            score: 4,
            comment: Some("quick".into()),
        }),
        queue_position: Some(2),
    }
}

#[test]
fn every_client_frame_round_trips() {
    let frames = vec![
        ClientFrame::Hello {
            protocol: PROTOCOL_VERSION,
            auth: Auth::Visitor {
                site_id: SiteId("acme".into()),
                token: None,
                user: None,
            },
            page_url: Some("https://acme.example/".into()),
            context: None,
        },
        ClientFrame::Hello {
            protocol: PROTOCOL_VERSION,
            auth: Auth::Operator {
                token: "t".into(),
                presence: Some(crate::Presence::Away),
            },
            page_url: None,
            context: None,
        },
        ClientFrame::Send {
            conversation_id: conversation(),
            message_id: message().id,
            body: "hi".into(),
            intake: None,
            attachment: None,
            private: false,
        },
        ClientFrame::Typing {
            conversation_id: conversation(),
            typing: true,
        },
        ClientFrame::Sync {
            conversation_id: conversation(),
            after_seq: 7,
        },
        ClientFrame::Accept {
            conversation_id: conversation(),
        },
        ClientFrame::Close {
            conversation_id: conversation(),
        },
        ClientFrame::Transfer {
            conversation_id: conversation(),
            operator_id: alice().id,
            note: Some("wants a refund".into()),
        },
        ClientFrame::Presence {
            state: crate::Presence::Away,
        },
        ClientFrame::Read {
            conversation_id: conversation(),
            up_to: 77,
        },
        ClientFrame::Rate {
            conversation_id: conversation(),
            rating: crate::conversation::Rating {
                scale: crate::conversation::RatingScale::GoodBad,
                score: 1,
                comment: None,
            },
        },
        ClientFrame::EmailTranscript {
            conversation_id: conversation(),
            email: "anna@example.com".into(),
        },
        ClientFrame::Ping { nonce: 42 },
    ];
    for frame in frames {
        assert_eq!(ClientFrame::decode(&frame.encode()).unwrap(), frame);
    }
}

/// One of every server frame, both sessions among them.
fn server_frames() -> Vec<ServerFrame> {
    vec![
        ServerFrame::Welcome {
            protocol: PROTOCOL_VERSION,
            max_message_bytes: 8192,
            replicates: true,
            log: Some("0f3a".into()),
            session: Session::Visitor {
                visitor_id: VisitorId::from_parts(1, [3; 10]),
                token: "tok".into(),
                conversations: vec![summary()],
                online: true,
                details: Some(crate::VisitorDetails {
                    name: Some("Anna".into()),
                    email: Some("anna@example.com".into()),
                    fields: vec![],
                }),
            },
        },
        ServerFrame::Welcome {
            protocol: PROTOCOL_VERSION,
            max_message_bytes: 8192,
            replicates: true,
            log: None,
            session: Session::Operator {
                operator: alice(),
                inbox: vec![summary()],
                presence: crate::Presence::Away,
                idle_away_secs: 600,
                files: Some(crate::files::FileRules {
                    max_bytes: 1 << 20,
                    types: vec!["image/png".into()],
                }),
            },
        },
        ServerFrame::Ack {
            message_id: message().id,
            message: message(),
        },
        ServerFrame::Replicated {
            message_ids: vec![message().id],
        },
        ServerFrame::Message { message: message() },
        ServerFrame::Typing {
            conversation_id: conversation(),
            author: Author {
                kind: AuthorKind::Visitor,
                name: None,
            },
            typing: false,
        },
        ServerFrame::Conversation {
            conversation: summary(),
        },
        ServerFrame::History {
            conversation_id: conversation(),
            messages: vec![message()],
        },
        ServerFrame::Pong { nonce: 42 },
        ServerFrame::Availability { online: false },
        ServerFrame::TranscriptEmailed {
            conversation_id: conversation(),
        },
        ServerFrame::Presence {
            state: crate::Presence::Online,
        },
        ServerFrame::Redirect {
            epoch: 7,
            deployment: "redundant".into(),
            url: "https://chat-b.example.com".into(),
        },
        ServerFrame::Draining,
        ServerFrame::Error {
            code: ErrorCode::TooLarge,
            message: "too big".into(),
            message_id: Some(message().id),
        },
    ]
}

#[test]
fn every_server_frame_round_trips() {
    for frame in server_frames() {
        assert_eq!(ServerFrame::decode(&frame.encode()).unwrap(), frame);
    }
}

/// What `browser::json` does to a parsed frame before reading it as a
/// [`by_type::ServerFrameByType`]: each tagged value put under its tag.
fn put_under_tags(mut frame: serde_json::Value) -> serde_json::Value {
    fn under(tag: &str, value: serde_json::Value) -> serde_json::Value {
        let kind = value[tag].as_str().expect("tagged").to_owned();
        serde_json::json!({ kind: value })
    }
    let kind = frame[by_type::FRAME_TAG].as_str().unwrap().to_owned();
    for (in_kind, field, tag) in by_type::NESTED_TAGS {
        if kind == *in_kind {
            let nested = frame[*field].take();
            frame[*field] = under(tag, nested);
        }
    }
    under(by_type::FRAME_TAG, frame)
}

#[test]
fn every_server_frame_reads_the_same_through_its_externally_tagged_twin() {
    let frames = server_frames();
    let mut seen = std::collections::BTreeSet::new();
    for frame in &frames {
        // Exhaustive on purpose: a new frame stops this compiling until it has a twin in
        // `by_type` and a sample in `server_frames`.
        seen.insert(match frame {
            ServerFrame::Welcome { session, .. } => match session {
                Session::Visitor { .. } => "welcome visitor",
                Session::Operator { .. } => "welcome operator",
            },
            ServerFrame::Ack { .. } => "ack",
            ServerFrame::Replicated { .. } => "replicated",
            ServerFrame::Message { .. } => "message",
            ServerFrame::Typing { .. } => "typing",
            ServerFrame::Conversation { .. } => "conversation",
            ServerFrame::History { .. } => "history",
            ServerFrame::Availability { .. } => "availability",
            ServerFrame::Presence { .. } => "presence",
            ServerFrame::TranscriptEmailed { .. } => "transcript_emailed",
            ServerFrame::Pong { .. } => "pong",
            ServerFrame::Redirect { .. } => "redirect",
            ServerFrame::Draining => "draining",
            ServerFrame::Error { .. } => "error",
        });
        let moved = put_under_tags(serde_json::to_value(frame).unwrap());
        let twin: by_type::ServerFrameByType = serde_json::from_value(moved).unwrap();
        assert_eq!(&ServerFrame::from(twin), frame);
    }
    assert_eq!(seen.len(), 15, "a sample of every frame: {seen:?}");
    // Fields the twin defaults, as the frame does: an older deployment leaves them out.
    let old_welcome = serde_json::json!({
        "type": "welcome", "protocol": 2, "max_message_bytes": 10,
        "session": {"role": "visitor", "visitor_id": VisitorId::from_parts(1, [3; 10]),
                    "token": "t", "conversations": []},
    });
    let twin: by_type::ServerFrameByType =
        serde_json::from_value(put_under_tags(old_welcome.clone())).unwrap();
    assert_eq!(
        ServerFrame::from(twin),
        serde_json::from_value::<ServerFrame>(old_welcome).unwrap()
    );
}

#[test]
fn the_wire_format_is_stable() {
    let frame = ClientFrame::Typing {
        conversation_id: conversation(),
        typing: true,
    };
    assert_eq!(
        frame.encode(),
        format!(
            r#"{{"type":"typing","conversation_id":"{}","typing":true}}"#,
            conversation()
        )
    );
}

#[test]
fn draining_is_a_bare_frame_type() {
    // Added within version 2: an older client skips it as an unknown type and fails over when
    // the draining deployment closes its socket.
    assert_eq!(ServerFrame::Draining.encode(), r#"{"type":"draining"}"#);
}

#[test]
fn decoding_tells_malformed_from_unknown_from_old() {
    assert_eq!(
        ClientFrame::decode("{not json").unwrap_err().code(),
        ErrorCode::Malformed
    );
    assert_eq!(
        ClientFrame::decode("[1,2]").unwrap_err().code(),
        ErrorCode::Malformed
    );
    assert_eq!(
        ClientFrame::decode(r#"{"type":"teleport"}"#).unwrap_err(),
        DecodeError::UnknownType("teleport".into())
    );
    assert_eq!(
        ClientFrame::decode(r#"{"type":"send","body":"x"}"#)
            .unwrap_err()
            .code(),
        ErrorCode::Malformed
    );
    assert_eq!(
        ClientFrame::decode(r#"{"type":"hello","protocol":0,"whatever":"changed"}"#).unwrap_err(),
        DecodeError::UnsupportedProtocol(0)
    );
}

#[test]
fn a_conversation_summary_names_its_operator_without_contact_details() {
    // Summaries reach visitors' widgets, so they carry the public card only.
    let text = serde_json::to_string(&summary()).unwrap();
    assert!(text.contains("\"name\":\"Alice\""), "{text}");
    assert!(!text.contains("alice@example.com"), "{text}");
    assert!(!text.contains("\"role\""), "{text}");
}

#[test]
fn the_compatibility_rule_holds_for_additions_and_versions() {
    // An addition a newer deployment may make within a version: an older reader must not trip
    // on a field it does not know...
    let pong = r#"{"type":"pong","nonce":7,"added_in_a_later_release":{"x":1}}"#;
    assert!(matches!(
        ServerFrame::decode(pong),
        Ok(ServerFrame::Pong { nonce: 7, .. })
    ));
    // ...and a frame type it does not know is an error it can skip (the widget and the console
    // log it and read on), never one that breaks the link.
    assert!(ServerFrame::decode(r#"{"type":"added_in_a_later_release"}"#).is_err());
    // Every version from the oldest served to the newest is taken; beyond either end, the
    // client is told to reload.
    for version in crate::MIN_PROTOCOL_VERSION..=PROTOCOL_VERSION {
        let hello = format!(
            r#"{{"type":"hello","protocol":{version},"auth":{{"role":"visitor","site_id":"acme"}}}}"#
        );
        assert!(
            !matches!(
                ClientFrame::decode(&hello),
                Err(DecodeError::UnsupportedProtocol(_))
            ),
            "version {version}"
        );
    }
    for version in [crate::MIN_PROTOCOL_VERSION - 1, PROTOCOL_VERSION + 1] {
        let hello = format!(r#"{{"type":"hello","protocol":{version}}}"#);
        assert_eq!(
            ClientFrame::decode(&hello).unwrap_err(),
            DecodeError::UnsupportedProtocol(u64::from(version))
        );
    }
}

// The oldest version served is at most one behind the newest (checked when compiling).
const _: () = assert!(
    crate::MIN_PROTOCOL_VERSION <= PROTOCOL_VERSION
        && PROTOCOL_VERSION <= crate::MIN_PROTOCOL_VERSION + 1
);
