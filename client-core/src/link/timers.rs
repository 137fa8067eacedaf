//! What the [`Link`] does as time passes: the deadlines of the moderator's answer and of a
//! connection attempt (and of a second attempt beside it, see `probe`), and while online the heartbeat, the silence that declares a connection
//! dead (shorter while the chat is active), deferred redirects and the question whether to go
//! back to the deployment believed active.

use super::*;

impl Link {
    /// Time passed; see [`Link::poll_timeout`].
    pub fn handle_timeout(&mut self, now: u64) {
        self.probe_expired(now);
        self.race(now);
        match self.phase {
            Phase::Asking { until } if now >= until => self.moderator_answered(now, None),
            Phase::Connecting { conn, until, .. } if now >= until => {
                self.actions.push_back(Action::Close { conn });
                self.fail(now);
            }
            Phase::Online {
                conn,
                target,
                last_rx,
                last_tx,
            } => {
                if now >= self.silence_deadline(last_rx) {
                    self.actions.push_back(Action::Close { conn });
                    self.fail(now);
                    return;
                }
                if let Some(redirect) = self.deferred_redirect {
                    if now >= self.suspect_until[redirect.deployment] {
                        self.deferred_redirect = None;
                        if redirect.deployment != target {
                            self.switch_to(redirect.deployment, now);
                            return;
                        }
                    }
                }
                if self.recheck_at.is_some_and(|at| now >= at) && !self.rechecking {
                    self.recheck_at = Some(now + self.recheck_interval_ms);
                    if let Some(base) = &self.config.moderator {
                        self.rechecking = true;
                        self.actions.push_back(Action::AskModerator {
                            url: active_url(base),
                            timeout_ms: self.config.moderator_timeout_ms,
                        });
                    }
                }
                if now >= self.heartbeat_deadline(last_tx) {
                    self.nonce += 1;
                    self.send_on(conn, now, ClientFrame::Ping { nonce: self.nonce });
                }
            }
            Phase::Waiting { until } if now >= until => self.begin_round(now),
            _ => {}
        }
    }

    /// When [`Link::handle_timeout`] must be called next, if ever.
    pub fn poll_timeout(&self) -> Option<u64> {
        let phase = self.phase_timeout();
        match (phase, self.probe_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// When the current phase needs [`Link::handle_timeout`] next, if ever.
    fn phase_timeout(&self) -> Option<u64> {
        match self.phase {
            Phase::Idle => None,
            Phase::Asking { until }
            | Phase::Connecting { until, .. }
            | Phase::Waiting { until } => Some(until),
            Phase::Online {
                last_rx, last_tx, ..
            } => {
                let mut next = self
                    .silence_deadline(last_rx)
                    .min(self.heartbeat_deadline(last_tx));
                if let Some(redirect) = self.deferred_redirect {
                    next = next.min(self.suspect_until[redirect.deployment]);
                }
                if let Some(at) = self.recheck_at.filter(|_| !self.rechecking) {
                    next = next.min(at);
                }
                Some(next)
            }
        }
    }

    /// Whether a message in the outbox has not been acknowledged by the current deployment.
    pub(super) fn awaits_ack(&self) -> bool {
        self.outbox
            .pending()
            .iter()
            .any(|m| !self.acked.contains(&m.message_id))
    }

    /// Whether the chat counted as active at `at`.
    fn active_at(&self, at: u64) -> bool {
        self.awaiting_since.is_some()
            || self
                .last_activity
                .is_some_and(|last| at < last + self.config.active_window_ms)
    }

    /// When the current connection is dead if nothing arrives before, given the last receipt:
    /// the shorter threshold applies to a silence that began while the chat was active.
    fn silence_deadline(&self, last_rx: u64) -> u64 {
        let idle = last_rx + self.config.silence_ms;
        if !self.active_at(last_rx) {
            return idle;
        }
        let from = self
            .awaiting_since
            .map_or(last_rx, |since| since.max(last_rx));
        idle.min(from + self.config.active_silence_ms)
    }

    /// When the next `ping` is due if nothing else is sent before, given the last send.
    fn heartbeat_deadline(&self, last_tx: u64) -> u64 {
        last_tx
            + if self.active_at(last_tx) {
                self.config.active_heartbeat_ms
            } else {
                self.config.heartbeat_ms
            }
    }
}
