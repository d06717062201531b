//! DynamoDB's per-account rates for the backup API (API reference: CreateBackup "at a maximum
//! rate of 50 times per second", ListBackups "a maximum of five times per second",
//! DeleteBackup "at a maximum rate of 10 times per second") and for tags (ListTagsOfResource "up
//! to 10 times per second, per account"), kept by every table one
//! invocation handles together: each call (each page, for ListBackups) takes the next free start
//! of its [`Pacer`]. Starts
//! are spaced a tenth wider than the rate, so that calls the network bunches up still arrive
//! within it (a 200-table run spaced at exactly 100 ms had a few DeleteBackup refused).

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Starts calls of one kind at most one per `interval`.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    /// A pacer letting one call start every `interval`.
    pub const fn new(interval: Duration) -> Self {
        Self {
            interval,
            next: Mutex::new(None),
        }
    }

    /// Takes the next free start (now, or `interval` after the one taken before) and returns it.
    pub fn reserve(&self) -> Instant {
        let now = Instant::now();
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        let at = next.map_or(now, |n| n.max(now));
        *next = Some(at + self.interval);
        at
    }

    /// Takes the next free start only if it is no later than `last`; a start not taken leaves
    /// the pacer as it was (a call given up for lack of time must not push later calls back).
    pub fn reserve_by(&self, last: Option<Instant>) -> Option<Instant> {
        let now = Instant::now();
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        let at = next.map_or(now, |n| n.max(now));
        if last.is_some_and(|last| at > last) {
            return None;
        }
        *next = Some(at + self.interval);
        Some(at)
    }

    /// How long calls already have turns for: the time from now to the next free start.
    pub fn backlog(&self) -> Duration {
        let next = *self.next.lock().unwrap_or_else(PoisonError::into_inner);
        next.map_or(Duration::ZERO, |n| {
            n.saturating_duration_since(Instant::now())
        })
    }

    /// Waits for the next free start.
    pub async fn wait(&self) {
        tokio::time::sleep_until(self.reserve()).await;
    }
}

/// The four paced operations.
#[derive(Debug)]
pub struct Pacers {
    /// CreateBackup: 50 a second (one per 22 ms).
    pub create: Pacer,
    /// ListBackups: 5 a second (one per 220 ms).
    pub list: Pacer,
    /// DeleteBackup: 10 a second (one per 110 ms).
    pub delete: Pacer,
    /// ListTagsOfResource: 10 a second (one per 110 ms), each page.
    pub tags: Pacer,
}

impl Default for Pacers {
    fn default() -> Self {
        Self {
            create: Pacer::new(Duration::from_millis(22)),
            list: Pacer::new(Duration::from_millis(220)),
            delete: Pacer::new(Duration::from_millis(110)),
            tags: Pacer::new(Duration::from_millis(110)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn starts_are_spaced_by_the_interval_and_never_in_the_past() {
        let pacer = Pacer::new(Duration::from_millis(100));
        let t0 = Instant::now();
        let starts: Vec<Duration> = (0..3).map(|_| pacer.reserve() - t0).collect();
        assert_eq!(starts, [0, 100, 200].map(Duration::from_millis).to_vec());
        // After a quiet second, the next start is now, not in the past.
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(pacer.reserve() - t0, Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_start_past_the_limit_is_not_taken_and_moves_nothing() {
        let pacer = Pacer::new(Duration::from_millis(100));
        let t0 = Instant::now();
        let limit = Some(t0 + Duration::from_millis(150));
        assert_eq!(pacer.reserve_by(limit), Some(t0));
        assert_eq!(
            pacer.reserve_by(limit),
            Some(t0 + Duration::from_millis(100))
        );
        // The third would start at 200 ms: not taken, however often asked.
        assert_eq!(pacer.reserve_by(limit), None);
        assert_eq!(pacer.reserve_by(limit), None);
        assert_eq!(pacer.reserve() - t0, Duration::from_millis(200));
    }

    #[tokio::test(start_paused = true)]
    async fn the_backlog_is_the_time_to_the_next_free_start() {
        let pacer = Pacer::new(Duration::from_millis(100));
        assert_eq!(pacer.backlog(), Duration::ZERO);
        for _ in 0..3 {
            pacer.reserve();
        }
        assert_eq!(pacer.backlog(), Duration::from_millis(300));
        tokio::time::advance(Duration::from_millis(250)).await;
        assert_eq!(pacer.backlog(), Duration::from_millis(50));
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(pacer.backlog(), Duration::ZERO);
    }
}
