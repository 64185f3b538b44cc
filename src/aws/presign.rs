//! S3 request authentication: presigned URLs (SigV4 query parameters) and the `Authorization` header
//! with S3's payload rules, plus presigned-URL generation that matches botocore byte for byte.
//!
//! | you want to…                                         | use                    |
//! |------------------------------------------------------|------------------------|
//! | check any S3 request (header or presigned)           | [`verify_s3`]          |
//! | make a presigned URL                                 | [`presign_url`]        |
//! | decode the body of a `STREAMING-*` request           | [`Payload::Streaming`] → [`ChunkedReader`](crate::aws::chunked::ChunkedReader) |
//!
//! Presigned URLs are refused in the order S3 checks them (rows 1–14 of the refusal table in `../shared/reference/S3-FEATURES.md` §1.2, compiled from <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html> and captures of S3): two auth
//! mechanisms, algorithm, missing parameters, `X-Amz-Date`, `X-Amz-Expires` (number, ≥ 0, ≤ 604800),
//! not yet valid, expired, credential (shape, date format, region, service, terminator, day), unsigned
//! headers, unknown key, signature. The canonical request follows <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html>: S3 path rules (no
//! double encoding), the query without `X-Amz-Signature`, payload `UNSIGNED-PAYLOAD` unless the request
//! carries `x-amz-content-sha256`.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use s3crypt::aws::presign::{self, S3Policy};
//! use s3crypt::aws::sigv4::{Credentials, SignableRequest};
//!
//! # fn main() -> Result<(), s3crypt::aws::sigv4::SigV4Error> {
//! let creds = Credentials::new("AKIDEXAMPLE", "secret", None);
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let url = presign::presign_url("GET", "https://bucket.s3.amazonaws.com/key.txt", &creds,
//!     "us-east-1", "s3", now, 3600, &[])?;
//! let target = url.strip_prefix("https://bucket.s3.amazonaws.com").unwrap_or_default();
//! let headers = vec![("Host".to_owned(), "bucket.s3.amazonaws.com".to_owned())];
//! let req = SignableRequest { method: "GET", uri: target, headers: &headers, body: b"" };
//! let lookup = |id: &str| (id == "AKIDEXAMPLE").then(|| creds.clone());
//! let ok = presign::verify_s3(&req, lookup, &S3Policy::new("us-east-1"), now + Duration::from_secs(60))?;
//! assert_eq!(ok.access_key_id, "AKIDEXAMPLE");
//! assert_eq!(ok.signature_age, Duration::from_secs(60));
//! # Ok(())
//! # }
//! ```

use std::time::{Duration, SystemTime};

use crate::aws::chunked::{StreamingAuth, StreamingMode};
use crate::aws::sigv4::canonical::{self, CanonError};
use crate::aws::sigv4::{
    self, ALGORITHM, AWS_MAX_SKEW, AuthType, Canonicalization, Credentials, Scope, ScopeProblem,
    SigV4Error, SignableRequest, UNSIGNED_PAYLOAD,
};
use crate::primitives::{self, hash};

/// The longest lifetime of a presigned URL: 7 days (`X-Amz-Expires` ≤ 604800, inclusive).
pub const MAX_EXPIRES: u64 = 604_800;

/// The SigV4a algorithm name: a valid `X-Amz-Algorithm` this crate does not implement.
pub const ALGORITHM_SIGV4A: &str = "AWS4-ECDSA-P256-SHA256";

/// The six query parameters every presigned URL needs (row 3).
const REQUIRED_PARAMS: [&str; 6] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-Date",
    "X-Amz-SignedHeaders",
    "X-Amz-Expires",
];

/// What [`verify_s3`] accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Policy {
    /// The region the credential scope must name.
    pub region: String,
    /// The signing name the credential scope must name: `s3` ([`S3Policy::new`]), or another
    /// service's (`glacier`), for which a missing `x-amz-content-sha256` means the hash of the body.
    pub service: String,
    /// Header auth: the largest accepted difference between `X-Amz-Date` and the server clock.
    /// Presigned URLs: how far in the future `X-Amz-Date` may lie.
    pub max_skew: Duration,
    /// When set, a hex `x-amz-content-sha256` is not compared with `req.body`: the result carries
    /// [`Payload::Sha256`] and the caller checks the body as it streams it (a 5 GiB PUT is never held
    /// in memory). Off by default.
    pub defer_body_hash: bool,
}

impl S3Policy {
    /// S3 in `region`: service `s3`, [`AWS_MAX_SKEW`] (15 minutes).
    #[must_use]
    pub fn new(region: impl Into<String>) -> Self {
        Self {
            region: region.into(),
            service: "s3".to_owned(),
            max_skew: AWS_MAX_SKEW,
            defer_body_hash: false,
        }
    }
}

/// How the body of an authenticated S3 request is protected.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Payload {
    /// `x-amz-content-sha256` held the body's SHA-256, and the body matched it.
    Signed,
    /// `UNSIGNED-PAYLOAD` (the default of presigned URLs): the body is not authenticated.
    Unsigned,
    /// `x-amz-content-sha256` held this hex SHA-256 (lowercase) and [`S3Policy::defer_body_hash`] was
    /// set: the signature covers it, and the caller must refuse the body unless it hashes to it
    /// ([`SigV4Error::ContentSha256Mismatch`]).
    Sha256(String),
    /// A `STREAMING-*` value: the body is `aws-chunked`; decode it with
    /// [`ChunkedReader`](crate::aws::chunked::ChunkedReader), which checks every chunk.
    Streaming(StreamingAuth),
}

/// An S3 request whose signature checked out.
#[derive(Clone, Debug)]
pub struct S3Auth {
    /// The access key id that signed it.
    pub access_key_id: String,
    /// The credential scope it was signed for.
    pub scope: Scope,
    /// The signed header names, lowercase, as listed by the client.
    pub signed_headers: Vec<String>,
    /// Header or presigned URL.
    pub auth_type: AuthType,
    /// `X-Amz-Date`.
    pub request_time: SystemTime,
    /// `now` − `X-Amz-Date` (zero when `X-Amz-Date` is ahead of the clock): `s3:signatureAge`.
    pub signature_age: Duration,
    /// Presigned URLs: `X-Amz-Date` + `X-Amz-Expires`.
    pub expires_at: Option<SystemTime>,
    /// How the body is protected.
    pub payload: Payload,
}

impl S3Auth {
    /// Whether header `name` (any case) was covered by the signature.
    #[must_use]
    pub fn is_signed(&self, name: &str) -> bool {
        self.signed_headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name))
    }
}

/// Verifies an S3 request: a presigned URL when the query carries `X-Amz-Algorithm`,
/// `X-Amz-Credential` or `X-Amz-Signature`, otherwise the `Authorization` header. `lookup` returns the
/// credentials (secret and, for temporary credentials, session token) of an access key id.
///
/// The body in `req` is hashed only when `x-amz-content-sha256` is a hex digest; for `STREAMING-*`
/// payloads pass the raw body to [`ChunkedReader`](crate::aws::chunked::ChunkedReader) instead.
///
/// # Errors
/// Presigned URLs: the variants of rows 1–14 of `../shared/reference/S3-FEATURES.md` §1.2, in that order
/// ([`SigV4Error::ConflictingAuthMechanisms`] … [`SigV4Error::SignatureMismatch`]) and
/// [`SigV4Error::InvalidSecurityToken`]. Header auth: [`SigV4Error::MissingAuthenticationToken`],
/// [`SigV4Error::IncompleteSignature`], [`SigV4Error::ScopeMismatch`],
/// [`SigV4Error::SignatureExpired`]/[`SigV4Error::SignatureNotYetCurrent`],
/// [`SigV4Error::MissingContentSha256`], [`SigV4Error::InvalidContentSha256`],
/// [`SigV4Error::HeadersNotSigned`], [`SigV4Error::UnrecognizedClient`],
/// [`SigV4Error::InvalidSecurityToken`], [`SigV4Error::SignatureMismatch`],
/// [`SigV4Error::ContentSha256Mismatch`]. Render them with [`SigV4Error::s3`].
pub fn verify_s3<F>(
    req: &SignableRequest<'_>,
    lookup: F,
    policy: &S3Policy,
    now: SystemTime,
) -> Result<S3Auth, SigV4Error>
where
    F: Fn(&str) -> Option<Credentials>,
{
    let params = query_pairs(req.uri);
    let query_auth = params.iter().any(|(k, _)| {
        matches!(
            k.as_str(),
            "X-Amz-Algorithm" | "X-Amz-Credential" | "X-Amz-Signature"
        )
    });
    let auth_headers = sigv4::header_values(req.headers, "authorization");
    match (auth_headers.is_empty(), query_auth) {
        (false, true) => Err(SigV4Error::ConflictingAuthMechanisms),
        (true, true) => verify_presigned(req, &params, lookup, policy, now),
        (true, false) => Err(SigV4Error::MissingAuthenticationToken),
        (false, false) => verify_header(req, &auth_headers, lookup, policy, now),
    }
}

/// Builds a presigned URL for `method` on `url` (`scheme://host[:port]/path[?query]`, the path already
/// percent-encoded as it will be sent) the way botocore's `generate_presigned_url` does, so the output is
/// byte-for-byte botocore's for the same inputs: operation parameters from `url`'s query first, then
/// `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`, `X-Amz-SignedHeaders`,
/// `X-Amz-Security-Token` (temporary credentials), and `X-Amz-Signature` last. `host` is always signed;
/// `signed_headers` adds more (the three SSE-C headers for SSE-C, <https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerSideEncryptionCustomerKeys.html#ssec-and-presignedurl>), which the caller
/// must then send with the request. The payload is `UNSIGNED-PAYLOAD`.
///
/// # Errors
/// [`SigV4Error::PresignExpiresOutOfRange`] unless `1 <= expires <= 604800`;
/// [`SigV4Error::InvalidSigningInput`] for a URL without `scheme://host`, a bad header name or value,
/// an empty or separator-bearing region, service or access key id, or a time outside years 0–9999.
#[allow(clippy::too_many_arguments)]
pub fn presign_url(
    method: &str,
    url: &str,
    creds: &Credentials,
    region: &str,
    service: &str,
    now: SystemTime,
    expires: u64,
    signed_headers: &[(String, String)],
) -> Result<String, SigV4Error> {
    let invalid = |message: String| SigV4Error::InvalidSigningInput { message };
    if !(1..=MAX_EXPIRES).contains(&expires) {
        return Err(SigV4Error::PresignExpiresOutOfRange { expires });
    }
    for (what, v) in [
        ("region", region),
        ("service", service),
        ("access key id", creds.access_key_id.as_str()),
    ] {
        if !sigv4::is_scope_part(v) {
            return Err(invalid(format!(
                "the {what} {} is empty or contains a separator or whitespace",
                canonical::quoted(v)
            )));
        }
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| invalid("the URL has no scheme://".to_owned()))?;
    let (authority, target) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(invalid("the URL has no host".to_owned()));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let path = if path.is_empty() { "/" } else { path };
    // botocore drops the default port from the Host header it signs.
    let host = match (scheme, authority.rsplit_once(':')) {
        ("https", Some((h, "443"))) | ("http", Some((h, "80"))) => h,
        _ => authority,
    };

    let unix = sigv4::unix_seconds(now)
        .ok_or_else(|| invalid("the signing time is out of range".to_owned()))?;
    let amz_date = sigv4::format_amz_date(unix)
        .ok_or_else(|| invalid("the signing time is outside years 0-9999".to_owned()))?;
    let scope = Scope::new(amz_date.get(..8).unwrap_or_default(), region, service);

    let mut headers: Vec<(String, String)> = vec![("host".to_owned(), host.to_owned())];
    for (n, v) in signed_headers {
        canonical::check_header_name(n).map_err(|CanonError(m)| invalid(m))?;
        canonical::check_header_value(n, v).map_err(|CanonError(m)| invalid(m))?;
        if n.eq_ignore_ascii_case("host") {
            return Err(invalid("the signer adds Host itself".to_owned()));
        }
        headers.push((n.to_ascii_lowercase(), v.clone()));
    }
    let mut names: Vec<String> = headers.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    names.dedup();

    // Operation parameters as Python's parse_qs reads them (first value of each key, `+` is a space,
    // blank values kept), re-encoded with quote(safe='-_.~'), then the auth parameters.
    let mut op: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = canonical::percent_decode(&k.replace('+', " "));
        let v = canonical::percent_decode(&v.replace('+', " "));
        if !op.iter().any(|(ek, _)| *ek == k) {
            op.push((k, v));
        }
    }
    let mut auth: Vec<(&str, String)> = vec![
        ("X-Amz-Algorithm", ALGORITHM.to_owned()),
        (
            "X-Amz-Credential",
            format!("{}/{scope}", creds.access_key_id),
        ),
        ("X-Amz-Date", amz_date.clone()),
        ("X-Amz-Expires", expires.to_string()),
        ("X-Amz-SignedHeaders", names.join(";")),
    ];
    if let Some(token) = &creds.session_token {
        auth.push(("X-Amz-Security-Token", token.clone()));
    }
    let mut qs = String::new();
    let mut push = |k: &[u8], v: &[u8]| {
        if !qs.is_empty() {
            qs.push('&');
        }
        canonical::uri_encode(k, false, &mut qs);
        qs.push('=');
        canonical::uri_encode(v, false, &mut qs);
    };
    for (k, v) in &op {
        push(k, v);
    }
    for (k, v) in &auth {
        push(k.as_bytes(), v.as_bytes());
    }

    let uri = format!("{path}?{qs}");
    let all: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let canonical_request = canonical::canonical_request(
        method,
        &uri,
        &all,
        &names,
        UNSIGNED_PAYLOAD,
        Canonicalization::for_service(service),
    )
    .map_err(|CanonError(m)| invalid(m))?;
    let sts = sigv4::string_to_sign(&amz_date, &scope, &canonical_request);
    let sig = sigv4::signature(&sigv4::signing_key(creds.secret_access_key(), &scope), &sts);
    Ok(format!(
        "{scheme}://{authority}{path}?{qs}&X-Amz-Signature={sig}"
    ))
}

/// The query pairs of `uri`, decoded, in order (keys and values percent-decoded, lossy UTF-8).
fn query_pairs(uri: &str) -> Vec<(String, String)> {
    let Some((_, query)) = uri.split_once('?') else {
        return Vec::new();
    };
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    String::from_utf8_lossy(&canonical::percent_decode(s)).into_owned()
}

/// The one value of query parameter `name`; `None` when absent or repeated.
fn single<'p>(params: &'p [(String, String)], name: &str) -> Option<&'p str> {
    let mut it = params.iter().filter(|(k, _)| k == name);
    match (it.next(), it.next()) {
        (Some((_, v)), None) => Some(v.as_str()),
        _ => None,
    }
}

fn verify_presigned<F>(
    req: &SignableRequest<'_>,
    params: &[(String, String)],
    lookup: F,
    policy: &S3Policy,
    now: SystemTime,
) -> Result<S3Auth, SigV4Error>
where
    F: Fn(&str) -> Option<Credentials>,
{
    // Row 2: the algorithm, when present, is checked before the other parameters.
    if let Some(algorithm) = single(params, "X-Amz-Algorithm") {
        if algorithm == ALGORITHM_SIGV4A {
            return Err(SigV4Error::SigV4aNotImplemented);
        }
        if algorithm != ALGORITHM {
            return Err(SigV4Error::UnsupportedQueryAlgorithm {
                algorithm: algorithm.to_owned(),
            });
        }
    }
    // Row 3.
    let mut values = [""; 6];
    for (slot, name) in values.iter_mut().zip(REQUIRED_PARAMS) {
        *slot = single(params, name).ok_or(SigV4Error::MissingQueryParameters)?;
    }
    let [
        _,
        credential,
        signature,
        amz_date,
        signed_headers,
        expires_text,
    ] = values;

    // Row 4.
    let request_unix =
        sigv4::parse_amz_date(amz_date).ok_or_else(|| SigV4Error::MalformedQueryDate {
            value: amz_date.to_owned(),
        })?;
    let request_time =
        sigv4::system_time(request_unix).ok_or_else(|| SigV4Error::MalformedQueryDate {
            value: amz_date.to_owned(),
        })?;
    // Rows 5–7.
    let expires = parse_expires(expires_text)?;

    // Rows 8–9, against the injected clock.
    let now_unix = sigv4::unix_seconds(now).unwrap_or(i64::MAX);
    let expires_at = request_unix.saturating_add(i64::try_from(expires).unwrap_or(i64::MAX));
    let skew = i64::try_from(policy.max_skew.as_secs()).unwrap_or(i64::MAX);
    if request_unix > now_unix.saturating_add(skew) {
        return Err(SigV4Error::RequestNotYetValid {
            amz_date: amz_date.to_owned(),
            expires_at,
            now: now_unix,
        });
    }
    if now_unix > expires_at {
        return Err(SigV4Error::RequestExpired {
            expires,
            expires_at,
            now: now_unix,
        });
    }

    // Rows 10–11.
    let scope_err = |problem| SigV4Error::ScopeMismatch {
        auth: AuthType::Presigned,
        problem,
    };
    let parts: Vec<&str> = credential.split('/').collect();
    let [akid, date, region, service, terminator] = parts.as_slice() else {
        return Err(scope_err(ScopeProblem::Malformed));
    };
    if [akid, date, region, service, terminator]
        .iter()
        .any(|p| p.is_empty())
    {
        return Err(scope_err(ScopeProblem::Malformed));
    }
    if sigv4::parse_amz_date(&format!("{date}T000000Z")).is_none() {
        return Err(scope_err(ScopeProblem::DateFormat {
            date: (*date).to_owned(),
        }));
    }
    if *region != policy.region {
        return Err(scope_err(ScopeProblem::Region {
            got: (*region).to_owned(),
            expected: policy.region.clone(),
        }));
    }
    if *service != policy.service {
        return Err(scope_err(ScopeProblem::Service {
            got: (*service).to_owned(),
            expected: policy.service.clone(),
        }));
    }
    if *terminator != "aws4_request" {
        return Err(scope_err(ScopeProblem::Terminator {
            got: (*terminator).to_owned(),
        }));
    }
    if Some(*date) != amz_date.get(..8) {
        return Err(scope_err(ScopeProblem::Date {
            credential_date: (*date).to_owned(),
            amz_date: amz_date.to_owned(),
        }));
    }

    // Row 12.
    let signed: Vec<String> = signed_headers.split(';').map(str::to_owned).collect();
    check_unsigned_headers(req.headers, &signed)?;

    // Row 13, then the session token.
    let creds = lookup(akid).ok_or_else(|| SigV4Error::UnrecognizedClient {
        access_key_id: (*akid).to_owned(),
    })?;
    let sent_token = params
        .iter()
        .find(|(k, _)| k == "X-Amz-Security-Token")
        .map(|(_, v)| v.as_str());
    check_token(akid, sent_token, &creds)?;

    // Row 14. The payload line is the client's x-amz-content-sha256 if it sent one.
    let content = content_sha256(req.headers)?;
    let payload_hash = content.unwrap_or(UNSIGNED_PAYLOAD);
    let payload_kind = classify_payload(payload_hash)?;
    let query: Vec<&str> = req
        .uri
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or_default()
        .split('&')
        .filter(|p| {
            let k = p.split_once('=').map_or(*p, |(k, _)| k);
            !p.is_empty() && decode(k) != "X-Amz-Signature"
        })
        .collect();
    let path = req.uri.split_once('?').map_or(req.uri, |(p, _)| p);
    let uri = format!("{path}?{}", query.join("&"));
    let scope = Scope::new(*date, *region, *service);
    let key = check_signature(
        req,
        &uri,
        &signed,
        payload_hash,
        amz_date,
        &scope,
        &creds,
        akid,
        signature,
    )?;
    let payload = finish_payload(
        req,
        policy,
        payload_kind,
        payload_hash,
        key,
        signature,
        amz_date,
        &scope,
    )?;
    Ok(S3Auth {
        access_key_id: (*akid).to_owned(),
        scope,
        signed_headers: signed,
        auth_type: AuthType::Presigned,
        request_time,
        signature_age: age(now_unix, request_unix),
        expires_at: sigv4::system_time(expires_at),
        payload,
    })
}

fn verify_header<F>(
    req: &SignableRequest<'_>,
    auth_headers: &[&str],
    lookup: F,
    policy: &S3Policy,
    now: SystemTime,
) -> Result<S3Auth, SigV4Error>
where
    F: Fn(&str) -> Option<Credentials>,
{
    let incomplete = |message: &str| SigV4Error::IncompleteSignature {
        message: message.to_owned(),
    };
    let [auth_value] = auth_headers else {
        return Err(incomplete(
            "The request has more than one Authorization header.",
        ));
    };
    let auth = sigv4::parse_authorization(auth_value)?;
    let amz_date = match sigv4::header_values(req.headers, "x-amz-date").as_slice() {
        [one] => one.trim_matches([' ', '\t']),
        [] => {
            return Err(incomplete(
                "Authorization header requires existence of a 'X-Amz-Date' header.",
            ));
        }
        _ => {
            return Err(incomplete(
                "The request has more than one X-Amz-Date header.",
            ));
        }
    };
    let request_unix = sigv4::parse_amz_date(amz_date)
        .ok_or_else(|| incomplete("X-Amz-Date must be in ISO-8601 basic format."))?;
    let request_time = sigv4::system_time(request_unix)
        .ok_or_else(|| incomplete("X-Amz-Date is out of range."))?;
    if !auth.signed_headers.iter().any(|h| h == "host") {
        return Err(SigV4Error::HeadersNotSigned {
            headers: vec!["host".to_owned()],
        });
    }
    let scope_err = |problem| SigV4Error::ScopeMismatch {
        auth: AuthType::Header,
        problem,
    };
    if *auth.region != policy.region {
        return Err(scope_err(ScopeProblem::Region {
            got: auth.region.clone(),
            expected: policy.region.clone(),
        }));
    }
    if auth.service != policy.service {
        return Err(scope_err(ScopeProblem::Service {
            got: auth.service.clone(),
            expected: policy.service.clone(),
        }));
    }
    if auth.terminator != "aws4_request" {
        return Err(scope_err(ScopeProblem::Terminator {
            got: auth.terminator.clone(),
        }));
    }
    if Some(auth.date.as_str()) != amz_date.get(..8) {
        return Err(scope_err(ScopeProblem::Date {
            credential_date: auth.date.clone(),
            amz_date: amz_date.to_owned(),
        }));
    }
    sigv4::check_skew(request_unix, amz_date, now, policy.max_skew)?;

    // S3 requires `x-amz-content-sha256`; other services (Glacier) sign the body's hash without
    // sending it, so for them it is computed from the body (which must have been read whole).
    let body_hash;
    let payload_hash = match content_sha256(req.headers)? {
        Some(h) => h,
        None if !sigv4::is_s3(&policy.service) && !policy.defer_body_hash => {
            body_hash = hex::encode(hash::sha256(req.body));
            body_hash.as_str()
        }
        None => return Err(SigV4Error::MissingContentSha256),
    };
    let payload_kind = classify_payload(payload_hash)?;
    check_unsigned_headers(req.headers, &auth.signed_headers)?;

    let creds = lookup(&auth.access_key_id).ok_or_else(|| SigV4Error::UnrecognizedClient {
        access_key_id: auth.access_key_id.clone(),
    })?;
    let tokens = sigv4::header_values(req.headers, "x-amz-security-token");
    let sent_token = match tokens.as_slice() {
        [] => None,
        [one] => Some(one.trim()),
        _ => {
            return Err(SigV4Error::InvalidSecurityToken {
                access_key_id: auth.access_key_id.clone(),
            });
        }
    };
    check_token(&auth.access_key_id, sent_token, &creds)?;

    let scope = Scope::new(&auth.date, &auth.region, &auth.service);
    let key = check_signature(
        req,
        req.uri,
        &auth.signed_headers,
        payload_hash,
        amz_date,
        &scope,
        &creds,
        &auth.access_key_id,
        &auth.signature,
    )?;
    let payload = finish_payload(
        req,
        policy,
        payload_kind,
        payload_hash,
        key,
        &auth.signature,
        amz_date,
        &scope,
    )?;
    let now_unix = sigv4::unix_seconds(now).unwrap_or(i64::MAX);
    Ok(S3Auth {
        access_key_id: auth.access_key_id,
        scope,
        signed_headers: auth.signed_headers,
        auth_type: AuthType::Header,
        request_time,
        signature_age: age(now_unix, request_unix),
        expires_at: None,
        payload,
    })
}

/// The payload forms of `x-amz-content-sha256`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PayloadKind {
    Hex,
    Unsigned,
    Streaming(StreamingMode),
}

fn classify_payload(value: &str) -> Result<PayloadKind, SigV4Error> {
    Ok(match value {
        UNSIGNED_PAYLOAD => PayloadKind::Unsigned,
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" => PayloadKind::Streaming(StreamingMode::Signed),
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => {
            PayloadKind::Streaming(StreamingMode::SignedWithTrailer)
        }
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => {
            PayloadKind::Streaming(StreamingMode::UnsignedWithTrailer)
        }
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
        | "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER" => {
            return Err(SigV4Error::SigV4aNotImplemented);
        }
        v if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) => PayloadKind::Hex,
        v => {
            return Err(SigV4Error::InvalidContentSha256 {
                value: v.to_owned(),
            });
        }
    })
}

/// The single `x-amz-content-sha256` value, trimmed.
fn content_sha256(headers: &[(String, String)]) -> Result<Option<&str>, SigV4Error> {
    match sigv4::header_values(headers, "x-amz-content-sha256").as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.trim_matches([' ', '\t']))),
        _ => Err(SigV4Error::InvalidContentSha256 {
            value: "(repeated header)".to_owned(),
        }),
    }
}

/// Row 12: `host`, `content-md5` and every `x-amz-*` header except `x-amz-content-sha256` must be signed
/// when present.
fn check_unsigned_headers(
    headers: &[(String, String)],
    signed: &[String],
) -> Result<(), SigV4Error> {
    let mut unsigned: Vec<String> = headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .filter(|n| {
            (n == "host" || n == "content-md5" || n.starts_with("x-amz-"))
                && n != "x-amz-content-sha256"
                && !signed.iter().any(|s| s == n)
        })
        .collect();
    if unsigned.is_empty() {
        return Ok(());
    }
    unsigned.sort();
    unsigned.dedup();
    Err(SigV4Error::HeadersNotSigned { headers: unsigned })
}

fn check_token(akid: &str, sent: Option<&str>, creds: &Credentials) -> Result<(), SigV4Error> {
    let ok = match (sent, &creds.session_token) {
        (None, None) => true,
        (Some(sent), Some(expected)) => primitives::ct_eq(sent.as_bytes(), expected.as_bytes()),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(SigV4Error::InvalidSecurityToken {
            access_key_id: akid.to_owned(),
        })
    }
}

/// Recomputes the signature over `uri` (the query already stripped of `X-Amz-Signature` for presigned
/// URLs) and compares it in constant time; returns the signing key for chunk signatures.
#[allow(clippy::too_many_arguments)]
fn check_signature(
    req: &SignableRequest<'_>,
    uri: &str,
    signed: &[String],
    payload_hash: &str,
    amz_date: &str,
    scope: &Scope,
    creds: &Credentials,
    akid: &str,
    provided: &str,
) -> Result<crate::keys::DerivedKey, SigV4Error> {
    let headers: Vec<(&str, &str)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    // A signed header that is absent (or a bad method) leaves nothing to compare: S3 answers such a
    // request with SignatureDoesNotMatch too.
    let canonical_request = canonical::canonical_request(
        req.method,
        uri,
        &headers,
        signed,
        payload_hash,
        Canonicalization::S3,
    )
    .unwrap_or_default();
    let string_to_sign = sigv4::string_to_sign(amz_date, scope, &canonical_request);
    let key = sigv4::signing_key(creds.secret_access_key(), scope);
    let expected = sigv4::signature(&key, &string_to_sign);
    if canonical_request.is_empty() || !primitives::ct_eq(expected.as_bytes(), provided.as_bytes())
    {
        return Err(SigV4Error::SignatureMismatch {
            access_key_id: akid.to_owned(),
            signature_provided: provided.to_owned(),
            string_to_sign,
            canonical_request,
        });
    }
    Ok(key)
}

#[allow(clippy::too_many_arguments)]
fn finish_payload(
    req: &SignableRequest<'_>,
    policy: &S3Policy,
    kind: PayloadKind,
    payload_hash: &str,
    key: crate::keys::DerivedKey,
    seed_signature: &str,
    amz_date: &str,
    scope: &Scope,
) -> Result<Payload, SigV4Error> {
    Ok(match kind {
        PayloadKind::Unsigned => Payload::Unsigned,
        PayloadKind::Hex if policy.defer_body_hash => {
            Payload::Sha256(payload_hash.to_ascii_lowercase())
        }
        PayloadKind::Hex => {
            let computed = hex::encode(hash::sha256(req.body));
            if !computed.eq_ignore_ascii_case(payload_hash) {
                return Err(SigV4Error::ContentSha256Mismatch {
                    client: payload_hash.to_owned(),
                    computed,
                });
            }
            Payload::Signed
        }
        PayloadKind::Streaming(mode) => {
            let decoded_content_length = match sigv4::header_values(
                req.headers,
                "x-amz-decoded-content-length",
            )
            .as_slice()
            {
                [one] => Some(one.trim().parse::<u64>().map_err(|_| {
                    SigV4Error::InvalidContentSha256 {
                        value: format!("x-amz-decoded-content-length {}", canonical::quoted(one)),
                    }
                })?),
                _ => None,
            };
            Payload::Streaming(
                StreamingAuth::new(
                    mode,
                    key,
                    seed_signature,
                    amz_date,
                    scope.clone(),
                    decoded_content_length,
                )
                .with_trailer(
                    sigv4::header_values(req.headers, "x-amz-trailer")
                        .first()
                        .copied(),
                ),
            )
        }
    })
}

fn age(now: i64, request: i64) -> Duration {
    Duration::from_secs(now.saturating_sub(request).max(0).unsigned_abs())
}

/// Rows 5–7: an integer (`-` allowed so that negatives are told apart), 0..=604800.
fn parse_expires(text: &str) -> Result<u64, SigV4Error> {
    let value = || text.to_owned();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SigV4Error::ExpiresNotANumber { value: value() });
    }
    if negative && digits.bytes().any(|b| b != b'0') {
        return Err(SigV4Error::ExpiresNegative { value: value() });
    }
    match digits.parse::<u64>() {
        Ok(n) if n <= MAX_EXPIRES => Ok(n),
        _ => Err(SigV4Error::ExpiresTooLarge { value: value() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_boundaries() {
        assert_eq!(parse_expires("0").ok(), Some(0));
        assert_eq!(parse_expires("604800").ok(), Some(604_800));
        assert!(matches!(
            parse_expires("604801"),
            Err(SigV4Error::ExpiresTooLarge { .. })
        ));
        assert!(matches!(
            parse_expires("99999999999999999999999"),
            Err(SigV4Error::ExpiresTooLarge { .. })
        ));
        assert!(matches!(
            parse_expires("-1"),
            Err(SigV4Error::ExpiresNegative { .. })
        ));
        for bad in ["", "-", "abc", "+5", "1.5", " 5", "0x10"] {
            assert!(
                matches!(
                    parse_expires(bad),
                    Err(SigV4Error::ExpiresNotANumber { .. })
                ),
                "{bad:?}"
            );
        }
    }

    /// Glacier (like every non-S3 service) signs the body's hash without sending
    /// `x-amz-content-sha256`; S3 must still send it.
    #[test]
    fn glacier_signing_without_content_sha256() {
        let now = std::time::SystemTime::now();
        let creds = Credentials::new("AKIDGLACIER", "secret", None);
        let mut headers = vec![("host".to_owned(), "127.0.0.1:9443".to_owned())];
        let body = br#"{"Policy":"{}"}"#;
        let req = SignableRequest {
            method: "POST",
            uri: "/-/vaults/v/lock-policy",
            headers: &headers,
            body,
        };
        let added = sigv4::sign(&req, &creds, "us-east-1", "glacier", now).expect("sign");
        assert!(
            !added
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("x-amz-content-sha256"))
        );
        headers.extend(added);
        let lookup = |id: &str| (id == "AKIDGLACIER").then(|| creds.clone());
        let mut policy = S3Policy::new("us-east-1");
        policy.service = "glacier".to_owned();
        let signed = |body: &'static [u8]| SignableRequest {
            method: "POST",
            uri: "/-/vaults/v/lock-policy",
            headers: &headers,
            body,
        };
        let auth = verify_s3(&signed(body), lookup, &policy, now).expect("verifies");
        assert!(matches!(auth.payload, Payload::Signed));
        // Another body: the computed hash differs, so the signature does not verify.
        assert!(matches!(
            verify_s3(&signed(b"{}"), lookup, &policy, now),
            Err(SigV4Error::SignatureMismatch { .. })
        ));
        // A streamed body cannot be hashed up front: the header stays required.
        policy.defer_body_hash = true;
        assert!(matches!(
            verify_s3(&signed(body), lookup, &policy, now),
            Err(SigV4Error::MissingContentSha256)
        ));
    }
}
