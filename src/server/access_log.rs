//! Server access logging: one S3 access-log record per request to a bucket, delivered in batches as
//! log objects to the bucket's logging target (record format and configuration: [`crate::s3::access_log`]).
//!
//! When a request to a bucket is answered, the server looks up the bucket's logging configuration
//! (cached for [`CONFIG_TTL`]; read again at once after this process changes it). Only when logging is
//! on does it build a [`LogRecord`] and queue it with the configuration for the delivery thread (a lock
//! and a push, no wake-up: the thread collects the queue every 200 ms), which appends the record to
//! that bucket's open batch, and writes the batch as one object when it is
//! [`DeliveryOptions::interval`] old, when it reaches [`MAX_BATCH_BYTES`], when the configuration
//! changes, and on shutdown ([`Delivery::close`]). A crash loses at most the open batches.
//!
//! A delivery is not an HTTP request, so it is never logged itself: however buckets log into each
//! other, each client request makes exactly one record and nothing more.
//!
//! Each delivery is authorized as S3 does: the target's bucket policy must allow the logging service
//! principal [`crate::s3::access_log::LOGGING_SERVICE`] `s3:PutObject` on the log object's key, with `aws:SourceArn` (the
//! source bucket's ARN) and `aws:SourceAccount` (its owner) in the request. A refused or failed
//! delivery drops the batch and says so in the server's own log (never the records' contents).

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::s3::S3Error;
use crate::s3::access_log::{LOGGING_CONFIG, LogRecord, LoggingConfig};
use crate::sse::engine::SseEngine;

/// How long a bucket's logging configuration is used before it is read again (another process may
/// change it; this one forgets its copy at once on its own changes).
pub(crate) const CONFIG_TTL: Duration = Duration::from_secs(2);
/// A batch this large is delivered at once.
pub(crate) const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// Settings of the delivery thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryOptions {
    /// How long a batch stays open before it is delivered.
    pub interval: Duration,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(60),
        }
    }
}

/// What the request path hands the delivery thread. Records are only queued: the thread collects them
/// every [`COLLECT_EVERY`] (or at once when [`WAKE_AT`] are waiting), so a request costs a lock and a
/// push, never a wake-up of another thread.
#[derive(Default)]
struct Queue {
    /// Each record with the logging configuration of its bucket when the request was answered.
    records: Vec<(LogRecord, Arc<Target>)>,
    /// Flushes waiting for their acknowledgement.
    flushes: Vec<mpsc::Sender<()>>,
    closed: bool,
}

/// How often the delivery thread collects queued records.
const COLLECT_EVERY: Duration = Duration::from_millis(200);
/// Queued records that wake the delivery thread at once.
const WAKE_AT: usize = 4096;

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    wake: std::sync::Condvar,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

/// Where a bucket's records go: its logging configuration and its owner.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Target {
    config: LoggingConfig,
    owner: String,
}

type ConfigCache = HashMap<String, (Instant, Option<Arc<Target>>)>;

/// The delivery thread and the queue to it.
#[derive(Debug)]
pub(crate) struct Delivery {
    engine: Arc<SseEngine>,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Source bucket → (read at, where its records go), for [`CONFIG_TTL`].
    configs: Mutex<ConfigCache>,
}

impl Delivery {
    /// Starts the delivery thread for `engine`'s buckets in `region`.
    pub(crate) fn start(engine: Arc<SseEngine>, region: String, options: DeliveryOptions) -> Self {
        let shared = Arc::new(Shared::default());
        let worker = Worker {
            engine: Arc::clone(&engine),
            region,
            interval: options.interval,
            batches: HashMap::new(),
        };
        let queue = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("s3crypt-access-log".to_owned())
            .spawn(move || worker.run(&queue));
        let thread = match thread {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!(target: "s3crypt::server", error = %e, "no access log delivery thread");
                shared.lock().closed = true;
                None
            }
        };
        Self {
            engine,
            shared,
            thread: Mutex::new(thread),
            configs: Mutex::default(),
        }
    }

    fn configs(&self) -> std::sync::MutexGuard<'_, ConfigCache> {
        self.configs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Where `bucket`'s records go, if the cache knows (`None`: not cached or stale; `Some(None)`:
    /// logging is off). Never blocks on I/O.
    pub(crate) fn cached_target(&self, bucket: &str) -> Option<Option<Arc<Target>>> {
        self.configs()
            .get(bucket)
            .filter(|(at, _)| at.elapsed() < CONFIG_TTL)
            .map(|(_, t)| t.clone())
    }

    /// Where `bucket`'s records go, read from its configuration (blocking I/O) and cached.
    pub(crate) fn load_target(&self, bucket: &str) -> Option<Arc<Target>> {
        let target = read_config(&self.engine, bucket).map(Arc::new);
        let mut cache = self.configs();
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(bucket.to_owned(), (Instant::now(), target.clone()));
        target
    }

    /// Queues one record for `target` (never blocks on I/O).
    pub(crate) fn record(&self, record: LogRecord, target: Arc<Target>) {
        let mut q = self.shared.lock();
        if q.closed {
            return;
        }
        q.records.push((record, target));
        if q.records.len() == WAKE_AT {
            self.shared.wake.notify_one();
        }
    }

    /// Forgets the cached logging configuration of `bucket` (this process just changed it): the next
    /// request reads it again.
    pub(crate) fn forget(&self, bucket: &str) {
        self.configs().remove(bucket);
    }

    /// Delivers every open batch (records queued before the call included), waiting at most `wait`.
    pub(crate) fn flush(&self, wait: Duration) {
        let (ack, done) = mpsc::channel();
        {
            let mut q = self.shared.lock();
            if q.closed {
                return;
            }
            q.flushes.push(ack);
        }
        self.shared.wake.notify_one();
        let _ = done.recv_timeout(wait);
    }

    /// Delivers every open batch and stops the thread (waiting for it).
    pub(crate) fn close(&self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
        if let Some(t) = self
            .thread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            let _ = t.join();
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        self.close();
    }
}

/// One source bucket's open batch.
struct Batch {
    target: Arc<Target>,
    first_event: OffsetDateTime,
    opened: Instant,
    text: String,
}

struct Worker {
    engine: Arc<SseEngine>,
    region: String,
    interval: Duration,
    batches: HashMap<String, Batch>,
}

impl Worker {
    fn run(mut self, shared: &Shared) {
        loop {
            let (records, flushes, closed) = {
                let mut q = shared.lock();
                if q.records.len() < WAKE_AT && q.flushes.is_empty() && !q.closed {
                    q = shared
                        .wake
                        .wait_timeout(q, COLLECT_EVERY)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0;
                }
                (
                    std::mem::take(&mut q.records),
                    std::mem::take(&mut q.flushes),
                    q.closed,
                )
            };
            for (record, target) in records {
                self.add(record, target);
            }
            if !flushes.is_empty() || closed {
                self.deliver_all();
                for ack in flushes {
                    let _ = ack.send(());
                }
                if closed {
                    return;
                }
            }
            let due: Vec<String> = self
                .batches
                .iter()
                .filter(|(_, b)| b.opened.elapsed() >= self.interval)
                .map(|(k, _)| k.clone())
                .collect();
            for bucket in due {
                self.deliver(&bucket);
            }
        }
    }

    fn add(&mut self, mut record: LogRecord, target: Arc<Target>) {
        let bucket = record.bucket.clone();
        if self
            .batches
            .get(&bucket)
            .is_some_and(|b| b.target != target)
        {
            self.deliver(&bucket);
        }
        record.bucket_owner.clone_from(&target.owner);
        let batch = self.batches.entry(bucket.clone()).or_insert_with(|| Batch {
            target,
            first_event: record.time,
            opened: Instant::now(),
            text: String::new(),
        });
        batch.text.push_str(&record.to_line());
        batch.text.push('\n');
        if batch.text.len() >= MAX_BATCH_BYTES {
            self.deliver(&bucket);
        }
    }

    fn deliver_all(&mut self) {
        let buckets: Vec<String> = self.batches.keys().cloned().collect();
        for b in buckets {
            self.deliver(&b);
        }
    }

    fn deliver(&mut self, source: &str) {
        let Some(batch) = self.batches.remove(source) else {
            return;
        };
        let unique = crate::primitives::random_array::<8>()
            .map(hex::encode_upper)
            .unwrap_or_else(|_| "0000000000000000".to_owned());
        let Target { config, owner } = batch.target.as_ref();
        let key = config.object_key(
            owner,
            &self.region,
            source,
            OffsetDateTime::now_utc(),
            batch.first_event,
            &unique,
        );
        let result = self.engine.deliver_log_object(
            source,
            owner,
            &config.target_bucket,
            &key,
            batch.text.as_bytes(),
        );
        if let Err(e) = result {
            tracing::warn!(
                target: "s3crypt::server",
                source_bucket = %source,
                target_bucket = %config.target_bucket,
                error = %e.code().as_str(),
                message = %e.message(),
                "access log delivery failed; the batch is dropped"
            );
        }
    }
}

/// The logging configuration of `bucket` and its owner, or `None` when logging is off (or the bucket
/// or its configuration cannot be read).
fn read_config(engine: &SseEngine, bucket: &str) -> Option<Target> {
    let doc = engine
        .object_store()
        .bucket_config(bucket, LOGGING_CONFIG)
        .ok()??;
    let config: LoggingConfig = serde_json::from_str(&doc).ok()?;
    let owner = engine.owner_of(bucket).ok()?;
    Some(Target { config, owner })
}

/// Checks a PutBucketLogging configuration of `source` (owned by `owner`) before it is stored.
///
/// # Errors
/// - 400 `InvalidArgument` when the target is the source bucket (S3 allows it; s3crypt refuses it,
///   since each delivery would describe the previous one in an endless chain of logs about logs);
/// - 400 `InvalidTargetBucketForLogging` (S3's message) when the target does not exist, is owned by
///   another account, or its bucket policy does not allow the logging service to write the log
///   objects;
/// - 400 `InvalidArgument` when the target's default encryption is SSE-KMS or DSSE-KMS (S3 delivers
///   logs with SSE-S3 only).
pub(crate) fn check_target(
    engine: &SseEngine,
    source: &str,
    owner: &str,
    region: &str,
    config: &LoggingConfig,
) -> Result<(), S3Error> {
    let target = config.target_bucket.as_str();
    if target == source {
        return Err(S3Error::invalid_argument(
            "The target bucket for logging cannot be the source bucket: each log delivery would be logged again.",
        )
        .with_extra("ArgumentName", "TargetBucket")
        .with_extra("ArgumentValue", target));
    }
    let invalid_target =
        || S3Error::from_code(crate::s3::S3ErrorCode::InvalidTargetBucketForLogging);
    match engine.owner_of(target) {
        Ok(o) if o == owner => {}
        _ => return Err(invalid_target().with_extra("TargetBucket", target)),
    }
    if engine.bucket_default_is_kms(target)? {
        return Err(S3Error::invalid_argument(
            "The target bucket for logging uses SSE-KMS default encryption; server access logs can be delivered only to buckets with SSE-S3 default encryption.",
        )
        .with_extra("ArgumentName", "TargetBucket")
        .with_extra("ArgumentValue", target));
    }
    // S3 refuses a target whose Object Lock default retention would lock every log object.
    if engine
        .object_lock_configuration(target)?
        .is_some_and(|c| c.default.is_some())
    {
        return Err(S3Error::invalid_argument(
            "The target bucket for logging has an Object Lock default retention period; server access logs cannot be delivered to it.",
        )
        .with_extra("ArgumentName", "TargetBucket")
        .with_extra("ArgumentValue", target));
    }
    let sample = config.object_key(
        owner,
        region,
        source,
        OffsetDateTime::now_utc(),
        OffsetDateTime::now_utc(),
        "0000000000000000",
    );
    engine
        .authorize_log_delivery(source, owner, target, &sample)
        .map_err(|_| invalid_target().with_extra("TargetBucket", target))
}

/// What the access log needs from a request's headers, taken before the request is consumed.
pub(crate) struct RequestFacts {
    /// `METHOD TARGET HTTP/x.y` (redacted before it is recorded).
    pub(crate) request_uri: String,
    pub(crate) referer: Option<String>,
    pub(crate) user_agent: Option<String>,
    pub(crate) host: Option<String>,
    /// `x-amz-decoded-content-length` of an aws-chunked upload.
    pub(crate) decoded_length: Option<u64>,
    /// The signature version and authentication type the request used, whether or not it verified.
    pub(crate) signature: Option<(&'static str, &'static str)>,
}

/// `(Signature Version, Authentication Type)` of a request as S3's access logs write them: `SigV4` or
/// `SigV2`, with `AuthHeader` or `QueryString`; `None` for an unsigned request.
pub(crate) fn signature_of(
    authorization: Option<&str>,
    target: &str,
) -> Option<(&'static str, &'static str)> {
    if let Some(a) = authorization {
        return Some(if a.starts_with("AWS4-") {
            ("SigV4", "AuthHeader")
        } else {
            ("SigV2", "AuthHeader")
        });
    }
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let has = |name: &str| {
        query
            .split('&')
            .any(|p| p.split_once('=').map_or(p, |(k, _)| k) == name)
    };
    if has("X-Amz-Signature") || has("X-Amz-Algorithm") {
        Some(("SigV4", "QueryString"))
    } else if has("Signature") && has("AWSAccessKeyId") {
        Some(("SigV2", "QueryString"))
    } else {
        None
    }
}

type Finish = Box<dyn FnOnce(u64) + Send + Sync>;

/// A response body that counts the bytes it hands to the connection and calls `finish` with the count
/// once it is done: at its end, on an error, or when the connection drops it.
pub(crate) struct Observed {
    inner: super::ResponseBody,
    sent: u64,
    finish: Option<Finish>,
}

impl Observed {
    pub(crate) fn new(
        inner: super::ResponseBody,
        finish: impl FnOnce(u64) + Send + Sync + 'static,
    ) -> Self {
        Self {
            inner,
            sent: 0,
            finish: Some(Box::new(finish)),
        }
    }

    fn done(&mut self) {
        if let Some(f) = self.finish.take() {
            f(self.sent);
        }
    }
}

impl hyper::body::Body for Observed {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, std::io::Error>>> {
        use std::task::Poll;
        let this = &mut *self;
        let polled = std::pin::Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    this.sent += d.len() as u64;
                }
            }
            Poll::Ready(Some(Err(_)) | None) => this.done(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        self.done();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_named_as_s3_logs_them() {
        assert_eq!(
            signature_of(Some("AWS4-HMAC-SHA256 Credential=x"), "/b/k"),
            Some(("SigV4", "AuthHeader"))
        );
        assert_eq!(
            signature_of(Some("AWS AKID:sig"), "/b/k"),
            Some(("SigV2", "AuthHeader"))
        );
        assert_eq!(
            signature_of(
                None,
                "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=ab"
            ),
            Some(("SigV4", "QueryString"))
        );
        assert_eq!(
            signature_of(None, "/b/k?AWSAccessKeyId=A&Expires=1&Signature=s"),
            Some(("SigV2", "QueryString"))
        );
        assert_eq!(signature_of(None, "/b/k?x-id=GetObject"), None);
        assert_eq!(signature_of(None, "/b/k?Signature"), None);
    }
}
