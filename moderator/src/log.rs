//! The decision log: one JSON [`Decision`] per line in `decisions.jsonl`, appended and flushed to
//! disk before the decision is published, so a restarted moderator resumes at the same epoch and
//! never hands out an epoch twice.
//!
//! A crash can leave a torn last line; it was never published (publishing waits for the flush),
//! so it is dropped on open. A damaged line anywhere else means the file was tampered with or the
//! disk is failing, and the moderator refuses to start rather than guess.

use crate::decision::Decision;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// How many decisions are kept in memory for the status page.
const RECENT: usize = 50;

/// Why the log could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// Reading or writing failed.
    #[error("decision log {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
    /// A line before the last one is not a decision.
    #[error("decision log {path}: line {line} is damaged: {reason}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// The line number, from 1.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// The open log.
pub struct DecisionLog {
    path: PathBuf,
    file: File,
    recent: Vec<Decision>,
}

impl DecisionLog {
    /// Opens (or creates) the log in `path`, dropping a torn last line.
    pub fn open(path: &Path) -> Result<DecisionLog, LogError> {
        let io = |source| LogError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut recent = Vec::new();
        let mut valid_bytes = 0u64;
        if path.exists() {
            let reader = BufReader::new(File::open(path).map_err(io)?);
            let mut lines = reader.split(b'\n').enumerate().peekable();
            while let Some((index, line)) = lines.next() {
                let line = line.map_err(io)?;
                let is_last = lines.peek().is_none();
                match serde_json::from_slice::<Decision>(&line) {
                    Ok(decision) => {
                        valid_bytes += line.len() as u64 + 1;
                        recent.push(decision);
                        if recent.len() > RECENT {
                            recent.remove(0);
                        }
                    }
                    Err(_) if is_last => {
                        tracing::warn!(path = %path.display(), "dropping a torn last line of the decision log");
                    }
                    Err(e) => {
                        return Err(LogError::Damaged {
                            path: path.to_owned(),
                            line: index + 1,
                            reason: e.to_string(),
                        })
                    }
                }
            }
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        // Cutting the torn line off keeps the next append on a line of its own; a complete last
        // line that lost only its newline gets it back.
        let length = file.metadata().map_err(io)?.len();
        if valid_bytes <= length {
            file.set_len(valid_bytes).map_err(io)?;
        } else {
            file.write_all(b"\n").map_err(io)?;
        }
        file.sync_data().map_err(io)?;
        Ok(DecisionLog {
            path: path.to_owned(),
            file,
            recent,
        })
    }

    /// The last decision logged, if any.
    pub fn last(&self) -> Option<Decision> {
        self.recent.last().copied()
    }

    /// The most recent decisions, oldest first.
    pub fn recent(&self) -> &[Decision] {
        &self.recent
    }

    /// Appends `decision` and waits until it is on disk.
    pub fn append(&mut self, decision: Decision) -> Result<(), LogError> {
        let mut line = serde_json::to_vec(&decision).expect("decisions serialise");
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|()| self.file.sync_data())
            .map_err(|source| LogError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.recent.push(decision);
        if self.recent.len() > RECENT {
            self.recent.remove(0);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{Deployment, Reason};

    fn decision(epoch: u64) -> Decision {
        Decision {
            epoch,
            active: Deployment::Redundant,
            pinned: None,
            reason: Reason::PrimaryDown,
            at_ms: 1_000 * epoch,
        }
    }

    #[test]
    fn decisions_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.jsonl");
        let mut log = DecisionLog::open(&path).unwrap();
        assert_eq!(log.last(), None);
        log.append(decision(1)).unwrap();
        log.append(decision(2)).unwrap();
        drop(log);
        let log = DecisionLog::open(&path).unwrap();
        assert_eq!(log.last(), Some(decision(2)));
        assert_eq!(log.recent().len(), 2);
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_the_log_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.jsonl");
        let mut log = DecisionLog::open(&path).unwrap();
        log.append(decision(1)).unwrap();
        drop(log);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"epoch\":2,\"act").unwrap();
        drop(file);
        let mut log = DecisionLog::open(&path).unwrap();
        assert_eq!(log.last(), Some(decision(1)));
        log.append(decision(2)).unwrap();
        drop(log);
        let log = DecisionLog::open(&path).unwrap();
        assert_eq!(log.last(), Some(decision(2)));
    }

    #[test]
    fn a_last_line_without_its_newline_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.jsonl");
        std::fs::write(&path, serde_json::to_string(&decision(3)).unwrap()).unwrap();
        let mut log = DecisionLog::open(&path).unwrap();
        assert_eq!(log.last(), Some(decision(3)));
        log.append(decision(4)).unwrap();
        drop(log);
        assert_eq!(DecisionLog::open(&path).unwrap().recent().len(), 2);
    }

    #[test]
    fn a_damaged_line_before_the_end_refuses_to_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.jsonl");
        let good = serde_json::to_string(&decision(2)).unwrap();
        std::fs::write(&path, format!("garbage\n{good}\n")).unwrap();
        assert!(matches!(
            DecisionLog::open(&path),
            Err(LogError::Damaged { line: 1, .. })
        ));
    }
}
