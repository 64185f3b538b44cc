//! Records kept with a bucket: a JSON map (name → record) in one bucket configuration document, so
//! whatever store holds the bucket holds them (access points, Object Lambda access points), and the
//! list of every bucket's records, which lookups scan. The list is cached for [`CACHE_TTL`] and
//! dropped at once when this process changes a record (another process's change is seen within the
//! TTL).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::s3::{S3Error, S3ErrorCode};
use crate::store::ObjectStore;

/// How long a process trusts its list of records.
pub(super) const CACHE_TTL: Duration = Duration::from_secs(2);

/// A record kept with a bucket, listed in (account, name) order.
pub(super) trait Record {
    /// The owning account and the record's name.
    fn account_and_name(&self) -> (&str, &str);
}

/// The records of one bucket configuration document across the store's buckets.
#[derive(Debug)]
pub(super) struct BucketRecords<T> {
    /// The bucket configuration document.
    document: &'static str,
    /// What the records are, for error messages.
    what: &'static str,
    cache: Mutex<Option<(Instant, Arc<Vec<T>>)>>,
}

impl<T: Serialize + DeserializeOwned + Record> BucketRecords<T> {
    /// The records of `document` (`what` names them in errors).
    pub(super) const fn new(document: &'static str, what: &'static str) -> Self {
        Self {
            document,
            what,
            cache: Mutex::new(None),
        }
    }

    /// The records kept with `bucket`, by name.
    pub(super) fn load(
        &self,
        store: &dyn ObjectStore,
        bucket: &str,
    ) -> Result<BTreeMap<String, T>, S3Error> {
        match store.bucket_config(bucket, self.document)? {
            None => Ok(BTreeMap::new()),
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| S3Error::internal_because(format!("stored {}", self.what), e)),
        }
    }

    /// Replaces the records kept with `bucket` (none: the document is removed).
    pub(super) fn save(
        &self,
        store: &dyn ObjectStore,
        bucket: &str,
        records: &BTreeMap<String, T>,
    ) -> Result<(), S3Error> {
        let json = (!records.is_empty())
            .then(|| serde_json::to_string(records))
            .transpose()
            .map_err(|e| S3Error::internal_because(self.what, e))?;
        store.put_bucket_config(bucket, self.document, json.as_deref())?;
        if let Ok(mut c) = self.cache.lock() {
            *c = None;
        }
        Ok(())
    }

    /// Every bucket's records, in (account, name) order (cached for [`CACHE_TTL`]).
    pub(super) fn all(&self, store: &dyn ObjectStore) -> Result<Arc<Vec<T>>, S3Error> {
        if let Ok(c) = self.cache.lock()
            && let Some((at, list)) = c.as_ref()
            && at.elapsed() < CACHE_TTL
        {
            return Ok(Arc::clone(list));
        }
        let mut all = Vec::new();
        for b in store.list_buckets()? {
            match self.load(store, &b.name) {
                Ok(records) => all.extend(records.into_values()),
                // A bucket deleted meanwhile has no records.
                Err(e) if e.code() == S3ErrorCode::NoSuchBucket => {}
                Err(e) => return Err(e),
            }
        }
        all.sort_by(|a, b| a.account_and_name().cmp(&b.account_and_name()));
        let all = Arc::new(all);
        if let Ok(mut c) = self.cache.lock() {
            *c = Some((Instant::now(), Arc::clone(&all)));
        }
        Ok(all)
    }
}
