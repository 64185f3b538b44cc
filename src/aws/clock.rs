//! Injected time, so quota, rotation and deletion logic is testable (the rustls `TimeProvider` idea).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Time since the Unix epoch.
    fn now(&self) -> Duration;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
    }
}

/// A clock that only moves when told to; clones share the same time.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock at `since_epoch`.
    #[must_use]
    pub fn new(since_epoch: Duration) -> Self {
        Self(Arc::new(AtomicU64::new(
            u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX),
        )))
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.0.fetch_add(
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }

    /// Sets the clock to `since_epoch`.
    pub fn set(&self, since_epoch: Duration) {
        self.0.store(
            u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::SeqCst))
    }
}

/// RFC 3339 UTC rendering of a time since the epoch, with millisecond precision (CloudTrail style).
#[must_use]
pub fn rfc3339(since_epoch: Duration) -> String {
    let secs = i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX);
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => {
            let t = t + time::Duration::milliseconds(i64::from(since_epoch.subsec_millis()));
            let fmt = time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
            );
            t.format(&fmt).unwrap_or_else(|_| secs.to_string())
        }
        Err(_) => secs.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(Duration::from_secs(1_700_000_000));
        let c2 = c.clone();
        c.advance(Duration::from_millis(1500));
        assert_eq!(c2.now(), Duration::from_millis(1_700_000_001_500));
        assert_eq!(rfc3339(c2.now()), "2023-11-14T22:13:21.500Z");
    }
}
