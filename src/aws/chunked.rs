//! `aws-chunked` request bodies (`x-amz-content-sha256: STREAMING-*`): a [`Read`] adapter that decodes
//! the framing, checks every chunk signature before releasing the chunk's bytes, checks the trailing
//! checksum and trailer signature, and enforces `x-amz-decoded-content-length`.
//!
//! | payload (`x-amz-content-sha256`)              | framing                                                       |
//! |-----------------------------------------------|---------------------------------------------------------------|
//! | `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`          | `hex;chunk-signature=sig\r\ndata\r\n` … `0;chunk-signature=sig\r\n\r\n` |
//! | `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`  | as above, then `x-amz-checksum-*:b64\r\nx-amz-trailer-signature:sig\r\n\r\n` after the final chunk |
//! | `STREAMING-UNSIGNED-PAYLOAD-TRAILER`          | `hex\r\ndata\r\n` … `0\r\nx-amz-checksum-*:b64\r\n\r\n`       |
//!
//! Chunk signature = HMAC(signing key, `AWS4-HMAC-SHA256-PAYLOAD\n<X-Amz-Date>\n<scope>\n<previous
//! signature>\n<SHA-256("")>\n<SHA-256(chunk)>`), the first "previous" being the seed signature of the
//! request. Trailer signature = HMAC(signing key, `AWS4-HMAC-SHA256-TRAILER\n<X-Amz-Date>\n<scope>\n<last
//! chunk signature>\n<SHA-256(trailer lines as name:value\n)>`).
//!
//! Memory is bounded by [`ChunkLimits`]: one chunk (default at most 16 MiB) plus one line (at most
//! 4 KiB). Every malformed input is a [`ChunkedError`] (inside an [`io::Error`] of kind
//! `InvalidData`), never a panic.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::aws::WireError;
use crate::aws::sigv4::{self, EMPTY_PAYLOAD_SHA256, Scope};
use crate::keys::DerivedKey;
use crate::primitives::{self, hash};

/// Which `STREAMING-*` payload a request announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamingMode {
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: signed chunks, no trailer.
    Signed,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks, a checksum trailer and a trailer
    /// signature.
    SignedWithTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: unsigned chunks and a checksum trailer.
    UnsignedWithTrailer,
}

impl StreamingMode {
    /// The `x-amz-content-sha256` value of this mode.
    #[must_use]
    pub fn content_sha256(self) -> &'static str {
        match self {
            Self::Signed => "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            Self::SignedWithTrailer => "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            Self::UnsignedWithTrailer => "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        }
    }

    fn signed(self) -> bool {
        !matches!(self, Self::UnsignedWithTrailer)
    }

    fn trailer(self) -> bool {
        !matches!(self, Self::Signed)
    }
}

/// What the chunk decoder needs from the verified request: the mode, the signing key, the seed
/// signature (the request's own signature), `X-Amz-Date`, the scope, `x-amz-decoded-content-length`
/// and the trailer named by `x-amz-trailer`.
///
/// `Debug` never prints the signing key.
#[derive(Clone, Debug)]
pub struct StreamingAuth {
    /// The payload mode.
    pub mode: StreamingMode,
    key: DerivedKey,
    /// The request's signature, which the first chunk signature chains from.
    pub seed_signature: String,
    /// `X-Amz-Date` of the request.
    pub amz_date: String,
    /// The credential scope of the request.
    pub scope: Scope,
    /// `x-amz-decoded-content-length`, when sent.
    pub decoded_content_length: Option<u64>,
    /// The trailer the client announced in `x-amz-trailer` (lowercase), when sent.
    pub trailer: Option<String>,
}

impl StreamingAuth {
    /// A context from its parts (the verifier builds it; tests and clients may too).
    #[must_use]
    pub fn new(
        mode: StreamingMode,
        key: DerivedKey,
        seed_signature: &str,
        amz_date: &str,
        scope: Scope,
        decoded_content_length: Option<u64>,
    ) -> Self {
        Self {
            mode,
            key,
            seed_signature: seed_signature.to_owned(),
            amz_date: amz_date.to_owned(),
            scope,
            decoded_content_length,
            trailer: None,
        }
    }

    /// The same context expecting trailer `name` (the value of `x-amz-trailer`).
    #[must_use]
    pub fn with_trailer(mut self, name: Option<&str>) -> Self {
        self.trailer = name.map(|n| n.trim().to_ascii_lowercase());
        self
    }

    /// The signature of a chunk holding `data`, chained from `previous`.
    #[must_use]
    pub fn chunk_signature(&self, previous: &str, data: &[u8]) -> String {
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{previous}\n{EMPTY_PAYLOAD_SHA256}\n{}",
            self.amz_date,
            self.scope,
            hex::encode(hash::sha256(data))
        );
        sigv4::signature(&self.key, &sts)
    }

    /// The signature of the trailer lines `canonical` (`name:value\n` each), chained from `previous`.
    #[must_use]
    pub fn trailer_signature(&self, previous: &str, canonical: &str) -> String {
        let sts = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{previous}\n{}",
            self.amz_date,
            self.scope,
            hex::encode(hash::sha256(canonical.as_bytes()))
        );
        sigv4::signature(&self.key, &sts)
    }
}

/// Memory bounds of the decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkLimits {
    /// The largest accepted chunk, in bytes (the whole chunk is buffered until its signature checks).
    pub max_chunk: usize,
    /// The longest accepted size or trailer line, `\r\n` included.
    pub max_line: usize,
    /// The most trailer lines accepted.
    pub max_trailers: usize,
}

impl Default for ChunkLimits {
    fn default() -> Self {
        Self {
            max_chunk: 16 << 20,
            max_line: 4096,
            max_trailers: 8,
        }
    }
}

/// The checksum algorithms of `x-amz-checksum-*` trailers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    /// `x-amz-checksum-crc32` (IEEE, big-endian, base64).
    Crc32,
    /// `x-amz-checksum-crc32c` (Castagnoli).
    Crc32c,
    /// `x-amz-checksum-sha1`.
    Sha1,
    /// `x-amz-checksum-sha256`.
    Sha256,
}

impl ChecksumAlgorithm {
    /// The trailer (header) name.
    #[must_use]
    pub fn header_name(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The algorithm of checksum header `name` (lowercase, e.g. `x-amz-checksum-crc32`).
    #[must_use]
    pub fn from_header(name: &str) -> Option<Self> {
        [Self::Crc32, Self::Crc32c, Self::Sha1, Self::Sha256]
            .into_iter()
            .find(|a| a.header_name() == name)
    }

    /// The base64 checksum of `data`, as the trailer carries it.
    #[must_use]
    pub fn compute(self, data: &[u8]) -> String {
        let mut h = ChecksumHasher::new(self);
        h.update(data);
        h.finish()
    }
}

enum Hasher {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Sha1(sha1::Sha1),
    Sha256(hash::Sha256),
}

/// An incremental `x-amz-checksum-*` computation.
pub struct ChecksumHasher(Hasher);

impl std::fmt::Debug for ChecksumHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChecksumHasher { .. }")
    }
}

impl ChecksumHasher {
    /// A fresh computation of `alg`.
    #[must_use]
    pub fn new(alg: ChecksumAlgorithm) -> Self {
        Self(match alg {
            ChecksumAlgorithm::Crc32 => Hasher::Crc32(crc32fast::Hasher::new()),
            ChecksumAlgorithm::Crc32c => Hasher::Crc32c(0),
            ChecksumAlgorithm::Sha1 => Hasher::Sha1(<sha1::Sha1 as sha1::Digest>::new()),
            ChecksumAlgorithm::Sha256 => Hasher::Sha256(hash::Sha256::new()),
        })
    }

    /// Feeds `data`.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            Hasher::Crc32(h) => h.update(data),
            Hasher::Crc32c(c) => *c = crc32c::crc32c_append(*c, data),
            Hasher::Sha1(h) => sha1::Digest::update(h, data),
            Hasher::Sha256(h) => h.update(data),
        }
    }

    /// The base64 checksum, as S3 sends it.
    #[must_use]
    pub fn finish(self) -> String {
        match self.0 {
            Hasher::Crc32(h) => B64.encode(h.finalize().to_be_bytes()),
            Hasher::Crc32c(c) => B64.encode(c.to_be_bytes()),
            Hasher::Sha1(h) => B64.encode(sha1::Digest::finalize(h)),
            Hasher::Sha256(h) => B64.encode(h.finalize()),
        }
    }
}

/// Why an `aws-chunked` body was refused. Each variant names the client's mistake;
/// [`s3`](Self::s3) gives S3's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChunkedError {
    /// Reading the underlying body failed.
    Io {
        /// The I/O error kind.
        kind: io::ErrorKind,
    },
    /// The body ended inside the framing or a chunk.
    Truncated,
    /// A line is longer than [`ChunkLimits::max_line`].
    LineTooLong,
    /// A chunk-size line is not `hex[;chunk-signature=<64 hex>]\r\n` as the mode requires.
    MalformedChunkHeader,
    /// A chunk is larger than [`ChunkLimits::max_chunk`].
    ChunkTooLarge {
        /// The announced size.
        size: u64,
    },
    /// A chunk's data is not followed by `\r\n`, or the body does not end after the last `\r\n`.
    MalformedChunkEnd,
    /// Chunk `index` (0-based) does not carry the signature its data, the chain and the key give.
    ChunkSignatureMismatch {
        /// The index of the chunk.
        index: u64,
    },
    /// A trailer line is not `name:value`, repeats, or there are too many.
    MalformedTrailer,
    /// The checksum trailer is missing (or is not the one `x-amz-trailer` announced).
    MissingChecksum,
    /// A checksum trailer names an algorithm this decoder does not implement.
    UnsupportedChecksum {
        /// The trailer name.
        name: String,
    },
    /// The decoded data does not have the checksum the trailer gives.
    ChecksumMismatch {
        /// The algorithm.
        algorithm: ChecksumAlgorithm,
        /// The value the client sent.
        client: String,
        /// The value of the decoded data.
        computed: String,
    },
    /// A signed trailer lacks `x-amz-trailer-signature`.
    MissingTrailerSignature,
    /// The trailer signature does not match.
    TrailerSignatureMismatch,
    /// The decoded length differs from `x-amz-decoded-content-length`.
    DecodedLengthMismatch {
        /// The announced length.
        declared: u64,
        /// The length decoded (so far, when it already exceeds the announced one).
        actual: u64,
    },
}

impl ChunkedError {
    /// The [`ChunkedError`] inside an error returned by [`ChunkedReader`]'s `read`, if it is one.
    #[must_use]
    pub fn from_io(e: &io::Error) -> Option<&Self> {
        e.get_ref().and_then(|inner| inner.downcast_ref::<Self>())
    }

    /// The error as S3 answers it.
    #[must_use]
    pub fn s3(&self) -> WireError {
        let w = |status, code, message: &str| WireError {
            status,
            code,
            message: message.to_owned(),
            extras: Vec::new(),
        };
        match self {
            Self::Io { .. } | Self::Truncated | Self::DecodedLengthMismatch { .. } => w(
                400,
                "IncompleteBody",
                "You did not provide the number of bytes specified by the Content-Length HTTP header.",
            ),
            Self::ChunkSignatureMismatch { .. } | Self::TrailerSignatureMismatch => w(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. \
                 Check your key and signing method.",
            ),
            Self::ChecksumMismatch { algorithm, .. } => {
                let name = match algorithm {
                    ChecksumAlgorithm::Crc32 => "CRC32",
                    ChecksumAlgorithm::Crc32c => "CRC32C",
                    ChecksumAlgorithm::Sha1 => "SHA1",
                    ChecksumAlgorithm::Sha256 => "SHA256",
                };
                w(
                    400,
                    "BadDigest",
                    &format!("The {name} you specified did not match the calculated checksum."),
                )
            }
            Self::ChunkTooLarge { .. } => w(
                400,
                "InvalidChunkSizeError",
                "Only the last chunk is allowed to have a size less than 8192 bytes",
            ),
            Self::UnsupportedChecksum { .. } => w(
                400,
                "InvalidRequest",
                "The checksum algorithm of the trailer is not supported.",
            ),
            _ => w(400, "InvalidRequest", "The aws-chunked body is malformed."),
        }
    }
}

impl fmt::Display for ChunkedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "aws-chunked body refused: {self:?}")
    }
}

impl std::error::Error for ChunkedError {}

impl From<ChunkedError> for io::Error {
    fn from(e: ChunkedError) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

/// Decodes an `aws-chunked` body; `read` hands out a chunk's bytes only after its signature checked,
/// and returns end-of-file only after the final chunk, the trailer and the decoded length checked.
/// Errors are sticky: once `read` fails, it fails again.
pub struct ChunkedReader<R> {
    inner: BufReader<R>,
    auth: StreamingAuth,
    limits: ChunkLimits,
    previous: String,
    chunk: Vec<u8>,
    pos: usize,
    index: u64,
    decoded: u64,
    hashers: Vec<(ChecksumAlgorithm, ChecksumHasher)>,
    done: bool,
    failed: Option<ChunkedError>,
}

impl<R> fmt::Debug for ChunkedReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkedReader")
            .field("mode", &self.auth.mode)
            .field("index", &self.index)
            .field("decoded", &self.decoded)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<R: Read> ChunkedReader<R> {
    /// A decoder over the raw body `inner` with the default [`ChunkLimits`].
    #[must_use]
    pub fn new(inner: R, auth: StreamingAuth) -> Self {
        Self::with_limits(inner, auth, ChunkLimits::default())
    }

    /// A decoder with explicit limits.
    #[must_use]
    pub fn with_limits(inner: R, auth: StreamingAuth, limits: ChunkLimits) -> Self {
        let previous = auth.seed_signature.clone();
        // The checksum is computed for every algorithm the trailer may name; only one is compared.
        let hashers = if auth.mode.trailer() {
            let algs: Vec<ChecksumAlgorithm> = match auth
                .trailer
                .as_deref()
                .and_then(ChecksumAlgorithm::from_header)
            {
                Some(a) => vec![a],
                None => vec![
                    ChecksumAlgorithm::Crc32,
                    ChecksumAlgorithm::Crc32c,
                    ChecksumAlgorithm::Sha1,
                    ChecksumAlgorithm::Sha256,
                ],
            };
            algs.into_iter()
                .map(|a| (a, ChecksumHasher::new(a)))
                .collect()
        } else {
            Vec::new()
        };
        Self {
            inner: BufReader::new(inner),
            auth,
            limits,
            previous,
            chunk: Vec::new(),
            pos: 0,
            index: 0,
            decoded: 0,
            hashers,
            done: false,
            failed: None,
        }
    }

    /// The number of decoded bytes checked so far.
    #[must_use]
    pub fn decoded_len(&self) -> u64 {
        self.decoded
    }

    /// Reads one line ending in `\r\n` (returned without it), at most `max_line` bytes.
    fn line(&mut self) -> Result<Vec<u8>, ChunkedError> {
        let mut out = Vec::new();
        loop {
            let buf = self
                .inner
                .fill_buf()
                .map_err(|e| ChunkedError::Io { kind: e.kind() })?;
            if buf.is_empty() {
                return Err(ChunkedError::Truncated);
            }
            let room = self.limits.max_line.saturating_sub(out.len());
            let take = buf.len().min(room);
            let window = buf.get(..take).unwrap_or_default();
            if let Some(i) = window.iter().position(|&b| b == b'\n') {
                out.extend_from_slice(window.get(..i).unwrap_or_default());
                self.inner.consume(i + 1);
                return match out.pop() {
                    Some(b'\r') => Ok(out),
                    _ => Err(ChunkedError::MalformedChunkHeader),
                };
            }
            out.extend_from_slice(window);
            self.inner.consume(take);
            if out.len() >= self.limits.max_line {
                return Err(ChunkedError::LineTooLong);
            }
        }
    }

    fn exact(&mut self, n: usize) -> Result<Vec<u8>, ChunkedError> {
        let mut v = Vec::new();
        let got = (&mut self.inner)
            .take(n as u64)
            .read_to_end(&mut v)
            .map_err(|e| ChunkedError::Io { kind: e.kind() })?;
        if got == n {
            Ok(v)
        } else {
            Err(ChunkedError::Truncated)
        }
    }

    /// Reads, checks and buffers the next chunk; at the final chunk checks the trailer and the end.
    fn next_chunk(&mut self) -> Result<(), ChunkedError> {
        let header = self.line()?;
        let (size, signature) = parse_chunk_header(&header, self.auth.mode.signed())?;
        if size > self.limits.max_chunk as u64 {
            return Err(ChunkedError::ChunkTooLarge { size });
        }
        let size = usize::try_from(size).map_err(|_| ChunkedError::ChunkTooLarge { size })?;
        let data = self.exact(size)?;
        if let Some(sig) = signature {
            let expected = self.auth.chunk_signature(&self.previous, &data);
            if !primitives::ct_eq(expected.as_bytes(), sig.as_bytes()) {
                return Err(ChunkedError::ChunkSignatureMismatch { index: self.index });
            }
            self.previous = expected;
        }
        self.index += 1;
        self.decoded = self.decoded.saturating_add(size as u64);
        if let Some(declared) = self.auth.decoded_content_length
            && self.decoded > declared
        {
            return Err(ChunkedError::DecodedLengthMismatch {
                declared,
                actual: self.decoded,
            });
        }
        for (_, h) in &mut self.hashers {
            h.update(&data);
        }
        if size > 0 {
            if self.exact(2)? != b"\r\n" {
                return Err(ChunkedError::MalformedChunkEnd);
            }
            self.chunk = data;
            self.pos = 0;
            return Ok(());
        }
        // The final chunk.
        if self.auth.mode.trailer() {
            self.trailer()?;
        } else if !self.line()?.is_empty() {
            return Err(ChunkedError::MalformedChunkEnd);
        }
        let mut probe = [0u8; 1];
        match self.inner.read(&mut probe) {
            Ok(0) => {}
            Ok(_) => return Err(ChunkedError::MalformedChunkEnd),
            Err(e) => return Err(ChunkedError::Io { kind: e.kind() }),
        }
        if let Some(declared) = self.auth.decoded_content_length
            && declared != self.decoded
        {
            return Err(ChunkedError::DecodedLengthMismatch {
                declared,
                actual: self.decoded,
            });
        }
        self.done = true;
        Ok(())
    }

    fn trailer(&mut self) -> Result<(), ChunkedError> {
        let mut lines: Vec<(String, String)> = Vec::new();
        loop {
            let line = self.line()?;
            if line.is_empty() {
                break;
            }
            if lines.len() >= self.limits.max_trailers {
                return Err(ChunkedError::MalformedTrailer);
            }
            let text = std::str::from_utf8(&line).map_err(|_| ChunkedError::MalformedTrailer)?;
            let (name, value) = text.split_once(':').ok_or(ChunkedError::MalformedTrailer)?;
            let name = name.trim().to_ascii_lowercase();
            if name.is_empty() || lines.iter().any(|(n, _)| *n == name) {
                return Err(ChunkedError::MalformedTrailer);
            }
            lines.push((name, value.trim().to_owned()));
        }
        let signature = lines
            .iter()
            .position(|(n, _)| n == "x-amz-trailer-signature")
            .map(|i| lines.remove(i).1);
        let [(name, client)] = lines.as_slice() else {
            return Err(ChunkedError::MissingChecksum);
        };
        if self.auth.trailer.as_deref().is_some_and(|t| t != name) {
            return Err(ChunkedError::MissingChecksum);
        }
        let algorithm = ChecksumAlgorithm::from_header(name)
            .ok_or_else(|| ChunkedError::UnsupportedChecksum { name: name.clone() })?;
        if self.auth.mode.signed() {
            let sig = signature.ok_or(ChunkedError::MissingTrailerSignature)?;
            let expected = self
                .auth
                .trailer_signature(&self.previous, &format!("{name}:{client}\n"));
            if !primitives::ct_eq(expected.as_bytes(), sig.as_bytes()) {
                return Err(ChunkedError::TrailerSignatureMismatch);
            }
        } else if signature.is_some() {
            return Err(ChunkedError::MalformedTrailer);
        }
        let i = self
            .hashers
            .iter()
            .position(|(a, _)| *a == algorithm)
            .ok_or(ChunkedError::MissingChecksum)?;
        let (_, h) = self.hashers.swap_remove(i);
        let computed = h.finish();
        if computed != *client {
            return Err(ChunkedError::ChecksumMismatch {
                algorithm,
                client: client.clone(),
                computed,
            });
        }
        Ok(())
    }
}

impl<R: Read> Read for ChunkedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = &self.failed {
            return Err(e.clone().into());
        }
        while self.pos >= self.chunk.len() {
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            self.chunk.clear();
            self.pos = 0;
            if let Err(e) = self.next_chunk() {
                self.chunk = Vec::new();
                self.failed = Some(e.clone());
                return Err(e.into());
            }
        }
        let rest = self.chunk.get(self.pos..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pos += n;
        Ok(n)
    }
}

/// Parses `hex[;chunk-signature=<64 hex>]`; the signature is required exactly when `signed`.
fn parse_chunk_header(line: &[u8], signed: bool) -> Result<(u64, Option<String>), ChunkedError> {
    let bad = ChunkedError::MalformedChunkHeader;
    let text = std::str::from_utf8(line).map_err(|_| bad.clone())?;
    let (size, ext) = match text.split_once(';') {
        Some((s, e)) => (s, Some(e)),
        None => (text, None),
    };
    if size.is_empty() || size.len() > 16 || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad);
    }
    let size = u64::from_str_radix(size, 16).map_err(|_| bad.clone())?;
    match (signed, ext) {
        (true, Some(ext)) => {
            let sig = ext.strip_prefix("chunk-signature=").ok_or(bad.clone())?;
            if sig.len() != 64 || !sig.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad);
            }
            Ok((size, Some(sig.to_owned())))
        }
        (false, None) => Ok((size, None)),
        _ => Err(bad),
    }
}

/// Encodes `data` as an `aws-chunked` body in `auth.mode` with chunks of `chunk_size` bytes (the last
/// may be shorter), signing chunks and trailer with `auth` and adding the `checksum` trailer for the
/// trailer modes. What an SDK sends; used by tests and clients.
///
/// # Panics
/// Never; a `chunk_size` of 0 is treated as 1.
#[must_use]
pub fn encode(
    data: &[u8],
    chunk_size: usize,
    auth: &StreamingAuth,
    checksum: Option<ChecksumAlgorithm>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 256);
    let mut previous = auth.seed_signature.clone();
    let signed = auth.mode.signed();
    let mut emit = |chunk: &[u8], out: &mut Vec<u8>| {
        out.extend_from_slice(format!("{:x}", chunk.len()).as_bytes());
        if signed {
            let sig = auth.chunk_signature(&previous, chunk);
            out.extend_from_slice(format!(";chunk-signature={sig}").as_bytes());
            previous = sig;
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(chunk);
        if !chunk.is_empty() {
            out.extend_from_slice(b"\r\n");
        }
    };
    for chunk in data.chunks(chunk_size.max(1)) {
        emit(chunk, &mut out);
    }
    emit(&[], &mut out);
    if auth.mode.trailer()
        && let Some(alg) = checksum
    {
        let line = format!("{}:{}", alg.header_name(), alg.compute(data));
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
        if signed {
            let sig = auth.trailer_signature(&previous, &format!("{line}\n"));
            out.extend_from_slice(format!("x-amz-trailer-signature:{sig}\r\n").as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}
