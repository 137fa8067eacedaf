//! Which hub events reach which connection: a visitor hears of their own conversations (never
//! their own echo), an operator of every conversation of the sites they serve.

use crate::hub::{ConnectionId, Event};
use crate::identity::Identity;
use protocol::{AuthorKind, ServerFrame, VisitorId};

/// The frame `event` becomes for the connection `me` of `peer`, or `None` when it does not
/// concern it (or `hello` has not succeeded yet).
pub fn frame_for(peer: Option<&Identity>, me: ConnectionId, event: Event) -> Option<ServerFrame> {
    let relevant = match peer {
        None => false,
        Some(Identity::Visitor { visitor_id, .. }) => concerns_visitor(&event, *visitor_id, me),
        // An operator hears of the sites they serve only.
        Some(Identity::Operator(op)) => match &event {
            Event::Message {
                origin, site_id, ..
            } => *origin != me && op.sites.allows(site_id),
            Event::Conversation { conversation } => op.sites.allows(&conversation.site_id),
            Event::Typing {
                author, site_id, ..
            } => {
                author.kind == AuthorKind::Visitor
                    && site_id.as_ref().is_some_and(|site| op.sites.allows(site))
            }
            Event::Presence { operator_id, .. } => *operator_id == op.id,
        },
    };
    if !relevant {
        return None;
    }
    Some(match event {
        Event::Message { message, .. } => ServerFrame::Message { message },
        Event::Conversation { conversation } => ServerFrame::Conversation { conversation },
        Event::Typing {
            conversation_id,
            author,
            typing,
            ..
        } => ServerFrame::Typing {
            conversation_id,
            author,
            typing,
        },
        Event::Presence { state, .. } => ServerFrame::Presence { state },
    })
}

/// Whether an event concerns a visitor (their own conversation, not their own echo).
fn concerns_visitor(event: &Event, visitor: VisitorId, me: ConnectionId) -> bool {
    match event {
        Event::Message {
            visitor_id, origin, ..
        } => *visitor_id == visitor && *origin != me,
        Event::Conversation { conversation } => conversation.visitor_id == visitor,
        Event::Typing {
            visitor_id,
            author,
            origin,
            ..
        } => *visitor_id == visitor && *origin != me && author.kind == AuthorKind::Operator,
        Event::Presence { .. } => false,
    }
}
