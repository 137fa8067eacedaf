//! Files sent with messages, stored by the SHA-256 of their bytes in `files/` beside the
//! database: the same file sent twice (a retried upload, an upload at the other deployment after
//! a failover) is stored once, under the same name on both deployments. A file is written to a
//! temporary name, flushed to disk and renamed, so one that exists is whole and durable: an
//! upload is acknowledged only then.

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The directory of stored files.
#[derive(Clone, Debug)]
pub struct FileStore {
    dir: PathBuf,
}

/// The SHA-256 of `bytes` in lower-case hex.
pub fn hash_of(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `hash` could name a stored file (64 lower-case hex digits): nothing else reaches
/// the file system.
pub fn is_hash(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl FileStore {
    /// The store under `data_dir/files`, created if needed.
    pub fn open(data_dir: &Path) -> std::io::Result<FileStore> {
        let dir = data_dir.join("files");
        std::fs::create_dir_all(&dir)?;
        Ok(FileStore { dir })
    }

    fn path(&self, hash: &str) -> Option<PathBuf> {
        is_hash(hash).then(|| self.dir.join(&hash[..2]).join(hash))
    }

    /// The size of the stored file `hash`, if there is one.
    pub fn size(&self, hash: &str) -> Option<u64> {
        let path = self.path(hash)?;
        std::fs::metadata(path).ok().map(|m| m.len())
    }

    /// The bytes of the stored file `hash`.
    pub fn read(&self, hash: &str) -> std::io::Result<Vec<u8>> {
        let path = self
            .path(hash)
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a hash"))?;
        std::fs::read(path)
    }

    /// Stores `bytes` durably and returns their hash; storing what is there already is a no-op.
    /// Blocking: call it from a blocking task.
    pub fn put(&self, bytes: &[u8]) -> std::io::Result<String> {
        let hash = hash_of(bytes);
        let path = self.path(&hash).expect("a computed hash is a hash");
        if path.exists() {
            return Ok(hash);
        }
        let dir = path.parent().expect("files live in a sub-directory");
        std::fs::create_dir_all(dir)?;
        let temporary = dir.join(format!(".{hash}.{}", uuid::Uuid::now_v7()));
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temporary, &path)?;
        // The rename is durable once the directory is.
        std::fs::File::open(dir)?.sync_all()?;
        Ok(hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_stored_once_by_their_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path()).unwrap();
        let hash = store.put(b"hello").unwrap();
        assert_eq!(
            hash,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(store.put(b"hello").unwrap(), hash);
        assert_eq!(store.size(&hash), Some(5));
        assert_eq!(store.read(&hash).unwrap(), b"hello");
        assert_eq!(
            store.size("../../etc/passwd"),
            None,
            "only hashes reach the disk"
        );
        assert!(!is_hash(&hash.to_uppercase()));
    }
}
