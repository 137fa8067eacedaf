//! Backups on a timer: with `--backup-dir`, the serving deployment takes one at start and then
//! every `--backup-every`, keeps the newest `--backup-keep` there, and copies each into
//! `--backup-offsite-dir` (another disk, a mounted remote volume) with the same retention. The
//! work runs on a blocking thread; a failure is logged and reported in `/health` and the next
//! period tries again. What is configured is in [`super::plan`].

use super::plan::parse_period;
use crate::state::AppState;
use std::path::PathBuf;

/// Takes the scheduled backups until the deployment shuts down. Returns at once without a
/// backup directory.
pub async fn run(state: AppState) {
    let schedule = state.config.backup.clone();
    let Some(dir) = schedule.dir.clone() else {
        return;
    };
    let every = parse_period(&schedule.every).expect("validated at start-up");
    let mut stopping = state.shutdown.clone();
    state
        .backups
        .update(|r| r.destination = Some(dir.display().to_string()));
    loop {
        let data_dir = state.config.data_dir.clone();
        let deployment = state.config.deployment.clone();
        let schedule = schedule.clone();
        let dir = dir.clone();
        let outcome =
            tokio::task::spawn_blocking(move || once(&data_dir, &deployment, &dir, &schedule))
                .await
                .unwrap_or_else(|e| Err(format!("the backup task failed: {e}")));
        let now = state.now_ms();
        match outcome {
            Ok(path) => {
                tracing::info!(backup = %path.display(), "backup taken and verified");
                state.backups.update(|r| {
                    r.last_success_ms = Some(now);
                    r.last_error = None;
                });
            }
            Err(error) => {
                tracing::error!(%error, "backup failed");
                state.backups.update(|r| r.last_error = Some(error));
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stopping.changed() => return,
        }
    }
}

/// One scheduled backup: take, copy off-site, prune both destinations.
fn once(
    data_dir: &std::path::Path,
    deployment: &str,
    dir: &std::path::Path,
    schedule: &super::plan::Schedule,
) -> Result<PathBuf, String> {
    let (path, _) = super::take(data_dir, deployment, dir).map_err(|e| e.to_string())?;
    super::prune(dir, schedule.keep).map_err(|e| e.to_string())?;
    if let Some(offsite) = &schedule.offsite_dir {
        std::fs::create_dir_all(offsite)
            .map_err(|e| format!("cannot create {}: {e}", offsite.display()))?;
        super::copy_to(&path, offsite).map_err(|e| format!("off-site copy: {e}"))?;
        super::prune(offsite, schedule.keep).map_err(|e| format!("off-site: {e}"))?;
    }
    Ok(path)
}
