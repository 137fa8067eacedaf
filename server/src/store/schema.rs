//! The database schema as an ordered list of migrations, applied at start-up.
//!
//! `PRAGMA user_version` records how many migrations a database file has seen. A migration is never
//! edited once released: a change to the schema is a new entry at the end of [`MIGRATIONS`], so an
//! existing data directory from any earlier release is brought up to date in place.

use rusqlite::Connection;

/// Every migration, in order. Entry `i` moves a database from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: the entities of a single deployment.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE sites (
        id              TEXT PRIMARY KEY,
        name            TEXT NOT NULL,
        allowed_origins TEXT NOT NULL,       -- JSON array of origins; empty means any origin
        created_at      INTEGER NOT NULL
    );
    CREATE TABLE visitors (
        id         TEXT PRIMARY KEY,
        site_id    TEXT NOT NULL REFERENCES sites(id),
        created_at INTEGER NOT NULL
    );
    CREATE TABLE operators (
        id            TEXT PRIMARY KEY,
        email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
        name          TEXT NOT NULL,
        password_hash TEXT NOT NULL,          -- argon2id, PHC string
        role          TEXT NOT NULL CHECK (role IN ('admin', 'agent')),
        created_at    INTEGER NOT NULL
    );
    CREATE TABLE operator_sessions (
        token_hash  TEXT PRIMARY KEY,         -- SHA-256 of the token; the token itself is never stored
        operator_id TEXT NOT NULL REFERENCES operators(id),
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL
    );
    CREATE TABLE conversations (
        id           TEXT PRIMARY KEY,
        site_id      TEXT NOT NULL REFERENCES sites(id),
        visitor_id   TEXT NOT NULL REFERENCES visitors(id),
        state        TEXT NOT NULL CHECK (state IN ('waiting', 'active', 'closed')),
        operator_id  TEXT REFERENCES operators(id),
        page_url     TEXT,
        last_message TEXT,
        created_at   INTEGER NOT NULL,
        updated_at   INTEGER NOT NULL
    );
    CREATE INDEX conversations_by_visitor ON conversations(visitor_id, created_at);
    CREATE INDEX conversations_by_state ON conversations(state, updated_at);
    CREATE TABLE messages (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        id              TEXT NOT NULL UNIQUE,
        conversation_id TEXT NOT NULL REFERENCES conversations(id),
        author_kind     TEXT NOT NULL CHECK (author_kind IN ('visitor', 'operator', 'system')),
        author_id       TEXT,                 -- visitor or operator id; NULL for system messages
        author_name     TEXT,
        body            TEXT NOT NULL,
        sent_at         INTEGER NOT NULL
    );
    CREATE INDEX messages_by_conversation ON messages(conversation_id, seq);
    "#,
    // 2: replication. Every change is an event in `events`; the merge rules need each record's
    // hybrid logical clock value and origin deployment.
    r#"
    CREATE TABLE events (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,  -- position in this deployment's log
        id         TEXT NOT NULL UNIQUE,               -- applied once, whoever sends it
        origin     TEXT NOT NULL,                      -- the deployment where it happened
        origin_seq INTEGER NOT NULL,                   -- its position in the origin's log
        hlc        INTEGER NOT NULL,
        body       TEXT NOT NULL                       -- the JSON of protocol::replication::Change
    );
    CREATE INDEX events_by_origin ON events(origin, seq);
    CREATE TABLE replication_cursors (
        peer       TEXT PRIMARY KEY,                   -- the peer deployment's name
        last_seq   INTEGER NOT NULL,                   -- the last origin_seq of its log applied here
        updated_at INTEGER NOT NULL
    );
    ALTER TABLE sites ADD COLUMN hlc INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sites ADD COLUMN origin TEXT NOT NULL DEFAULT '';
    ALTER TABLE operators ADD COLUMN hlc INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE operators ADD COLUMN origin TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN hlc INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN origin TEXT NOT NULL DEFAULT '';
    UPDATE messages SET hlc = sent_at * 65536 + seq % 65536;
    CREATE INDEX messages_by_clock ON messages(conversation_id, hlc, id);
    ALTER TABLE conversations ADD COLUMN state_hlc INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE conversations ADD COLUMN state_origin TEXT NOT NULL DEFAULT '';
    ALTER TABLE conversations ADD COLUMN last_message_hlc INTEGER NOT NULL DEFAULT 0;
    "#,
    // 3: a message remembers its position in its origin's log, so its sender can be told when
    // the peer has it too.
    r#"
    ALTER TABLE messages ADD COLUMN origin_seq INTEGER NOT NULL DEFAULT 0;
    "#,
    // 4: deleted sessions leave a tombstone, so a creation replicated after the deletion is not
    // revived. Until now that was found by scanning the event log for the deletion's JSON; the
    // deletions already in the log become the first tombstones.
    r#"
    CREATE TABLE session_tombstones (
        token_hash TEXT PRIMARY KEY           -- SHA-256 of a token that was logged out
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO session_tombstones (token_hash)
        SELECT json_extract(body, '$.token_hash') FROM events
        WHERE json_valid(body) AND json_extract(body, '$.kind') = 'session_deleted'
          AND json_extract(body, '$.token_hash') IS NOT NULL;
    "#,
    // 5: an empty list of allowed origins used to allow every origin; now a site must name its
    // origins or allow any in so many words. Sites saved the old way keep working as before,
    // explicitly open.
    r#"
    UPDATE sites SET allowed_origins = '["*"]' WHERE allowed_origins = '[]';
    "#,
    // 6: a new password or role ends the operator's sessions on both deployments. A session is
    // valid only if its HLC is at least its operator's `sessions_from`; both start at 0, so every
    // session that exists today stays valid until such a change.
    r#"
    ALTER TABLE operators ADD COLUMN sessions_from INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE operator_sessions ADD COLUMN hlc INTEGER NOT NULL DEFAULT 0;
    "#,
    // 7: events from the peer that could not be applied (they break a rule, or the database
    // refused them) are kept aside instead of stalling the link.
    r#"
    CREATE TABLE quarantine (
        id          TEXT PRIMARY KEY,                  -- the event's id
        origin      TEXT NOT NULL,
        origin_seq  INTEGER NOT NULL,
        body        TEXT NOT NULL,                     -- the whole LoggedEvent as JSON
        reason      TEXT NOT NULL,
        at          INTEGER NOT NULL                   -- when it was set aside, Unix ms
    );
    "#,
    // 8: the admin app. Settings of a site (look, forms, identity secret) and of an operator
    // (disabled, the sites they serve) are registers of their own, one per owner and key, each
    // merged last-writer-wins on its own clock value; removals leave tombstones, since they are
    // final.
    r#"
    CREATE TABLE site_settings (
        site_id TEXT NOT NULL,
        key     TEXT NOT NULL,                         -- protocol::replication::SiteSetting::key
        value   TEXT NOT NULL,                         -- the whole SiteSetting as JSON
        hlc     INTEGER NOT NULL,
        origin  TEXT NOT NULL,
        PRIMARY KEY (site_id, key)
    ) WITHOUT ROWID;
    CREATE TABLE operator_settings (
        operator_id TEXT NOT NULL,
        key         TEXT NOT NULL,                     -- protocol::replication::OperatorSetting::key
        value       TEXT NOT NULL,                     -- the whole OperatorSetting as JSON
        hlc         INTEGER NOT NULL,
        origin      TEXT NOT NULL,
        PRIMARY KEY (operator_id, key)
    ) WITHOUT ROWID;
    CREATE TABLE site_tombstones (
        id TEXT PRIMARY KEY
    ) WITHOUT ROWID;
    CREATE TABLE operator_tombstones (
        id TEXT PRIMARY KEY
    ) WITHOUT ROWID;
    "#,
    // 9: the conversation features. A conversation is a chat or an offline message; what a
    // visitor told about themselves is a last-writer-wins register per visitor.
    r#"
    ALTER TABLE conversations ADD COLUMN kind TEXT NOT NULL DEFAULT 'chat';
    CREATE TABLE visitor_details (
        visitor_id TEXT PRIMARY KEY,
        details    TEXT NOT NULL,                      -- protocol::VisitorDetails as JSON
        hlc        INTEGER NOT NULL,
        origin     TEXT NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 10: read receipts (the newest message each side read; only grows) and ratings (last
    // writer wins per conversation).
    r#"
    CREATE TABLE conversation_reads (
        conversation_id TEXT NOT NULL,
        reader          TEXT NOT NULL,                 -- visitor | operator
        up_to           INTEGER NOT NULL,              -- the hlc of the newest message read
        PRIMARY KEY (conversation_id, reader)
    ) WITHOUT ROWID;
    CREATE TABLE conversation_ratings (
        conversation_id TEXT PRIMARY KEY,
        scale           TEXT NOT NULL,                 -- good_bad | stars
        score           INTEGER NOT NULL,
        comment         TEXT,
        hlc             INTEGER NOT NULL,
        origin          TEXT NOT NULL
    ) WITHOUT ROWID;
    -- E-mails this deployment has to send (offline messages, transcripts): local, not
    -- replicated; written with what caused them, so a crash before sending only delays one.
    CREATE TABLE mail_outbox (
        id              INTEGER PRIMARY KEY,
        kind            TEXT NOT NULL,                 -- offline | transcript
        conversation_id TEXT NOT NULL,
        to_addr         TEXT NOT NULL,
        reply_to        TEXT,
        subject         TEXT NOT NULL,
        body            TEXT NOT NULL,
        created_at      INTEGER NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        sent_at         INTEGER,
        last_error      TEXT
    );
    CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE sent_at IS NULL;
    CREATE INDEX mail_outbox_conversation ON mail_outbox (conversation_id, kind);
    "#,
    // 11: attachments. A message may carry a file (stored by hash beside the database); who may
    // read a file is found through the messages that carry it.
    r#"
    ALTER TABLE messages ADD COLUMN attachment TEXT;    -- protocol Attachment as JSON
    ALTER TABLE messages ADD COLUMN attachment_hash TEXT;
    CREATE INDEX messages_attachment ON messages (attachment_hash) WHERE attachment_hash IS NOT NULL;
    "#,
    // 12: private notes. A message operators write for each other, stored and replicated like
    // any other but never read for a visitor (every visitor-facing query filters on it).
    r#"
    ALTER TABLE messages ADD COLUMN private INTEGER NOT NULL DEFAULT 0;
    "#,
    // 13: canned replies, one last-writer-wins register per reply; `value` is the reply as JSON,
    // NULL once removed.
    r#"
    CREATE TABLE canned_replies (
        id TEXT PRIMARY KEY,
        value TEXT,
        hlc INTEGER NOT NULL,
        origin TEXT NOT NULL
    );
    "#,
    // 14: routing. A site's queue is its waiting chats oldest first, and an operator's load the
    // count of their active chats; both are asked at every routing pass and for every waiting
    // chat's summary, so each has its index.
    r#"
    CREATE INDEX conversations_queue ON conversations (site_id, state, created_at, id);
    CREATE INDEX conversations_by_operator ON conversations (operator_id, state);
    "#,
    // 15: full-text search over messages (history). The index is derived from `messages` by
    // triggers, on each deployment from what it stores, so it never replicates and both
    // deployments answer the same search. Messages are only added (or replaced by the merge
    // rule's other copy), and every such change keeps the index in step.
    r#"
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        body, content = 'messages', content_rowid = 'seq', tokenize = 'unicode61 remove_diacritics 2'
    );
    INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, body) VALUES (new.seq, new.body);
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.seq, old.body);
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.seq, old.body);
        INSERT INTO messages_fts (rowid, body) VALUES (new.seq, new.body);
    END;
    CREATE INDEX conversations_history ON conversations (state, updated_at, id);
    "#,
    // 16: visitor context. Each page a visitor opens is a record of its own (grow-only, keyed by
    // the event that reported it); what their browser said is a last-writer-wins register per
    // visitor.
    r#"
    CREATE TABLE page_views (
        origin TEXT NOT NULL,
        origin_seq INTEGER NOT NULL,
        visitor_id TEXT NOT NULL,
        url TEXT NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (origin, origin_seq)
    );
    CREATE INDEX page_views_by_visitor ON page_views (visitor_id, at);
    CREATE TABLE visitor_contexts (
        visitor_id TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        hlc INTEGER NOT NULL,
        origin TEXT NOT NULL
    );
    "#,
    // 17: a deployment's own log is read in the order of `origin_seq`, which is no longer always
    // its local `seq`: events it takes back from the peer after losing its data keep their
    // original positions, and a fresh data directory numbers its own events from a floor above
    // anything the name issued before (see `store::rebuild`).
    r#"
    CREATE INDEX events_by_origin_seq ON events(origin, origin_seq);
    "#,
    // 18: the full-text index is brought up to date once per group commit, not per message. FTS5
    // writes what it holds to a new segment of its index whenever a savepoint is released, and
    // every write job runs in a savepoint of its own, so indexing in the insert trigger cost a
    // segment (and the merges it led to) per message: a quarter of the writer's time under load.
    // New messages are now noted in `messages_fts_pending`, which the writer indexes in one
    // statement just before each commit (`history::index_pending`), outside any job's savepoint,
    // so a batch makes one segment. It is empty between transactions. A message replaced or
    // removed before it was indexed only leaves the list; one already indexed leaves the index.
    r#"
    CREATE TABLE messages_fts_pending (seq INTEGER PRIMARY KEY);
    DROP TRIGGER messages_fts_insert;
    DROP TRIGGER messages_fts_delete;
    DROP TRIGGER messages_fts_update;
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT OR IGNORE INTO messages_fts_pending (seq) VALUES (new.seq);
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, body)
            SELECT 'delete', old.seq, old.body
            WHERE NOT EXISTS (SELECT 1 FROM messages_fts_pending WHERE seq = old.seq);
        DELETE FROM messages_fts_pending WHERE seq = old.seq;
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, body)
            SELECT 'delete', old.seq, old.body
            WHERE NOT EXISTS (SELECT 1 FROM messages_fts_pending WHERE seq = old.seq);
        DELETE FROM messages_fts_pending WHERE seq = old.seq;
        INSERT OR IGNORE INTO messages_fts_pending (seq) VALUES (new.seq);
    END;
    "#,
];

/// Open-time settings for the write connection: WAL so readers never block the writer, `synchronous =
/// FULL` so a commit is on disk before it returns (acknowledgements depend on it), foreign keys on,
/// and temporary files in memory: each write job runs in a savepoint, whose journal of the pages
/// it changed grows with the batch, spilled to a temporary file past 64 KiB, and was written
/// there page by page (a fifth of the writer's time under load). That journal only ever undoes a
/// refused job inside its transaction, so losing it in a crash loses nothing: the transaction is
/// lost with it.
pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    // Room for every statement the store runs, so none is evicted and parsed again.
    conn.set_prepared_statement_cache_capacity(96);
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 5000;
         PRAGMA temp_store = MEMORY;",
    )?;
    // Checkpoints run on a thread of their own (`store::checkpoint`); this connection's own
    // threshold is only the backstop.
    conn.pragma_update(
        None,
        "wal_autocheckpoint",
        super::checkpoint::WRITER_BACKSTOP_PAGES,
    )
}

/// Brings the database to the newest schema in one transaction, so a crash mid-migration leaves
/// the file at its old version. Returns the version it found.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<usize> {
    let found: usize = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found >= MIGRATIONS.len() {
        return Ok(found);
    }
    let tx = conn.transaction()?;
    for migration in &MIGRATIONS[found..] {
        tx.execute_batch(migration)?;
    }
    tx.pragma_update(None, "user_version", MIGRATIONS.len())?;
    tx.commit()?;
    Ok(found)
}
