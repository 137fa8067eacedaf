//! The load generator: visitors and an operator as native clients (the client core on tokio, the
//! same code as the widget and the console), in this one process. Message bodies carry their send
//! time, so the operator's side measures end-to-end latency.

use crate::stats::now_us;
use client_core::{Cursors, Event};
use native_client::{Client, ClientOptions};
use protocol::{Auth, AuthorKind, ServerFrame};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a load run saw.
#[derive(Default)]
pub struct Seen {
    /// Messages delivered to the operator inside the measurement window.
    pub delivered: AtomicU64,
    /// Messages confirmed to their senders (`replicated`, or `ack` where nothing replicates)
    /// inside the measurement window.
    pub confirmed: AtomicU64,
    /// End-to-end latencies (ms) of messages delivered inside the window, with their send time
    /// (µs since the bench started).
    pub latencies: Mutex<Vec<(u64, f64)>>,
    /// Every delivery to the operator: conversation and receive time (µs), for failover resume
    /// times.
    pub deliveries: Mutex<Vec<(protocol::ConversationId, u64)>>,
}

impl Seen {
    /// The latencies measured, in ms.
    pub fn latency_values(&self) -> Vec<f64> {
        self.latencies
            .lock()
            .expect("lock")
            .iter()
            .map(|l| l.1)
            .collect()
    }
}

/// The measurement window, in µs since the bench started.
#[derive(Clone, Copy)]
pub struct Window {
    /// Start.
    pub from_us: u64,
    /// End.
    pub to_us: u64,
}

impl Window {
    fn contains(&self, t: u64) -> bool {
        (self.from_us..self.to_us).contains(&t)
    }
}

/// Logs the test admin in on `deployment` and returns the session token (`None` for the relay,
/// which accepts anyone).
pub async fn operator_token(deployment: &str) -> anyhow::Result<String> {
    let body = serde_json::json!({
        "email": tests::deployment::ADMIN_EMAIL,
        "password": tests::deployment::ADMIN_PASSWORD,
    })
    .to_string();
    let answer = daemon::http::HttpClient::default()
        .call(
            daemon::http::Method::POST,
            &format!("{deployment}/v1/operators/login"),
            None,
            Some(body.into_bytes()),
            Duration::from_secs(30),
        )
        .await
        .map_err(anyhow::Error::msg)?;
    let login: protocol::LoginResponse = serde_json::from_slice(&answer.body)?;
    Ok(login.token)
}

/// Runs an operator that counts and times every visitor message it receives, until `until_us`.
pub fn operator(
    deployments: Vec<String>,
    moderator: Option<String>,
    token: String,
    window: Window,
    until_us: u64,
    seen: Arc<Seen>,
) -> tokio::task::JoinHandle<()> {
    let mut options = ClientOptions::visitor("", deployments, moderator);
    options.auth = Auth::Operator {
        token,
        presence: None,
    };
    tokio::spawn(async move {
        let mut client = Client::start(options);
        // What it has, so that after a failover it asks for what it missed (as the console
        // does) and counts each message once: the messages a failover delays most are the ones
        // stored while the operator was reconnecting, which reach it only this way. The cursors
        // keep, per deployment and message log, the highest sequence number received there.
        let mut cursors = Cursors::default();
        let mut conversations: HashSet<protocol::ConversationId> = HashSet::new();
        let mut counted: HashSet<protocol::MessageId> = HashSet::new();
        let mut welcomed = false;
        while now_us() < until_us {
            let wait = Duration::from_micros(until_us.saturating_sub(now_us()));
            let Ok(Some(event)) = tokio::time::timeout(wait, client.next_event()).await else {
                break;
            };
            let messages = match event {
                Event::Welcome {
                    deployment, frame, ..
                } => {
                    cursors.welcomed(deployment, &frame);
                    if std::mem::replace(&mut welcomed, true) {
                        for conversation_id in &conversations {
                            client.send(cursors.sync(*conversation_id));
                        }
                    }
                    continue;
                }
                Event::Frame(ServerFrame::Message { message }) => vec![message],
                Event::Frame(ServerFrame::History {
                    conversation_id,
                    messages,
                }) => {
                    if let Some(next) = cursors.history(conversation_id, &messages) {
                        client.send(next);
                    }
                    messages
                }
                _ => continue,
            };
            for message in messages {
                conversations.insert(message.conversation_id);
                cursors.received(&message);
                if message.author.kind != AuthorKind::Visitor || !counted.insert(message.id) {
                    continue;
                }
                let Ok(sent) = message.body.parse::<u64>() else {
                    continue;
                };
                let received = now_us();
                seen.deliveries
                    .lock()
                    .expect("lock")
                    .push((message.conversation_id, received));
                if window.contains(received) {
                    seen.delivered.fetch_add(1, Ordering::Relaxed);
                    let latency = (received.saturating_sub(sent)) as f64 / 1000.0;
                    seen.latencies.lock().expect("lock").push((sent, latency));
                }
            }
        }
    })
}

/// How a visitor writes.
#[derive(Clone, Copy)]
pub enum Pace {
    /// As fast as confirmations allow, with this many messages unconfirmed at most.
    Window(usize),
    /// One message every period, the first after `offset`.
    Every {
        /// Between two messages.
        period: Duration,
        /// Before the first.
        offset: Duration,
    },
}

/// When visitors stop writing (µs since the bench started); shared, so a run can end them when
/// it is done rather than at a time fixed in advance.
pub type Deadline = Arc<AtomicU64>;

/// A deadline at `at_us`.
pub fn deadline(at_us: u64) -> Deadline {
    Arc::new(AtomicU64::new(at_us))
}

/// Runs one visitor per pace in this process until the window ends, and waits for them all
/// (the bench's own process and each generator process alike).
pub async fn visitors(
    deployments: &[String],
    moderator: Option<String>,
    paces: impl IntoIterator<Item = Pace>,
    window: Window,
    seen: Arc<Seen>,
) {
    let running: Vec<_> = paces
        .into_iter()
        .map(|pace| {
            visitor(
                deployments.to_vec(),
                moderator.clone(),
                pace,
                window,
                deadline(window.to_us),
                seen.clone(),
            )
        })
        .collect();
    for visitor in running {
        let _ = visitor.await;
    }
}

/// Runs one visitor until the deadline; returns the number of messages it wrote.
pub fn visitor(
    deployments: Vec<String>,
    moderator: Option<String>,
    pace: Pace,
    window: Window,
    until: Deadline,
    seen: Arc<Seen>,
) -> tokio::task::JoinHandle<u64> {
    let options = ClientOptions::visitor(tests::deployment::SITE_ID, deployments, moderator);
    tokio::spawn(async move {
        let mut client = Client::start(options);
        let mut replicates = true;
        let mut written = 0;
        let mut next_write = now_us()
            + match pace {
                Pace::Every { offset, .. } => offset.as_micros() as u64,
                Pace::Window(_) => 0,
            };
        loop {
            let now = now_us();
            let until_us = until.load(Ordering::Relaxed);
            if now >= until_us {
                break;
            }
            match pace {
                Pace::Window(limit) => {
                    while client.outbox_len() < limit {
                        client.write(now_us().to_string());
                        written += 1;
                    }
                }
                Pace::Every { period, .. } if now >= next_write => {
                    client.write(now_us().to_string());
                    written += 1;
                    next_write += period.as_micros() as u64;
                }
                Pace::Every { .. } => {}
            }
            let wake_at = match pace {
                Pace::Window(_) => until_us,
                Pace::Every { .. } => next_write.min(until_us),
            };
            let wait = wake_at.saturating_sub(now_us()).max(1);
            let event = match tokio::time::timeout(Duration::from_micros(wait), client.next_event())
                .await
            {
                Ok(Some(event)) => event,
                Ok(None) => break,
                Err(_) => continue,
            };
            let confirmed = match event {
                Event::Welcome {
                    frame:
                        ServerFrame::Welcome {
                            replicates: flag, ..
                        },
                    ..
                } => {
                    replicates = flag;
                    0
                }
                Event::Frame(ServerFrame::Replicated { message_ids }) if replicates => {
                    message_ids.len() as u64
                }
                Event::Frame(ServerFrame::Ack { .. }) if !replicates => 1,
                _ => 0,
            };
            if confirmed > 0 && window.contains(now_us()) {
                seen.confirmed.fetch_add(confirmed, Ordering::Relaxed);
            }
        }
        // Whatever is still unconfirmed is given time to get through, as a visitor who stays on
        // the page would; a message given up here would count as lost.
        client.drained(Duration::from_secs(60)).await;
        written
    })
}
