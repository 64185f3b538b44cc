//! The engine's versioning, MFA Delete and Object Lock operations: bucket versioning state,
//! ListObjectVersions with plaintext sizes, permanent deletion of a version (with the Object Lock and
//! MFA Delete checks), retention and legal hold of a version, and the bucket's Object Lock
//! configuration. The wire formats and the lock rules are in [`crate::s3::versioning`] and
//! [`crate::s3::object_lock`]; the store keeps the versions ([`crate::store::Versioning`]).
//!
//! MFA Delete: the flag is the bucket document [`MFA_DELETE_CONFIG`]; while it is on, permanently
//! deleting a version and changing the versioning state need the bucket owner's root, over HTTPS,
//! with `x-amz-mfa: SERIAL CODE` naming one of the root's enabled virtual MFA devices
//! ([`crate::iam::mfa::MfaStore`], each code accepted once).

use super::{SseEngine, version_header};
use crate::iam::RequestContext;
use crate::s3::object_lock::{self, OBJECT_LOCK_CONFIG, ObjectLockConfiguration};
use crate::s3::versioning::{self, VersioningConfiguration};
use crate::s3::{S3Error, S3ErrorCode};
use crate::sse::headers::Headers;
use crate::store::{ObjectInfo, StoreError, VersionListRequest, VersionPage, Versioning};
use std::time::SystemTime;

/// The bucket document holding the MFA Delete flag (`Enabled` or `Disabled`; absent: never set).
pub const MFA_DELETE_CONFIG: &str = "mfa-delete";

/// What a versioned delete did, for the response headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeletedVersion {
    /// The version id removed.
    pub version_id: String,
    /// Whether it was a delete marker.
    pub delete_marker: bool,
}

impl SseEngine {
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + self.clock.now()
    }

    /// The bucket's Object Lock configuration, if Object Lock is enabled on it.
    ///
    /// # Errors
    /// 404 `NoSuchBucket`; 500 for a stored configuration that does not parse.
    pub fn object_lock_configuration(
        &self,
        bucket: &str,
    ) -> Result<Option<ObjectLockConfiguration>, S3Error> {
        match self.store.bucket_config(bucket, OBJECT_LOCK_CONFIG)? {
            None => Ok(None),
            Some(xml) => ObjectLockConfiguration::parse(xml.as_bytes())
                .map(Some)
                .map_err(|e| S3Error::internal_because("stored Object Lock configuration", e)),
        }
    }

    /// Whether MFA Delete is on for `bucket`.
    ///
    /// # Errors
    /// 404 `NoSuchBucket`.
    pub fn mfa_delete_enabled(&self, bucket: &str) -> Result<bool, S3Error> {
        Ok(self.mfa_delete(bucket)? == Some(true))
    }

    /// Whether MFA Delete is on for `bucket` (`None`: never configured).
    fn mfa_delete(&self, bucket: &str) -> Result<Option<bool>, S3Error> {
        Ok(self
            .store
            .bucket_config(bucket, MFA_DELETE_CONFIG)?
            .map(|v| v == "Enabled"))
    }

    /// The response headers of GET/HEAD for a version: `x-amz-version-id` (also for `null` when the
    /// request named it), and the lock headers when the version has a lock state and the caller may
    /// read it (`s3:GetObjectRetention`, `s3:GetObjectLegalHold`).
    pub(super) fn version_headers(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        info: &ObjectInfo,
        requested: bool,
    ) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = version_header(info).into_iter().collect();
        if out.is_empty() && requested {
            out.push(("x-amz-version-id".to_owned(), info.version_id.clone()));
        }
        let retention = info.retention.as_ref().filter(|_| {
            self.authorize_action(ctx, bucket, key, "s3:GetObjectRetention")
                .is_ok()
        });
        let hold = (info.legal_hold
            && self
                .authorize_action(ctx, bucket, key, "s3:GetObjectLegalHold")
                .is_ok())
        .then_some(true);
        out.extend(object_lock::response_headers(retention, hold));
        out
    }

    /// The MFA check of MFA Delete: the bucket owner's root, over HTTPS, with a valid, unused code of
    /// one of its enabled devices in `x-amz-mfa`.
    ///
    /// # Errors
    /// 403 "Mfa Authentication must be used for this request" without the header; 400 `InvalidRequest`
    /// over plain HTTP; 403 for a caller other than the owner's root; 400 `InvalidArgument` for a
    /// malformed header; 403 `AccessDenied` for an unknown device, a wrong or reused code.
    pub fn check_mfa(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        h: &Headers,
    ) -> Result<(), S3Error> {
        let Some(value) = h.get("x-amz-mfa") else {
            return Err(versioning::mfa_required());
        };
        if !ctx.secure_transport {
            return Err(S3Error::invalid_request(
                "Requests specifying the x-amz-mfa header must be made over HTTPS.",
            ));
        }
        let owner = self.bucket_owner(bucket)?;
        let is_owner_root = ctx
            .caller
            .principal()
            .is_some_and(|p| p.is_root() && p.account == owner);
        if !is_owner_root {
            return Err(S3Error::access_denied(
                "This operation may only be performed by the bucket owner",
            ));
        }
        let header = versioning::parse_mfa_header(value)?;
        let Some(mfa) = &self.mfa else {
            return Err(S3Error::not_implemented(
                "MFA Delete needs the local account store.",
            ));
        };
        // The device must belong to the owner's account.
        let prefix = format!("arn:aws:iam::{owner}:mfa/");
        if !header.serial.starts_with(&prefix) {
            return Err(mfa_failed());
        }
        mfa.verify(&header.serial, &header.code, self.clock.now())
            .map_err(|e| match e {
                crate::iam::mfa::MfaError::Io { .. }
                | crate::iam::mfa::MfaError::Corrupt { .. }
                | crate::iam::mfa::MfaError::Permissions { .. }
                | crate::iam::mfa::MfaError::Busy { .. }
                | crate::iam::mfa::MfaError::Account(_) => {
                    S3Error::internal_because("MFA device store", e)
                }
                _ => mfa_failed(),
            })
    }

    /// GetBucketVersioning: the state and the MFA Delete flag.
    ///
    /// # Errors
    /// 404 `NoSuchBucket`; 403 without `s3:GetBucketVersioning`.
    pub fn get_bucket_versioning(
        &self,
        ctx: &RequestContext,
        bucket: &str,
    ) -> Result<String, S3Error> {
        self.authorize_action(ctx, bucket, "", "s3:GetBucketVersioning")?;
        let state = self.store.bucket_versioning(bucket)?;
        Ok(versioning::render_versioning(
            state,
            self.mfa_delete(bucket)?,
        ))
    }

    /// The versioning state of `bucket` (no authorization; for the server's own decisions).
    ///
    /// # Errors
    /// 404 `NoSuchBucket`.
    pub fn versioning_state(&self, bucket: &str) -> Result<Versioning, S3Error> {
        Ok(self.store.bucket_versioning(bucket)?)
    }

    /// PutBucketVersioning: `body` is the `VersioningConfiguration`; `h` the request headers
    /// (`x-amz-mfa`).
    ///
    /// MFA is required while MFA Delete is on, and to set `MfaDelete` at all; MFA Delete needs the
    /// bucket versioned (S3 refuses `MfaDelete` without a `Status` making it so). A bucket with Object
    /// Lock cannot be suspended.
    ///
    /// # Errors
    /// 404; 403 without `s3:PutBucketVersioning`; the XML errors of
    /// [`VersioningConfiguration::parse`]; the MFA errors of [`SseEngine::check_mfa`]; 409
    /// `InvalidBucketState` to suspend an Object Lock bucket.
    pub fn put_bucket_versioning(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        h: &Headers,
        body: &[u8],
    ) -> Result<(), S3Error> {
        self.authorize_action(ctx, bucket, "", "s3:PutBucketVersioning")?;
        let config = VersioningConfiguration::parse(body)?;
        let mfa_on = self.mfa_delete(bucket)? == Some(true);
        if mfa_on || config.mfa_delete.is_some() {
            self.check_mfa(ctx, bucket, h)?;
        }
        let current = self.store.bucket_versioning(bucket)?;
        let target = config.status.unwrap_or(current);
        if config.mfa_delete == Some(true) && target == Versioning::Unversioned {
            return Err(S3Error::from_code(
                S3ErrorCode::IllegalVersioningConfigurationException,
            ));
        }
        if target == Versioning::Suspended && self.object_lock_configuration(bucket)?.is_some() {
            return Err(S3Error::with_code(
                S3ErrorCode::InvalidBucketState,
                "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.",
            ));
        }
        if let Some(status) = config.status {
            self.store.put_bucket_versioning(bucket, status)?;
        }
        if let Some(on) = config.mfa_delete {
            self.store.put_bucket_config(
                bucket,
                MFA_DELETE_CONFIG,
                Some(if on { "Enabled" } else { "Disabled" }),
            )?;
        }
        Ok(())
    }

    /// ListObjectVersions, with each version's plaintext size, S3 ETag and Last-Modified read from its
    /// stored header.
    ///
    /// # Errors
    /// 404; 403 without `s3:ListBucketVersions`; 400 `InvalidArgument` for a version-id-marker without
    /// a key-marker, or one of a shape no store issues.
    pub fn list_object_versions(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        request: &VersionListRequest,
    ) -> Result<VersionPage, S3Error> {
        let max_keys = request.max_keys.to_string();
        let keys = crate::iam::ConditionKeys::new()
            .with("s3:prefix", request.prefix.clone())
            .with_opt("s3:delimiter", request.delimiter.as_deref())
            .with("s3:max-keys", max_keys);
        self.authorize_with_keys(ctx, bucket, "", "s3:ListBucketVersions", Some(keys))?;
        if let Some(v) = request
            .version_id_marker
            .as_deref()
            .filter(|v| !v.is_empty())
        {
            if request.key_marker.as_deref().is_none_or(str::is_empty) {
                return Err(S3Error::invalid_argument(
                    "A version-id marker cannot be specified without a key marker.",
                )
                .with_extra("ArgumentName", "version-id-marker")
                .with_extra("ArgumentValue", v));
            }
            versioning::parse_version_id(Some(v))?;
        }
        let mut page = self.store.list_object_versions(bucket, request)?;
        for info in page.versions.iter_mut().filter(|v| !v.is_delete_marker) {
            if let Ok(Some(stat)) = self.stat_object(bucket, &info.key, Some(&info.version_id)) {
                info.size = stat.size;
                info.etag = stat.etag;
                info.last_modified = stat.last_modified;
            }
        }
        Ok(page)
    }

    /// DeleteObject with a version id: removes that version (or delete marker) permanently, after
    /// `s3:DeleteObjectVersion`, MFA Delete (the caller has checked `x-amz-mfa` once per request and
    /// says so with `mfa_checked`) and Object Lock. `bypass`: the request sent
    /// `x-amz-bypass-governance-retention: true` (the permission is checked here). A version that
    /// does not exist is no error, as S3 answers 204.
    ///
    /// # Errors
    /// 400 `InvalidArgument` for a malformed id; 403 without the permission, without MFA while MFA
    /// Delete is on, or while Object Lock protects the version.
    pub fn delete_object_version(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        version_id: &str,
        bypass: bool,
        mfa_checked: bool,
    ) -> Result<DeletedVersion, S3Error> {
        versioning::parse_version_id(Some(version_id))?;
        self.authorize_action(ctx, bucket, key, "s3:DeleteObjectVersion")?;
        if !mfa_checked && self.mfa_delete(bucket)? == Some(true) {
            return Err(versioning::mfa_required());
        }
        let gone = DeletedVersion {
            version_id: version_id.to_owned(),
            delete_marker: false,
        };
        match self.store.head_object(bucket, key, Some(version_id)) {
            Ok(info) => {
                let bypass = self.may_bypass(ctx, bucket, key, bypass);
                object_lock::check_removal(
                    info.retention.as_ref(),
                    info.legal_hold,
                    self.now(),
                    bypass,
                )?;
            }
            Err(StoreError::DeleteMarker { .. }) => {}
            Err(StoreError::NoSuchVersion | StoreError::NoSuchKey) => return Ok(gone),
            Err(e) => return Err(e.into()),
        }
        match self.store.delete_object_version(bucket, key, version_id) {
            Ok(info) => Ok(DeletedVersion {
                version_id: info.version_id,
                delete_marker: info.is_delete_marker,
            }),
            Err(StoreError::NoSuchVersion) => Ok(gone),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether a request that sent the bypass header (`requested`) may bypass GOVERNANCE retention: it
    /// also needs `s3:BypassGovernanceRetention`.
    fn may_bypass(&self, ctx: &RequestContext, bucket: &str, key: &str, requested: bool) -> bool {
        requested
            && self
                .authorize_action(ctx, bucket, key, "s3:BypassGovernanceRetention")
                .is_ok()
    }

    /// The version a retention or legal-hold call is about: the one named, or the current one.
    fn lock_target(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<ObjectInfo, S3Error> {
        versioning::parse_version_id(version)?;
        if self.object_lock_configuration(bucket)?.is_none() {
            return Err(object_lock::missing_configuration());
        }
        Ok(self.store.head_object(bucket, key, version)?)
    }

    /// GetObjectRetention.
    ///
    /// # Errors
    /// 403 without `s3:GetObjectRetention`; 400 for a bucket without Object Lock; 404
    /// `NoSuchObjectLockConfiguration` for a version without retention; the version's 404/405.
    pub fn get_object_retention(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<String, S3Error> {
        self.authorize_action(ctx, bucket, key, "s3:GetObjectRetention")?;
        let info = self.lock_target(bucket, key, version)?;
        let r = info.retention.ok_or_else(|| {
            S3Error::with_code(
                S3ErrorCode::NoSuchObjectLockConfiguration,
                "The specified object does not have a ObjectLock configuration",
            )
        })?;
        Ok(object_lock::render_retention(&r))
    }

    /// PutObjectRetention: `body` is `<Retention>`; `bypass` as in
    /// [`SseEngine::delete_object_version`]. Extending is allowed to anyone with
    /// `s3:PutObjectRetention`; shortening, changing the mode or removing follows
    /// [`object_lock::check_retention_change`]. A new date must lie in the future.
    ///
    /// # Errors
    /// As [`SseEngine::get_object_retention`]; 400 `MalformedXML`; 400 `InvalidArgument` for a date in
    /// the past; 403 "Access Denied because object protected by object lock.".
    pub fn put_object_retention(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        body: &[u8],
        bypass: bool,
    ) -> Result<(), S3Error> {
        self.authorize_action(ctx, bucket, key, "s3:PutObjectRetention")?;
        let new = object_lock::parse_retention(body)?;
        let info = self.lock_target(bucket, key, version)?;
        let now = self.now();
        if let Some(n) = &new
            && n.retain_until <= now
        {
            return Err(S3Error::invalid_argument(
                "The retain until date must be in the future!",
            ));
        }
        let bypass = self.may_bypass(ctx, bucket, key, bypass);
        object_lock::check_retention_change(info.retention.as_ref(), new.as_ref(), now, bypass)?;
        self.store
            .put_object_retention(bucket, key, &info.version_id, new.as_ref())?;
        Ok(())
    }

    /// GetObjectLegalHold.
    ///
    /// # Errors
    /// 403 without `s3:GetObjectLegalHold`; 400 for a bucket without Object Lock; the version's 404/405.
    pub fn get_object_legal_hold(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<String, S3Error> {
        self.authorize_action(ctx, bucket, key, "s3:GetObjectLegalHold")?;
        let info = self.lock_target(bucket, key, version)?;
        Ok(object_lock::render_legal_hold(info.legal_hold))
    }

    /// PutObjectLegalHold: `body` is `<LegalHold>`.
    ///
    /// # Errors
    /// 403 without `s3:PutObjectLegalHold`; 400 `MalformedXML`; as [`SseEngine::get_object_legal_hold`].
    pub fn put_object_legal_hold(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        body: &[u8],
    ) -> Result<(), S3Error> {
        self.authorize_action(ctx, bucket, key, "s3:PutObjectLegalHold")?;
        let on = object_lock::parse_legal_hold(body)?;
        let info = self.lock_target(bucket, key, version)?;
        self.store
            .put_object_legal_hold(bucket, key, &info.version_id, on)?;
        Ok(())
    }

    /// GetObjectLockConfiguration.
    ///
    /// # Errors
    /// 403 without `s3:GetBucketObjectLockConfiguration`; 404 `ObjectLockConfigurationNotFoundError`.
    pub fn get_object_lock_configuration(
        &self,
        ctx: &RequestContext,
        bucket: &str,
    ) -> Result<String, S3Error> {
        self.authorize_action(ctx, bucket, "", "s3:GetBucketObjectLockConfiguration")?;
        self.object_lock_configuration(bucket)?
            .map(|c| c.to_xml())
            .ok_or_else(object_lock::configuration_not_found)
    }

    /// PutObjectLockConfiguration: enables Object Lock on a bucket whose versioning is Enabled (for
    /// good), or changes its default retention.
    ///
    /// # Errors
    /// 403 without `s3:PutBucketObjectLockConfiguration`; the XML errors of
    /// [`ObjectLockConfiguration::parse`]; 409 `InvalidBucketState` unless versioning is Enabled.
    pub fn put_object_lock_configuration(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        body: &[u8],
    ) -> Result<(), S3Error> {
        self.authorize_action(ctx, bucket, "", "s3:PutBucketObjectLockConfiguration")?;
        self.require_object_lock_support()?;
        let config = ObjectLockConfiguration::parse(body)?;
        if self.store.bucket_versioning(bucket)? != Versioning::Enabled {
            return Err(S3Error::with_code(
                S3ErrorCode::InvalidBucketState,
                "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration",
            ));
        }
        self.store
            .put_bucket_config(bucket, OBJECT_LOCK_CONFIG, Some(&config.to_xml()))?;
        Ok(())
    }

    /// 501 `NotImplemented` if the store cannot keep Object Lock state (the gateway's upstream store).
    ///
    /// # Errors
    /// As said.
    pub fn require_object_lock_support(&self) -> Result<(), S3Error> {
        if self.store.supports_object_lock() {
            return Ok(());
        }
        Err(S3Error::not_implemented(
            "This server does not support Object Lock on an upstream S3 store.",
        ))
    }

    /// Turns Object Lock on for a bucket just created (CreateBucket with
    /// `x-amz-bucket-object-lock-enabled`; the caller has authorized it): versioning Enabled for good, a
    /// configuration without default retention.
    ///
    /// # Errors
    /// 404 `NoSuchBucket`; 500 on a store failure.
    pub fn enable_object_lock_at_creation(&self, bucket: &str) -> Result<(), S3Error> {
        self.require_object_lock_support()?;
        self.store
            .put_bucket_versioning(bucket, Versioning::Enabled)?;
        let config = ObjectLockConfiguration { default: None };
        self.store
            .put_bucket_config(bucket, OBJECT_LOCK_CONFIG, Some(&config.to_xml()))?;
        Ok(())
    }
}

/// 403 `AccessDenied` for a wrong, reused or foreign MFA code (S3's exact text is not published; this
/// is STS's).
fn mfa_failed() -> S3Error {
    S3Error::access_denied("MultiFactorAuthentication failed with invalid MFA one time pass code.")
}
