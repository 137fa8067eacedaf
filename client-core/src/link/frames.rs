//! What the [`Link`] does with each frame a deployment sends: the welcome (go online, resend the
//! outbox), and afterwards acknowledgements, redirects, draining notices, pongs and everything the
//! app must see.

use super::*;

impl Link {
    pub(super) fn welcomed(&mut self, conn: u64, target: usize, now: u64, frame: ServerFrame) {
        let ServerFrame::Welcome {
            replicates,
            session,
            ..
        } = &frame
        else {
            return;
        };
        if !replicates {
            // This deployment never sends `replicated`: what it acknowledged may leave.
            for id in std::mem::take(&mut self.acked) {
                self.outbox.remove(id);
            }
        }
        if let (Session::Visitor { token, .. }, Auth::Visitor { token: ours, .. }) =
            (session, &mut self.auth)
        {
            *ours = Some(token.clone());
        }
        let replicates = *replicates;
        // A wait for an acknowledgement belongs to the connection it was sent on; the resent
        // outbox starts a new one.
        self.awaiting_since = None;
        self.phase = Phase::Online {
            conn,
            target,
            last_rx: now,
            last_tx: now,
        };
        self.round_failures = 0;
        self.backoff.reset();
        self.suspect_until[target] = 0;
        self.rechecking = false;
        match self.known {
            Some(known) if known.deployment != target => {
                // Welcomed away from the deployment believed active: ask again later whether to
                // go back, less often each time going back failed.
                self.recheck_interval_ms = if std::mem::take(&mut self.returning) {
                    (self.recheck_interval_ms * 2).min(60_000)
                } else {
                    self.config.suspect_ms
                };
                self.recheck_at = Some(now + self.recheck_interval_ms);
            }
            _ => {
                self.returning = false;
                self.recheck_at = None;
            }
        }
        let moved = self.last_welcomed_by != Some(target);
        self.last_welcomed_by = Some(target);
        self.replicates = replicates;
        self.events.push_back(Event::Welcome {
            frame,
            deployment: target,
            moved,
        });
        self.set_status(LinkStatus::Online { deployment: target });
        // Everything not yet on both deployments goes again: the same ids are stored once.
        for message in self.outbox.pending().to_vec() {
            self.send_on(conn, now, message.send_frame());
        }
    }

    pub(super) fn on_frame(&mut self, conn: u64, target: usize, now: u64, frame: ServerFrame) {
        match frame {
            ServerFrame::Pong { .. } => {}
            ServerFrame::Redirect { epoch, url, .. } => {
                if epoch <= self.followed_epoch {
                    return;
                }
                let Some(known) = self.learn(epoch, &url) else {
                    return;
                };
                self.followed_epoch = epoch;
                if known.deployment == target {
                    return;
                }
                if self.suspect(known.deployment, now) {
                    self.deferred_redirect = Some(known);
                } else {
                    self.switch_to(known.deployment, now);
                }
            }
            ServerFrame::Draining => self.leave_draining(conn, now),
            ServerFrame::Ack { message_id, .. } => {
                if self.replicates {
                    if !self.acked.contains(&message_id) {
                        self.acked.push(message_id);
                    }
                } else if self.outbox.remove(message_id) {
                    self.events.push_back(Event::OutboxChanged);
                }
                self.events.push_back(Event::Frame(frame));
            }
            ServerFrame::Replicated { ref message_ids } => {
                let mut changed = false;
                self.acked.retain(|id| !message_ids.contains(id));
                for id in message_ids {
                    changed |= self.outbox.remove(*id);
                }
                if changed {
                    self.events.push_back(Event::OutboxChanged);
                }
                self.events.push_back(Event::Frame(frame));
            }
            ServerFrame::Error {
                code,
                message,
                message_id: Some(id),
            } if !code.retryable() => {
                // A refusal of a message no longer held (refused twice) has been reported already.
                if let Some(pending) = self.outbox.take(id) {
                    self.acked.retain(|acked| *acked != id);
                    self.events.push_back(Event::OutboxChanged);
                    self.events.push_back(Event::Refused {
                        message: pending,
                        code,
                        reason: message,
                    });
                }
            }
            other => self.events.push_back(Event::Frame(other)),
        }
    }

    /// The deployment of `conn` is shutting down: go to the other one at once, as if this one had
    /// failed (it is suspect for a while, so neither the moderator's stale answer nor a recheck
    /// sends the client back before it is up again). What is in the outbox goes again there once
    /// welcomed; a message this deployment acknowledged but did not replicate stays in it.
    pub(super) fn leave_draining(&mut self, conn: u64, now: u64) {
        self.actions.push_back(Action::Close { conn });
        self.fail(now);
    }
}
