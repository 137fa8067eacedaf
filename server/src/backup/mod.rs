//! Backups of a deployment's data directory, taken while it serves, and their restore.
//!
//! A backup is a directory named by the deployment and the UTC time it was taken
//! (`livechat-primary-20261202T101500Z`) holding a consistent copy of the database made with
//! SQLite's `VACUUM INTO` (one read transaction: a snapshot, never a torn file, and the deployment
//! keeps writing meanwhile), the stored files, the visitor-token secret (without it a restored
//! deployment would refuse every visitor's token) and a manifest. It is written under a hidden
//! `.partial` name and renamed only once verified, so a directory with a visible name is whole:
//! `PRAGMA integrity_check` passed on the copy, every file's bytes hash to its name, and the
//! manifest counts match. [`schedule`] takes them on a timer ([`plan`]) with retention and an
//! off-site copy.
//!
//! The files are copied after the database snapshot: a file is stored (durably) before the
//! message naming it is written, so every file the snapshot names is already there.

pub mod plan;
pub mod schedule;

use crate::files::{hash_of, is_hash};
use crate::store::DATABASE_FILE;
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The manifest's file name inside a backup.
pub const MANIFEST: &str = "backup.json";
/// The visitor-token secret's file name, in a data directory and in a backup.
const TOKEN_SECRET: &str = "token-secret";
/// What every backup's name starts with; retention only ever removes such directories.
const PREFIX: &str = "livechat-";

/// What a backup holds, written last into it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The deployment that took it.
    pub deployment: String,
    /// When, in Unix milliseconds.
    pub taken_at_ms: i64,
    /// The database's schema version (`PRAGMA user_version`).
    pub schema_version: i64,
    /// How many events the database holds.
    pub events: i64,
    /// How many stored files were copied.
    pub files: usize,
    /// Their size in bytes.
    pub file_bytes: u64,
    /// The SHA-256 of the database copy.
    pub database_sha256: String,
}

/// Why a backup or a restore failed; nothing half-made is left under a backup's name or in the
/// data directory's place.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// A file or directory could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, naming the path.
        what: String,
        /// The reason.
        source: std::io::Error,
    },
    /// SQLite refused the copy or its check.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The data directory has no database to back up.
    #[error("{0} holds no database: is it a deployment's data directory?")]
    NoDatabase(PathBuf),
    /// The copy is not what it should be; the message says what.
    #[error("damaged: {0}")]
    Damaged(String),
    /// A deployment is serving from the data directory a restore would overwrite.
    #[error(
        "a deployment is running on {0}: stop it first (restoring under a running deployment \
         would lose what it writes)"
    )]
    Live(PathBuf),
    /// The data directory already holds a database and `--replace` was not given.
    #[error(
        "{0} already holds a database: pass --replace to move it aside (into a before-restore \
         directory) and restore over it"
    )]
    Occupied(PathBuf),
}

/// Shorthand for an IO step that names its path.
fn io<T>(result: std::io::Result<T>, what: impl FnOnce() -> String) -> Result<T, BackupError> {
    result.map_err(|source| BackupError::Io {
        what: what(),
        source,
    })
}

/// `ms` (Unix milliseconds) as a compact UTC stamp, `20261202T101500Z`, for names that sort by
/// time.
pub fn stamp(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The wall clock in Unix milliseconds.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// Takes a verified backup of `data_dir` into a new directory under `destination` and returns
/// its path and manifest. Safe while the deployment serves.
pub fn take(
    data_dir: &Path,
    deployment: &str,
    destination: &Path,
) -> Result<(PathBuf, Manifest), BackupError> {
    let database = data_dir.join(DATABASE_FILE);
    if !database.is_file() {
        return Err(BackupError::NoDatabase(data_dir.to_owned()));
    }
    io(std::fs::create_dir_all(destination), || {
        format!("cannot create {}", destination.display())
    })?;
    let taken_at_ms = now_ms();
    let base = format!("{PREFIX}{deployment}-{}", stamp(taken_at_ms));
    // Two backups in one second (a manual one beside the schedule) get distinct names.
    let name = (1..)
        .map(|n| match n {
            1 => base.clone(),
            n => format!("{base}-{n}"),
        })
        .find(|name| !destination.join(name).exists())
        .expect("some suffix is free");
    let partial = destination.join(format!(".{name}.partial"));
    let _ = std::fs::remove_dir_all(&partial);
    let result = fill(data_dir, deployment, taken_at_ms, &partial);
    let manifest = match result {
        Ok(manifest) => manifest,
        Err(error) => {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(error);
        }
    };
    let finished = destination.join(&name);
    io(std::fs::rename(&partial, &finished), || {
        format!("cannot name the backup {}", finished.display())
    })?;
    sync_dir(destination)?;
    Ok((finished, manifest))
}

/// Writes the copy, the files, the secret and the manifest into `partial`, then verifies it.
fn fill(
    data_dir: &Path,
    deployment: &str,
    taken_at_ms: i64,
    partial: &Path,
) -> Result<Manifest, BackupError> {
    io(std::fs::create_dir_all(partial), || {
        format!("cannot create {}", partial.display())
    })?;
    let source = Connection::open_with_flags(
        data_dir.join(DATABASE_FILE),
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    source.busy_timeout(std::time::Duration::from_secs(10))?;
    let copy = partial.join(DATABASE_FILE);
    source.execute("VACUUM INTO ?1", [copy.to_string_lossy().as_ref()])?;
    drop(source);
    let (files, file_bytes) = copy_files(&data_dir.join("files"), &partial.join("files"))?;
    let secret = data_dir.join(TOKEN_SECRET);
    if secret.is_file() {
        io(std::fs::copy(&secret, partial.join(TOKEN_SECRET)), || {
            format!("cannot copy {}", secret.display())
        })?;
    }
    let (schema_version, events) = check_database(&copy)?;
    let manifest = Manifest {
        deployment: deployment.to_owned(),
        taken_at_ms,
        schema_version,
        events,
        files,
        file_bytes,
        database_sha256: hash_file(&copy)?,
    };
    let text = serde_json::to_vec_pretty(&manifest).expect("a manifest serialises");
    write_durably(&partial.join(MANIFEST), &text)?;
    sync_tree(partial)?;
    Ok(manifest)
}

/// Copies every stored file from `from` to `to` (each checked against its name), returning how
/// many and their bytes. A missing `from` is an empty store.
fn copy_files(from: &Path, to: &Path) -> Result<(usize, u64), BackupError> {
    let (mut count, mut bytes) = (0, 0);
    for (hash, path) in stored_files(from)? {
        let content = io(std::fs::read(&path), || {
            format!("cannot read {}", path.display())
        })?;
        if hash_of(&content) != hash {
            return Err(BackupError::Damaged(format!(
                "the stored file {} does not hash to its name",
                path.display()
            )));
        }
        let target = to.join(&hash[..2]).join(&hash);
        io(
            std::fs::create_dir_all(target.parent().expect("a parent")),
            || format!("cannot create {}", to.display()),
        )?;
        io(std::fs::write(&target, &content), || {
            format!("cannot write {}", target.display())
        })?;
        count += 1;
        bytes += content.len() as u64;
    }
    Ok((count, bytes))
}

/// The stored files under a `files/` directory, by hash: `xx/<hash>` only (upload temporaries
/// start with a dot and are skipped).
fn stored_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, BackupError> {
    let mut found = Vec::new();
    let Ok(shards) = std::fs::read_dir(dir) else {
        return Ok(found);
    };
    for shard in shards {
        let shard = io(shard, || format!("cannot list {}", dir.display()))?.path();
        let Ok(entries) = std::fs::read_dir(&shard) else {
            continue;
        };
        for entry in entries {
            let path = io(entry, || format!("cannot list {}", shard.display()))?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if is_hash(name) && path.is_file() {
                found.push((name.to_owned(), path.clone()));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Runs SQLite's own check on a database file and returns its schema version and event count.
fn check_database(path: &Path) -> Result<(i64, i64), BackupError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let verdict: String = conn.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
    if verdict != "ok" {
        return Err(BackupError::Damaged(format!(
            "{} fails SQLite's integrity check: {verdict}",
            path.display()
        )));
    }
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let events: i64 = conn.query_row("SELECT COUNT(*) FROM events", [], |row| row.get(0))?;
    Ok((version, events))
}

/// Checks a finished backup against its manifest: the database's hash and integrity, and every
/// file's bytes.
pub fn verify(backup: &Path) -> Result<Manifest, BackupError> {
    let text = io(std::fs::read(backup.join(MANIFEST)), || {
        format!("{} is not a backup (no {MANIFEST})", backup.display())
    })?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| BackupError::Damaged(format!("{MANIFEST} is unreadable: {e}")))?;
    let database = backup.join(DATABASE_FILE);
    if hash_file(&database)? != manifest.database_sha256 {
        return Err(BackupError::Damaged(format!(
            "{} differs from the copy that was taken",
            database.display()
        )));
    }
    let (schema_version, events) = check_database(&database)?;
    let files = stored_files(&backup.join("files"))?;
    let mut bytes = 0;
    for (hash, path) in &files {
        let content = io(std::fs::read(path), || {
            format!("cannot read {}", path.display())
        })?;
        if hash_of(&content) != *hash {
            return Err(BackupError::Damaged(format!(
                "{} does not hash to its name",
                path.display()
            )));
        }
        bytes += content.len() as u64;
    }
    let found = (schema_version, events, files.len(), bytes);
    let expected = (
        manifest.schema_version,
        manifest.events,
        manifest.files,
        manifest.file_bytes,
    );
    if found != expected {
        return Err(BackupError::Damaged(format!(
            "the backup holds (schema, events, files, bytes) {found:?}, its manifest says {expected:?}"
        )));
    }
    Ok(manifest)
}

/// The finished backups under `destination`, oldest first.
pub fn list(destination: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(destination)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PREFIX))
                && path.join(MANIFEST).is_file()
        })
        .collect();
    // The name's stamp sorts by time; the manifest's time settles backups of one second.
    found.sort_by_key(|path| {
        let taken = std::fs::read(path.join(MANIFEST))
            .ok()
            .and_then(|t| serde_json::from_slice::<Manifest>(&t).ok())
            .map(|m| m.taken_at_ms);
        (taken, path.clone())
    });
    found
}

/// Keeps the newest `keep` backups under `destination` and removes the rest, and any partial
/// one a crash left behind; returns what it removed.
pub fn prune(destination: &Path, keep: usize) -> Result<Vec<PathBuf>, BackupError> {
    let all = list(destination);
    let old = all.len().saturating_sub(keep);
    let mut removed: Vec<PathBuf> = all.into_iter().take(old).collect();
    for entry in std::fs::read_dir(destination)
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&format!(".{PREFIX}")) && name.ends_with(".partial") {
            // Only one backup runs per destination at a time (the schedule's), so a partial one
            // older than a minute is a crash's leftover, not one being written.
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|e| e.as_secs() > 60));
            if stale {
                removed.push(entry.path());
            }
        }
    }
    for path in &removed {
        io(std::fs::remove_dir_all(path), || {
            format!("cannot remove the old backup {}", path.display())
        })?;
    }
    Ok(removed)
}

/// Copies a finished backup into `destination` (the off-site copy) and verifies it there.
pub fn copy_to(backup: &Path, destination: &Path) -> Result<PathBuf, BackupError> {
    let name = backup.file_name().expect("a backup has a name");
    let finished = destination.join(name);
    let partial = destination.join(format!(".{}.partial", name.to_string_lossy()));
    let _ = std::fs::remove_dir_all(&partial);
    let copied = copy_tree(backup, &partial)
        .and_then(|()| sync_tree(&partial))
        .and_then(|()| verify(&partial).map(drop));
    if let Err(error) = copied {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(error);
    }
    io(std::fs::rename(&partial, &finished), || {
        format!("cannot name the copy {}", finished.display())
    })?;
    sync_dir(destination)?;
    Ok(finished)
}

/// Restores `backup` into `data_dir` after verifying it, refusing a data directory a deployment
/// serves from, and one that holds a database unless `replace` (which moves the old data into a
/// `before-restore-<stamp>` directory beside it, never deleting it). The database is put in
/// place last, so an interrupted restore leaves no database that looks whole.
pub fn restore(backup: &Path, data_dir: &Path, replace: bool) -> Result<Manifest, BackupError> {
    let manifest = verify(backup)?;
    if crate::datadir::is_served(data_dir) {
        return Err(BackupError::Live(data_dir.to_owned()));
    }
    io(std::fs::create_dir_all(data_dir), || {
        format!("cannot create {}", data_dir.display())
    })?;
    if data_dir.join(DATABASE_FILE).exists() {
        if !replace {
            return Err(BackupError::Occupied(data_dir.to_owned()));
        }
        let aside = data_dir.join(format!("before-restore-{}", stamp(now_ms())));
        io(std::fs::create_dir_all(&aside), || {
            format!("cannot create {}", aside.display())
        })?;
        for name in [
            DATABASE_FILE.to_owned(),
            format!("{DATABASE_FILE}-wal"),
            format!("{DATABASE_FILE}-shm"),
            "files".to_owned(),
            TOKEN_SECRET.to_owned(),
        ] {
            let path = data_dir.join(&name);
            if path.exists() {
                io(std::fs::rename(&path, aside.join(&name)), || {
                    format!("cannot move {} aside", path.display())
                })?;
            }
        }
    }
    copy_tree(&backup.join("files"), &data_dir.join("files"))?;
    let secret = backup.join(TOKEN_SECRET);
    if secret.is_file() {
        io(std::fs::copy(&secret, data_dir.join(TOKEN_SECRET)), || {
            format!("cannot restore {}", secret.display())
        })?;
    }
    let incoming = data_dir.join(format!("{DATABASE_FILE}.restoring"));
    io(std::fs::copy(backup.join(DATABASE_FILE), &incoming), || {
        format!("cannot write {}", incoming.display())
    })?;
    // The restored deployment is behind what it had written since the backup, and its peer's
    // cursor is not: it numbers its own events above everything before and takes its own later
    // events back from the peer (`store::rebuild`).
    {
        let conn = Connection::open(&incoming)?;
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        crate::store::rebuild::mark_for_rebuild(&conn, now_ms)?;
    }
    sync_tree(data_dir)?;
    io(
        std::fs::rename(&incoming, data_dir.join(DATABASE_FILE)),
        || format!("cannot put the database in place in {}", data_dir.display()),
    )?;
    sync_dir(data_dir)?;
    let (schema_version, events) = check_database(&data_dir.join(DATABASE_FILE))?;
    let restored_files = stored_files(&data_dir.join("files"))?.len();
    if (schema_version, events) != (manifest.schema_version, manifest.events)
        || restored_files < manifest.files
    {
        return Err(BackupError::Damaged(format!(
            "{} does not hold what the backup does after the restore",
            data_dir.display()
        )));
    }
    Ok(manifest)
}

/// Copies the directory `from` (if it exists) into `to`, recursively.
fn copy_tree(from: &Path, to: &Path) -> Result<(), BackupError> {
    if !from.exists() {
        return Ok(());
    }
    io(std::fs::create_dir_all(to), || {
        format!("cannot create {}", to.display())
    })?;
    for entry in io(std::fs::read_dir(from), || {
        format!("cannot list {}", from.display())
    })? {
        let entry = io(entry, || format!("cannot list {}", from.display()))?;
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_tree(&path, &target)?;
        } else {
            io(std::fs::copy(&path, &target), || {
                format!("cannot copy {}", path.display())
            })?;
        }
    }
    Ok(())
}

/// The SHA-256 of a file's bytes.
fn hash_file(path: &Path) -> Result<String, BackupError> {
    let bytes = io(std::fs::read(path), || {
        format!("cannot read {}", path.display())
    })?;
    Ok(hash_of(&bytes))
}

/// Writes `bytes` to `path` and flushes them to disk.
fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    use std::io::Write;
    let mut file = io(std::fs::File::create(path), || {
        format!("cannot write {}", path.display())
    })?;
    io(file.write_all(bytes).and_then(|()| file.sync_all()), || {
        format!("cannot write {}", path.display())
    })
}

/// Flushes every file and directory under `dir` to disk, so a backup that has its name survives
/// a power cut.
fn sync_tree(dir: &Path) -> Result<(), BackupError> {
    for entry in io(std::fs::read_dir(dir), || {
        format!("cannot list {}", dir.display())
    })? {
        let path = io(entry, || format!("cannot list {}", dir.display()))?.path();
        if path.is_dir() {
            sync_tree(&path)?;
        } else {
            io(
                std::fs::File::open(&path).and_then(|f| f.sync_all()),
                || format!("cannot flush {}", path.display()),
            )?;
        }
    }
    sync_dir(dir)
}

/// Flushes a directory's entries (a rename inside it) to disk.
fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    io(std::fs::File::open(dir).and_then(|f| f.sync_all()), || {
        format!("cannot flush {}", dir.display())
    })
}

/// The outcome of the latest scheduled backups, for `/health` and the metrics.
#[derive(Debug, Default)]
pub struct Status(std::sync::Mutex<protocol::http::BackupReport>);

impl Status {
    /// What is known now.
    pub fn report(&self) -> protocol::http::BackupReport {
        self.0.lock().expect("backup status").clone()
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut protocol::http::BackupReport)) {
        f(&mut self.0.lock().expect("backup status"));
    }
}

#[cfg(test)]
mod tests;
