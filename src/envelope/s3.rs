//! Client-side encryption straight to and from S3 (`aws-sdk-s3`, async): the object is encrypted while it
//! uploads and decrypted while it downloads, in the S3 Encryption Client's format, so the official clients
//! read what this writes and the other way round.
//!
//! | you want to… | use |
//! |---|---|
//! | encrypt a stream into an object (multipart, bounded memory) | [`put_encrypted`] (a blocking `Read` goes through [`async_reader`]) |
//! | decrypt an object into a file, renamed into place only once it authenticates | [`get_decrypted_to_file`] |
//! | decrypt an object into any writer, after it authenticates | [`get_decrypted`] |
//! | decrypt a byte range with ranged GETs (**not authenticated**, as S3EC's ranged GET) | either, with `range` |
//! | a client for an endpoint, region, profile, CA bundle | [`crate::aws::sdk::s3_client`] |
//!
//! **Upload.** The body (`ciphertext ‖ tag`) is cut into parts of [`PutOptions::part_size`] bytes
//! (≥ 5 MiB, S3's minimum; default 8 MiB) and uploaded one at a time with CRC32 checksums, so memory stays
//! near one part plus one encryption step ([`super::STREAM_CHUNK`]); a body that fits one part is a
//! single `PutObject`. The S3EC mapkeys are the object's user metadata (`x-amz-meta-x-amz-c`, …), or,
//! with [`PutOptions::instruction_file`], split as the S3EC does between the object and an instruction
//! file object `KEY.instruction` (written after the object; a failure to write it deletes the object). On
//! any error the multipart upload is aborted, so nothing partial becomes visible. A future dropped
//! mid-upload aborts it on a background task, which cannot run if the runtime or the process ends
//! first: keep an `AbortIncompleteMultipartUpload` lifecycle rule on the bucket.
//!
//! **Download.** Metadata comes from the object (or its instruction file when the object carries no
//! wrapped key); the data key is unwrapped and the V3 commitment checked before the body is read. The
//! body is decrypted as it streams in, into a temporary file (beside a destination file, or anonymous for
//! a writer) that is released only after the GCM tag verifies. A range is decrypted with AES-CTR from
//! ranged GETs of exactly its ciphertext bytes, at most [`RANGE_WINDOW`] per request, pinned to the
//! object's ETag; **GCM authenticates only whole objects, so a range is not authenticated** (Java's
//! S3EC requires `enableLegacyUnauthenticatedModes` for it; Python's refuses ranges).
//!
//! Keyrings are synchronous: a KMS keyring blocks a runtime thread for its call, so use a multi-threaded
//! runtime. Errors name the operation, the S3 error code and HTTP status, never a key.

use std::collections::HashMap;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt as _, ReadBuf};
use tokio::sync::mpsc;

use super::file::{self, INSTRUCTION_SUFFIX};
use super::metadata::{MetadataMap, merge_instruction_file, split_for_instruction_file};
use super::{CommitmentPolicy, Decryptor, Encryptor, EnvelopeError, Format, Keyring};
use crate::fsutil::{Destination, Staged};
use crate::kms::EncryptionContext;
use crate::range::ByteRange;

/// S3's minimum size of a part other than the last.
pub const MIN_PART_SIZE: usize = 5 << 20;
/// The default part size.
pub const DEFAULT_PART_SIZE: usize = 8 << 20;
/// S3's maximum size of one part.
pub const MAX_PART_SIZE: usize = 5 << 30;
/// S3's maximum number of parts of one upload.
pub const MAX_PARTS: usize = 10_000;
/// The most ciphertext one ranged GET fetches (and holds in memory).
pub const RANGE_WINDOW: u64 = 8 << 20;
/// User metadata the Java S3EC puts on instruction file objects.
pub const INSTRUCTION_FILE_MARKER: &str = "x-amz-crypto-instr-file";
/// The largest instruction file read (they are a few hundred bytes).
const MAX_INSTRUCTION_FILE: usize = 64 << 10;
/// Plaintext read from the source per step.
const READ_CHUNK: usize = 1 << 20;
/// Mapkeys holding the wrapped data key (V1, V2, V3): without one, the metadata is in an instruction file.
const WRAPPED_KEY_MAPKEYS: [&str; 3] = ["x-amz-key", "x-amz-key-v2", "x-amz-3"];

/// Why an S3 envelope operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum S3EnvelopeError {
    /// Encryption or decryption failed: authentication, key commitment, keyring, metadata.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The object does not exist.
    #[error("s3://{bucket}/{key} does not exist (NoSuchKey, HTTP 404)")]
    NoSuchKey {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// The bucket does not exist.
    #[error("the bucket {bucket} does not exist (NoSuchBucket, HTTP 404)")]
    NoSuchBucket {
        /// The bucket.
        bucket: String,
    },
    /// The object was replaced while it was being read (its ETag changed: HTTP 412).
    #[error("s3://{bucket}/{key} changed while it was being read; retry")]
    Changed {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// S3 refused a request.
    #[error("S3 {operation} s3://{bucket}/{key}: {code} (HTTP {http}): {message}", http = .status.map_or_else(|| "-".to_owned(), |s| s.to_string()))]
    S3 {
        /// The S3 operation (`PutObject`, `UploadPart`, …).
        operation: &'static str,
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The S3 error code (`AccessDenied`, …), or the kind of transport failure.
        code: String,
        /// The HTTP status, if a response arrived.
        status: Option<u16>,
        /// S3's message, or the transport error.
        message: String,
    },
    /// The part size is outside S3's limits (5 MiB to 5 GiB).
    #[error("the part size {0} is outside S3's limits of 5 MiB to 5 GiB")]
    PartSize(usize),
    /// The body needs more than S3's 10,000 parts at this part size.
    #[error("the object needs more than 10000 parts of {part_size} bytes; use a larger part size")]
    TooManyParts {
        /// The part size.
        part_size: usize,
    },
    /// S3's response contradicts the request (an unrequested `Content-Range`, a body of the wrong
    /// length, an oversized instruction file).
    #[error("unexpected S3 response for s3://{bucket}/{key}: {reason}")]
    Protocol {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// Reading the source or writing the destination failed.
    #[error("I/O: {0}")]
    Io(#[from] io::Error),
}

/// How [`put_encrypted`] stores an object.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PutOptions {
    /// Write the metadata into an instruction file object `KEY.instruction` (the S3EC split rules,
    /// `docs/FORMAT.md` §1.8) instead of all of it into the object's user metadata.
    pub instruction_file: bool,
    /// Bytes of ciphertext per part (default [`DEFAULT_PART_SIZE`]).
    pub part_size: usize,
}

impl Default for PutOptions {
    fn default() -> Self {
        Self {
            instruction_file: false,
            part_size: DEFAULT_PART_SIZE,
        }
    }
}

impl PutOptions {
    /// The defaults: user metadata, [`DEFAULT_PART_SIZE`].
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`PutOptions::instruction_file`].
    #[must_use]
    pub fn instruction_file(mut self, on: bool) -> Self {
        self.instruction_file = on;
        self
    }

    /// Sets [`PutOptions::part_size`].
    #[must_use]
    pub fn part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes;
        self
    }

    /// The smallest part size, a multiple of 1 MiB and at least [`DEFAULT_PART_SIZE`], that uploads
    /// `plaintext_len` bytes in at most [`MAX_PARTS`] parts.
    #[must_use]
    pub fn part_size_for(plaintext_len: u64) -> usize {
        let body = plaintext_len.saturating_add(16);
        let per_part = body.div_ceil(MAX_PARTS as u64).div_ceil(1 << 20) << 20;
        usize::try_from(per_part)
            .unwrap_or(MAX_PART_SIZE)
            .clamp(DEFAULT_PART_SIZE, MAX_PART_SIZE)
    }
}

/// What [`put_encrypted`] stored.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PutReport {
    /// Plaintext bytes read from the source.
    pub plaintext_bytes: u64,
    /// Bytes stored (`ciphertext ‖ tag`).
    pub body_bytes: u64,
    /// Parts uploaded; 0 for a single `PutObject`.
    pub parts: usize,
    /// All the S3EC metadata of the object (object and instruction file together).
    pub metadata: MetadataMap,
    /// Whether an instruction file was written.
    pub instruction_file: bool,
}

/// How [`get_decrypted`] decrypts.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct GetOptions<'a> {
    /// Unwraps the data key.
    pub keyring: &'a dyn Keyring,
    /// Which formats are accepted (default: V3 only).
    pub policy: CommitmentPolicy,
    /// The encryption context (KMS) or material description (raw AES) the object must have.
    pub context: Option<&'a EncryptionContext>,
}

impl std::fmt::Debug for GetOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetOptions")
            .field("policy", &self.policy)
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

impl<'a> GetOptions<'a> {
    /// Decrypts with `keyring`, the default policy and no context check.
    #[must_use]
    pub fn new(keyring: &'a dyn Keyring) -> Self {
        Self {
            keyring,
            policy: CommitmentPolicy::default(),
            context: None,
        }
    }

    /// Sets [`GetOptions::policy`].
    #[must_use]
    pub fn policy(mut self, policy: CommitmentPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets [`GetOptions::context`].
    #[must_use]
    pub fn context(mut self, context: Option<&'a EncryptionContext>) -> Self {
        self.context = context;
        self
    }
}

/// What [`get_decrypted`] wrote.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct GetReport {
    /// Plaintext bytes written.
    pub plaintext_bytes: u64,
    /// The object's format.
    pub format: Format,
    /// The plaintext interval `[start, end)` of a ranged read.
    pub range: Option<(u64, u64)>,
    /// Whether the output was authenticated (whole objects) or not (ranges).
    pub authenticated: bool,
    /// Whether the metadata came from an instruction file.
    pub instruction_file: bool,
}

/// Encrypts `reader` with `encryptor` into `s3://bucket/key` (see the module documentation).
///
/// # Errors
/// [`S3EnvelopeError::PartSize`], [`S3EnvelopeError::TooManyParts`], S3 errors, I/O errors of `reader`,
/// [`EnvelopeError`]s; a started multipart upload is aborted first.
pub async fn put_encrypted<R: AsyncRead + Unpin + Send>(
    client: &Client,
    bucket: &str,
    key: &str,
    reader: R,
    encryptor: Encryptor,
    opts: &PutOptions,
) -> Result<PutReport, S3EnvelopeError> {
    if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&opts.part_size) {
        return Err(S3EnvelopeError::PartSize(opts.part_size));
    }
    let metadata = encryptor.metadata();
    let (object_md, instruction) = if opts.instruction_file {
        split_for_instruction_file(&metadata)
    } else {
        (metadata.clone(), MetadataMap::new())
    };
    let mut up = Upload {
        client,
        bucket,
        key,
        metadata: object_md.into_iter().collect(),
        part_size: opts.part_size,
        upload_id: None,
        parts: Vec::new(),
    };
    let (plaintext_bytes, body_bytes) = match up.run(reader, encryptor).await {
        Ok(n) => n,
        Err(e) => {
            up.abort().await;
            return Err(e);
        }
    };
    if opts.instruction_file {
        let body = serde_json::to_vec(&instruction).map_err(io::Error::other)?;
        let ikey = format!("{key}{INSTRUCTION_SUFFIX}");
        let put = client
            .put_object()
            .bucket(bucket)
            .key(&ikey)
            .metadata(INSTRUCTION_FILE_MARKER, "")
            .body(ByteStream::from(body))
            .send()
            .await;
        if let Err(e) = put {
            // An object whose instruction file is missing cannot be decrypted: do not leave it.
            let _ = client.delete_object().bucket(bucket).key(key).send().await;
            return Err(s3_error("PutObject", bucket, &ikey, e));
        }
    }
    Ok(PutReport {
        plaintext_bytes,
        body_bytes,
        parts: up.parts.len(),
        metadata,
        instruction_file: opts.instruction_file,
    })
}

/// Decrypts `s3://bucket/key` (or `range` of its plaintext) into `writer`, returning it. A whole object is
/// decrypted into an anonymous temporary file and copied to `writer` only after it authenticates; a range
/// is written as it is decrypted and is **not authenticated**.
///
/// # Errors
/// [`S3EnvelopeError::NoSuchKey`], [`EnvelopeError::Authentication`] (nothing written), other
/// [`EnvelopeError`]s, S3 and I/O errors.
pub async fn get_decrypted<W: Write + Send + 'static>(
    client: &Client,
    bucket: &str,
    key: &str,
    opts: &GetOptions<'_>,
    mut writer: W,
    range: Option<ByteRange>,
) -> Result<(W, GetReport), S3EnvelopeError> {
    if let Some(range) = range {
        let report = get_range(client, bucket, key, opts, range, &mut writer).await?;
        writer.flush()?;
        return Ok((writer, report));
    }
    get_whole(client, bucket, key, opts, move |d, input| {
        let n = file::decrypt_to_stream(d, input, &mut writer)?;
        Ok((n, writer))
    })
    .await
    .map(|(n, w, report)| {
        (
            w,
            GetReport {
                plaintext_bytes: n,
                ..report
            },
        )
    })
}

/// Decrypts `s3://bucket/key` (or `range` of its plaintext) into the file `path`, through a temporary
/// file beside it that replaces it only when complete and, for a whole object, authenticated. A device or
/// FIFO is written through, after authentication.
///
/// # Errors
/// As [`get_decrypted`]; on error `path` is unchanged.
pub async fn get_decrypted_to_file(
    client: &Client,
    bucket: &str,
    key: &str,
    opts: &GetOptions<'_>,
    path: &Path,
    range: Option<ByteRange>,
) -> Result<GetReport, S3EnvelopeError> {
    let dest = Destination::of(path)?;
    if let Destination::Special(p) = &dest {
        let f = std::fs::OpenOptions::new().write(true).open(p)?;
        return get_decrypted(client, bucket, key, opts, f, range)
            .await
            .map(|(_, r)| r);
    }
    if let Some(range) = range {
        let mut staged = Staged::new_private(dest.path())?;
        let report = get_range(client, bucket, key, opts, range, staged.file_mut()).await?;
        staged.commit()?;
        return Ok(report);
    }
    let out = dest.path().to_owned();
    get_whole(client, bucket, key, opts, move |d, input| {
        Ok((file::decrypt_file(d, input, &out)?, ()))
    })
    .await
    .map(|(n, (), report)| GetReport {
        plaintext_bytes: n,
        ..report
    })
}

/// A blocking `Read` as an [`AsyncRead`]: a thread reads it in 1 MiB steps, at most two steps ahead.
/// The thread ends at the end of `source`, on its first error, or when the reader is dropped (after its
/// current read returns).
pub fn async_reader<R: Read + Send + 'static>(source: R) -> impl AsyncRead + Unpin + Send {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(2);
    std::thread::spawn(move || {
        let mut source = source;
        loop {
            let mut buf = vec![0u8; READ_CHUNK];
            let msg = match source.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    buf.truncate(n);
                    Ok(Bytes::from(buf))
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
            let last = msg.is_err();
            if tx.blocking_send(msg).is_err() || last {
                return;
            }
        }
    });
    ChannelAsyncReader {
        rx,
        cur: Bytes::new(),
    }
}

// ---------------------------------------------------------------------------------------------------
// upload

/// One object being uploaded: a multipart upload once the body outgrows one part.
struct Upload<'a> {
    client: &'a Client,
    bucket: &'a str,
    key: &'a str,
    metadata: HashMap<String, String>,
    part_size: usize,
    upload_id: Option<String>,
    parts: Vec<CompletedPart>,
}

impl Upload<'_> {
    /// Encrypts and uploads; returns (plaintext, body) lengths.
    async fn run<R: AsyncRead + Unpin + Send>(
        &mut self,
        mut reader: R,
        encryptor: Encryptor,
    ) -> Result<(u64, u64), S3EnvelopeError> {
        let sink = Sink::default();
        let mut w = encryptor.writer(sink.clone());
        let mut buf = vec![0u8; READ_CHUNK];
        let mut plaintext = 0u64;
        loop {
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            w.write_all(&buf[..n])?;
            plaintext += n as u64;
            // More ciphertext follows this part (at least the tag), so it is not the last one.
            while let Some(part) = sink.take_part(self.part_size) {
                self.part(part, false).await?;
            }
        }
        w.finish()?;
        let mut rest = sink.take_all();
        let body = plaintext + 16;
        if self.upload_id.is_none() && rest.len() <= self.part_size {
            self.client
                .put_object()
                .bucket(self.bucket)
                .key(self.key)
                .set_metadata(Some(std::mem::take(&mut self.metadata)))
                .body(ByteStream::from(rest))
                .send()
                .await
                .map_err(|e| s3_error("PutObject", self.bucket, self.key, e))?;
            return Ok((plaintext, body));
        }
        while rest.len() > self.part_size {
            let tail = rest.split_off(self.part_size);
            self.part(std::mem::replace(&mut rest, tail), false).await?;
        }
        self.part(rest, true).await?;
        let upload_id = self.upload_id.clone().unwrap_or_default();
        self.client
            .complete_multipart_upload()
            .bucket(self.bucket)
            .key(self.key)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(self.parts.clone()))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| s3_error("CompleteMultipartUpload", self.bucket, self.key, e))?;
        self.upload_id = None;
        Ok((plaintext, body))
    }

    /// Uploads the next part, starting the multipart upload first if needed.
    async fn part(&mut self, bytes: Vec<u8>, last: bool) -> Result<(), S3EnvelopeError> {
        if !last && self.parts.len() + 1 >= MAX_PARTS {
            return Err(S3EnvelopeError::TooManyParts {
                part_size: self.part_size,
            });
        }
        let upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let r = self
                    .client
                    .create_multipart_upload()
                    .bucket(self.bucket)
                    .key(self.key)
                    .set_metadata(Some(std::mem::take(&mut self.metadata)))
                    .checksum_algorithm(ChecksumAlgorithm::Crc32)
                    .send()
                    .await
                    .map_err(|e| s3_error("CreateMultipartUpload", self.bucket, self.key, e))?;
                let id = r.upload_id.ok_or_else(|| S3EnvelopeError::Protocol {
                    bucket: self.bucket.to_owned(),
                    key: self.key.to_owned(),
                    reason: "CreateMultipartUpload returned no UploadId".into(),
                })?;
                self.upload_id = Some(id.clone());
                id
            }
        };
        let number = i32::try_from(self.parts.len() + 1).unwrap_or(i32::MAX);
        let r = self
            .client
            .upload_part()
            .bucket(self.bucket)
            .key(self.key)
            .upload_id(upload_id)
            .part_number(number)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| s3_error("UploadPart", self.bucket, self.key, e))?;
        self.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(r.e_tag)
                .set_checksum_crc32(r.checksum_crc32)
                .build(),
        );
        Ok(())
    }

    /// Aborts a started multipart upload (best effort: the caller reports the original error).
    async fn abort(&mut self) {
        if let Some(id) = self.upload_id.take() {
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(self.bucket)
                .key(self.key)
                .upload_id(id)
                .send()
                .await;
        }
    }
}

impl Drop for Upload<'_> {
    /// A future dropped mid-upload (a timeout, a cancelled task) still aborts its multipart upload, on a
    /// task of the current runtime, if there is one and it keeps running.
    fn drop(&mut self) {
        let Some(id) = self.upload_id.take() else {
            return;
        };
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let abort = self
                .client
                .abort_multipart_upload()
                .bucket(self.bucket)
                .key(self.key)
                .upload_id(id);
            rt.spawn(async move {
                let _ = abort.send().await;
            });
        }
    }
}

/// The ciphertext the encrypting writer produced and no part has taken yet.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Sink {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The first `size` bytes, if more than `size` are buffered.
    fn take_part(&self, size: usize) -> Option<Vec<u8>> {
        let mut buf = self.lock();
        if buf.len() <= size {
            return None;
        }
        let tail = buf.split_off(size);
        Some(std::mem::replace(&mut *buf, tail))
    }

    fn take_all(&self) -> Vec<u8> {
        std::mem::take(&mut *self.lock())
    }
}

impl Write for Sink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.lock().extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The receiving end of [`async_reader`].
struct ChannelAsyncReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    cur: Bytes,
}

impl AsyncRead for ChannelAsyncReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        while self.cur.is_empty() {
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(Ok(b))) => self.cur = b,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
        let n = self.cur.len().min(buf.remaining());
        let chunk = self.cur.split_to(n);
        buf.put_slice(&chunk);
        Poll::Ready(Ok(()))
    }
}

// ---------------------------------------------------------------------------------------------------
// download

/// GETs the whole object and runs `work` (blocking, on tokio's blocking pool) over its body as it streams
/// in. Returns the plaintext length and what `work` returned, with a report.
async fn get_whole<T, F>(
    client: &Client,
    bucket: &str,
    key: &str,
    opts: &GetOptions<'_>,
    work: F,
) -> Result<(u64, T, GetReport), S3EnvelopeError>
where
    T: Send + 'static,
    F: FnOnce(&Decryptor, &mut dyn Read) -> Result<(u64, T), EnvelopeError> + Send + 'static,
{
    let resp = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| s3_error("GetObject", bucket, key, e))?;
    let protocol = |reason: String| S3EnvelopeError::Protocol {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        reason,
    };
    if let Some(cr) = resp.content_range() {
        return Err(protocol(format!(
            "a Content-Range ({cr}) answered a request without Range"
        )));
    }
    let expected = resp
        .content_length()
        .map(|n| u64::try_from(n).map_err(|_| protocol(format!("Content-Length {n}"))))
        .transpose()?;
    let (md, instruction_file) = object_metadata(client, bucket, key, resp.metadata()).await?;
    let d = Decryptor::new(opts.keyring, &md, opts.policy, opts.context)?;
    let format = d.format();
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(8);
    let task = tokio::task::spawn_blocking(move || {
        let mut input = ChannelReader {
            rx,
            cur: Bytes::new(),
        };
        work(&d, &mut input)
    });
    pump(resp.body, tx, expected).await;
    let (n, out) = task
        .await
        .map_err(|e| S3EnvelopeError::Io(io::Error::other(format!("decryption task: {e}"))))??;
    Ok((
        n,
        out,
        GetReport {
            plaintext_bytes: n,
            format,
            range: None,
            authenticated: true,
            instruction_file,
        },
    ))
}

/// Feeds the body into the channel; a transport error or a body shorter or longer than `expected` ends
/// it with an error, so the decryption fails instead of seeing a clean end.
async fn pump(mut body: ByteStream, tx: mpsc::Sender<io::Result<Bytes>>, expected: Option<u64>) {
    let mut got = 0u64;
    while let Some(chunk) = body.next().await {
        let msg = match chunk {
            Ok(b) => {
                got += b.len() as u64;
                Ok(b)
            }
            Err(e) => Err(io::Error::other(format!("reading the object body: {e}"))),
        };
        let failed = msg.is_err();
        if tx.send(msg).await.is_err() || failed {
            return;
        }
    }
    if let Some(want) = expected
        && want != got
    {
        let _ = tx
            .send(Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the object body has {got} bytes, Content-Length said {want}"),
            )))
            .await;
    }
}

/// Decrypts `range` of the plaintext with ranged GETs into `out`; not authenticated.
async fn get_range(
    client: &Client,
    bucket: &str,
    key: &str,
    opts: &GetOptions<'_>,
    range: ByteRange,
    out: &mut dyn Write,
) -> Result<GetReport, S3EnvelopeError> {
    let head = client
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| s3_error("HeadObject", bucket, key, e))?;
    let protocol = |reason: String| S3EnvelopeError::Protocol {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        reason,
    };
    let body_len = head
        .content_length()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| protocol("HeadObject returned no valid Content-Length".into()))?;
    let (md, instruction_file) = object_metadata(client, bucket, key, head.metadata()).await?;
    let d = Decryptor::new(opts.keyring, &md, opts.policy, opts.context)?;
    let (start, end) = range
        .resolve(Decryptor::plaintext_len(body_len)?)
        .map_err(EnvelopeError::from)?;
    let mut at = start;
    // Bounded: one iteration per RANGE_WINDOW of the range.
    while at < end {
        let stop = end.min(at.saturating_add(RANGE_WINDOW));
        let resp = client
            .get_object()
            .bucket(bucket)
            .key(key)
            .range(format!("bytes={at}-{}", stop - 1))
            .set_if_match(head.e_tag().map(str::to_owned))
            .send()
            .await
            .map_err(|e| s3_error("GetObject", bucket, key, e))?;
        let want = format!("bytes {at}-{}/{body_len}", stop - 1);
        if resp.content_range() != Some(want.as_str()) {
            return Err(protocol(format!(
                "asked for {want}, got Content-Range {:?}",
                resp.content_range()
            )));
        }
        let len = usize::try_from(stop - at).map_err(|_| protocol("range too large".into()))?;
        let data = collect(resp.body, len).await.map_err(&protocol)?;
        if data.len() != len {
            return Err(protocol(format!(
                "a ranged GET of {len} bytes returned {}",
                data.len()
            )));
        }
        let window = Window {
            base: at,
            pos: at,
            data,
        };
        let plain = zeroize::Zeroizing::new(d.danger_decrypt_range_unauthenticated(
            window,
            body_len,
            ByteRange::FromTo(at, stop - 1),
        )?);
        out.write_all(&plain)?;
        at = stop;
    }
    Ok(GetReport {
        plaintext_bytes: end - start,
        format: d.format(),
        range: Some((start, end)),
        authenticated: false,
        instruction_file,
    })
}

/// The object's S3EC metadata, merged with its instruction file when the object holds no wrapped key.
async fn object_metadata(
    client: &Client,
    bucket: &str,
    key: &str,
    user: Option<&HashMap<String, String>>,
) -> Result<(MetadataMap, bool), S3EnvelopeError> {
    let object: MetadataMap = user
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    if WRAPPED_KEY_MAPKEYS.iter().any(|k| object.contains_key(*k)) {
        return Ok((object, false));
    }
    let ikey = format!("{key}{INSTRUCTION_SUFFIX}");
    let resp = match client.get_object().bucket(bucket).key(&ikey).send().await {
        Ok(r) => r,
        // No instruction file: the object metadata alone decides (not encrypted, or a missing key).
        Err(e) => {
            return match s3_error("GetObject", bucket, &ikey, e) {
                S3EnvelopeError::NoSuchKey { .. } => Ok((object, false)),
                other => Err(other),
            };
        }
    };
    let text = collect(resp.body, MAX_INSTRUCTION_FILE)
        .await
        .map_err(|reason| S3EnvelopeError::Protocol {
            bucket: bucket.to_owned(),
            key: ikey.clone(),
            reason,
        })?;
    let text = std::str::from_utf8(&text).map_err(|_| EnvelopeError::MalformedMetadata {
        key: ikey.clone(),
        reason: "the instruction file is not UTF-8".into(),
    })?;
    let instruction = file::parse_map(text, Path::new(&ikey))?;
    Ok((merge_instruction_file(&object, &instruction)?, true))
}

/// Reads a body of at most `limit` bytes.
async fn collect(mut body: ByteStream, limit: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| format!("reading the body: {e}"))?;
        if out.len() + chunk.len() > limit {
            return Err(format!("the body exceeds {limit} bytes"));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The blocking side of [`get_whole`]'s channel.
struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    cur: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = self.cur.len().min(buf.len());
        buf[..n].copy_from_slice(&self.cur.split_to(n));
        Ok(n)
    }
}

/// Bytes `[base, base + data.len())` of a body, addressed by body offsets.
struct Window {
    base: u64,
    pos: u64,
    data: Vec<u8>,
}

impl Read for Window {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let from = self
            .pos
            .checked_sub(self.base)
            .and_then(|o| usize::try_from(o).ok())
            .filter(|&o| o <= self.data.len())
            .ok_or_else(|| io::Error::other("read outside the fetched window"))?;
        let n = (self.data.len() - from).min(buf.len());
        buf[..n].copy_from_slice(&self.data[from..from + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Window {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.pos = match to {
            SeekFrom::Start(p) => p,
            SeekFrom::Current(d) => self.pos.checked_add_signed(d).ok_or_else(bad_seek)?,
            SeekFrom::End(d) => (self.base + self.data.len() as u64)
                .checked_add_signed(d)
                .ok_or_else(bad_seek)?,
        };
        Ok(self.pos)
    }
}

fn bad_seek() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "seek before the start")
}

/// An SDK error as a typed error: missing objects and buckets and changed objects by name, everything
/// else with its S3 code, HTTP status and message (no credentials ever appear in these).
fn s3_error<E>(
    operation: &'static str,
    bucket: &str,
    key: &str,
    e: SdkError<E, HttpResponse>,
) -> S3EnvelopeError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = e.raw_response().map(|r| r.status().as_u16());
    let code = e.code().map(str::to_owned);
    match (code.as_deref(), status) {
        (Some("NoSuchBucket"), _) => {
            return S3EnvelopeError::NoSuchBucket {
                bucket: bucket.to_owned(),
            };
        }
        (Some("NoSuchKey" | "NotFound"), _) | (None, Some(404)) => {
            return S3EnvelopeError::NoSuchKey {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
            };
        }
        (Some("PreconditionFailed"), _) | (_, Some(412)) => {
            return S3EnvelopeError::Changed {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
            };
        }
        _ => {}
    }
    let (code, message) = match &e {
        SdkError::ServiceError(_) => (
            code.unwrap_or_else(|| "Unknown".into()),
            e.message().unwrap_or_default().to_owned(),
        ),
        SdkError::TimeoutError(_) => ("Timeout".into(), DisplayErrorContext(&e).to_string()),
        SdkError::DispatchFailure(_) => (
            "DispatchFailure".into(),
            DisplayErrorContext(&e).to_string(),
        ),
        SdkError::ResponseError(_) => ("ResponseError".into(), DisplayErrorContext(&e).to_string()),
        _ => (
            "ConstructionFailure".into(),
            DisplayErrorContext(&e).to_string(),
        ),
    };
    S3EnvelopeError::S3 {
        operation,
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        code,
        status,
        message,
    }
}
