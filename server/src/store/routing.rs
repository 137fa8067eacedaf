//! Routing: a site's queue of waiting chats, operators' loads, the automatic assignment of waiting
//! chats to operators with room, and handing a chat to another operator (a transfer by its
//! assignee, an assignment by an admin).
//!
//! Every assignment is a `ConversationStateChanged` to `active` with the new operator, so it
//! merges like an accept: among active states the later (hlc, origin) decides the operator. Two
//! deployments assigning the same chat during a split therefore end with the same assignee on
//! both, and the console of the operator who lost it sees the chat's summary name someone else.

use super::conversations::StateChange;
use super::rows::Cached;
use super::{Reader, StoreError, Writer};
use protocol::admin::{AdminOperator, OperatorState};
use protocol::replication::SiteSetting;
use protocol::routing::{has_room, RosterEntry, RoutingMode, MAX_TRANSFER_NOTE_BYTES};
use protocol::{
    ConversationId, ConversationState, ConversationSummary, Message, MessageId, OperatorId,
    OperatorProfile, OperatorRole, SiteId,
};
use rusqlite::OptionalExtension;

/// The most waiting chats of one site a routing pass looks at: more wait for the next pass.
const QUEUE_PASS: usize = 100;

/// What a transfer produced: the state change (with its notice) and the note, if one was left.
#[derive(Debug)]
pub struct Transferred {
    /// The conversation after it and the notice the visitor sees.
    pub change: StateChange,
    /// The private note for the new assignee.
    pub note: Option<Message>,
}

impl Reader<'_> {
    /// A site's routing mode (manual until an admin sets one).
    pub fn site_routing(&self, id: &SiteId) -> Result<RoutingMode, StoreError> {
        let found = self
            .conn
            .query_row_cached(
                "SELECT value FROM site_settings WHERE site_id = ?1 AND key = 'routing'",
                [&id.0],
                |row| {
                    super::rows::parsed(row, 0, "site setting", |s| {
                        serde_json::from_str::<SiteSetting>(s)
                    })
                },
            )
            .optional()?;
        Ok(match found {
            Some(SiteSetting::Routing(mode)) => mode,
            _ => RoutingMode::Manual,
        })
    }

    /// The sites that assign chats automatically and have chats waiting, with their mode.
    pub fn sites_with_queue(&self) -> Result<Vec<(SiteId, RoutingMode)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.site_id, s.value FROM site_settings s
             WHERE s.key = 'routing' AND json_extract(s.value, '$.value') != 'manual'
               AND NOT EXISTS (SELECT 1 FROM site_tombstones t WHERE t.id = s.site_id)
               AND EXISTS (SELECT 1 FROM conversations c WHERE c.site_id = s.site_id
                           AND c.state = 'waiting' AND c.kind = 'chat')
             ORDER BY s.site_id",
        )?;
        let sites = stmt.query_map([], |row| {
            let setting = super::rows::parsed(row, 1, "site setting", |s| {
                serde_json::from_str::<SiteSetting>(s)
            })?;
            let mode = match setting {
                SiteSetting::Routing(mode) => mode,
                _ => RoutingMode::Manual,
            };
            Ok((SiteId(row.get(0)?), mode))
        })?;
        Ok(sites.collect::<Result<_, _>>()?)
    }

    /// A site's waiting chats, oldest first (at most `limit`): its queue.
    pub fn queue(
        &self,
        site: &SiteId,
        limit: usize,
    ) -> Result<Vec<ConversationSummary>, StoreError> {
        // The limit is in the text: a bound `LIMIT` recompiles the statement on every call (see
        // `events::local_events_sql`).
        let sql = super::conversations::select(&format!(
            "WHERE c.site_id = ?1 AND c.state = 'waiting' AND c.kind = 'chat'
             ORDER BY c.created_at, c.id LIMIT {limit}"
        ));
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            rusqlite::params![site.0],
            super::conversations::conversation_from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many active chats an operator has now.
    pub fn active_chats(&self, operator: OperatorId) -> Result<u32, StoreError> {
        let count: i64 = self.conn.query_row_cached(
            "SELECT count(*) FROM conversations WHERE operator_id = ?1 AND state = 'active'",
            [operator.to_string()],
            |row| row.get(0),
        )?;
        Ok(count as u32)
    }

    /// Every operator who may be handed a chat of `site`, with their load; `online` says who
    /// is online (presence is not stored).
    pub fn roster(
        &self,
        site: &SiteId,
        online: &dyn Fn(OperatorId) -> bool,
    ) -> Result<Vec<RosterEntry>, StoreError> {
        let mut roster = Vec::new();
        for op in self.admin_operators()? {
            if op.state == OperatorState::Disabled {
                continue;
            }
            roster.push(self.roster_entry(&op, site, online(op.id))?);
        }
        Ok(roster)
    }

    fn roster_entry(
        &self,
        op: &AdminOperator,
        site: &SiteId,
        online: bool,
    ) -> Result<RosterEntry, StoreError> {
        Ok(RosterEntry {
            id: op.id,
            name: op.name.clone(),
            online,
            active: self.active_chats(op.id)?,
            capacity: op.capacity,
            serves: op.sites.allows(site),
        })
    }
}

/// An operator a routing pass may assign to, with what it has learned of their load.
struct Candidate {
    id: OperatorId,
    name: String,
    active: u32,
    capacity: u32,
}

impl Writer<'_> {
    /// Assigns the waiting chats of every automatic site, oldest first, to the operators in
    /// `online` (the router's turn order, longest without an assignment first) who serve the
    /// site, are not disabled and have room. Returns what changed, in order; an empty list when
    /// nobody had room or nothing waited (and nothing is written).
    pub fn route_waiting(&self, online: &[OperatorId]) -> Result<Vec<StateChange>, StoreError> {
        let mut changes = Vec::new();
        if online.is_empty() {
            return Ok(changes);
        }
        let mut team = Vec::new();
        for id in online {
            if let Some(op) = self.admin_operator(*id)? {
                if op.state == OperatorState::Active {
                    team.push(op);
                }
            }
        }
        // Loads are counted once per pass and kept up to date as the pass assigns, across sites.
        let mut loads: Vec<u32> = Vec::with_capacity(team.len());
        for op in &team {
            loads.push(self.active_chats(op.id)?);
        }
        for (site, mode) in self.sites_with_queue()? {
            let mut candidates: Vec<(usize, Candidate)> = team
                .iter()
                .enumerate()
                .filter(|(_, op)| op.sites.allows(&site))
                .map(|(i, op)| {
                    let candidate = Candidate {
                        id: op.id,
                        name: op.name.clone(),
                        active: loads[i],
                        capacity: op.capacity,
                    };
                    (i, candidate)
                })
                .collect();
            for waiting in self.queue(&site, QUEUE_PASS)? {
                let Some(pick) = choose(&candidates, mode) else {
                    break;
                };
                let (slot, chosen) = &mut candidates[pick];
                self.assign(waiting.id, chosen.id)?;
                let text = format!("{} joined the chat", chosen.name);
                changes.push(self.system_notice(waiting.id, text)?);
                chosen.active += 1;
                loads[*slot] = chosen.active;
                // In turn: whoever was just assigned goes to the back of the line.
                let taken = candidates.remove(pick);
                candidates.push(taken);
            }
        }
        Ok(changes)
    }

    /// Hands conversation `id` to operator `to`: a transfer by its assignee (to someone who
    /// serves the site, is online (`to_online`, from presence) and has room), or an assignment by
    /// an admin (of a waiting or active chat, to anyone who serves the site). A note is stored
    /// as a private note first, so the new assignee finds it with the chat.
    pub fn transfer(
        &self,
        id: ConversationId,
        by: &OperatorProfile,
        to: OperatorId,
        note: Option<&str>,
        to_online: bool,
    ) -> Result<Transferred, StoreError> {
        let current = self.existing_conversation(id)?;
        if !by.sites.allows(&current.site_id) {
            return Err(StoreError::Forbidden(
                "this chat belongs to a site you do not serve".into(),
            ));
        }
        let assignee = current.operator.as_ref().map(|o| o.id);
        let admin = by.role == OperatorRole::Admin;
        match current.state {
            ConversationState::Closed => return Err(StoreError::ConversationClosed),
            ConversationState::Active if assignee == Some(by.id) || admin => {}
            ConversationState::Waiting if admin => {}
            _ => {
                return Err(StoreError::Forbidden(
                    "only the chat's operator or an admin can hand it to someone else".into(),
                ))
            }
        }
        let target = match self.admin_operator(to)? {
            Some(op) if op.state == OperatorState::Active => op,
            Some(op) => {
                return Err(StoreError::Conflict(format!(
                    "{}'s account is disabled",
                    op.name
                )))
            }
            None => return Err(StoreError::NotFound("operator")),
        };
        if assignee == Some(to) {
            return Err(StoreError::Conflict(format!(
                "{} already has this chat",
                target.name
            )));
        }
        let entry = self.roster_entry(&target, &current.site_id, to_online)?;
        let allowed = match admin {
            // An admin may assign to someone offline or full: they decide who takes it.
            true if !entry.serves => Err(format!("{} does not serve this site", entry.name)),
            true => Ok(()),
            false => entry.transferable(),
        };
        allowed.map_err(StoreError::Conflict)?;
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        let note = match note {
            Some(text) if text.len() > MAX_TRANSFER_NOTE_BYTES => {
                return Err(StoreError::Invalid(format!(
                    "a transfer note is at most {MAX_TRANSFER_NOTE_BYTES} bytes"
                )))
            }
            Some(text) => {
                let note_id = MessageId(uuid::Uuid::now_v7());
                let author = protocol::AuthorKind::Operator;
                self.record_message(
                    id,
                    note_id,
                    (author, Some(by.id.0), Some(by.name.clone())),
                    (text, None, true),
                )?;
                self.message(note_id)?
            }
            None => None,
        };
        self.assign(id, to)?;
        // The chat's own operator transfers it; anyone else (an admin) assigns it.
        let verb = match assignee == Some(by.id) {
            true => "transferred",
            false => "assigned",
        };
        let text = format!("{} {verb} the chat to {}", by.name, target.name);
        let change = self.system_notice(id, text)?;
        Ok(Transferred { change, note })
    }
}

/// The candidate a waiting chat goes to under `mode`, by index: round robin takes the first in
/// line with room; least busy the one with the fewest active chats, the first in line among
/// equals. `None` when nobody has room.
fn choose(candidates: &[(usize, Candidate)], mode: RoutingMode) -> Option<usize> {
    let with_room = candidates
        .iter()
        .enumerate()
        .filter(|(_, (_, c))| has_room(c.active, c.capacity));
    match mode {
        RoutingMode::Manual => None,
        RoutingMode::RoundRobin => with_room.map(|(i, _)| i).next(),
        RoutingMode::LeastBusy => with_room.min_by_key(|(_, (_, c))| c.active).map(|(i, _)| i),
    }
}
