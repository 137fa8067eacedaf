//! Tests of what leaves a socket together: the newest summary of each conversation in a batch.

use super::*;
use protocol::{ConversationSummary, Message};

fn summary(conversation: u128, updated_at: i64) -> ServerFrame {
    let conversation: ConversationSummary = serde_json::from_value(serde_json::json!({
        "id": uuid::Uuid::from_u128(conversation),
        "site_id": "acme",
        "visitor_id": uuid::Uuid::from_u128(99),
        "state": "active",
        "created_at": 1,
        "updated_at": updated_at,
    }))
    .unwrap();
    ServerFrame::Conversation { conversation }
}

fn message(conversation: u128, n: u128) -> ServerFrame {
    let message: Message = serde_json::from_value(serde_json::json!({
        "id": uuid::Uuid::from_u128(1000 + n),
        "conversation_id": uuid::Uuid::from_u128(conversation),
        "author": { "kind": "visitor" },
        "body": format!("message {n}"),
        "sent_at": 1,
        "seq": n,
        "hlc": n,
    }))
    .unwrap();
    ServerFrame::Message { message }
}

#[test]
fn of_several_summaries_of_a_conversation_only_the_newest_goes_and_every_message_stays() {
    let mut frames = vec![
        message(1, 1),
        summary(1, 10),
        message(2, 2),
        summary(2, 20),
        message(1, 3),
        summary(1, 30),
        message(1, 4),
        summary(1, 40),
    ];
    keep_newest_summaries(&mut frames);
    assert_eq!(
        frames,
        vec![
            message(1, 1),
            message(2, 2),
            summary(2, 20),
            message(1, 3),
            message(1, 4),
            summary(1, 40),
        ]
    );
}

#[test]
fn a_batch_without_repeated_summaries_is_left_as_it_is() {
    let mut frames = vec![summary(1, 10), message(2, 1), summary(2, 11)];
    let before = frames.clone();
    keep_newest_summaries(&mut frames);
    assert_eq!(frames, before);
}
