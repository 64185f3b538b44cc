//! The typed authentication failure and its renderings for the KMS (JSON 1.1) and S3 (REST-XML) wire
//! protocols.

use std::fmt;
use std::time::Duration;

use time::OffsetDateTime;
use time::macros::format_description;

use super::canonical::quoted;
use crate::aws::WireError;

/// How a request carried its signature (the `s3:authType` policy key names the same distinction).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthType {
    /// An `Authorization` header (`s3:authType` = `REST-HEADER`).
    Header,
    /// `X-Amz-*` query parameters: a presigned URL (`s3:authType` = `REST-QUERY-STRING`).
    Presigned,
}

impl AuthType {
    /// The value of the `s3:authType` condition key.
    #[must_use]
    pub fn policy_value(self) -> &'static str {
        match self {
            Self::Header => "REST-HEADER",
            Self::Presigned => "REST-QUERY-STRING",
        }
    }
}

/// What is wrong with a credential (`AKID/date/region/service/aws4_request`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScopeProblem {
    /// Not five non-empty `/`-separated parts.
    Malformed,
    /// The date part is not `yyyyMMdd`.
    DateFormat {
        /// The date part as sent.
        date: String,
    },
    /// The region is not the server's.
    Region {
        /// The region as sent.
        got: String,
        /// The server's region.
        expected: String,
    },
    /// The service is not the server's signing name.
    Service {
        /// The service as sent.
        got: String,
        /// The server's signing name.
        expected: String,
    },
    /// The last part is not `aws4_request`.
    Terminator {
        /// The terminator as sent.
        got: String,
    },
    /// The date part is not the day of `X-Amz-Date`.
    Date {
        /// The date part as sent.
        credential_date: String,
        /// `X-Amz-Date` as sent.
        amz_date: String,
    },
}

/// Why a request could not be signed or was refused.
///
/// Protocol-neutral: each variant carries the request values its messages need, and the protocol picks
/// the wire form: [`kms`](Self::kms) (AWS JSON 1.1 services: HTTP 400 and a `__type`) or
/// [`s3`](Self::s3) (S3 REST-XML: 400/403 and XML extras). `Display` is the KMS rendering. No variant
/// holds secret material (the canonical request and string to sign carry only hashes of the body).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SigV4Error {
    /// Neither an `Authorization` header nor query-string authentication.
    MissingAuthenticationToken,
    /// Both an `Authorization` header and query-string authentication (S3 §1.2 row 1).
    ConflictingAuthMechanisms,
    /// The `Authorization` header is malformed, names another algorithm, lacks a component, leaves a
    /// required header unsigned, or `X-Amz-Date` is missing or malformed (header auth).
    IncompleteSignature {
        /// What exactly is wrong.
        message: String,
    },
    /// `X-Amz-Algorithm` names an algorithm other than SigV4 or SigV4a (row 2).
    UnsupportedQueryAlgorithm {
        /// The value as sent.
        algorithm: String,
    },
    /// SigV4a (`AWS4-ECDSA-P256-SHA256`): a valid algorithm this server does not implement.
    SigV4aNotImplemented,
    /// One of the six presigned-URL parameters is missing or repeated (row 3).
    MissingQueryParameters,
    /// `X-Amz-Date` (query) is not `yyyyMMdd'T'HHmmss'Z'` (row 4).
    MalformedQueryDate {
        /// The value as sent.
        value: String,
    },
    /// `X-Amz-Expires` is not an integer (row 5).
    ExpiresNotANumber {
        /// The value as sent.
        value: String,
    },
    /// `X-Amz-Expires` is negative (row 6).
    ExpiresNegative {
        /// The value as sent.
        value: String,
    },
    /// `X-Amz-Expires` is above 604800 (row 7).
    ExpiresTooLarge {
        /// The value as sent.
        value: String,
    },
    /// A presigned URL whose `X-Amz-Date` lies more than the allowed skew in the future (row 8).
    RequestNotYetValid {
        /// `X-Amz-Date` as sent.
        amz_date: String,
        /// When the URL expires (Unix seconds).
        expires_at: i64,
        /// The server clock (Unix seconds).
        now: i64,
    },
    /// A presigned URL past `X-Amz-Date` + `X-Amz-Expires` (row 9).
    RequestExpired {
        /// `X-Amz-Expires` in seconds.
        expires: u64,
        /// When the URL expired (Unix seconds).
        expires_at: i64,
        /// The server clock (Unix seconds).
        now: i64,
    },
    /// The credential is malformed or scoped to another date, region, service or terminator (rows
    /// 10–11 for presigned URLs; header auth too).
    ScopeMismatch {
        /// Header or query.
        auth: AuthType,
        /// What is wrong.
        problem: ScopeProblem,
    },
    /// Headers that must be signed when present (`host`, `content-md5`, `x-amz-*` except
    /// `x-amz-content-sha256`) were sent unsigned (row 12).
    HeadersNotSigned {
        /// The unsigned header names, lowercase, sorted.
        headers: Vec<String>,
    },
    /// Unknown access key id (row 13).
    UnrecognizedClient {
        /// The access key id as sent.
        access_key_id: String,
    },
    /// The session token is missing, unexpected or not the one of the access key.
    InvalidSecurityToken {
        /// The access key id as sent.
        access_key_id: String,
    },
    /// The recomputed signature differs: wrong secret, or anything signed was changed (row 14).
    SignatureMismatch {
        /// The access key id as sent.
        access_key_id: String,
        /// The signature as sent.
        signature_provided: String,
        /// The string to sign the server computed.
        string_to_sign: String,
        /// The canonical request the server computed.
        canonical_request: String,
    },
    /// Header auth: `X-Amz-Date` is more than `max_skew` before the server clock.
    SignatureExpired {
        /// `X-Amz-Date` as sent.
        amz_date: String,
        /// `X-Amz-Date` (Unix seconds).
        request_time: i64,
        /// The server clock (Unix seconds).
        now: i64,
        /// The tolerance.
        max_skew: Duration,
    },
    /// Header auth: `X-Amz-Date` is more than `max_skew` after the server clock.
    SignatureNotYetCurrent {
        /// `X-Amz-Date` as sent.
        amz_date: String,
        /// `X-Amz-Date` (Unix seconds).
        request_time: i64,
        /// The server clock (Unix seconds).
        now: i64,
        /// The tolerance.
        max_skew: Duration,
    },
    /// S3 header auth without `x-amz-content-sha256`.
    MissingContentSha256,
    /// `x-amz-content-sha256` is neither 64 hex digits nor a known keyword.
    InvalidContentSha256 {
        /// The value as sent.
        value: String,
    },
    /// The body's SHA-256 is not the signed `x-amz-content-sha256`.
    ContentSha256Mismatch {
        /// The value as sent.
        client: String,
        /// The hash of the body received.
        computed: String,
    },
    /// The signer was given a request it cannot sign. Only the signing functions return it.
    InvalidSigningInput {
        /// What exactly is wrong.
        message: String,
    },
    /// [`presign_url`](crate::aws::presign::presign_url) was asked for an `X-Amz-Expires` outside
    /// 1..=604800.
    PresignExpiresOutOfRange {
        /// The requested lifetime in seconds.
        expires: u64,
    },
}

const AQPE: &str = "AuthorizationQueryParametersError";

const KMS_SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the \
    signature you provided. Check your AWS Secret Access Key and signing method. Consult the service \
    documentation for details.";

impl SigV4Error {
    /// The error as an AWS JSON 1.1 service (KMS) answers it: HTTP 400 for every variant (JSON services
    /// answer authentication failures, `MissingAuthenticationTokenException` too, with 400), the
    /// `__type` and the message; no extras.
    #[must_use]
    pub fn kms(&self) -> WireError {
        let (code, message) = match self {
            Self::MissingAuthenticationToken => (
                "MissingAuthenticationTokenException",
                "Missing Authentication Token".to_owned(),
            ),
            Self::UnrecognizedClient { .. } | Self::InvalidSecurityToken { .. } => (
                "UnrecognizedClientException",
                "The security token included in the request is invalid.".to_owned(),
            ),
            Self::SignatureMismatch { .. } => (
                "InvalidSignatureException",
                KMS_SIGNATURE_MISMATCH.to_owned(),
            ),
            Self::ScopeMismatch { problem, .. } => {
                ("InvalidSignatureException", kms_scope_message(problem))
            }
            Self::SignatureExpired {
                amz_date,
                now,
                max_skew,
                ..
            } => (
                "InvalidSignatureException",
                format!(
                    "Signature expired: {amz_date} is now earlier than {} ({} - {})",
                    display_time(now.saturating_sub(skew_secs(*max_skew))),
                    display_time(*now),
                    skew_text(*max_skew)
                ),
            ),
            Self::SignatureNotYetCurrent {
                amz_date,
                now,
                max_skew,
                ..
            } => (
                "InvalidSignatureException",
                format!(
                    "Signature not yet current: {amz_date} is still later than {} ({} + {})",
                    display_time(now.saturating_add(skew_secs(*max_skew))),
                    display_time(*now),
                    skew_text(*max_skew)
                ),
            ),
            Self::ConflictingAuthMechanisms => (
                "IncompleteSignatureException",
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the \
                 Authorization header should be specified."
                    .to_owned(),
            ),
            Self::IncompleteSignature { message } => {
                ("IncompleteSignatureException", message.clone())
            }
            Self::InvalidSigningInput { message } => ("InvalidSigningInput", message.clone()),
            Self::PresignExpiresOutOfRange { .. } => ("InvalidSigningInput", self.s3().message),
            _ => ("IncompleteSignatureException", self.s3().message),
        };
        WireError {
            status: 400,
            code,
            message,
            extras: Vec::new(),
        }
    }

    /// The error as S3 answers it: status, `<Code>`, `<Message>` and the extra `<Error>` elements, in
    /// the order S3 checks presigned URLs in (<https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html>) and of S3's header-auth answers.
    #[must_use]
    pub fn s3(&self) -> WireError {
        let w = |status, code, message: String, extras| WireError {
            status,
            code,
            message,
            extras,
        };
        match self {
            Self::MissingAuthenticationToken => w(403, "AccessDenied", "Access Denied".into(), vec![]),
            Self::ConflictingAuthMechanisms => w(
                400,
                "InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature \
                 query string parameter or the Authorization header should be specified"
                    .into(),
                vec![
                    ("ArgumentName", "Authorization".into()),
                    ("ArgumentValue", "null".into()),
                ],
            ),
            Self::IncompleteSignature { message } => w(
                400,
                "AuthorizationHeaderMalformed",
                format!("The authorization header is malformed; {message}"),
                vec![],
            ),
            Self::UnsupportedQueryAlgorithm { .. } => w(
                400,
                AQPE,
                "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256 and AWS4-ECDSA-P256-SHA256\"".into(),
                vec![],
            ),
            Self::SigV4aNotImplemented => w(
                501,
                "NotImplemented",
                "A header you provided implies functionality that is not implemented".into(),
                vec![],
            ),
            Self::MissingQueryParameters => w(
                400,
                AQPE,
                "Query-string authentication version 4 requires the X-Amz-Algorithm, \
                 X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and \
                 X-Amz-Expires parameters."
                    .into(),
                vec![],
            ),
            Self::MalformedQueryDate { .. } => w(
                400,
                AQPE,
                "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"".into(),
                vec![],
            ),
            Self::ExpiresNotANumber { .. } => {
                w(400, AQPE, "X-Amz-Expires should be a number".into(), vec![])
            }
            Self::ExpiresNegative { .. } => {
                w(400, AQPE, "X-Amz-Expires must be non-negative".into(), vec![])
            }
            Self::ExpiresTooLarge { .. } => w(
                400,
                AQPE,
                "X-Amz-Expires must be less than a week (in seconds); that is, the given \
                 X-Amz-Expires must be less than 604800 seconds"
                    .into(),
                vec![],
            ),
            Self::RequestNotYetValid {
                amz_date,
                expires_at,
                now,
            } => w(
                403,
                "AccessDenied",
                "Request is not yet valid".into(),
                vec![
                    ("X-Amz-Date", amz_date.clone()),
                    ("Expires", iso_time(*expires_at)),
                    ("ServerTime", iso_time(*now)),
                ],
            ),
            Self::RequestExpired {
                expires,
                expires_at,
                now,
            } => w(
                403,
                "AccessDenied",
                "Request has expired".into(),
                vec![
                    ("X-Amz-Expires", expires.to_string()),
                    ("Expires", iso_time(*expires_at)),
                    ("ServerTime", iso_time(*now)),
                ],
            ),
            Self::ScopeMismatch { auth, problem } => s3_scope(*auth, problem),
            Self::HeadersNotSigned { headers } => w(
                403,
                "AccessDenied",
                "There were headers present in the request which were not signed".into(),
                vec![("HeadersNotSigned", headers.join(", "))],
            ),
            Self::UnrecognizedClient { access_key_id } => w(
                403,
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.".into(),
                vec![("AWSAccessKeyId", access_key_id.clone())],
            ),
            Self::InvalidSecurityToken { .. } => w(
                400,
                "InvalidToken",
                "The provided token is malformed or otherwise invalid.".into(),
                vec![],
            ),
            Self::SignatureMismatch {
                access_key_id,
                signature_provided,
                string_to_sign,
                canonical_request,
            } => w(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. \
                 Check your key and signing method."
                    .into(),
                vec![
                    ("AWSAccessKeyId", access_key_id.clone()),
                    ("StringToSign", string_to_sign.clone()),
                    ("SignatureProvided", signature_provided.clone()),
                    ("StringToSignBytes", spaced_hex(string_to_sign.as_bytes())),
                    ("CanonicalRequest", canonical_request.clone()),
                    (
                        "CanonicalRequestBytes",
                        spaced_hex(canonical_request.as_bytes()),
                    ),
                ],
            ),
            Self::SignatureExpired {
                amz_date,
                now,
                max_skew,
                ..
            }
            | Self::SignatureNotYetCurrent {
                amz_date,
                now,
                max_skew,
                ..
            } => w(
                403,
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.".into(),
                vec![
                    ("RequestTime", amz_date.clone()),
                    ("ServerTime", iso_time(*now)),
                    (
                        "MaxAllowedSkewMilliseconds",
                        max_skew.as_millis().to_string(),
                    ),
                ],
            ),
            Self::MissingContentSha256 => w(
                400,
                "InvalidRequest",
                "Missing required header for this request: x-amz-content-sha256".into(),
                vec![],
            ),
            Self::InvalidContentSha256 { value } => w(
                400,
                "InvalidArgument",
                "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, \
                 STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, \
                 STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, \
                 STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 value."
                    .into(),
                vec![
                    ("ArgumentName", "x-amz-content-sha256".into()),
                    ("ArgumentValue", value.clone()),
                ],
            ),
            Self::ContentSha256Mismatch { client, computed } => w(
                400,
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed."
                    .into(),
                vec![
                    ("ClientComputedContentSHA256", client.clone()),
                    ("S3ComputedContentSHA256", computed.clone()),
                ],
            ),
            Self::InvalidSigningInput { message } => {
                w(400, "InvalidRequest", message.clone(), vec![])
            }
            Self::PresignExpiresOutOfRange { expires } => w(
                400,
                "InvalidRequest",
                format!("a presigned URL lives 1 to 604800 seconds, not {expires}"),
                vec![],
            ),
        }
    }
}

impl fmt::Display for SigV4Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = self.kms();
        write!(f, "{}: {}", w.code, w.message)
    }
}

impl std::error::Error for SigV4Error {}

fn kms_scope_message(problem: &ScopeProblem) -> String {
    match problem {
        ScopeProblem::Malformed => "Credential should have 5 slash-separated non-empty parts \
             (<access key id>/<YYYYMMDD>/<region>/<service>/aws4_request)."
            .to_owned(),
        ScopeProblem::DateFormat { date } => {
            format!("Credential date {} is not YYYYMMDD.", quoted(date))
        }
        ScopeProblem::Terminator { got } => format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not {}.",
            quoted(got)
        ),
        ScopeProblem::Date {
            credential_date,
            amz_date,
        } => format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from \
             HTTP: {} != '{}', from '{amz_date}'.",
            quoted(credential_date),
            amz_date.get(..8).unwrap_or_default()
        ),
        ScopeProblem::Region { got, .. } => format!(
            "Credential should be scoped to a valid region, not {}.",
            quoted(got)
        ),
        ScopeProblem::Service { expected, .. } => {
            format!("Credential should be scoped to correct service: '{expected}'.")
        }
    }
}

fn s3_scope(auth: AuthType, problem: &ScopeProblem) -> WireError {
    let (code, prefix) = match auth {
        AuthType::Presigned => (AQPE, "Error parsing the X-Amz-Credential parameter; "),
        AuthType::Header => (
            "AuthorizationHeaderMalformed",
            "The authorization header is malformed; ",
        ),
    };
    let mut extras = Vec::new();
    let detail = match problem {
        ScopeProblem::Malformed => "the Credential is mal-formed; expecting \
             \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"."
            .to_owned(),
        ScopeProblem::DateFormat { date } => format!(
            "incorrect date format \"{date}\". This date in the credential must be in the format \
             \"yyyyMMdd\"."
        ),
        ScopeProblem::Region { got, expected } => {
            extras.push(("Region", expected.clone()));
            format!("the region '{got}' is wrong; expecting '{expected}'")
        }
        ScopeProblem::Service { got, expected } => {
            format!("incorrect service \"{got}\". This endpoint belongs to \"{expected}\".")
        }
        ScopeProblem::Terminator { got } => {
            format!("incorrect terminal \"{got}\". This endpoint uses \"aws4_request\".")
        }
        ScopeProblem::Date {
            credential_date,
            amz_date,
        } => {
            let message = format!(
                "Invalid credential date \"{credential_date}\". This date is not the same as \
                 X-Amz-Date: \"{}\".",
                amz_date.get(..8).unwrap_or(amz_date)
            );
            return WireError {
                status: 400,
                code,
                message: match auth {
                    AuthType::Presigned => message,
                    AuthType::Header => format!("{prefix}{message}"),
                },
                extras,
            };
        }
    };
    WireError {
        status: 400,
        code,
        message: format!("{prefix}{detail}"),
        extras,
    }
}

fn skew_secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

fn skew_text(d: Duration) -> String {
    if d.as_secs().is_multiple_of(60) {
        format!("{} min.", d.as_secs() / 60)
    } else {
        format!("{} sec.", d.as_secs())
    }
}

/// `YYYYMMDDTHHMMSSZ`, or `@<unix seconds>` outside years 0–9999.
pub(super) fn display_time(unix: i64) -> String {
    super::format_amz_date(unix).unwrap_or_else(|| format!("@{unix}"))
}

/// `YYYY-MM-DDTHH:MM:SSZ` (S3's `ServerTime`/`Expires`), or `@<unix seconds>` outside years 0–9999.
pub(crate) fn iso_time(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .filter(|dt| (0..=9999).contains(&dt.year()))
        .and_then(|dt| {
            dt.format(format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| format!("@{unix}"))
}

/// Bytes as S3 prints them in `…Bytes` elements: two lowercase hex digits each, space-separated.
fn spaced_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}
