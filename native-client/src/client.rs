//! The tokio driver of [`Link`]. One task owns the link; each WebSocket has a reader task that
//! reports frames and its end, and a writer fed by a channel; the moderator is asked by a task of
//! its own. Nothing here decides anything: every decision is the link's.

use client_core::{
    Action, Event, KnownActive, Link, LinkConfig, LinkStatus, Outbox, PendingMessage,
};
use daemon::http::{HttpClient, Method};
use futures_util::{SinkExt, StreamExt};
use protocol::moderation::ActiveDeployment;
use protocol::{Auth, ClientFrame, ConversationId, MessageId, ServerFrame, Session};
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// How a client is set up.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Addresses and tuning of the link.
    pub link: LinkConfig,
    /// Who connects.
    pub auth: Auth,
    /// Where the visitor token, the outbox and the last known active deployment are kept across
    /// restarts (none: in memory only), like the widget's `localStorage`.
    pub state_file: Option<PathBuf>,
    /// Where the driver notes what it did and heard (none: nothing is noted).
    pub trace: Option<Trace>,
}

/// What a driver did and heard, each line with its time: which deployment it asked for or
/// connected to, what answered, and when the link's status changed. The fault suite prints the
/// lines around its slowest message, which is how a long wait gets explained rather than guessed
/// at. It keeps the newest [`Trace::LIMIT`] lines, and is shared by the clones of the options, so
/// a client restarted from its state file goes on in the same trace.
#[derive(Clone, Debug, Default)]
pub struct Trace(Arc<Mutex<VecDeque<(Instant, String)>>>);

impl Trace {
    /// How many lines are kept.
    pub const LIMIT: usize = 20_000;

    fn note(&self, line: impl FnOnce() -> String) {
        let mut lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if lines.len() == Self::LIMIT {
            lines.pop_front();
        }
        lines.push_back((Instant::now(), line()));
    }

    /// The lines noted from `from` to `to`, oldest first.
    pub fn between(&self, from: Instant, to: Instant) -> Vec<(Instant, String)> {
        let lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        lines
            .iter()
            .filter(|(at, _)| (from..=to).contains(at))
            .cloned()
            .collect()
    }
}

/// What a client keeps across restarts.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Saved {
    /// A visitor's token, so a restarted client is the same visitor (and may write to its
    /// conversations).
    #[serde(default)]
    token: Option<String>,
    /// Messages not yet on both deployments.
    #[serde(default)]
    outbox: Outbox,
    /// The newest decision of the moderator heard of.
    #[serde(default)]
    active: Option<KnownActive>,
}

impl ClientOptions {
    /// A visitor of `site` on the given deployments (primary first), asking `moderator` if any.
    pub fn visitor(site: &str, deployments: Vec<String>, moderator: Option<String>) -> Self {
        Self {
            link: LinkConfig::new(deployments, moderator, rand::random()),
            auth: Auth::Visitor {
                site_id: protocol::SiteId(site.into()),
                token: None,
                user: None,
            },
            state_file: None,
            trace: None,
        }
    }
}

/// What the driver loop hears.
enum Input {
    Moderator(Option<ActiveDeployment>),
    Opened(u64),
    Received(u64, ServerFrame),
    Closed(u64),
    Write(PendingMessage),
    Send(ClientFrame),
}

/// A running client. Dropping it stops the driver and closes its connection.
pub struct Client {
    inputs: mpsc::UnboundedSender<Input>,
    events: mpsc::UnboundedReceiver<Event>,
    status: watch::Receiver<LinkStatus>,
    outbox_len: watch::Receiver<usize>,
    /// Publishes the outbox's length; a message written here counts at once, before the driver
    /// has taken it into the outbox, so "the outbox is empty" is never read between the two.
    outbox_len_now: Arc<watch::Sender<usize>>,
    /// Messages written and not yet taken into the outbox by the driver.
    unqueued: Arc<AtomicUsize>,
    conversation: ConversationId,
}

impl Client {
    /// Starts the client in the background (on the current tokio runtime).
    pub fn start(mut options: ClientOptions) -> Client {
        let saved: Saved = options
            .state_file
            .as_ref()
            .and_then(|path| std::fs::read(path).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        if let (Auth::Visitor { token, .. }, Some(saved)) = (&mut options.auth, &saved.token) {
            token.get_or_insert_with(|| saved.clone());
        }
        let outbox = saved.outbox;
        let conversation = outbox
            .pending()
            .first()
            .map(|m| m.conversation_id)
            .unwrap_or_else(|| ConversationId(uuid::Uuid::now_v7()));
        let (inputs, input_rx) = mpsc::unbounded_channel();
        let (event_tx, events) = mpsc::unbounded_channel();
        let (status_tx, status) = watch::channel(LinkStatus::Idle);
        let (outbox_tx, outbox_len) = watch::channel(outbox.pending().len());
        let outbox_tx = Arc::new(outbox_tx);
        let unqueued = Arc::new(AtomicUsize::new(0));
        let token = match &options.auth {
            Auth::Visitor { token, .. } => token.clone(),
            Auth::Operator { .. } => None,
        };
        let link = Link::new(options.link, options.auth, None, outbox, saved.active);
        let driver = Driver {
            link,
            started: Instant::now(),
            inputs: inputs.clone(),
            writers: HashMap::new(),
            http: HttpClient::default(),
            events: event_tx,
            status: status_tx,
            outbox_len: outbox_tx.clone(),
            unqueued: unqueued.clone(),
            state_file: options.state_file,
            trace: options.trace,
            token,
        };
        tokio::spawn(driver.run(input_rx));
        Client {
            inputs,
            events,
            status,
            outbox_len,
            outbox_len_now: outbox_tx,
            unqueued,
            conversation,
        }
    }

    /// The conversation this client writes to (a visitor's first message opens it).
    pub fn conversation(&self) -> ConversationId {
        self.conversation
    }

    /// Writes a message to the client's conversation; returns its id.
    pub fn write(&self, body: impl Into<String>) -> MessageId {
        self.write_to(self.conversation, body)
    }

    /// Writes a message to `conversation`; returns its id.
    pub fn write_to(&self, conversation: ConversationId, body: impl Into<String>) -> MessageId {
        self.write_with(conversation, body, None)
    }

    /// Like [`Client::write_to`], with form answers stored together with the message (the
    /// offline form, or the first message after the pre-chat form).
    pub fn write_with(
        &self,
        conversation: ConversationId,
        body: impl Into<String>,
        intake: Option<protocol::Intake>,
    ) -> MessageId {
        let id = MessageId(uuid::Uuid::now_v7());
        let message = PendingMessage {
            conversation_id: conversation,
            message_id: id,
            body: body.into(),
            written_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0),
            intake,
            attachment: None,
            private: false,
        };
        self.unqueued.fetch_add(1, Ordering::SeqCst);
        self.outbox_len_now.send_modify(|n| *n += 1);
        let _ = self.inputs.send(Input::Write(message));
        id
    }

    /// Sends a frame that is not kept if offline (typing, sync, accept, close).
    pub fn send(&self, frame: ClientFrame) {
        let _ = self.inputs.send(Input::Send(frame));
    }

    /// The next event (welcomes, frames, status changes).
    pub async fn next_event(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// The link's state now.
    pub fn status(&self) -> LinkStatus {
        *self.status.borrow()
    }

    /// Waits until the outbox is empty (every message on both deployments), at most `limit`;
    /// returns whether it emptied.
    pub async fn drained(&mut self, limit: Duration) -> bool {
        tokio::time::timeout(limit, self.outbox_len.wait_for(|n| *n == 0))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// How many messages wait in the outbox.
    pub fn outbox_len(&self) -> usize {
        *self.outbox_len.borrow()
    }
}

struct Driver {
    link: Link,
    started: Instant,
    inputs: mpsc::UnboundedSender<Input>,
    writers: HashMap<u64, mpsc::UnboundedSender<WsMessage>>,
    http: HttpClient,
    events: mpsc::UnboundedSender<Event>,
    status: watch::Sender<LinkStatus>,
    outbox_len: Arc<watch::Sender<usize>>,
    unqueued: Arc<AtomicUsize>,
    state_file: Option<PathBuf>,
    trace: Option<Trace>,
    /// The visitor token to save.
    token: Option<String>,
}

impl Driver {
    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    async fn run(mut self, mut inputs: mpsc::UnboundedReceiver<Input>) {
        self.link.start(self.now());
        self.carry_out();
        loop {
            let wake = self
                .link
                .poll_timeout()
                .map(|ms| self.started + Duration::from_millis(ms))
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                input = inputs.recv() => {
                    let Some(input) = input else { return };
                    let now = self.now();
                    self.note(|| match &input {
                        Input::Moderator(answer) => format!("moderator answered {answer:?}"),
                        Input::Opened(conn) => format!("conn {conn} open"),
                        Input::Received(conn, frame) => format!("conn {conn} received {}", frame_kind(frame)),
                        Input::Closed(conn) => format!("conn {conn} closed"),
                        Input::Write(message) => format!("write {}", message.message_id),
                        Input::Send(_) => "send".into(),
                    });
                    match input {
                        Input::Moderator(answer) => self.link.moderator_answered(now, answer),
                        Input::Opened(conn) => self.link.opened(conn, now),
                        Input::Received(conn, frame) => self.link.received(conn, now, frame),
                        Input::Closed(conn) => {
                            self.writers.remove(&conn);
                            self.link.closed(conn, now);
                        }
                        Input::Write(message) => {
                            self.unqueued.fetch_sub(1, Ordering::SeqCst);
                            self.link.send_message(now, message);
                        }
                        Input::Send(frame) => { self.link.send(now, frame); }
                    }
                }
                _ = tokio::time::sleep_until(wake.into()) => {
                    let now = self.now();
                    self.link.handle_timeout(now);
                }
                // The handle was dropped: nobody listens any more.
                _ = self.events.closed() => return,
            }
            self.carry_out();
        }
    }

    fn note(&self, line: impl FnOnce() -> String) {
        if let Some(trace) = &self.trace {
            trace.note(line);
        }
    }

    fn carry_out(&mut self) {
        while let Some(action) = self.link.poll_action() {
            self.note(|| match &action {
                Action::AskModerator { url, .. } => format!("ask {url}"),
                Action::Open { conn, url } => format!("conn {conn} opening {url}"),
                Action::Send { conn, frame } => {
                    format!("conn {conn} send {}", client_frame_kind(frame))
                }
                Action::Close { conn } => format!("conn {conn} close"),
            });
            match action {
                Action::AskModerator { url, timeout_ms } => {
                    let (http, inputs) = (self.http.clone(), self.inputs.clone());
                    tokio::spawn(async move {
                        let answer = http
                            .call(
                                Method::GET,
                                &url,
                                None,
                                None,
                                Duration::from_millis(timeout_ms),
                            )
                            .await
                            .ok()
                            .filter(|a| a.status == 200)
                            .and_then(|a| serde_json::from_slice(&a.body).ok());
                        let _ = inputs.send(Input::Moderator(answer));
                    });
                }
                Action::Open { conn, url } => {
                    let (writer, outgoing) = mpsc::unbounded_channel();
                    self.writers.insert(conn, writer);
                    tokio::spawn(connection(conn, url, outgoing, self.inputs.clone()));
                }
                Action::Send { conn, frame } => {
                    if let Some(writer) = self.writers.get(&conn) {
                        let _ = writer.send(WsMessage::Text(frame.encode().into()));
                    }
                }
                Action::Close { conn } => {
                    // Dropping the writer ends the connection task, which closes the socket.
                    self.writers.remove(&conn);
                }
            }
        }
        while let Some(event) = self.link.poll_event() {
            if let Event::Status(status) = &event {
                self.note(|| format!("status {status:?}"));
            }
            match &event {
                Event::Status(status) => {
                    let _ = self.status.send(*status);
                }
                Event::OutboxChanged => self.save(),
                Event::Welcome {
                    frame:
                        ServerFrame::Welcome {
                            session: Session::Visitor { token, .. },
                            ..
                        },
                    ..
                } => {
                    self.token = Some(token.clone());
                    self.save();
                }
                _ => {}
            }
            let _ = self.events.send(event);
        }
    }

    /// Writes the state file whole (temporary file, flushed, then renamed), so a crash leaves the
    /// old or the new state, never half of one.
    fn save(&mut self) {
        let outbox = self.link.outbox();
        let _ = self
            .outbox_len
            .send(outbox.pending().len() + self.unqueued.load(Ordering::SeqCst));
        let Some(path) = &self.state_file else {
            return;
        };
        let saved = Saved {
            token: self.token.clone(),
            outbox: outbox.clone(),
            active: self.link.known_active(),
        };
        let bytes = serde_json::to_vec(&saved).expect("the state serialises");
        let temporary = path.with_extension("tmp");
        let written = std::fs::File::create(&temporary).and_then(|mut file| {
            use std::io::Write;
            file.write_all(&bytes)?;
            file.sync_data()
        });
        if written
            .and_then(|()| std::fs::rename(&temporary, path))
            .is_err()
        {
            eprintln!("cannot write the client state to {}", path.display());
        }
    }
}

/// A frame's type and the message it names, for the trace.
fn frame_kind(frame: &ServerFrame) -> String {
    match frame {
        ServerFrame::Ack { message_id, .. } => format!("ack {message_id}"),
        ServerFrame::Replicated { message_ids } => format!("replicated {message_ids:?}"),
        ServerFrame::Welcome { .. } => "welcome".into(),
        other => variant(other),
    }
}

/// A client frame's type and the message it carries, for the trace.
fn client_frame_kind(frame: &ClientFrame) -> String {
    match frame {
        ClientFrame::Send { message_id, .. } => format!("send {message_id}"),
        other => variant(other),
    }
}

/// The name of a frame's variant (its `Debug` up to the first field).
fn variant(frame: &impl std::fmt::Debug) -> String {
    let debug = format!("{frame:?}");
    debug
        .split([' ', '{', '('])
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// One WebSocket: connects, reports frames and its end, writes what the driver sends.
async fn connection(
    conn: u64,
    url: String,
    mut outgoing: mpsc::UnboundedReceiver<WsMessage>,
    inputs: mpsc::UnboundedSender<Input>,
) {
    // A frozen server completes the TCP handshake and then never answers the upgrade: when the
    // link gives up on this connection (drops its writer), the attempt is abandoned too.
    let connected = tokio::select! {
        connected = tokio_tungstenite::connect_async(url.as_str()) => connected.ok(),
        () = abandoned(&mut outgoing) => None,
    };
    let Some((socket, _)) = connected else {
        let _ = inputs.send(Input::Closed(conn));
        return;
    };
    let _ = inputs.send(Input::Opened(conn));
    let (mut sink, mut stream) = socket.split();
    loop {
        tokio::select! {
            message = outgoing.recv() => match message {
                Some(message) => {
                    if sink.send(message).await.is_err() { break; }
                }
                None => {
                    let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
                    return;
                }
            },
            incoming = stream.next() => match incoming {
                Some(Ok(WsMessage::Text(text))) => {
                    if let Ok(frame) = ServerFrame::decode(&text) {
                        let _ = inputs.send(Input::Received(conn, frame));
                    }
                }
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    let _ = inputs.send(Input::Closed(conn));
}

/// Resolves when the driver drops the connection's writer.
async fn abandoned(outgoing: &mut mpsc::UnboundedReceiver<WsMessage>) {
    while outgoing.recv().await.is_some() {}
}
