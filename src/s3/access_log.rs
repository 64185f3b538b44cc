//! S3 server access logging without I/O: the log record and its text line, the bucket's logging
//! configuration (`PUT`/`GET /{bucket}?logging`), the key of a delivered log object, and filters and
//! summaries for reading logs back.
//!
//! | you want to…                                       | use                                            |
//! |----------------------------------------------------|------------------------------------------------|
//! | write one request's record                         | [`LogRecord`], [`LogRecord::to_line`]          |
//! | read a record from a log file (AWS's or ours)      | [`parse_line`]                                 |
//! | parse the PutBucketLogging body                    | [`parse_bucket_logging_status`]                |
//! | render the GetBucketLogging body                   | [`render_bucket_logging_status`]               |
//! | name a delivered log object                        | [`LoggingConfig::object_key`]                  |
//! | select records, count them, print a table row      | [`LogFilter`], [`Summary`], [`render_table_row`] |
//! | keep signatures and session tokens out of a record | [`redact_request_uri`]                         |
//!
//! # Record format
//! A record is one line of space-separated fields, in the order of S3's format (S3 User Guide,
//! "Amazon S3 server access log format"; `S3-FEATURES.md` §9.4), `-` for a field that is absent,
//! unknown or not applicable. [`LogRecord::to_line`] writes the 26 fields (plus any
//! [`LogRecord::extra`] fields) without a line terminator: the writer of a log object appends `\n`
//! after each record, as S3's newline-delimited files do.
//!
//! - Time is `[06/Feb/2019:00:00:38 +0000]`, always in UTC, whole seconds (sub-seconds are dropped).
//! - Key is URL-encoded like [`url_encode`] (every byte except `A-Z a-z 0-9 - . _ ~ /` as `%XX`), so
//!   AWS's example key `/photos/2019/08/puppy.jpg` is written as is, `a b` as `a%20b`, the key `-`
//!   as `%2D` (so it is not read as absent).
//!   [`LogRecord::key`] holds the key itself; [`parse_line`] decodes the field once. (AWS encodes the
//!   key as it appeared in the request path, so keys needing encoding appear double-encoded in real
//!   AWS logs, `%2520` for a space, except for lifecycle and batch-delete records, which are single
//!   encoded; parsing such a record yields the key as the client percent-encoded it. A field that is
//!   not valid percent-encoded UTF-8 is kept as written.)
//! - Request-URI, Referer and User-Agent are quoted (`"GET /b/k HTTP/1.1"`, `"-"` when absent).
//!
//! ## Escaping (s3crypt's rule; AWS does not escape)
//! Real S3 writes these fields raw: a `"` inside a User-Agent, Referer or Request-URI is written
//! unescaped (reports: cocoonlife/s3-log-parse#1 shows `"GET /" HTTP/1.1"` for the key `"`, and
//! aws-samples/siem-on-amazon-opensearch-service#34 a User-Agent ending in `""`), which makes such
//! lines ambiguous. s3crypt escapes so that a record is always one line and always parses back to
//! itself, using the convention of Apache httpd's `mod_log_config`:
//!
//! - inside quotes: `"` → `\"`, `\` → `\\`, C0 controls and DEL → `\xhh` (so `\n` is `\x0a`),
//!   C1 controls, U+2028 and U+2029 → `\uhhhh`; everything else (any Unicode) is written as UTF-8;
//! - in unquoted fields the same, and a space → `\x20`; an empty value is written `""`, and an
//!   optional field whose value is the text `-` is written `\x2d` (so it is not read as absent).
//!
//! [`parse_line`] undoes exactly these escapes; a backslash followed by anything else is kept as
//! written (AWS's raw values may contain backslashes). To read AWS's unescaped quotes, a quoted field
//! ends at the first `"` followed by a space or the end of the line (for Request-URI: followed by a
//! status or `-`; for Referer: followed by a quoted field or `-`), and if none is found, backslashes
//! are taken literally. So `parse_line(&r.to_line()) == Ok(r)` for every record whose time is UTC
//! with whole seconds and whose extra fields are single fields as [`parse_line`] keeps them.
//!
//! Parsing is tolerant of real files: fields after the 17th (User-Agent) may be missing (older
//! formats) and are absent; fields after the 26th are kept as written in [`LogRecord::extra`] (AWS
//! adds fields at the end, e.g. a Region); fields may be separated by several spaces; a trailing `\n` or
//! `\r\n` is ignored. Malformed input is a [`LogParseError`] naming the field; nothing panics.
//!
//! # Logging configuration
//! [`parse_bucket_logging_status`] accepts S3's `BucketLoggingStatus`. `TargetGrants` is refused with
//! 400 `AccessControlListNotSupported` unless empty: s3crypt buckets have no ACLs (S3's
//! `BucketOwnerEnforced`, where AWS refuses ACL grants with that code), and silently ignoring a grant
//! would let a client believe someone was given access to the logs.

/// The name of the bucket configuration document holding a bucket's [`LoggingConfig`] (as JSON), in an
/// object store.
pub const LOGGING_CONFIG: &str = "logging";

/// The service principal that delivers server access logs (what a target bucket's policy grants
/// `s3:PutObject`).
pub const LOGGING_SERVICE: &str = "logging.s3.amazonaws.com";

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;

use crate::s3::xml::{
    S3_XMLNS, XML_DECL, escape_text, malformed, parse_tree, set_once, url_encode,
};
use crate::s3::{S3Error, S3ErrorCode};

/// The field names used in [`LogParseError`], in record order (1-based index = field number).
pub const FIELD_NAMES: [&str; 26] = [
    "bucket_owner",
    "bucket",
    "time",
    "remote_ip",
    "requester",
    "request_id",
    "operation",
    "key",
    "request_uri",
    "http_status",
    "error_code",
    "bytes_sent",
    "object_size",
    "total_time_ms",
    "turn_around_time_ms",
    "referer",
    "user_agent",
    "version_id",
    "host_id",
    "signature_version",
    "cipher_suite",
    "authentication_type",
    "host_header",
    "tls_version",
    "access_point_arn",
    "acl_required",
];

/// The fewest fields a record may have (through User-Agent, the 2006 format); later fields are
/// optional.
pub const MIN_FIELDS: usize = 17;

/// One server access log record: one request, S3's fields in S3's order (§9.4).
///
/// Strings are as they go on the wire, unescaped; `None` is S3's `-`. A required text field whose
/// value is unknown holds `"-"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogRecord {
    /// Field 1, Bucket Owner: the canonical user id of the source bucket's owner.
    pub bucket_owner: String,
    /// Field 2, Bucket: the bucket the request was made to.
    pub bucket: String,
    /// Field 3, Time the request was received (written in UTC, whole seconds).
    #[serde(serialize_with = "serialize_time")]
    pub time: OffsetDateTime,
    /// Field 4, Remote IP: the apparent address of the requester.
    pub remote_ip: String,
    /// Field 5, Requester: canonical id or IAM identity; `None` for anonymous requests.
    pub requester: Option<String>,
    /// Field 6, Request ID (`x-amz-request-id`).
    pub request_id: String,
    /// Field 7, Operation: `REST.<METHOD>.<RESOURCE>` (`REST.PUT.OBJECT`), `WEBSITE.…`,
    /// `BATCH.DELETE.OBJECT`, `S3.<action>.<type>`.
    pub operation: String,
    /// Field 8, Key: the object key itself (URL-encoded in the line); `None` when the operation
    /// takes none.
    pub key: Option<String>,
    /// Field 9, Request-URI: the request line, e.g. `GET /bucket/key?x-foo=bar HTTP/1.1` (quoted in
    /// the line); `None` for records without a request (lifecycle actions).
    pub request_uri: Option<String>,
    /// Field 10, HTTP status; `None` for records without a response (lifecycle actions).
    pub http_status: Option<u16>,
    /// Field 11, Error Code: the S3 error code, `None` when the request succeeded.
    pub error_code: Option<String>,
    /// Field 12, Bytes Sent: response body bytes (written `-` when 0).
    pub bytes_sent: u64,
    /// Field 13, Object Size.
    pub object_size: Option<u64>,
    /// Field 14, Total Time in milliseconds, request received → last response byte sent.
    pub total_time_ms: Option<u64>,
    /// Field 15, Turn-Around Time in milliseconds, last request byte → first response byte.
    pub turn_around_time_ms: Option<u64>,
    /// Field 16, Referer header (quoted in the line).
    pub referer: Option<String>,
    /// Field 17, User-Agent header (quoted in the line).
    pub user_agent: Option<String>,
    /// Field 18, Version Id of the request.
    pub version_id: Option<String>,
    /// Field 19, Host Id (`x-amz-id-2`).
    pub host_id: String,
    /// Field 20, Signature Version: `SigV4`, `SigV2`; `None` for anonymous requests.
    pub signature_version: Option<String>,
    /// Field 21, Cipher Suite, e.g. `ECDHE-RSA-AES128-GCM-SHA256`; `None` for plain HTTP.
    pub cipher_suite: Option<String>,
    /// Field 22, Authentication Type: `AuthHeader`, `QueryString`; `None` for anonymous requests.
    pub authentication_type: Option<String>,
    /// Field 23, Host Header: the endpoint used.
    pub host_header: Option<String>,
    /// Field 24, TLS version: `TLSv1.2`, `TLSv1.3`; `None` for plain HTTP.
    pub tls_version: Option<String>,
    /// Field 25, Access Point ARN.
    pub access_point_arn: Option<String>,
    /// Field 26, aclRequired: an ACL was required to authorize the request (`Yes`, else `-`).
    pub acl_required: bool,
    /// Fields after the 26th, as they appear in the line (a quoted field keeps its quotes), with
    /// control characters escaped as in the rest of the line. Written back as they are when each is
    /// one field, else escaped like an unquoted field.
    pub extra: Vec<String>,
}

/// A record that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogParseError {
    /// The line ends before a required field (one of the first [`MIN_FIELDS`]).
    #[error("access log record ends before field {field}")]
    MissingField {
        /// The field's name (see [`FIELD_NAMES`]).
        field: &'static str,
    },
    /// A field's text is not a valid value (a number that is not one, a bad time, …).
    #[error("access log record has an invalid {field}: {value:?}")]
    InvalidField {
        /// The field's name (see [`FIELD_NAMES`]).
        field: &'static str,
        /// The field's text, cut to 64 characters.
        value: String,
    },
    /// A quoted (`"…`) or bracketed (`[…`) field is not closed.
    #[error("access log record has an unterminated {field}")]
    Unterminated {
        /// The field's name (see [`FIELD_NAMES`], or `extra`).
        field: &'static str,
    },
}

const LOG_TIME: &[BorrowedFormatItem<'static>] = format_description!(
    "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] [offset_hour sign:mandatory][offset_minute]"
);
const KEY_TIME: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]-[hour]-[minute]-[second]");
const KEY_DATE_DIRS: &[BorrowedFormatItem<'static>] = format_description!("[year]/[month]/[day]/");
const TABLE_TIME: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

impl LogRecord {
    /// The record as one line in S3's format, without a line terminator (see the module
    /// documentation for the escaping rules). [`parse_line`] reads it back to an equal record when
    /// `time` is UTC with whole seconds.
    #[must_use]
    pub fn to_line(&self) -> String {
        let mut out = String::with_capacity(512);
        let time = utc(self.time);
        required(&mut out, &self.bucket_owner);
        out.push(' ');
        required(&mut out, &self.bucket);
        out.push_str(" [");
        // Formatting fails only for years beyond four digits; the epoch stands in for them.
        match time.format(LOG_TIME) {
            Ok(t) => out.push_str(&t),
            Err(_) => out.push_str("01/Jan/1970:00:00:00 +0000"),
        }
        out.push_str("] ");
        required(&mut out, &self.remote_ip);
        out.push(' ');
        optional(&mut out, self.requester.as_deref());
        out.push(' ');
        required(&mut out, &self.request_id);
        out.push(' ');
        required(&mut out, &self.operation);
        out.push(' ');
        match self.key.as_deref() {
            None => out.push('-'),
            Some("") => out.push_str("\"\""),
            Some("-") => out.push_str("%2D"),
            Some(k) => out.push_str(&url_encode(k)),
        }
        out.push(' ');
        quoted(&mut out, self.request_uri.as_deref());
        out.push(' ');
        number(&mut out, self.http_status.map(u64::from));
        out.push(' ');
        optional(&mut out, self.error_code.as_deref());
        out.push(' ');
        number(&mut out, Some(self.bytes_sent).filter(|&b| b != 0));
        out.push(' ');
        number(&mut out, self.object_size);
        out.push(' ');
        number(&mut out, self.total_time_ms);
        out.push(' ');
        number(&mut out, self.turn_around_time_ms);
        out.push(' ');
        quoted(&mut out, self.referer.as_deref());
        out.push(' ');
        quoted(&mut out, self.user_agent.as_deref());
        out.push(' ');
        optional(&mut out, self.version_id.as_deref());
        out.push(' ');
        required(&mut out, &self.host_id);
        for v in [
            &self.signature_version,
            &self.cipher_suite,
            &self.authentication_type,
            &self.host_header,
            &self.tls_version,
            &self.access_point_arn,
        ] {
            out.push(' ');
            optional(&mut out, v.as_deref());
        }
        out.push_str(if self.acl_required { " Yes" } else { " -" });
        for e in &self.extra {
            out.push(' ');
            if is_single_token(e) {
                out.push_str(e);
            } else {
                required(&mut out, e);
            }
        }
        out
    }
}

/// Reads one record (a trailing `\n` or `\r\n` is ignored). See the module documentation for what
/// is accepted.
///
/// # Errors
/// [`LogParseError`] naming the first field that is missing (among the first [`MIN_FIELDS`]),
/// unterminated or invalid.
pub fn parse_line(line: &str) -> Result<LogRecord, LogParseError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut c = Cursor { s: line, pos: 0 };

    let bucket_owner = c.token(0, any)?.required();
    let bucket = c.token(1, any)?.required();
    let time = c.time()?;
    let remote_ip = c.token(3, any)?.required();
    let requester = c.token(4, any)?.optional();
    let request_id = c.token(5, any)?.required();
    let operation = c.token(6, any)?.required();
    let key = c.token(7, any)?.key();
    let request_uri = c.token(8, status_follows)?.optional();
    let http_status = match c.token(9, any)?.number(9)? {
        None => None,
        Some(n) => Some(u16::try_from(n).map_err(|_| invalid(9, &n.to_string()))?),
    };
    let error_code = c.token(10, any)?.optional();
    let bytes_sent = c.token(11, any)?.number(11)?.unwrap_or(0);
    let object_size = c.token(12, any)?.number(12)?;
    let total_time_ms = c.token(13, any)?.number(13)?;
    let turn_around_time_ms = c.token(14, any)?.number(14)?;
    let referer = c.token(15, quote_or_dash_follows)?.optional();
    let user_agent = c.token(16, any)?.optional();

    let version_id = c.tail(17)?.and_then(Token::optional);
    let host_id = c.tail(18)?.map_or_else(|| "-".to_owned(), Token::required);
    let signature_version = c.tail(19)?.and_then(Token::optional);
    let cipher_suite = c.tail(20)?.and_then(Token::optional);
    let authentication_type = c.tail(21)?.and_then(Token::optional);
    let host_header = c.tail(22)?.and_then(Token::optional);
    let tls_version = c.tail(23)?.and_then(Token::optional);
    let access_point_arn = c.tail(24)?.and_then(Token::optional);
    let acl_required = match c.tail(25)? {
        None => false,
        Some(t) if t.is_dash() => false,
        Some(Token::Bare("Yes")) => true,
        Some(t) => return Err(invalid(25, &t.text())),
    };
    let mut extra = Vec::new();
    while let Some(raw) = c.extra()? {
        extra.push(escape_controls(raw));
    }
    Ok(LogRecord {
        bucket_owner,
        bucket,
        time,
        remote_ip,
        requester,
        request_id,
        operation,
        key,
        request_uri,
        http_status,
        error_code,
        bytes_sent,
        object_size,
        total_time_ms,
        turn_around_time_ms,
        referer,
        user_agent,
        version_id,
        host_id,
        signature_version,
        cipher_suite,
        authentication_type,
        host_header,
        tls_version,
        access_point_arn,
        acl_required,
        extra,
    })
}

/// `t` in UTC (as is when UTC is out of `time`'s range).
fn utc(t: OffsetDateTime) -> OffsetDateTime {
    t.checked_to_offset(time::UtcOffset::UTC).unwrap_or(t)
}

/// Serializes the time as RFC 3339 in UTC (`2019-02-06T00:00:38Z`).
fn serialize_time<S: serde::Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    let text = utc(*t)
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(serde::ser::Error::custom)?;
    s.serialize_str(&text)
}

/// Query parameters whose values [`redact_request_uri`] hides: request signatures and session tokens.
pub const REDACTED_QUERY_PARAMETERS: &[&str] =
    &["X-Amz-Signature", "X-Amz-Security-Token", "Signature"];

/// `request_uri` (a request line such as `GET /b/k?X-Amz-Signature=… HTTP/1.1`) with the value of
/// every [`REDACTED_QUERY_PARAMETERS`] parameter (names ASCII case-insensitive) replaced by
/// `REDACTED`; everything else is kept. S3 logs the Request-URI as received, presigned-URL
/// signatures and session tokens included; s3crypt's records should not carry credentials, so the
/// server passes the request line through this before building a [`LogRecord`].
#[must_use]
pub fn redact_request_uri(request_uri: &str) -> std::borrow::Cow<'_, str> {
    let Some(q) = request_uri.find('?') else {
        return request_uri.into();
    };
    let (head, rest) = request_uri.split_at(q + 1);
    let end = rest.find(' ').unwrap_or(rest.len());
    let (query, tail) = rest.split_at(end);
    let mut changed = false;
    let params: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((name, _))
                if REDACTED_QUERY_PARAMETERS
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case(name)) =>
            {
                changed = true;
                format!("{name}=REDACTED")
            }
            _ => p.to_owned(),
        })
        .collect();
    if !changed {
        return request_uri.into();
    }
    format!("{head}{}{tail}", params.join("&")).into()
}

// ------------------------------------------------------------------------------------------------
// Logging configuration
// ------------------------------------------------------------------------------------------------

/// Where a log object's date comes from in the partitioned key format (`PartitionDateSource`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DateSource {
    /// `EventTime` (S3's default): the time of the logged events; one object per day.
    #[default]
    EventTime,
    /// `DeliveryTime`: the time the object is delivered.
    DeliveryTime,
}

impl DateSource {
    /// The name as S3 writes it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EventTime => "EventTime",
            Self::DeliveryTime => "DeliveryTime",
        }
    }
}

/// How log object keys are formed (`TargetObjectKeyFormat`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyFormat {
    /// `SimplePrefix` (the default): `[prefix]YYYY-MM-DD-hh-mm-ss-UNIQUE`.
    #[default]
    Simple,
    /// `PartitionedPrefix`: `[prefix]account/region/bucket/YYYY/MM/DD/YYYY-MM-DD-hh-mm-ss-UNIQUE`.
    Partitioned(DateSource),
}

/// A bucket's server access logging configuration (`LoggingEnabled`). Stored by the server as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggingConfig {
    /// `TargetBucket`: where log objects go (the server checks it exists and is acceptable, §9.2).
    pub target_bucket: String,
    /// `TargetPrefix`, kept exactly (may be empty).
    pub target_prefix: String,
    /// `TargetObjectKeyFormat`.
    pub key_format: KeyFormat,
}

impl LoggingConfig {
    /// The key of a log object delivered at `delivery_time` holding events of `source_bucket` (in
    /// `source_account`, `region`) around `event_time`; `unique` is the caller's random suffix (S3
    /// uses 16 upper-case hex digits). Times are taken in UTC.
    ///
    /// - [`KeyFormat::Simple`]: `{prefix}{YYYY-MM-DD-hh-mm-ss}-{unique}` at the delivery time, e.g.
    ///   `logs/2013-11-01-21-32-16-E568B2907131C0C0`.
    /// - [`KeyFormat::Partitioned`]:
    ///   `{prefix}{account}/{region}/{bucket}/{YYYY}/{MM}/{DD}/{YYYY-MM-DD-hh-mm-ss}-{unique}`, dated by
    ///   the delivery time ([`DateSource::DeliveryTime`]) or by the event's day with the time
    ///   `00-00-00` ([`DateSource::EventTime`], one object per day, as S3).
    #[must_use]
    pub fn object_key(
        &self,
        source_account: &str,
        region: &str,
        source_bucket: &str,
        delivery_time: OffsetDateTime,
        event_time: OffsetDateTime,
        unique: &str,
    ) -> String {
        fn fmt(t: OffsetDateTime, f: &[BorrowedFormatItem<'_>]) -> String {
            t.format(f).unwrap_or_default()
        }
        match self.key_format {
            KeyFormat::Simple => format!(
                "{}{}-{unique}",
                self.target_prefix,
                fmt(utc(delivery_time), KEY_TIME)
            ),
            KeyFormat::Partitioned(source) => {
                let t = match source {
                    DateSource::DeliveryTime => utc(delivery_time),
                    DateSource::EventTime => utc(event_time).replace_time(time::Time::MIDNIGHT),
                };
                format!(
                    "{}{source_account}/{region}/{source_bucket}/{}{}-{unique}",
                    self.target_prefix,
                    fmt(t, KEY_DATE_DIRS),
                    fmt(t, KEY_TIME)
                )
            }
        }
    }
}

/// Parses a PutBucketLogging body: `Some` to enable logging, `None` for an empty
/// `<BucketLoggingStatus/>` (disable).
///
/// # Errors
/// - 400 `MalformedXML` for anything but a well-formed `BucketLoggingStatus` with at most one
///   `LoggingEnabled`, which must hold exactly one non-empty `TargetBucket` and one `TargetPrefix`, at
///   most one `TargetObjectKeyFormat` holding exactly one of `SimplePrefix` (empty) and
///   `PartitionedPrefix` (with at most one `PartitionDateSource`, `EventTime` or `DeliveryTime`), and
///   no other element;
/// - 400 `AccessControlListNotSupported` for a `TargetGrants` holding any grant (see the module
///   documentation).
pub fn parse_bucket_logging_status(body: &[u8]) -> Result<Option<LoggingConfig>, S3Error> {
    let root = parse_tree(body, "BucketLoggingStatus")?;
    let [enabled] = root.children_only(&["LoggingEnabled"])? else {
        return if root.children.is_empty() {
            Ok(None)
        } else {
            Err(malformed())
        };
    };
    enabled.no_text()?;
    let mut bucket = None;
    let mut prefix = None;
    let mut grants = None;
    let mut format = None;
    for c in &enabled.children {
        match c.name.as_str() {
            "TargetBucket" => {
                c.leaf()?;
                set_once(&mut bucket, c.text.trim().to_owned())?;
            }
            "TargetPrefix" => {
                c.leaf()?;
                set_once(&mut prefix, c.text.clone())?;
            }
            "TargetGrants" => {
                c.no_text()?;
                set_once(&mut grants, !c.children.is_empty())?;
            }
            "TargetObjectKeyFormat" => set_once(&mut format, key_format(c)?)?,
            _ => return Err(malformed()),
        }
    }
    let target_bucket = bucket.filter(|b| !b.is_empty()).ok_or_else(malformed)?;
    let target_prefix = prefix.ok_or_else(malformed)?;
    if grants == Some(true) {
        return Err(S3Error::from_code(
            S3ErrorCode::AccessControlListNotSupported,
        ));
    }
    Ok(Some(LoggingConfig {
        target_bucket,
        target_prefix,
        key_format: format.unwrap_or_default(),
    }))
}

fn key_format(node: &crate::s3::xml::Node) -> Result<KeyFormat, S3Error> {
    let [choice] = node.children_only(&["SimplePrefix", "PartitionedPrefix"])? else {
        return Err(malformed());
    };
    if choice.name == "SimplePrefix" {
        choice.leaf()?;
        choice.no_text()?;
        return Ok(KeyFormat::Simple);
    }
    let mut source = None;
    for s in choice.children_only(&["PartitionDateSource"])? {
        s.leaf()?;
        let v = match s.text.trim() {
            "EventTime" => DateSource::EventTime,
            "DeliveryTime" => DateSource::DeliveryTime,
            _ => return Err(malformed()),
        };
        set_once(&mut source, v)?;
    }
    Ok(KeyFormat::Partitioned(source.unwrap_or_default()))
}

/// The GetBucketLogging body: `BucketLoggingStatus` with `LoggingEnabled{TargetBucket, TargetPrefix,
/// TargetObjectKeyFormat}` for `Some`, an empty `BucketLoggingStatus` for `None`.
/// [`parse_bucket_logging_status`] reads it back to the same configuration.
#[must_use]
pub fn render_bucket_logging_status(config: Option<&LoggingConfig>) -> String {
    let Some(c) = config else {
        return format!(r#"{XML_DECL}<BucketLoggingStatus xmlns="{S3_XMLNS}"/>"#);
    };
    let format = match c.key_format {
        KeyFormat::Simple => "<SimplePrefix/>".to_owned(),
        KeyFormat::Partitioned(s) => format!(
            "<PartitionedPrefix><PartitionDateSource>{}</PartitionDateSource></PartitionedPrefix>",
            s.as_str()
        ),
    };
    format!(
        r#"{XML_DECL}<BucketLoggingStatus xmlns="{S3_XMLNS}"><LoggingEnabled><TargetBucket>{}</TargetBucket><TargetPrefix>{}</TargetPrefix><TargetObjectKeyFormat>{format}</TargetObjectKeyFormat></LoggingEnabled></BucketLoggingStatus>"#,
        escape_text(&c.target_bucket),
        escape_text(&c.target_prefix),
    )
}

// ------------------------------------------------------------------------------------------------
// Querying
// ------------------------------------------------------------------------------------------------

/// Which records to keep; every given condition must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// Keep records at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Keep records strictly before this time.
    pub until: Option<OffsetDateTime>,
    /// Keep records with this HTTP status.
    pub status: Option<u16>,
    /// Keep records of this requester (exact); `-` selects anonymous requests.
    pub requester: Option<String>,
    /// Keep records of this operation, ASCII case-insensitive; a trailing `*` matches a prefix
    /// (`REST.GET.*`).
    pub operation: Option<String>,
}

impl LogFilter {
    /// Whether `record` passes every condition.
    #[must_use]
    pub fn matches(&self, record: &LogRecord) -> bool {
        if self.since.is_some_and(|t| record.time < t)
            || self.until.is_some_and(|t| record.time >= t)
        {
            return false;
        }
        if self.status.is_some_and(|s| record.http_status != Some(s)) {
            return false;
        }
        if let Some(r) = &self.requester
            && record.requester.as_deref().unwrap_or("-") != r
        {
            return false;
        }
        if let Some(op) = &self.operation {
            let got = record.operation.as_bytes();
            let ok = match op.strip_suffix('*') {
                Some(prefix) => got
                    .get(..prefix.len())
                    .is_some_and(|g| g.eq_ignore_ascii_case(prefix.as_bytes())),
                None => got.eq_ignore_ascii_case(op.as_bytes()),
            };
            if !ok {
                return false;
            }
        }
        true
    }
}

/// Counts over a set of records, for `s3crypt logs` (text via [`Summary::render_text`], JSON via
/// serde).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Records counted.
    pub requests: u64,
    /// Sum of [`LogRecord::bytes_sent`].
    pub bytes_sent: u64,
    /// Records per operation.
    pub by_operation: BTreeMap<String, u64>,
    /// Records per HTTP status (`-` when the record has none).
    pub by_status: BTreeMap<String, u64>,
    /// Records per requester (`-` for anonymous requests).
    pub by_requester: BTreeMap<String, u64>,
}

impl Summary {
    /// Counts `record`.
    pub fn add(&mut self, record: &LogRecord) {
        self.requests = self.requests.saturating_add(1);
        self.bytes_sent = self.bytes_sent.saturating_add(record.bytes_sent);
        bump(&mut self.by_operation, &record.operation);
        let status = record
            .http_status
            .map_or_else(|| "-".to_owned(), |s| s.to_string());
        bump(&mut self.by_status, &status);
        bump(
            &mut self.by_requester,
            record.requester.as_deref().unwrap_or("-"),
        );
    }

    /// The summary as aligned text: the totals, then one table per breakdown, rows sorted by count
    /// (descending) then name. Control characters in names are escaped as in log lines.
    #[must_use]
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "requests    {}", self.requests);
        let _ = writeln!(out, "bytes sent  {}", self.bytes_sent);
        for (title, map) in [
            ("operation", &self.by_operation),
            ("status", &self.by_status),
            ("requester", &self.by_requester),
        ] {
            out.push('\n');
            let mut rows: Vec<(String, u64)> =
                map.iter().map(|(k, &v)| (display_text(k), v)).collect();
            rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let name_w = rows
                .iter()
                .map(|r| r.0.chars().count())
                .chain([title.len()])
                .max()
                .unwrap_or(0);
            let count_w = rows
                .iter()
                .map(|r| r.1.to_string().len())
                .chain(["count".len()])
                .max()
                .unwrap_or(0);
            let _ = writeln!(out, "{title:<name_w$}  {:>count_w$}", "count");
            for (name, count) in rows {
                let _ = writeln!(out, "{name:<name_w$}  {count:>count_w$}");
            }
        }
        out
    }
}

fn bump(map: &mut BTreeMap<String, u64>, name: &str) {
    let n = map.entry(name.to_owned()).or_insert(0);
    *n = n.saturating_add(1);
}

/// The header matching [`render_table_row`].
pub const TABLE_HEADER: &str =
    "TIME                 STATUS OPERATION                    REQUESTER            KEY BYTES";

/// One record as a row of the CLI's table: time (UTC, ISO 8601), status, operation, requester (`-`
/// for anonymous), key (`-` when none) and bytes sent, space-separated and padded to
/// [`TABLE_HEADER`]'s columns. Control characters and spaces in texts are escaped as in log lines, so
/// a row is one line and its columns stay apart.
#[must_use]
pub fn render_table_row(record: &LogRecord) -> String {
    let time = utc(record.time)
        .format(TABLE_TIME)
        .unwrap_or_else(|_| "-".to_owned());
    let status = record
        .http_status
        .map_or_else(|| "-".to_owned(), |s| s.to_string());
    let op = display_text(&record.operation);
    let requester = display_text(record.requester.as_deref().unwrap_or("-"));
    let key = display_text(record.key.as_deref().unwrap_or("-"));
    format!(
        "{time:<20} {status:<6} {op:<28} {requester:<20} {key} {}",
        record.bytes_sent
    )
}

/// `s` for a terminal: as an unquoted log field (spaces and control characters escaped), `-` when
/// empty.
fn display_text(s: &str) -> String {
    if s.is_empty() {
        return "-".to_owned();
    }
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s, true);
    out
}

// ------------------------------------------------------------------------------------------------
// Writing fields
// ------------------------------------------------------------------------------------------------

/// Escapes `s` (see the module documentation); `bare` also escapes spaces.
fn escape_into(out: &mut String, s: &str, bare: bool) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' ' if bare => out.push_str("\\x20"),
            '\0'..='\x1f' | '\x7f' => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            '\u{80}'..='\u{9f}' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            _ => out.push(c),
        }
    }
}

/// `raw` with only control characters (and U+2028, U+2029) escaped: how an extra field is kept.
fn escape_controls(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
            escape_into(&mut out, c.encode_utf8(&mut [0; 4]), false);
        } else {
            out.push(c);
        }
    }
    out
}

/// A required unquoted field: `""` when empty, else escaped (a value of `-` stays `-`).
fn required(out: &mut String, v: &str) {
    if v.is_empty() {
        out.push_str("\"\"");
    } else {
        escape_into(out, v, true);
    }
}

/// An optional unquoted field: `-` for `None`, `\x2d` for the text `-`.
fn optional(out: &mut String, v: Option<&str>) {
    match v {
        None => out.push('-'),
        Some("-") => out.push_str("\\x2d"),
        Some(v) => required(out, v),
    }
}

/// A quoted field: `"-"` for `None`, `"\x2d"` for the text `-`.
fn quoted(out: &mut String, v: Option<&str>) {
    out.push('"');
    match v {
        None => out.push('-'),
        Some("-") => out.push_str("\\x2d"),
        Some(v) => escape_into(out, v, false),
    }
    out.push('"');
}

fn number(out: &mut String, v: Option<u64>) {
    match v {
        None => out.push('-'),
        Some(n) => {
            let _ = write!(out, "{n}");
        }
    }
}

/// Whether `s` would be read back as exactly one field with this very text.
fn is_single_token(s: &str) -> bool {
    if s.is_empty()
        || s.chars()
            .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        return false;
    }
    let mut c = Cursor { s, pos: 0 };
    matches!(c.extra(), Ok(Some(raw)) if raw == s) && c.at_end()
}

// ------------------------------------------------------------------------------------------------
// Reading fields
// ------------------------------------------------------------------------------------------------

/// One field as found in the line.
#[derive(Clone, Copy, Debug)]
enum Token<'a> {
    /// Unquoted text.
    Bare(&'a str),
    /// The text between the quotes.
    Quoted(&'a str),
}

impl Token<'_> {
    fn is_dash(self) -> bool {
        matches!(self, Token::Bare("-") | Token::Quoted("-"))
    }

    fn text(self) -> String {
        match self {
            Token::Bare(s) | Token::Quoted(s) => unescape(s),
        }
    }

    fn required(self) -> String {
        self.text()
    }

    fn optional(self) -> Option<String> {
        if self.is_dash() {
            None
        } else {
            Some(self.text())
        }
    }

    fn key(self) -> Option<String> {
        let text = self.optional()?;
        Some(percent_decode(&text).unwrap_or(text))
    }

    fn number(self, index: usize) -> Result<Option<u64>, LogParseError> {
        if self.is_dash() {
            return Ok(None);
        }
        let s = match self {
            Token::Bare(s) | Token::Quoted(s) => s,
        };
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(index, s));
        }
        s.parse().map(Some).map_err(|_| invalid(index, s))
    }
}

fn invalid(index: usize, value: &str) -> LogParseError {
    LogParseError::InvalidField {
        field: field_name(index),
        value: value.chars().take(64).collect(),
    }
}

fn field_name(index: usize) -> &'static str {
    FIELD_NAMES.get(index).copied().unwrap_or("extra")
}

fn any(_rest: &str) -> bool {
    true
}

/// After Request-URI comes the status: digits or `-`.
fn status_follows(rest: &str) -> bool {
    let next = rest.split(' ').next().unwrap_or("");
    !next.is_empty() && (next == "-" || next.bytes().all(|b| b.is_ascii_digit()))
}

/// After Referer comes the User-Agent: quoted or `-`.
fn quote_or_dash_follows(rest: &str) -> bool {
    rest.starts_with('"') || rest == "-" || rest.starts_with("- ")
}

/// A position in the line being read.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    fn skip_spaces(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start_matches(' ').len();
    }

    fn at_end(&mut self) -> bool {
        self.skip_spaces();
        self.rest().is_empty()
    }

    /// The next field, which must exist. `next_ok` checks the text after a candidate closing quote.
    fn token(
        &mut self,
        index: usize,
        next_ok: fn(&str) -> bool,
    ) -> Result<Token<'a>, LogParseError> {
        self.field(index, next_ok)?
            .ok_or(LogParseError::MissingField {
                field: field_name(index),
            })
    }

    /// The next field of the optional tail, `None` at the end of the line.
    fn tail(&mut self, index: usize) -> Result<Option<Token<'a>>, LogParseError> {
        self.field(index, any)
    }

    /// The next extra field as written (quotes included), `None` at the end of the line.
    fn extra(&mut self) -> Result<Option<&'a str>, LogParseError> {
        self.skip_spaces();
        let start = self.pos;
        Ok(self
            .field(usize::MAX, any)?
            .map(|_| self.s.get(start..self.pos).unwrap_or("")))
    }

    fn field(
        &mut self,
        index: usize,
        next_ok: fn(&str) -> bool,
    ) -> Result<Option<Token<'a>>, LogParseError> {
        if self.at_end() {
            return Ok(None);
        }
        let rest = self.rest();
        if let Some(inner) = rest.strip_prefix('"') {
            let end = close_quote(inner, true, next_ok)
                .or_else(|| close_quote(inner, false, next_ok))
                .or_else(|| close_quote(inner, false, any))
                .ok_or(LogParseError::Unterminated {
                    field: field_name(index),
                })?;
            self.pos += 1 + end + 1;
            return Ok(Some(Token::Quoted(inner.get(..end).unwrap_or(""))));
        }
        let len = rest.find(' ').unwrap_or(rest.len());
        self.pos += len;
        Ok(Some(Token::Bare(rest.get(..len).unwrap_or(""))))
    }

    /// Field 3: `[dd/Mon/yyyy:hh:mm:ss +zzzz]`.
    fn time(&mut self) -> Result<OffsetDateTime, LogParseError> {
        if self.at_end() {
            return Err(LogParseError::MissingField { field: "time" });
        }
        let rest = self.rest();
        let Some(inner) = rest.strip_prefix('[') else {
            let word = rest.split(' ').next().unwrap_or("");
            return Err(invalid(2, word));
        };
        let end = inner
            .find(']')
            .ok_or(LogParseError::Unterminated { field: "time" })?;
        let text = inner.get(..end).unwrap_or("");
        self.pos += 1 + end + 1;
        let after = self.rest();
        if !(after.is_empty() || after.starts_with(' ')) {
            return Err(invalid(2, text));
        }
        OffsetDateTime::parse(text, LOG_TIME)
            .map(utc)
            .map_err(|_| invalid(2, text))
    }
}

/// The byte offset in `inner` (the text after an opening quote) of the closing quote: the first `"`
/// followed by a space or the end whose following text satisfies `next_ok`. With `escapes`, a
/// backslash protects the next character.
fn close_quote(inner: &str, escapes: bool, next_ok: fn(&str) -> bool) -> Option<usize> {
    let bytes = inner.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes.get(i) {
            Some(b'\\') if escapes => i += 2,
            Some(b'"') => {
                let after = inner.get(i + 1..).unwrap_or("");
                if after.is_empty() || (after.starts_with(' ') && next_ok(after.trim_start())) {
                    return Some(i);
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// Undoes [`escape_into`]; other backslashes are kept.
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(rest.get(..i).unwrap_or(""));
        let after = rest.get(i + 1..).unwrap_or("");
        let (decoded, used) = match after.as_bytes().first() {
            Some(b'\\') => (Some('\\'), 1),
            Some(b'"') => (Some('"'), 1),
            Some(b'x') => (
                after
                    .get(1..3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .filter(|b| b.is_ascii() && after.get(1..3).is_some_and(is_hex))
                    .map(char::from),
                3,
            ),
            Some(b'u') => (
                after
                    .get(1..5)
                    .filter(|h| is_hex(h))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .and_then(char::from_u32),
                5,
            ),
            _ => (None, 0),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = after.get(used..).unwrap_or("");
            }
            None => {
                out.push('\\');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Percent-decodes `s` to UTF-8; `None` when a `%` is not followed by two hex digits or the bytes are
/// not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_owned());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = s.get(i + 1..i + 3).filter(|h| is_hex(h))?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests;
