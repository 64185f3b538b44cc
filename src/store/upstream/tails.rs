//! The last bytes of upstream objects this instance recently wrote or opened.
//!
//! The stored header sits at the end of an object, so a whole-object GET that knows nothing of the object
//! takes two upstream requests: its last bytes (to find the keys), then the rest. When this instance has
//! the last bytes of the same object already (it wrote it, or a HEAD, listing or read opened it), one GET
//! of the rest is enough, made conditional on the upstream ETag the bytes came with (`If-Match`): if the
//! object changed meanwhile the GET fails, the entry is dropped and the read takes the two requests.
//!
//! Entries hold ciphertext only (the header is sealed), at most [`TAIL_BYTES`] each and [`CACHE_BYTES`]
//! in all; the oldest entries go first.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// The most bytes kept per object: the stored header, the trailer and the final chunks.
pub(super) const TAIL_BYTES: usize = 64 * 1024;
/// The most bytes kept in all (512 objects of [`TAIL_BYTES`]).
const CACHE_BYTES: usize = 32 << 20;

/// The last bytes of one object, as of one upstream ETag.
#[derive(Clone, Debug)]
pub(super) struct Tail {
    /// The upstream ETag the bytes belong to.
    pub(super) etag: String,
    /// The object's stored size.
    pub(super) size: u64,
    /// Where the bytes start (`size - bytes.len()`, never 0: an object that fits is read in one
    /// request anyway).
    pub(super) at: u64,
    pub(super) bytes: bytes::Bytes,
}

/// Bucket, key and requested version (`None`: the latest).
type Key = (String, String, Option<String>);

#[derive(Default)]
struct Entries {
    map: HashMap<Key, Tail>,
    /// Insertion order, oldest first; each key at most once.
    order: VecDeque<Key>,
    bytes: usize,
}

/// The cache (module docs).
#[derive(Default)]
pub(super) struct Tails {
    entries: Mutex<Entries>,
}

impl Tails {
    /// The last bytes kept for `bucket/key` at `version`, if any.
    pub(super) fn get(&self, bucket: &str, key: &str, version: Option<&str>) -> Option<Tail> {
        let entries = self.entries.lock().ok()?;
        entries.map.get(&key_of(bucket, key, version)).cloned()
    }

    /// Keeps `last`, the bytes `[size - last.len(), size)` of `bucket/key` at `version` under `etag`
    /// (only its final [`TAIL_BYTES`]). Nothing is kept for an object that `last` holds whole, or
    /// without an ETag to make the later read conditional on.
    pub(super) fn insert(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        etag: &str,
        size: u64,
        last: &[u8],
    ) {
        let last = &last[last.len().saturating_sub(TAIL_BYTES)..];
        let Some(at) = size.checked_sub(last.len() as u64) else {
            return;
        };
        if at == 0 || etag.is_empty() {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let k = key_of(bucket, key, version);
        entries.remove(&k);
        while entries.bytes + last.len() > CACHE_BYTES {
            let Some(oldest) = entries.order.front().cloned() else {
                break;
            };
            entries.remove(&oldest);
        }
        entries.bytes += last.len();
        entries.order.push_back(k.clone());
        entries.map.insert(
            k,
            Tail {
                etag: etag.to_owned(),
                size,
                at,
                // A copy: `last` may be a slice of a much larger buffer.
                bytes: bytes::Bytes::copy_from_slice(last),
            },
        );
    }

    /// Drops what is kept for `bucket/key` at `version`.
    pub(super) fn forget(&self, bucket: &str, key: &str, version: Option<&str>) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(&key_of(bucket, key, version));
        }
    }
}

impl Entries {
    fn remove(&mut self, k: &Key) {
        if let Some(old) = self.map.remove(k) {
            self.bytes -= old.bytes.len();
            self.order.retain(|o| o != k);
        }
    }
}

fn key_of(bucket: &str, key: &str, version: Option<&str>) -> Key {
    (
        bucket.to_owned(),
        key.to_owned(),
        version.map(str::to_owned),
    )
}

/// Keeps in `tail` the last [`TAIL_BYTES`] of everything passed to it, chunk after chunk.
pub(super) fn keep_last(tail: &mut Vec<u8>, chunk: &[u8]) {
    if chunk.len() >= TAIL_BYTES {
        tail.clear();
        tail.extend_from_slice(&chunk[chunk.len() - TAIL_BYTES..]);
        return;
    }
    tail.extend_from_slice(chunk);
    let excess = tail.len().saturating_sub(TAIL_BYTES);
    tail.drain(..excess);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_last_bytes_of_large_objects() {
        let t = Tails::default();
        let big = vec![7u8; TAIL_BYTES + 10];
        t.insert("b", "k", None, "\"e\"", 1000 + big.len() as u64, &big);
        let got = t.get("b", "k", None).expect("kept");
        assert_eq!(got.bytes.len(), TAIL_BYTES);
        assert_eq!(got.at, 1000 + 10);
        assert_eq!(got.size, 1000 + big.len() as u64);
        // Another version, another entry.
        assert!(t.get("b", "k", Some("v1")).is_none());
        // An object held whole, or bytes that cannot be its end, or no ETag: nothing kept.
        t.insert("b", "small", None, "\"e\"", 5, b"hello");
        t.insert("b", "short", None, "\"e\"", 3, b"hello");
        t.insert("b", "noetag", None, "", 100, b"hello");
        assert!(t.get("b", "small", None).is_none());
        assert!(t.get("b", "short", None).is_none());
        assert!(t.get("b", "noetag", None).is_none());
        t.forget("b", "k", None);
        assert!(t.get("b", "k", None).is_none());
    }

    #[test]
    fn the_oldest_entries_go_first_and_the_total_is_bounded() {
        let t = Tails::default();
        let last = vec![1u8; TAIL_BYTES];
        let n = CACHE_BYTES / TAIL_BYTES;
        for i in 0..=n {
            t.insert("b", &format!("k{i}"), None, "\"e\"", 1 << 30, &last);
        }
        assert!(t.get("b", "k0", None).is_none(), "the oldest was evicted");
        assert!(t.get("b", "k1", None).is_some());
        assert!(t.get("b", &format!("k{n}"), None).is_some());
        // Replacing an entry moves it to the back and does not count it twice.
        t.insert("b", "k1", None, "\"f\"", 1 << 30, &last);
        t.insert("b", "extra", None, "\"e\"", 1 << 30, &last);
        assert_eq!(t.get("b", "k1", None).expect("kept").etag, "\"f\"");
        assert!(t.get("b", "k2", None).is_none());
        let entries = t.entries.lock().expect("lock");
        assert_eq!(entries.map.len(), n);
        assert_eq!(entries.order.len(), n);
        assert_eq!(entries.bytes, n * TAIL_BYTES);
    }

    #[test]
    fn keep_last_follows_chunks_of_any_size() {
        let mut tail = Vec::new();
        let data: Vec<u8> = (0..3 * TAIL_BYTES + 123).map(|i| (i % 251) as u8).collect();
        for chunk in data.chunks(1000) {
            keep_last(&mut tail, chunk);
        }
        assert_eq!(tail, data[data.len() - TAIL_BYTES..]);
        let mut tail = Vec::new();
        keep_last(&mut tail, &data[..TAIL_BYTES + 5]);
        keep_last(&mut tail, &data[TAIL_BYTES + 5..TAIL_BYTES + 9]);
        assert_eq!(tail, data[9..TAIL_BYTES + 9]);
    }
}
