//! Reconnect timing: try again at once after the first failure, then wait longer and longer (with
//! jitter supplied by the caller, so thousands of clients do not reconnect in the same instant),
//! up to a ceiling.

/// Exponential backoff between reconnect attempts.
#[derive(Clone, Debug, Default)]
pub struct Backoff {
    /// Consecutive failures since the last successful connection.
    failures: u32,
}

/// The longest wait between attempts, in milliseconds.
const CEILING_MS: u64 = 10_000;
/// The first non-zero wait, in milliseconds.
const BASE_MS: u64 = 250;

impl Backoff {
    /// Records a failure and returns how long to wait before the next attempt. `jitter` in
    /// `[0, 1)` spreads clients out; the wait is between half and all of the nominal delay.
    pub fn next_delay_ms(&mut self, jitter: f64) -> u64 {
        let failures = self.failures;
        self.failures = self.failures.saturating_add(1);
        if failures == 0 {
            return 0;
        }
        let nominal = BASE_MS
            .saturating_mul(1 << (failures - 1).min(16))
            .min(CEILING_MS);
        let jitter = jitter.clamp(0.0, 1.0);
        nominal / 2 + ((nominal / 2) as f64 * jitter) as u64
    }

    /// Records a successful connection.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_to_a_ceiling_and_reset_after_success() {
        let mut backoff = Backoff::default();
        assert_eq!(backoff.next_delay_ms(0.5), 0);
        let waits: Vec<_> = (0..8).map(|_| backoff.next_delay_ms(1.0)).collect();
        assert_eq!(waits[0], 250);
        assert!(waits.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*waits.last().unwrap(), CEILING_MS);
        assert!(backoff.next_delay_ms(0.0) >= CEILING_MS / 2);
        backoff.reset();
        assert_eq!(backoff.next_delay_ms(0.9), 0);
    }
}
