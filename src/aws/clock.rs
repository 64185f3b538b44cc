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

/// The IMF-fixdate form of HTTP dates (RFC 9110 §5.6.7): `Wed, 02 Dec 2026 06:30:00 GMT`.
const HTTP_DATE: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

/// `t` as an HTTP date (`Last-Modified`, `Date`), whole seconds.
#[must_use]
pub fn http_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(HTTP_DATE).ok())
        .unwrap_or_default()
}

/// Parses an HTTP date in IMF-fixdate form (the only form S3 clients send); `None` otherwise.
#[must_use]
pub fn parse_http_date(s: &str) -> Option<SystemTime> {
    time::PrimitiveDateTime::parse(s.trim(), HTTP_DATE)
        .ok()
        .map(|t| t.assume_utc().into())
}

/// Parses an RFC 3339 time (`2026-12-02T06:30:00.000Z`); `None` otherwise.
#[must_use]
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_round_trip() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_001);
        assert_eq!(http_date(t), "Tue, 14 Nov 2023 22:13:21 GMT");
        assert_eq!(parse_http_date("Tue, 14 Nov 2023 22:13:21 GMT"), Some(t));
        assert_eq!(parse_http_date("2023-11-14"), None);
        assert_eq!(parse_rfc3339("2023-11-14T22:13:21.000Z"), Some(t));
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(Duration::from_secs(1_700_000_000));
        let c2 = c.clone();
        c.advance(Duration::from_millis(1500));
        assert_eq!(c2.now(), Duration::from_millis(1_700_000_001_500));
        assert_eq!(rfc3339(c2.now()), "2023-11-14T22:13:21.500Z");
    }
}
