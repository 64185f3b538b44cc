//! The HTTP side of versioning, MFA Delete and Object Lock: Get/PutBucketVersioning,
//! ListObjectVersions, Get/PutObjectLockConfiguration, Get/PutObjectRetention and
//! Get/PutObjectLegalHold. The decisions are the engine's ([`crate::sse::engine::SseEngine`]); this
//! module reads the request (query, integrity header, body) and writes S3's response.

use super::bucket::{bucket_of, encoding_url, max_keys, owner};
use super::object::{bucket_key, require_integrity_header, version_param};
use super::request::Op;
use super::{Call, Reply, S3Service};
use crate::s3::S3Error;
use crate::s3::object_lock;
use crate::s3::versioning::{ListVersionsPage, render_list_versions};
use crate::store::VersionListRequest;

/// GetBucketVersioning.
pub(crate) fn get_bucket_versioning(svc: &S3Service, call: &Call) -> Result<Reply, S3Error> {
    let bucket = bucket_of(call)?;
    let xml = svc.engine().get_bucket_versioning(&call.ctx, bucket)?;
    Ok(Reply::xml(200, xml))
}

/// PutBucketVersioning: the body needs Content-MD5 or a checksum, as in S3.
pub(crate) fn put_bucket_versioning(svc: &S3Service, call: &Call) -> Result<Reply, S3Error> {
    let bucket = bucket_of(call)?;
    svc.engine().owner_of(bucket)?;
    require_integrity_header(call)?;
    svc.engine()
        .put_bucket_versioning(&call.ctx, bucket, &call.headers, &call.body)?;
    Ok(Reply::empty(200, Vec::new()))
}

/// ListObjectVersions.
pub(crate) fn list_versions(svc: &S3Service, call: &Call) -> Result<Reply, S3Error> {
    let bucket = bucket_of(call)?;
    let url = encoding_url(call)?;
    let max = max_keys(call)?;
    let prefix = call.req.param("prefix").unwrap_or_default();
    let delimiter = call.req.param("delimiter").filter(|d| !d.is_empty());
    let key_marker = call.req.param("key-marker").unwrap_or_default();
    let version_id_marker = call.req.param("version-id-marker").unwrap_or_default();
    let request = VersionListRequest {
        prefix: prefix.to_owned(),
        delimiter: delimiter.map(str::to_owned),
        key_marker: Some(key_marker.to_owned()).filter(|k| !k.is_empty()),
        version_id_marker: Some(version_id_marker.to_owned()).filter(|v| !v.is_empty()),
        max_keys: max,
    };
    let page = if max == 0 {
        svc.engine()
            .authorize_action(&call.ctx, bucket, "", "s3:ListBucketVersions")?;
        crate::store::VersionPage::default()
    } else {
        svc.engine()
            .list_object_versions(&call.ctx, bucket, &request)?
    };
    let account = svc.engine().owner_of(bucket)?;
    let body = render_list_versions(&ListVersionsPage {
        bucket,
        prefix,
        key_marker,
        version_id_marker,
        delimiter,
        max_keys: max,
        url,
        is_truncated: page.is_truncated,
        next_key_marker: page.next_key_marker.as_deref(),
        next_version_id_marker: page.next_version_id_marker.as_deref(),
        versions: &page.versions,
        common_prefixes: &page.common_prefixes,
        owner: owner(&account),
    });
    Ok(Reply::xml(200, body))
}

/// Get/PutObjectLockConfiguration.
pub(crate) fn object_lock_configuration(
    svc: &S3Service,
    op: Op,
    call: &Call,
) -> Result<Reply, S3Error> {
    let bucket = bucket_of(call)?;
    if op == Op::GetObjectLockConfiguration {
        let xml = svc
            .engine()
            .get_object_lock_configuration(&call.ctx, bucket)?;
        return Ok(Reply::xml(200, xml));
    }
    svc.engine().owner_of(bucket)?;
    require_integrity_header(call)?;
    svc.engine()
        .put_object_lock_configuration(&call.ctx, bucket, &call.body)?;
    Ok(Reply::empty(200, Vec::new()))
}

/// Get/PutObjectRetention and Get/PutObjectLegalHold of a version (`versionId`, or the current one).
pub(crate) fn object_lock_state(svc: &S3Service, op: Op, call: &Call) -> Result<Reply, S3Error> {
    let (bucket, key) = bucket_key(call)?;
    let version = version_param(call)?;
    let engine = svc.engine();
    match op {
        Op::GetObjectRetention => {
            let xml = engine.get_object_retention(&call.ctx, bucket, key, version)?;
            return Ok(Reply::xml(200, xml));
        }
        Op::GetObjectLegalHold => {
            let xml = engine.get_object_legal_hold(&call.ctx, bucket, key, version)?;
            return Ok(Reply::xml(200, xml));
        }
        Op::PutObjectRetention => {
            engine.owner_of(bucket)?;
            require_integrity_header(call)?;
            engine.put_object_retention(
                &call.ctx,
                bucket,
                key,
                version,
                &call.body,
                object_lock::bypass_requested(&call.headers),
            )?;
        }
        _ => {
            engine.owner_of(bucket)?;
            require_integrity_header(call)?;
            engine.put_object_legal_hold(&call.ctx, bucket, key, version, &call.body)?;
        }
    }
    Ok(Reply::empty(200, Vec::new()))
}
