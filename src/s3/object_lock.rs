//! Object Lock on the wire and its rules: the bucket's `ObjectLockConfiguration` (with a default
//! retention), a version's `Retention` and `LegalHold`, the lock headers of a write, and the decisions
//! S3 makes with them: may this version be deleted, may its retention change. Pure: times come from
//! the caller (the engine's injected clock), and authorization (`s3:BypassGovernanceRetention`) is
//! decided by the caller and passed in as `bypass`.
//!
//! Facts (`../shared/reference/S3-FEATURES.md` §6): COMPLIANCE protects a version from everyone until
//! its retain-until date and can be neither shortened nor changed to GOVERNANCE; GOVERNANCE yields to
//! a caller that has `s3:BypassGovernanceRetention` and sends `x-amz-bypass-governance-retention:
//! true`; anyone allowed `s3:PutObjectRetention` may extend either; a legal hold protects a version
//! regardless of retention and of any bypass. Refusals are 403 `AccessDenied` "Access Denied because
//! object protected by object lock.".

use std::time::{Duration, SystemTime};

use crate::aws::clock::parse_rfc3339;
use crate::s3::xml::{self, Doc};
use crate::s3::{S3Error, S3ErrorCode};
use crate::sse::headers::Headers;
use crate::store::{ObjectLock, Retention, RetentionMode};

/// The bucket configuration document name under which the Object Lock configuration is kept (its XML).
pub const OBJECT_LOCK_CONFIG: &str = "object-lock";

/// Days in a year of a default retention given in years (S3 counts 365).
const DAYS_PER_YEAR: u64 = 365;
/// The longest default retention S3 accepts: 36,500 days or 100 years.
const MAX_DAYS: u64 = 36_500;
const MAX_YEARS: u64 = 100;

/// A default retention period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    /// `Days`.
    Days(u32),
    /// `Years`.
    Years(u32),
}

impl Period {
    fn duration(self) -> Duration {
        let days = match self {
            Self::Days(d) => u64::from(d),
            Self::Years(y) => u64::from(y) * DAYS_PER_YEAR,
        };
        Duration::from_secs(days * 86_400)
    }
}

/// A bucket's Object Lock configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectLockConfiguration {
    /// `Rule/DefaultRetention`: the mode and period new versions get, if any.
    pub default: Option<(RetentionMode, Period)>,
}

fn mode_name(m: RetentionMode) -> &'static str {
    match m {
        RetentionMode::Governance => "GOVERNANCE",
        RetentionMode::Compliance => "COMPLIANCE",
    }
}

fn parse_mode(s: &str) -> Option<RetentionMode> {
    match s {
        "GOVERNANCE" => Some(RetentionMode::Governance),
        "COMPLIANCE" => Some(RetentionMode::Compliance),
        _ => None,
    }
}

impl ObjectLockConfiguration {
    /// Parses PutObjectLockConfiguration's body.
    ///
    /// # Errors
    /// 400 `MalformedXML` for anything but `ObjectLockEnabled=Enabled` with an optional rule holding a
    /// mode and exactly one of `Days`/`Years`; 400 `InvalidArgument` "Default retention period must be
    /// a positive integer value." for a zero period, and for one over 36,500 days or 100 years.
    pub fn parse(body: &[u8]) -> Result<Self, S3Error> {
        let root = xml::parse_tree(body, "ObjectLockConfiguration")?;
        let mut enabled = None;
        let mut rule = None;
        for c in root.children_only(&["ObjectLockEnabled", "Rule"])? {
            match c.name.as_str() {
                "ObjectLockEnabled" => {
                    c.leaf()?;
                    if c.text.trim() != "Enabled" {
                        return Err(xml::malformed());
                    }
                    xml::set_once(&mut enabled, true)?;
                }
                _ => xml::set_once(&mut rule, c)?,
            }
        }
        if enabled != Some(true) {
            return Err(xml::malformed());
        }
        let default = match rule {
            None => None,
            Some(rule) => {
                let [retention] = rule.children_only(&["DefaultRetention"])? else {
                    return Err(xml::malformed());
                };
                let mut mode = None;
                let mut period = None;
                for c in retention.children_only(&["Mode", "Days", "Years"])? {
                    c.leaf()?;
                    let text = c.text.trim();
                    match c.name.as_str() {
                        "Mode" => {
                            xml::set_once(&mut mode, parse_mode(text).ok_or_else(xml::malformed)?)?;
                        }
                        name => {
                            let n: i64 = text.parse().map_err(|_| xml::malformed())?;
                            let positive = || {
                                S3Error::invalid_argument(
                                    "Default retention period must be a positive integer value.",
                                )
                            };
                            let (max, make): (u64, fn(u32) -> Period) = if name == "Days" {
                                (MAX_DAYS, Period::Days)
                            } else {
                                (MAX_YEARS, Period::Years)
                            };
                            let n = u64::try_from(n)
                                .ok()
                                .filter(|n| (1..=max).contains(n))
                                .and_then(|n| u32::try_from(n).ok())
                                .ok_or_else(positive)?;
                            xml::set_once(&mut period, make(n))?;
                        }
                    }
                }
                match (mode, period) {
                    (Some(m), Some(p)) => Some((m, p)),
                    _ => return Err(xml::malformed()),
                }
            }
        };
        Ok(Self { default })
    }

    /// GetObjectLockConfiguration's document (and the stored form).
    #[must_use]
    pub fn to_xml(&self) -> String {
        let mut d = Doc::new("ObjectLockConfiguration");
        d.text("ObjectLockEnabled", "Enabled");
        if let Some((mode, period)) = self.default {
            d.open("Rule");
            d.open("DefaultRetention");
            d.text("Mode", mode_name(mode));
            match period {
                Period::Days(n) => d.num("Days", n),
                Period::Years(n) => d.num("Years", n),
            }
            d.close("DefaultRetention");
            d.close("Rule");
        }
        d.finish("ObjectLockConfiguration")
    }

    /// The retention a version written at `now` gets from the default, if there is one.
    #[must_use]
    pub fn default_retention(&self, now: SystemTime) -> Option<Retention> {
        self.default.map(|(mode, period)| Retention {
            mode,
            retain_until: now + period.duration(),
        })
    }
}

/// 400 `InvalidRequest` "Bucket is missing Object Lock Configuration": lock headers or a retention or
/// legal-hold call on a bucket without Object Lock.
#[must_use]
pub fn missing_configuration() -> S3Error {
    S3Error::invalid_request("Bucket is missing Object Lock Configuration")
}

/// 404 `ObjectLockConfigurationNotFoundError`.
#[must_use]
pub fn configuration_not_found() -> S3Error {
    S3Error::from_code(S3ErrorCode::ObjectLockConfigurationNotFoundError)
}

/// 403 `AccessDenied` "Access Denied because object protected by object lock.".
#[must_use]
pub fn protected() -> S3Error {
    S3Error::access_denied("Access Denied because object protected by object lock.")
}

/// The retain-until time as S3 writes it (`2030-01-01T00:00:00.000Z`).
#[must_use]
pub fn render_time(t: SystemTime) -> String {
    xml::timestamp(t)
}

/// A PutObjectRetention body: `<Retention>` with `Mode` and `RetainUntilDate`, or empty (remove).
///
/// # Errors
/// 400 `MalformedXML` for a bad document, an unknown mode, only one of the two, or a date that is not
/// ISO 8601.
pub fn parse_retention(body: &[u8]) -> Result<Option<Retention>, S3Error> {
    let root = xml::parse_tree(body, "Retention")?;
    let mut mode = None;
    let mut until = None;
    for c in root.children_only(&["Mode", "RetainUntilDate"])? {
        c.leaf()?;
        let text = c.text.trim();
        if c.name == "Mode" {
            xml::set_once(&mut mode, parse_mode(text).ok_or_else(xml::malformed)?)?;
        } else {
            xml::set_once(&mut until, parse_rfc3339(text).ok_or_else(xml::malformed)?)?;
        }
    }
    match (mode, until) {
        (Some(mode), Some(retain_until)) => Ok(Some(Retention { mode, retain_until })),
        (None, None) => Ok(None),
        _ => Err(xml::malformed()),
    }
}

/// GetObjectRetention's document.
#[must_use]
pub fn render_retention(r: &Retention) -> String {
    let mut d = Doc::new("Retention");
    d.text("Mode", mode_name(r.mode));
    d.text("RetainUntilDate", &render_time(r.retain_until));
    d.finish("Retention")
}

/// A PutObjectLegalHold body: `<LegalHold><Status>ON|OFF</Status></LegalHold>`.
///
/// # Errors
/// 400 `MalformedXML` otherwise.
pub fn parse_legal_hold(body: &[u8]) -> Result<bool, S3Error> {
    let root = xml::parse_tree(body, "LegalHold")?;
    let [status] = root.children_only(&["Status"])? else {
        return Err(xml::malformed());
    };
    status.leaf()?;
    match status.text.trim() {
        "ON" => Ok(true),
        "OFF" => Ok(false),
        _ => Err(xml::malformed()),
    }
}

/// GetObjectLegalHold's document.
#[must_use]
pub fn render_legal_hold(on: bool) -> String {
    let mut d = Doc::new("LegalHold");
    d.text("Status", if on { "ON" } else { "OFF" });
    d.finish("LegalHold")
}

/// The Object Lock headers of a write, as sent (before the bucket default applies).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteLock {
    /// `x-amz-object-lock-mode` with `x-amz-object-lock-retain-until-date`.
    pub retention: Option<Retention>,
    /// `x-amz-object-lock-legal-hold`.
    pub legal_hold: Option<bool>,
}

impl WriteLock {
    /// Whether the request carries any lock header.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.retention.is_none() && self.legal_hold.is_none()
    }

    /// Reads the lock headers of PutObject, CopyObject or CreateMultipartUpload. A retain-until date
    /// must lie after `now`.
    ///
    /// # Errors
    /// 400 `InvalidArgument` with S3's messages: only one of mode and date; an unknown mode; a date
    /// that is not ISO 8601 or not in the future; a legal hold other than `ON`/`OFF`.
    pub fn from_headers(h: &Headers, now: SystemTime) -> Result<Self, S3Error> {
        let mode = h.get("x-amz-object-lock-mode").map(str::trim);
        let date = h.get("x-amz-object-lock-retain-until-date").map(str::trim);
        let retention = match (mode, date) {
            (None, None) => None,
            (Some(m), Some(d)) => {
                let mode = parse_mode(m)
                    .ok_or_else(|| S3Error::invalid_argument("Unknown wormMode directive."))?;
                let retain_until = parse_rfc3339(d).ok_or_else(|| {
                    S3Error::invalid_argument(
                        "The retain until date must be provided in ISO 8601 format",
                    )
                })?;
                if retain_until <= now {
                    return Err(S3Error::invalid_argument(
                        "The retain until date must be in the future!",
                    ));
                }
                Some(Retention { mode, retain_until })
            }
            _ => {
                return Err(S3Error::invalid_argument(
                    "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied.",
                ));
            }
        };
        let legal_hold = match h.get("x-amz-object-lock-legal-hold").map(str::trim) {
            None => None,
            Some("ON") => Some(true),
            Some("OFF") => Some(false),
            Some(_) => {
                return Err(S3Error::invalid_argument(
                    "Legal Hold must be either of 'ON' or 'OFF'",
                ));
            }
        };
        Ok(Self {
            retention,
            legal_hold,
        })
    }

    /// The lock state of the new version: these headers over the bucket's default (`config`, `None`
    /// for a bucket without Object Lock), at `now`.
    ///
    /// # Errors
    /// [`missing_configuration`] for lock headers on a bucket without Object Lock.
    pub fn resolve(
        &self,
        config: Option<&ObjectLockConfiguration>,
        now: SystemTime,
    ) -> Result<ObjectLock, S3Error> {
        let Some(config) = config else {
            if self.is_empty() {
                return Ok(ObjectLock::default());
            }
            return Err(missing_configuration());
        };
        Ok(ObjectLock {
            retention: self
                .retention
                .clone()
                .or_else(|| config.default_retention(now)),
            legal_hold: self.legal_hold.unwrap_or(false),
        })
    }
}

/// The response headers of GET/HEAD for a version's lock state (the caller includes them only for
/// callers allowed `s3:GetObjectRetention` / `s3:GetObjectLegalHold`).
#[must_use]
pub fn response_headers(
    retention: Option<&Retention>,
    legal_hold: Option<bool>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(r) = retention {
        out.push((
            "x-amz-object-lock-mode".to_owned(),
            mode_name(r.mode).to_owned(),
        ));
        out.push((
            "x-amz-object-lock-retain-until-date".to_owned(),
            render_time(r.retain_until),
        ));
    }
    if let Some(on) = legal_hold {
        out.push((
            "x-amz-object-lock-legal-hold".to_owned(),
            if on { "ON" } else { "OFF" }.to_owned(),
        ));
    }
    out
}

/// Whether a request asks to bypass GOVERNANCE retention (`x-amz-bypass-governance-retention: true`).
#[must_use]
pub fn bypass_requested(h: &Headers) -> bool {
    h.get("x-amz-bypass-governance-retention")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// May a version with this lock state be deleted (permanently) at `now`? `bypass`: the caller has
/// `s3:BypassGovernanceRetention` and sent the bypass header.
///
/// # Errors
/// [`protected`] while a legal hold is on, during COMPLIANCE retention, and during GOVERNANCE retention
/// without `bypass`.
pub fn check_removal(
    retention: Option<&Retention>,
    legal_hold: bool,
    now: SystemTime,
    bypass: bool,
) -> Result<(), S3Error> {
    if legal_hold {
        return Err(protected());
    }
    match retention {
        Some(r) if r.retain_until > now => match r.mode {
            RetentionMode::Compliance => Err(protected()),
            RetentionMode::Governance if bypass => Ok(()),
            RetentionMode::Governance => Err(protected()),
        },
        _ => Ok(()),
    }
}

/// May a version's retention go from `old` to `new` (`None`: removed) at `now`? Extending (same mode,
/// later date) is always allowed; while `old` is in force, COMPLIANCE allows nothing else and
/// GOVERNANCE allows the rest only with `bypass`. An expired retention may be replaced freely.
///
/// # Errors
/// [`protected`] as above.
pub fn check_retention_change(
    old: Option<&Retention>,
    new: Option<&Retention>,
    now: SystemTime,
    bypass: bool,
) -> Result<(), S3Error> {
    let Some(old) = old.filter(|o| o.retain_until > now) else {
        return Ok(());
    };
    let extends = new.is_some_and(|n| n.mode == old.mode && n.retain_until >= old.retain_until);
    if extends {
        return Ok(());
    }
    match old.mode {
        RetentionMode::Compliance => Err(protected()),
        RetentionMode::Governance if bypass => Ok(()),
        RetentionMode::Governance => Err(protected()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn ret(mode: RetentionMode, until: u64) -> Retention {
        Retention {
            mode,
            retain_until: t(until),
        }
    }

    #[test]
    fn configuration_round_trip_and_refusals() {
        let c = ObjectLockConfiguration::parse(
            br#"<ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>2</Days></DefaultRetention></Rule></ObjectLockConfiguration>"#,
        )
        .expect("ok");
        assert_eq!(
            c.default,
            Some((RetentionMode::Governance, Period::Days(2)))
        );
        assert_eq!(
            ObjectLockConfiguration::parse(c.to_xml().as_bytes()).expect("back"),
            c
        );
        assert_eq!(
            c.default_retention(t(0)).expect("default").retain_until,
            t(2 * 86_400)
        );
        let y = ObjectLockConfiguration::parse(
            b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Years>1</Years></DefaultRetention></Rule></ObjectLockConfiguration>",
        )
        .expect("years");
        assert_eq!(
            y.default_retention(t(0)).expect("d").retain_until,
            t(365 * 86_400)
        );
        let bare = ObjectLockConfiguration::parse(
            b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>",
        )
        .expect("bare");
        assert_eq!(bare.default, None);
        for bad in [
            &b"<ObjectLockConfiguration><ObjectLockEnabled>Disabled</ObjectLockEnabled></ObjectLockConfiguration>"[..],
            b"<ObjectLockConfiguration/>",
            b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years></DefaultRetention></Rule></ObjectLockConfiguration>",
            b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>governance</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>",
            b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>",
            b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule/></ObjectLockConfiguration>",
        ] {
            assert_eq!(
                ObjectLockConfiguration::parse(bad).expect_err("bad").code(),
                S3ErrorCode::MalformedXML,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        for bad in ["0", "-1", "36501"] {
            let doc = format!(
                "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>{bad}</Days></DefaultRetention></Rule></ObjectLockConfiguration>"
            );
            assert_eq!(
                ObjectLockConfiguration::parse(doc.as_bytes())
                    .expect_err(bad)
                    .code(),
                S3ErrorCode::InvalidArgument
            );
        }
    }

    #[test]
    fn retention_and_legal_hold_documents() {
        let r = parse_retention(
            b"<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention>",
        )
        .expect("ok")
        .expect("some");
        assert_eq!(r.mode, RetentionMode::Compliance);
        assert_eq!(
            parse_retention(render_retention(&r).as_bytes()).expect("back"),
            Some(r)
        );
        assert_eq!(parse_retention(b"<Retention/>").expect("empty"), None);
        for bad in [
            &b"<Retention><Mode>COMPLIANCE</Mode></Retention>"[..],
            b"<Retention><Mode>X</Mode><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention>",
            b"<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>tomorrow</RetainUntilDate></Retention>",
        ] {
            assert_eq!(
                parse_retention(bad).expect_err("bad").code(),
                S3ErrorCode::MalformedXML
            );
        }
        assert!(parse_legal_hold(b"<LegalHold><Status>ON</Status></LegalHold>").expect("on"));
        assert!(!parse_legal_hold(render_legal_hold(false).as_bytes()).expect("off"));
        assert!(parse_legal_hold(b"<LegalHold><Status>on</Status></LegalHold>").is_err());
        assert!(parse_legal_hold(b"<LegalHold/>").is_err());
    }

    #[test]
    fn write_headers() {
        let now = t(1_000);
        let h = |pairs: &[(&str, &str)]| {
            Headers::new(
                pairs
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
            )
        };
        let w = WriteLock::from_headers(
            &h(&[
                ("x-amz-object-lock-mode", "GOVERNANCE"),
                (
                    "x-amz-object-lock-retain-until-date",
                    "2030-01-01T00:00:00Z",
                ),
                ("x-amz-object-lock-legal-hold", "ON"),
            ]),
            now,
        )
        .expect("ok");
        assert_eq!(w.legal_hold, Some(true));
        assert_eq!(
            w.retention.as_ref().map(|r| r.mode),
            Some(RetentionMode::Governance)
        );
        let msg = |pairs: &[(&str, &str)]| {
            WriteLock::from_headers(&h(pairs), now)
                .expect_err("bad")
                .message()
                .to_owned()
        };
        assert_eq!(
            msg(&[("x-amz-object-lock-mode", "GOVERNANCE")]),
            "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied."
        );
        assert_eq!(
            msg(&[
                ("x-amz-object-lock-mode", "FOREVER"),
                (
                    "x-amz-object-lock-retain-until-date",
                    "2030-01-01T00:00:00Z"
                )
            ]),
            "Unknown wormMode directive."
        );
        assert_eq!(
            msg(&[
                ("x-amz-object-lock-mode", "COMPLIANCE"),
                (
                    "x-amz-object-lock-retain-until-date",
                    "1970-01-01T00:00:01Z"
                )
            ]),
            "The retain until date must be in the future!"
        );
        assert_eq!(
            msg(&[("x-amz-object-lock-legal-hold", "yes")]),
            "Legal Hold must be either of 'ON' or 'OFF'"
        );
        // Without a configuration, headers are refused and no headers mean no lock.
        assert_eq!(
            w.resolve(None, now).expect_err("no lock").message(),
            "Bucket is missing Object Lock Configuration"
        );
        assert_eq!(
            WriteLock::default().resolve(None, now).expect("none"),
            ObjectLock::default()
        );
        // The bucket default applies when the write names no retention.
        let config = ObjectLockConfiguration {
            default: Some((RetentionMode::Compliance, Period::Days(1))),
        };
        let l = WriteLock::default()
            .resolve(Some(&config), now)
            .expect("default");
        assert_eq!(
            l.retention,
            Some(ret(RetentionMode::Compliance, 1_000 + 86_400))
        );
        let l = w.resolve(Some(&config), now).expect("explicit");
        assert_eq!(l.retention.map(|r| r.mode), Some(RetentionMode::Governance));
        assert!(l.legal_hold);
    }

    #[test]
    fn removal_rules() {
        let now = t(100);
        let gov = ret(RetentionMode::Governance, 200);
        let comp = ret(RetentionMode::Compliance, 200);
        let expired = ret(RetentionMode::Compliance, 50);
        assert!(check_removal(None, false, now, false).is_ok());
        assert!(check_removal(Some(&expired), false, now, false).is_ok());
        assert!(check_removal(Some(&gov), false, now, false).is_err());
        assert!(check_removal(Some(&gov), false, now, true).is_ok());
        assert!(check_removal(Some(&comp), false, now, true).is_err());
        // The retention passes: removable.
        assert!(check_removal(Some(&comp), false, t(200), false).is_ok());
        // A legal hold wins over everything.
        assert!(check_removal(None, true, now, true).is_err());
        assert_eq!(
            check_removal(Some(&comp), false, now, false)
                .expect_err("locked")
                .message(),
            "Access Denied because object protected by object lock."
        );
    }

    #[test]
    fn retention_change_rules() {
        let now = t(100);
        let gov = ret(RetentionMode::Governance, 200);
        let comp = ret(RetentionMode::Compliance, 200);
        let later = |m| ret(m, 300);
        let sooner = |m| ret(m, 150);
        use RetentionMode::{Compliance, Governance};
        // Extending is always allowed.
        assert!(check_retention_change(Some(&comp), Some(&later(Compliance)), now, false).is_ok());
        assert!(check_retention_change(Some(&gov), Some(&later(Governance)), now, false).is_ok());
        // COMPLIANCE: no shortening, no mode change, no removal, bypass or not.
        for new in [Some(sooner(Compliance)), Some(later(Governance)), None] {
            assert!(check_retention_change(Some(&comp), new.as_ref(), now, true).is_err());
        }
        // GOVERNANCE: the rest needs the bypass.
        for new in [Some(sooner(Governance)), Some(later(Compliance)), None] {
            assert!(check_retention_change(Some(&gov), new.as_ref(), now, false).is_err());
            assert!(check_retention_change(Some(&gov), new.as_ref(), now, true).is_ok());
        }
        // Nothing in force: anything goes.
        assert!(check_retention_change(None, Some(&sooner(Compliance)), now, false).is_ok());
        assert!(check_retention_change(Some(&comp), None, t(250), false).is_ok());
    }
}
