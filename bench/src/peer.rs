//! The peer beside us: what a developer builds instead of this product, two Socket.IO 4 servers
//! holding chats in memory behind nginx with a `backup` upstream (`bench/peer/`), under the same
//! failover workload (the same chats writing every 100 ms, the primary killed). The bench starts
//! and stops all of it; where node, npm or nginx is missing it says so and goes on without it.

use crate::report::Trace;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The versions the comparison ran with, fetched from npm on first use.
const PACKAGES: [&str; 2] = ["socket.io@4.8.4", "socket.io-client@4.8.4"];

/// What the peer's rounds measured.
pub struct Outcome {
    /// Per chat live before a kill, from the kill to its first message delivered afterwards (ms).
    pub resume_ms: Vec<f64>,
    /// Per kill, the messages written that never reached the operator.
    pub lost_per_kill: Vec<f64>,
    /// Per kill, the messages written.
    pub written_per_kill: Vec<f64>,
    /// Messages delivered twice, over every round.
    pub duplicates: u64,
    /// The first round's per-message latencies, for `failover.svg`.
    pub first_round: Trace,
}

/// Runs `kills` rounds of `chats` chats, or returns why it could not.
pub async fn run(out: &Path, chats: usize, kills: usize) -> Result<Outcome, String> {
    let out = out.to_path_buf();
    tokio::task::spawn_blocking(move || run_blocking(&out, chats, kills))
        .await
        .map_err(|e| e.to_string())?
}

fn run_blocking(out: &Path, chats: usize, kills: usize) -> Result<Outcome, String> {
    let nginx =
        find_nginx().ok_or("nginx is not installed (Debian: apt-get install nginx-light)")?;
    let works = |program: &str| {
        Command::new(program)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !works("node") || !works("npm") {
        return Err("node and npm are not installed".into());
    }
    let modules = out.join("peer");
    if !modules.join("node_modules/socket.io/package.json").exists() {
        let installed = Command::new("npm")
            .args([
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--prefix",
            ])
            .arg(&modules)
            .args(PACKAGES)
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            return Err(format!("npm could not install {}", PACKAGES.join(" and ")));
        }
    }
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peer/run.js");
    let mut child = Command::new("node")
        .arg(&script)
        .arg(&nginx)
        .arg(work.path())
        .arg(chats.to_string())
        .arg(kills.to_string())
        .env("NODE_PATH", modules.join("node_modules"))
        .spawn()
        .map_err(|e| format!("starting node: {e}"))?;
    // Each round takes about 11 s; a hung round must not hang the bench.
    let limit = Duration::from_secs(30 + 20 * kills as u64);
    let started = std::time::Instant::now();
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            return Err(format!("the peer's run took longer than {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("the peer's run failed ({status})"));
    }
    let result = std::fs::read_to_string(work.path().join("result.json"))
        .map_err(|e| format!("the peer's result: {e}"))?;
    parse(&result)
}

fn find_nginx() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.is_file())
}

/// Reads run.js's result.
fn parse(line: &str) -> Result<Outcome, String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("the peer's answer: {e}"))?;
    let rounds = value["rounds"].as_array().ok_or("no rounds")?;
    let number = |v: &serde_json::Value| v.as_f64().unwrap_or(0.0);
    // The trace is drawn relative to its kill; any origin past 3 s keeps the times positive.
    let fault_us = 10_000_000u64;
    let points = value["first_round"]
        .as_array()
        .map(|points| {
            points
                .iter()
                .filter_map(|p| {
                    let sent_ms = p.get(0)?.as_f64()?;
                    let latency = p.get(1)?.as_f64()?;
                    Some(((fault_us as f64 + sent_ms * 1000.0) as u64, latency))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Outcome {
        resume_ms: rounds
            .iter()
            .flat_map(|r| r["resume_ms"].as_array().cloned().unwrap_or_default())
            .map(|v| number(&v))
            .collect(),
        lost_per_kill: rounds.iter().map(|r| number(&r["lost"])).collect(),
        written_per_kill: rounds.iter().map(|r| number(&r["written"])).collect(),
        duplicates: rounds.iter().map(|r| number(&r["duplicates"]) as u64).sum(),
        first_round: Trace {
            points,
            fault_us,
            switch_us: None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runners_answer_is_read_round_by_round() {
        let outcome = parse(
            r#"{"rounds":[{"written":100,"lost":7,"duplicates":1,"resume_ms":[1000.5,1200]},
                {"written":90,"lost":3,"duplicates":0,"resume_ms":[900]}],
                "first_round":[[-2500.0,1.5],[300.0,1400.0]]}"#,
        )
        .unwrap();
        assert_eq!(outcome.resume_ms, vec![1000.5, 1200.0, 900.0]);
        assert_eq!(outcome.lost_per_kill, vec![7.0, 3.0]);
        assert_eq!(outcome.written_per_kill, vec![100.0, 90.0]);
        assert_eq!(outcome.duplicates, 1);
        assert_eq!(
            outcome.first_round.points,
            vec![(7_500_000, 1.5), (10_300_000, 1400.0)]
        );
        assert!(parse("not json").is_err());
    }
}
