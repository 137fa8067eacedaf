//! The group-commit writer: one thread owns the only write connection. It takes every request
//! waiting in its queue, applies them in one transaction (each inside its own savepoint, so one
//! refused request never undoes its neighbours) and commits once. With `synchronous = FULL` the
//! commit returns only when the batch is on disk, and only then does any caller get its answer, so
//! an acknowledgement always means "durable".

use super::rows::Cached;
use super::{changes, validate, Reader, StoreError};
use crate::clock::{HlcClock, WallClock};
use protocol::replication::{Change, LoggedEvent};
use rusqlite::Connection;
use std::cell::Cell;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use tokio::sync::{oneshot, watch};

/// The most requests one transaction takes. Bounds the latency a request can add to its batch.
const MAX_BATCH: usize = 512;

/// A unit of work for the writer. `run` applies it inside the batch's transaction and says whether
/// it succeeded; `finish` delivers its answer once the batch has committed or failed.
pub(super) struct Job {
    run: Box<dyn FnOnce(&Writer) -> bool + Send>,
    finish: Box<dyn FnOnce(Result<(), String>) + Send>,
}

impl Job {
    /// A job running `f` and answering on `reply` once its batch committed (or failed).
    pub(super) fn new<R, F>(f: F, reply: oneshot::Sender<Result<R, StoreError>>) -> Job
    where
        R: Send + 'static,
        F: FnOnce(&Writer) -> Result<R, StoreError> + Send + 'static,
    {
        let slot = Arc::new(Mutex::new(None::<Result<R, StoreError>>));
        let filled = slot.clone();
        Job {
            run: Box::new(move |writer| {
                let result = f(writer);
                let ok = result.is_ok();
                *filled.lock().expect("job slot") = Some(result);
                ok
            }),
            finish: Box::new(move |committed| {
                let outcome = match committed {
                    Ok(()) => slot
                        .lock()
                        .expect("job slot")
                        .take()
                        .unwrap_or(Err(StoreError::Closed)),
                    // The batch did not commit, so whatever `f` wrote is gone: report the failure.
                    Err(reason) => Err(StoreError::NotCommitted(reason)),
                };
                let _ = reply.send(outcome);
            }),
        }
    }
}

/// What the writer thread needs besides its connection.
pub(super) struct Context {
    /// This deployment's name, the origin of every event it records.
    pub origin: Arc<str>,
    /// The hybrid logical clock, shared with the store handle (which reports its value).
    pub clock: Arc<Mutex<HlcClock>>,
    /// The wall clock the HLC reads.
    pub wall: WallClock,
    /// Where the newest sequence number is published after each commit.
    pub head: Arc<watch::Sender<u64>>,
    /// Moved after each commit that touched an account or ended a session.
    pub accounts: Arc<watch::Sender<u64>>,
    /// The position the next event of our own log takes. Kept here, not read back from the
    /// database, because it may stand above the newest one stored (a fresh data directory's floor,
    /// see `store::rebuild`); a job rolled back leaves a gap, which the peer's cursor skips.
    pub next_own: Cell<u64>,
    /// Told after each commit, so the log is checkpointed off this thread.
    pub checkpoints: super::checkpoint::Nudge,
}

/// Starts the writer thread on `conn`.
pub(super) fn start(
    conn: Connection,
    context: Context,
) -> Result<(mpsc::Sender<Job>, JoinHandle<()>), StoreError> {
    let (sender, receiver) = mpsc::channel::<Job>();
    let thread = std::thread::Builder::new()
        .name("store-writer".into())
        .spawn(move || run(conn, receiver, context))?;
    Ok((sender, thread))
}

/// What a write job gets: read queries (through `Deref` to [`Reader`]), the write queries of each
/// concept, and the means to record events.
pub struct Writer<'a> {
    /// Read access to the same connection, inside the batch's transaction and the job's savepoint.
    reader: Reader<'a>,
    /// This deployment's name.
    origin: &'a str,
    /// The hybrid logical clock.
    clock: &'a Mutex<HlcClock>,
    /// The wall clock.
    wall: &'a WallClock,
    /// The newest event sequence number this batch appended, to publish after the commit.
    appended: &'a Cell<Option<u64>>,
    /// Whether this batch changed an account or ended a session, to announce after the commit.
    accounts_touched: &'a Cell<bool>,
    /// The position of the next event of our own log.
    next_own: &'a Cell<u64>,
}

impl<'a> std::ops::Deref for Writer<'a> {
    type Target = Reader<'a>;
    fn deref(&self) -> &Reader<'a> {
        &self.reader
    }
}

impl Writer<'_> {
    /// The write connection, for the store's own write queries.
    pub(super) fn conn(&self) -> &Connection {
        self.reader.conn
    }

    /// The wall-clock time in Unix milliseconds, as this deployment sees it.
    pub fn now_ms(&self) -> i64 {
        (self.wall)()
    }

    /// Records a local change: stamps it, applies it with its merge rule and appends it to the
    /// event log, all inside the caller's transaction.
    pub fn record(&self, change: Change) -> Result<LoggedEvent, StoreError> {
        validate::change(&change).map_err(StoreError::Invalid)?;
        let hlc = self.clock.lock().expect("clock lock").tick(self.now_ms());
        let mut event = LoggedEvent {
            id: uuid::Uuid::now_v7(),
            origin: self.origin.to_owned(),
            seq: 0,
            hlc,
            change,
        };
        // Appended first so the change knows its position in our log (messages keep it, to tell
        // their sender when the peer has confirmed that far).
        event.seq = self.next_own.get();
        self.next_own.set(event.seq + 1);
        self.append_event(&event, event.seq)?;
        changes::apply(self.conn(), &event)?;
        self.note_appended(event.seq);
        self.note_accounts(&event.change);
        Ok(event)
    }

    /// Whether an event from the peer is to be applied: not applied or set aside before, and
    /// keeping every rule (one that breaks a rule is quarantined here).
    fn admit_remote(&self, event: &LoggedEvent) -> Result<bool, StoreError> {
        if self.contains_event(event.id)? || self.quarantined(event.id)? {
            return Ok(false);
        }
        let checked = validate::stamp(event.hlc, self.now_ms())
            .and_then(|()| validate::change(&event.change));
        if let Err(reason) = checked {
            self.quarantine(event, &reason)?;
            return Ok(false);
        }
        Ok(true)
    }

    /// [`Writer::apply_remote`] without the savepoint of its own: the common case, a batch of
    /// good events, pays for no savepoint per event. An event the database refuses fails the
    /// whole job (the store rolls the job back alone), and the caller applies the batch again
    /// with [`Writer::apply_remote`], which sets that event aside. An event breaking a rule is
    /// quarantined here as there.
    pub fn apply_remote_fast(
        &self,
        event: &LoggedEvent,
    ) -> Result<Option<protocol::ConversationId>, StoreError> {
        if !self.admit_remote(event)? {
            return Ok(None);
        }
        let touched = changes::apply(self.conn(), event)?;
        self.append_event(event, event.seq)?;
        self.clock.lock().expect("clock lock").observe(event.hlc);
        self.note_accounts(&event.change);
        Ok(touched)
    }

    /// Applies an event from the peer unless it was applied before. Returns the conversation it
    /// touched, or `None` for an already applied event or one that touches no conversation.
    pub fn apply_remote(
        &self,
        event: &LoggedEvent,
    ) -> Result<Option<protocol::ConversationId>, StoreError> {
        if !self.admit_remote(event)? {
            return Ok(None);
        }
        match self.apply_isolated(event)? {
            Ok(touched) => Ok(touched),
            Err(refusal) => {
                self.quarantine(event, &refusal.to_string())?;
                Ok(None)
            }
        }
    }

    /// Applies an admitted event inside a savepoint of its own, so an event the database refuses
    /// (a broken reference, a constraint) is undone alone and the rest of the batch goes on; the
    /// refusal is handed back to the caller (the inner `Err`). Prepared once and cached: this
    /// runs for every replicated event.
    fn apply_isolated(
        &self,
        event: &LoggedEvent,
    ) -> Result<Result<Option<protocol::ConversationId>, rusqlite::Error>, StoreError> {
        self.conn().execute_cached("SAVEPOINT remote_event", [])?;
        let applied = changes::apply(self.conn(), event)
            .and_then(|touched| self.append_event(event, event.seq).map(|_| touched));
        match applied {
            Ok(touched) => {
                self.conn().execute_cached("RELEASE remote_event", [])?;
                self.clock.lock().expect("clock lock").observe(event.hlc);
                self.note_accounts(&event.change);
                Ok(Ok(touched))
            }
            Err(StoreError::Sqlite(e)) => {
                self.conn()
                    .execute_batch("ROLLBACK TO remote_event; RELEASE remote_event")?;
                Ok(Err(e))
            }
            Err(other) => {
                self.conn()
                    .execute_batch("ROLLBACK TO remote_event; RELEASE remote_event")?;
                Err(other)
            }
        }
    }

    /// Applies again the quarantined events that broke no rule, which the database refused only
    /// for a reference to something not here yet. That happens during a rebuild, where our own
    /// events come back beside the peer's in no causal order (a reply of the peer's may arrive
    /// before the conversation we had opened). Passes go on while one makes progress, since one
    /// held-back event may wait for another. Returns the conversations touched and how many
    /// events are still held back.
    pub fn retry_held_back(&self) -> Result<(Vec<protocol::ConversationId>, u64), StoreError> {
        let rows: Vec<(String, String, i64)> = {
            let mut stmt = self.conn().prepare_cached(
                "SELECT id, body, at FROM quarantine ORDER BY origin, origin_seq",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        // What broke a rule when it arrived stays set aside for good: the same check, at the
        // time it arrived, says which is which.
        let mut pending: Vec<(String, LoggedEvent)> = rows
            .into_iter()
            .filter_map(|(id, body, at)| {
                let event: LoggedEvent = serde_json::from_str(&body).ok()?;
                validate::stamp(event.hlc, at)
                    .and_then(|()| validate::change(&event.change))
                    .is_ok()
                    .then_some((id, event))
            })
            .collect();
        let mut touched = Vec::new();
        loop {
            let before = pending.len();
            let mut still = Vec::new();
            for (id, event) in pending {
                let applied = match self.contains_event(event.id)? {
                    true => Some(None),
                    false => self.apply_isolated(&event)?.ok(),
                };
                let Some(conversation) = applied else {
                    still.push((id, event));
                    continue;
                };
                self.conn()
                    .execute_cached("DELETE FROM quarantine WHERE id = ?1", [&id])?;
                if event.origin == self.origin {
                    self.next_own.set(self.next_own.get().max(event.seq + 1));
                    self.note_appended(event.seq);
                }
                if let Some(conversation) = conversation {
                    if !touched.contains(&conversation) {
                        touched.push(conversation);
                    }
                }
            }
            pending = still;
            if pending.is_empty() || pending.len() == before {
                break;
            }
        }
        Ok((touched, pending.len() as u64))
    }

    /// Applies one of our own events that the peer gave back after we lost our data (see
    /// `store::rebuild`): merged like any event, kept at its original position in our log, and
    /// never numbered over again by the events we record from now on.
    pub fn apply_returned(
        &self,
        event: &LoggedEvent,
    ) -> Result<Option<protocol::ConversationId>, StoreError> {
        if event.origin != self.origin {
            return Err(StoreError::Invalid(format!(
                "an event of {} is not one of ours to take back",
                event.origin
            )));
        }
        let touched = self.apply_remote(event)?;
        self.next_own.set(self.next_own.get().max(event.seq + 1));
        if self.contains_event(event.id)? {
            self.note_appended(event.seq);
        }
        Ok(touched)
    }

    /// Remembers the newest position of our own log this batch wrote, to publish after commit.
    fn note_appended(&self, seq: u64) {
        self.appended
            .set(Some(self.appended.get().map_or(seq, |a| a.max(seq))));
    }

    /// Sets an event from the peer aside, with why: kept for an operator to look at, counted in
    /// the replication status, logged once.
    fn quarantine(&self, event: &LoggedEvent, reason: &str) -> Result<(), StoreError> {
        let body = serde_json::to_string(event).expect("events serialise");
        let added = self.conn().execute_cached(
            "INSERT INTO quarantine (id, origin, origin_seq, body, reason, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(id) DO NOTHING",
            rusqlite::params![
                event.id.to_string(),
                event.origin,
                event.seq as i64,
                body,
                reason,
                self.now_ms()
            ],
        )?;
        // During a rebuild this is the expected case of an event arriving before what it refers
        // to, which settling applies again: not worth an error.
        let rebuilding = self.rebuild_position()?.is_some() || self.rebuild_settling()?;
        if added > 0 && rebuilding {
            tracing::info!(
                event = %event.id, origin = %event.origin, seq = event.seq, %reason,
                "an event was held back until the rebuild brings what it refers to"
            );
        } else if added > 0 {
            tracing::error!(
                event = %event.id, origin = %event.origin, seq = event.seq, %reason,
                "an event from the peer was quarantined instead of applied"
            );
        }
        Ok(())
    }

    /// Remembers that the batch changed what a session is worth. A job that is rolled back may
    /// leave this set: the sockets then check their sessions once for nothing, which is harmless.
    fn note_accounts(&self, change: &Change) {
        if matches!(
            change,
            Change::OperatorUpserted { .. }
                | Change::SessionDeleted { .. }
                | Change::OperatorSettingSet { .. }
                | Change::OperatorRemoved { .. }
        ) {
            self.accounts_touched.set(true);
        }
    }

    /// Writes to a dedicated row, proving the database takes durable writes (used by `/health`).
    pub fn probe_durability(&self) -> Result<(), StoreError> {
        self.conn().execute_cached(
            "INSERT INTO meta (key, value) VALUES ('health_probe', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [self.now_ms().to_string()],
        )?;
        Ok(())
    }
}

/// The writer thread: waits for a job, gathers everything else already queued, commits once.
fn run(conn: Connection, jobs: mpsc::Receiver<Job>, context: Context) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let appended = Cell::new(None);
        let accounts_touched = Cell::new(false);
        let writer = Writer {
            reader: Reader { conn: &conn },
            origin: &context.origin,
            clock: &context.clock,
            wall: &context.wall,
            appended: &appended,
            accounts_touched: &accounts_touched,
            next_own: &context.next_own,
        };
        if commit_batch(&writer, batch) {
            context.checkpoints.committed();
            // The head only moves forward: an event taken back from the peer may sit below
            // events recorded since.
            if let Some(seq) = appended.get() {
                context.head.send_if_modified(|head| {
                    let newer = seq > *head;
                    *head = (*head).max(seq);
                    newer
                });
            }
            if accounts_touched.get() {
                context.accounts.send_modify(|generation| *generation += 1);
            }
        }
    }
    tracing::debug!("store writer stopped after flushing its queue");
}

/// Runs a batch in one transaction; returns whether it committed.
fn commit_batch(writer: &Writer, batch: Vec<Job>) -> bool {
    let conn = writer.conn();
    let began = std::time::Instant::now();
    let jobs = batch.len();
    if let Err(e) = conn.execute_cached("BEGIN IMMEDIATE", []) {
        tracing::error!(error = %e, "could not begin a write transaction");
        // The jobs never ran, so each is told the batch failed without touching the database.
        for job in batch {
            (job.finish)(Err(e.to_string()));
        }
        return false;
    }
    let mut finishers = Vec::with_capacity(batch.len());
    for job in batch {
        // Cached, like every statement of the hot path: `execute_batch` parses its text anew.
        let closed = conn.execute_cached("SAVEPOINT job", []).and_then(|_| {
            if (job.run)(writer) {
                conn.execute_cached("RELEASE job", []).map(drop)
            } else {
                conn.execute_batch("ROLLBACK TO job; RELEASE job")
            }
        });
        finishers.push(job.finish);
        if let Err(e) = closed {
            // A savepoint could not be opened or closed, so the transaction's contents are
            // uncertain: roll everything back and fail every job of the batch.
            tracing::error!(error = %e, "a savepoint failed; rolling the batch back");
            let _ = conn.execute_batch("ROLLBACK");
            for finish in finishers {
                finish(Err(e.to_string()));
            }
            return false;
        }
    }
    // The batch's messages join the full-text index together, in the same transaction.
    if let Err(e) = super::history::index_pending(conn) {
        tracing::error!(error = %e, "could not index the batch's messages; rolling it back");
        let _ = conn.execute_batch("ROLLBACK");
        for finish in finishers {
            finish(Err(e.to_string()));
        }
        return false;
    }
    let committed = conn.execute_cached("COMMIT", []).map(drop).map_err(|e| {
        let _ = conn.execute_batch("ROLLBACK");
        tracing::error!(error = %e, "group commit failed");
        e.to_string()
    });
    let ok = committed.is_ok();
    crate::telemetry::committed(jobs, began.elapsed());
    for finish in finishers {
        finish(committed.clone());
    }
    ok
}
