//! The load generator in several processes, so that the generator is not what saturates: a run's
//! visitors are shared out between processes of this same binary (`bench --load-worker`), one for
//! every four cores unless `LIVECHAT_BENCH_GENERATORS` says otherwise (1: all in the bench's own
//! process). The deployments, the moderator and the relay need cores of their own: on the 2-core
//! reference machine two generator processes halved the relay's figure (13,276 against 28,272
//! messages a second in one process) and left ours where it was (3,206 against 3,234), so there
//! the visitors stay in the bench's process.
//! The operator, who measures delivery and latency, stays in the bench's process; the messages
//! carry their send time on the clock every process shares ([`crate::stats::now_us`]), and each
//! worker reports how many confirmations it counted inside the window.
//!
//! A worker reads what to run as JSON on its standard input (ten thousand visitors' paces do not
//! fit in one argument) and writes its tally as one line of JSON on its standard output.

use crate::load::{self, Pace, Seen, Window};
use crate::stats::{epoch_us, EPOCH_VAR};
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The flag that makes the bench a worker.
pub const WORKER_FLAG: &str = "--load-worker";

/// How many processes share a run's visitors.
pub fn processes() -> usize {
    std::env::var("LIVECHAT_BENCH_GENERATORS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() / 4))
        .max(1)
}

/// What one worker runs: its visitors' paces, against these deployments, counting inside `window`.
pub struct Share {
    /// The deployments' base URLs, primary first.
    pub deployments: Vec<String>,
    /// The moderator's base URL, where there is one.
    pub moderator: Option<String>,
    /// When confirmations count; the visitors stop writing at its end.
    pub window: Window,
    /// One pace per visitor.
    pub paces: Vec<Pace>,
}

fn pace_json(pace: &Pace) -> serde_json::Value {
    match pace {
        Pace::Window(limit) => serde_json::json!({ "window": limit }),
        Pace::Every { period, offset } => serde_json::json!({
            "period_us": period.as_micros() as u64,
            "offset_us": offset.as_micros() as u64,
        }),
    }
}

fn pace_of(value: &serde_json::Value) -> Option<Pace> {
    if let Some(limit) = value["window"].as_u64() {
        return Some(Pace::Window(limit as usize));
    }
    Some(Pace::Every {
        period: Duration::from_micros(value["period_us"].as_u64()?),
        offset: Duration::from_micros(value["offset_us"].as_u64()?),
    })
}

impl Share {
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "deployments": self.deployments,
            "moderator": self.moderator,
            "window": [self.window.from_us, self.window.to_us],
            "paces": self.paces.iter().map(pace_json).collect::<Vec<_>>(),
        })
    }

    fn from_json(value: &serde_json::Value) -> anyhow::Result<Share> {
        let malformed = || anyhow::anyhow!("a malformed share: {value}");
        let strings = |v: &serde_json::Value| -> Option<Vec<String>> {
            v.as_array()?
                .iter()
                .map(|s| s.as_str().map(str::to_owned))
                .collect()
        };
        Ok(Share {
            deployments: strings(&value["deployments"]).ok_or_else(malformed)?,
            moderator: value["moderator"].as_str().map(str::to_owned),
            window: Window {
                from_us: value["window"][0].as_u64().ok_or_else(malformed)?,
                to_us: value["window"][1].as_u64().ok_or_else(malformed)?,
            },
            paces: value["paces"]
                .as_array()
                .ok_or_else(malformed)?
                .iter()
                .map(pace_of)
                .collect::<Option<_>>()
                .ok_or_else(malformed)?,
        })
    }
}

/// Runs `share` in a new worker process; resolves to the confirmations it counted in the window.
pub async fn run(share: Share) -> anyhow::Result<u64> {
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .arg(WORKER_FLAG)
        .env(EPOCH_VAR, epoch_us().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdin = child.stdin.take().expect("piped");
    stdin
        .write_all(share.to_json().to_string().as_bytes())
        .await?;
    drop(stdin);
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .expect("piped")
        .read_to_string(&mut stdout)
        .await?;
    let status = child.wait().await?;
    anyhow::ensure!(
        status.success(),
        "a load generator process ended with {status}"
    );
    let tally: serde_json::Value = serde_json::from_str(stdout.trim())?;
    tally["confirmed"]
        .as_u64()
        .ok_or_else(|| anyhow::anyhow!("a load generator process said {stdout:?}"))
}

/// `bench --load-worker`: runs the share read on standard input, then prints its tally.
pub async fn worker() -> anyhow::Result<()> {
    let mut input = String::new();
    tokio::io::stdin().read_to_string(&mut input).await?;
    let share = Share::from_json(&serde_json::from_str(&input)?)?;
    let seen = Arc::new(Seen::default());
    load::visitors(
        &share.deployments,
        share.moderator,
        share.paces,
        share.window,
        seen.clone(),
    )
    .await;
    let confirmed = seen.confirmed.load(Ordering::Relaxed);
    println!("{}", serde_json::json!({ "confirmed": confirmed }));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Pace, Share, Window};
    use std::time::Duration;

    #[test]
    fn a_share_reads_back_as_it_was_written() {
        let share = Share {
            deployments: vec!["http://127.0.0.1:1".into(), "http://127.0.0.1:2".into()],
            moderator: None,
            window: Window {
                from_us: 3,
                to_us: 40,
            },
            paces: vec![
                Pace::Window(4),
                Pace::Every {
                    period: Duration::from_secs(5),
                    offset: Duration::from_micros(5_000_250),
                },
            ],
        };
        let back = Share::from_json(&share.to_json()).unwrap();
        assert_eq!(back.to_json(), share.to_json());
        assert!(Share::from_json(&serde_json::json!({ "deployments": [1] })).is_err());
    }
}
