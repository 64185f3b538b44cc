//! What an HTTP request asks of S3: the bucket and key (path-style or virtual-hosted-style), the
//! query, and the operation.

use crate::aws::sigv4::canonical::percent_decode;
use crate::s3::{S3Error, S3ErrorCode};

/// An S3 operation the endpoint recognises. Every other request is answered `NotImplemented` (a
/// known S3 subresource this server does not implement) or `MethodNotAllowed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    ListBuckets,
    CreateBucket,
    HeadBucket,
    DeleteBucket,
    GetBucketLocation,
    ListObjects,
    ListObjectsV2,
    GetBucketEncryption,
    PutBucketEncryption,
    DeleteBucketEncryption,
    GetBucketPolicy,
    PutBucketPolicy,
    DeleteBucketPolicy,
    GetBucketPolicyStatus,
    GetPublicAccessBlock,
    PutPublicAccessBlock,
    DeletePublicAccessBlock,
    GetBucketOwnershipControls,
    PutBucketOwnershipControls,
    DeleteBucketOwnershipControls,
    GetBucketVersioning,
    PutBucketVersioning,
    ListObjectVersions,
    GetObjectLockConfiguration,
    PutObjectLockConfiguration,
    GetObjectRetention,
    PutObjectRetention,
    GetObjectLegalHold,
    PutObjectLegalHold,
    CreateAccessPoint,
    GetAccessPoint,
    ListAccessPoints,
    DeleteAccessPoint,
    PutAccessPointPolicy,
    GetAccessPointPolicy,
    DeleteAccessPointPolicy,
    GetAccessPointPolicyStatus,
    CreateAccessPointForObjectLambda,
    GetAccessPointForObjectLambda,
    ListAccessPointsForObjectLambda,
    DeleteAccessPointForObjectLambda,
    GetAccessPointConfigurationForObjectLambda,
    PutAccessPointConfigurationForObjectLambda,
    PutAccessPointPolicyForObjectLambda,
    GetAccessPointPolicyForObjectLambda,
    DeleteAccessPointPolicyForObjectLambda,
    GetAccessPointPolicyStatusForObjectLambda,
    GetBucketAcl,
    PutBucketAcl,
    ListMultipartUploads,
    DeleteObjects,
    PutObject,
    CopyObject,
    GetObject,
    HeadObject,
    DeleteObject,
    GetObjectAcl,
    PutObjectAcl,
    CreateMultipartUpload,
    UploadPart,
    UploadPartCopy,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
    PostObject,
    /// S3 Object Lambda: a function's answer to a waiting GetObject (`POST /WriteGetObjectResponse`).
    WriteGetObjectResponse,
    GetBucketLogging,
    PutBucketLogging,
    GetBucketCors,
    PutBucketCors,
    DeleteBucketCors,
    /// A CORS preflight (`OPTIONS`), answered without authentication.
    Preflight,
}

impl Op {
    /// The operation's name as S3 documents it (logs, errors).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::ListBuckets => "ListBuckets",
            Self::CreateBucket => "CreateBucket",
            Self::HeadBucket => "HeadBucket",
            Self::DeleteBucket => "DeleteBucket",
            Self::GetBucketLocation => "GetBucketLocation",
            Self::ListObjects => "ListObjects",
            Self::ListObjectsV2 => "ListObjectsV2",
            Self::GetBucketEncryption => "GetBucketEncryption",
            Self::PutBucketEncryption => "PutBucketEncryption",
            Self::DeleteBucketEncryption => "DeleteBucketEncryption",
            Self::GetBucketPolicy => "GetBucketPolicy",
            Self::PutBucketPolicy => "PutBucketPolicy",
            Self::DeleteBucketPolicy => "DeleteBucketPolicy",
            Self::GetBucketPolicyStatus => "GetBucketPolicyStatus",
            Self::GetPublicAccessBlock => "GetPublicAccessBlock",
            Self::PutPublicAccessBlock => "PutPublicAccessBlock",
            Self::DeletePublicAccessBlock => "DeletePublicAccessBlock",
            Self::GetBucketOwnershipControls => "GetBucketOwnershipControls",
            Self::PutBucketOwnershipControls => "PutBucketOwnershipControls",
            Self::DeleteBucketOwnershipControls => "DeleteBucketOwnershipControls",
            Self::GetBucketVersioning => "GetBucketVersioning",
            Self::PutBucketVersioning => "PutBucketVersioning",
            Self::ListObjectVersions => "ListObjectVersions",
            Self::GetObjectLockConfiguration => "GetObjectLockConfiguration",
            Self::PutObjectLockConfiguration => "PutObjectLockConfiguration",
            Self::GetObjectRetention => "GetObjectRetention",
            Self::PutObjectRetention => "PutObjectRetention",
            Self::GetObjectLegalHold => "GetObjectLegalHold",
            Self::PutObjectLegalHold => "PutObjectLegalHold",
            Self::CreateAccessPoint => "CreateAccessPoint",
            Self::GetAccessPoint => "GetAccessPoint",
            Self::ListAccessPoints => "ListAccessPoints",
            Self::DeleteAccessPoint => "DeleteAccessPoint",
            Self::PutAccessPointPolicy => "PutAccessPointPolicy",
            Self::GetAccessPointPolicy => "GetAccessPointPolicy",
            Self::DeleteAccessPointPolicy => "DeleteAccessPointPolicy",
            Self::GetAccessPointPolicyStatus => "GetAccessPointPolicyStatus",
            Self::CreateAccessPointForObjectLambda => "CreateAccessPointForObjectLambda",
            Self::GetAccessPointForObjectLambda => "GetAccessPointForObjectLambda",
            Self::ListAccessPointsForObjectLambda => "ListAccessPointsForObjectLambda",
            Self::DeleteAccessPointForObjectLambda => "DeleteAccessPointForObjectLambda",
            Self::GetAccessPointConfigurationForObjectLambda => {
                "GetAccessPointConfigurationForObjectLambda"
            }
            Self::PutAccessPointConfigurationForObjectLambda => {
                "PutAccessPointConfigurationForObjectLambda"
            }
            Self::PutAccessPointPolicyForObjectLambda => "PutAccessPointPolicyForObjectLambda",
            Self::GetAccessPointPolicyForObjectLambda => "GetAccessPointPolicyForObjectLambda",
            Self::DeleteAccessPointPolicyForObjectLambda => {
                "DeleteAccessPointPolicyForObjectLambda"
            }
            Self::GetAccessPointPolicyStatusForObjectLambda => {
                "GetAccessPointPolicyStatusForObjectLambda"
            }
            Self::GetBucketAcl => "GetBucketAcl",
            Self::PutBucketAcl => "PutBucketAcl",
            Self::ListMultipartUploads => "ListMultipartUploads",
            Self::DeleteObjects => "DeleteObjects",
            Self::PutObject => "PutObject",
            Self::CopyObject => "CopyObject",
            Self::GetObject => "GetObject",
            Self::HeadObject => "HeadObject",
            Self::DeleteObject => "DeleteObject",
            Self::GetObjectAcl => "GetObjectAcl",
            Self::PutObjectAcl => "PutObjectAcl",
            Self::CreateMultipartUpload => "CreateMultipartUpload",
            Self::UploadPart => "UploadPart",
            Self::UploadPartCopy => "UploadPartCopy",
            Self::CompleteMultipartUpload => "CompleteMultipartUpload",
            Self::AbortMultipartUpload => "AbortMultipartUpload",
            Self::ListParts => "ListParts",
            Self::PostObject => "PostObject",
            Self::WriteGetObjectResponse => "WriteGetObjectResponse",
            Self::GetBucketLogging => "GetBucketLogging",
            Self::PutBucketLogging => "PutBucketLogging",
            Self::GetBucketCors => "GetBucketCors",
            Self::PutBucketCors => "PutBucketCors",
            Self::DeleteBucketCors => "DeleteBucketCors",
            Self::Preflight => "PreflightRequest",
        }
    }

    /// The operation as S3's server access logs name it (`REST.GET.OBJECT`, …).
    pub(crate) fn log_operation(self) -> &'static str {
        match self {
            Self::ListBuckets => "REST.GET.SERVICE",
            Self::CreateBucket => "REST.PUT.BUCKET",
            Self::HeadBucket => "REST.HEAD.BUCKET",
            Self::DeleteBucket => "REST.DELETE.BUCKET",
            Self::GetBucketLocation => "REST.GET.LOCATION",
            Self::ListObjects | Self::ListObjectsV2 => "REST.GET.BUCKET",
            Self::GetBucketEncryption => "REST.GET.ENCRYPTION",
            Self::PutBucketEncryption => "REST.PUT.ENCRYPTION",
            Self::DeleteBucketEncryption => "REST.DELETE.ENCRYPTION",
            Self::GetBucketPolicy => "REST.GET.BUCKETPOLICY",
            Self::PutBucketPolicy => "REST.PUT.BUCKETPOLICY",
            Self::DeleteBucketPolicy => "REST.DELETE.BUCKETPOLICY",
            Self::GetBucketPolicyStatus => "REST.GET.POLICY_STATUS",
            Self::GetPublicAccessBlock => "REST.GET.PUBLIC_ACCESS_BLOCK",
            Self::PutPublicAccessBlock => "REST.PUT.PUBLIC_ACCESS_BLOCK",
            Self::DeletePublicAccessBlock => "REST.DELETE.PUBLIC_ACCESS_BLOCK",
            Self::GetBucketOwnershipControls => "REST.GET.OWNERSHIP_CONTROLS",
            Self::PutBucketOwnershipControls => "REST.PUT.OWNERSHIP_CONTROLS",
            Self::DeleteBucketOwnershipControls => "REST.DELETE.OWNERSHIP_CONTROLS",
            Self::GetBucketVersioning => "REST.GET.VERSIONING",
            Self::PutBucketVersioning => "REST.PUT.VERSIONING",
            Self::ListObjectVersions => "REST.GET.BUCKETVERSIONS",
            Self::GetObjectLockConfiguration => "REST.GET.OBJECT_LOCK_CONFIGURATION",
            Self::PutObjectLockConfiguration => "REST.PUT.OBJECT_LOCK_CONFIGURATION",
            Self::GetObjectRetention => "REST.GET.RETENTION",
            Self::PutObjectRetention => "REST.PUT.RETENTION",
            Self::GetObjectLegalHold => "REST.GET.LEGAL_HOLD",
            Self::PutObjectLegalHold => "REST.PUT.LEGAL_HOLD",
            Self::CreateAccessPoint => "REST.PUT.ACCESSPOINT",
            Self::GetAccessPoint => "REST.GET.ACCESSPOINT",
            Self::ListAccessPoints => "REST.GET.ACCESSPOINTS",
            Self::DeleteAccessPoint => "REST.DELETE.ACCESSPOINT",
            Self::PutAccessPointPolicy => "REST.PUT.ACCESSPOINT_POLICY",
            Self::GetAccessPointPolicy => "REST.GET.ACCESSPOINT_POLICY",
            Self::DeleteAccessPointPolicy => "REST.DELETE.ACCESSPOINT_POLICY",
            Self::GetAccessPointPolicyStatus => "REST.GET.ACCESSPOINT_POLICY_STATUS",
            Self::CreateAccessPointForObjectLambda => "REST.PUT.ACCESSPOINTFOROBJECTLAMBDA",
            Self::GetAccessPointForObjectLambda => "REST.GET.ACCESSPOINTFOROBJECTLAMBDA",
            Self::ListAccessPointsForObjectLambda => "REST.GET.ACCESSPOINTSFOROBJECTLAMBDA",
            Self::DeleteAccessPointForObjectLambda => "REST.DELETE.ACCESSPOINTFOROBJECTLAMBDA",
            Self::GetAccessPointConfigurationForObjectLambda => {
                "REST.GET.ACCESSPOINTFOROBJECTLAMBDA_CONFIGURATION"
            }
            Self::PutAccessPointConfigurationForObjectLambda => {
                "REST.PUT.ACCESSPOINTFOROBJECTLAMBDA_CONFIGURATION"
            }
            Self::PutAccessPointPolicyForObjectLambda => {
                "REST.PUT.ACCESSPOINTFOROBJECTLAMBDA_POLICY"
            }
            Self::GetAccessPointPolicyForObjectLambda => {
                "REST.GET.ACCESSPOINTFOROBJECTLAMBDA_POLICY"
            }
            Self::DeleteAccessPointPolicyForObjectLambda => {
                "REST.DELETE.ACCESSPOINTFOROBJECTLAMBDA_POLICY"
            }
            Self::GetAccessPointPolicyStatusForObjectLambda => {
                "REST.GET.ACCESSPOINTFOROBJECTLAMBDA_POLICY_STATUS"
            }
            Self::GetBucketAcl | Self::GetObjectAcl => "REST.GET.ACL",
            Self::PutBucketAcl | Self::PutObjectAcl => "REST.PUT.ACL",
            Self::ListMultipartUploads => "REST.GET.UPLOADS",
            Self::DeleteObjects => "REST.POST.MULTI_OBJECT_DELETE",
            Self::PutObject => "REST.PUT.OBJECT",
            Self::CopyObject => "REST.COPY.OBJECT",
            Self::GetObject => "REST.GET.OBJECT",
            Self::HeadObject => "REST.HEAD.OBJECT",
            Self::DeleteObject => "REST.DELETE.OBJECT",
            Self::CreateMultipartUpload => "REST.POST.UPLOADS",
            Self::UploadPart => "REST.PUT.PART",
            Self::UploadPartCopy => "REST.COPY.PART",
            Self::CompleteMultipartUpload => "REST.POST.UPLOAD",
            Self::AbortMultipartUpload => "REST.DELETE.UPLOAD",
            Self::ListParts => "REST.GET.UPLOAD",
            Self::PostObject => "REST.POST.OBJECT",
            Self::WriteGetObjectResponse => "REST.POST.WRITEGETOBJECTRESPONSE",
            Self::GetBucketLogging => "REST.GET.LOGGING_STATUS",
            Self::PutBucketLogging => "REST.PUT.LOGGING_STATUS",
            Self::GetBucketCors => "REST.GET.CORS",
            Self::PutBucketCors => "REST.PUT.CORS",
            Self::DeleteBucketCors => "REST.DELETE.CORS",
            Self::Preflight => "REST.OPTIONS.PREFLIGHT",
        }
    }

    /// Whether the operation may be addressed through an access point (the data plane: objects,
    /// listings, multipart uploads, and the bucket reads S3's access point compatibility list names;
    /// bucket configuration changes are refused).
    pub(crate) fn via_access_point(self) -> bool {
        matches!(
            self,
            Self::HeadBucket
                | Self::GetBucketLocation
                | Self::GetBucketPolicy
                | Self::GetBucketAcl
                | Self::GetBucketCors
                | Self::ListObjects
                | Self::ListObjectsV2
                | Self::ListObjectVersions
                | Self::ListMultipartUploads
                | Self::GetObject
                | Self::HeadObject
                | Self::PutObject
                | Self::CopyObject
                | Self::DeleteObject
                | Self::DeleteObjects
                | Self::GetObjectAcl
                | Self::PutObjectAcl
                | Self::CreateMultipartUpload
                | Self::UploadPart
                | Self::UploadPartCopy
                | Self::CompleteMultipartUpload
                | Self::AbortMultipartUpload
                | Self::ListParts
                | Self::GetObjectRetention
                | Self::PutObjectRetention
                | Self::GetObjectLegalHold
                | Self::PutObjectLegalHold
                | Self::Preflight
        )
    }

    /// Whether the request body is object data, streamed (and its hash checked while streaming)
    /// rather than read whole before the operation runs.
    pub(crate) fn streams_body(self) -> bool {
        matches!(
            self,
            Self::PutObject | Self::UploadPart | Self::WriteGetObjectResponse
        )
    }
}

/// S3 subresources (query parameters that name an API) this endpoint does not implement: a request
/// carrying one is answered `NotImplemented` instead of being mistaken for a plain GET or PUT.
const UNIMPLEMENTED_SUBRESOURCES: &[&str] = &[
    "accelerate",
    "analytics",
    "attributes",
    "inventory",
    "intelligent-tiering",
    "lifecycle",
    "metadataConfiguration",
    "metadataTable",
    "metrics",
    "notification",
    "renameObject",
    "replication",
    "requestPayment",
    "restore",
    "select",
    "session",
    "tagging",
    "torrent",
    "website",
];

/// A request resolved to S3 terms.
#[derive(Clone, Debug)]
pub(crate) struct S3Request {
    /// The bucket, if the request names one.
    pub(crate) bucket: Option<String>,
    /// The object key (decoded), if the request names one.
    pub(crate) key: Option<String>,
    /// The query, decoded, in order.
    pub(crate) query: Vec<(String, String)>,
    /// The operation.
    pub(crate) op: Op,
}

impl S3Request {
    /// The value of query parameter `name` (first occurrence).
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the query carries `name` (with or without a value).
    pub(crate) fn has(&self, name: &str) -> bool {
        self.query.iter().any(|(k, _)| k == name)
    }

    /// The S3 resource for error documents: `/bucket/key`, `/bucket` or `/`.
    pub(crate) fn resource(&self) -> String {
        match (&self.bucket, &self.key) {
            (Some(b), Some(k)) => format!("/{b}/{k}"),
            (Some(b), None) => format!("/{b}"),
            _ => "/".to_owned(),
        }
    }
}

/// Resolves `method`, the request target and `Host` into an [`S3Request`]. `domains` are the names
/// under which buckets are addressed virtual-hosted style (`BUCKET.DOMAIN`).
///
/// # Errors
/// 400 `InvalidURI` for a path that does not decode to UTF-8; 501 `NotImplemented` for a known S3
/// subresource this server lacks; 405 `MethodNotAllowed` for a method S3 does not use.
pub(crate) fn resolve(
    method: &str,
    target: &str,
    host: Option<&str>,
    headers: &[(String, String)],
    domains: &[String],
) -> Result<S3Request, S3Error> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode_lossy(k), decode_lossy(v))
        })
        .collect();
    let invalid_uri =
        || S3Error::with_code(S3ErrorCode::InvalidURI, "Couldn't parse the specified URI.");
    let path = String::from_utf8(percent_decode(path)).map_err(|_| invalid_uri())?;
    let path = path.strip_prefix('/').unwrap_or(&path);
    // S3 Control (access points): its path and the account header, whatever the host (botocore puts
    // the account id in front of the endpoint's host).
    if let Some(rest) = path.strip_prefix("v20180820/")
        && headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("x-amz-account-id"))
    {
        return control_operation(method, rest, query);
    }
    // WriteGetObjectResponse: `POST /WriteGetObjectResponse` with the route in a header (and, unless
    // the client disabled host prefixes, also in front of the host).
    if method == "POST"
        && path == "WriteGetObjectResponse"
        && headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("x-amz-request-route"))
    {
        return Ok(S3Request {
            bucket: None,
            key: None,
            query,
            op: Op::WriteGetObjectResponse,
        });
    }
    let virtual_bucket = host.and_then(|h| virtual_host_bucket(h, domains));
    let (bucket, key) = match virtual_bucket {
        Some(b) => (Some(b), (!path.is_empty()).then(|| path.to_owned())),
        None => match path.split_once('/') {
            Some((b, k)) => (Some(b.to_owned()), (!k.is_empty()).then(|| k.to_owned())),
            None if path.is_empty() => (None, None),
            None => (Some(path.to_owned()), None),
        },
    };
    if key.as_deref().is_some_and(|k| k.contains('\0')) {
        return Err(invalid_uri());
    }
    let mut req = S3Request {
        bucket,
        key,
        query,
        op: Op::ListBuckets,
    };
    req.op = operation(method, &req, headers)?;
    Ok(req)
}

/// An S3 Control request: `accesspoint[/NAME[/policy|/policyStatus]]` or
/// `accesspointforobjectlambda[/NAME[/configuration|/policy|/policyStatus]]` under `/v20180820/`. The access
/// point name travels as the request's key; there is no bucket.
fn control_operation(
    method: &str,
    rest: &str,
    query: Vec<(String, String)>,
) -> Result<S3Request, S3Error> {
    let parts: Vec<&str> = rest.split('/').collect();
    let op = match (method, parts.as_slice()) {
        ("GET", ["accesspoint"]) => Op::ListAccessPoints,
        ("PUT", ["accesspoint", _]) => Op::CreateAccessPoint,
        ("GET", ["accesspoint", _]) => Op::GetAccessPoint,
        ("DELETE", ["accesspoint", _]) => Op::DeleteAccessPoint,
        ("PUT", ["accesspoint", _, "policy"]) => Op::PutAccessPointPolicy,
        ("GET", ["accesspoint", _, "policy"]) => Op::GetAccessPointPolicy,
        ("DELETE", ["accesspoint", _, "policy"]) => Op::DeleteAccessPointPolicy,
        ("GET", ["accesspoint", _, "policyStatus"]) => Op::GetAccessPointPolicyStatus,
        ("GET", ["accesspointforobjectlambda"]) => Op::ListAccessPointsForObjectLambda,
        ("PUT", ["accesspointforobjectlambda", _]) => Op::CreateAccessPointForObjectLambda,
        ("GET", ["accesspointforobjectlambda", _]) => Op::GetAccessPointForObjectLambda,
        ("DELETE", ["accesspointforobjectlambda", _]) => Op::DeleteAccessPointForObjectLambda,
        ("GET", ["accesspointforobjectlambda", _, "configuration"]) => {
            Op::GetAccessPointConfigurationForObjectLambda
        }
        ("PUT", ["accesspointforobjectlambda", _, "configuration"]) => {
            Op::PutAccessPointConfigurationForObjectLambda
        }
        ("PUT", ["accesspointforobjectlambda", _, "policy"]) => {
            Op::PutAccessPointPolicyForObjectLambda
        }
        ("GET", ["accesspointforobjectlambda", _, "policy"]) => {
            Op::GetAccessPointPolicyForObjectLambda
        }
        ("DELETE", ["accesspointforobjectlambda", _, "policy"]) => {
            Op::DeleteAccessPointPolicyForObjectLambda
        }
        ("GET", ["accesspointforobjectlambda", _, "policyStatus"]) => {
            Op::GetAccessPointPolicyStatusForObjectLambda
        }
        _ => {
            return Err(S3Error::not_implemented(
                "This S3 Control operation is not implemented by this server.",
            ));
        }
    };
    Ok(S3Request {
        bucket: None,
        key: parts.get(1).map(|n| (*n).to_owned()),
        query,
        op,
    })
}

fn decode_lossy(s: &str) -> String {
    String::from_utf8_lossy(&percent_decode(&s.replace('+', " "))).into_owned()
}

/// `BUCKET` when `host` (port removed) is `BUCKET.DOMAIN` for one of `domains`.
fn virtual_host_bucket(host: &str, domains: &[String]) -> Option<String> {
    let name = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(']') => h,
        _ if host.starts_with('[') => return None,
        _ => host,
    };
    let name = name.to_ascii_lowercase();
    domains.iter().find_map(|d| {
        name.strip_suffix(d.as_str())
            .and_then(|b| b.strip_suffix('.'))
            .filter(|b| !b.is_empty())
            .map(str::to_owned)
    })
}

fn operation(method: &str, r: &S3Request, headers: &[(String, String)]) -> Result<Op, S3Error> {
    let header = |n: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
    if let Some((name, _)) = r
        .query
        .iter()
        .find(|(k, _)| UNIMPLEMENTED_SUBRESOURCES.contains(&k.as_str()))
    {
        return Err(S3Error::not_implemented(format!(
            "A header or query you provided implies functionality that is not implemented ({name})."
        )));
    }
    let not_allowed = || {
        Err(S3Error::with_code(
            S3ErrorCode::MethodNotAllowed,
            "The specified method is not allowed against this resource.",
        )
        .with_extra("Method", method)
        .with_extra(
            "ResourceType",
            if r.key.is_some() { "OBJECT" } else { "BUCKET" },
        ))
    };
    let q = |n: &str| r.has(n);
    let op = match (&r.bucket, &r.key) {
        (None, _) => match method {
            "GET" => Op::ListBuckets,
            _ => {
                return Err(S3Error::with_code(
                    S3ErrorCode::MethodNotAllowed,
                    "The specified method is not allowed against this resource.",
                )
                .with_extra("Method", method)
                .with_extra("ResourceType", "SERVICE"));
            }
        },
        (Some(_), None) => match method {
            "OPTIONS" => Op::Preflight,
            "GET" if q("location") => Op::GetBucketLocation,
            "GET" if q("logging") => Op::GetBucketLogging,
            "GET" if q("cors") => Op::GetBucketCors,
            "GET" if q("encryption") => Op::GetBucketEncryption,
            "GET" if q("policyStatus") => Op::GetBucketPolicyStatus,
            "GET" if q("policy") => Op::GetBucketPolicy,
            "GET" if q("publicAccessBlock") => Op::GetPublicAccessBlock,
            "GET" if q("ownershipControls") => Op::GetBucketOwnershipControls,
            "GET" if q("versioning") => Op::GetBucketVersioning,
            "GET" if q("versions") => Op::ListObjectVersions,
            "GET" if q("object-lock") => Op::GetObjectLockConfiguration,
            "GET" if q("acl") => Op::GetBucketAcl,
            "GET" if q("uploads") => Op::ListMultipartUploads,
            "GET" if r.param("list-type") == Some("2") => Op::ListObjectsV2,
            "GET" => Op::ListObjects,
            "HEAD" => Op::HeadBucket,
            "PUT" if q("logging") => Op::PutBucketLogging,
            "PUT" if q("cors") => Op::PutBucketCors,
            "PUT" if q("encryption") => Op::PutBucketEncryption,
            "PUT" if q("policy") => Op::PutBucketPolicy,
            "PUT" if q("publicAccessBlock") => Op::PutPublicAccessBlock,
            "PUT" if q("ownershipControls") => Op::PutBucketOwnershipControls,
            "PUT" if q("acl") => Op::PutBucketAcl,
            "PUT" if q("versioning") => Op::PutBucketVersioning,
            "PUT" if q("object-lock") => Op::PutObjectLockConfiguration,
            "PUT" => Op::CreateBucket,
            "DELETE" if q("cors") => Op::DeleteBucketCors,
            "DELETE" if q("encryption") => Op::DeleteBucketEncryption,
            "DELETE" if q("policy") => Op::DeleteBucketPolicy,
            "DELETE" if q("publicAccessBlock") => Op::DeletePublicAccessBlock,
            "DELETE" if q("ownershipControls") => Op::DeleteBucketOwnershipControls,
            "DELETE" => Op::DeleteBucket,
            "POST" if q("delete") => Op::DeleteObjects,
            "POST" => Op::PostObject,
            _ => return not_allowed(),
        },
        (Some(_), Some(_)) => match method {
            "OPTIONS" => Op::Preflight,
            "GET" if q("uploadId") => Op::ListParts,
            "GET" if q("acl") => Op::GetObjectAcl,
            "GET" if q("retention") => Op::GetObjectRetention,
            "GET" if q("legal-hold") => Op::GetObjectLegalHold,
            "GET" => Op::GetObject,
            "HEAD" => Op::HeadObject,
            "PUT" if q("acl") => Op::PutObjectAcl,
            "PUT" if q("retention") => Op::PutObjectRetention,
            "PUT" if q("legal-hold") => Op::PutObjectLegalHold,
            "PUT" if q("uploadId") && header("x-amz-copy-source") => Op::UploadPartCopy,
            "PUT" if q("uploadId") => Op::UploadPart,
            "PUT" if header("x-amz-copy-source") => Op::CopyObject,
            "PUT" => Op::PutObject,
            "POST" if q("uploads") => Op::CreateMultipartUpload,
            "POST" if q("uploadId") => Op::CompleteMultipartUpload,
            "DELETE" if q("uploadId") => Op::AbortMultipartUpload,
            "DELETE" => Op::DeleteObject,
            _ => return not_allowed(),
        },
    };
    Ok(op)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domains() -> Vec<String> {
        vec!["localhost".to_owned()]
    }

    fn op(method: &str, target: &str) -> Result<S3Request, S3Error> {
        resolve(method, target, Some("127.0.0.1:9000"), &[], &domains())
    }

    #[test]
    fn path_style() {
        let r = op("GET", "/b/a%20b/c%2Fd").expect("ok");
        assert_eq!(r.bucket.as_deref(), Some("b"));
        assert_eq!(r.key.as_deref(), Some("a b/c/d"));
        assert_eq!(r.op, Op::GetObject);
        assert_eq!(op("GET", "/").expect("ok").op, Op::ListBuckets);
        assert_eq!(op("GET", "/b").expect("ok").op, Op::ListObjects);
        assert_eq!(op("GET", "/b/").expect("ok").op, Op::ListObjects);
        assert_eq!(
            op("GET", "/b?list-type=2&prefix=x").expect("ok").op,
            Op::ListObjectsV2
        );
        assert_eq!(op("PUT", "/b").expect("ok").op, Op::CreateBucket);
        assert_eq!(
            op("PUT", "/b/k?partNumber=1&uploadId=x").expect("ok").op,
            Op::UploadPart
        );
        assert_eq!(
            op("POST", "/b/k?uploads").expect("ok").op,
            Op::CreateMultipartUpload
        );
        assert_eq!(op("POST", "/b").expect("ok").op, Op::PostObject);
        assert_eq!(op("POST", "/b?delete").expect("ok").op, Op::DeleteObjects);
    }

    #[test]
    fn virtual_hosted_style() {
        let r = resolve(
            "GET",
            "/k/x",
            Some("mybucket.localhost:9000"),
            &[],
            &domains(),
        )
        .expect("ok");
        assert_eq!(r.bucket.as_deref(), Some("mybucket"));
        assert_eq!(r.key.as_deref(), Some("k/x"));
        let r = resolve(
            "GET",
            "/",
            Some("my.dotted.bucket.localhost"),
            &[],
            &domains(),
        )
        .expect("ok");
        assert_eq!(r.bucket.as_deref(), Some("my.dotted.bucket"));
        assert_eq!(r.op, Op::ListObjects);
        let r = resolve("GET", "/b/k", Some("localhost:9000"), &[], &domains()).expect("ok");
        assert_eq!(r.bucket.as_deref(), Some("b"));
        let r = resolve("GET", "/b/k", Some("[::1]:9000"), &[], &domains()).expect("ok");
        assert_eq!(r.bucket.as_deref(), Some("b"));
    }

    #[test]
    fn keys_are_opaque_but_never_nul_or_invalid_utf8() {
        let r = op("GET", "/b/../../etc/passwd").expect("ok");
        assert_eq!(r.key.as_deref(), Some("../../etc/passwd"));
        assert_eq!(
            op("GET", "/b/a%00b").expect_err("nul").code(),
            S3ErrorCode::InvalidURI
        );
        assert_eq!(
            op("GET", "/b/%ff").expect_err("utf8").code(),
            S3ErrorCode::InvalidURI
        );
    }

    #[test]
    fn object_lambda_control_paths() {
        let control = |method: &str, target: &str| {
            resolve(
                method,
                target,
                Some("000000000000.localhost"),
                &[("x-amz-account-id".to_owned(), "000000000000".to_owned())],
                &domains(),
            )
        };
        for (method, target, want) in [
            (
                "GET",
                "/v20180820/accesspointforobjectlambda?maxResults=5",
                Op::ListAccessPointsForObjectLambda,
            ),
            (
                "PUT",
                "/v20180820/accesspointforobjectlambda/o",
                Op::CreateAccessPointForObjectLambda,
            ),
            (
                "GET",
                "/v20180820/accesspointforobjectlambda/o/configuration",
                Op::GetAccessPointConfigurationForObjectLambda,
            ),
            (
                "PUT",
                "/v20180820/accesspointforobjectlambda/o/policy",
                Op::PutAccessPointPolicyForObjectLambda,
            ),
            (
                "GET",
                "/v20180820/accesspointforobjectlambda/o/policyStatus",
                Op::GetAccessPointPolicyStatusForObjectLambda,
            ),
            (
                "DELETE",
                "/v20180820/accesspointforobjectlambda/o",
                Op::DeleteAccessPointForObjectLambda,
            ),
        ] {
            let r = control(method, target).expect(target);
            assert_eq!(r.op, want, "{target}");
        }
        assert_eq!(
            control("GET", "/v20180820/accesspointforobjectlambda/o")
                .expect("get")
                .key
                .as_deref(),
            Some("o")
        );
        assert!(control("POST", "/v20180820/accesspointforobjectlambda/o/x").is_err());
    }

    #[test]
    fn unknown_subresources_are_not_implemented() {
        for t in ["/b?lifecycle", "/b/k?tagging", "/b?website", "/b/k?restore"] {
            let e = op("GET", t).expect_err(t);
            assert_eq!(e.code(), S3ErrorCode::NotImplemented, "{t}");
        }
        let e = op("PATCH", "/b/k").expect_err("patch");
        assert_eq!(e.code(), S3ErrorCode::MethodNotAllowed);
    }
}
