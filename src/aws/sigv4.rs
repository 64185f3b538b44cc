//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`, header-based): signing for clients, verification for
//! servers.
//!
//! | you want to…                                                  | use                               |
//! |---------------------------------------------------------------|-----------------------------------|
//! | sign a request to AWS KMS, moto or `s3crypt kms serve`        | [`sign`] (or [`sign_with`])       |
//! | check a request from boto3 / an AWS SDK on the server side    | [`verify`] (or [`verify_with`])   |
//! | see the intermediate values (debugging, test vectors)         | [`canonical_request`], [`string_to_sign`], [`signing_key`], [`SigningOutput`] |
//! | answer a refusal in KMS's or S3's words                       | [`SigV4Error::kms`], [`SigV4Error::s3`] |
//!
//! Requests are transport-independent [`SignableRequest`]s: method, request target as sent
//! (`/path?query`), headers as sent (any case, possibly repeated) and the body. Time is injected
//! ([`SystemTime`] arguments), so expiry is testable.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use s3crypt::aws::sigv4::{self, Credentials, SignableRequest};
//!
//! # fn main() -> Result<(), s3crypt::aws::sigv4::SigV4Error> {
//! let creds = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None);
//! let body = br#"{"KeyId":"alias/demo","KeySpec":"AES_256"}"#;
//! let mut headers = vec![
//!     ("Host".to_string(), "127.0.0.1:4566".to_string()),
//!     ("Content-Type".to_string(), "application/x-amz-json-1.1".to_string()),
//!     ("X-Amz-Target".to_string(), "TrentService.GenerateDataKey".to_string()),
//! ];
//! let now = SystemTime::now();
//! let req = SignableRequest { method: "POST", uri: "/", headers: &headers, body };
//! let added = sigv4::sign(&req, &creds, "us-east-1", "kms", now)?;
//! headers.extend(added);
//!
//! // Server side.
//! let req = SignableRequest { method: "POST", uri: "/", headers: &headers, body };
//! let lookup = |akid: &str| (akid == "AKIDEXAMPLE").then(|| creds.clone());
//! let ok = sigv4::verify(&req, lookup, "us-east-1", "kms", now, sigv4::AWS_MAX_SKEW)?;
//! assert_eq!(ok.access_key_id, "AKIDEXAMPLE");
//! assert!(ok.is_signed("x-amz-target"));
//! # Ok(())
//! # }
//! ```
//!
//! ## Rules implemented
//! - Canonical URI: generic services URI-encode the path as sent once more ("double encoding") after
//!   removing `.`/`..` and empty segments; S3 keeps the path as sent ([`Canonicalization`]).
//! - Canonical query: pairs decoded then RFC 3986-encoded, sorted by key then value, `=` always present.
//! - Canonical headers: lowercase names, values trimmed with inner runs of spaces/tabs collapsed,
//!   repeated headers joined with `,`, sorted by name.
//! - Payload hash: the value of `x-amz-content-sha256` when the request has one (for example
//!   `UNSIGNED-PAYLOAD`), else lowercase hex SHA-256 of the body. botocore sends no
//!   `x-amz-content-sha256` to KMS: it signs `content-type;host;x-amz-date;x-amz-target` (plus
//!   `x-amz-security-token` with temporary credentials) and hashes the body.
//!
//! ## What verification enforces
//! [`verify`]/[`verify_with`] (the JSON-protocol services, KMS among them): only header-based auth with
//! `AWS4-HMAC-SHA256` (no presigned URLs, no `Date` header instead of `X-Amz-Date`, no SigV4A, no chunked
//! `STREAMING-*` payloads; S3 requests, presigned URLs and `STREAMING-*` bodies go through
//! [`crate::aws::presign::verify_s3`] and [`crate::aws::chunked`]). `host` and `x-amz-date` must be signed,
//! the credential scope must be `<X-Amz-Date's date>/<region>/<service>/aws4_request`, the request time
//! must lie within ±`max_skew` of `now`, and the signature is compared in constant time. The body is
//! always authenticated: a hex `x-amz-content-sha256` is not trusted, the body is hashed again; and
//! `UNSIGNED-PAYLOAD` is refused unless [`VerifyPolicy::allow_unsigned_payload`] is set.

pub(crate) mod canonical;

/// Percent-encodes `s` as SigV4 and botocore do: RFC 3986 unreserved characters kept, everything else
/// `%XX` (uppercase); `/` kept when `keep_slash` (object keys in paths).
#[must_use]
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    canonical::uri_encode(s.as_bytes(), keep_slash, &mut out);
    out
}
mod error;

pub use error::{AuthType, ScopeProblem, SigV4Error};

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};
use zeroize::Zeroizing;

use crate::keys::{DerivedKey, SecretBytes};
use crate::primitives::{self, hash, kdf};

use canonical::{CanonError, quoted};

/// The only signing algorithm implemented.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The clock skew AWS tolerates between the request's `X-Amz-Date` and its own clock: 15 minutes.
pub const AWS_MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// The `x-amz-content-sha256` value that leaves the body out of the signature (S3 over TLS).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Hex SHA-256 of the empty string: the payload hash of a request without a body.
pub const EMPTY_PAYLOAD_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The fixed last element of every credential scope.
const SCOPE_TERMINATOR: &str = "aws4_request";

/// Headers the signer never signs because proxies and HTTP stacks add, drop or rewrite them (botocore's
/// `SIGNED_HEADERS_BLACKLIST`, so that [`sign`] produces the same signature as botocore for the same
/// request).
const UNSIGNED_HEADERS: &[&str] = &[
    "baggage",
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "traceparent",
    "tracestate",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
];

/// An AWS access key: id, secret and, for temporary credentials, a session token.
///
/// `Debug` prints the access key id only; the secret is a [`SecretBytes`] (zeroized on drop) and the
/// session token is redacted too.
#[derive(Clone)]
pub struct Credentials {
    /// The access key id (`AKIA…`, `ASIA…`, or any id a test server accepts).
    pub access_key_id: String,
    secret: SecretBytes,
    /// The session token of temporary credentials, sent as `X-Amz-Security-Token`.
    pub session_token: Option<String>,
}

impl Credentials {
    /// Credentials from an access key id, its secret access key and an optional session token.
    #[must_use]
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: &str,
        session_token: Option<String>,
    ) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret: SecretBytes::new(secret_access_key.as_bytes().to_vec()),
            session_token,
        }
    }

    /// The secret access key.
    #[must_use]
    pub fn secret_access_key(&self) -> &SecretBytes {
        &self.secret
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret", &format_args!("[REDACTED]"))
            .field(
                "session_token",
                &self
                    .session_token
                    .as_ref()
                    .map(|_| format_args!("[REDACTED]")),
            )
            .finish()
    }
}

/// A credential scope: the date, region and service a signature is bound to. Displayed as
/// `YYYYMMDD/region/service/aws4_request`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// `YYYYMMDD`, the date part of the request's `X-Amz-Date`.
    pub date: String,
    /// The region, for example `us-east-1`.
    pub region: String,
    /// The signing name of the service, for example `kms` or `s3`.
    pub service: String,
}

impl Scope {
    /// A scope from its three parts.
    #[must_use]
    pub fn new(
        date: impl Into<String>,
        region: impl Into<String>,
        service: impl Into<String>,
    ) -> Self {
        Self {
            date: date.into(),
            region: region.into(),
            service: service.into(),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{SCOPE_TERMINATOR}",
            self.date, self.region, self.service
        )
    }
}

/// A request as seen on the wire, independent of any HTTP library.
///
/// `Debug` prints the header names and the body length only (bodies of KMS requests can hold plaintext
/// keys).
#[derive(Clone, Copy)]
pub struct SignableRequest<'a> {
    /// The HTTP method, for example `POST`.
    pub method: &'a str,
    /// The request target as sent: the path (already percent-encoded as on the wire) and an optional
    /// `?query`. An empty path means `/`.
    pub uri: &'a str,
    /// The headers as sent: names in any case, a name may repeat. The signer needs `Host` among them (for
    /// HTTP/2, put the `:authority` value under `host`).
    pub headers: &'a [(String, String)],
    /// The body bytes.
    pub body: &'a [u8],
}

impl fmt::Debug for SignableRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("SignableRequest")
            .field("method", &self.method)
            .field("uri", &self.uri)
            .field("header_names", &names)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// How the request path becomes the canonical URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UriEncoding {
    /// Generic AWS services (KMS included): the path as sent is URI-encoded once more, so each segment of
    /// the original path ends up encoded twice (`%3A` → `%253A`).
    Double,
    /// S3: the path as sent is the canonical URI (only characters that were left unencoded are encoded).
    Single,
}

/// The service-dependent canonicalization rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Canonicalization {
    /// Path encoding.
    pub uri_encoding: UriEncoding,
    /// Whether `.`/`..` segments are resolved and empty segments (`//`) collapsed before encoding.
    pub normalize_path: bool,
}

impl Canonicalization {
    /// Every AWS service except S3: double encoding, normalised path.
    pub const GENERIC: Self = Self {
        uri_encoding: UriEncoding::Double,
        normalize_path: true,
    };

    /// S3 (and S3 on Outposts / S3 Express): single encoding, the path kept exactly as sent.
    pub const S3: Self = Self {
        uri_encoding: UriEncoding::Single,
        normalize_path: false,
    };

    /// The rules for the signing name `service`: [`Self::S3`] for `s3`, `s3-outposts` and `s3express`,
    /// otherwise [`Self::GENERIC`].
    #[must_use]
    pub fn for_service(service: &str) -> Self {
        if is_s3(service) {
            Self::S3
        } else {
            Self::GENERIC
        }
    }
}

/// Where [`sign_with`] puts the session token of temporary credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionTokenPlacement {
    /// `X-Amz-Security-Token` is added before signing and signed (what botocore and the SDKs do).
    Signed,
    /// `X-Amz-Security-Token` is added after signing, unsigned (a few services, such as IoT, want this).
    AfterSigning,
}

/// Signer options beyond credentials, region and service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigningSettings {
    /// Path rules.
    pub canonicalization: Canonicalization,
    /// Add a signed `x-amz-content-sha256` header holding the body hash (S3 requires it; KMS clients do
    /// not send it). Ignored when the request already has the header.
    pub content_sha256_header: bool,
    /// Session token handling.
    pub session_token: SessionTokenPlacement,
}

impl SigningSettings {
    /// What botocore does for `service`: generic rules and no `x-amz-content-sha256` for KMS and other
    /// JSON services; S3 rules plus `x-amz-content-sha256` for S3.
    #[must_use]
    pub fn for_service(service: &str) -> Self {
        Self {
            canonicalization: Canonicalization::for_service(service),
            content_sha256_header: is_s3(service),
            session_token: SessionTokenPlacement::Signed,
        }
    }
}

/// Everything [`sign_with`] computed.
///
/// `Debug` shows everything, the session token included when it was signed (it is a request header
/// and part of the canonical request); the secret access key and the signing key never appear.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningOutput {
    /// The headers to add to the request: `X-Amz-Date`, then `X-Amz-Security-Token` and
    /// `x-amz-content-sha256` when they apply, then `Authorization`.
    pub headers: Vec<(String, String)>,
    /// The canonical request that was signed.
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
    /// The signature, 64 lowercase hex digits.
    pub signature: String,
}

/// What the verifier accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyPolicy {
    /// The region the credential scope must name.
    pub region: String,
    /// The service signing name the credential scope must name (`kms` for a KMS endpoint).
    pub service: String,
    /// The largest accepted difference between `X-Amz-Date` and the server clock, either way.
    pub max_skew: Duration,
    /// Path rules.
    pub canonicalization: Canonicalization,
    /// Accept `x-amz-content-sha256: UNSIGNED-PAYLOAD`, which leaves the body unauthenticated. Off by
    /// default except for S3: a KMS server must not accept it.
    pub allow_unsigned_payload: bool,
    /// Lowercase header names that must be signed besides `host` and `x-amz-date` (a KMS server should
    /// require `x-amz-target` and `content-type`: botocore signs both).
    pub required_signed_headers: Vec<String>,
}

impl VerifyPolicy {
    /// AWS's defaults for `service` in `region`: [`AWS_MAX_SKEW`], [`Canonicalization::for_service`],
    /// `UNSIGNED-PAYLOAD` only for S3, nothing required beyond `host` and `x-amz-date`.
    #[must_use]
    pub fn new(region: impl Into<String>, service: impl Into<String>) -> Self {
        let service = service.into();
        Self {
            region: region.into(),
            max_skew: AWS_MAX_SKEW,
            canonicalization: Canonicalization::for_service(&service),
            allow_unsigned_payload: is_s3(&service),
            required_signed_headers: Vec::new(),
            service,
        }
    }
}

/// A request whose signature checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedRequest {
    /// The access key id that signed it.
    pub access_key_id: String,
    /// The credential scope it was signed for.
    pub scope: Scope,
    /// The signed header names, lowercase and sorted.
    pub signed_headers: Vec<String>,
    /// The request time (`X-Amz-Date`).
    pub request_time: SystemTime,
    /// `false` when the client sent `UNSIGNED-PAYLOAD` (and the policy allowed it): the body is then not
    /// authenticated.
    pub payload_signed: bool,
}

impl VerifiedRequest {
    /// Whether header `name` (any case) was covered by the signature.
    #[must_use]
    pub fn is_signed(&self, name: &str) -> bool {
        self.signed_headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name))
    }
}

/// Signs `req` for `service` in `region` at `time` with the settings botocore uses for that service
/// ([`SigningSettings::for_service`]) and returns the headers to add: `X-Amz-Date`,
/// `X-Amz-Security-Token` when `creds` has a session token, `x-amz-content-sha256` for S3, and
/// `Authorization`.
///
/// Every header of `req` is signed (names lowercased and sorted) except the hop-by-hop and tracing
/// headers botocore leaves out (`user-agent`, `transfer-encoding`, …), plus the headers added.
///
/// # Errors
/// [`SigV4Error::InvalidSigningInput`] if `req` has no `Host` header, already has `X-Amz-Date`,
/// `Authorization` (or `X-Amz-Security-Token` while `creds` has a token), has an invalid header name,
/// a header value with control characters, a path not starting with `/`, if `region`, `service` or the
/// access key id are empty or contain `/`, `,`, `=` or whitespace, or if `time` is outside years 0–9999.
pub fn sign(
    req: &SignableRequest<'_>,
    creds: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Result<Vec<(String, String)>, SigV4Error> {
    sign_with(
        req,
        creds,
        region,
        service,
        time,
        &SigningSettings::for_service(service),
    )
    .map(|out| out.headers)
}

/// [`sign`] with explicit settings, returning the intermediate values too.
///
/// # Errors
/// As [`sign`].
pub fn sign_with(
    req: &SignableRequest<'_>,
    creds: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
    settings: &SigningSettings,
) -> Result<SigningOutput, SigV4Error> {
    let invalid = |message: String| SigV4Error::InvalidSigningInput { message };
    for (what, v) in [
        ("region", region),
        ("service", service),
        ("access key id", creds.access_key_id.as_str()),
    ] {
        if !is_scope_part(v) {
            return Err(invalid(format!(
                "the {what} {} is empty or contains '/', ',', '=', ';' or whitespace",
                quoted(v)
            )));
        }
    }
    let unix =
        unix_seconds(time).ok_or_else(|| invalid("the signing time is out of range".to_owned()))?;
    let amz_date = format_amz_date(unix)
        .ok_or_else(|| invalid("the signing time is outside years 0-9999".to_owned()))?;
    let mut has_host = false;
    let mut content_sha256 = Vec::new();
    for (name, value) in req.headers {
        canonical::check_header_name(name).map_err(|e| invalid(e.0))?;
        canonical::check_header_value(name, value).map_err(|e| invalid(e.0))?;
        let refused = name.eq_ignore_ascii_case("x-amz-date")
            || name.eq_ignore_ascii_case("authorization")
            || (creds.session_token.is_some() && name.eq_ignore_ascii_case("x-amz-security-token"));
        if refused {
            return Err(invalid(format!(
                "the request already has a {name} header; the signer adds it"
            )));
        }
        has_host |= name.eq_ignore_ascii_case("host");
        if name.eq_ignore_ascii_case("x-amz-content-sha256") {
            content_sha256.push(value.trim_matches([' ', '\t']));
        }
    }
    if !has_host {
        return Err(invalid("the request has no Host header".to_owned()));
    }

    let body_hash;
    let payload_hash = match content_sha256.as_slice() {
        [] => {
            body_hash = hex::encode(hash::sha256(req.body));
            body_hash.as_str()
        }
        [one] => one,
        _ => {
            return Err(invalid(
                "the request has more than one x-amz-content-sha256 header".to_owned(),
            ));
        }
    };

    let mut added: Vec<(String, String)> = vec![("X-Amz-Date".to_owned(), amz_date.clone())];
    if let Some(token) = &creds.session_token {
        canonical::check_header_value("X-Amz-Security-Token", token).map_err(|e| invalid(e.0))?;
        if settings.session_token == SessionTokenPlacement::Signed {
            added.push(("X-Amz-Security-Token".to_owned(), token.clone()));
        }
    }
    if settings.content_sha256_header && content_sha256.is_empty() {
        added.push(("x-amz-content-sha256".to_owned(), payload_hash.to_owned()));
    }

    let mut signed: Vec<String> = req
        .headers
        .iter()
        .chain(&added)
        .map(|(n, _)| n.to_ascii_lowercase())
        .filter(|n| !UNSIGNED_HEADERS.contains(&n.as_str()))
        .collect();
    signed.sort();
    signed.dedup();
    let all: Vec<(&str, &str)> = req
        .headers
        .iter()
        .chain(&added)
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let canonical_request = canonical::canonical_request(
        req.method,
        req.uri,
        &all,
        &signed,
        payload_hash,
        settings.canonicalization,
    )
    .map_err(|e| invalid(e.0))?;

    let scope = Scope::new(amz_date.get(..8).unwrap_or_default(), region, service);
    let string_to_sign = string_to_sign(&amz_date, &scope, &canonical_request);
    let key = signing_key(creds.secret_access_key(), &scope);
    let signature = signature(&key, &string_to_sign);

    if let (Some(token), SessionTokenPlacement::AfterSigning) =
        (&creds.session_token, settings.session_token)
    {
        added.push(("X-Amz-Security-Token".to_owned(), token.clone()));
    }
    added.push((
        "Authorization".to_owned(),
        format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
            creds.access_key_id,
            signed.join(";")
        ),
    ));
    Ok(SigningOutput {
        headers: added,
        canonical_request,
        string_to_sign,
        signature,
    })
}

/// Verifies the `Authorization` header of `req` (header-based auth, `AWS4-HMAC-SHA256`) against the
/// secret that `lookup` returns for its access key id, with AWS's rules for `expected_service`
/// ([`VerifyPolicy::new`]) and a tolerance of `max_skew` ([`AWS_MAX_SKEW`] is AWS's).
///
/// # Errors
/// - [`SigV4Error::MissingAuthenticationToken`]: no `Authorization` header and no query-string auth.
/// - [`SigV4Error::IncompleteSignature`]: malformed or unsupported authentication, `host` or
///   `x-amz-date` not signed, `X-Amz-Date` missing or malformed, a signed header absent, presigned URL.
/// - [`SigV4Error::ScopeMismatch`]: scope date ≠ `X-Amz-Date` date, wrong region, service or terminator.
/// - [`SigV4Error::SignatureExpired`] / [`SigV4Error::SignatureNotYetCurrent`]: outside ±`max_skew`.
/// - [`SigV4Error::UnrecognizedClient`]: `lookup` knows no such key.
/// - [`SigV4Error::InvalidSecurityToken`]: the session token is missing, unexpected or wrong.
/// - [`SigV4Error::SignatureMismatch`]: anything signed was changed, or the secret differs.
pub fn verify<F>(
    req: &SignableRequest<'_>,
    lookup: F,
    expected_region: &str,
    expected_service: &str,
    now: SystemTime,
    max_skew: Duration,
) -> Result<VerifiedRequest, SigV4Error>
where
    F: Fn(&str) -> Option<Credentials>,
{
    let mut policy = VerifyPolicy::new(expected_region, expected_service);
    policy.max_skew = max_skew;
    verify_with(req, lookup, &policy, now)
}

/// [`verify`] with an explicit [`VerifyPolicy`].
///
/// Checks run in this order, and the first failure is returned: presence and shape of the
/// `Authorization` header, `X-Amz-Date`, required signed headers, credential scope, clock skew, access
/// key, session token, payload hash, signature.
///
/// # Errors
/// As [`verify`]; also [`SigV4Error::IncompleteSignature`] when a header in
/// [`VerifyPolicy::required_signed_headers`] is not signed, or when `x-amz-content-sha256` is neither a
/// hex digest nor an allowed `UNSIGNED-PAYLOAD`.
pub fn verify_with<F>(
    req: &SignableRequest<'_>,
    lookup: F,
    policy: &VerifyPolicy,
    now: SystemTime,
) -> Result<VerifiedRequest, SigV4Error>
where
    F: Fn(&str) -> Option<Credentials>,
{
    let incomplete = |message: String| SigV4Error::IncompleteSignature { message };
    let auth_values = header_values(req.headers, "authorization");
    let query_auth = has_query_auth(req.uri);
    let auth = match (auth_values.as_slice(), query_auth) {
        ([], false) => return Err(SigV4Error::MissingAuthenticationToken),
        ([], true) => {
            return Err(incomplete(
                "Query-string authentication (presigned URLs) is not supported by this service; \
                 send an Authorization header."
                    .to_owned(),
            ));
        }
        ([_], true) => return Err(SigV4Error::ConflictingAuthMechanisms),
        ([one], false) => parse_authorization(one)?,
        _ => {
            return Err(incomplete(
                "The request has more than one Authorization header.".to_owned(),
            ));
        }
    };

    let amz_date = match header_values(req.headers, "x-amz-date").as_slice() {
        [] => {
            return Err(incomplete(
                "Authorization header requires existence of a 'X-Amz-Date' header.".to_owned(),
            ));
        }
        [one] => one.trim_matches([' ', '\t']),
        _ => {
            return Err(incomplete(
                "The request has more than one X-Amz-Date header.".to_owned(),
            ));
        }
    };
    let request_unix = parse_amz_date(amz_date).ok_or_else(|| {
        incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got {}. See http://en.wikipedia.org/wiki/ISO_8601",
            quoted(amz_date)
        ))
    })?;
    let request_time = system_time(request_unix)
        .ok_or_else(|| incomplete(format!("X-Amz-Date {} is out of range.", quoted(amz_date))))?;

    for required in ["host", "x-amz-date"]
        .into_iter()
        .chain(policy.required_signed_headers.iter().map(String::as_str))
    {
        if !auth
            .signed_headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case(required))
        {
            let shown = match required {
                "host" => "'Host' or ':authority'".to_owned(),
                "x-amz-date" => "'X-Amz-Date'".to_owned(),
                other => quoted(other),
            };
            return Err(incomplete(format!(
                "{shown} must be a 'SignedHeader' in the AWS Authorization."
            )));
        }
    }

    check_scope(&auth, amz_date, policy)?;
    check_skew(request_unix, amz_date, now, policy.max_skew)?;

    let creds = lookup(&auth.access_key_id).ok_or_else(|| SigV4Error::UnrecognizedClient {
        access_key_id: auth.access_key_id.clone(),
    })?;
    let tokens = header_values(req.headers, "x-amz-security-token");
    let token_ok = match (tokens.as_slice(), &creds.session_token) {
        ([], None) => true,
        ([sent], Some(expected)) => primitives::ct_eq(sent.trim().as_bytes(), expected.as_bytes()),
        _ => false,
    };
    if !token_ok {
        return Err(SigV4Error::InvalidSecurityToken {
            access_key_id: auth.access_key_id,
        });
    }

    let body_hash = hex::encode(hash::sha256(req.body));
    let (payload_hash, payload_signed) =
        match header_values(req.headers, "x-amz-content-sha256").as_slice() {
            [] => (body_hash.as_str(), true),
            [one] => {
                let v = one.trim_matches([' ', '\t']);
                if v == UNSIGNED_PAYLOAD && policy.allow_unsigned_payload {
                    (UNSIGNED_PAYLOAD, false)
                } else if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
                    // Never trust the client's hash: a changed body must fail the signature.
                    (body_hash.as_str(), true)
                } else {
                    return Err(incomplete(format!(
                        "x-amz-content-sha256 value {} is not accepted by this service.",
                        quoted(v)
                    )));
                }
            }
            _ => {
                return Err(incomplete(
                    "The request has more than one x-amz-content-sha256 header.".to_owned(),
                ));
            }
        };

    let headers: Vec<(&str, &str)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let canonical_request = canonical::canonical_request(
        req.method,
        req.uri,
        &headers,
        &auth.signed_headers,
        payload_hash,
        policy.canonicalization,
    )
    .map_err(|CanonError(m)| incomplete(m))?;
    let scope = Scope::new(auth.date, auth.region, auth.service);
    let string_to_sign = string_to_sign(amz_date, &scope, &canonical_request);
    let key = signing_key(creds.secret_access_key(), &scope);
    let expected = signature(&key, &string_to_sign);
    if !primitives::ct_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        return Err(SigV4Error::SignatureMismatch {
            access_key_id: auth.access_key_id,
            signature_provided: auth.signature,
            string_to_sign,
            canonical_request,
        });
    }
    Ok(VerifiedRequest {
        access_key_id: auth.access_key_id,
        scope,
        signed_headers: auth.signed_headers,
        request_time,
        payload_signed,
    })
}

/// The canonical request of `req` over `signed_headers` (names in any case and order; they are
/// lowercased, sorted and de-duplicated) with `payload_hash` as its last line.
///
/// For a presigned URL, pass the URI with every `X-Amz-*` query parameter except `X-Amz-Signature` and
/// `UNSIGNED-PAYLOAD` as the payload hash.
///
/// # Errors
/// [`SigV4Error::InvalidSigningInput`] if a signed header is absent from `req` or has control characters
/// in its value, a name is not a token, the method is not a token, the path does not start with `/`, or
/// `payload_hash` is not visible ASCII.
pub fn canonical_request(
    req: &SignableRequest<'_>,
    signed_headers: &[String],
    payload_hash: &str,
    canonicalization: Canonicalization,
) -> Result<String, SigV4Error> {
    let invalid = |CanonError(message)| SigV4Error::InvalidSigningInput { message };
    let mut signed = Vec::with_capacity(signed_headers.len());
    for name in signed_headers {
        canonical::check_header_name(name).map_err(invalid)?;
        signed.push(name.to_ascii_lowercase());
    }
    signed.sort();
    signed.dedup();
    let headers: Vec<(&str, &str)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    canonical::canonical_request(
        req.method,
        req.uri,
        &headers,
        &signed,
        payload_hash,
        canonicalization,
    )
    .map_err(invalid)
}

/// The string to sign: `AWS4-HMAC-SHA256 \n <amz_date> \n <scope> \n hex(SHA-256(canonical request))`.
#[must_use]
pub fn string_to_sign(amz_date: &str, scope: &Scope, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(hash::sha256(canonical_request.as_bytes()))
    )
}

/// The signing key: `HMAC(HMAC(HMAC(HMAC("AWS4" ‖ secret, date), region), service), "aws4_request")`.
/// Intermediate keys are zeroized.
#[must_use]
pub fn signing_key(secret_access_key: &SecretBytes, scope: &Scope) -> DerivedKey {
    let mut k_secret = Zeroizing::new(Vec::with_capacity(4 + secret_access_key.len()));
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret_access_key.expose_secret());
    let k_date = Zeroizing::new(kdf::hmac_sha256(&k_secret, &[scope.date.as_bytes()]));
    let k_region = Zeroizing::new(kdf::hmac_sha256(&*k_date, &[scope.region.as_bytes()]));
    let k_service = Zeroizing::new(kdf::hmac_sha256(&*k_region, &[scope.service.as_bytes()]));
    DerivedKey::from_bytes(kdf::hmac_sha256(
        &*k_service,
        &[SCOPE_TERMINATOR.as_bytes()],
    ))
}

/// The signature: lowercase hex of `HMAC(signing key, string to sign)`.
#[must_use]
pub fn signature(signing_key: &DerivedKey, string_to_sign: &str) -> String {
    hex::encode(kdf::hmac_sha256(
        signing_key.expose_secret(),
        &[string_to_sign.as_bytes()],
    ))
}

/// The parts of an `Authorization` header.
pub(crate) struct ParsedAuth {
    pub(crate) access_key_id: String,
    pub(crate) date: String,
    pub(crate) region: String,
    pub(crate) service: String,
    pub(crate) terminator: String,
    pub(crate) signed_headers: Vec<String>,
    pub(crate) signature: String,
}

/// Parses `AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, SignedHeaders=a;b,
/// Signature=hex`. Components may come in any order, separated by `,` with optional whitespace.
pub(crate) fn parse_authorization(value: &str) -> Result<ParsedAuth, SigV4Error> {
    let incomplete = |message: String| SigV4Error::IncompleteSignature { message };
    let value = value.trim_matches([' ', '\t']);
    let (algorithm, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    if algorithm != ALGORITHM {
        return Err(incomplete(format!(
            "Unsupported AWS 'algorithm': {}; only '{ALGORITHM}' is accepted.",
            quoted(algorithm)
        )));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim_matches([' ', '\t']);
        if part.is_empty() {
            continue;
        }
        let Some((key, val)) = part.split_once('=') else {
            return Err(incomplete(format!(
                "Authorization header component {} is not of the form key=value.",
                quoted(part)
            )));
        };
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => {
                return Err(incomplete(format!(
                    "Authorization header has an unknown component {}.",
                    quoted(key)
                )));
            }
        };
        if slot.replace(val).is_some() {
            return Err(incomplete(format!(
                "Authorization header has more than one '{key}' parameter."
            )));
        }
    }
    let mut missing = String::new();
    for (name, v) in [
        ("Credential", credential),
        ("Signature", signature),
        ("SignedHeaders", signed_headers),
    ] {
        if v.is_none_or(str::is_empty) {
            missing.push_str(&format!(
                "Authorization header requires '{name}' parameter. "
            ));
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(incomplete(missing.trim_end().to_owned()));
    };
    if !missing.is_empty() {
        return Err(incomplete(missing.trim_end().to_owned()));
    }

    let parts: Vec<&str> = credential.split('/').collect();
    let [akid, date, region, service, terminator] = parts.as_slice() else {
        return Err(incomplete(format!(
            "Credential should have 5 slash-separated parts \
             (<access key id>/<YYYYMMDD>/<region>/<service>/aws4_request), not {}.",
            parts.len()
        )));
    };
    if [akid, date, region, service, terminator]
        .iter()
        .any(|p| p.is_empty())
    {
        return Err(incomplete(
            "Credential has an empty slash-separated part.".to_owned(),
        ));
    }

    let names: Vec<String> = signed_headers.split(';').map(str::to_owned).collect();
    if let Some(bad) = names.iter().find(|n| !canonical::is_lowercase_token(n)) {
        return Err(incomplete(format!(
            "SignedHeaders has an invalid header name {}: names must be lowercase HTTP tokens.",
            quoted(bad)
        )));
    }
    if names.windows(2).any(|w| w[0] >= w[1]) {
        return Err(incomplete(
            "SignedHeaders must be sorted and free of duplicates.".to_owned(),
        ));
    }

    Ok(ParsedAuth {
        access_key_id: (*akid).to_owned(),
        date: (*date).to_owned(),
        region: (*region).to_owned(),
        service: (*service).to_owned(),
        terminator: (*terminator).to_owned(),
        signed_headers: names,
        signature: signature.to_owned(),
    })
}

/// The credential scope must be `<date of X-Amz-Date>/<policy region>/<policy service>/aws4_request`.
fn check_scope(auth: &ParsedAuth, amz_date: &str, policy: &VerifyPolicy) -> Result<(), SigV4Error> {
    check_scope_parts(
        AuthType::Header,
        &auth.date,
        &auth.region,
        &auth.service,
        &auth.terminator,
        amz_date,
        &policy.region,
        &policy.service,
    )
}

/// The credential-scope checks shared by header and query auth, in S3's order: terminator, date
/// against `X-Amz-Date`, region, service.
#[allow(clippy::too_many_arguments)]
fn check_scope_parts(
    auth: AuthType,
    date: &str,
    region: &str,
    service: &str,
    terminator: &str,
    amz_date: &str,
    expected_region: &str,
    expected_service: &str,
) -> Result<(), SigV4Error> {
    let mismatch = |problem| Err(SigV4Error::ScopeMismatch { auth, problem });
    if terminator != SCOPE_TERMINATOR {
        return mismatch(ScopeProblem::Terminator {
            got: terminator.to_owned(),
        });
    }
    if date != amz_date.get(..8).unwrap_or_default() {
        return mismatch(ScopeProblem::Date {
            credential_date: date.to_owned(),
            amz_date: amz_date.to_owned(),
        });
    }
    if region != expected_region {
        return mismatch(ScopeProblem::Region {
            got: region.to_owned(),
            expected: expected_region.to_owned(),
        });
    }
    if service != expected_service {
        return mismatch(ScopeProblem::Service {
            got: service.to_owned(),
            expected: expected_service.to_owned(),
        });
    }
    Ok(())
}

pub(crate) fn check_skew(
    request_unix: i64,
    amz_date: &str,
    now: SystemTime,
    max_skew: Duration,
) -> Result<(), SigV4Error> {
    // A clock before 1970 or past i64 seconds is a server bug; clamp rather than fail open.
    let now_unix = unix_seconds(now).unwrap_or(i64::MAX);
    let skew = i64::try_from(max_skew.as_secs()).unwrap_or(i64::MAX);
    if request_unix < now_unix.saturating_sub(skew) {
        return Err(SigV4Error::SignatureExpired {
            amz_date: amz_date.to_owned(),
            request_time: request_unix,
            now: now_unix,
            max_skew,
        });
    }
    if request_unix > now_unix.saturating_add(skew) {
        return Err(SigV4Error::SignatureNotYetCurrent {
            amz_date: amz_date.to_owned(),
            request_time: request_unix,
            now: now_unix,
            max_skew,
        });
    }
    Ok(())
}

pub(crate) fn header_values<'h>(headers: &'h [(String, String)], name: &str) -> Vec<&'h str> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Whether the query string carries SigV4 query authentication (`X-Amz-Algorithm`, `X-Amz-Credential`
/// or `X-Amz-Signature`, any case).
fn has_query_auth(uri: &str) -> bool {
    let Some((_, query)) = uri.split_once('?') else {
        return false;
    };
    query.split('&').any(|pair| {
        let key = pair.split_once('=').map_or(pair, |(k, _)| k);
        ["x-amz-algorithm", "x-amz-credential", "x-amz-signature"]
            .iter()
            .any(|k| key.eq_ignore_ascii_case(k))
    })
}

pub(crate) fn is_s3(service: &str) -> bool {
    matches!(service, "s3" | "s3-outposts" | "s3express")
}

/// A credential-scope element or access key id must be non-empty and free of the separators of the
/// `Authorization` header and of whitespace/control characters.
pub(crate) fn is_scope_part(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| (0x21..0x7f).contains(&b) && !matches!(b, b'/' | b',' | b'=' | b';'))
}

/// Whole seconds since the Unix epoch (floor), or `None` when out of `i64` range.
pub(crate) fn unix_seconds(t: SystemTime) -> Option<i64> {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).ok(),
        Err(e) => {
            let d = e.duration();
            let secs = i64::try_from(d.as_secs()).ok()?;
            let secs = if d.subsec_nanos() > 0 {
                secs.checked_add(1)?
            } else {
                secs
            };
            Some(-secs)
        }
    }
}

pub(crate) fn system_time(unix: i64) -> Option<SystemTime> {
    if unix >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(unix.unsigned_abs()))
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(unix.unsigned_abs()))
    }
}

/// `YYYYMMDDTHHMMSSZ` for years 0–9999.
pub(crate) fn format_amz_date(unix: i64) -> Option<String> {
    let dt = OffsetDateTime::from_unix_timestamp(unix).ok()?;
    if !(0..=9999).contains(&dt.year()) {
        return None;
    }
    dt.format(format_description!(
        "[year][month][day]T[hour][minute][second]Z"
    ))
    .ok()
}

/// Parses exactly `YYYYMMDDTHHMMSSZ` (16 ASCII characters, a valid UTC calendar time).
pub(crate) fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let shape_ok = b.len() == 16
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 => c == b'T',
            15 => c == b'Z',
            _ => c.is_ascii_digit(),
        });
    if !shape_ok {
        return None;
    }
    let dt = PrimitiveDateTime::parse(
        s,
        format_description!("[year][month][day]T[hour][minute][second]Z"),
    )
    .ok()?;
    Some(dt.assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn creds() -> Credentials {
        Credentials::new("AKIDEXAMPLE", SECRET, Some("token-value-123".to_owned()))
    }

    #[test]
    fn signing_key_matches_the_aws_documentation_example() {
        // AWS General Reference, "Deriving the signing key" example (20120215/us-east-1/iam), also
        // recomputed with Python's hmac module.
        let key = signing_key(
            creds().secret_access_key(),
            &Scope::new("20120215", "us-east-1", "iam"),
        );
        assert_eq!(
            hex::encode(key.expose_secret()),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn amz_dates_round_trip_and_bad_ones_are_refused() {
        let t = parse_amz_date("20150830T123600Z").expect("valid");
        assert_eq!(t, 1_440_938_160);
        assert_eq!(format_amz_date(t).as_deref(), Some("20150830T123600Z"));
        assert_eq!(format_amz_date(0).as_deref(), Some("19700101T000000Z"));
        for bad in [
            "",
            "20150830T123600",
            "20150830T123600z",
            "2015-08-30T12:36:00Z",
            "20151330T123600Z",
            "20150230T123600Z",
            "20150830T246000Z",
            "20150830T123660Z",
            "+0150830T123600Z",
            "2015083OT123600Z",
            "20150830T12360０Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad:?}");
        }
        assert_eq!(
            unix_seconds(UNIX_EPOCH - Duration::from_millis(1500)),
            Some(-2)
        );
        assert_eq!(format_amz_date(i64::MAX), None);
        assert_eq!(error::display_time(i64::MIN), format!("@{}", i64::MIN));
    }

    #[test]
    fn authorization_header_parsing() {
        let ok = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AK/20150830/r/s/aws4_request,SignedHeaders=host;x-amz-date,  \
             Signature=abc",
        )
        .map_err(|e| e.kms().message)
        .expect("valid");
        assert_eq!(ok.access_key_id, "AK");
        assert_eq!(ok.signed_headers, ["host", "x-amz-date"]);
        assert_eq!(ok.signature, "abc");

        let msg = |v: &str| match parse_authorization(v) {
            Err(SigV4Error::IncompleteSignature { message }) => message,
            Err(e) => panic!("{v:?}: unexpected {e:?}"),
            Ok(_) => panic!("{v:?}: accepted"),
        };
        assert!(msg("AWS4-HMAC-SHA512 Credential=a").contains("Unsupported AWS 'algorithm'"));
        assert!(msg("AWS AKID:sig").contains("'AWS'"));
        assert_eq!(
            msg("AWS4-HMAC-SHA256 Credential=AK/20150830/r/s/aws4_request"),
            "Authorization header requires 'Signature' parameter. Authorization header requires \
             'SignedHeaders' parameter."
        );
        assert!(
            msg("AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=x")
                .contains("5 slash-separated parts")
        );
        assert!(
            msg(
                "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=x-amz-date;host, Signature=x"
            )
            .contains("sorted")
        );
        assert!(
            msg("AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=Host, Signature=x")
                .contains("lowercase")
        );
        assert!(
            msg("AWS4-HMAC-SHA256 Credential=a/b/c/d/e, Credential=a/b/c/d/e, Signature=x")
                .contains("more than one 'Credential'")
        );
        assert!(msg("AWS4-HMAC-SHA256 Credential=a/b/c/d/e, Foo=1").contains("unknown"));
        assert!(msg("AWS4-HMAC-SHA256 garbage").contains("key=value"));
    }

    #[test]
    fn error_codes_messages_and_statuses() {
        let now = parse_amz_date("20150830T130100Z").expect("valid");
        let expired = SigV4Error::SignatureExpired {
            amz_date: "20150830T123600Z".into(),
            request_time: now - 1500,
            now,
            max_skew: AWS_MAX_SKEW,
        };
        assert_eq!(
            expired.kms().message,
            "Signature expired: 20150830T123600Z is now earlier than 20150830T124600Z \
             (20150830T130100Z - 15 min.)"
        );
        assert_eq!(expired.kms().code, "InvalidSignatureException");
        assert_eq!(
            SigV4Error::MissingAuthenticationToken.to_string(),
            "MissingAuthenticationTokenException: Missing Authentication Token"
        );
        assert_eq!(
            SigV4Error::UnrecognizedClient {
                access_key_id: "AK".into()
            }
            .kms()
            .code,
            "UnrecognizedClientException"
        );
        assert_eq!(
            SigV4Error::SignatureMismatch {
                access_key_id: "AK".into(),
                signature_provided: String::new(),
                string_to_sign: String::new(),
                canonical_request: String::new(),
            }
            .kms()
            .message,
            "The request signature we calculated does not match the signature you provided. Check \
             your AWS Secret Access Key and signing method. Consult the service documentation for \
             details."
        );
        assert_eq!(SigV4Error::MissingAuthenticationToken.kms().status, 400);
    }

    #[test]
    fn skew_bounds_are_inclusive_and_messages_match_aws() {
        let t = parse_amz_date("20150830T123600Z").expect("valid");
        let at = |secs: i64| system_time(t + secs).expect("in range");
        assert!(check_skew(t, "20150830T123600Z", at(900), AWS_MAX_SKEW).is_ok());
        assert!(check_skew(t, "20150830T123600Z", at(-900), AWS_MAX_SKEW).is_ok());
        let late = check_skew(t, "20150830T123600Z", at(1500), AWS_MAX_SKEW).expect_err("expired");
        assert_eq!(
            late.kms().message,
            "Signature expired: 20150830T123600Z is now earlier than 20150830T124600Z \
             (20150830T130100Z - 15 min.)"
        );
        let early = check_skew(t, "20150830T123600Z", at(-1500), AWS_MAX_SKEW).expect_err("future");
        assert_eq!(
            early.kms().message,
            "Signature not yet current: 20150830T123600Z is still later than 20150830T122600Z \
             (20150830T121100Z + 15 min.)"
        );
        let odd = check_skew(t, "x", at(100), Duration::from_secs(90)).expect_err("expired");
        assert!(
            odd.kms().message.ends_with("- 90 sec.)"),
            "{}",
            odd.kms().message
        );
    }

    #[test]
    fn secrets_never_reach_debug_or_errors() {
        let c = creds();
        let rendered = [
            format!("{c:?}"),
            format!("{c:#?}"),
            format!("{:?}", Some(c.clone())),
        ];
        for r in &rendered {
            assert!(!r.contains(SECRET), "{r}");
            assert!(!r.contains("token-value-123"), "{r}");
            assert!(r.contains("AKIDEXAMPLE"), "{r}");
        }
        let key = signing_key(c.secret_access_key(), &Scope::new("20150830", "r", "s"));
        assert_eq!(format!("{key:?}"), "DerivedKey([REDACTED])");
        let headers = vec![("host".to_owned(), "h".to_owned())];
        let req = SignableRequest {
            method: "POST",
            uri: "/",
            headers: &headers,
            body: SECRET.as_bytes(),
        };
        assert!(!format!("{req:?}").contains(SECRET));
    }
}
