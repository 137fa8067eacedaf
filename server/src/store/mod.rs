//! Durable storage: one SQLite file per deployment, behind the small [`Store`] type.
//!
//! Writes go to a single writer thread that owns the only write connection ([`writer`]): **group
//! commit**, so an acknowledgement always means "durable". Reads use a small pool of read-only
//! connections and never wait for the writer (WAL mode).
//!
//! **The seam for another backend.** Callers see only [`Store`], the [`Reader`] a read job gets,
//! the [`Writer`] a write job gets, and the plain records they return; no rusqlite type appears in
//! that interface. Every query is a method of `Reader` or `Writer`, one file per concept:
//! [`accounts`] (sites, operators, sessions, visitors), [`conversations`], [`messages`], and
//! [`events`] (the event log and replication cursors). A second backend (PostgreSQL) would
//! implement those same methods. Every write goes through [`changes`], where each kind of change is
//! applied by its own function beside its merge rule; [`schema`] holds the migrations, [`rows`]
//! how stored values are read (fail closed), [`sync_check`] the comparison of two data
//! directories.

pub mod accounts;
pub mod canned;
pub mod changes;
mod checkpoint;
pub mod conversations;
pub mod events;
pub mod history;
pub mod mail;
pub mod messages;
pub mod meta;
pub mod rebuild;
pub mod routing;
mod rows;
pub mod schema;
pub mod settings;
pub mod sync_check;
pub mod validate;
pub mod visitors;
mod writer;

pub use accounts::{normalise_origin, Credentials, SessionStatus, Site, ANY_ORIGIN};
pub use conversations::StateChange;
pub use messages::Posted;
pub use writer::Writer;

use crate::clock::{HlcClock, WallClock};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use tokio::sync::{oneshot, watch};

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
    /// The change breaks a rule every event must keep ([`validate`]): nothing was stored.
    #[error("{0}")]
    Invalid(String),
    /// A stored value does not parse (a damaged file, or one written by a newer release): the
    /// request is refused rather than served from a guess.
    #[error("stored {what} is unreadable: {detail}")]
    Corrupt {
        /// Which value (`operator role`, `site allowed_origins`, an event).
        what: String,
        /// What was wrong with it.
        detail: String,
    },
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
    Sqlite(rusqlite::Error),
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

/// What a read job gets: a read-only connection, through the query methods of [`accounts`],
/// [`conversations`], [`messages`] and [`events`]. A [`Writer`] dereferences to one, so write jobs
/// read the same way (inside their own transaction).
pub struct Reader<'a> {
    /// The connection; private to the store, so its SQL stays here.
    conn: &'a Connection,
}

/// The handle to a deployment's database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    /// The queue of the writer thread; `None` once shut down.
    writer: Arc<Mutex<Option<mpsc::Sender<writer::Job>>>>,
    /// The writer thread, joined on shutdown so pending writes are flushed before exit.
    writer_thread: Arc<Mutex<Option<JoinHandle<()>>>>,
    /// The checkpointer thread (see [`checkpoint`]), joined after the writer.
    checkpoint_thread: Arc<Mutex<Option<JoinHandle<()>>>>,
    /// Idle read connections, reused to avoid reopening the file for every read; at most
    /// [`MAX_READERS`] are kept.
    readers: Arc<Mutex<Vec<Connection>>>,
    /// One permit per read that may run at once (see [`MAX_READERS`]).
    read_permits: Arc<tokio::sync::Semaphore>,
    /// The database file, for opening more read connections.
    path: PathBuf,
    /// This deployment's name: the origin of the events it records.
    origin: Arc<str>,
    /// The hybrid logical clock stamping every event.
    clock: Arc<Mutex<HlcClock>>,
    /// The wall clock: the HLC's, and the one every expiry check of the deployment reads.
    wall: WallClock,
    /// The sequence number of the newest event recorded here; replication streams wait on it.
    head: Arc<watch::Sender<u64>>,
    /// Counts committed batches that changed an operator account or ended a session, here or
    /// from the peer; operators' open sockets check their session again when it moves.
    accounts: Arc<watch::Sender<u64>>,
    /// The last durability probe and when it ran, shared by every `/health` caller.
    probe: Arc<tokio::sync::Mutex<Option<LastProbe>>>,
    /// The identity of this database's message log (see [`meta::message_log`]).
    message_log: Arc<str>,
}

/// The most reads that run at once, and so the most read connections the pool holds. Reads run
/// on tokio's blocking threads, of which there may be 512: unbounded, a burst of visitors saying
/// hello opened a database connection per thread (a file descriptor, a page cache and prepared
/// statements each), all kept in the pool for good, taking descriptors from WebSockets and
/// memory from every connection's budget. A few at a time read as fast on a small machine; the
/// rest wait their turn in order.
pub const MAX_READERS: usize = 8;

/// When the last durability probe ran, and its answer.
type LastProbe = (std::time::Instant, Result<(), String>);

/// How long a durability probe's answer is reused: however often `/health` is called, the
/// database takes at most a few probe writes a second.
const PROBE_REUSE: std::time::Duration = std::time::Duration::from_millis(250);

impl Store {
    /// Opens the database in `data_dir` as a deployment named `primary` on the system clock.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        Self::open_as(data_dir, "primary", crate::clock::system_clock(0))
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
        // Whatever wrote messages without the writer left them to be indexed now. Only then is a
        // write lock taken, and taken first (`IMMEDIATE`): a command run beside a serving
        // deployment opens the store too, and a read transaction turned into a write one after
        // the deployment committed fails at once with "database is locked".
        if history::any_pending(&conn)? {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            history::index_pending(&tx)?;
            tx.commit()?;
        }
        // A database created just now may stand in for one that was lost: see `rebuild`.
        if found == 0 {
            rebuild::mark_for_rebuild(&conn, wall())?;
        }
        let (max_hlc, own_head, floor) = {
            let reader = Reader { conn: &conn };
            (
                reader.max_hlc()?,
                reader.head(origin)?,
                reader.own_seq_floor()?,
            )
        };
        let message_log: Arc<str> = Arc::from(meta::message_log(&conn)?);
        let mut clock = HlcClock::default();
        clock.observe(max_hlc);
        let head = Arc::new(watch::channel(own_head).0);
        let accounts = Arc::new(watch::channel(0).0);
        let clock = Arc::new(Mutex::new(clock));
        let origin: Arc<str> = Arc::from(origin);
        let (nudge, checkpoint_thread) = checkpoint::start(&path)?;
        let (sender, thread) = writer::start(
            conn,
            writer::Context {
                origin: origin.clone(),
                clock: clock.clone(),
                wall: wall.clone(),
                head: head.clone(),
                accounts: accounts.clone(),
                next_own: std::cell::Cell::new((own_head + 1).max(floor)),
                checkpoints: nudge,
            },
        )?;
        Ok(Store {
            writer: Arc::new(Mutex::new(Some(sender))),
            writer_thread: Arc::new(Mutex::new(Some(thread))),
            checkpoint_thread: Arc::new(Mutex::new(Some(checkpoint_thread))),
            readers: Arc::new(Mutex::new(Vec::new())),
            read_permits: Arc::new(tokio::sync::Semaphore::new(MAX_READERS)),
            path,
            origin,
            clock,
            wall,
            head,
            accounts,
            probe: Arc::default(),
            message_log,
        })
    }

    /// The identity of this database's message log: the same across restarts, new for a new
    /// database and for one restored from a backup, whose sequence numbers may repeat ones that
    /// clients received before. Clients key what they resume from by it.
    pub fn message_log(&self) -> &str {
        &self.message_log
    }

    /// Whether the database takes a durable write, proven by one at most every [`PROBE_REUSE`]:
    /// callers in between (and callers waiting while it runs) share its answer, so an
    /// unauthenticated flood of `/health` costs no writes. The error is the storage failure's
    /// text, for the deployment's operators only.
    pub async fn probe_durability_shared(&self) -> Result<(), String> {
        let mut last = self.probe.lock().await;
        if let Some((at, answer)) = last.as_ref() {
            if at.elapsed() < PROBE_REUSE {
                return answer.clone();
            }
        }
        let answer = self
            .write(|w| w.probe_durability())
            .await
            .map_err(|e| e.to_string());
        *last = Some((std::time::Instant::now(), answer.clone()));
        answer
    }

    /// Runs `f` inside the next group commit and returns its result once the batch is durable.
    /// If `f` fails, its own changes are rolled back and the rest of the batch is unaffected.
    pub async fn write<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Writer) -> Result<R, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<R, StoreError>>();
        let job = writer::Job::new(f, reply);
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
        F: FnOnce(&Reader) -> Result<R, StoreError> + Send + 'static,
    {
        let store = self.clone();
        // The permit goes with the job, so a caller that stops waiting does not let another
        // read start before this one ends.
        let permit = self
            .read_permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Closed)?;
        tokio::task::spawn_blocking(move || {
            let result = store.read_blocking(f);
            drop(permit);
            result
        })
        .await
        .map_err(|_| StoreError::Closed)?
    }

    /// The same as [`Store::read`], for callers that are not async (the command line).
    pub fn read_blocking<R>(
        &self,
        f: impl FnOnce(&Reader) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let conn = self.take_reader()?;
        let result = f(&Reader { conn: &conn });
        // Callers outside `read` (the command line, start-up) are not counted by its permits; a
        // connection beyond the bound is closed rather than kept.
        let mut idle = self.readers.lock().expect("reader pool lock");
        if idle.len() < MAX_READERS {
            idle.push(conn);
        }
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

    /// Moves whenever a committed batch changed an operator account or ended a session (a
    /// logout, here or replicated from the peer).
    pub fn accounts_changed(&self) -> watch::Receiver<u64> {
        self.accounts.subscribe()
    }

    /// The newest hybrid logical clock value issued or observed.
    pub fn last_hlc(&self) -> u64 {
        self.clock.lock().expect("clock lock").last()
    }

    /// The wall-clock time as this deployment sees it (skewed in tests); every expiry check of the
    /// deployment reads this.
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
        // The writer's end dropped the checkpointer's last nudge, so it makes its last
        // checkpoint and stops.
        if let Some(thread) = self
            .checkpoint_thread
            .lock()
            .expect("checkpoint thread lock")
            .take()
        {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod rebuild_tests;
#[cfg(test)]
mod tests;
