//! The data directory as the serving process holds it: an exclusive lock that says "a deployment
//! serves from here" (a second `serve` on the same directory and a restore over it are refused),
//! and the identity of the database file it opened, so that a directory deleted or replaced
//! under a running deployment is noticed (`/health` fails) instead of served from a ghost file
//! that no longer has a name.

use crate::store::DATABASE_FILE;
use std::fs::File;
use std::path::{Path, PathBuf};

/// The lock file's name inside the data directory.
const LOCK_FILE: &str = "serve.lock";

/// Held for as long as a deployment serves from a data directory; the operating system releases
/// it when the process ends, however it ends.
#[derive(Debug)]
pub struct ServeLock {
    /// The open, locked file.
    _file: File,
}

/// Why serving from a data directory was refused.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process serves from it.
    #[error("another deployment is already serving from {0}: two deployments must never share a data directory")]
    Held(PathBuf),
    /// The lock file could not be created.
    #[error("cannot lock {0}: {1}")]
    Io(PathBuf, std::io::Error),
}

/// Locks `data_dir` for serving.
pub fn lock_for_serving(data_dir: &Path) -> Result<ServeLock, LockError> {
    std::fs::create_dir_all(data_dir).map_err(|e| LockError::Io(data_dir.to_owned(), e))?;
    let path = data_dir.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| LockError::Io(path.clone(), e))?;
    match file.try_lock() {
        Ok(()) => Ok(ServeLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(LockError::Held(data_dir.to_owned())),
        Err(std::fs::TryLockError::Error(e)) => Err(LockError::Io(path, e)),
    }
}

/// Whether a deployment serves from `data_dir` now.
pub fn is_served(data_dir: &Path) -> bool {
    let Ok(file) = File::open(data_dir.join(LOCK_FILE)) else {
        return false;
    };
    matches!(
        file.try_lock_shared(),
        Err(std::fs::TryLockError::WouldBlock)
    )
}

/// The database file a deployment opened, to compare with what the path names now.
#[derive(Clone, Debug)]
pub struct Opened {
    /// The file's path.
    path: PathBuf,
    /// Its device and inode when opened.
    identity: Option<(u64, u64)>,
}

/// The device and inode of `path`.
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

impl Opened {
    /// Records the database file of `data_dir` as it is now.
    pub fn record(data_dir: &Path) -> Opened {
        let path = data_dir.join(DATABASE_FILE);
        Opened {
            identity: identity(&path),
            path,
        }
    }

    /// `Err` with a sentence for the operators when the database file was deleted or replaced
    /// since it was opened: the deployment then writes to a file nobody will find again.
    pub fn still_there(&self) -> Result<(), String> {
        match identity(&self.path) {
            now if now == self.identity => Ok(()),
            None => Err(format!(
                "{} was deleted while the deployment ran: restart it (it rebuilds from its peer) \
                 or restore a backup",
                self.path.display()
            )),
            Some(_) => Err(format!(
                "{} was replaced while the deployment ran: restart it to serve the new file",
                self.path.display()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_directory_is_served_by_one_deployment_at_a_time() {
        let dir = tempfile::tempdir().expect("a directory");
        assert!(!is_served(dir.path()));
        let lock = lock_for_serving(dir.path()).expect("the first lock");
        assert!(is_served(dir.path()));
        assert!(matches!(
            lock_for_serving(dir.path()),
            Err(LockError::Held(_))
        ));
        drop(lock);
        assert!(!is_served(dir.path()));
        lock_for_serving(dir.path()).expect("free again");
    }

    #[test]
    fn a_deleted_or_replaced_database_is_noticed() {
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join(DATABASE_FILE);
        std::fs::write(&path, b"one").expect("write");
        let opened = Opened::record(dir.path());
        opened.still_there().expect("unchanged");
        std::fs::remove_file(&path).expect("delete");
        assert!(opened.still_there().unwrap_err().contains("deleted"));
    }
}
