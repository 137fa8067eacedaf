//! The router: assigns the waiting chats of sites that route automatically, and tells waiting
//! visitors their place in the queue.
//!
//! It wakes when a conversation changes (a chat opened or ended, here or replicated from the
//! peer), when presence changes (an operator came online or chose away), and every few seconds
//! in any case (an admin raised someone's capacity), at most a few times a second. A pass is
//! one write job ([`crate::store::Writer::route_waiting`]) that re-reads queue and loads inside
//! its transaction, so two passes never hand out the same room twice.
//!
//! Only the deployment that believes itself active assigns (the one the moderator named, or
//! either while no decision is known), so in normal operation one router decides. During a split
//! both may; the state merge rule then keeps the later assignment on both sides, and the console
//! of the operator who lost the chat says so.

use crate::hub::Event;
use crate::state::AppState;
use crate::store::StateChange;
use protocol::{ConversationId, OperatorId};
use std::collections::HashMap;
use std::time::Duration;

/// The shortest time between two passes: changes arriving together are routed together.
const SETTLE: Duration = Duration::from_millis(150);

/// A pass runs at least this often, for what no event announces (a capacity raised, an
/// operator enabled).
const TICK: Duration = Duration::from_secs(2);

/// Runs until the deployment shuts down.
pub async fn run(state: AppState) {
    let mut stopping = state.shutdown.clone();
    let mut events = state.hub.subscribe_all();
    let mut presence = state.presence.subscribe();
    // Who was assigned a chat last, for the round robin: longest ago first.
    let mut turns: Vec<OperatorId> = Vec::new();
    // The place each waiting visitor was last told, so only changes are sent.
    let mut told: HashMap<ConversationId, u32> = HashMap::new();
    loop {
        tokio::select! {
            _ = stopping.changed() => return,
            event = events.recv() => match event {
                Ok(Event::Conversation { .. }) | Err(crate::hub::RecvError::Lagged(_)) => {}
                Ok(_) => continue,
                Err(crate::hub::RecvError::Closed) => return,
            },
            changed = presence.changed() => if changed.is_err() { return },
            () = tokio::time::sleep(TICK) => {}
        }
        tokio::time::sleep(SETTLE).await;
        // What arrived while settling is part of this pass.
        events.skip_queued();
        presence.mark_unchanged();
        if let Err(e) = pass(&state, &mut turns, &mut told).await {
            tracing::warn!(error = %e, "routing pass failed; retrying at the next change");
        }
    }
}

/// Whether this deployment should assign chats now.
fn assigns_here(state: &AppState) -> bool {
    state
        .role
        .known()
        .active
        .is_none_or(|active| active == state.config.deployment)
}

async fn pass(
    state: &AppState,
    turns: &mut Vec<OperatorId>,
    told: &mut HashMap<ConversationId, u32>,
) -> Result<(), crate::store::StoreError> {
    // A cheap read first: most passes (every message moves a conversation) find no queue, and
    // then no write job is queued.
    let queued = state.store.read(|r| r.sites_with_queue()).await?;
    if queued.is_empty() && told.is_empty() {
        return Ok(());
    }
    if assigns_here(state) && !queued.is_empty() {
        let online = state.presence.online_operators();
        if !online.is_empty() {
            // The turn order: those never assigned (in id order) first, then by last assignment.
            let mut order: Vec<OperatorId> = online
                .iter()
                .copied()
                .filter(|id| !turns.contains(id))
                .collect();
            order.extend(turns.iter().copied().filter(|id| online.contains(id)));
            let changes = state.store.write(move |w| w.route_waiting(&order)).await?;
            for change in &changes {
                if let Some(op) = &change.conversation.operator {
                    turns.retain(|id| *id != op.id);
                    turns.push(op.id);
                }
                publish(state, change);
            }
            if !changes.is_empty() {
                tracing::info!(assigned = changes.len(), "waiting chats routed");
            }
        }
    }
    // Every deployment tells its waiting visitors their place (read only).
    let queues = state
        .store
        .read(|r| {
            let mut waiting = Vec::new();
            for (site, _) in r.sites_with_queue()? {
                waiting.extend(r.queue(&site, 500)?);
            }
            Ok(waiting)
        })
        .await?;
    let mut still = HashMap::with_capacity(queues.len());
    for conversation in queues {
        let Some(position) = conversation.queue_position else {
            continue;
        };
        still.insert(conversation.id, position);
        if told.get(&conversation.id) != Some(&position) {
            state.hub.publish(Event::Conversation { conversation });
        }
    }
    *told = still;
    Ok(())
}

/// Publishes a state change to whoever it concerns: the notice, then the conversation.
pub fn publish(state: &AppState, change: &StateChange) {
    if let Some(notice) = &change.notice {
        state.hub.publish(Event::Message {
            visitor_id: change.conversation.visitor_id,
            site_id: change.conversation.site_id.clone(),
            message: notice.clone(),
            origin: crate::hub::REMOTE_ORIGIN,
        });
    }
    state.hub.publish(Event::Conversation {
        conversation: change.conversation.clone(),
    });
}
