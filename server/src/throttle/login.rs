//! Limits on logging in: how often one address and one account may try (a maintained limiter,
//! `governor`, keyed by address and by account), and how many passwords are checked at once, on a
//! pool of threads of their own.
//!
//! Each check runs argon2id with 19 MiB of memory. Run on tokio's shared blocking pool, a few
//! hundred parallel attempts would take gigabytes and starve every database read (hello, sync, the
//! inbox) of threads. Here a fixed number of threads check passwords from a bounded queue; an
//! attempt that finds the queue full is refused at once (HTTP 429) instead of waiting.

use super::{per_minute, retry_after_secs};
use crate::config::Config;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, RateLimiter};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// Why a login attempt was not even tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Throttled {
    /// This address or this account tried too often; try again after the duration.
    #[error("too many login attempts; try again in {} s", retry_after_secs(.0))]
    TooOften(Duration),
    /// Every password checker is busy and the queue is full.
    #[error("too many logins at once; try again in a moment")]
    Busy,
}

/// The login limits of one deployment. Cheap to share (`Arc`).
pub struct LoginGuard {
    /// Attempts per client address (`None`, no address known, is one key).
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    /// Attempts per account, by the normalised e-mail address, whether or not it exists.
    per_account: DefaultKeyedRateLimiter<String>,
    /// Attempts per account per hour: the delay grows once the minute's allowance has been used
    /// up again and again (one every 6 s by default, then one every 2 minutes).
    per_account_hourly: DefaultKeyedRateLimiter<String>,
    /// The password checkers' queue.
    jobs: SyncSender<Check>,
}

/// One password to check, and where the answer goes.
struct Check {
    password: String,
    stored: String,
    reply: oneshot::Sender<bool>,
}

impl LoginGuard {
    /// Limits and checkers as configured.
    pub fn new(config: &Config) -> Arc<LoginGuard> {
        let (jobs, queue) = sync_channel(config.password_check_queue);
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..config.password_check_threads.max(1) {
            let queue = queue.clone();
            // The threads end when the guard (the only sender) is dropped.
            let _ = std::thread::Builder::new()
                .name(format!("password-check-{n}"))
                .spawn(move || check_passwords(&queue));
        }
        Arc::new(LoginGuard {
            per_address: RateLimiter::keyed(per_minute(
                config.login_attempts_per_minute_per_address,
            )),
            per_account: RateLimiter::keyed(per_minute(
                config.login_attempts_per_minute_per_account,
            )),
            per_account_hourly: RateLimiter::keyed(super::per_hour(
                config.login_attempts_per_hour_per_account,
            )),
            jobs,
        })
    }

    /// Admits one attempt by `address` for `email`, or says how long to wait. An attempt counts
    /// against both limits whatever its outcome, so guessing costs the same for accounts that
    /// exist and accounts that do not.
    pub fn admit(&self, address: Option<IpAddr>, email: &str) -> Result<(), Throttled> {
        // The limiters' clock, not a new one (making a clock calibrates it).
        let now = self.per_address.clock().now();
        let address = address.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        self.per_address
            .check_key(&address)
            .map_err(|until| Throttled::TooOften(until.wait_time_from(now)))?;
        let account = email.trim().to_lowercase();
        self.per_account
            .check_key(&account)
            .map_err(|until| Throttled::TooOften(until.wait_time_from(now)))?;
        self.per_account_hourly
            .check_key(&account)
            .map_err(|until| Throttled::TooOften(until.wait_time_from(now)))
    }

    /// Checks `password` against the stored PHC string on a checker thread.
    pub async fn verify(&self, password: String, stored: String) -> Result<bool, Throttled> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .try_send(Check {
                password,
                stored,
                reply,
            })
            .map_err(|_| Throttled::Busy)?;
        answer.await.map_err(|_| Throttled::Busy)
    }

    /// Forgets limiter state that has fully recovered, so addresses seen once do not accumulate.
    pub fn purge(&self) {
        self.per_address.retain_recent();
        self.per_account.retain_recent();
        self.per_account_hourly.retain_recent();
    }
}

/// A checker thread: takes the next password from the queue until the guard is gone.
fn check_passwords(queue: &Mutex<Receiver<Check>>) {
    loop {
        let next = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(check) = next else {
            return;
        };
        let matches = crate::auth::verify_password(&check.password, &check.stored);
        let _ = check.reply.send(matches);
    }
}
