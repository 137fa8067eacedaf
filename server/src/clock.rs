//! Time, for the whole deployment: the wall clock every expiry check and every event reads (one
//! injectable source, so `--clock-skew-ms` and tests reach token, session and event times alike),
//! and the hybrid logical clock stamping every event.
//!
//! The HLC is sans-IO: the wall time is passed in. Values never go backwards, and a value issued
//! after observing a peer's value is larger than it, so causally related events order correctly
//! even when the two deployments' wall clocks disagree (a reply written on a deployment whose
//! clock is 30 s behind still sorts after the message it answers).

use protocol::replication::{hlc_from_parts, Hlc};

/// A source of wall-clock time in Unix milliseconds. Tests inject a skewed one.
pub type WallClock = std::sync::Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock, optionally shifted by `skew_ms` (for tests and fault injection). Nothing
/// else in the deployment reads the system time, so a skew reaches everything.
pub fn system_clock(skew_ms: i64) -> WallClock {
    std::sync::Arc::new(move || system_now_ms() + skew_ms)
}

/// The system time in Unix milliseconds; only [`system_clock`] reads it.
fn system_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The clock's state: the largest value issued or observed.
#[derive(Debug, Default, Clone)]
pub struct HlcClock {
    /// Never decreases.
    last: Hlc,
}

impl HlcClock {
    /// The value for a new local event at wall time `wall_ms`.
    pub fn tick(&mut self, wall_ms: i64) -> Hlc {
        let physical = hlc_from_parts(wall_ms.max(0) as u64, 0);
        // Saturating: values are bounded on arrival (`store::validate::stamp`), and a clock at its
        // limit stands still rather than wrapping to zero.
        self.last = physical.max(self.last.saturating_add(1));
        self.last
    }

    /// Takes note of a value from the peer, so later local values exceed it.
    pub fn observe(&mut self, remote: Hlc) {
        self.last = self.last.max(remote);
    }

    /// The largest value issued or observed so far.
    pub fn last(&self) -> Hlc {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::replication::hlc_wall_ms;

    #[test]
    fn values_increase_even_when_the_wall_clock_stands_still_or_goes_back() {
        let mut clock = HlcClock::default();
        let a = clock.tick(1_000);
        let b = clock.tick(1_000);
        let c = clock.tick(900);
        assert!(a < b && b < c);
        assert_eq!(hlc_wall_ms(c), 1_000);
    }

    #[test]
    fn a_clock_thirty_seconds_behind_still_orders_replies_after_what_they_answer() {
        let mut ahead = HlcClock::default();
        let mut behind = HlcClock::default();
        let question = ahead.tick(100_000);
        behind.observe(question);
        let answer = behind.tick(70_000);
        assert!(answer > question);
        // And the fast clock, seeing the answer, keeps going forward too.
        ahead.observe(answer);
        assert!(ahead.tick(100_000) > answer);
    }
}
