//! Durable storage: one SQLite file per deployment, behind the small [`Store`] type.
//!
//! Writes go to a single writer thread that owns the only write connection. It takes every request
//! waiting in its queue, applies them in one transaction (each inside its own savepoint, so one
//! refused request never undoes its neighbours) and commits once: **group commit**. With
//! `synchronous = FULL` the commit returns only when the batch is on disk, and only then does any
//! caller get its answer, so an acknowledgement always means "durable". Reads use a small pool of
//! read-only connections and never wait for the writer (WAL mode).
//!
//! The SQL lives in [`records`]; the schema and its migrations in [`schema`].

pub mod changes;
pub mod events;
pub mod records;
pub mod schema;

use crate::hlc::{HlcClock, WallClock};
use protocol::replication::{Change, LoggedEvent};
use rusqlite::{Connection, OpenFlags};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use tokio::sync::{oneshot, watch};

/// The most requests one transaction takes. Bounds the latency a request can add to its batch.
const MAX_BATCH: usize = 512;

/// The database file's name inside the data directory.
pub const DATABASE_FILE: &str = "livechat.sqlite3";

/// Why a storage request failed. Every variant means nothing of that request was stored.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record the request names does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request contradicts what is stored (an id reused for another record, a taken chat).
    #[error("{0}")]
    Conflict(String),
    /// The requester may not touch this record.
    #[error("{0}")]
    Forbidden(String),
    /// The conversation is closed and takes no more messages.
    #[error("the conversation is closed")]
    ConversationClosed,
    /// The database file was written by a newer release of the server.
    #[error("the database has schema version {found}, newer than this build's {supported}")]
    NewerSchema {
        /// The version found in the file.
        found: usize,
        /// The newest version this build knows.
        supported: usize,
    },
    /// SQLite failed (disk full, corruption, IO error).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The batch this request was part of could not be committed; nothing of it was stored.
    #[error("the write was not committed: {0}")]
    NotCommitted(String),
    /// The data directory could not be created or read.
    #[error("data directory: {0}")]
    Io(#[from] std::io::Error),
    /// The writer thread has stopped (the deployment is shutting down).
    #[error("the store is shut down")]
    Closed,
}

/// `execute` and `query_row` through the connection's statement cache. Plain `Connection::execute`
/// parses its SQL on every call; on the write path, where every message runs a dozen statements,
/// the parsing cost more than the work. Every store query goes through these.
pub trait Cached {
    /// [`Connection::execute`], with the statement prepared once per connection.
    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    /// [`Connection::query_row`], with the statement prepared once per connection.
    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// A unit of work for the writer. `run` applies it inside the batch's transaction and says whether
/// it succeeded; `finish` delivers its answer once the batch has committed or failed.
struct Job {
    run: Box<dyn FnOnce(&Writer) -> bool + Send>,
    finish: Box<dyn FnOnce(Result<(), String>) + Send>,
}

/// The handle to a deployment's database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    /// The queue of the writer thread; `None` once shut down.
    writer: Arc<Mutex<Option<mpsc::Sender<Job>>>>,
    /// The writer thread, joined on shutdown so pending writes are flushed before exit.
    writer_thread: Arc<Mutex<Option<JoinHandle<()>>>>,
    /// Idle read connections, reused to avoid reopening the file for every read.
    readers: Arc<Mutex<Vec<Connection>>>,
    /// The database file, for opening more read connections.
    path: PathBuf,
    /// This deployment's name: the origin of the events it records.
    origin: Arc<str>,
    /// The hybrid logical clock stamping every event.
    clock: Arc<Mutex<HlcClock>>,
    /// The wall clock the HLC reads (injectable, so tests can skew it).
    wall: WallClock,
    /// The sequence number of the newest event recorded here; replication streams wait on it.
    head: Arc<watch::Sender<u64>>,
}

/// What a write job gets: the write connection (through `Deref`) and the means to record events.
pub struct Writer<'a> {
    /// The connection, inside the batch's transaction and the job's savepoint.
    conn: &'a Connection,
    /// This deployment's name.
    origin: &'a str,
    /// The hybrid logical clock.
    clock: &'a Mutex<HlcClock>,
    /// The wall clock.
    wall: &'a WallClock,
    /// The newest event sequence number this batch appended, to publish after the commit.
    appended: &'a Cell<Option<u64>>,
}

impl std::ops::Deref for Writer<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Writer<'_> {
    /// The wall-clock time in Unix milliseconds, as this deployment sees it.
    pub fn now_ms(&self) -> i64 {
        (self.wall)()
    }

    /// Records a local change: stamps it, applies it with its merge rule and appends it to the
    /// event log, all inside the caller's transaction.
    pub fn record(&self, change: Change) -> Result<LoggedEvent, StoreError> {
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
        event.seq = events::append(self.conn, &event, None)?;
        changes::apply(self.conn, &event)?;
        self.appended.set(Some(event.seq));
        Ok(event)
    }

    /// Applies an event from the peer unless it was applied before. Returns the conversation it
    /// touched, or `None` for an already applied event or one that touches no conversation.
    pub fn apply_remote(
        &self,
        event: &LoggedEvent,
    ) -> Result<Option<protocol::ConversationId>, StoreError> {
        if events::contains(self.conn, event.id)? {
            return Ok(None);
        }
        self.clock.lock().expect("clock lock").observe(event.hlc);
        let touched = changes::apply(self.conn, event)?;
        events::append(self.conn, event, Some(event.seq))?;
        Ok(touched)
    }
}

impl Store {
    /// Opens the database in `data_dir` as a deployment named `primary` on the system clock.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        Self::open_as(data_dir, "primary", crate::hlc::system_clock(0))
    }

    /// Opens (creating if needed) the database in `data_dir`, migrates it and starts the writer,
    /// recording events as deployment `origin` with wall time from `wall`.
    pub fn open_as(data_dir: &Path, origin: &str, wall: WallClock) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join(DATABASE_FILE);
        let mut conn = Connection::open(&path)?;
        schema::configure(&conn)?;
        let found = schema::migrate(&mut conn)?;
        if found > schema::MIGRATIONS.len() {
            return Err(StoreError::NewerSchema {
                found,
                supported: schema::MIGRATIONS.len(),
            });
        }
        let mut clock = HlcClock::default();
        clock.observe(events::max_hlc(&conn)?);
        let head = Arc::new(watch::channel(events::head(&conn, origin)?).0);
        let clock = Arc::new(Mutex::new(clock));
        let origin: Arc<str> = Arc::from(origin);
        let (sender, receiver) = mpsc::channel::<Job>();
        let context = WriterContext {
            origin: origin.clone(),
            clock: clock.clone(),
            wall: wall.clone(),
            head: head.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || run_writer(conn, receiver, context))
            .expect("spawning the writer thread");
        Ok(Store {
            writer: Arc::new(Mutex::new(Some(sender))),
            writer_thread: Arc::new(Mutex::new(Some(thread))),
            readers: Arc::new(Mutex::new(Vec::new())),
            path,
            origin,
            clock,
            wall,
            head,
        })
    }

    /// Runs `f` inside the next group commit and returns its result once the batch is durable.
    /// If `f` fails, its own changes are rolled back and the rest of the batch is unaffected.
    pub async fn write<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Writer) -> Result<R, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<R, StoreError>>();
        let slot = Arc::new(Mutex::new(None::<Result<R, StoreError>>));
        let filled = slot.clone();
        let job = Job {
            run: Box::new(move |conn| {
                let result = f(conn);
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
        };
        {
            let writer = self.writer.lock().expect("writer lock");
            let sender = writer.as_ref().ok_or(StoreError::Closed)?;
            sender.send(job).map_err(|_| StoreError::Closed)?;
        }
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `f` on a read connection, off the async runtime.
    pub async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = store.take_reader()?;
            let result = f(&conn);
            store.readers.lock().expect("reader pool lock").push(conn);
            result
        })
        .await
        .map_err(|_| StoreError::Closed)?
    }

    /// The same as [`Store::read`], for callers that are not async (the command line).
    pub fn read_blocking<R>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let conn = self.take_reader()?;
        let result = f(&conn);
        self.readers.lock().expect("reader pool lock").push(conn);
        result
    }

    fn take_reader(&self) -> Result<Connection, StoreError> {
        if let Some(conn) = self.readers.lock().expect("reader pool lock").pop() {
            return Ok(conn);
        }
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.execute_batch("PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;")?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }

    /// This deployment's name.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The newest event sequence number recorded here, and a way to wait for the next one.
    pub fn head(&self) -> watch::Receiver<u64> {
        self.head.subscribe()
    }

    /// The newest hybrid logical clock value issued or observed.
    pub fn last_hlc(&self) -> u64 {
        self.clock.lock().expect("clock lock").last()
    }

    /// The wall-clock time as this deployment sees it.
    pub fn now_ms(&self) -> i64 {
        (self.wall)()
    }

    /// Stops accepting writes, lets the writer commit everything already queued and waits for it.
    /// Called on graceful shutdown; writes requested afterwards fail with [`StoreError::Closed`].
    pub fn shutdown(&self) {
        self.writer.lock().expect("writer lock").take();
        if let Some(thread) = self
            .writer_thread
            .lock()
            .expect("writer thread lock")
            .take()
        {
            let _ = thread.join();
        }
    }
}

/// What the writer thread needs besides its connection.
struct WriterContext {
    origin: Arc<str>,
    clock: Arc<Mutex<HlcClock>>,
    wall: WallClock,
    head: Arc<watch::Sender<u64>>,
}

/// The writer thread: waits for a job, gathers everything else already queued, commits once.
fn run_writer(conn: Connection, jobs: mpsc::Receiver<Job>, context: WriterContext) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let appended = Cell::new(None);
        let writer = Writer {
            conn: &conn,
            origin: &context.origin,
            clock: &context.clock,
            wall: &context.wall,
            appended: &appended,
        };
        if commit_batch(&writer, batch) {
            if let Some(seq) = appended.get() {
                context.head.send_replace(seq);
            }
        }
    }
    tracing::debug!("store writer stopped after flushing its queue");
}

/// Runs a batch in one transaction; returns whether it committed.
fn commit_batch(conn: &Writer, batch: Vec<Job>) -> bool {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        tracing::error!(error = %e, "could not begin a write transaction");
        // The jobs never ran, so each is told the batch failed without touching the database.
        for job in batch {
            (job.finish)(Err(e.to_string()));
        }
        return false;
    }
    let mut finishers = Vec::with_capacity(batch.len());
    for job in batch {
        let closed = conn.execute_batch("SAVEPOINT job").and_then(|()| {
            if (job.run)(conn) {
                conn.execute_batch("RELEASE job")
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
    let committed = conn.execute_batch("COMMIT").map_err(|e| {
        let _ = conn.execute_batch("ROLLBACK");
        tracing::error!(error = %e, "group commit failed");
        e.to_string()
    });
    let ok = committed.is_ok();
    for finish in finishers {
        finish(committed.clone());
    }
    ok
}

/// The current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
