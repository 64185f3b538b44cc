//! The shared request quota of AWS KMS, as a token bucket.
//!
//! AWS KMS counts every symmetric cryptographic operation (`Encrypt`, `Decrypt`, `GenerateDataKey`,
//! `GenerateDataKeyWithoutPlaintext`, `ReEncrypt`, and the MAC/random operations) against **one** per-second
//! quota per account and region, including the calls S3 makes on the account's behalf for SSE-KMS. Over
//! quota, calls fail with HTTP 400 `ThrottlingException`.
//!
//! **Burst behaviour.** The bucket holds at most `burst` tokens (default: one second's worth, `rate`) and
//! refills continuously at `rate` tokens per second. A client that has been idle can therefore spend up to
//! `burst` calls at once; a client driving at any rate above the quota gets, over `T` seconds,
//! `burst + rate × T` calls accepted (within one call), and the rest are throttled. Administrative calls
//! (`CreateKey`, `DescribeKey`, …) are not counted, as in AWS, where they have separate, lower quotas.
//!
//! Quota figures by era (requests per second; <https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html>):
//!
//! | preset | default regions | mid-tier regions | us-east-1, us-west-2, eu-west-1 |
//! |---|---|---|---|
//! | `2019` (doc 2019-12) | 5,500 | 10,000 | 30,000 |
//! | `2022` (doc 2022-04) | 5,500 | 10,000 | 50,000 |
//! | `current` | 10,000 | 20,000 | 100,000 |

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The mid-tier regions of the KMS quota tables.
pub const MID_TIER_REGIONS: &[&str] = &[
    "us-east-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "eu-central-1",
    "eu-west-2",
];
/// The top-tier regions.
pub const TOP_TIER_REGIONS: &[&str] = &["us-east-1", "us-west-2", "eu-west-1"];

/// A documented quota era.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum QuotaEra {
    /// The 2019–2022 figures: 5,500 / 10,000 / 30,000.
    Y2019,
    /// The 2022–2023 figures: 5,500 / 10,000 / 50,000.
    Y2022,
    /// Today's figures: 10,000 / 20,000 / 100,000.
    Current,
}

/// A region tier of the quota tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegionTier {
    /// Every region not listed below.
    Default,
    /// [`MID_TIER_REGIONS`].
    Mid,
    /// [`TOP_TIER_REGIONS`].
    Top,
}

impl RegionTier {
    /// The tier of `region`.
    #[must_use]
    pub fn of(region: &str) -> Self {
        if TOP_TIER_REGIONS.contains(&region) {
            Self::Top
        } else if MID_TIER_REGIONS.contains(&region) {
            Self::Mid
        } else {
            Self::Default
        }
    }
}

/// A named quota: an era and a region tier (for example `2019-top` = 30,000 requests/s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaPreset {
    /// The era.
    pub era: QuotaEra,
    /// The tier.
    pub tier: RegionTier,
}

impl QuotaPreset {
    /// Every preset, for `--help` and docs.
    pub const NAMES: &'static [&'static str] = &[
        "2019-default",
        "2019-mid",
        "2019-top",
        "2022-default",
        "2022-mid",
        "2022-top",
        "current-default",
        "current-mid",
        "current-top",
    ];

    /// The preset of `era` for `region`.
    #[must_use]
    pub fn for_region(era: QuotaEra, region: &str) -> Self {
        Self {
            era,
            tier: RegionTier::of(region),
        }
    }

    /// Requests per second.
    #[must_use]
    pub fn rate(self) -> u32 {
        match (self.era, self.tier) {
            (QuotaEra::Y2019 | QuotaEra::Y2022, RegionTier::Default) => 5_500,
            (QuotaEra::Y2019 | QuotaEra::Y2022, RegionTier::Mid) => 10_000,
            (QuotaEra::Y2019, RegionTier::Top) => 30_000,
            (QuotaEra::Y2022, RegionTier::Top) => 50_000,
            (QuotaEra::Current, RegionTier::Default) => 10_000,
            (QuotaEra::Current, RegionTier::Mid) => 20_000,
            (QuotaEra::Current, RegionTier::Top) => 100_000,
        }
    }

    /// The quota of this preset with the default burst.
    #[must_use]
    pub fn config(self) -> QuotaConfig {
        QuotaConfig::per_second(self.rate())
    }
}

impl fmt::Display for QuotaPreset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let era = match self.era {
            QuotaEra::Y2019 => "2019",
            QuotaEra::Y2022 => "2022",
            QuotaEra::Current => "current",
        };
        let tier = match self.tier {
            RegionTier::Default => "default",
            RegionTier::Mid => "mid",
            RegionTier::Top => "top",
        };
        write!(f, "{era}-{tier}")
    }
}

/// An unknown preset name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownPreset(pub String);

impl fmt::Display for UnknownPreset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown quota preset {:?}; expected one of {}",
            self.0,
            QuotaPreset::NAMES.join(", ")
        )
    }
}

impl std::error::Error for UnknownPreset {}

impl FromStr for QuotaPreset {
    type Err = UnknownPreset;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (era, tier) = s
            .split_once('-')
            .ok_or_else(|| UnknownPreset(s.to_owned()))?;
        let era = match era {
            "2019" => QuotaEra::Y2019,
            "2022" => QuotaEra::Y2022,
            "current" => QuotaEra::Current,
            _ => return Err(UnknownPreset(s.to_owned())),
        };
        let tier = match tier {
            "default" => RegionTier::Default,
            "mid" => RegionTier::Mid,
            "top" => RegionTier::Top,
            _ => return Err(UnknownPreset(s.to_owned())),
        };
        Ok(Self { era, tier })
    }
}

/// A quota: a sustained rate and a burst capacity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuotaConfig {
    /// Sustained requests per second (> 0).
    pub rate: f64,
    /// Bucket capacity in requests (≥ 1).
    pub burst: f64,
}

impl QuotaConfig {
    /// `rate` requests per second with a burst of one second's worth.
    #[must_use]
    pub fn per_second(rate: u32) -> Self {
        let rate = f64::from(rate.max(1));
        Self { rate, burst: rate }
    }

    /// Sets the burst capacity.
    #[must_use]
    pub fn with_burst(mut self, burst: u32) -> Self {
        self.burst = f64::from(burst.max(1));
        self
    }
}

/// A token bucket driven by an external clock reading (time since the epoch).
#[derive(Clone, Debug)]
pub struct TokenBucket {
    config: QuotaConfig,
    tokens: f64,
    last: Option<Duration>,
}

impl TokenBucket {
    /// A full bucket.
    #[must_use]
    pub fn new(config: QuotaConfig) -> Self {
        Self {
            config,
            tokens: config.burst,
            last: None,
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> QuotaConfig {
        self.config
    }

    /// Takes one token at time `now`, or returns how long until one is available.
    ///
    /// # Errors
    /// The wait until the next token when the bucket is empty.
    pub fn try_take(&mut self, now: Duration) -> Result<(), Duration> {
        if let Some(last) = self.last {
            // A clock that steps backwards refills nothing (and never panics).
            let elapsed = now.saturating_sub(last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.config.rate).min(self.config.burst);
        }
        self.last = Some(self.last.map_or(now, |l| l.max(now)));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - self.tokens) / self.config.rate,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_match_the_documented_figures() {
        let rate = |s: &str| s.parse::<QuotaPreset>().expect("preset").rate();
        assert_eq!(rate("2019-default"), 5_500);
        assert_eq!(rate("2019-mid"), 10_000);
        assert_eq!(rate("2019-top"), 30_000);
        assert_eq!(rate("2022-top"), 50_000);
        assert_eq!(rate("current-default"), 10_000);
        assert_eq!(rate("current-mid"), 20_000);
        assert_eq!(rate("current-top"), 100_000);
        assert_eq!(
            QuotaPreset::for_region(QuotaEra::Current, "eu-central-1").rate(),
            20_000
        );
        assert_eq!(
            QuotaPreset::for_region(QuotaEra::Y2019, "us-east-1").rate(),
            30_000
        );
        assert_eq!(
            QuotaPreset::for_region(QuotaEra::Y2019, "sa-east-1").rate(),
            5_500
        );
        for n in QuotaPreset::NAMES {
            assert_eq!(n.parse::<QuotaPreset>().expect("preset").to_string(), *n);
        }
        assert!("2020-top".parse::<QuotaPreset>().is_err());
    }

    /// Driven at twice the quota for 10 simulated seconds, accepted = quota × 10 + burst (within 1%).
    #[test]
    fn twice_the_quota_for_ten_seconds() {
        for rate in [100u32, 5_500, 10_000] {
            let mut b = TokenBucket::new(QuotaConfig::per_second(rate));
            let calls = 2 * u64::from(rate) * 10;
            let step = Duration::from_secs(10).as_nanos() as u64 / calls;
            let start = Duration::from_secs(1_000);
            let accepted = (0..calls)
                .filter(|i| b.try_take(start + Duration::from_nanos(i * step)).is_ok())
                .count() as f64;
            let expected = f64::from(rate) * 10.0 + f64::from(rate);
            assert!(
                (accepted - expected).abs() <= expected * 0.01,
                "rate {rate}: accepted {accepted}, expected {expected}"
            );
        }
    }

    #[test]
    fn retry_after_and_backwards_clock() {
        let mut b = TokenBucket::new(QuotaConfig::per_second(10).with_burst(1));
        let t = Duration::from_secs(5);
        assert!(b.try_take(t).is_ok());
        let wait = b.try_take(t).expect_err("empty");
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9);
        assert!(
            b.try_take(t - Duration::from_secs(1)).is_err(),
            "a clock stepping back refills nothing"
        );
        assert!(b.try_take(t + Duration::from_millis(100)).is_ok());
    }
}
