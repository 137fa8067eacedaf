//! Cursors through welcomes from several deployments and logs: what a `sync` asks for after
//! each, and when a history page calls for the next.

use super::*;
use protocol::{Author, AuthorKind, MessageId, Session, VisitorId};

fn conversation(n: u64) -> ConversationId {
    ConversationId::from_parts(n, [4; 10])
}

fn stored(conversation_id: ConversationId, n: u64, seq: u64) -> Message {
    Message {
        id: MessageId::from_parts(n, [5; 10]),
        conversation_id,
        author: Author {
            kind: AuthorKind::Visitor,
            name: None,
        },
        body: format!("m{n}"),
        sent_at: 0,
        seq,
        hlc: n,
        attachment: None,
        private: false,
    }
}

fn welcome(log: Option<&str>) -> ServerFrame {
    ServerFrame::Welcome {
        protocol: protocol::PROTOCOL_VERSION,
        max_message_bytes: 8192,
        session: Session::Visitor {
            visitor_id: VisitorId::from_parts(1, [1; 10]),
            token: "t".into(),
            conversations: vec![],
            online: true,
            details: None,
        },
        replicates: true,
        log: log.map(str::to_owned),
    }
}

fn after(cursors: &Cursors, id: ConversationId) -> u64 {
    match cursors.sync(id) {
        ClientFrame::Sync { after_seq, .. } => after_seq,
        other => panic!("not a sync: {other:?}"),
    }
}

#[test]
fn a_return_to_the_same_log_asks_only_for_what_is_new_there() {
    let (one, two) = (conversation(1), conversation(2));
    let mut cursors = Cursors::default();
    assert_eq!(after(&cursors, one), 0, "nothing known before any welcome");
    cursors.welcomed(0, &welcome(Some("a")));
    cursors.received(&stored(one, 1, 40));
    cursors.received(&stored(one, 2, 42));
    cursors.received(&stored(two, 3, 41));
    assert_eq!((after(&cursors, one), after(&cursors, two)), (42, 41));

    // The other deployment numbers its own way: everything, the first time.
    cursors.welcomed(1, &welcome(Some("b")));
    assert_eq!(after(&cursors, one), 0);
    cursors.received(&stored(one, 4, 7));
    assert_eq!(after(&cursors, one), 7);

    // Back on the first, with its log unchanged: from where it was left.
    cursors.welcomed(0, &welcome(Some("a")));
    assert_eq!((after(&cursors, one), after(&cursors, two)), (42, 41));
    // A lower number received later (it cannot be, but an old frame might) never moves back.
    cursors.received(&stored(one, 5, 30));
    assert_eq!(after(&cursors, one), 42);
}

#[test]
fn a_new_log_on_the_same_deployment_asks_for_everything() {
    let one = conversation(1);
    let mut cursors = Cursors::default();
    cursors.welcomed(0, &welcome(Some("a")));
    cursors.received(&stored(one, 1, 500));
    // Restored from a backup: the numbers start again below what was received.
    cursors.welcomed(0, &welcome(Some("restored")));
    assert_eq!(after(&cursors, one), 0);
}

#[test]
fn a_deployment_that_names_no_log_is_trusted_only_while_the_client_stays() {
    let one = conversation(1);
    let mut cursors = Cursors::default();
    cursors.welcomed(0, &welcome(None));
    cursors.received(&stored(one, 1, 9));
    // Welcomed again by the same one (a reconnect without a move): its numbers still hold.
    cursors.welcomed(0, &welcome(None));
    assert_eq!(after(&cursors, one), 9);
    cursors.welcomed(1, &welcome(None));
    cursors.welcomed(0, &welcome(None));
    assert_eq!(after(&cursors, one), 0);
}

#[test]
fn a_full_page_asks_for_the_next_and_a_short_one_ends_it() {
    let one = conversation(1);
    let mut cursors = Cursors::default();
    cursors.welcomed(0, &welcome(Some("a")));
    let page: Vec<_> = (1..=SYNC_PAGE as u64)
        .map(|n| stored(one, n, n + 10))
        .collect();
    assert_eq!(
        cursors.history(one, &page),
        Some(ClientFrame::Sync {
            conversation_id: one,
            after_seq: SYNC_PAGE as u64 + 10,
        })
    );
    assert_eq!(cursors.history(one, &page[..3]), None);
    assert_eq!(cursors.history(one, &[]), None);
}

#[test]
fn a_forgotten_conversation_is_asked_for_in_full_everywhere() {
    let one = conversation(1);
    let mut cursors = Cursors::default();
    cursors.welcomed(0, &welcome(Some("a")));
    cursors.received(&stored(one, 1, 3));
    cursors.welcomed(1, &welcome(Some("b")));
    cursors.received(&stored(one, 1, 8));
    cursors.forget(one);
    assert_eq!(after(&cursors, one), 0);
    cursors.welcomed(0, &welcome(Some("a")));
    assert_eq!(after(&cursors, one), 0);
}
