//! Small statistics over samples, and the shared clock load generators stamp messages with.

use std::sync::OnceLock;

/// The environment variable that hands the bench's start to the load generator's other processes.
pub const EPOCH_VAR: &str = "LIVECHAT_BENCH_EPOCH_US";

static EPOCH: OnceLock<u64> = OnceLock::new();

/// The system's monotonic clock in µs: the same clock in every process on the machine (unlike
/// `Instant`, whose values cannot leave their process), and never set back.
fn monotonic_us() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    now.tv_sec as u64 * 1_000_000 + now.tv_nsec as u64 / 1_000
}

/// When the bench started on [`monotonic_us`]'s clock: read from [`EPOCH_VAR`] in a process the
/// bench started, else now.
pub fn epoch_us() -> u64 {
    *EPOCH.get_or_init(|| {
        std::env::var(EPOCH_VAR)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(monotonic_us)
    })
}

/// Microseconds since the bench started, on a monotonic clock shared by every task and every
/// process of the bench, so a message body can carry its send time and the receiver, wherever it
/// runs, can compute the latency.
pub fn now_us() -> u64 {
    monotonic_us().saturating_sub(epoch_us())
}

/// The `q` quantile (0..=1) of `samples` (sorted here), or NaN when there are none: a phase
/// that measured nothing (a full run's 10,000 conversations once delivered nothing inside their
/// window) is reported as not measured, never as a latency of 0 that meets its target.
pub fn quantile(samples: &mut [f64], q: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let index = ((samples.len() - 1) as f64 * q).round() as usize;
    samples[index]
}

/// Resident memory of a process, read from `/proc/<pid>/status` through a file opened once: the
/// idle-connection measurement holds as many sockets as this process may open, so a file opened
/// only at the end would fail, and the figure would read as nothing.
pub struct Rss(std::fs::File);

impl Rss {
    /// Opens the status file of process `pid`.
    pub fn of(pid: u32) -> std::io::Result<Rss> {
        std::fs::File::open(format!("/proc/{pid}/status")).map(Rss)
    }

    /// The resident memory now, in bytes (`VmRSS`): the kernel writes the file afresh when it is
    /// read again from its start.
    pub fn bytes(&mut self) -> std::io::Result<u64> {
        use std::io::{Read, Seek};
        self.0.rewind()?;
        let mut status = String::new();
        self.0.read_to_string(&mut status)?;
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .ok_or_else(|| std::io::Error::other("no VmRSS line"))
    }
}
