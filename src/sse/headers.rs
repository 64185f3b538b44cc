//! S3 server-side-encryption request headers: parsed into a typed request, refused with exactly S3's HTTP
//! status, error code and message, and echoed back for a stored object (AWS: <https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerSideEncryptionCustomerKeys.html>, <https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html>).
//!
//! | request | parser | result |
//! |---|---|---|
//! | PutObject, POST Object, CopyObject (destination), CreateMultipartUpload | [`parse_write`] | [`SseRequest`] |
//! | GetObject, HeadObject, UploadPart, GetObjectAttributes… | [`parse_read`] | the SSE-C key, if any |
//! | CopyObject / UploadPartCopy source | [`parse_copy_source`] | the source's SSE-C key, if any |
//!
//! Once the stored object (or the multipart upload) is known, [`check_read`] and [`check_upload_part`]
//! give S3's answers for a missing, wrong or inapplicable customer key, and [`response_headers`] gives what
//! S3 echoes. [`customer_key_headers`] is the client side: the three SSE-C headers botocore sends.
//!
//! Header names are matched case-insensitively and values are trimmed of HTTP whitespace. When a header
//! is repeated, the first occurrence counts (as `http::HeaderMap::get` does). A header that is present
//! with an empty value counts as present: an empty `x-amz-server-side-encryption` is refused as an
//! unsupported method (S3's recorded answer); an empty SSE-C header makes the request an SSE-C request
//! and is then refused as missing (so a client never silently gets the bucket default instead).
//!
//! No error message ever contains a header value, so no key material can reach an error.
//!
//! # Order of the checks
//! [`parse_write`] (the first failing check answers):
//! 1. any SSE-C header over [`Transport::Insecure`] → `InvalidRequest` (the key is already exposed, so
//!    nothing else about the request matters);
//! 2. SSE-C together with `x-amz-server-side-encryption` → `InvalidArgument` (AWS checks this before the
//!    algorithm);
//! 3. `x-amz-server-side-encryption` not `AES256`, `aws:kms` or `aws:kms:dsse` → `InvalidArgument`;
//! 4. a KMS header (key id, context, bucket key) without `aws:kms`/`aws:kms:dsse` → `InvalidArgument`;
//! 5. SSE-KMS or DSSE-KMS over [`Transport::Insecure`] → `InvalidArgument`;
//! 6. the KMS headers' values (bucket key, then context), then bucket key with DSSE;
//! 7. the SSE-C trio: algorithm present, algorithm value, key present, MD5 present, MD5 matches, key length.
//!
//! [`parse_read`]: SSE-C over [`Transport::Insecure`], then `x-amz-server-side-encryption`, then the KMS
//! headers, then the trio as in 7. [`parse_copy_source`]: transport, then the trio.
//!
//! # Choices where AWS's answer is unverified
//! Each is documented where it is made: SSE-C over HTTP (MinIO's `InvalidRequest`), SSE-KMS over HTTP
//! (the SigV4 message of <https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html>), a missing key MD5 (MinIO's text), a key that is not base64
//! (the key-length answer), unknown `x-amz-server-side-encryption` values (the answer recorded for an
//! empty one), KMS headers without `aws:kms` on reads and for the context and bucket-key headers (the
//! answer recorded for the key id), a bad bucket-key value, DSSE with a bucket key, and a caller-supplied
//! `aws:s3:arn` context key (refused; s3crypt's messages).

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use zeroize::{Zeroize, Zeroizing};

use super::S3Error;
use crate::keys::{CustomerKey, KEY_LEN};
use crate::kms::api::EncryptionContext;
use crate::primitives::{self, hash};

/// `x-amz-server-side-encryption`: `AES256`, `aws:kms` or `aws:kms:dsse`.
pub const SERVER_SIDE_ENCRYPTION: &str = "x-amz-server-side-encryption";
/// `x-amz-server-side-encryption-aws-kms-key-id`: key id, key ARN or alias for SSE-KMS / DSSE-KMS.
pub const KMS_KEY_ID: &str = "x-amz-server-side-encryption-aws-kms-key-id";
/// `x-amz-server-side-encryption-context`: base64 of a UTF-8 JSON object of string → string.
pub const ENCRYPTION_CONTEXT: &str = "x-amz-server-side-encryption-context";
/// `x-amz-server-side-encryption-bucket-key-enabled`: `true` or `false`.
pub const BUCKET_KEY_ENABLED: &str = "x-amz-server-side-encryption-bucket-key-enabled";
/// `x-amz-server-side-encryption-customer-algorithm`: must be `AES256`.
pub const CUSTOMER_ALGORITHM: &str = "x-amz-server-side-encryption-customer-algorithm";
/// `x-amz-server-side-encryption-customer-key`: base64 of the 32 raw key bytes. Secret.
pub const CUSTOMER_KEY: &str = "x-amz-server-side-encryption-customer-key";
/// `x-amz-server-side-encryption-customer-key-MD5`: base64 of the MD5 of the 32 raw key bytes.
pub const CUSTOMER_KEY_MD5: &str = "x-amz-server-side-encryption-customer-key-MD5";
/// `x-amz-copy-source-server-side-encryption-customer-algorithm`.
pub const COPY_SOURCE_CUSTOMER_ALGORITHM: &str =
    "x-amz-copy-source-server-side-encryption-customer-algorithm";
/// `x-amz-copy-source-server-side-encryption-customer-key`. Secret.
pub const COPY_SOURCE_CUSTOMER_KEY: &str = "x-amz-copy-source-server-side-encryption-customer-key";
/// `x-amz-copy-source-server-side-encryption-customer-key-MD5`.
pub const COPY_SOURCE_CUSTOMER_KEY_MD5: &str =
    "x-amz-copy-source-server-side-encryption-customer-key-MD5";

/// Every SSE request header S3 knows, as S3 spells them.
pub const SSE_HEADERS: [&str; 10] = [
    SERVER_SIDE_ENCRYPTION,
    KMS_KEY_ID,
    ENCRYPTION_CONTEXT,
    BUCKET_KEY_ENABLED,
    CUSTOMER_ALGORITHM,
    CUSTOMER_KEY,
    CUSTOMER_KEY_MD5,
    COPY_SOURCE_CUSTOMER_ALGORITHM,
    COPY_SOURCE_CUSTOMER_KEY,
    COPY_SOURCE_CUSTOMER_KEY_MD5,
];

/// Whether a header name looks meant as an SSE header but is none of [`SSE_HEADERS`] (compared
/// case-insensitively): it mentions server-side encryption, SSE or a customer key, for example
/// `x-amz-server-side-encrpytion` or `x-amz-sse-customer-key`. S3 would ignore such a header and
/// store the object under the bucket default; a client should refuse to send it.
#[must_use]
pub fn is_misspelled_sse_header(name: &str) -> bool {
    let n = name.trim().to_ascii_lowercase();
    if SSE_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(&n)) {
        return false;
    }
    let squashed: String = n.chars().filter(char::is_ascii_alphanumeric).collect();
    [
        "serverside",
        "sideenc",
        "encryp",
        "encrpy",
        "kmskey",
        "customerkey",
        "customeralg",
    ]
    .iter()
    .any(|w| squashed.contains(w))
        || n.starts_with("x-amz-sse")
        || n.starts_with("sse-")
}

/// The only SSE-C algorithm, and the SSE-S3 value of `x-amz-server-side-encryption`.
const AES256: &str = "AES256";
/// `x-amz-server-side-encryption` value of SSE-KMS.
const AWS_KMS: &str = "aws:kms";
/// `x-amz-server-side-encryption` value of DSSE-KMS.
const AWS_KMS_DSSE: &str = "aws:kms:dsse";
/// The encryption-context key S3 itself adds (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html>).
const RESERVED_CONTEXT_KEY: &str = "aws:s3:arn";

/// Request headers with case-insensitive lookup.
///
/// `Debug` prints every header but replaces the value of any header whose lower-cased name contains
/// `customer-key` (and not `-md5`) with `[REDACTED]`; those values are also zeroized on drop.
#[derive(Clone, Default)]
pub struct Headers {
    pairs: Vec<(String, String)>,
}

impl Headers {
    /// Headers from `(name, value)` pairs, in request order.
    #[must_use]
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            pairs: pairs.into_iter().collect(),
        }
    }

    /// The value of the first header named `name` (compared ASCII case-insensitively), trimmed of spaces,
    /// tabs, CR and LF.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim_matches(HTTP_WHITESPACE))
    }

    /// Whether a header named `name` is present (whatever its value).
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Whether the request carries an integrity header S3 accepts where it requires one (Content-MD5,
    /// an `x-amz-checksum-*` value, or an SDK checksum announced for the trailer).
    #[must_use]
    pub fn has_integrity_header(&self) -> bool {
        self.contains("content-md5")
            || self.contains("x-amz-sdk-checksum-algorithm")
            || self.iter().any(|(n, v)| {
                let n = n.to_ascii_lowercase();
                n.starts_with("x-amz-checksum-")
                    || (n == "x-amz-trailer"
                        && v.trim().to_ascii_lowercase().starts_with("x-amz-checksum-"))
            })
    }

    /// The number of header lines.
    #[must_use]
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are no headers.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The header lines, in request order (values untrimmed).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

impl From<&[(&str, &str)]> for Headers {
    fn from(pairs: &[(&str, &str)]) -> Self {
        Self::new(
            pairs
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
        )
    }
}

impl<const N: usize> From<[(&str, &str); N]> for Headers {
    fn from(pairs: [(&str, &str); N]) -> Self {
        Self::from(&pairs[..])
    }
}

impl FromIterator<(String, String)> for Headers {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        Self::new(iter)
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Redacted;
        impl fmt::Debug for Redacted {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[REDACTED]")
            }
        }
        f.write_str("Headers ")?;
        let mut map = f.debug_map();
        for (name, value) in &self.pairs {
            if is_secret_header(name) {
                map.entry(name, &Redacted);
            } else {
                map.entry(name, value);
            }
        }
        map.finish()
    }
}

impl Drop for Headers {
    fn drop(&mut self) {
        for (name, value) in &mut self.pairs {
            if is_secret_header(name) {
                value.zeroize();
            }
        }
    }
}

/// Whether the request was made over TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// HTTPS.
    Secure,
    /// Plain HTTP: SSE-C and SSE-KMS requests are refused.
    Insecure,
}

/// A validated SSE-C key: 32 bytes whose MD5 matched the `-customer-key-MD5` header.
///
/// `Debug` prints the key as `CustomerKey([REDACTED])` and the MD5 in base64 (the value S3 echoes).
#[derive(Clone)]
pub struct CustomerKeyHeaders {
    /// The customer key.
    pub key: CustomerKey,
    /// MD5 of the raw key bytes (what `-customer-key-MD5` carries, decoded).
    pub key_md5: [u8; 16],
}

impl fmt::Debug for CustomerKeyHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomerKeyHeaders")
            .field("key", &self.key)
            .field("key_md5", &STANDARD.encode(self.key_md5))
            .finish()
    }
}

/// What a write (PutObject, POST Object, CopyObject destination, CreateMultipartUpload) asks for.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum SseRequest {
    /// No SSE header: the bucket's default encryption applies (SSE-S3 at the least).
    None,
    /// SSE-S3: `x-amz-server-side-encryption: AES256`.
    S3,
    /// SSE-KMS: `x-amz-server-side-encryption: aws:kms`.
    Kms {
        /// The KMS key (id, ARN or alias); `None` means the AWS-managed `aws/s3` key (or the bucket
        /// default's key). An empty header counts as absent, as MinIO does.
        key_id: Option<String>,
        /// The caller's additional context; S3 adds `aws:s3:arn` to it.
        context: EncryptionContext,
        /// The per-request bucket-key override; `None` means the bucket setting.
        bucket_key: Option<bool>,
    },
    /// DSSE-KMS: `x-amz-server-side-encryption: aws:kms:dsse` (never with a bucket key).
    DsseKms {
        /// As for [`SseRequest::Kms`].
        key_id: Option<String>,
        /// As for [`SseRequest::Kms`].
        context: EncryptionContext,
    },
    /// SSE-C: the customer's key.
    Customer(CustomerKeyHeaders),
}

/// How a stored object is encrypted: what S3 echoes in its responses.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoredSse {
    /// SSE-S3.
    S3,
    /// SSE-KMS.
    Kms {
        /// The full ARN of the KMS key.
        key_arn: String,
        /// Whether an S3 Bucket Key was used.
        bucket_key: bool,
    },
    /// DSSE-KMS.
    DsseKms {
        /// The full ARN of the KMS key.
        key_arn: String,
    },
    /// SSE-C; S3 keeps only what validates the key, and echoes the key's MD5.
    Customer {
        /// MD5 of the raw customer key.
        key_md5: [u8; 16],
    },
}

/// Parses the SSE headers of a write: PutObject, POST Object, CopyObject (the destination's headers) or
/// CreateMultipartUpload. See the module documentation for the order of the checks.
///
/// # Errors
/// An [`S3Error`] with S3's status, code and message:
/// - SSE-C over [`Transport::Insecure`]: 400 `InvalidRequest` (MinIO's answer; AWS's is unverified);
/// - SSE-C with `x-amz-server-side-encryption`: 400 `InvalidArgument`;
/// - an unknown `x-amz-server-side-encryption` value (empty included, and `aws:fsx`/`aws:backup`, which
///   belong to FSx and Backup access points): 400 `InvalidArgument`;
/// - a KMS key id, context or bucket-key header without `aws:kms`/`aws:kms:dsse`: 400 `InvalidArgument`;
/// - SSE-KMS or DSSE-KMS over [`Transport::Insecure`]: 400 `InvalidArgument` ([`S3Error::kms_requires_sigv4`]);
/// - a bucket-key value other than `true`/`false`, a malformed context, a context holding `aws:s3:arn`,
///   or DSSE with a bucket key: 400 `InvalidArgument`;
/// - the SSE-C errors of [`parse_read`].
pub fn parse_write(h: &Headers, transport: Transport) -> Result<SseRequest, S3Error> {
    let customer = customer_requested(h, &TARGET);
    if customer && transport == Transport::Insecure {
        return Err(insecure_customer_request());
    }
    let sse = h.get(SERVER_SIDE_ENCRYPTION);
    if customer && sse.is_some() {
        return Err(incompatible_encryption_method());
    }
    match sse {
        None => {
            reject_kms_headers(h)?;
            match parse_trio(h, &TARGET, transport)? {
                Some(key) => Ok(SseRequest::Customer(key)),
                None => Ok(SseRequest::None),
            }
        }
        Some(AES256) => {
            reject_kms_headers(h)?;
            Ok(SseRequest::S3)
        }
        Some(method @ (AWS_KMS | AWS_KMS_DSSE)) => {
            if transport == Transport::Insecure {
                return Err(S3Error::kms_requires_sigv4());
            }
            let key_id = h
                .get(KMS_KEY_ID)
                .filter(|v| !v.is_empty())
                .map(str::to_owned);
            let bucket_key = h
                .get(BUCKET_KEY_ENABLED)
                .map(parse_bucket_key)
                .transpose()?;
            let context = h
                .get(ENCRYPTION_CONTEXT)
                .map(parse_context)
                .transpose()?
                .unwrap_or_default();
            if method == AWS_KMS {
                Ok(SseRequest::Kms {
                    key_id,
                    context,
                    bucket_key,
                })
            } else if bucket_key == Some(true) {
                Err(dsse_bucket_key())
            } else {
                Ok(SseRequest::DsseKms { key_id, context })
            }
        }
        Some(_) => Err(unsupported_encryption_method()),
    }
}

/// Parses the SSE headers of a read (GetObject, HeadObject, GetObjectAttributes) or of an UploadPart:
/// only the SSE-C trio is allowed. Returns the customer key if one was given.
///
/// # Errors
/// An [`S3Error`] with S3's status, code and message:
/// - SSE-C over [`Transport::Insecure`]: 400 `InvalidRequest`;
/// - `x-amz-server-side-encryption` present: 400 `InvalidArgument`;
/// - a KMS key id, context or bucket-key header: 400 `InvalidArgument`;
/// - key or MD5 without the algorithm, algorithm without key, MD5 absent, MD5 mismatch, key not 32
///   bytes (or not base64): 400 `InvalidArgument`;
/// - algorithm other than `AES256`: 400 `InvalidEncryptionAlgorithmError`.
pub fn parse_read(
    h: &Headers,
    transport: Transport,
) -> Result<Option<CustomerKeyHeaders>, S3Error> {
    if customer_requested(h, &TARGET) && transport == Transport::Insecure {
        return Err(insecure_customer_request());
    }
    if h.contains(SERVER_SIDE_ENCRYPTION) {
        return Err(sse_header_not_supported());
    }
    reject_kms_headers(h)?;
    parse_trio(h, &TARGET, transport)
}

/// Parses the copy source's SSE-C trio of CopyObject or UploadPartCopy
/// (`x-amz-copy-source-server-side-encryption-customer-{algorithm,key,key-MD5}`). The destination's
/// headers go through [`parse_write`].
///
/// # Errors
/// The SSE-C errors of [`parse_read`], with the same statuses, codes and messages.
pub fn parse_copy_source(
    h: &Headers,
    transport: Transport,
) -> Result<Option<CustomerKeyHeaders>, S3Error> {
    parse_trio(h, &COPY_SOURCE, transport)
}

/// Checks a read (GET, HEAD, GetObjectAttributes, or a copy source) against how the object is stored.
/// `given` is what [`parse_read`] or [`parse_copy_source`] returned.
///
/// The key check here compares MD5s (in constant time) and is only a fast pre-check: the engine must
/// still authenticate the key when it unseals the object key, and answer a failure there with
/// [`S3Error::customer_key_mismatch`].
///
/// # Errors
/// - SSE-KMS or DSSE-KMS object over [`Transport::Insecure`]: 400 `InvalidArgument`
///   ([`S3Error::kms_requires_sigv4`]);
/// - SSE-C object without a key: 400 `InvalidRequest` "The object was stored using a form of Server Side
///   Encryption. The correct parameters must be provided to retrieve the object.";
/// - SSE-C object with another key: 403 `AccessDenied` ([`S3Error::customer_key_mismatch`]);
/// - a key for an object that is not SSE-C: 400 `InvalidRequest` "The encryption parameters are not
///   applicable to this object."
pub fn check_read(
    stored: &StoredSse,
    given: Option<&CustomerKeyHeaders>,
    transport: Transport,
) -> Result<(), S3Error> {
    match (stored, given) {
        (StoredSse::Kms { .. } | StoredSse::DsseKms { .. }, _)
            if transport == Transport::Insecure =>
        {
            Err(S3Error::kms_requires_sigv4())
        }
        (StoredSse::Customer { .. }, None) => Err(S3Error::invalid_request(
            "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
        )),
        (StoredSse::Customer { key_md5 }, Some(given)) => {
            if primitives::ct_eq(key_md5, &given.key_md5) {
                Ok(())
            } else {
                Err(S3Error::customer_key_mismatch())
            }
        }
        (_, Some(_)) => Err(S3Error::invalid_request(
            "The encryption parameters are not applicable to this object.",
        )),
        (_, None) => Ok(()),
    }
}

/// Checks an UploadPart's SSE-C key (from [`parse_read`]) against the one CreateMultipartUpload was given:
/// `initiated` is the MD5 of that key, or `None` if the upload is not SSE-C. As with [`check_read`], the
/// engine must still authenticate the key itself.
///
/// # Errors
/// - a key on an upload that was not initiated with one, or none on one that was: 400 `InvalidRequest`
///   "The multipart upload initiate requested encryption. Subsequent part requests must include the
///   appropriate encryption parameters." (AWS answers both cases so; aws-sdk-ruby#1084);
/// - another key: 400 `InvalidRequest` "The provided encryption parameters did not match the ones used
///   originally."
pub fn check_upload_part(
    initiated: Option<&[u8; 16]>,
    given: Option<&CustomerKeyHeaders>,
) -> Result<(), S3Error> {
    match (initiated, given) {
        (None, None) => Ok(()),
        (Some(md5), Some(given)) => {
            if primitives::ct_eq(md5, &given.key_md5) {
                Ok(())
            } else {
                Err(S3Error::invalid_request(
                    "The provided encryption parameters did not match the ones used originally.",
                ))
            }
        }
        _ => Err(S3Error::invalid_request(
            "The multipart upload initiate requested encryption. Subsequent part requests must include the appropriate encryption parameters.",
        )),
    }
}

/// The SSE headers S3 returns for a stored object (PUT, GET, HEAD, UploadPart, CopyObject…): never the
/// customer key and never the KMS encryption context. A bucket key that is off is not mentioned.
#[must_use]
pub fn response_headers(stored: &StoredSse) -> Vec<(String, String)> {
    let pair = |n: &str, v: &str| (n.to_owned(), v.to_owned());
    match stored {
        StoredSse::S3 => vec![pair(SERVER_SIDE_ENCRYPTION, AES256)],
        StoredSse::Kms {
            key_arn,
            bucket_key,
        } => {
            let mut out = vec![
                pair(SERVER_SIDE_ENCRYPTION, AWS_KMS),
                pair(KMS_KEY_ID, key_arn),
            ];
            if *bucket_key {
                out.push(pair(BUCKET_KEY_ENABLED, "true"));
            }
            out
        }
        StoredSse::DsseKms { key_arn } => {
            vec![
                pair(SERVER_SIDE_ENCRYPTION, AWS_KMS_DSSE),
                pair(KMS_KEY_ID, key_arn),
            ]
        }
        StoredSse::Customer { key_md5 } => vec![
            pair(CUSTOMER_ALGORITHM, AES256),
            pair(CUSTOMER_KEY_MD5, &STANDARD.encode(key_md5)),
        ],
    }
}

/// The three SSE-C headers a client sends for `key`, as botocore computes them from a raw
/// `SSECustomerKey`: `AES256`, base64 of the key, base64 of the key's MD5.
///
/// The second value is the key itself: drop the array as soon as the request is sent.
#[must_use]
pub fn customer_key_headers(key: &[u8; KEY_LEN]) -> [(String, String); 3] {
    trio_headers(&TARGET, key)
}

/// As [`customer_key_headers`], under the copy-source names
/// (`x-amz-copy-source-server-side-encryption-customer-*`).
#[must_use]
pub fn copy_source_customer_key_headers(key: &[u8; KEY_LEN]) -> [(String, String); 3] {
    trio_headers(&COPY_SOURCE, key)
}

// ---------------------------------------------------------------------------------------------------
// Helpers.

/// HTTP optional whitespace (RFC 9110 §5.6.3), plus CR and LF.
const HTTP_WHITESPACE: &[char] = &[' ', '\t', '\r', '\n'];

/// Standard base64 that accepts the input with or without its `=` padding.
const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The names of one SSE-C header trio.
struct Trio {
    algorithm: &'static str,
    key: &'static str,
    key_md5: &'static str,
}

const TARGET: Trio = Trio {
    algorithm: CUSTOMER_ALGORITHM,
    key: CUSTOMER_KEY,
    key_md5: CUSTOMER_KEY_MD5,
};
const COPY_SOURCE: Trio = Trio {
    algorithm: COPY_SOURCE_CUSTOMER_ALGORITHM,
    key: COPY_SOURCE_CUSTOMER_KEY,
    key_md5: COPY_SOURCE_CUSTOMER_KEY_MD5,
};

fn is_secret_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.contains("customer-key") && !lower.contains("-md5")
}

fn customer_requested(h: &Headers, names: &Trio) -> bool {
    h.contains(names.algorithm) || h.contains(names.key) || h.contains(names.key_md5)
}

/// The SSE-C trio (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerSideEncryptionCustomerKeys.html>), checked in S3's order.
fn parse_trio(
    h: &Headers,
    names: &Trio,
    transport: Transport,
) -> Result<Option<CustomerKeyHeaders>, S3Error> {
    if !customer_requested(h, names) {
        return Ok(None);
    }
    if transport == Transport::Insecure {
        return Err(insecure_customer_request());
    }
    let present = |name| h.get(name).filter(|v| !v.is_empty());
    let Some(algorithm) = present(names.algorithm) else {
        return Err(S3Error::invalid_argument(
            "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.",
        ));
    };
    if algorithm != AES256 {
        return Err(S3Error::invalid_encryption_algorithm());
    }
    let Some(key_b64) = present(names.key) else {
        return Err(S3Error::invalid_argument(
            "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.",
        ));
    };
    // Unverified on AWS (an AWS re:Post report says a GET without it succeeds); MinIO's answer.
    let Some(md5_b64) = present(names.key_md5) else {
        return Err(S3Error::invalid_argument(
            "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.",
        ));
    };
    // A key that is not base64 has no bytes to hash: it gets the wrong-key-length answer (AWS's answer
    // is unverified).
    let raw = decode_secret(key_b64).ok_or_else(invalid_customer_key)?;
    let key_md5 = hash::md5(&raw);
    // AWS compares the MD5 before it looks at the key length. An MD5 header that is not base64 cannot
    // match.
    let provided = BASE64_LENIENT.decode(md5_b64).unwrap_or_default();
    if !primitives::ct_eq(&key_md5, &provided) {
        return Err(S3Error::invalid_argument(
            "The calculated MD5 hash of the key did not match the hash that was provided.",
        ));
    }
    let key = CustomerKey::try_from_slice(&raw).map_err(|_| invalid_customer_key())?;
    Ok(Some(CustomerKeyHeaders { key, key_md5 }))
}

/// Decodes base64 key material into a buffer that is zeroized however decoding ends.
fn decode_secret(b64: &str) -> Option<Zeroizing<Vec<u8>>> {
    // Exactly the capacity `decode_vec` asks for, so it never reallocates and leaves no unzeroized copy.
    let mut buf = Zeroizing::new(Vec::with_capacity(b64.len().div_ceil(4).saturating_mul(3)));
    BASE64_LENIENT.decode_vec(b64, &mut buf).ok()?;
    Some(buf)
}

/// Any KMS header without `aws:kms`/`aws:kms:dsse` (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html>).
///
/// AWS's recorded answer (LocalStack, aws-cli#4507) is for the key-id header on a write; s3crypt gives the
/// same answer for the context and bucket-key headers, and on reads (as a third-party conformance suite
/// records for GetObjectAttributes with a key id).
fn reject_kms_headers(h: &Headers) -> Result<(), S3Error> {
    if [KMS_KEY_ID, ENCRYPTION_CONTEXT, BUCKET_KEY_ENABLED]
        .iter()
        .any(|n| h.contains(n))
    {
        return Err(S3Error::invalid_argument(
            "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
        ));
    }
    Ok(())
}

/// `true`/`false` in any case. The error text is s3crypt's (AWS's is unverified).
fn parse_bucket_key(value: &str) -> Result<bool, S3Error> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(S3Error::invalid_argument(
            "The x-amz-server-side-encryption-bucket-key-enabled header must be true or false.",
        ))
    }
}

/// Base64 of a UTF-8 JSON object of string → string (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html>). Repeated JSON keys keep the last
/// value.
///
/// A context naming `aws:s3:arn` (in any case) is refused: S3 adds that key itself, binding the data key
/// to the object (or bucket) ARN, and key policies condition on it (`kms:EncryptionContext:aws:s3:arn`,
/// whose key part IAM matches case-insensitively), so a caller must not choose it. Whether AWS refuses or
/// overwrites it is unverified; the message is s3crypt's.
fn parse_context(value: &str) -> Result<EncryptionContext, S3Error> {
    let json = BASE64_LENIENT
        .decode(value)
        .map_err(|_| malformed_context())?;
    let context: BTreeMap<String, String> =
        serde_json::from_slice(&json).map_err(|_| malformed_context())?;
    if context
        .keys()
        .any(|k| k.eq_ignore_ascii_case(RESERVED_CONTEXT_KEY))
    {
        return Err(S3Error::invalid_argument(
            "The encryption context key aws:s3:arn is reserved for Amazon S3 and cannot be specified.",
        ));
    }
    Ok(context)
}

/// Recorded from AWS (HADOOP-19197, 2024) with status 400; the code is unverified (`InvalidArgument` is
/// LocalStack's and the likely one).
fn malformed_context() -> S3Error {
    S3Error::invalid_argument(
        "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map",
    )
}

/// Bucket Keys are not supported with DSSE-KMS (AWS UG bucket-key). The message is s3crypt's (AWS's
/// answer is unverified); a `false` bucket-key header with DSSE is accepted.
fn dsse_bucket_key() -> S3Error {
    S3Error::invalid_argument(
        "S3 Bucket Keys are not supported for dual-layer server-side encryption with AWS KMS keys (DSSE-KMS).",
    )
}

/// SSE-C over plain HTTP. AWS's answer is unverified (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerSideEncryptionCustomerKeys.html>); this is MinIO's (IONOS sends the
/// same text as `InvalidArgument`).
fn insecure_customer_request() -> S3Error {
    S3Error::invalid_request(
        "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.",
    )
}

/// Recorded from AWS (kafka-connect-storage-cloud#389, LocalStack).
fn incompatible_encryption_method() -> S3Error {
    S3Error::invalid_argument(
        "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
    )
}

/// Recorded from AWS for an empty value (aws-sdk-cpp#1771, 2021); s3crypt gives it for every value other
/// than `AES256`, `aws:kms` and `aws:kms:dsse`, where AWS's answer is unverified.
fn unsupported_encryption_method() -> S3Error {
    S3Error::invalid_argument("The encryption method specified is not supported")
}

/// `x-amz-server-side-encryption` on a read: recorded from AWS (s3cmd#276, 2014) and asserted by a
/// third-party conformance suite for GetObjectAttributes.
fn sse_header_not_supported() -> S3Error {
    S3Error::invalid_argument(
        "x-amz-server-side-encryption header is not supported for this operation.",
    )
}

fn invalid_customer_key() -> S3Error {
    S3Error::invalid_argument("The secret key was invalid for the specified algorithm.")
}

fn trio_headers(names: &Trio, key: &[u8; KEY_LEN]) -> [(String, String); 3] {
    [
        (names.algorithm.to_owned(), AES256.to_owned()),
        (names.key.to_owned(), STANDARD.encode(key)),
        (names.key_md5.to_owned(), STANDARD.encode(hash::md5(key))),
    ]
}

#[cfg(test)]
mod tests {
    //! One test per row of <https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerSideEncryptionCustomerKeys.html> and per SSE-KMS header rule, each asserting (status, code, message) as
    //! literal text, written out here rather than taken from the implementation.

    use super::*;

    /// `bytes(range(32))`; its header values computed with Python's `base64` and `hashlib`.
    const KEY: [u8; 32] = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
        25, 26, 27, 28, 29, 30, 31,
    ];
    const KEY_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const KEY_MD5_B64: &str = "tP/LI3N87DFaSk0aoqYgzg==";
    /// `bytes([0x11] * 32)`.
    const OTHER_KEY_B64: &str = "ERERERERERERERERERERERERERERERERERERERERERE=";
    const OTHER_KEY_MD5_B64: &str = "YSbdkQDUu1vJkAgt83fvFg==";

    const PROVIDE: &str =
        "Requests specifying Server Side Encryption with Customer provided keys must provide ";
    const REQUIRES_KMS: &str = "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms";
    const BAD_CONTEXT: &str = "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map";
    const SIGV4: &str = "Requests specifying Server Side Encryption with AWS KMS managed keys require AWS Signature Version 4.";

    fn b64(bytes: &[u8]) -> String {
        STANDARD.encode(bytes)
    }

    /// The SSE-C trio for arbitrary key bytes (any length), as a client would compute it.
    fn trio_for(key: &[u8]) -> Vec<(String, String)> {
        vec![
            (CUSTOMER_ALGORITHM.into(), "AES256".into()),
            (CUSTOMER_KEY.into(), b64(key)),
            (CUSTOMER_KEY_MD5.into(), b64(&hash::md5(key))),
        ]
    }

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        Headers::from(pairs)
    }

    fn with(mut base: Vec<(String, String)>, extra: &[(&str, &str)]) -> Headers {
        base.extend(
            extra
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
        );
        Headers::new(base)
    }

    fn valid() -> Vec<(String, String)> {
        customer_key_headers(&KEY).to_vec()
    }

    #[track_caller]
    fn assert_err<T: fmt::Debug>(r: Result<T, S3Error>, status: u16, code: &str, message: &str) {
        let e = r.expect_err("expected an error");
        assert_eq!(
            (e.status(), e.code().as_str(), e.message()),
            (status, code, message)
        );
    }

    #[track_caller]
    fn write_err(h: &Headers, status: u16, code: &str, message: &str) {
        assert_err(parse_write(h, Transport::Secure), status, code, message);
    }

    #[track_caller]
    fn invalid_argument(h: &Headers, message: &str) {
        write_err(h, 400, "InvalidArgument", message);
        // The SSE-C errors are the same on every operation that takes the trio.
    }

    #[track_caller]
    fn customer(r: Result<SseRequest, S3Error>) -> CustomerKeyHeaders {
        match r.expect("parse") {
            SseRequest::Customer(k) => k,
            other => panic!("expected SSE-C, got {other:?}"),
        }
    }

    // ---- customer_key_headers: what botocore sends --------------------------------------------------

    #[test]
    fn customer_key_headers_match_botocore() {
        let h = customer_key_headers(&KEY);
        assert_eq!(
            h,
            [
                (
                    "x-amz-server-side-encryption-customer-algorithm".to_owned(),
                    "AES256".to_owned()
                ),
                (
                    "x-amz-server-side-encryption-customer-key".to_owned(),
                    KEY_B64.to_owned()
                ),
                (
                    "x-amz-server-side-encryption-customer-key-MD5".to_owned(),
                    KEY_MD5_B64.to_owned()
                ),
            ]
        );
        let c = copy_source_customer_key_headers(&[0x11; 32]);
        assert_eq!(
            c[0].0,
            "x-amz-copy-source-server-side-encryption-customer-algorithm"
        );
        assert_eq!(
            c[1],
            (
                "x-amz-copy-source-server-side-encryption-customer-key".to_owned(),
                OTHER_KEY_B64.to_owned()
            )
        );
        assert_eq!(
            c[2],
            (
                "x-amz-copy-source-server-side-encryption-customer-key-MD5".to_owned(),
                OTHER_KEY_MD5_B64.to_owned()
            )
        );
    }

    #[test]
    fn valid_customer_key_parses_on_write_read_and_copy_source() {
        let k = customer(parse_write(&Headers::new(valid()), Transport::Secure));
        assert_eq!(k.key.expose_secret(), &KEY);
        assert_eq!(b64(&k.key_md5), KEY_MD5_B64);

        let k = parse_read(&Headers::new(valid()), Transport::Secure)
            .expect("read")
            .expect("key");
        assert_eq!(k.key.expose_secret(), &KEY);

        let h = Headers::new(copy_source_customer_key_headers(&KEY));
        let k = parse_copy_source(&h, Transport::Secure)
            .expect("copy")
            .expect("key");
        assert_eq!(k.key.expose_secret(), &KEY);
    }

    #[test]
    fn unpadded_base64_is_accepted() {
        let h = headers(&[
            (CUSTOMER_ALGORITHM, "AES256"),
            (CUSTOMER_KEY, KEY_B64.trim_end_matches('=')),
            (CUSTOMER_KEY_MD5, KEY_MD5_B64.trim_end_matches('=')),
        ]);
        assert_eq!(
            customer(parse_write(&h, Transport::Secure))
                .key
                .expose_secret(),
            &KEY
        );
    }

    // ---- §3.3 rows -----------------------------------------------------------------------------------

    #[test]
    fn row_algorithm_not_aes256() {
        for alg in ["AES128", "aes256", "aws:kms", "AES256 GCM", "\u{0}"] {
            let h = headers(&[
                (CUSTOMER_ALGORITHM, alg),
                (CUSTOMER_KEY, KEY_B64),
                (CUSTOMER_KEY_MD5, KEY_MD5_B64),
            ]);
            let msg = "The Encryption request you specified is not valid. Supported value: AES256.";
            write_err(&h, 400, "InvalidEncryptionAlgorithmError", msg);
            assert_err(
                parse_read(&h, Transport::Secure),
                400,
                "InvalidEncryptionAlgorithmError",
                msg,
            );
        }
        // Checked before the key is looked at.
        write_err(
            &headers(&[(CUSTOMER_ALGORITHM, "AES512")]),
            400,
            "InvalidEncryptionAlgorithmError",
            "The Encryption request you specified is not valid. Supported value: AES256.",
        );
    }

    #[test]
    fn row_key_or_md5_without_algorithm() {
        let msg = format!("{PROVIDE}a valid encryption algorithm.");
        invalid_argument(
            &headers(&[(CUSTOMER_KEY, KEY_B64), (CUSTOMER_KEY_MD5, KEY_MD5_B64)]),
            &msg,
        );
        invalid_argument(&headers(&[(CUSTOMER_KEY, KEY_B64)]), &msg);
        invalid_argument(&headers(&[(CUSTOMER_KEY_MD5, KEY_MD5_B64)]), &msg);
        invalid_argument(
            &headers(&[
                (CUSTOMER_ALGORITHM, ""),
                (CUSTOMER_KEY, KEY_B64),
                (CUSTOMER_KEY_MD5, KEY_MD5_B64),
            ]),
            &msg,
        );
    }

    #[test]
    fn row_algorithm_without_key() {
        let msg = format!("{PROVIDE}an appropriate secret key.");
        invalid_argument(&headers(&[(CUSTOMER_ALGORITHM, "AES256")]), &msg);
        invalid_argument(
            &headers(&[
                (CUSTOMER_ALGORITHM, "AES256"),
                (CUSTOMER_KEY_MD5, KEY_MD5_B64),
            ]),
            &msg,
        );
        invalid_argument(
            &headers(&[
                (CUSTOMER_ALGORITHM, "AES256"),
                (CUSTOMER_KEY, "  "),
                (CUSTOMER_KEY_MD5, KEY_MD5_B64),
            ]),
            &msg,
        );
    }

    /// Unverified on AWS; MinIO's text.
    #[test]
    fn row_md5_header_absent() {
        let msg = format!("{PROVIDE}the client calculated MD5 of the secret key.");
        invalid_argument(
            &headers(&[(CUSTOMER_ALGORITHM, "AES256"), (CUSTOMER_KEY, KEY_B64)]),
            &msg,
        );
        invalid_argument(
            &headers(&[
                (CUSTOMER_ALGORITHM, "AES256"),
                (CUSTOMER_KEY, KEY_B64),
                (CUSTOMER_KEY_MD5, ""),
            ]),
            &msg,
        );
    }

    #[test]
    fn row_md5_mismatch() {
        let msg = "The calculated MD5 hash of the key did not match the hash that was provided.";
        let wrong_md5 = [
            OTHER_KEY_MD5_B64.to_owned(),
            hex::encode(hash::md5(&KEY)),        // hex instead of base64
            b64(&hash::md5(KEY_B64.as_bytes())), // MD5 of the base64 text
            "not base64!".to_owned(),
            b64(&[0u8; 15]),
        ];
        for md5 in &wrong_md5 {
            invalid_argument(
                &headers(&[
                    (CUSTOMER_ALGORITHM, "AES256"),
                    (CUSTOMER_KEY, KEY_B64),
                    (CUSTOMER_KEY_MD5, md5),
                ]),
                msg,
            );
        }
    }

    /// AWS checks the MD5 before the length: a 24-byte key with a wrong MD5 gets the MD5 answer.
    #[test]
    fn md5_is_checked_before_key_length() {
        let short = [7u8; 24];
        let h = headers(&[
            (CUSTOMER_ALGORITHM, "AES256"),
            (CUSTOMER_KEY, &b64(&short)),
            (CUSTOMER_KEY_MD5, KEY_MD5_B64),
        ]);
        invalid_argument(
            &h,
            "The calculated MD5 hash of the key did not match the hash that was provided.",
        );
    }

    #[test]
    fn row_key_not_32_bytes_with_matching_md5() {
        let msg = "The secret key was invalid for the specified algorithm.";
        for len in [1, 10, 16, 24, 31, 33, 64, 4096] {
            let key = vec![0x5A; len];
            invalid_argument(&Headers::new(trio_for(&key)), msg);
            assert_err(
                parse_read(&Headers::new(trio_for(&key)), Transport::Secure),
                400,
                "InvalidArgument",
                msg,
            );
        }
    }

    /// A key that is not base64 cannot be hashed; it gets the key-length answer whatever the MD5 says.
    #[test]
    fn key_not_base64_is_an_invalid_key() {
        let msg = "The secret key was invalid for the specified algorithm.";
        for key in [
            "not base64!",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=!",
            "A",
            "====",
            "AAEC AwQF",
        ] {
            invalid_argument(
                &headers(&[
                    (CUSTOMER_ALGORITHM, "AES256"),
                    (CUSTOMER_KEY, key),
                    (CUSTOMER_KEY_MD5, KEY_MD5_B64),
                ]),
                msg,
            );
        }
    }

    #[test]
    fn row_customer_key_with_server_side_encryption_header() {
        let msg = "Server Side Encryption with Customer provided key is incompatible with the encryption method specified";
        for sse in ["AES256", "aws:kms", "aws:kms:dsse", "", "bogus"] {
            invalid_argument(&with(valid(), &[(SERVER_SIDE_ENCRYPTION, sse)]), msg);
        }
        // Checked before the trio itself.
        invalid_argument(
            &headers(&[
                (CUSTOMER_ALGORITHM, "AES128"),
                (SERVER_SIDE_ENCRYPTION, "AES256"),
            ]),
            msg,
        );
    }

    #[test]
    fn row_read_of_customer_object_without_key() {
        let stored = StoredSse::Customer {
            key_md5: hash::md5(&KEY),
        };
        assert_err(
            check_read(&stored, None, Transport::Secure),
            400,
            "InvalidRequest",
            "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
        );
    }

    #[test]
    fn row_read_with_wrong_key() {
        let stored = StoredSse::Customer {
            key_md5: hash::md5(&[0x11; 32]),
        };
        let given = parse_read(&Headers::new(valid()), Transport::Secure)
            .expect("read")
            .expect("key");
        assert_err(
            check_read(&stored, Some(&given), Transport::Secure),
            403,
            "AccessDenied",
            "Requests specifying Server Side Encryption with Customer provided keys must provide the correct secret key.",
        );
        let right = StoredSse::Customer {
            key_md5: hash::md5(&KEY),
        };
        assert_eq!(check_read(&right, Some(&given), Transport::Secure), Ok(()));
        assert_eq!(S3Error::customer_key_mismatch().status(), 403);
    }

    #[test]
    fn row_customer_key_on_object_that_is_not_customer_encrypted() {
        let given = parse_read(&Headers::new(valid()), Transport::Secure)
            .expect("read")
            .expect("key");
        for stored in [
            StoredSse::S3,
            StoredSse::Kms {
                key_arn: "arn:aws:kms:us-east-1:111122223333:key/k".into(),
                bucket_key: true,
            },
            StoredSse::DsseKms {
                key_arn: "arn:aws:kms:us-east-1:111122223333:key/k".into(),
            },
        ] {
            assert_err(
                check_read(&stored, Some(&given), Transport::Secure),
                400,
                "InvalidRequest",
                "The encryption parameters are not applicable to this object.",
            );
            assert_eq!(check_read(&stored, None, Transport::Secure), Ok(()));
        }
    }

    #[test]
    fn row_upload_part_encryption_differs_from_initiate() {
        let given = parse_read(&Headers::new(valid()), Transport::Secure)
            .expect("read")
            .expect("key");
        let initiate = "The multipart upload initiate requested encryption. Subsequent part requests must include the appropriate encryption parameters.";
        assert_err(
            check_upload_part(Some(&hash::md5(&KEY)), None),
            400,
            "InvalidRequest",
            initiate,
        );
        assert_err(
            check_upload_part(None, Some(&given)),
            400,
            "InvalidRequest",
            initiate,
        );
        assert_err(
            check_upload_part(Some(&hash::md5(&[0x11; 32])), Some(&given)),
            400,
            "InvalidRequest",
            "The provided encryption parameters did not match the ones used originally.",
        );
        assert_eq!(
            check_upload_part(Some(&hash::md5(&KEY)), Some(&given)),
            Ok(())
        );
        assert_eq!(check_upload_part(None, None), Ok(()));
    }

    #[test]
    fn row_customer_write_to_bucket_that_blocks_sse_c() {
        let e = S3Error::sse_c_blocked(
            "arn:aws:iam::123456789012:user/MaryMajor",
            "s3:PutObject",
            "arn:aws:s3:::amzn-s3-demo-bucket1/object-name",
        );
        assert_eq!(
            (e.status(), e.code().as_str(), e.message()),
            (
                403,
                "AccessDenied",
                "User: arn:aws:iam::123456789012:user/MaryMajor is not authorized to perform: s3:PutObject on resource: \"arn:aws:s3:::amzn-s3-demo-bucket1/object-name\" because this bucket has blocked upload requests that specify Server Side Encryption with Customer provided keys (SSE-C). Please specify a different server-side encryption type"
            )
        );
    }

    /// Unverified on AWS (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerSideEncryptionCustomerKeys.html>); MinIO's answer.
    #[test]
    fn customer_key_over_plain_http() {
        let msg = "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.";
        let h = Headers::new(valid());
        assert_err(
            parse_write(&h, Transport::Insecure),
            400,
            "InvalidRequest",
            msg,
        );
        assert_err(
            parse_read(&h, Transport::Insecure),
            400,
            "InvalidRequest",
            msg,
        );
        let c = Headers::new(copy_source_customer_key_headers(&KEY));
        assert_err(
            parse_copy_source(&c, Transport::Insecure),
            400,
            "InvalidRequest",
            msg,
        );
        // Any one header of the trio is enough, valid or not, and it is checked first.
        for name in [CUSTOMER_ALGORITHM, CUSTOMER_KEY, CUSTOMER_KEY_MD5] {
            let h = headers(&[(name, "x"), (SERVER_SIDE_ENCRYPTION, "bogus")]);
            assert_err(
                parse_write(&h, Transport::Insecure),
                400,
                "InvalidRequest",
                msg,
            );
            assert_err(
                parse_read(&h, Transport::Insecure),
                400,
                "InvalidRequest",
                msg,
            );
        }
        // Without SSE-C, plain HTTP is fine.
        assert!(matches!(
            parse_write(&headers(&[]), Transport::Insecure),
            Ok(SseRequest::None)
        ));
        assert!(matches!(
            parse_read(&headers(&[]), Transport::Insecure),
            Ok(None)
        ));
    }

    // ---- copy source -----------------------------------------------------------------------------------

    #[test]
    fn copy_source_errors_match_the_target_errors() {
        type Case<'a> = (&'a [(&'a str, &'a str)], u16, &'a str, String);
        let cases: [Case<'_>; 6] = [
            (
                &[
                    (COPY_SOURCE_CUSTOMER_ALGORITHM, "AES128"),
                    (COPY_SOURCE_CUSTOMER_KEY, KEY_B64),
                ],
                400,
                "InvalidEncryptionAlgorithmError",
                "The Encryption request you specified is not valid. Supported value: AES256."
                    .into(),
            ),
            (
                &[
                    (COPY_SOURCE_CUSTOMER_KEY, KEY_B64),
                    (COPY_SOURCE_CUSTOMER_KEY_MD5, KEY_MD5_B64),
                ],
                400,
                "InvalidArgument",
                format!("{PROVIDE}a valid encryption algorithm."),
            ),
            (
                &[(COPY_SOURCE_CUSTOMER_ALGORITHM, "AES256")],
                400,
                "InvalidArgument",
                format!("{PROVIDE}an appropriate secret key."),
            ),
            (
                &[
                    (COPY_SOURCE_CUSTOMER_ALGORITHM, "AES256"),
                    (COPY_SOURCE_CUSTOMER_KEY, KEY_B64),
                ],
                400,
                "InvalidArgument",
                format!("{PROVIDE}the client calculated MD5 of the secret key."),
            ),
            (
                &[
                    (COPY_SOURCE_CUSTOMER_ALGORITHM, "AES256"),
                    (COPY_SOURCE_CUSTOMER_KEY, KEY_B64),
                    (COPY_SOURCE_CUSTOMER_KEY_MD5, OTHER_KEY_MD5_B64),
                ],
                400,
                "InvalidArgument",
                "The calculated MD5 hash of the key did not match the hash that was provided."
                    .into(),
            ),
            (
                &[
                    (COPY_SOURCE_CUSTOMER_ALGORITHM, "AES256"),
                    (COPY_SOURCE_CUSTOMER_KEY, "AAAAAAAAAAAAAAAAAAAAAA=="),
                    (COPY_SOURCE_CUSTOMER_KEY_MD5, "SucTNuRL+b950nUuI0gYpQ=="), // MD5 of 16 zero bytes
                ],
                400,
                "InvalidArgument",
                "The secret key was invalid for the specified algorithm.".into(),
            ),
        ];
        for (pairs, status, code, msg) in cases {
            assert_err(
                parse_copy_source(&headers(pairs), Transport::Secure),
                status,
                code,
                &msg,
            );
            // The copy-source trio is not the destination's: the destination parse ignores it.
            assert!(matches!(
                parse_write(&headers(pairs), Transport::Secure),
                Ok(SseRequest::None)
            ));
        }
    }

    #[test]
    fn copy_source_and_destination_keys_are_independent() {
        let mut pairs = copy_source_customer_key_headers(&[0x11; 32]).to_vec();
        pairs.extend(valid());
        pairs.push((
            SERVER_SIDE_ENCRYPTION.into(),
            "garbage-ignored-by-copy-source".into(),
        ));
        let h = Headers::new(pairs);
        let source = parse_copy_source(&h, Transport::Secure)
            .expect("source")
            .expect("key");
        assert_eq!(source.key.expose_secret(), &[0x11; 32]);
        assert!(
            parse_copy_source(&Headers::new(valid()), Transport::Secure)
                .expect("no source")
                .is_none()
        );
    }

    // ---- §4: x-amz-server-side-encryption and the KMS headers -----------------------------------------

    #[test]
    fn server_side_encryption_values() {
        assert!(matches!(
            parse_write(&headers(&[]), Transport::Secure),
            Ok(SseRequest::None)
        ));
        assert!(matches!(
            parse_write(
                &headers(&[(SERVER_SIDE_ENCRYPTION, "AES256")]),
                Transport::Secure
            ),
            Ok(SseRequest::S3)
        ));
        match parse_write(
            &headers(&[(SERVER_SIDE_ENCRYPTION, "aws:kms")]),
            Transport::Secure,
        ) {
            Ok(SseRequest::Kms {
                key_id: None,
                context,
                bucket_key: None,
            }) => assert!(context.is_empty()),
            other => panic!("{other:?}"),
        }
        match parse_write(
            &headers(&[(SERVER_SIDE_ENCRYPTION, "aws:kms:dsse")]),
            Transport::Secure,
        ) {
            Ok(SseRequest::DsseKms {
                key_id: None,
                context,
            }) => assert!(context.is_empty()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unsupported_server_side_encryption_value() {
        for v in [
            "",
            "aes256",
            "AES512",
            "aws:kms:DSSE",
            "aes:kms",
            "aws:fsx",
            "aws:backup",
            "AES256,aws:kms",
        ] {
            invalid_argument(
                &headers(&[(SERVER_SIDE_ENCRYPTION, v)]),
                "The encryption method specified is not supported",
            );
        }
    }

    #[test]
    fn kms_headers_without_aws_kms() {
        let context = b64(br#"{"a":"b"}"#);
        for (name, value) in [
            (KMS_KEY_ID, "alias/x"),
            (ENCRYPTION_CONTEXT, context.as_str()),
            (BUCKET_KEY_ENABLED, "true"),
        ] {
            invalid_argument(&headers(&[(name, value)]), REQUIRES_KMS);
            invalid_argument(
                &headers(&[(SERVER_SIDE_ENCRYPTION, "AES256"), (name, value)]),
                REQUIRES_KMS,
            );
            invalid_argument(&with(valid(), &[(name, value)]), REQUIRES_KMS);
            // Even empty.
            invalid_argument(&headers(&[(name, "")]), REQUIRES_KMS);
        }
    }

    #[test]
    fn kms_key_id_context_and_bucket_key_are_parsed() {
        let context = b64(br#"{"department": "finance", "a": "b"}"#);
        let h = headers(&[
            (SERVER_SIDE_ENCRYPTION, "aws:kms"),
            (
                KMS_KEY_ID,
                " arn:aws:kms:us-east-1:111122223333:key/1234abcd ",
            ),
            (ENCRYPTION_CONTEXT, &context),
            (BUCKET_KEY_ENABLED, "TRUE"),
        ]);
        match parse_write(&h, Transport::Secure) {
            Ok(SseRequest::Kms {
                key_id,
                context,
                bucket_key,
            }) => {
                assert_eq!(
                    key_id.as_deref(),
                    Some("arn:aws:kms:us-east-1:111122223333:key/1234abcd")
                );
                assert_eq!(
                    context,
                    EncryptionContext::from([
                        ("a".to_owned(), "b".to_owned()),
                        ("department".to_owned(), "finance".to_owned())
                    ])
                );
                assert_eq!(bucket_key, Some(true));
            }
            other => panic!("{other:?}"),
        }
        // An empty key id means the default key (MinIO); unpadded base64 and non-ASCII values are fine.
        let h = headers(&[
            (SERVER_SIDE_ENCRYPTION, "aws:kms:dsse"),
            (KMS_KEY_ID, ""),
            (ENCRYPTION_CONTEXT, "eyJrIjoidsOpIn0"),
            (BUCKET_KEY_ENABLED, "False"),
        ]);
        match parse_write(&h, Transport::Secure) {
            Ok(SseRequest::DsseKms {
                key_id: None,
                context,
            }) => assert_eq!(context["k"], "v\u{e9}"),
            other => panic!("{other:?}"),
        }
        let h = headers(&[
            (SERVER_SIDE_ENCRYPTION, "aws:kms"),
            (BUCKET_KEY_ENABLED, "false"),
        ]);
        assert!(matches!(
            parse_write(&h, Transport::Secure),
            Ok(SseRequest::Kms {
                bucket_key: Some(false),
                ..
            })
        ));
    }

    #[test]
    fn malformed_context() {
        let cases = [
            "not base64!".to_owned(),
            String::new(),
            b64(b"not json"),
            b64(b"[\"a\",\"b\"]"),
            b64(br#"{"a":1}"#),
            b64(br#"{"a":{"b":"c"}}"#),
            b64(br#"{"a":null}"#),
            b64(b"{\"a\":\"\xff\"}"),
            b64(br#"{"a":"b""#),
            b64(&[b'['; 10_000]),
        ];
        for kms in ["aws:kms", "aws:kms:dsse"] {
            for c in &cases {
                invalid_argument(
                    &headers(&[(SERVER_SIDE_ENCRYPTION, kms), (ENCRYPTION_CONTEXT, c)]),
                    BAD_CONTEXT,
                );
            }
        }
        // An empty object is a valid, empty context.
        let h = headers(&[
            (SERVER_SIDE_ENCRYPTION, "aws:kms"),
            (ENCRYPTION_CONTEXT, &b64(b"{}")),
        ]);
        assert!(
            matches!(parse_write(&h, Transport::Secure), Ok(SseRequest::Kms { context, .. }) if context.is_empty())
        );
    }

    #[test]
    fn reserved_context_key_is_refused() {
        let msg = "The encryption context key aws:s3:arn is reserved for Amazon S3 and cannot be specified.";
        for key in ["aws:s3:arn", "AWS:S3:ARN"] {
            let json = format!(r#"{{"{key}":"arn:aws:s3:::other-bucket/other-key","x":"y"}}"#);
            let h = headers(&[
                (SERVER_SIDE_ENCRYPTION, "aws:kms"),
                (ENCRYPTION_CONTEXT, &b64(json.as_bytes())),
            ]);
            invalid_argument(&h, msg);
        }
    }

    #[test]
    fn bucket_key_value_must_be_boolean() {
        for v in ["yes", "1", "", "truee", "on"] {
            invalid_argument(
                &headers(&[(SERVER_SIDE_ENCRYPTION, "aws:kms"), (BUCKET_KEY_ENABLED, v)]),
                "The x-amz-server-side-encryption-bucket-key-enabled header must be true or false.",
            );
        }
    }

    #[test]
    fn bucket_key_with_dsse_is_refused() {
        invalid_argument(
            &headers(&[
                (SERVER_SIDE_ENCRYPTION, "aws:kms:dsse"),
                (BUCKET_KEY_ENABLED, "true"),
            ]),
            "S3 Bucket Keys are not supported for dual-layer server-side encryption with AWS KMS keys (DSSE-KMS).",
        );
    }

    #[test]
    fn kms_over_plain_http() {
        for kms in ["aws:kms", "aws:kms:dsse"] {
            let h = headers(&[(SERVER_SIDE_ENCRYPTION, kms), (KMS_KEY_ID, "alias/x")]);
            assert_err(
                parse_write(&h, Transport::Insecure),
                400,
                "InvalidArgument",
                SIGV4,
            );
        }
        assert!(matches!(
            parse_write(
                &headers(&[(SERVER_SIDE_ENCRYPTION, "AES256")]),
                Transport::Insecure
            ),
            Ok(SseRequest::S3)
        ));
        let arn = "arn:aws:kms:us-east-1:111122223333:key/k".to_owned();
        for stored in [
            StoredSse::Kms {
                key_arn: arn.clone(),
                bucket_key: false,
            },
            StoredSse::DsseKms { key_arn: arn },
        ] {
            assert_err(
                check_read(&stored, None, Transport::Insecure),
                400,
                "InvalidArgument",
                SIGV4,
            );
            assert_eq!(check_read(&stored, None, Transport::Secure), Ok(()));
        }
        assert_eq!(
            check_read(&StoredSse::S3, None, Transport::Insecure),
            Ok(())
        );
        assert_eq!(S3Error::kms_requires_sigv4().message(), SIGV4);
    }

    // ---- reads ---------------------------------------------------------------------------------------

    #[test]
    fn read_refuses_server_side_encryption_header() {
        for v in ["AES256", "aws:kms", ""] {
            assert_err(
                parse_read(&headers(&[(SERVER_SIDE_ENCRYPTION, v)]), Transport::Secure),
                400,
                "InvalidArgument",
                "x-amz-server-side-encryption header is not supported for this operation.",
            );
        }
    }

    #[test]
    fn read_refuses_kms_headers() {
        for name in [KMS_KEY_ID, ENCRYPTION_CONTEXT, BUCKET_KEY_ENABLED] {
            assert_err(
                parse_read(&headers(&[(name, "x")]), Transport::Secure),
                400,
                "InvalidArgument",
                REQUIRES_KMS,
            );
            assert_err(
                parse_read(&with(valid(), &[(name, "x")]), Transport::Secure),
                400,
                "InvalidArgument",
                REQUIRES_KMS,
            );
        }
    }

    #[test]
    fn read_without_sse_headers_is_none() {
        let h = headers(&[("host", "b.s3.amazonaws.com"), ("range", "bytes=0-9")]);
        assert!(parse_read(&h, Transport::Secure).expect("read").is_none());
    }

    // ---- header handling -----------------------------------------------------------------------------

    #[test]
    fn header_names_are_case_insensitive_and_values_trimmed() {
        let h = headers(&[
            (
                "X-Amz-Server-Side-Encryption-Customer-Algorithm",
                " AES256\t",
            ),
            (
                "X-AMZ-SERVER-SIDE-ENCRYPTION-CUSTOMER-KEY",
                &format!("  {KEY_B64}  "),
            ),
            (
                "x-amz-server-side-encryption-customer-key-md5",
                &format!("\t{KEY_MD5_B64}\r\n"),
            ),
        ]);
        assert_eq!(
            customer(parse_write(&h, Transport::Secure))
                .key
                .expose_secret(),
            &KEY
        );
        let h = headers(&[
            ("X-AMZ-SERVER-SIDE-ENCRYPTION", "aws:kms"),
            ("x-amz-server-side-encryption-aws-KMS-key-id", "k"),
        ]);
        assert!(
            matches!(parse_write(&h, Transport::Secure), Ok(SseRequest::Kms { key_id: Some(k), .. }) if k == "k")
        );
        let h = Headers::new(
            copy_source_customer_key_headers(&KEY).map(|(n, v)| (n.to_uppercase(), v)),
        );
        assert!(
            parse_copy_source(&h, Transport::Secure)
                .expect("copy")
                .is_some()
        );
        assert_eq!(headers(&[("A", " b ")]).get("a"), Some("b"));
        assert_eq!(headers(&[("a", "b")]).get("A"), Some("b"));
        assert_eq!(headers(&[("a", "b")]).get("c"), None);
    }

    #[test]
    fn first_of_repeated_headers_counts() {
        let h = headers(&[
            (SERVER_SIDE_ENCRYPTION, "AES256"),
            (SERVER_SIDE_ENCRYPTION, "aws:kms"),
        ]);
        assert!(matches!(
            parse_write(&h, Transport::Secure),
            Ok(SseRequest::S3)
        ));
        assert_eq!(h.len(), 2);
    }

    // ---- response headers --------------------------------------------------------------------------

    #[test]
    fn response_headers_per_mode() {
        let arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd";
        let pairs = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            response_headers(&StoredSse::S3),
            pairs(&[("x-amz-server-side-encryption", "AES256")])
        );
        assert_eq!(
            response_headers(&StoredSse::Kms {
                key_arn: arn.into(),
                bucket_key: true
            }),
            pairs(&[
                ("x-amz-server-side-encryption", "aws:kms"),
                ("x-amz-server-side-encryption-aws-kms-key-id", arn),
                ("x-amz-server-side-encryption-bucket-key-enabled", "true"),
            ])
        );
        assert_eq!(
            response_headers(&StoredSse::Kms {
                key_arn: arn.into(),
                bucket_key: false
            }),
            pairs(&[
                ("x-amz-server-side-encryption", "aws:kms"),
                ("x-amz-server-side-encryption-aws-kms-key-id", arn)
            ])
        );
        assert_eq!(
            response_headers(&StoredSse::DsseKms {
                key_arn: arn.into()
            }),
            pairs(&[
                ("x-amz-server-side-encryption", "aws:kms:dsse"),
                ("x-amz-server-side-encryption-aws-kms-key-id", arn)
            ])
        );
        assert_eq!(
            response_headers(&StoredSse::Customer {
                key_md5: hash::md5(&KEY)
            }),
            pairs(&[
                ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
                ("x-amz-server-side-encryption-customer-key-MD5", KEY_MD5_B64),
            ])
        );
    }

    // ---- secrets -------------------------------------------------------------------------------------

    /// The renderings of the key that must never appear.
    fn leaks(rendered: &str) -> bool {
        let lower = rendered.to_lowercase();
        lower.contains(&hex::encode(KEY))
            || lower.contains(&hex::encode(&KEY[8..16]))
            || rendered.contains(KEY_B64)
            || rendered.contains(&KEY_B64[..24])
            || rendered.contains(&format!("{:?}", &KEY[..])[1..40])
    }

    #[test]
    fn key_never_reaches_debug_or_errors() {
        let h = Headers::new(
            valid()
                .into_iter()
                .chain(copy_source_customer_key_headers(&KEY)),
        );
        let rendered = [format!("{h:?}"), format!("{h:#?}")];
        for r in &rendered {
            assert!(!leaks(r), "{r}");
            assert!(r.contains(KEY_MD5_B64), "MD5 headers are not secret: {r}");
            assert_eq!(r.matches("[REDACTED]").count(), 2, "{r}");
        }
        let req = parse_write(&h, Transport::Secure).expect("write");
        let source = parse_copy_source(&h, Transport::Secure)
            .expect("copy")
            .expect("key");
        for r in [
            format!("{req:?}"),
            format!("{req:#?}"),
            format!("{source:?}"),
            format!("{:?}", Some(&source)),
        ] {
            assert!(!leaks(&r), "{r}");
            assert!(r.contains("REDACTED"), "{r}");
        }
        // Every error reachable with this key in the headers.
        let mut errors = Vec::new();
        for t in [Transport::Secure, Transport::Insecure] {
            errors.push(
                parse_write(&with(valid(), &[(SERVER_SIDE_ENCRYPTION, "AES256")]), t)
                    .expect_err("sse"),
            );
            errors.push(parse_write(&with(valid(), &[(KMS_KEY_ID, KEY_B64)]), t).expect_err("kms"));
            errors.push(parse_read(&headers(&[(CUSTOMER_KEY, KEY_B64)]), t).expect_err("alg"));
            errors.push(
                parse_read(
                    &headers(&[(CUSTOMER_ALGORITHM, "AES256"), (CUSTOMER_KEY, KEY_B64)]),
                    t,
                )
                .expect_err("md5"),
            );
            errors.push(
                parse_read(
                    &headers(&[
                        (CUSTOMER_ALGORITHM, "AES256"),
                        (CUSTOMER_KEY, KEY_B64),
                        (CUSTOMER_KEY_MD5, OTHER_KEY_MD5_B64),
                    ]),
                    t,
                )
                .expect_err("mismatch"),
            );
            errors.push(
                parse_read(
                    &headers(&[
                        (CUSTOMER_ALGORITHM, KEY_B64),
                        (CUSTOMER_KEY, KEY_B64),
                        (CUSTOMER_KEY_MD5, KEY_MD5_B64),
                    ]),
                    t,
                )
                .expect_err("algorithm"),
            );
            let stored = StoredSse::Customer { key_md5: [0; 16] };
            errors.push(check_read(&stored, Some(&source), t).expect_err("wrong key"));
        }
        for e in &errors {
            for r in [format!("{e:?}"), e.to_string(), e.to_xml()] {
                assert!(!leaks(&r), "{r}");
            }
        }
        // Response headers carry only the MD5.
        let resp = response_headers(&StoredSse::Customer {
            key_md5: source.key_md5,
        });
        assert!(!leaks(&format!("{resp:?}")));
    }

    #[test]
    fn debug_redacts_exactly_the_customer_key_headers() {
        assert!(is_secret_header(
            "x-amz-server-side-encryption-customer-key"
        ));
        assert!(is_secret_header(
            "X-Amz-Copy-Source-Server-Side-Encryption-Customer-Key"
        ));
        assert!(is_secret_header("x-my-customer-keys"));
        assert!(!is_secret_header(
            "x-amz-server-side-encryption-customer-key-MD5"
        ));
        assert!(!is_secret_header(
            "x-amz-copy-source-server-side-encryption-customer-key-md5"
        ));
        assert!(!is_secret_header(
            "x-amz-server-side-encryption-customer-algorithm"
        ));
        let h = headers(&[
            ("Host", "example"),
            ("x-amz-server-side-encryption-customer-key", "secret"),
        ]);
        assert_eq!(
            format!("{h:?}"),
            r#"Headers {"Host": "example", "x-amz-server-side-encryption-customer-key": [REDACTED]}"#
        );
    }

    #[test]
    fn misspelled_sse_headers_are_recognized() {
        for ok in SSE_HEADERS {
            assert!(!is_misspelled_sse_header(ok), "{ok}");
            assert!(!is_misspelled_sse_header(&ok.to_ascii_uppercase()), "{ok}");
        }
        for plain in [
            "content-type",
            "x-amz-meta-owner",
            "x-amz-acl",
            "cache-control",
        ] {
            assert!(!is_misspelled_sse_header(plain), "{plain}");
        }
        for typo in [
            "x-amz-server-side-encrpytion",
            "x-amz-server-side-encryption-kms-key-id",
            "x-amz-serverside-encryption",
            "x-amz-sse",
            "x-amz-sse-customer-key",
            "x-amz-server-side-encryption-customer-key-md",
            "server-side-encryption",
        ] {
            assert!(is_misspelled_sse_header(typo), "{typo}");
        }
    }
}
