//! The audit log: one JSON line per KMS call, the role CloudTrail plays for AWS KMS.
//!
//! A record holds the time, operation, key ARN, encryption context, caller, request id, outcome and error
//! code. It has no field that could hold plaintext, data keys or key material: the type makes leaking them
//! impossible rather than merely avoided (a test also checks the rendered lines).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;

use serde::Serialize;

/// One audited call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AuditRecord {
    /// RFC 3339 UTC time of the call.
    pub event_time: String,
    /// The operation, e.g. `GenerateDataKey`.
    pub event_name: &'static str,
    /// The key ARN, when the call resolved to a key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_arn: Option<String>,
    /// The encryption context of the call (not secret: it is logged by AWS too).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub encryption_context: BTreeMap<String, String>,
    /// The calling principal's ARN.
    pub caller: String,
    /// A unique id of the request.
    pub request_id: String,
    /// `Success` or `Failure`.
    pub outcome: &'static str,
    /// The AWS error code of a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
}

/// Where audit records go.
pub trait AuditSink: Send + Sync + std::fmt::Debug {
    /// Records one call. Must not fail the call: sinks report their own I/O problems.
    fn record(&self, record: &AuditRecord);
}

/// Keeps rendered lines in memory (tests, `kms load`).
#[derive(Debug, Default)]
pub struct MemoryAudit(Mutex<Vec<String>>);

impl MemoryAudit {
    /// An empty log.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The JSON lines recorded so far.
    #[must_use]
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl AuditSink for MemoryAudit {
    fn record(&self, record: &AuditRecord) {
        if let (Ok(line), Ok(mut lines)) = (serde_json::to_string(record), self.0.lock()) {
            lines.push(line);
        }
    }
}

/// Appends JSON lines to a file (created with owner-only permissions), flushing each line.
#[derive(Debug)]
pub struct FileAudit(Mutex<BufWriter<File>>);

impl FileAudit {
    /// Opens `path` for appending.
    ///
    /// # Errors
    /// Any I/O error opening the file.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let mut opts = std::fs::OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        Ok(Self(Mutex::new(BufWriter::new(opts.open(path)?))))
    }
}

impl AuditSink for FileAudit {
    fn record(&self, record: &AuditRecord) {
        let Ok(mut line) = serde_json::to_vec(record) else {
            return;
        };
        line.push(b'\n');
        if let Ok(mut w) = self.0.lock()
            && (w.write_all(&line).is_err() || w.flush().is_err())
        {
            eprintln!("s3crypt: warning: could not write the KMS audit log");
        }
    }
}
