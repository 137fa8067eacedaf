//! A native visitor for process tests: the real client ([`native_client::Client`], the client core
//! on tokio) plus a record of what happened to it: every message written, every acknowledgement,
//! and which deployment welcomed it each time.

use client_core::{Event, LinkConfig};
use native_client::{Client, ClientOptions};
use protocol::{MessageId, ServerFrame};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// A visitor and its record.
pub struct Visitor {
    client: Client,
    /// The deployments, primary first, as configured.
    pub deployments: Vec<String>,
    /// Every message written, in order.
    pub written: Vec<MessageId>,
    /// Every message a deployment acknowledged (stored durably there).
    pub acked: BTreeSet<MessageId>,
    /// The deployment (base URL) of every welcome, in order.
    pub welcomed_by: Vec<String>,
}

impl Visitor {
    /// Starts a visitor of `site` that knows both deployments and, if given, the moderator.
    pub fn start(site: &str, deployments: [String; 2], moderator: Option<String>) -> Visitor {
        Self::start_with(site, deployments, moderator, |_| {})
    }

    /// Like [`Visitor::start`], with the link's tuning adjusted by `tune`.
    pub fn start_with(
        site: &str,
        deployments: [String; 2],
        moderator: Option<String>,
        tune: impl FnOnce(&mut LinkConfig),
    ) -> Visitor {
        let mut options = ClientOptions::visitor(site, deployments.to_vec(), moderator);
        tune(&mut options.link);
        Visitor {
            client: Client::start(options),
            deployments: deployments.to_vec(),
            written: Vec::new(),
            acked: BTreeSet::new(),
            welcomed_by: Vec::new(),
        }
    }

    fn absorb(&mut self, event: Event) {
        match event {
            Event::Welcome { deployment, .. } => {
                self.welcomed_by.push(self.deployments[deployment].clone())
            }
            Event::Frame(ServerFrame::Ack { message_id, .. }) => {
                self.acked.insert(message_id);
            }
            _ => {}
        }
    }

    /// Handles events for `duration`.
    pub async fn pump(&mut self, duration: Duration) {
        let deadline = tokio::time::Instant::now() + duration;
        loop {
            tokio::select! {
                event = self.client.next_event() => match event {
                    Some(event) => self.absorb(event),
                    None => return,
                },
                _ = tokio::time::sleep_until(deadline) => return,
            }
        }
    }

    /// Writes `count` messages, one every `interval`, handling events meanwhile.
    pub async fn write_paced(&mut self, count: usize, interval: Duration) {
        for _ in 0..count {
            let id = self.client.write(format!("message {}", self.written.len()));
            self.written.push(id);
            self.pump(interval).await;
        }
    }

    /// Waits until every message written was acknowledged, at most `limit`.
    pub async fn acknowledged(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while !self.written.iter().all(|id| self.acked.contains(id)) {
            if Instant::now() >= deadline {
                return false;
            }
            self.pump(Duration::from_millis(50)).await;
        }
        true
    }

    /// Waits until the outbox is empty (every message on both deployments), at most `limit`.
    pub async fn drained(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while self.client.outbox_len() > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            self.pump(Duration::from_millis(50)).await;
        }
        true
    }

    /// Messages not yet on both deployments.
    pub fn outbox_len(&self) -> usize {
        self.client.outbox_len()
    }
}
