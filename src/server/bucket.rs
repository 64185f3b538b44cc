//! Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation,
//! ListObjects(V2), and the bucket configurations (encryption, policy, Block Public Access,
//! ownership controls; versioning and ACLs read-only).

use super::request::Op;
use super::{Call, Reply, S3Service};
use crate::iam::policy::{ParseOptions, Policy};
use crate::iam::{Authorization, ConditionKeys, ResourceModel, Verdict, authorize};
use crate::s3::public_access::{PublicAccessBlock, is_public};
use crate::s3::xml::{self, ObjectOwnership, Owner};
use crate::s3::{S3Error, S3ErrorCode};
use crate::store::ListRequest;

use crate::sse::engine::{OWNERSHIP_CONFIG, PUBLIC_ACCESS_BLOCK_CONFIG};

pub(crate) fn bucket_of(call: &Call) -> Result<&str, S3Error> {
    call.req
        .bucket
        .as_deref()
        .ok_or_else(|| S3Error::internal("bucket operation without a bucket"))
}

pub(crate) fn owner(account: &str) -> Owner<'_> {
    Owner {
        id: account,
        display_name: account,
    }
}

/// An `AccessControlPolicy` granting the owner full control: what S3 reports for every bucket and
/// object when ACLs are disabled.
pub(crate) fn owner_acl(account: &str) -> String {
    let id = xml::escape_text(account);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AccessControlPolicy xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Owner><ID>{id}</ID><DisplayName>{id}</DisplayName></Owner><AccessControlList><Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\"><ID>{id}</ID><DisplayName>{id}</DisplayName></Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>"
    )
}

/// ListBuckets: the buckets of the caller's account.
pub(crate) fn list_buckets(svc: &S3Service, call: &Call) -> Result<Reply, S3Error> {
    let buckets = svc.engine().list_buckets(&call.ctx)?;
    let account = call
        .ctx
        .caller
        .principal()
        .map(|p| p.account.clone())
        .unwrap_or_default();
    Ok(Reply::xml(
        200,
        xml::render_list_all_my_buckets(owner(&account), &buckets, None, None),
    ))
}

/// CreateBucket with S3's defaults for new buckets: SSE-S3, SSE-C writes blocked, Block Public Access
/// on, ACLs disabled (`BucketOwnerEnforced`).
pub(crate) fn create(svc: &S3Service, call: &Call) -> Result<Reply, S3Error> {
    let bucket = bucket_of(call)?;
    let Some(principal) = call.ctx.caller.principal() else {
        return Err(S3Error::access_denied("Access Denied"));
    };
    let resource = format!("arn:aws:s3:::{bucket}");
    let keys = ConditionKeys::new();
    // The bucket does not exist yet: only the caller's identity policies (and being root) decide.
    let allow = |action: &str| {
        let a = Authorization::new(
            action,
            &resource,
            &principal.account,
            &call.ctx,
            &keys,
            ResourceModel::S3,
        )
        .with_identity_policies(&call.ctx.identity_policies);
        if authorize(&a) == Verdict::Allow {
            Ok(())
        } else {
            Err(S3Error::access_denied("Access Denied"))
        }
    };
    allow("s3:CreateBucket")?;
    if !call.body.iter().all(u8::is_ascii_whitespace)
        && let Some(location) = xml::parse_create_bucket_configuration(&call.body)?
        && location != svc.options().region
    {
        return Err(S3Error::from_code(
            S3ErrorCode::IllegalLocationConstraintException,
        )
        .with_message(format!(
            "The {location} location constraint is incompatible for the region specific endpoint this request was sent to."
        )));
    }
    let ownership = match call.headers.get("x-amz-object-ownership") {
        Some(v) => v.trim().parse::<ObjectOwnership>().map_err(|_| {
            S3Error::invalid_argument("Invalid x-amz-object-ownership header")
                .with_extra("ArgumentName", "x-amz-object-ownership")
                .with_extra("ArgumentValue", v.trim())
        })?,
        None => ObjectOwnership::BucketOwnerEnforced,
    };
    if let Some(acl) = call.headers.get("x-amz-acl")
        && acl.trim() != "private"
        && ownership == ObjectOwnership::BucketOwnerEnforced
    {
        return Err(S3Error::from_code(
            S3ErrorCode::InvalidBucketAclWithObjectOwnership,
        ));
    }
    let object_lock = match call.headers.get("x-amz-bucket-object-lock-enabled") {
        None => false,
        Some(v) if v.trim().eq_ignore_ascii_case("true") => true,
        Some(v) if v.trim().eq_ignore_ascii_case("false") => false,
        Some(v) => {
            return Err(S3Error::invalid_argument(
                "Invalid x-amz-bucket-object-lock-enabled header",
            )
            .with_extra("ArgumentName", "x-amz-bucket-object-lock-enabled")
            .with_extra("ArgumentValue", v.trim()));
        }
    };
    // Object Lock at creation needs the permissions of both halves of what it does.
    if object_lock {
        allow("s3:PutBucketObjectLockConfiguration")?;
        allow("s3:PutBucketVersioning")?;
        // Refused before the bucket exists: a store without Object Lock gets no half-made bucket.
        svc.engine().require_object_lock_support()?;
    }
    match svc.engine().owner_of(bucket) {
        Ok(existing) if existing == principal.account => {
            return Err(S3Error::from_code(S3ErrorCode::BucketAlreadyOwnedByYou));
        }
        Ok(_) => return Err(S3Error::from_code(S3ErrorCode::BucketAlreadyExists)),
        Err(e) if e.code() == S3ErrorCode::NoSuchBucket => {}
        Err(e) => return Err(e),
    }
    svc.engine().create_bucket(&call.ctx, bucket, None)?;
    let store = svc.engine().object_store();
    store.put_bucket_config(
        bucket,
        PUBLIC_ACCESS_BLOCK_CONFIG,
        Some(&xml::render_public_access_block(
            &PublicAccessBlock::all_on(),
        )),
    )?;
    store.put_bucket_config(bucket, OWNERSHIP_CONFIG, Some(ownership.as_str()))?;
    if object_lock {
        svc.engine().enable_object_lock_at_creation(bucket)?;
    }
    Ok(Reply::empty(
        200,
        vec![("Location".to_owned(), format!("/{bucket}"))],
    ))
}

/// HeadBucket.
pub(crate) fn head(svc: &S3Service, call: &Call) -> Result<Reply, S3Error> {
    let bucket = bucket_of(call)?;
    svc.engine()
        .authorize_action(&call.ctx, bucket, "", "s3:ListBucket")?;
    Ok(Reply::empty(
        200,
        vec![
            (
                "x-amz-bucket-region".to_owned(),
                svc.options().region.clone(),
            ),
            ("x-amz-access-point-alias".to_owned(), "false".to_owned()),
        ],
    ))
}

/// DeleteBucket.
pub(crate) fn delete(svc: &S3Service, call: &Call) -> Result<Reply, S3Error> {
    let bucket = bucket_of(call)?;
    svc.engine().delete_bucket(&call.ctx, bucket)?;
    Ok(Reply::empty(204, Vec::new()))
}

/// GetBucketLocation.
pub(crate) fn location(svc: &S3Service, call: &Call) -> Result<Reply, S3Error> {
    let bucket = bucket_of(call)?;
    svc.engine()
        .authorize_action(&call.ctx, bucket, "", "s3:GetBucketLocation")?;
    Ok(Reply::xml(
        200,
        xml::render_location_constraint(Some(&svc.options().region)),
    ))
}

/// `max-keys`: 0..=2147483647, capped at 1,000.
pub(crate) fn max_keys(call: &Call) -> Result<usize, S3Error> {
    let Some(v) = call.req.param("max-keys") else {
        return Ok(1000);
    };
    let n: i64 = v.trim().parse().map_err(|_| {
        S3Error::invalid_argument("Provided max-keys not an integer or within integer range")
            .with_extra("ArgumentName", "max-keys")
            .with_extra("ArgumentValue", v)
    })?;
    if !(0..=i64::from(i32::MAX)).contains(&n) {
        return Err(S3Error::invalid_argument(
            "Argument maxKeys must be an integer between 0 and 2147483647",
        )
        .with_extra("ArgumentName", "maxKeys")
        .with_extra("ArgumentValue", v));
    }
    Ok(usize::try_from(n).unwrap_or(1000).min(1000))
}

/// `encoding-type`: absent, or `url` (keys and prefixes URL-encoded in the listing).
pub(crate) fn encoding_url(call: &Call) -> Result<bool, S3Error> {
    match call.req.param("encoding-type") {
        None => Ok(false),
        Some("url") => Ok(true),
        Some(other) => Err(S3Error::invalid_argument(
            "Invalid Encoding Method specified in Request",
        )
        .with_extra("ArgumentName", "encoding-type")
        .with_extra("ArgumentValue", other)),
    }
}

/// ListObjects and ListObjectsV2.
pub(crate) fn list_objects(svc: &S3Service, call: &Call) -> Result<Reply, S3Error> {
    let bucket = bucket_of(call)?;
    let v2 = call.req.op == Op::ListObjectsV2;
    let encoding_url = encoding_url(call)?;
    let max = max_keys(call)?;
    let prefix = call.req.param("prefix").unwrap_or_default();
    let delimiter = call.req.param("delimiter").filter(|d| !d.is_empty());
    let token = if v2 {
        call.req.param("continuation-token")
    } else {
        None
    };
    if token.is_some_and(str::is_empty) {
        return Err(
            S3Error::invalid_argument("The continuation token provided is incorrect")
                .with_extra("ArgumentName", "continuation-token"),
        );
    }
    let after = if v2 {
        call.req.param("start-after")
    } else {
        call.req.param("marker")
    };
    let request = ListRequest {
        prefix: prefix.to_owned(),
        delimiter: delimiter.map(str::to_owned),
        continuation_token: token.map(str::to_owned),
        start_after: after.filter(|a| !a.is_empty()).map(str::to_owned),
        max_keys: max,
    };
    let page = if max == 0 {
        svc.engine()
            .authorize_action(&call.ctx, bucket, "", "s3:ListBucket")?;
        crate::store::ListPage::default()
    } else {
        svc.engine()
            .list_objects(&call.ctx, bucket, &request)
            .map_err(|e| {
                if e.code() == S3ErrorCode::InvalidArgument {
                    S3Error::invalid_argument("The continuation token provided is incorrect")
                        .with_extra("ArgumentName", "continuation-token")
                } else {
                    e
                }
            })?
    };
    let account = svc.engine().owner_of(bucket)?;
    let entries: Vec<xml::ListEntry<'_>> = page.contents.iter().map(Into::into).collect();
    let truncated = page.next_token.is_some();
    let body = if v2 {
        xml::render_list_objects_v2(&xml::ListV2Page {
            bucket,
            prefix,
            delimiter,
            max_keys: max,
            encoding_url,
            continuation_token: token,
            next_continuation_token: page.next_token.as_deref(),
            start_after: after,
            fetch_owner: call.req.param("fetch-owner") == Some("true"),
            owner: owner(&account),
            contents: &entries,
            common_prefixes: &page.common_prefixes,
            is_truncated: truncated,
        })
    } else {
        // The last key or common prefix of the page: where the next page starts.
        let last = match (page.contents.last(), page.common_prefixes.last()) {
            (Some(c), Some(p)) => Some(if c.key > *p { c.key.clone() } else { p.clone() }),
            (Some(c), None) => Some(c.key.clone()),
            (None, Some(p)) => Some(p.clone()),
            (None, None) => None,
        };
        xml::render_list_objects_v1(&xml::ListV1Page {
            bucket,
            prefix,
            marker: after.unwrap_or_default(),
            next_marker: last.as_deref(),
            max_keys: max,
            delimiter,
            encoding_url,
            owner: owner(&account),
            contents: &entries,
            common_prefixes: &page.common_prefixes,
            is_truncated: truncated,
        })
    };
    Ok(Reply::xml(200, body))
}

/// Get/Put/DeleteBucketPolicy access (S3's rules): the owner's root always (no lock-out); others
/// need the permission, and a permitted caller from another account gets 405.
fn policy_access(svc: &S3Service, call: &Call, bucket: &str, action: &str) -> Result<(), S3Error> {
    let owner = svc.engine().owner_of(bucket)?;
    let caller = call.ctx.caller.principal();
    if caller.is_some_and(|p| p.account == owner && p.is_root()) {
        return Ok(());
    }
    svc.engine()
        .authorize_action(&call.ctx, bucket, "", action)?;
    if caller.is_none_or(|p| p.account != owner) {
        return Err(S3Error::from_code(S3ErrorCode::MethodNotAllowed)
            .with_extra("Method", call.method.clone())
            .with_extra("ResourceType", "BUCKET"));
    }
    Ok(())
}

/// The bucket's Block Public Access settings; `None` when it has none.
pub(crate) fn public_access_block(
    svc: &S3Service,
    bucket: &str,
) -> Result<Option<PublicAccessBlock>, S3Error> {
    svc.engine()
        .object_store()
        .bucket_config(bucket, PUBLIC_ACCESS_BLOCK_CONFIG)?
        .map(|x| xml::parse_public_access_block(x.as_bytes()))
        .transpose()
}

fn utf8(body: &[u8]) -> Result<&str, S3Error> {
    std::str::from_utf8(body).map_err(|_| S3Error::malformed_xml())
}

/// The bucket configuration operations.
pub(crate) fn config(svc: &S3Service, op: Op, call: &Call) -> Result<Reply, S3Error> {
    let bucket = bucket_of(call)?;
    let engine = svc.engine();
    let store = engine.object_store();
    let allow = |action: &str| engine.authorize_action(&call.ctx, bucket, "", action);
    match op {
        Op::GetBucketEncryption => Ok(Reply::xml(
            200,
            engine.get_bucket_encryption(&call.ctx, bucket)?,
        )),
        Op::PutBucketEncryption => {
            allow("s3:PutEncryptionConfiguration")?;
            engine.put_bucket_encryption(&call.ctx, bucket, utf8(&call.body)?)?;
            Ok(Reply::empty(200, Vec::new()))
        }
        Op::DeleteBucketEncryption => {
            engine.delete_bucket_encryption(&call.ctx, bucket)?;
            Ok(Reply::empty(204, Vec::new()))
        }
        Op::GetBucketPolicy => {
            policy_access(svc, call, bucket, "s3:GetBucketPolicy")?;
            let Some(policy) = engine.bucket_policy(bucket)? else {
                return Err(S3Error::from_code(S3ErrorCode::NoSuchBucketPolicy));
            };
            let length = policy.len() as u64;
            Ok(Reply {
                status: 200,
                headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
                body: super::body::full(policy),
                length,
            })
        }
        Op::PutBucketPolicy => {
            policy_access(svc, call, bucket, "s3:PutBucketPolicy")?;
            let json = std::str::from_utf8(&call.body)
                .map_err(|_| S3Error::malformed_policy("Policies must be valid JSON"))?;
            if let Some(pab) = public_access_block(svc, bucket)?
                && pab.block_public_policy
            {
                let parsed = Policy::parse(json, &ParseOptions::BUCKET)
                    .map_err(|e| S3Error::malformed_policy(e.to_string()))?;
                if is_public(&parsed) {
                    let who = call
                        .ctx
                        .caller
                        .principal()
                        .map_or("anonymous", |p| p.arn.as_str());
                    return Err(S3Error::access_denied(format!(
                        "User: {who} is not authorized to perform: s3:PutBucketPolicy on resource: \"arn:aws:s3:::{bucket}\" because public policies are blocked by the BlockPublicPolicy block public access setting."
                    )));
                }
            }
            engine.put_bucket_policy(&call.ctx, bucket, json)?;
            Ok(Reply::empty(204, Vec::new()))
        }
        Op::DeleteBucketPolicy => {
            policy_access(svc, call, bucket, "s3:DeleteBucketPolicy")?;
            engine.delete_bucket_policy(bucket)?;
            Ok(Reply::empty(204, Vec::new()))
        }
        Op::GetBucketPolicyStatus => {
            allow("s3:GetBucketPolicyStatus")?;
            let public = match engine.bucket_policy(bucket)? {
                Some(p) => Policy::parse(&p, &ParseOptions::BUCKET)
                    .map(|p| is_public(&p))
                    .unwrap_or(false),
                None => {
                    return Err(S3Error::from_code(S3ErrorCode::NoSuchBucketPolicy));
                }
            };
            Ok(Reply::xml(200, xml::render_policy_status(public)))
        }
        Op::GetPublicAccessBlock => {
            allow("s3:GetBucketPublicAccessBlock")?;
            match public_access_block(svc, bucket)? {
                Some(p) => Ok(Reply::xml(200, xml::render_public_access_block(&p))),
                None => Err(S3Error::from_code(
                    S3ErrorCode::NoSuchPublicAccessBlockConfiguration,
                )),
            }
        }
        Op::PutPublicAccessBlock => {
            allow("s3:PutBucketPublicAccessBlock")?;
            let p = xml::parse_public_access_block(&call.body)?;
            store.put_bucket_config(
                bucket,
                PUBLIC_ACCESS_BLOCK_CONFIG,
                Some(&xml::render_public_access_block(&p)),
            )?;
            Ok(Reply::empty(200, Vec::new()))
        }
        Op::DeletePublicAccessBlock => {
            allow("s3:PutBucketPublicAccessBlock")?;
            store.put_bucket_config(bucket, PUBLIC_ACCESS_BLOCK_CONFIG, None)?;
            Ok(Reply::empty(204, Vec::new()))
        }
        Op::GetBucketOwnershipControls => {
            allow("s3:GetBucketOwnershipControls")?;
            match store.bucket_config(bucket, OWNERSHIP_CONFIG)? {
                Some(o) => {
                    let o = o.trim().parse::<ObjectOwnership>().unwrap_or_default();
                    Ok(Reply::xml(200, xml::render_ownership_controls(o)))
                }
                None => Err(S3Error::from_code(
                    S3ErrorCode::OwnershipControlsNotFoundError,
                )),
            }
        }
        Op::PutBucketOwnershipControls => {
            allow("s3:PutBucketOwnershipControls")?;
            let o = xml::parse_ownership_controls(&call.body)?;
            store.put_bucket_config(bucket, OWNERSHIP_CONFIG, Some(o.as_str()))?;
            Ok(Reply::empty(200, Vec::new()))
        }
        Op::DeleteBucketOwnershipControls => {
            allow("s3:PutBucketOwnershipControls")?;
            store.put_bucket_config(bucket, OWNERSHIP_CONFIG, None)?;
            Ok(Reply::empty(204, Vec::new()))
        }
        Op::GetBucketAcl => {
            allow("s3:GetBucketAcl")?;
            Ok(Reply::xml(200, owner_acl(&engine.owner_of(bucket)?)))
        }
        Op::PutBucketAcl => {
            allow("s3:PutBucketAcl")?;
            let private = call
                .headers
                .get("x-amz-acl")
                .is_some_and(|a| a.trim() == "private");
            if private && call.body.is_empty() {
                Ok(Reply::empty(200, Vec::new()))
            } else {
                Err(S3Error::from_code(
                    S3ErrorCode::AccessControlListNotSupported,
                ))
            }
        }
        _ => Err(S3Error::internal("not a bucket configuration operation")),
    }
}

/// GetBucketLogging and PutBucketLogging (server access logs, delivered by `access_log`).
pub(crate) fn logging(svc: &S3Service, op: Op, call: &Call) -> Result<Reply, S3Error> {
    use super::access_log::check_target;
    use crate::s3::access_log::{
        LOGGING_CONFIG, LoggingConfig, parse_bucket_logging_status, render_bucket_logging_status,
    };
    let bucket = bucket_of(call)?;
    let engine = svc.engine();
    let store = engine.object_store();
    match op {
        Op::GetBucketLogging => {
            engine.authorize_action(&call.ctx, bucket, "", "s3:GetBucketLogging")?;
            let config: Option<LoggingConfig> = store
                .bucket_config(bucket, LOGGING_CONFIG)?
                .map(|doc| serde_json::from_str(&doc))
                .transpose()
                .map_err(|e| S3Error::internal_because("the bucket's logging configuration", e))?;
            Ok(Reply::xml(
                200,
                render_bucket_logging_status(config.as_ref()),
            ))
        }
        Op::PutBucketLogging => {
            engine.authorize_action(&call.ctx, bucket, "", "s3:PutBucketLogging")?;
            let config = parse_bucket_logging_status(&call.body)?;
            let document = match &config {
                Some(c) => {
                    let owner = engine.owner_of(bucket)?;
                    check_target(engine, bucket, &owner, &svc.options().region, c)?;
                    Some(serde_json::to_string(c).map_err(S3Error::internal)?)
                }
                None => None,
            };
            store.put_bucket_config(bucket, LOGGING_CONFIG, document.as_deref())?;
            svc.access_logs.forget(bucket);
            Ok(Reply::empty(200, Vec::new()))
        }
        _ => Err(S3Error::internal("not a logging operation")),
    }
}

/// PutBucketCors, GetBucketCors and DeleteBucketCors.
pub(crate) fn cors(svc: &S3Service, op: Op, call: &Call) -> Result<Reply, S3Error> {
    use crate::s3::cors::CorsConfiguration;
    let bucket = bucket_of(call)?;
    let engine = svc.engine();
    let store = engine.object_store();
    match op {
        Op::GetBucketCors => {
            engine.authorize_action(&call.ctx, bucket, "", "s3:GetBucketCORS")?;
            match svc.cors_config(bucket)? {
                Some(c) => Ok(Reply::xml(200, c.to_xml())),
                None => Err(S3Error::from_code(S3ErrorCode::NoSuchCORSConfiguration)
                    .with_extra("BucketName", bucket)),
            }
        }
        Op::PutBucketCors => {
            engine.authorize_action(&call.ctx, bucket, "", "s3:PutBucketCORS")?;
            super::object::require_integrity_header(call)?;
            let config = CorsConfiguration::parse(&call.body)?;
            let json = serde_json::to_string(&config).map_err(S3Error::internal)?;
            store.put_bucket_config(bucket, super::CORS_CONFIG, Some(&json))?;
            svc.forget_cors(bucket);
            Ok(Reply::empty(200, Vec::new()))
        }
        Op::DeleteBucketCors => {
            engine.authorize_action(&call.ctx, bucket, "", "s3:PutBucketCORS")?;
            store.put_bucket_config(bucket, super::CORS_CONFIG, None)?;
            svc.forget_cors(bucket);
            Ok(Reply::empty(204, Vec::new()))
        }
        _ => Err(S3Error::internal("not a CORS operation")),
    }
}
