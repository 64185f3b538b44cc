//! Object operations: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects, CopyObject and
//! the (read-only) object ACL, with S3's preconditions and checksums.

use std::io::{self, Read};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::body::{self, BodyReader};
use super::request::Op;
use super::{Call, Reply, S3Service};
use crate::aws::chunked::{
    ChecksumAlgorithm, ChecksumHasher, ChunkedError, ChunkedReader, StreamingAuth, StreamingMode,
};
use crate::aws::clock::{http_date, parse_http_date, parse_rfc3339};
use crate::aws::presign::Payload;
use crate::aws::sigv4::Scope;
use crate::aws::sigv4::SigV4Error;
use crate::keys::DerivedKey;
use crate::primitives::hash::{Md5, Sha256};
use crate::range::ByteRange;
use crate::s3::{S3Error, S3ErrorCode, object_lock, versioning, xml};
use crate::sse::engine::Response;
use crate::sse::headers::Headers;

/// The `response-*` query parameters of GetObject and the headers they override.
const RESPONSE_OVERRIDES: [(&str, &str); 6] = [
    ("response-content-type", "Content-Type"),
    ("response-content-language", "Content-Language"),
    ("response-expires", "Expires"),
    ("response-cache-control", "Cache-Control"),
    ("response-content-disposition", "Content-Disposition"),
    ("response-content-encoding", "Content-Encoding"),
];

/// The checksum algorithms S3 accepts in `x-amz-checksum-*` headers that this server verifies.
const CHECKSUMS: [ChecksumAlgorithm; 4] = [
    ChecksumAlgorithm::Crc32,
    ChecksumAlgorithm::Crc32c,
    ChecksumAlgorithm::Sha1,
    ChecksumAlgorithm::Sha256,
];

pub(crate) fn bucket_key(call: &Call) -> Result<(&str, &str), S3Error> {
    match (&call.req.bucket, &call.req.key) {
        (Some(b), Some(k)) => Ok((b, k)),
        _ => Err(S3Error::internal("object operation without bucket and key")),
    }
}

/// Rewrites the engine's headers for the wire: `Last-Modified` as an HTTP date.
pub(crate) fn wire_headers(resp: &Response) -> Vec<(String, String)> {
    resp.headers
        .iter()
        .map(|(n, v)| {
            if n.eq_ignore_ascii_case("last-modified") {
                let date = parse_rfc3339(v).map_or_else(|| v.clone(), http_date);
                (n.clone(), date)
            } else {
                (n.clone(), v.clone())
            }
        })
        .collect()
}

pub(crate) fn header<'a>(resp: &'a Response, name: &str) -> Option<&'a str> {
    resp.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The outcome of GET/HEAD preconditions.
enum Precondition {
    Proceed,
    NotModified,
    Failed,
}

/// RFC 9110 §13.2.2 as S3 applies it: `If-Match` (then `If-Unmodified-Since` only without it) can
/// fail with 412; `If-None-Match` (then `If-Modified-Since` only without it) gives 304.
fn preconditions(h: &Headers, etag: &str, last_modified: Option<SystemTime>) -> Precondition {
    let matches = |list: &str| {
        list.split(',').any(|t| {
            let t = t.trim();
            t == "*" || t.trim_matches('"') == etag.trim_matches('"')
        })
    };
    let secs = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    };
    let modified_after = |since: &str| match (parse_http_date(since), last_modified) {
        (Some(s), Some(m)) => Some(secs(m) > secs(s)),
        _ => None,
    };
    if let Some(im) = h.get("if-match") {
        if !matches(im) {
            return Precondition::Failed;
        }
    } else if let Some(ius) = h.get("if-unmodified-since")
        && modified_after(ius) == Some(true)
    {
        return Precondition::Failed;
    }
    if let Some(inm) = h.get("if-none-match") {
        if matches(inm) {
            return Precondition::NotModified;
        }
    } else if let Some(ims) = h.get("if-modified-since")
        && modified_after(ims) == Some(false)
    {
        return Precondition::NotModified;
    }
    Precondition::Proceed
}

fn precondition_failed(condition: &str) -> S3Error {
    S3Error::from_code(S3ErrorCode::PreconditionFailed).with_extra("Condition", condition)
}

/// The `Range` header, as S3 reads it: an unparsable or multi-range header is ignored (the whole
/// object is sent).
fn range_of(h: &Headers) -> Option<ByteRange> {
    h.get("range").and_then(|r| r.trim().parse().ok())
}

/// The `response-*` overrides of a GetObject.
fn overrides(call: &Call) -> Result<Vec<(String, String)>, S3Error> {
    let out: Vec<(String, String)> = RESPONSE_OVERRIDES
        .iter()
        .filter_map(|(p, h)| call.req.param(p).map(|v| ((*h).to_owned(), v.to_owned())))
        .collect();
    if !out.is_empty() && call.ctx.caller.principal().is_none() {
        return Err(S3Error::invalid_request(
            "Request specific response headers cannot be used for anonymous GET requests.",
        ));
    }
    Ok(out)
}

fn apply_overrides(headers: &mut Vec<(String, String)>, overrides: Vec<(String, String)>) {
    for (name, value) in overrides {
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        headers.push((name, value));
    }
}

/// What remains to be sent once the headers are out.
enum Pending<'a> {
    Whole(Box<crate::sse::engine::ObjectBody<'a>>),
    Part(u32),
}

/// `partNumber` of GetObject/HeadObject: 1..=10000, and not together with `Range`.
///
/// # Errors
/// 400 `InvalidArgument`, 400 `InvalidRequest`.
fn part_number(call: &Call) -> Result<Option<u32>, S3Error> {
    let Some(v) = call.req.param("partNumber") else {
        return Ok(None);
    };
    let n = v
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| {
            S3Error::invalid_argument(
                "Part number must be an integer between 1 and 10000, inclusive",
            )
            .with_extra("ArgumentName", "partNumber")
            .with_extra("ArgumentValue", v)
        })?;
    if call.headers.contains("range") {
        return Err(S3Error::invalid_request(
            "Cannot specify both Range header and partNumber query parameter",
        ));
    }
    Ok(Some(n))
}

/// What the GET worker tells the async side before the body.
enum Started {
    Body(u16, Vec<(String, String)>, u64),
    NotModified(Vec<(String, String)>),
}

/// GetObject: the worker opens the object and checks everything, the status and headers go out,
/// then the body streams, each chunk authenticated before it leaves.
pub(crate) async fn get(svc: Arc<S3Service>, call: Call) -> Result<Reply, S3Error> {
    let part = part_number(&call)?;
    let extra = overrides(&call)?;
    let (writer, channel) = body::channel();
    let (tx, rx) = tokio::sync::oneshot::channel::<Result<Started, S3Error>>();
    tokio::task::spawn_blocking(move || {
        let started = (|| {
            let (bucket, key) = bucket_key(&call)?;
            let version = version_param(&call)?;
            let range = range_of(&call.headers);
            // A part is sent with the headers HeadObject?partNumber gives (the object is opened
            // twice; parts are read rarely).
            let (resp, body) = match part {
                Some(n) => (
                    svc.engine()
                        .head_object_part(&call.ctx, bucket, key, &call.headers, n)?,
                    Pending::Part(n),
                ),
                None => {
                    let (resp, body) = svc.engine().get_object_start(
                        &call.ctx,
                        bucket,
                        key,
                        version,
                        &call.headers,
                        range,
                    )?;
                    (resp, Pending::Whole(Box::new(body)))
                }
            };
            let etag = header(&resp, "etag").unwrap_or_default().to_owned();
            let modified = header(&resp, "last-modified").and_then(parse_rfc3339);
            let mut headers = wire_headers(&resp);
            headers.push(("Accept-Ranges".to_owned(), "bytes".to_owned()));
            match preconditions(&call.headers, &etag, modified) {
                Precondition::Failed => {
                    Err(precondition_failed(if call.headers.contains("if-match") {
                        "If-Match"
                    } else {
                        "If-Unmodified-Since"
                    }))
                }
                Precondition::NotModified => {
                    headers.retain(|(n, _)| {
                        !n.eq_ignore_ascii_case("content-length")
                            && !n.eq_ignore_ascii_case("content-range")
                    });
                    Ok((Started::NotModified(headers), None))
                }
                Precondition::Proceed => {
                    let length = header(&resp, "content-length")
                        .and_then(|l| l.parse().ok())
                        .unwrap_or(0);
                    apply_overrides(&mut headers, extra);
                    Ok((Started::Body(resp.status, headers, length), Some(body)))
                }
            }
        })();
        match started {
            Err(e) => {
                let _ = tx.send(Err(e));
            }
            Ok((s, None)) => {
                let _ = tx.send(Ok(s));
            }
            Ok((s, Some(body))) => {
                if tx.send(Ok(s)).is_err() {
                    return;
                }
                let mut writer = writer;
                let written = match body {
                    Pending::Whole(b) => b.write_to(&mut writer),
                    Pending::Part(n) => bucket_key(&call).and_then(|(bucket, key)| {
                        svc.engine()
                            .get_object_part(&call.ctx, bucket, key, &call.headers, n, &mut writer)
                            .map(|_| ())
                    }),
                };
                match written {
                    Ok(()) => {
                        let _ = writer.finish();
                    }
                    Err(e) => {
                        tracing::warn!(
                            target: "s3crypt::server",
                            error = %e.detail(),
                            "GetObject stopped mid-body"
                        );
                        writer.fail("the object could not be read");
                    }
                }
            }
        }
    });
    match rx.await {
        Ok(Ok(Started::Body(status, headers, length))) => Ok(Reply {
            status,
            headers,
            body: http_body_util::BodyExt::boxed(channel),
            length,
        }),
        Ok(Ok(Started::NotModified(headers))) => Ok(Reply::empty(304, headers)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(S3Error::internal("the GetObject worker stopped")),
    }
}

/// HeadObject.
pub(crate) fn head(svc: &S3Service, call: &Call) -> Result<Reply, S3Error> {
    let (bucket, key) = bucket_key(call)?;
    let version = version_param(call)?;
    let resp = match part_number(call)? {
        Some(n) => svc
            .engine()
            .head_object_part(&call.ctx, bucket, key, &call.headers, n)?,
        None => svc
            .engine()
            .head_object(&call.ctx, bucket, key, version, &call.headers)?,
    };
    let etag = header(&resp, "etag").unwrap_or_default().to_owned();
    let modified = header(&resp, "last-modified").and_then(parse_rfc3339);
    let mut headers = wire_headers(&resp);
    headers.push(("Accept-Ranges".to_owned(), "bytes".to_owned()));
    match preconditions(&call.headers, &etag, modified) {
        Precondition::Failed => Err(precondition_failed("If-Match")),
        Precondition::NotModified => {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case("content-length"));
            Ok(Reply::empty(304, headers))
        }
        Precondition::Proceed => {
            // HEAD carries the object's length but no body: hyper must not send one.
            let mut r = Reply::empty(resp.status, headers);
            r.length = 0;
            Ok(r)
        }
    }
}

/// The raw body, or its aws-chunked decoding.
enum Inner {
    Plain(BodyReader),
    Chunked(Box<ChunkedReader<BodyReader>>),
}

impl Inner {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(r) => r.read(buf),
            Self::Chunked(r) => r.read(buf),
        }
    }
}

/// The first error a body reader saw, kept so the engine's generic error can be replaced by S3's
/// precise one (`BadDigest`, `XAmzContentSHA256Mismatch`, `IncompleteBody`, …).
#[derive(Clone, Default)]
pub(crate) struct FirstError(Arc<Mutex<Option<S3Error>>>);

impl FirstError {
    pub(crate) fn set(&self, e: S3Error) {
        if let Ok(mut slot) = self.0.lock()
            && slot.is_none()
        {
            *slot = Some(e);
        }
    }

    pub(crate) fn take(&self) -> Option<S3Error> {
        self.0.lock().ok().and_then(|mut s| s.take())
    }
}

/// The body of a PutObject, decoded and checked: aws-chunked framing and chunk signatures, the
/// signed SHA-256, `Content-MD5` and `x-amz-checksum-*`, and the declared length. `read` returns
/// end-of-file only after every check passed, so the engine never stores a body that failed one.
struct CheckedBody {
    inner: Inner,
    md5: Option<(Md5, [u8; 16])>,
    sha256: Option<(Sha256, String)>,
    checksum: Option<(ChecksumAlgorithm, ChecksumHasher, String)>,
    expected_len: Option<u64>,
    max_len: u64,
    seen: u64,
    errors: FirstError,
}

impl CheckedBody {
    fn fail(&self, e: S3Error) -> io::Error {
        self.errors.set(e);
        io::Error::new(io::ErrorKind::InvalidData, "the request body was refused")
    }

    fn finish(&mut self) -> Result<(), S3Error> {
        if let Some(expected) = self.expected_len
            && expected != self.seen
        {
            return Err(S3Error::from_code(S3ErrorCode::IncompleteBody));
        }
        if let Some((h, want)) = self.sha256.take() {
            let got = hex::encode(h.finalize());
            if got != want {
                return Err(S3Error::from(
                    SigV4Error::ContentSha256Mismatch {
                        client: want,
                        computed: got,
                    }
                    .s3(),
                ));
            }
        }
        if let Some((h, want)) = self.md5.take()
            && h.finalize() != want
        {
            return Err(S3Error::from_code(S3ErrorCode::BadDigest));
        }
        if let Some((alg, h, want)) = self.checksum.take() {
            let got = h.finish();
            if got != want {
                return Err(S3Error::with_code(
                    S3ErrorCode::BadDigest,
                    format!(
                        "The {} you specified did not match the calculated checksum.",
                        checksum_label(alg)
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn checksum_label(alg: ChecksumAlgorithm) -> &'static str {
    match alg {
        ChecksumAlgorithm::Crc32 => "CRC32",
        ChecksumAlgorithm::Crc32c => "CRC32C",
        ChecksumAlgorithm::Sha1 => "SHA1",
        ChecksumAlgorithm::Sha256 => "SHA256",
    }
}

impl Read for CheckedBody {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) => {
                let s3 = if let Some(c) = ChunkedError::from_io(&e) {
                    S3Error::from(c.s3())
                } else if e.kind() == io::ErrorKind::TimedOut {
                    S3Error::from_code(S3ErrorCode::RequestTimeout)
                } else {
                    S3Error::from_code(S3ErrorCode::IncompleteBody)
                };
                return Err(self.fail(s3));
            }
        };
        if n == 0 {
            if buf.is_empty() {
                return Ok(0);
            }
            return match self.finish() {
                Ok(()) => Ok(0),
                Err(e) => Err(self.fail(e)),
            };
        }
        let data = &buf[..n];
        self.seen += n as u64;
        if self.seen > self.max_len {
            return Err(self.fail(too_large(self.seen, self.max_len)));
        }
        if let Some((h, _)) = &mut self.md5 {
            h.update(data);
        }
        if let Some((h, _)) = &mut self.sha256 {
            h.update(data);
        }
        if let Some((_, h, _)) = &mut self.checksum {
            h.update(data);
        }
        Ok(n)
    }
}

fn too_large(size: u64, max: u64) -> S3Error {
    S3Error::from_code(S3ErrorCode::EntityTooLarge)
        .with_extra("ProposedSize", size.to_string())
        .with_extra("MaxSizeAllowed", max.to_string())
}

/// `Content-MD5`, if sent: 16 bytes of base64.
///
/// # Errors
/// 400 `InvalidDigest` for anything else.
fn content_md5(h: &Headers) -> Result<Option<[u8; 16]>, S3Error> {
    let Some(v) = h.get("content-md5") else {
        return Ok(None);
    };
    B64.decode(v.trim())
        .ok()
        .and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok())
        .map(Some)
        .ok_or_else(|| S3Error::from_code(S3ErrorCode::InvalidDigest))
}

/// The one `x-amz-checksum-*` header of a request, if any (the trailer of an aws-chunked body is
/// checked by the chunk decoder instead).
///
/// # Errors
/// 400 `InvalidRequest` for two checksums or an algorithm this server does not verify.
fn checksum_header(h: &Headers) -> Result<Option<(ChecksumAlgorithm, String)>, S3Error> {
    let mut found = None;
    for (name, value) in h.iter() {
        let name = name.to_ascii_lowercase();
        let Some(algorithm) = name.strip_prefix("x-amz-checksum-") else {
            continue;
        };
        if matches!(algorithm, "type" | "mode" | "algorithm") {
            continue;
        }
        let Some(alg) = CHECKSUMS.into_iter().find(|a| a.header_name() == name) else {
            return Err(S3Error::invalid_request(format!(
                "The {algorithm} checksum algorithm is not supported by this server."
            )));
        };
        if found.is_some() {
            return Err(S3Error::invalid_request(
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
            ));
        }
        found = Some((alg, value.trim().to_owned()));
    }
    Ok(found)
}

/// Checks a body read whole against `Content-MD5` and an `x-amz-checksum-*` header.
///
/// # Errors
/// 400 `InvalidDigest`, `BadDigest`, `InvalidRequest`.
pub(crate) fn check_whole_body(h: &Headers, body: &[u8]) -> Result<(), S3Error> {
    if let Some(want) = content_md5(h)?
        && crate::primitives::hash::md5(body) != want
    {
        return Err(S3Error::from_code(S3ErrorCode::BadDigest));
    }
    if let Some((alg, want)) = checksum_header(h)?
        && alg.compute(body) != want
    {
        return Err(S3Error::with_code(
            S3ErrorCode::BadDigest,
            format!(
                "The {} you specified did not match the calculated checksum.",
                checksum_label(alg)
            ),
        ));
    }
    Ok(())
}

/// Refuses ACLs other than the ones a bucket with ACLs disabled accepts.
pub(crate) fn check_acl_header(h: &Headers) -> Result<(), S3Error> {
    if let Some(acl) = h.get("x-amz-acl")
        && !matches!(acl.trim(), "private" | "bucket-owner-full-control")
    {
        return Err(S3Error::from_code(
            S3ErrorCode::AccessControlListNotSupported,
        ));
    }
    if h.iter()
        .any(|(n, _)| n.to_ascii_lowercase().starts_with("x-amz-grant-"))
    {
        return Err(S3Error::from_code(
            S3ErrorCode::AccessControlListNotSupported,
        ));
    }
    Ok(())
}

/// The conditional-write headers of PutObject (`If-None-Match: *`, `If-Match: ETAG`), checked
/// against what is stored now.
fn check_conditional_write(
    svc: &S3Service,
    call: &Call,
    bucket: &str,
    key: &str,
) -> Result<(), S3Error> {
    let inm = call.headers.get("if-none-match");
    let im = call.headers.get("if-match");
    if inm.is_none() && im.is_none() {
        return Ok(());
    }
    if inm.is_some_and(|v| v.trim() != "*") {
        return Err(S3Error::not_implemented(
            "A header you provided implies functionality that is not implemented (If-None-Match other than *).",
        ));
    }
    let current = svc.engine().stat_object(bucket, key, None)?;
    if inm.is_some() && current.is_some() {
        return Err(precondition_failed("If-None-Match"));
    }
    if let Some(want) = im {
        match current {
            None => return Err(S3Error::no_such_key()),
            Some(stat) if stat.etag.trim_matches('"') != want.trim().trim_matches('"') => {
                return Err(precondition_failed("If-Match"));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// A streamed request body with every check S3 makes on it, ready for the engine.
pub(crate) struct StreamedBody {
    body: CheckedBody,
    errors: FirstError,
    /// The `x-amz-checksum-*` header the client sent (echoed in the response).
    checksum: Option<(ChecksumAlgorithm, String)>,
}

impl StreamedBody {
    /// Runs `f` on the body; a failure caused by the body (bad digest, short body, chunk signature)
    /// is reported as S3 reports it rather than as the engine saw it. Returns `f`'s result and the
    /// verified checksum to echo (`x-amz-checksum-*` header or aws-chunked trailer).
    pub(crate) fn run<T>(
        mut self,
        f: impl FnOnce(&mut dyn Read) -> Result<T, S3Error>,
    ) -> Result<(T, Option<(ChecksumAlgorithm, String)>), S3Error> {
        let result = f(&mut self.body);
        let value = result.map_err(|e| self.errors.take().unwrap_or(e))?;
        let trailer = match &self.body.inner {
            Inner::Chunked(r) => r.verified_checksum().map(|(a, v)| (a, v.to_owned())),
            Inner::Plain(_) => None,
        };
        Ok((value, self.checksum.or(trailer)))
    }
}

/// Wraps the request body of PutObject or UploadPart: aws-chunked decoding and chunk signatures,
/// the signed SHA-256, `Content-MD5`, `x-amz-checksum-*`, the declared length and S3's 5 GiB limit.
///
/// # Errors
/// 411 `MissingContentLength`, 400 `EntityTooLarge`, `InvalidDigest`, `InvalidRequest`.
pub(crate) fn streamed_body(
    svc: &S3Service,
    call: &Call,
    body: BodyReader,
) -> Result<StreamedBody, S3Error> {
    let payload = match (&call.payload, call.headers.get("x-amz-content-sha256")) {
        (None, Some(v)) if v.trim() == StreamingMode::UnsignedWithTrailer.content_sha256() => {
            // An anonymous aws-chunked upload (boto3 sends one over HTTPS when unsigned): unsigned
            // chunks, a checksum trailer; nothing to verify but the framing and the checksum.
            Some(Payload::Streaming(anonymous_streaming(&call.headers)))
        }
        (None, Some(v)) if v.trim().starts_with("STREAMING-AWS4-") => {
            return Err(S3Error::access_denied(
                "Signed aws-chunked uploads need a signed request.",
            ));
        }
        (p, _) => p.clone(),
    };
    let decoded = call
        .headers
        .get("x-amz-decoded-content-length")
        .and_then(|v| v.trim().parse::<u64>().ok());
    let length = call
        .headers
        .get("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok());
    let chunked = matches!(payload, Some(Payload::Streaming(_)));
    let declared = if chunked { decoded } else { length };
    if declared.is_none() && !chunked {
        return Err(S3Error::from_code(S3ErrorCode::MissingContentLength));
    }
    let max = svc.options().max_object_size;
    if let Some(d) = declared
        && d > max
    {
        return Err(too_large(d, max));
    }
    let md5 = content_md5(&call.headers)?;
    let checksum = checksum_header(&call.headers)?;
    let inner = match payload.clone() {
        Some(Payload::Streaming(auth)) => Inner::Chunked(Box::new(ChunkedReader::new(body, auth))),
        _ => Inner::Plain(body),
    };
    let errors = FirstError::default();
    let checked = CheckedBody {
        inner,
        md5: md5.map(|m| (Md5::new(), m)),
        sha256: match payload {
            Some(Payload::Sha256(h)) => Some((Sha256::new(), h)),
            _ => None,
        },
        checksum: checksum
            .clone()
            .map(|(alg, v)| (alg, ChecksumHasher::new(alg), v)),
        expected_len: declared,
        max_len: max,
        seen: 0,
        errors: errors.clone(),
    };
    Ok(StreamedBody {
        body: checked,
        errors,
        checksum,
    })
}

/// The decoding context of an anonymous `STREAMING-UNSIGNED-PAYLOAD-TRAILER` body: no key (its chunks
/// and trailer carry no signatures), the announced trailer and decoded length.
fn anonymous_streaming(h: &Headers) -> StreamingAuth {
    let decoded = h
        .get("x-amz-decoded-content-length")
        .and_then(|v| v.trim().parse().ok());
    StreamingAuth::new(
        StreamingMode::UnsignedWithTrailer,
        DerivedKey::from_bytes([0; 32]),
        "",
        "",
        Scope::new("", "", ""),
        decoded,
    )
    .with_trailer(h.get("x-amz-trailer"))
}

/// The response headers of a stored body: the engine's, and the checksum the client sent.
pub(crate) fn stored_headers(
    resp: &Response,
    checksum: Option<(ChecksumAlgorithm, String)>,
) -> Vec<(String, String)> {
    let mut headers = wire_headers(resp);
    if let Some((alg, value)) = checksum {
        headers.push((alg.header_name().to_owned(), value));
    }
    headers
}

/// PutObject: the body streams from the socket through its checks into the engine's encryptor.
pub(crate) fn put(svc: &S3Service, call: Call, body: BodyReader) -> Result<Reply, S3Error> {
    let (bucket, key) = bucket_key(&call)?;
    check_acl_header(&call.headers)?;
    let streamed = streamed_body(svc, &call, body)?;
    check_conditional_write(svc, &call, bucket, key)?;
    let (resp, checksum) = streamed.run(|body| {
        svc.engine()
            .put_object(&call.ctx, bucket, key, &call.headers, body)
    })?;
    Ok(Reply::empty(200, stored_headers(&resp, checksum)))
}

/// The `versionId` query parameter, checked.
pub(crate) fn version_param(call: &Call) -> Result<Option<&str>, S3Error> {
    versioning::parse_version_id(call.req.param("versionId"))
}

/// DeleteObject: 204 whether or not the key existed. Without a version id a versioned bucket gets a
/// delete marker (`x-amz-delete-marker: true`, its `x-amz-version-id`); with one, that version is
/// removed for good, subject to MFA Delete and Object Lock.
pub(crate) fn delete(svc: &S3Service, call: &Call) -> Result<Reply, S3Error> {
    let (bucket, key) = bucket_key(call)?;
    let mut headers = Vec::new();
    match version_param(call)? {
        None => {
            if let Some(marker) = svc.engine().delete_object(&call.ctx, bucket, key)? {
                headers.push(("x-amz-delete-marker".to_owned(), "true".to_owned()));
                headers.push(("x-amz-version-id".to_owned(), marker.version_id));
            }
        }
        Some(version) => {
            // Authorization before MFA: a caller who may not delete learns nothing about MFA Delete.
            svc.engine()
                .authorize_action(&call.ctx, bucket, key, "s3:DeleteObjectVersion")?;
            let mfa = mfa_for_versioned_delete(svc, call, bucket)?;
            let gone = svc.engine().delete_object_version(
                &call.ctx,
                bucket,
                key,
                version,
                object_lock::bypass_requested(&call.headers),
                mfa,
            )?;
            if gone.delete_marker {
                headers.push(("x-amz-delete-marker".to_owned(), "true".to_owned()));
            }
            headers.push(("x-amz-version-id".to_owned(), gone.version_id));
        }
    }
    Ok(Reply::empty(204, headers))
}

/// MFA Delete for a request that removes versions: checks `x-amz-mfa` once when the bucket has MFA
/// Delete on (the engine refuses a versioned delete that was not checked). Returns whether it was.
fn mfa_for_versioned_delete(svc: &S3Service, call: &Call, bucket: &str) -> Result<bool, S3Error> {
    if svc.engine().mfa_delete_enabled(bucket)? {
        svc.engine().check_mfa(&call.ctx, bucket, &call.headers)?;
        return Ok(true);
    }
    Ok(false)
}

/// S3 requires `Content-MD5` or an `x-amz-checksum-*` header on DeleteObjects and on some
/// configuration writes (PutBucketCors, …); the value itself is checked with the body before the
/// operation runs.
pub(crate) fn require_integrity_header(call: &Call) -> Result<(), S3Error> {
    if call.headers.has_integrity_header() {
        Ok(())
    } else {
        Err(S3Error::invalid_request(
            "Missing required header for this request: Content-MD5",
        ))
    }
}

/// DeleteObjects: each key deleted (or its error reported) in order.
pub(crate) fn delete_many(svc: &S3Service, call: &Call) -> Result<Reply, S3Error> {
    let bucket = call.req.bucket.as_deref().unwrap_or_default();
    require_integrity_header(call)?;
    let request = xml::parse_delete(&call.body)?;
    svc.engine().owner_of(bucket)?;
    let mut deleted = Vec::new();
    let mut failed = Vec::new();
    // MFA Delete: one code for the whole request, which fails whole without it when it names a
    // version.
    let mfa = if request.objects.iter().any(|o| o.version_id.is_some()) {
        mfa_for_versioned_delete(svc, call, bucket)?
    } else {
        false
    };
    let bypass = object_lock::bypass_requested(&call.headers);
    for object in &request.objects {
        let outcome = match object.version_id.as_deref() {
            Some(version) => svc
                .engine()
                .delete_object_version(&call.ctx, bucket, &object.key, version, bypass, mfa)
                .map(|gone| xml::Deleted {
                    key: object.key.clone(),
                    version_id: Some(gone.version_id.clone()),
                    delete_marker: gone.delete_marker,
                    delete_marker_version_id: gone.delete_marker.then_some(gone.version_id),
                }),
            None => svc
                .engine()
                .delete_object(&call.ctx, bucket, &object.key)
                .map(|marker| xml::Deleted {
                    key: object.key.clone(),
                    version_id: None,
                    delete_marker: marker.is_some(),
                    delete_marker_version_id: marker.map(|m| m.version_id),
                }),
        };
        match outcome {
            Ok(_) if request.quiet => {}
            Ok(d) => deleted.push(d),
            Err(e) => failed.push(xml::DeleteFailure::new(
                object.key.clone(),
                object.version_id.clone(),
                &e,
            )),
        }
    }
    Ok(Reply::xml(
        200,
        xml::render_delete_result(&deleted, &failed),
    ))
}

/// Parses `x-amz-copy-source`: `[/]BUCKET/KEY[?versionId=V]`, percent-encoded; returns the bucket,
/// the key and the version asked for.
pub(crate) fn copy_source(h: &Headers) -> Result<(String, String, Option<String>), S3Error> {
    let raw = h.get("x-amz-copy-source").unwrap_or_default().trim();
    let (path, query) = raw.split_once('?').unwrap_or((raw, ""));
    let mut version = None;
    for p in query.split('&').filter(|p| !p.is_empty()) {
        match p.split_once('=') {
            Some(("versionId", v)) if version.is_none() => {
                let v = String::from_utf8(crate::aws::sigv4::canonical::percent_decode(v))
                    .map_err(|_| versioning::invalid_version_id(v))?;
                versioning::parse_version_id(Some(&v))?;
                version = Some(v);
            }
            _ => {
                return Err(S3Error::invalid_argument("Invalid copy source encoding")
                    .with_extra("ArgumentName", "x-amz-copy-source"));
            }
        }
    }
    let decoded = crate::aws::sigv4::canonical::percent_decode(path);
    let text = String::from_utf8(decoded).map_err(|_| {
        S3Error::invalid_argument("Invalid copy source encoding")
            .with_extra("ArgumentName", "x-amz-copy-source")
    })?;
    // `arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME/object/KEY`: the caller reads through that access
    // point; the access point's name travels in place of the bucket as `arn:ACCOUNT/NAME`.
    if let Some(arn) = text.trim_start_matches('/').strip_prefix("arn:") {
        let invalid = || {
            S3Error::invalid_argument("Invalid copy source access point ARN")
                .with_extra("ArgumentName", "x-amz-copy-source")
        };
        let (ap_arn, key) = arn.split_once("/object/").ok_or_else(invalid)?;
        let full = format!("arn:{ap_arn}");
        let (_, account, name) = crate::s3::access_point::parse_arn(&full).ok_or_else(invalid)?;
        if key.is_empty() {
            return Err(invalid());
        }
        return Ok((format!("arn:{account}/{name}"), key.to_owned(), version));
    }
    let text = text.strip_prefix('/').unwrap_or(&text);
    match text.split_once('/') {
        Some((b, k)) if !b.is_empty() && !k.is_empty() => Ok((b.to_owned(), k.to_owned(), version)),
        _ => Err(S3Error::invalid_argument("Invalid copy source object key")
            .with_extra("ArgumentName", "x-amz-copy-source")
            .with_extra("ArgumentValue", "x-amz-copy-source")),
    }
}

/// The `x-amz-copy-source-if-*` preconditions against the source as stored.
fn check_copy_preconditions(
    svc: &S3Service,
    h: &Headers,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> Result<(), S3Error> {
    let names = [
        "x-amz-copy-source-if-match",
        "x-amz-copy-source-if-none-match",
        "x-amz-copy-source-if-modified-since",
        "x-amz-copy-source-if-unmodified-since",
    ];
    if !names.iter().any(|n| h.contains(n)) {
        return Ok(());
    }
    let Some(stat) = svc.engine().stat_object(bucket, key, version)? else {
        return Err(S3Error::no_such_key());
    };
    let mapped = Headers::new(
        names
            .iter()
            .zip([
                "if-match",
                "if-none-match",
                "if-modified-since",
                "if-unmodified-since",
            ])
            .filter_map(|(n, plain)| h.get(n).map(|v| (plain.to_owned(), v.to_owned()))),
    );
    match preconditions(&mapped, &stat.etag, Some(stat.last_modified)) {
        Precondition::Proceed => Ok(()),
        _ => Err(precondition_failed("x-amz-copy-source-If-Match")),
    }
}

/// CopyObject: decrypts the source and re-encrypts it as the destination's headers and bucket say.
pub(crate) fn copy(svc: &S3Service, call: &Call) -> Result<Reply, S3Error> {
    let (bucket, key) = bucket_key(call)?;
    check_acl_header(&call.headers)?;
    let (src_bucket, src_key, src_version) = copy_source(&call.headers)?;
    // A source named by an access point ARN is read through that access point.
    let (src_bucket, src_ctx) = match src_bucket.strip_prefix("arn:") {
        None => (src_bucket, None),
        Some(ap) => {
            let (account, name) = ap.split_once('/').unwrap_or_default();
            let ap = svc.engine().access_point(account, name)?;
            let reachable = match &ap.network_origin {
                crate::s3::access_point::NetworkOrigin::Internet => true,
                crate::s3::access_point::NetworkOrigin::Vpc(vpc) => {
                    call.ctx.source_vpc.as_ref() == Some(vpc)
                }
            };
            if !reachable || !call.ctx.secure_transport {
                return Err(S3Error::access_denied("Access Denied"));
            }
            let mut ctx = call.ctx.clone();
            ctx.access_point = Some(svc.engine().access_point_ref(&ap)?);
            (ap.bucket, Some(ctx))
        }
    };
    let directive = call
        .headers
        .get("x-amz-metadata-directive")
        .map(str::trim)
        .unwrap_or("COPY");
    if !matches!(directive, "COPY" | "REPLACE") {
        return Err(S3Error::invalid_argument("Unknown metadata directive.")
            .with_extra("ArgumentName", "x-amz-metadata-directive")
            .with_extra("ArgumentValue", directive));
    }
    let changes_encryption = call.headers.iter().any(|(n, _)| {
        let n = n.to_ascii_lowercase();
        n.starts_with("x-amz-server-side-encryption")
    });
    // Copying an older version over its key restores it: no change needed.
    if src_bucket == bucket
        && src_key == key
        && src_version.is_none()
        && directive == "COPY"
        && !changes_encryption
    {
        return Err(S3Error::invalid_request(
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        ));
    }
    check_copy_preconditions(
        svc,
        &call.headers,
        &src_bucket,
        &src_key,
        src_version.as_deref(),
    )?;
    let resp = svc.engine().copy_object_as(
        src_ctx.as_ref().unwrap_or(&call.ctx),
        &call.ctx,
        (&src_bucket, &src_key, src_version.as_deref()),
        (bucket, key),
        &call.headers,
    )?;
    let etag = header(&resp, "etag").unwrap_or_default().to_owned();
    let modified = svc
        .engine()
        .stat_object(bucket, key, None)?
        .map_or_else(SystemTime::now, |s| s.last_modified);
    let mut reply = Reply::xml(200, xml::render_copy_object(modified, &etag));
    reply.headers.extend(
        wire_headers(&resp)
            .into_iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("etag")),
    );
    Ok(reply)
}

/// GetObjectAcl (the owner has full control: ACLs are disabled) and PutObjectAcl (refused unless it
/// grants nothing beyond that, as S3 with `BucketOwnerEnforced`).
pub(crate) fn acl(svc: &S3Service, op: Op, call: &Call) -> Result<Reply, S3Error> {
    let (bucket, key) = bucket_key(call)?;
    let owner = svc.engine().owner_of(bucket)?;
    match op {
        Op::GetObjectAcl => {
            svc.engine()
                .authorize_action(&call.ctx, bucket, key, "s3:GetObjectAcl")?;
            if svc.engine().stat_object(bucket, key, None)?.is_none() {
                return Err(S3Error::no_such_key());
            }
            Ok(Reply::xml(200, super::bucket::owner_acl(&owner)))
        }
        _ => {
            svc.engine()
                .authorize_action(&call.ctx, bucket, key, "s3:PutObjectAcl")?;
            check_acl_header(&call.headers)?;
            if !call.body.is_empty() {
                return Err(S3Error::from_code(
                    S3ErrorCode::AccessControlListNotSupported,
                ));
            }
            Ok(Reply::empty(200, Vec::new()))
        }
    }
}
