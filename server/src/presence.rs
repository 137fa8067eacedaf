//! Who is online to answer chats, on this deployment and on its peer.
//!
//! Presence is not stored: it is what open consoles say now. Each deployment keeps its own
//! operators' state here (an operator is online while one of their consoles is open and they
//! have not chosen away), and the last list of online operators its peer sent over the
//! replication link ([`protocol::replication::ReplicationFrame::Presence`]). The peer's list
//! counts only while it is fresh: the link ends (the puller drops a link silent
//! for a few heartbeats), and its operators stop counting a few seconds later (time for their
//! consoles to fail over here), so a frozen data centre does not keep telling visitors that
//! someone is there.
//!
//! Visitors' sockets watch [`PresenceBoard::subscribe`] and send `availability` when their
//! site's answer changes.

use protocol::admin::SiteScope;
use protocol::conversation::{OnlineOperator, Presence};
use protocol::{OperatorId, SiteId};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long the peer's list counts after it was last heard. The list comes with every
/// two-second heartbeat, and the puller drops a link silent for 8 s (which forgets the list and
/// tells visitors), so this only bounds what a list is worth should that ever not happen.
pub const REMOTE_FRESH: Duration = Duration::from_secs(10);

/// How long the peer's operators still count after the link to it ended. When a data centre
/// dies, its consoles reconnect here within a second or two (and then count as this
/// deployment's own); forgetting them at once told every visitor "away" for that moment, and
/// showed the offline form to those about to write.
pub const REMOTE_GRACE: Duration = Duration::from_secs(5);

/// One of this deployment's operators with a console open.
#[derive(Debug)]
struct Local {
    /// The sites they serve.
    sites: SiteScope,
    /// Their open consoles.
    consoles: u32,
    /// Their choice.
    state: Presence,
}

#[derive(Debug, Default)]
struct Board {
    local: HashMap<OperatorId, Local>,
    /// The peer's online operators and when they were heard.
    remote: Option<(Vec<OnlineOperator>, Instant)>,
    /// When the link to the peer ended, while its list still counts ([`REMOTE_GRACE`]).
    lost_at: Option<Instant>,
}

/// The presence of every operator this deployment knows of; shared by all sockets.
#[derive(Debug)]
pub struct PresenceBoard {
    board: Mutex<Board>,
    /// Bumped on every change that may change an answer.
    changed: watch::Sender<u64>,
}

impl Default for PresenceBoard {
    fn default() -> Self {
        Self {
            board: Mutex::default(),
            changed: watch::channel(0).0,
        }
    }
}

impl PresenceBoard {
    fn update<R>(&self, f: impl FnOnce(&mut Board) -> R) -> R {
        let result = f(&mut self.board.lock().expect("presence lock"));
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
        result
    }

    /// A console of `operator` opened, saying what the operator chose last if it knows;
    /// returns their state (that choice, else what another console chose, else online).
    pub fn console_opened(
        &self,
        operator: OperatorId,
        sites: SiteScope,
        chosen: Option<Presence>,
    ) -> Presence {
        self.update(|b| {
            let entry = b.local.entry(operator).or_insert(Local {
                sites: sites.clone(),
                consoles: 0,
                state: Presence::Online,
            });
            entry.consoles += 1;
            entry.sites = sites;
            if let Some(chosen) = chosen {
                entry.state = chosen;
            }
            entry.state
        })
    }

    /// A console of `operator` closed: with the last one they are away.
    pub fn console_closed(&self, operator: OperatorId) {
        self.update(|b| {
            if let Some(entry) = b.local.get_mut(&operator) {
                entry.consoles = entry.consoles.saturating_sub(1);
                if entry.consoles == 0 {
                    b.local.remove(&operator);
                }
            }
        });
    }

    /// The operator chose online or away (in any of their consoles).
    pub fn set(&self, operator: OperatorId, state: Presence) {
        self.update(|b| {
            if let Some(entry) = b.local.get_mut(&operator) {
                entry.state = state;
            }
        });
    }

    /// The sites an operator serves changed (an admin's edit).
    pub fn set_sites(&self, operator: OperatorId, sites: &SiteScope) {
        let differs = {
            let board = self.board.lock().expect("presence lock");
            board
                .local
                .get(&operator)
                .is_some_and(|entry| entry.sites != *sites)
        };
        if differs {
            self.update(|b| {
                if let Some(entry) = b.local.get_mut(&operator) {
                    entry.sites = sites.clone();
                }
            });
        }
    }

    /// This deployment's online operators, for the peer.
    pub fn local_online(&self) -> Vec<OnlineOperator> {
        let board = self.board.lock().expect("presence lock");
        let mut online: Vec<OnlineOperator> = board
            .local
            .iter()
            .filter(|(_, entry)| entry.state == Presence::Online)
            .map(|(id, entry)| OnlineOperator {
                id: *id,
                sites: entry.sites.clone(),
            })
            .collect();
        online.sort_by_key(|o| o.id);
        online
    }

    /// The peer's list arrived (it is sent whole, at every heartbeat).
    pub fn remote_heard(&self, online: Vec<OnlineOperator>) {
        let same = {
            let board = self.board.lock().expect("presence lock");
            board
                .remote
                .as_ref()
                .is_some_and(|(list, _)| *list == online)
        };
        let now = Instant::now();
        self.board.lock().expect("presence lock").lost_at = None;
        if same {
            // Only freshness changed: no answer changes, nobody is woken.
            if let Some((_, heard)) = &mut self.board.lock().expect("presence lock").remote {
                *heard = now;
            }
            return;
        }
        self.update(|b| b.remote = Some((online, now)));
    }

    /// The link to the peer ended. Its operators still count for [`REMOTE_GRACE`], so that
    /// consoles failing over from it do not look away meanwhile; returns the moment to pass to
    /// [`PresenceBoard::forget_lost`] once the grace is over (`None`: nothing to forget).
    pub fn remote_lost(&self) -> Option<Instant> {
        let mut board = self.board.lock().expect("presence lock");
        board.remote.as_ref()?;
        Some(*board.lost_at.get_or_insert_with(Instant::now))
    }

    /// The grace after the loss at `since` is over: unless the link came back meanwhile, the
    /// peer's operators no longer count.
    pub fn forget_lost(&self, since: Instant) {
        let lost = self.board.lock().expect("presence lock").lost_at == Some(since);
        if lost {
            self.update(|b| {
                b.remote = None;
                b.lost_at = None;
            });
        }
    }

    /// Whether an operator who serves `site` is online here or at the peer.
    pub fn online_for(&self, site: &SiteId) -> bool {
        let board = self.board.lock().expect("presence lock");
        let here = board
            .local
            .values()
            .any(|entry| entry.state == Presence::Online && entry.sites.allows(site));
        let there = board.remote.as_ref().is_some_and(|(list, heard)| {
            heard.elapsed() <= REMOTE_FRESH && list.iter().any(|o| o.sites.allows(site))
        });
        here || there
    }

    /// Every operator online here or at the peer, by id.
    pub fn online_operators(&self) -> Vec<OperatorId> {
        let board = self.board.lock().expect("presence lock");
        let mut online: Vec<OperatorId> = board
            .local
            .iter()
            .filter(|(_, entry)| entry.state == Presence::Online)
            .map(|(id, _)| *id)
            .collect();
        if let Some((list, heard)) = &board.remote {
            if heard.elapsed() <= REMOTE_FRESH {
                online.extend(list.iter().map(|o| o.id));
            }
        }
        online.sort();
        online.dedup();
        online
    }

    /// Whether an operator is online here or at the peer.
    pub fn is_online(&self, operator: OperatorId) -> bool {
        self.online_operators().contains(&operator)
    }

    /// The operator's own state, if a console of theirs is open here.
    pub fn state_of(&self, operator: OperatorId) -> Option<Presence> {
        let board = self.board.lock().expect("presence lock");
        board.local.get(&operator).map(|entry| entry.state)
    }

    /// Changes whenever an answer of [`PresenceBoard::online_for`] may have changed.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(n: u8) -> OperatorId {
        OperatorId::from_parts(1, [n; 10])
    }

    #[test]
    fn an_operator_is_online_while_a_console_is_open_and_they_have_not_chosen_away() {
        let board = PresenceBoard::default();
        let acme = SiteId("acme".into());
        assert!(!board.online_for(&acme));
        assert_eq!(
            board.console_opened(op(1), SiteScope::All, None),
            Presence::Online
        );
        assert!(board.online_for(&acme));
        assert_eq!(
            board.console_opened(op(1), SiteScope::All, None),
            Presence::Online
        );
        board.set(op(1), Presence::Away);
        assert!(!board.online_for(&acme));
        // A third console takes the operator's choice, not "online".
        assert_eq!(
            board.console_opened(op(1), SiteScope::All, None),
            Presence::Away
        );
        board.set(op(1), Presence::Online);
        board.console_closed(op(1));
        board.console_closed(op(1));
        assert!(board.online_for(&acme));
        board.console_closed(op(1));
        assert!(!board.online_for(&acme), "the last console closed");
        assert!(board.local_online().is_empty());
    }

    #[test]
    fn only_operators_who_serve_the_site_count() {
        let board = PresenceBoard::default();
        let acme = SiteId("acme".into());
        let other = SiteId("other".into());
        board.console_opened(op(1), SiteScope::Only(vec![other.clone()]), None);
        // A console that says its operator chose away does not count, even for a moment.
        board.console_opened(op(2), SiteScope::All, Some(Presence::Away));
        assert!(!board.online_for(&acme));
        assert!(!board.online_for(&acme));
        assert!(board.online_for(&other));
        board.set_sites(op(1), &SiteScope::Only(vec![acme.clone()]));
        assert!(board.online_for(&acme));
    }

    #[test]
    fn the_peers_operators_count_until_the_link_ends() {
        let board = PresenceBoard::default();
        let acme = SiteId("acme".into());
        let mut changes = board.subscribe();
        board.remote_heard(vec![OnlineOperator {
            id: op(2),
            sites: SiteScope::All,
        }]);
        assert!(changes.has_changed().unwrap());
        changes.mark_unchanged();
        assert!(board.online_for(&acme));
        // Heard again unchanged: nobody is woken.
        board.remote_heard(vec![OnlineOperator {
            id: op(2),
            sites: SiteScope::All,
        }]);
        assert!(!changes.has_changed().unwrap());
        // The link ends: they still count until the grace is over, then nobody is there.
        let since = board.remote_lost().expect("a list to forget");
        assert!(board.online_for(&acme));
        assert!(!changes.has_changed().unwrap());
        board.forget_lost(since);
        assert!(!board.online_for(&acme));
        assert!(changes.has_changed().unwrap());
        assert_eq!(board.remote_lost(), None, "nothing left to forget");
    }

    #[test]
    fn a_link_back_within_the_grace_keeps_the_peers_operators() {
        let board = PresenceBoard::default();
        let acme = SiteId("acme".into());
        let list = || {
            vec![OnlineOperator {
                id: op(2),
                sites: SiteScope::All,
            }]
        };
        board.remote_heard(list());
        let since = board.remote_lost().expect("a list to forget");
        board.remote_heard(list());
        board.forget_lost(since);
        assert!(board.online_for(&acme));
    }
}
