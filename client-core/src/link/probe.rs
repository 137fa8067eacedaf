//! A second connection attempt beside the current one, for two cases where waiting on one
//! connection at a time cost chats seconds in the fault suite:
//!
//! - **A switch is made before the working connection is broken.** On a redirect, or a return to
//!   the deployment believed active, the link opens the new connection and keeps the working one
//!   until the new one is welcomed. A target that does not welcome within `switch_timeout_ms`
//!   (frozen, cut off, or swamped by everyone moving at once) is given up, and nothing was
//!   interrupted: no message waits for a connection to be made again to where it already was,
//!   and an `ack` already on its way on the working connection still arrives.
//! - **A slow attempt is raced.** An attempt that has not been welcomed within
//!   `switch_timeout_ms` gets the other deployment tried beside it, and the first to welcome wins.
//!   A black-holed network accepts a connection and never answers, so trying one deployment after
//!   the other cost the whole `connect_timeout_ms` (4 s) for each black-holed path, while a
//!   healthy deployment welcomes in milliseconds and a slow network still gets its full time.
//!
//! The attempt that loses is closed. Messages are only ever sent on the connection the link is
//! online on; the winner is welcomed like any connection, so the outbox goes again there (the
//! same ids are stored once).

use super::*;

/// The second attempt: its connection, its deployment and its deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Probe {
    pub(super) conn: u64,
    pub(super) target: usize,
    until: u64,
}

impl Link {
    /// How long an attempt runs alone before the other deployment is tried beside it.
    pub(super) fn race_after_ms(&self) -> u64 {
        self.config
            .switch_timeout_ms
            .min(self.config.connect_timeout_ms)
    }

    /// Leaves the working connection for `target` (a redirect, or a return to the deployment
    /// believed active) once `target` has welcomed, keeping the working one until then.
    pub(super) fn switch_to(&mut self, target: usize, now: u64) {
        if self.probe.is_some_and(|p| p.target == target) {
            return;
        }
        self.abandon_probe();
        let until = now + self.race_after_ms();
        self.open_probe(target, until);
    }

    /// While connecting: tries the other deployment beside the attempt under way once it has
    /// run alone for [`Link::race_after_ms`].
    pub(super) fn race(&mut self, now: u64) {
        let Phase::Connecting { target, .. } = self.phase else {
            return;
        };
        if self.race_at.is_none_or(|at| now < at) {
            return;
        }
        self.race_at = None;
        if let (None, Some(other)) = (self.probe, self.other(target)) {
            self.open_probe(other, now + self.config.connect_timeout_ms);
        }
    }

    /// When the probe's deadline or the race is due, if either is.
    pub(super) fn probe_timeout(&self) -> Option<u64> {
        let race = match self.phase {
            Phase::Connecting { .. } if self.probe.is_none() => self.race_at,
            _ => None,
        };
        match (self.probe.map(|p| p.until), race) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Gives the probe up once its deadline has passed.
    pub(super) fn probe_expired(&mut self, now: u64) {
        if self.probe.is_some_and(|p| now >= p.until) {
            self.probe_failed(now);
        }
    }

    fn open_probe(&mut self, target: usize, until: u64) {
        self.next_conn += 1;
        let conn = self.next_conn;
        let url = protocol::websocket_url(&self.config.deployments[target], protocol::WS_PATH);
        self.actions.push_back(Action::Open { conn, url });
        self.probe = Some(Probe {
            conn,
            target,
            until,
        });
    }

    /// Closes the probe without holding anything against its deployment (the link moved on).
    pub(super) fn abandon_probe(&mut self) {
        if let Some(probe) = self.probe.take() {
            self.actions.push_back(Action::Close { conn: probe.conn });
        }
    }

    /// A frame on the probe's connection: its welcome makes it the link's connection.
    pub(super) fn probe_received(&mut self, now: u64, frame: ServerFrame) {
        match frame {
            ServerFrame::Welcome { .. } => {
                let Some(probe) = self.probe.take() else {
                    return;
                };
                match self.phase {
                    // A race lost: the attempt that did not welcome in a second is suspect, so
                    // a redirect back to it waits (and is then made before breaking).
                    Phase::Connecting { conn, target, .. } => {
                        self.actions.push_back(Action::Close { conn });
                        self.suspect_until[target] = now + self.config.suspect_ms;
                    }
                    Phase::Online { conn, .. } => self.actions.push_back(Action::Close { conn }),
                    _ => {}
                }
                self.race_at = None;
                self.welcomed(probe.conn, probe.target, now, frame);
            }
            ServerFrame::Draining => self.probe_failed(now),
            // Nothing else is for the app before the welcome; a refused `hello` ends with the
            // connection closing.
            _ => {}
        }
    }

    /// The probe closed, or was not welcomed in time: its deployment is suspect, and the link
    /// stays where it is. A failed return is tried again later, less often each time, as when it
    /// failed on a connection of its own.
    pub(super) fn probe_failed(&mut self, now: u64) {
        let Some(probe) = self.probe.take() else {
            return;
        };
        self.actions.push_back(Action::Close { conn: probe.conn });
        self.suspect_until[probe.target] = now + self.config.suspect_ms;
        let returning = std::mem::take(&mut self.returning);
        if let Phase::Online { target, .. } = self.phase {
            if self.known.is_some_and(|k| k.deployment != target) {
                self.recheck_interval_ms = if returning {
                    (self.recheck_interval_ms * 2).min(60_000)
                } else {
                    self.config.suspect_ms
                };
                self.recheck_at = Some(now + self.recheck_interval_ms);
            }
        }
    }

    /// The link's own attempt or connection failed while a probe is under way: the probe becomes
    /// the attempt waited for. Returns whether there was one.
    pub(super) fn promote_probe(&mut self) -> bool {
        let Some(probe) = self.probe.take() else {
            return false;
        };
        self.phase = Phase::Connecting {
            conn: probe.conn,
            target: probe.target,
            until: probe.until,
        };
        self.race_at = None;
        self.set_status(LinkStatus::Connecting);
        true
    }
}
