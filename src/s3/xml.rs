//! S3's XML request and response bodies: pure renderers (`render_*`, returning the whole document) and
//! parsers (`parse_*`, over attacker-controlled bytes). No I/O.
//!
//! # Rendering
//! Every document starts with [`XML_DECL`], its root element carries `xmlns=` [`S3_XMLNS`], element names
//! are S3's (API reference, "Response Syntax" and examples). Where the documentation's syntax block and its
//! examples disagree on element *order*, the examples (what S3 sends) are followed; SDK parsers match
//! elements by name, so the order is cosmetic. Times are ISO 8601 UTC with milliseconds
//! (`2026-12-02T06:00:00.000Z`); ETags are written as stored (quoted), and like every text are XML-escaped,
//! so `"` is `&quot;` as in S3's own listings.
//!
//! Text escaping ([`escape_text`]): `& < > " '` become the predefined entities, a carriage return becomes
//! `&#13;` (what S3's "XML related object key constraints" ask for, so it survives end-of-line
//! normalisation), the other C0 control characters except tab and line feed, and U+FFFE/U+FFFF, become
//! hexadecimal character references (`&#x1;`). A strict
//! XML 1.0 parser still refuses references to C0 controls other than tab, LF and CR (XML 1.0 §2.2), which is
//! why SDKs list with `encoding-type=url` (botocore sends it by default): then keys are percent-encoded
//! ([`url_encode`]) and contain no control characters at all.
//!
//! # Parsing
//! Bodies must be UTF-8 XML with one root element; names are matched on their local part (any namespace
//! prefix, with or without `xmlns`, as S3 accepts). A `DOCTYPE` is refused outright (so no entity
//! declarations, hence no expansion attacks); only the five predefined entities and character references
//! are resolved. Nesting deeper than [`MAX_DEPTH`] or more than [`MAX_ELEMENTS`] elements is refused.
//! Unknown elements, repeated single elements, non-blank text in container elements and values that do not
//! parse are refused. Every refusal is 400 `MalformedXML` with S3's message; nothing panics.
//! Text that names a key, version id or ETag is kept exactly (whitespace included); numbers, booleans and
//! enumerations are trimmed (`xs:int`/`xs:boolean` collapse whitespace).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::aws::clock;
use crate::s3::public_access::PublicAccessBlock;
use crate::s3::{S3Error, S3ErrorCode};
use crate::store::{BucketInfo, ObjectInfo, PartInfo};

/// The namespace S3 puts on every response root element.
pub const S3_XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// The XML declaration every response starts with.
pub const XML_DECL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// The most objects one DeleteObjects request may name (more is 400 `MalformedXML`, as S3).
pub const MAX_DELETE_OBJECTS: usize = 1000;

/// The deepest element nesting a parsed body may have.
pub const MAX_DEPTH: usize = 16;

/// The most elements a parsed body may have (a CompleteMultipartUpload of 10,000 parts, each with every
/// checksum, stays below it).
pub const MAX_ELEMENTS: usize = 200_000;

/// The checksum algorithms S3 knows, as written after `Checksum` in element names.
pub const CHECKSUM_ALGORITHMS: &[&str] = &["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"];

// ------------------------------------------------------------------------------------------------
// Shared pieces
// ------------------------------------------------------------------------------------------------

/// An owner or initiator as S3 writes it: `<ID>` and `<DisplayName>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner<'a> {
    /// `ID`: the canonical user id (or, for an initiator, the principal ARN).
    pub id: &'a str,
    /// `DisplayName`.
    pub display_name: &'a str,
}

/// XML-escapes `s` for element text: the five predefined entities, and character references for the
/// control characters XML cannot carry literally (see the module documentation).
#[must_use]
pub fn escape_text(s: &str) -> Cow<'_, str> {
    let escaped = quick_xml::escape::escape(s);
    if !escaped.chars().any(needs_char_ref) {
        return escaped;
    }
    let mut out = String::with_capacity(escaped.len() + 16);
    for c in escaped.chars() {
        if needs_char_ref(c) {
            let _ = write!(out, "&#x{:X};", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn needs_char_ref(c: char) -> bool {
    (c < '\u{20}' && c != '\t' && c != '\n') || c == '\u{FFFE}' || c == '\u{FFFF}'
}

/// Percent-encodes `s` as S3 does for `encoding-type=url`: every byte of the UTF-8 form except RFC 3986's
/// unreserved characters (`A-Z a-z 0-9 - . _ ~`) and `/` becomes `%XX` (upper-case hex). Space is `%20`
/// and `+` is `%2B`, so both plain percent-decoding and botocore's `unquote_plus` give the key back; `/`
/// stays as S3 leaves it (ceph s3-tests expect `foo%2B1/`).
#[must_use]
pub fn url_encode(s: &str) -> Cow<'_, str> {
    let keep = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/');
    if s.bytes().all(keep) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    Cow::Owned(out)
}

/// `t` as S3 writes times: `2026-12-02T06:00:00.000Z` (times before the epoch are written as the epoch).
#[must_use]
pub fn timestamp(t: SystemTime) -> String {
    clock::rfc3339(t.duration_since(UNIX_EPOCH).unwrap_or_default())
}

/// A document under construction.
pub(crate) struct Doc(String);

impl Doc {
    pub(crate) fn new(root: &str) -> Self {
        Self::with_namespace(root, S3_XMLNS)
    }

    /// A document whose root is in namespace `ns` (S3 Control's, for example).
    pub(crate) fn with_namespace(root: &str, ns: &str) -> Self {
        let mut s = String::with_capacity(512);
        s.push_str(XML_DECL);
        let _ = write!(s, r#"<{root} xmlns="{ns}">"#);
        Self(s)
    }

    pub(crate) fn open(&mut self, name: &str) {
        let _ = write!(self.0, "<{name}>");
    }

    pub(crate) fn close(&mut self, name: &str) {
        let _ = write!(self.0, "</{name}>");
    }

    /// `<name>escaped text</name>`.
    pub(crate) fn text(&mut self, name: &str, value: &str) {
        let _ = write!(self.0, "<{name}>{}</{name}>", escape_text(value));
    }

    /// `<name>` with `value` URL-encoded first when `url` is set.
    pub(crate) fn key(&mut self, name: &str, value: &str, url: bool) {
        if url {
            self.text(name, &url_encode(value));
        } else {
            self.text(name, value);
        }
    }

    pub(crate) fn opt(&mut self, name: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.text(name, v);
        }
    }

    pub(crate) fn num(&mut self, name: &str, value: impl std::fmt::Display) {
        let _ = write!(self.0, "<{name}>{value}</{name}>");
    }

    pub(crate) fn time(&mut self, name: &str, t: SystemTime) {
        self.text(name, &timestamp(t));
    }

    pub(crate) fn owner(&mut self, name: &str, owner: Owner<'_>) {
        self.open(name);
        self.text("ID", owner.id);
        self.text("DisplayName", owner.display_name);
        self.close(name);
    }

    pub(crate) fn common_prefixes(&mut self, prefixes: &[String], url: bool) {
        for p in prefixes {
            self.open("CommonPrefixes");
            self.key("Prefix", p, url);
            self.close("CommonPrefixes");
        }
    }

    pub(crate) fn finish(mut self, root: &str) -> String {
        self.close(root);
        self.0
    }
}

// ------------------------------------------------------------------------------------------------
// Renderers
// ------------------------------------------------------------------------------------------------

/// `ListAllMyBucketsResult` (ListBuckets): `Owner`, `Buckets/Bucket{Name, CreationDate}`, then
/// `ContinuationToken` and `Prefix` only when given. A bucket without a known creation time has no
/// `CreationDate`.
#[must_use]
pub fn render_list_all_my_buckets(
    owner: Owner<'_>,
    buckets: &[BucketInfo],
    continuation_token: Option<&str>,
    prefix: Option<&str>,
) -> String {
    const ROOT: &str = "ListAllMyBucketsResult";
    let mut d = Doc::new(ROOT);
    d.owner("Owner", owner);
    d.open("Buckets");
    for b in buckets {
        d.open("Bucket");
        d.text("Name", &b.name);
        if let Some(t) = b.created {
            d.time("CreationDate", t);
        }
        d.close("Bucket");
    }
    d.close("Buckets");
    d.opt("ContinuationToken", continuation_token);
    d.opt("Prefix", prefix);
    d.finish(ROOT)
}

/// One object of a listing (`Contents`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListEntry<'a> {
    /// `Key`.
    pub key: &'a str,
    /// `LastModified`.
    pub last_modified: SystemTime,
    /// `ETag`, as stored (quoted).
    pub etag: &'a str,
    /// `Size`.
    pub size: u64,
    /// `ChecksumAlgorithm` (`CRC32`, …), written only when set.
    pub checksum_algorithm: Option<&'a str>,
}

impl<'a> From<&'a ObjectInfo> for ListEntry<'a> {
    fn from(info: &'a ObjectInfo) -> Self {
        Self {
            key: &info.key,
            last_modified: info.last_modified,
            etag: &info.etag,
            size: info.size,
            checksum_algorithm: None,
        }
    }
}

fn contents(d: &mut Doc, entries: &[ListEntry<'_>], owner: Option<Owner<'_>>, url: bool) {
    for e in entries {
        d.open("Contents");
        d.key("Key", e.key, url);
        d.time("LastModified", e.last_modified);
        d.text("ETag", e.etag);
        d.opt("ChecksumAlgorithm", e.checksum_algorithm);
        d.num("Size", e.size);
        if let Some(o) = owner {
            d.owner("Owner", o);
        }
        d.text("StorageClass", "STANDARD");
        d.close("Contents");
    }
}

/// One page of ListObjectsV2, as the server has computed it.
#[derive(Clone, Copy, Debug)]
pub struct ListV2Page<'a> {
    /// `Name`: the bucket.
    pub bucket: &'a str,
    /// `Prefix` (always written, empty when none was given).
    pub prefix: &'a str,
    /// `Delimiter`, written when given.
    pub delimiter: Option<&'a str>,
    /// `MaxKeys` as requested (after defaulting to 1,000).
    pub max_keys: usize,
    /// `encoding-type=url` was requested: `EncodingType` is written and `Key`, `Prefix`, `Delimiter`,
    /// `StartAfter` and `CommonPrefixes/Prefix` are [`url_encode`]d.
    pub encoding_url: bool,
    /// `ContinuationToken`: the request's, written when given.
    pub continuation_token: Option<&'a str>,
    /// `NextContinuationToken`, written when given (the page is truncated).
    pub next_continuation_token: Option<&'a str>,
    /// `StartAfter`: the request's, written when given.
    pub start_after: Option<&'a str>,
    /// `fetch-owner=true`: each `Contents` carries `Owner`.
    pub fetch_owner: bool,
    /// The bucket owner, written in `Contents/Owner` when `fetch_owner`.
    pub owner: Owner<'a>,
    /// The objects, in key order.
    pub contents: &'a [ListEntry<'a>],
    /// The rolled-up prefixes, in order.
    pub common_prefixes: &'a [String],
    /// `IsTruncated`.
    pub is_truncated: bool,
}

/// `ListBucketResult` for ListObjectsV2: `Name, Prefix, Delimiter?, MaxKeys, EncodingType?, KeyCount,
/// IsTruncated, ContinuationToken?, NextContinuationToken?, StartAfter?, Contents*, CommonPrefixes*`.
/// `KeyCount` is the number of contents plus common prefixes (S3 counts both).
#[must_use]
pub fn render_list_objects_v2(page: &ListV2Page<'_>) -> String {
    const ROOT: &str = "ListBucketResult";
    let url = page.encoding_url;
    let mut d = Doc::new(ROOT);
    d.text("Name", page.bucket);
    d.key("Prefix", page.prefix, url);
    if let Some(delim) = page.delimiter {
        d.key("Delimiter", delim, url);
    }
    d.num("MaxKeys", page.max_keys);
    if url {
        d.text("EncodingType", "url");
    }
    d.num("KeyCount", page.contents.len() + page.common_prefixes.len());
    d.num("IsTruncated", page.is_truncated);
    d.opt("ContinuationToken", page.continuation_token);
    d.opt("NextContinuationToken", page.next_continuation_token);
    if let Some(s) = page.start_after {
        d.key("StartAfter", s, url);
    }
    let owner = page.fetch_owner.then_some(page.owner);
    contents(&mut d, page.contents, owner, url);
    d.common_prefixes(page.common_prefixes, url);
    d.finish(ROOT)
}

/// One page of ListObjects (version 1), as the server has computed it.
#[derive(Clone, Copy, Debug)]
pub struct ListV1Page<'a> {
    /// `Name`: the bucket.
    pub bucket: &'a str,
    /// `Prefix` (always written).
    pub prefix: &'a str,
    /// `Marker`: the request's (always written, empty when none was given).
    pub marker: &'a str,
    /// `NextMarker`: written only when the page is truncated *and* a delimiter was given, as S3 (without a
    /// delimiter clients continue from the last key).
    pub next_marker: Option<&'a str>,
    /// `MaxKeys` as requested (after defaulting to 1,000).
    pub max_keys: usize,
    /// `Delimiter`, written when given.
    pub delimiter: Option<&'a str>,
    /// `encoding-type=url`: `EncodingType` is written and `Key`, `Prefix`, `Marker`, `NextMarker`,
    /// `Delimiter` and `CommonPrefixes/Prefix` are [`url_encode`]d.
    pub encoding_url: bool,
    /// The bucket owner: ListObjects always writes `Contents/Owner`.
    pub owner: Owner<'a>,
    /// The objects, in key order.
    pub contents: &'a [ListEntry<'a>],
    /// The rolled-up prefixes, in order.
    pub common_prefixes: &'a [String],
    /// `IsTruncated`.
    pub is_truncated: bool,
}

/// `ListBucketResult` for ListObjects (v1): `Name, Prefix, Marker, NextMarker?, MaxKeys, Delimiter?,
/// IsTruncated, EncodingType?, Contents* (with Owner), CommonPrefixes*`.
#[must_use]
pub fn render_list_objects_v1(page: &ListV1Page<'_>) -> String {
    const ROOT: &str = "ListBucketResult";
    let url = page.encoding_url;
    let mut d = Doc::new(ROOT);
    d.text("Name", page.bucket);
    d.key("Prefix", page.prefix, url);
    d.key("Marker", page.marker, url);
    if let (true, Some(_), Some(next)) = (page.is_truncated, page.delimiter, page.next_marker) {
        d.key("NextMarker", next, url);
    }
    d.num("MaxKeys", page.max_keys);
    if let Some(delim) = page.delimiter {
        d.key("Delimiter", delim, url);
    }
    d.num("IsTruncated", page.is_truncated);
    if url {
        d.text("EncodingType", "url");
    }
    contents(&mut d, page.contents, Some(page.owner), url);
    d.common_prefixes(page.common_prefixes, url);
    d.finish(ROOT)
}

/// `InitiateMultipartUploadResult`: `Bucket, Key, UploadId`.
#[must_use]
pub fn render_initiate_multipart_upload(bucket: &str, key: &str, upload_id: &str) -> String {
    const ROOT: &str = "InitiateMultipartUploadResult";
    let mut d = Doc::new(ROOT);
    d.text("Bucket", bucket);
    d.text("Key", key);
    d.text("UploadId", upload_id);
    d.finish(ROOT)
}

/// What CompleteMultipartUpload answers.
#[derive(Clone, Copy, Debug)]
pub struct CompleteMultipartUploadOutput<'a> {
    /// `Location`: the object's URL.
    pub location: &'a str,
    /// `Bucket`.
    pub bucket: &'a str,
    /// `Key`.
    pub key: &'a str,
    /// `ETag`, as stored (`"<md5>-<parts>"`).
    pub etag: &'a str,
    /// `(algorithm, base64 value)` pairs written as `Checksum<ALGORITHM>`; algorithms outside
    /// [`CHECKSUM_ALGORITHMS`] are skipped.
    pub checksums: &'a [(&'a str, &'a str)],
    /// `ChecksumType` (`COMPOSITE` or `FULL_OBJECT`), written when given.
    pub checksum_type: Option<&'a str>,
}

/// `CompleteMultipartUploadResult`: `Location, Bucket, Key, ETag, Checksum*?, ChecksumType?`.
#[must_use]
pub fn render_complete_multipart_upload(out: &CompleteMultipartUploadOutput<'_>) -> String {
    const ROOT: &str = "CompleteMultipartUploadResult";
    let mut d = Doc::new(ROOT);
    d.text("Location", out.location);
    d.text("Bucket", out.bucket);
    d.text("Key", out.key);
    d.text("ETag", out.etag);
    for (algo, value) in out.checksums {
        if CHECKSUM_ALGORITHMS.contains(algo) {
            d.text(&format!("Checksum{algo}"), value);
        }
    }
    d.opt("ChecksumType", out.checksum_type);
    d.finish(ROOT)
}

/// One in-progress upload of ListMultipartUploads.
#[derive(Clone, Copy, Debug)]
pub struct UploadEntry<'a> {
    /// `Key`.
    pub key: &'a str,
    /// `UploadId`.
    pub upload_id: &'a str,
    /// `Initiator`.
    pub initiator: Owner<'a>,
    /// `Owner`.
    pub owner: Owner<'a>,
    /// `Initiated`.
    pub initiated: SystemTime,
}

/// One page of ListMultipartUploads.
#[derive(Clone, Copy, Debug)]
pub struct ListUploadsPage<'a> {
    /// `Bucket`.
    pub bucket: &'a str,
    /// `KeyMarker`: the request's (always written).
    pub key_marker: &'a str,
    /// `UploadIdMarker`: the request's (always written).
    pub upload_id_marker: &'a str,
    /// `NextKeyMarker` (always written; empty on the last page).
    pub next_key_marker: &'a str,
    /// `NextUploadIdMarker` (always written; empty on the last page).
    pub next_upload_id_marker: &'a str,
    /// `Prefix`, written when given.
    pub prefix: Option<&'a str>,
    /// `Delimiter`, written when given.
    pub delimiter: Option<&'a str>,
    /// `MaxUploads`.
    pub max_uploads: usize,
    /// `encoding-type=url`: `EncodingType` is written and `Key`, `KeyMarker`, `NextKeyMarker`, `Prefix`,
    /// `Delimiter` and `CommonPrefixes/Prefix` are [`url_encode`]d.
    pub encoding_url: bool,
    /// `IsTruncated`.
    pub is_truncated: bool,
    /// The uploads, by key then initiation time.
    pub uploads: &'a [UploadEntry<'a>],
    /// The rolled-up prefixes.
    pub common_prefixes: &'a [String],
}

/// `ListMultipartUploadsResult`: `Bucket, KeyMarker, UploadIdMarker, NextKeyMarker, NextUploadIdMarker,
/// Delimiter?, Prefix?, EncodingType?, MaxUploads, IsTruncated, Upload{Key, UploadId, Initiator, Owner,
/// StorageClass, Initiated}*, CommonPrefixes*`.
#[must_use]
pub fn render_list_multipart_uploads(page: &ListUploadsPage<'_>) -> String {
    const ROOT: &str = "ListMultipartUploadsResult";
    let url = page.encoding_url;
    let mut d = Doc::new(ROOT);
    d.text("Bucket", page.bucket);
    d.key("KeyMarker", page.key_marker, url);
    d.text("UploadIdMarker", page.upload_id_marker);
    d.key("NextKeyMarker", page.next_key_marker, url);
    d.text("NextUploadIdMarker", page.next_upload_id_marker);
    if let Some(delim) = page.delimiter {
        d.key("Delimiter", delim, url);
    }
    if let Some(p) = page.prefix {
        d.key("Prefix", p, url);
    }
    if url {
        d.text("EncodingType", "url");
    }
    d.num("MaxUploads", page.max_uploads);
    d.num("IsTruncated", page.is_truncated);
    for u in page.uploads {
        d.open("Upload");
        d.key("Key", u.key, url);
        d.text("UploadId", u.upload_id);
        d.owner("Initiator", u.initiator);
        d.owner("Owner", u.owner);
        d.text("StorageClass", "STANDARD");
        d.time("Initiated", u.initiated);
        d.close("Upload");
    }
    d.common_prefixes(page.common_prefixes, url);
    d.finish(ROOT)
}

/// One part of ListParts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartEntry<'a> {
    /// `PartNumber`.
    pub part_number: u32,
    /// `LastModified`.
    pub last_modified: SystemTime,
    /// `ETag`, as stored (quoted).
    pub etag: &'a str,
    /// `Size`.
    pub size: u64,
}

impl<'a> PartEntry<'a> {
    /// The entry for a stored part uploaded at `last_modified` ([`PartInfo`] has no time).
    #[must_use]
    pub fn new(part: &'a PartInfo, last_modified: SystemTime) -> Self {
        Self {
            part_number: part.part_number,
            last_modified,
            etag: &part.etag,
            size: part.size,
        }
    }
}

/// One page of ListParts.
#[derive(Clone, Copy, Debug)]
pub struct ListPartsPage<'a> {
    /// `Bucket`.
    pub bucket: &'a str,
    /// `Key`.
    pub key: &'a str,
    /// `UploadId`.
    pub upload_id: &'a str,
    /// `Initiator`.
    pub initiator: Owner<'a>,
    /// `Owner`.
    pub owner: Owner<'a>,
    /// `PartNumberMarker`: the request's (0 when none).
    pub part_number_marker: u32,
    /// `NextPartNumberMarker`: the last part listed (0 when none).
    pub next_part_number_marker: u32,
    /// `MaxParts`.
    pub max_parts: usize,
    /// `IsTruncated`.
    pub is_truncated: bool,
    /// The parts, ascending.
    pub parts: &'a [PartEntry<'a>],
}

/// `ListPartsResult`: `Bucket, Key, UploadId, Initiator, Owner, StorageClass, PartNumberMarker,
/// NextPartNumberMarker, MaxParts, IsTruncated, Part{PartNumber, LastModified, ETag, Size}*` (the order of
/// the API reference's example).
#[must_use]
pub fn render_list_parts(page: &ListPartsPage<'_>) -> String {
    const ROOT: &str = "ListPartsResult";
    let mut d = Doc::new(ROOT);
    d.text("Bucket", page.bucket);
    d.text("Key", page.key);
    d.text("UploadId", page.upload_id);
    d.owner("Initiator", page.initiator);
    d.owner("Owner", page.owner);
    d.text("StorageClass", "STANDARD");
    d.num("PartNumberMarker", page.part_number_marker);
    d.num("NextPartNumberMarker", page.next_part_number_marker);
    d.num("MaxParts", page.max_parts);
    d.num("IsTruncated", page.is_truncated);
    for p in page.parts {
        d.open("Part");
        d.num("PartNumber", p.part_number);
        d.time("LastModified", p.last_modified);
        d.text("ETag", p.etag);
        d.num("Size", p.size);
        d.close("Part");
    }
    d.finish(ROOT)
}

/// `CopyObjectResult`: `LastModified, ETag`.
#[must_use]
pub fn render_copy_object(last_modified: SystemTime, etag: &str) -> String {
    const ROOT: &str = "CopyObjectResult";
    let mut d = Doc::new(ROOT);
    d.time("LastModified", last_modified);
    d.text("ETag", etag);
    d.finish(ROOT)
}

/// `CopyPartResult` (UploadPartCopy): `LastModified, ETag`.
#[must_use]
pub fn render_copy_part(last_modified: SystemTime, etag: &str) -> String {
    const ROOT: &str = "CopyPartResult";
    let mut d = Doc::new(ROOT);
    d.time("LastModified", last_modified);
    d.text("ETag", etag);
    d.finish(ROOT)
}

/// One object DeleteObjects removed (`Deleted`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deleted {
    /// `Key`.
    pub key: String,
    /// `VersionId`: the version the request named, written when given.
    pub version_id: Option<String>,
    /// `DeleteMarker`: `true` when a delete marker was created or removed (written only then).
    pub delete_marker: bool,
    /// `DeleteMarkerVersionId`: the created (or removed) marker's version id, written when given.
    pub delete_marker_version_id: Option<String>,
}

/// One object DeleteObjects failed to remove (`Error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteFailure {
    /// `Key`.
    pub key: String,
    /// `VersionId`, written when the request named one.
    pub version_id: Option<String>,
    /// `Code`.
    pub code: S3ErrorCode,
    /// `Message`.
    pub message: String,
}

impl DeleteFailure {
    /// The failure of `key` (and `version_id`) with `error`'s code and message.
    #[must_use]
    pub fn new(key: impl Into<String>, version_id: Option<String>, error: &S3Error) -> Self {
        Self {
            key: key.into(),
            version_id,
            code: error.code(),
            message: error.message().to_owned(),
        }
    }
}

/// `DeleteResult`: every `Deleted{Key, VersionId?, DeleteMarker?, DeleteMarkerVersionId?}`, then every
/// `Error{Key, VersionId?, Code, Message}`. In quiet mode the caller passes no `deleted`.
#[must_use]
pub fn render_delete_result(deleted: &[Deleted], errors: &[DeleteFailure]) -> String {
    const ROOT: &str = "DeleteResult";
    let mut d = Doc::new(ROOT);
    for x in deleted {
        d.open("Deleted");
        d.text("Key", &x.key);
        d.opt("VersionId", x.version_id.as_deref());
        if x.delete_marker {
            d.num("DeleteMarker", true);
        }
        d.opt(
            "DeleteMarkerVersionId",
            x.delete_marker_version_id.as_deref(),
        );
        d.close("Deleted");
    }
    for e in errors {
        d.open("Error");
        d.text("Key", &e.key);
        d.opt("VersionId", e.version_id.as_deref());
        d.text("Code", e.code.as_str());
        d.text("Message", &e.message);
        d.close("Error");
    }
    d.finish(ROOT)
}

/// `LocationConstraint` (GetBucketLocation): an empty element for `us-east-1` (and for `None`), else the
/// region.
#[must_use]
pub fn render_location_constraint(region: Option<&str>) -> String {
    match region {
        None | Some("" | "us-east-1") => {
            format!(r#"{XML_DECL}<LocationConstraint xmlns="{S3_XMLNS}"/>"#)
        }
        Some(r) => {
            let mut d = Doc(format!(
                r#"{XML_DECL}<LocationConstraint xmlns="{S3_XMLNS}">"#
            ));
            d.0.push_str(&escape_text(r));
            d.finish("LocationConstraint")
        }
    }
}

/// `PolicyStatus` (GetBucketPolicyStatus): `IsPublic`.
#[must_use]
pub fn render_policy_status(is_public: bool) -> String {
    const ROOT: &str = "PolicyStatus";
    let mut d = Doc::new(ROOT);
    d.num("IsPublic", is_public);
    d.finish(ROOT)
}

/// `PublicAccessBlockConfiguration` (GetPublicAccessBlock): `BlockPublicAcls, IgnorePublicAcls,
/// BlockPublicPolicy, RestrictPublicBuckets`.
#[must_use]
pub fn render_public_access_block(config: &PublicAccessBlock) -> String {
    const ROOT: &str = "PublicAccessBlockConfiguration";
    let mut d = Doc::new(ROOT);
    d.num("BlockPublicAcls", config.block_public_acls);
    d.num("IgnorePublicAcls", config.ignore_public_acls);
    d.num("BlockPublicPolicy", config.block_public_policy);
    d.num("RestrictPublicBuckets", config.restrict_public_buckets);
    d.finish(ROOT)
}

/// A bucket's Object Ownership setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ObjectOwnership {
    /// `BucketOwnerPreferred`: objects uploaded with `bucket-owner-full-control` belong to the bucket owner.
    BucketOwnerPreferred,
    /// `ObjectWriter`: the uploading account owns the object.
    ObjectWriter,
    /// `BucketOwnerEnforced`: ACLs are disabled; the bucket owner owns everything (the default since
    /// April 2023).
    #[default]
    BucketOwnerEnforced,
}

impl ObjectOwnership {
    /// The name as S3 writes it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BucketOwnerPreferred => "BucketOwnerPreferred",
            Self::ObjectWriter => "ObjectWriter",
            Self::BucketOwnerEnforced => "BucketOwnerEnforced",
        }
    }
}

impl FromStr for ObjectOwnership {
    type Err = S3Error;

    /// The setting named exactly `s`.
    ///
    /// # Errors
    /// 400 `MalformedXML` for any other text.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "BucketOwnerPreferred" => Ok(Self::BucketOwnerPreferred),
            "ObjectWriter" => Ok(Self::ObjectWriter),
            "BucketOwnerEnforced" => Ok(Self::BucketOwnerEnforced),
            _ => Err(malformed()),
        }
    }
}

/// `OwnershipControls` (GetBucketOwnershipControls): one `Rule/ObjectOwnership`.
#[must_use]
pub fn render_ownership_controls(ownership: ObjectOwnership) -> String {
    const ROOT: &str = "OwnershipControls";
    let mut d = Doc::new(ROOT);
    d.open("Rule");
    d.text("ObjectOwnership", ownership.as_str());
    d.close("Rule");
    d.finish(ROOT)
}

// ------------------------------------------------------------------------------------------------
// Parsers
// ------------------------------------------------------------------------------------------------

/// One part named by CompleteMultipartUpload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompletedPart {
    /// `PartNumber` (any `u32`: the caller checks 1..=10,000 and the ascending order).
    pub part_number: u32,
    /// `ETag` as sent (S3 accepts it with or without quotes; the caller compares).
    pub etag: String,
    /// `(algorithm, value)` for each `Checksum<ALGORITHM>` element, in document order (algorithm as in
    /// [`CHECKSUM_ALGORITHMS`]).
    pub checksums: Vec<(String, String)>,
}

/// Parses a `CompleteMultipartUpload` body into its parts, in document order.
///
/// # Errors
/// 400 `MalformedXML` for anything but a well-formed `CompleteMultipartUpload` of one or more `Part`s, each
/// with exactly one `PartNumber` (a `u32`) and one `ETag`, and at most one of each checksum element.
pub fn parse_complete_multipart_upload(body: &[u8]) -> Result<Vec<CompletedPart>, S3Error> {
    let root = parse_tree(body, "CompleteMultipartUpload")?;
    let mut parts = Vec::with_capacity(root.children.len());
    for part in root.children_only(&["Part"])? {
        let mut number = None;
        let mut etag = None;
        let mut checksums: Vec<(String, String)> = Vec::new();
        for f in &part.children {
            f.leaf()?;
            match f.name.as_str() {
                "PartNumber" => set_once(&mut number, parse_u32(&f.text)?)?,
                "ETag" => set_once(&mut etag, f.text.trim().to_owned())?,
                name => {
                    let algo = name
                        .strip_prefix("Checksum")
                        .filter(|a| CHECKSUM_ALGORITHMS.contains(a))
                        .ok_or_else(malformed)?;
                    if checksums.iter().any(|(a, _)| a == algo) {
                        return Err(malformed());
                    }
                    checksums.push((algo.to_owned(), f.text.trim().to_owned()));
                }
            }
        }
        parts.push(CompletedPart {
            part_number: number.ok_or_else(malformed)?,
            etag: etag.ok_or_else(malformed)?,
            checksums,
        });
    }
    if parts.is_empty() {
        return Err(malformed());
    }
    Ok(parts)
}

/// One object named by DeleteObjects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectToDelete {
    /// `Key`, exactly as sent.
    pub key: String,
    /// `VersionId`, if given.
    pub version_id: Option<String>,
    /// `ETag`, if given (conditional delete: the caller must honour or refuse it).
    pub etag: Option<String>,
    /// `LastModifiedTime`, if given, as sent (conditional delete).
    pub last_modified_time: Option<String>,
    /// `Size`, if given (conditional delete).
    pub size: Option<u64>,
}

/// A DeleteObjects request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteRequest {
    /// `Quiet`: report only failures.
    pub quiet: bool,
    /// The objects, in document order.
    pub objects: Vec<ObjectToDelete>,
}

/// Parses a `Delete` body.
///
/// # Errors
/// 400 `MalformedXML` for anything but a well-formed `Delete` with an optional `Quiet` boolean and 1 to
/// [`MAX_DELETE_OBJECTS`] `Object`s, each with one `Key`.
pub fn parse_delete(body: &[u8]) -> Result<DeleteRequest, S3Error> {
    let root = parse_tree(body, "Delete")?;
    let mut quiet = None;
    let mut objects = Vec::new();
    for c in &root.children {
        match c.name.as_str() {
            "Quiet" => {
                c.leaf()?;
                set_once(&mut quiet, parse_bool(&c.text)?)?;
            }
            "Object" => {
                if objects.len() == MAX_DELETE_OBJECTS {
                    return Err(malformed());
                }
                let mut key = None;
                let mut o = ObjectToDelete::default();
                for f in &c.children {
                    f.leaf()?;
                    let text = f.text.clone();
                    match f.name.as_str() {
                        "Key" => set_once(&mut key, text)?,
                        "VersionId" => set_once(&mut o.version_id, text)?,
                        "ETag" => set_once(&mut o.etag, text.trim().to_owned())?,
                        "LastModifiedTime" => {
                            set_once(&mut o.last_modified_time, text.trim().to_owned())?;
                        }
                        "Size" => set_once(&mut o.size, parse_u64(&text)?)?,
                        _ => return Err(malformed()),
                    }
                }
                c.no_text()?;
                o.key = key.ok_or_else(malformed)?;
                objects.push(o);
            }
            _ => return Err(malformed()),
        }
    }
    if objects.is_empty() {
        return Err(malformed());
    }
    Ok(DeleteRequest {
        quiet: quiet.unwrap_or(false),
        objects,
    })
}

/// Parses a `CreateBucketConfiguration` body: the `LocationConstraint`, or `None` when it is absent or
/// empty (us-east-1). An empty body is the caller's case (no configuration).
///
/// # Errors
/// 400 `MalformedXML` for anything but a well-formed `CreateBucketConfiguration` with at most one
/// `LocationConstraint`.
pub fn parse_create_bucket_configuration(body: &[u8]) -> Result<Option<String>, S3Error> {
    let root = parse_tree(body, "CreateBucketConfiguration")?;
    let mut location = None;
    for c in root.children_only(&["LocationConstraint"])? {
        c.leaf()?;
        set_once(&mut location, c.text.trim().to_owned())?;
    }
    Ok(location.filter(|l| !l.is_empty()))
}

/// Parses a `PublicAccessBlockConfiguration` body; a missing setting is `false`, as S3.
///
/// # Errors
/// 400 `MalformedXML` for anything but a well-formed `PublicAccessBlockConfiguration` whose elements are
/// among the four settings, each at most once, each `true` or `false`.
pub fn parse_public_access_block(body: &[u8]) -> Result<PublicAccessBlock, S3Error> {
    public_access_block_from(&parse_tree(body, "PublicAccessBlockConfiguration")?)
}

/// The four settings of a `PublicAccessBlockConfiguration` element (absent ones are `false`).
pub(crate) fn public_access_block_from(root: &Node) -> Result<PublicAccessBlock, S3Error> {
    let (mut a, mut b, mut c, mut d) = (None, None, None, None);
    for e in &root.children {
        e.leaf()?;
        let v = parse_bool(&e.text)?;
        match e.name.as_str() {
            "BlockPublicAcls" => set_once(&mut a, v)?,
            "IgnorePublicAcls" => set_once(&mut b, v)?,
            "BlockPublicPolicy" => set_once(&mut c, v)?,
            "RestrictPublicBuckets" => set_once(&mut d, v)?,
            _ => return Err(malformed()),
        }
    }
    Ok(PublicAccessBlock {
        block_public_acls: a.unwrap_or(false),
        ignore_public_acls: b.unwrap_or(false),
        block_public_policy: c.unwrap_or(false),
        restrict_public_buckets: d.unwrap_or(false),
    })
}

/// Parses an `OwnershipControls` body: exactly one `Rule` with one `ObjectOwnership`.
///
/// # Errors
/// 400 `MalformedXML` for anything else, including an unknown ownership value.
pub fn parse_ownership_controls(body: &[u8]) -> Result<ObjectOwnership, S3Error> {
    let root = parse_tree(body, "OwnershipControls")?;
    let [rule] = root.children_only(&["Rule"])? else {
        return Err(malformed());
    };
    let [value] = rule.children_only(&["ObjectOwnership"])? else {
        return Err(malformed());
    };
    value.leaf()?;
    value.text.trim().parse()
}

// ------------------------------------------------------------------------------------------------
// The bounded tree reader behind the parsers
// ------------------------------------------------------------------------------------------------

pub(crate) fn malformed() -> S3Error {
    S3Error::from_code(S3ErrorCode::MalformedXML)
}

/// An element: local name, child elements and its own text (refs resolved, EOLs normalised).
#[derive(Debug, Default)]
pub(crate) struct Node {
    pub(crate) name: String,
    pub(crate) children: Vec<Node>,
    pub(crate) text: String,
}

impl Node {
    /// The children, each named one of `names`; no text besides whitespace.
    pub(crate) fn children_only(&self, names: &[&str]) -> Result<&[Node], S3Error> {
        self.no_text()?;
        if self
            .children
            .iter()
            .all(|c| names.contains(&c.name.as_str()))
        {
            Ok(&self.children)
        } else {
            Err(malformed())
        }
    }

    /// Refuses non-blank text in a container element.
    pub(crate) fn no_text(&self) -> Result<(), S3Error> {
        if self.text.trim().is_empty() {
            Ok(())
        } else {
            Err(malformed())
        }
    }

    /// Refuses child elements in a value element.
    pub(crate) fn leaf(&self) -> Result<(), S3Error> {
        if self.children.is_empty() {
            Ok(())
        } else {
            Err(malformed())
        }
    }
}

pub(crate) fn set_once<T>(slot: &mut Option<T>, value: T) -> Result<(), S3Error> {
    if slot.is_some() {
        return Err(malformed());
    }
    *slot = Some(value);
    Ok(())
}

fn parse_u32(s: &str) -> Result<u32, S3Error> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    s.parse().map_err(|_| malformed())
}

fn parse_u64(s: &str) -> Result<u64, S3Error> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    s.parse().map_err(|_| malformed())
}

/// `xs:boolean`: `true`, `false`, `1`, `0` (whitespace collapsed).
fn parse_bool(s: &str) -> Result<bool, S3Error> {
    match s.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(malformed()),
    }
}

fn local_name(qname: &str) -> &str {
    qname.rsplit_once(':').map_or(qname, |(_, local)| local)
}

/// Reads `body` into a tree whose root must be named `root`, within [`MAX_DEPTH`] and [`MAX_ELEMENTS`].
pub(crate) fn parse_tree(body: &[u8], root_name: &str) -> Result<Node, S3Error> {
    let text = std::str::from_utf8(body).map_err(|_| malformed())?;
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let mut elements = 0usize;
    loop {
        let event = reader.read_event().map_err(|_| malformed())?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                if root.is_some() || stack.len() >= MAX_DEPTH || elements >= MAX_ELEMENTS {
                    return Err(malformed());
                }
                elements += 1;
                for attr in e.attributes() {
                    attr.map_err(|_| malformed())?;
                }
                let name = local_name(e.name().as_ref()).to_owned();
                if name.is_empty() {
                    return Err(malformed());
                }
                stack.push(Node {
                    name,
                    ..Node::default()
                });
                if matches!(event, Event::Empty(_)) {
                    close(&mut stack, &mut root)?;
                }
            }
            Event::End(_) => close(&mut stack, &mut root)?,
            Event::Text(t) => {
                let content = t.xml10_content();
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&content),
                    None if content.trim().is_empty() => {}
                    None => return Err(malformed()),
                }
            }
            Event::CData(c) => {
                let top = stack.last_mut().ok_or_else(malformed)?;
                top.text.push_str(&c.into_inner());
            }
            Event::GeneralRef(r) => {
                let top = stack.last_mut().ok_or_else(malformed)?;
                let c = match r.resolve_char_ref().map_err(|_| malformed())? {
                    Some(c) => c,
                    None => match AsRef::<str>::as_ref(&r) {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        _ => return Err(malformed()),
                    },
                };
                top.text.push(c);
            }
            Event::DocType(_) => return Err(malformed()),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(malformed());
    }
    let root = root.ok_or_else(malformed)?;
    if root.name != root_name {
        return Err(malformed());
    }
    Ok(root)
}

fn close(stack: &mut Vec<Node>, root: &mut Option<Node>) -> Result<(), S3Error> {
    let node = stack.pop().ok_or_else(malformed)?;
    match stack.last_mut() {
        Some(parent) => parent.children.push(node),
        None => *root = Some(node),
    }
    Ok(())
}

#[cfg(test)]
mod tests;
