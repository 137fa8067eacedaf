//! What the backup schedule is configured with: the `[backup]` table of the configuration file
//! and the `--backup-*` flags, checked at start-up with a sentence saying what is wrong.

use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// The `[backup]` table of the configuration file.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Schedule {
    /// Where backups go; none are scheduled without it.
    pub dir: Option<PathBuf>,
    /// How often, as a number and a unit: `90s`, `30m`, `6h`, `1d`.
    pub every: String,
    /// How many backups to keep in each destination.
    pub keep: usize,
    /// A second destination each backup is copied to.
    pub offsite_dir: Option<PathBuf>,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            dir: None,
            every: "6h".into(),
            keep: 14,
            offsite_dir: None,
        }
    }
}

/// The schedule's flags and environment variables.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct Flags {
    /// Take backups into this directory while serving.
    #[arg(long, env = "LIVECHAT_BACKUP_DIR", global = true)]
    pub backup_dir: Option<PathBuf>,
    /// How often: `90s`, `30m`, `6h` (the default), `1d`.
    #[arg(long, env = "LIVECHAT_BACKUP_EVERY", global = true)]
    pub backup_every: Option<String>,
    /// How many backups to keep in each destination (14 by default).
    #[arg(long, env = "LIVECHAT_BACKUP_KEEP", global = true)]
    pub backup_keep: Option<usize>,
    /// Copy each backup here too (the off-site copy).
    #[arg(long, env = "LIVECHAT_BACKUP_OFFSITE_DIR", global = true)]
    pub backup_offsite_dir: Option<PathBuf>,
}

impl Schedule {
    /// Applies the flags that are set.
    pub fn apply(&mut self, flags: &Flags) {
        use daemon::config::{set, set_some};
        set_some(&mut self.dir, &flags.backup_dir);
        set(&mut self.every, &flags.backup_every);
        set(&mut self.keep, &flags.backup_keep);
        set_some(&mut self.offsite_dir, &flags.backup_offsite_dir);
    }

    /// Checks the period and the retention, with a sentence saying what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let every = parse_period(&self.every)?;
        if every < Duration::from_secs(1) {
            return Err("backup every must be at least 1s".into());
        }
        if self.keep == 0 {
            return Err("backup keep must be at least 1 (the newest backup)".into());
        }
        if self.offsite_dir.is_some() && self.dir.is_none() {
            return Err("backup offsite_dir needs a backup dir to copy from".into());
        }
        Ok(())
    }
}

/// `90s`, `30m`, `6h`, `1d` as a duration.
pub fn parse_period(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a period such as 90s, 30m, 6h or 1d"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}` has no unit: write 90s, 30m, 6h or 1d")),
    };
    Ok(Duration::from_secs(number.saturating_mul(seconds)))
}
