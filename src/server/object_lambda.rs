//! S3 Object Lambda access points on the data plane: how a request names one (its alias
//! `…--ol-s3` as the bucket, its ARN — which botocore sends to the virtual host `NAME-ACCOUNT.HOST`
//! signed for `s3-object-lambda` — or the virtual host `NAME-ACCOUNT.s3-object-lambda.DOMAIN`), the
//! rules every such request must pass, and where a transformed request
//! (`S3Service::object_lambda_transform`) is handed to the Lambda runtime.
//!
//! The rules (`../shared/reference/S3-FEATURES.md` §3.1, §3.5), in the order they are checked:
//! 1. POST Object, CopyObject and UploadPartCopy through (or from) an OLAP: 501 `NotImplemented`;
//!    operations S3 Object Lambda has no action for (bucket configuration reads, CORS preflights):
//!    400 `InvalidRequest`.
//! 2. Through a VPC endpoint listener: 403 (Object Lambda access points are not reachable through
//!    gateway VPC endpoints).
//! 3. Anonymous or plain HTTP: 403 `AccessDenied`.
//! 4. The caller's identity and the OLAP policy must allow `s3-object-lambda:ACTION` on the OLAP ARN.
//! 5. SSE-C headers on GetObject or HeadObject: 400 `InvalidRequest` (the code and message are not
//!    documented anywhere found: unverified).
//! 6. A transformed action: `lambda:InvokeFunction` on the function (403 otherwise), then `Range` /
//!    `partNumber` without the matching `AllowedFeatures` entry: 501 `NotImplemented`; then the function runs ([`invoke`]).
//! 7. Anything else is delegated to the supporting access point, authorized as a request through it
//!    (its policy and its bucket's), with `aws:CalledVia` = `s3-object-lambda.amazonaws.com`.

pub mod invoke;

use std::sync::Arc;

use super::auth::Connection;
use super::request::{Op, S3Request};
use super::{Reply, S3Service, blocking};
use crate::iam::context::RequestContext;
use crate::s3::S3Error;
use crate::s3::access_point::{self, AccessPoint};
use crate::s3::object_lambda::{self, Action, Feature, ObjectLambdaAccessPoint, Transformation};

/// The service principal of S3 Object Lambda: `aws:CalledVia` of the supporting access point's part
/// of a request.
pub const CALLED_VIA: &str = "s3-object-lambda.amazonaws.com";

/// The host label that marks an Object Lambda virtual host (`NAME-ACCOUNT.s3-object-lambda.DOMAIN`).
const HOST_LABEL: &str = ".s3-object-lambda";

/// A request addressed to an Object Lambda access point, with its supporting access point.
#[derive(Clone, Debug)]
pub(crate) struct ObjectLambdaRoute {
    /// The Object Lambda access point.
    pub(crate) olap: ObjectLambdaAccessPoint,
    /// Its supporting access point.
    pub(crate) supporting: AccessPoint,
}

/// Everything the Lambda runtime needs to run a transformed request (the event of S3-FEATURES §3.2
/// and the caller's identity for `inputS3Url`).
#[derive(Clone, Debug)]
pub struct ObjectLambdaInvocation {
    /// The Object Lambda access point (its ARN is `configuration.accessPointArn`).
    pub olap: ObjectLambdaAccessPoint,
    /// The supporting access point (`configuration.supportingAccessPointArn` = its `arn()`; its
    /// `alias` and `bucket` address the untransformed data for `inputS3Url`).
    pub supporting: AccessPoint,
    /// The transformation configured for the action (function reference and payload).
    pub transformation: Transformation,
    /// The function's full ARN (the reference completed with the OLAP's region and account).
    pub function_arn: String,
    /// The transformed action.
    pub action: Action,
    /// The authenticated caller (principal with its access key id; identity policies), transport and
    /// network facts. The session token, if any, is in `headers` (`x-amz-security-token`) and the
    /// server's sessions ([`S3Service::sessions`]).
    pub context: RequestContext,
    /// The HTTP method.
    pub method: String,
    /// The original request target (path and query, as received).
    pub target: String,
    /// The `Host` header.
    pub host: Option<String>,
    /// Every request header as received (name, value), including authentication headers: the
    /// runtime strips them for `userRequest.headers`.
    pub headers: Vec<(String, String)>,
    /// The decoded query, in order.
    pub query: Vec<(String, String)>,
    /// The object key (GetObject, HeadObject).
    pub key: Option<String>,
    /// The request id (`xAmzRequestId`).
    pub request_id: String,
    /// The endpoint's region.
    pub region: String,
}

impl S3Service {
    /// The Object Lambda access point a data-plane request addresses, if any: by alias (`…--ol-s3`), by
    /// the virtual host `NAME-ACCOUNT.s3-object-lambda.DOMAIN`, or by `NAME-ACCOUNT.DOMAIN` when the
    /// request is signed for `s3-object-lambda` (botocore's form of an OLAP ARN with a custom
    /// endpoint) or when no bucket and no access point has that name. The request is rewritten to the
    /// supporting access point's bucket.
    ///
    /// # Errors
    /// 501 `NotImplemented` for POST Object and copies; 400 `InvalidRequest` for an operation Object
    /// Lambda has no action for; 403 through a VPC endpoint; 404 `NoSuchAccessPoint` when the
    /// supporting access point is gone.
    pub(crate) async fn object_lambda_of(
        self: Arc<Self>,
        req: &mut S3Request,
        headers: &[(String, String)],
        conn: Connection,
    ) -> Result<Option<ObjectLambdaRoute>, S3Error> {
        // A copy whose source is an OLAP is refused whatever the destination.
        if let Some(source) = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("x-amz-copy-source"))
            .map(|(_, v)| v.as_str())
            && names_object_lambda(source)
        {
            return Err(not_supported(
                "CopyObject with an Object Lambda access point as source",
            ));
        }
        let Some(bucket) = req.bucket.clone() else {
            return Ok(None);
        };
        let signed_for_olap = super::auth::signing_service(headers, &req.query)
            == Some(super::auth::OBJECT_LAMBDA_SERVICE);
        let lookup = if object_lambda::is_alias(&bucket) {
            Lookup::Alias(bucket)
        } else if let Some(host) = bucket.strip_suffix(HOST_LABEL) {
            match name_account(host) {
                Some((n, a)) => Lookup::Name(n.to_owned(), a.to_owned(), true),
                None => return Ok(None),
            }
        } else if let Some((n, a)) = name_account(&bucket) {
            Lookup::Name(n.to_owned(), a.to_owned(), signed_for_olap)
        } else {
            return Ok(None);
        };
        let svc = Arc::clone(&self);
        let found = blocking(move || {
            let engine = svc.engine();
            let olap = match lookup {
                Lookup::Alias(alias) => engine.object_lambda_access_point_by_alias(&alias)?,
                Lookup::Name(name, account, sure) => {
                    if !sure
                        && (engine
                            .object_store()
                            .head_bucket(&format!("{name}-{account}"))
                            .is_ok()
                            || engine.access_point(&account, &name).is_ok())
                    {
                        return Ok(None);
                    }
                    engine.object_lambda_access_point(&account, &name).ok()
                }
            };
            let Some(olap) = olap else {
                return Ok(None);
            };
            let supporting = engine.supporting_access_point(&olap)?;
            Ok(Some(ObjectLambdaRoute { olap, supporting }))
        })
        .await?;
        let Some(route) = found else {
            return Ok(None);
        };
        olap_action(req.op)?;
        if conn.vpce.is_some() {
            return Err(S3Error::access_denied(
                "Object Lambda access points cannot be reached through a VPC endpoint.",
            ));
        }
        req.bucket = Some(route.supporting.bucket.clone());
        Ok(Some(route))
    }

    /// Runs a request that `route`'s configuration transforms, after every check of the module
    /// documentation passed: invokes `invocation.function_arn` with AWS's event and answers with the
    /// function's output (WriteGetObjectResponse for GetObject, the returned document for HeadObject
    /// and the lists); see [`invoke`].
    ///
    /// # Errors
    /// S3 Object Lambda's errors ([`invoke`]).
    pub(crate) async fn object_lambda_transform(
        self: Arc<Self>,
        invocation: ObjectLambdaInvocation,
    ) -> Result<Reply, S3Error> {
        use crate::s3::object_lambda::event::Operation;
        let inv = invocation;
        let Some(principal) = inv.context.caller.principal().cloned() else {
            return Err(S3Error::access_denied(
                "Object Lambda access points only accept requests signed with SigV4 over HTTPS.",
            ));
        };
        let operation = match inv.action {
            Action::GetObject => Operation::GetObject,
            Action::HeadObject => Operation::HeadObject,
            Action::ListObjects => Operation::ListObjects,
            Action::ListObjectsV2 => Operation::ListObjectsV2,
        };
        // The caller's user id (`userIdentity.principalId`), from the account store when it has one.
        let user_id = match (&principal.user_name, self.object_lambda_runtime()) {
            (Some(name), Some(rt)) => rt.user_id(name),
            _ => None,
        };
        let path = inv.target.split('?').next().unwrap_or("/");
        let url = format!(
            "https://{}{}{}",
            inv.host.as_deref().unwrap_or("localhost"),
            path,
            invoke::query_string(&inv.query, |_| true)
        );
        let olap_arn = inv.olap.arn();
        let supporting_arn = inv.supporting.arn();
        let t = invoke::Transform {
            function: &inv.function_arn,
            payload: inv.transformation.payload.as_deref().unwrap_or_default(),
            access_point_arn: &olap_arn,
            supporting_access_point_arn: &supporting_arn,
            supporting_alias: &inv.supporting.alias,
            operation,
            key: inv.key.as_deref().unwrap_or_default(),
            query: &inv.query,
            url,
            headers: &inv.headers,
            request_id: &inv.request_id,
            principal: &principal,
            user_id,
            identity_policies: inv.context.identity_policies.to_vec(),
        };
        self.run_transformation(t).await
    }

    /// The Object Lambda rules after authentication (3–6 of the module documentation). `Ok(Some)`:
    /// the request is transformed (with its action and transformation); `Ok(None)`: it is delegated
    /// to the supporting access point, and `ctx` now carries that access point and `aws:CalledVia`.
    ///
    /// # Errors
    /// 403 `AccessDenied`; 400 `InvalidRequest` for SSE-C; 501 `NotImplemented` for a feature the
    /// configuration does not allow.
    pub(crate) fn object_lambda_checks(
        &self,
        route: &ObjectLambdaRoute,
        req: &S3Request,
        headers: &[(String, String)],
        ctx: &mut RequestContext,
    ) -> Result<Option<(Action, Transformation)>, S3Error> {
        if ctx.caller.principal().is_none() || !ctx.secure_transport {
            return Err(S3Error::access_denied(
                "Object Lambda access points only accept requests signed with SigV4 over HTTPS.",
            ));
        }
        let engine = self.engine();
        engine.authorize_object_lambda(ctx, &route.olap, olap_action(req.op)?)?;
        let header = |n: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
        if matches!(req.op, Op::GetObject | Op::HeadObject)
            && headers.iter().any(|(k, _)| {
                k.to_ascii_lowercase()
                    .starts_with("x-amz-server-side-encryption-customer-")
            })
        {
            // S3-FEATURES §3.5: rejected so that keys are not logged; code and message unverified.
            return Err(S3Error::invalid_request(
                "Requests with server-side encryption with customer-provided keys (SSE-C) are not supported through Object Lambda access points.",
            ));
        }
        let transformed = transformed_action(req.op)
            .and_then(|a| route.olap.transformation_for(a).map(|t| (a, t.clone())));
        let Some((action, transformation)) = transformed else {
            // A VPC-origin supporting access point is not reached through an OLAP (whose requests
            // never come from a VPC endpoint).
            if route.supporting.network_origin != access_point::NetworkOrigin::Internet {
                return Err(S3Error::access_denied("Access Denied"));
            }
            ctx.access_point = Some(engine.access_point_ref(&route.supporting)?);
            ctx.called_via = Some(CALLED_VIA.to_owned());
            return Ok(None);
        };
        engine.authorize_lambda_invoke(ctx, &route.olap, &transformation)?;
        let (range, part) = match action {
            Action::GetObject => (Feature::GetObjectRange, Feature::GetObjectPartNumber),
            Action::HeadObject => (Feature::HeadObjectRange, Feature::HeadObjectPartNumber),
            Action::ListObjects | Action::ListObjectsV2 => {
                return Ok(Some((action, transformation)));
            }
        };
        let config = &route.olap.configuration;
        if header("range") && !config.allows(range) {
            return Err(feature_not_allowed("Range", range));
        }
        if (req.has("partNumber") || header("partnumber")) && !config.allows(part) {
            return Err(feature_not_allowed("partNumber", part));
        }
        Ok(Some((action, transformation)))
    }
}

enum Lookup {
    Alias(String),
    /// Name, account, and whether the request surely means an OLAP.
    Name(String, String, bool),
}

/// `NAME` and `ACCOUNT` of `NAME-ACCOUNT`, when NAME is a valid OLAP name.
fn name_account(s: &str) -> Option<(&str, &str)> {
    let (name, account) = s.rsplit_once('-')?;
    (object_lambda::is_valid_name(name) && access_point::is_account_id(account))
        .then_some((name, account))
}

/// Whether a copy source (`/BUCKET/KEY`, `BUCKET/KEY`, an ARN form) names an OLAP.
fn names_object_lambda(source: &str) -> bool {
    let decoded =
        String::from_utf8_lossy(&crate::aws::sigv4::canonical::percent_decode(source)).into_owned();
    let s = decoded.trim_start_matches('/');
    s.starts_with("arn:aws:s3-object-lambda:")
        || s.split('/').next().is_some_and(object_lambda::is_alias)
}

fn not_supported(what: &str) -> S3Error {
    S3Error::not_implemented(format!(
        "{what} is not supported through Object Lambda access points."
    ))
}

fn feature_not_allowed(what: &str, feature: Feature) -> S3Error {
    S3Error::not_implemented(format!(
        "A header or query you provided implies functionality that is not implemented ({what}): the Object Lambda access point's AllowedFeatures do not include {}.",
        feature.as_str()
    ))
}

/// The action a transformed operation is configured under.
fn transformed_action(op: Op) -> Option<Action> {
    match op {
        Op::GetObject => Some(Action::GetObject),
        Op::HeadObject => Some(Action::HeadObject),
        Op::ListObjects => Some(Action::ListObjects),
        Op::ListObjectsV2 => Some(Action::ListObjectsV2),
        _ => None,
    }
}

/// The `s3-object-lambda:` IAM action of an operation through an OLAP (the Service Authorization
/// Reference lists the S3 object actions; HeadObject is `GetObject`, the lists and HeadBucket are
/// `ListBucket`).
///
/// # Errors
/// 501 `NotImplemented` for POST Object and copies (unsupported by S3 Object Lambda); 400
/// `InvalidRequest` for an operation it has no action for.
fn olap_action(op: Op) -> Result<&'static str, S3Error> {
    Ok(match op {
        Op::GetObject | Op::HeadObject => "s3-object-lambda:GetObject",
        Op::ListObjects | Op::ListObjectsV2 | Op::HeadBucket => "s3-object-lambda:ListBucket",
        Op::ListObjectVersions => "s3-object-lambda:ListBucketVersions",
        Op::ListMultipartUploads => "s3-object-lambda:ListBucketMultipartUploads",
        Op::PutObject
        | Op::CreateMultipartUpload
        | Op::UploadPart
        | Op::CompleteMultipartUpload => "s3-object-lambda:PutObject",
        Op::AbortMultipartUpload => "s3-object-lambda:AbortMultipartUpload",
        Op::ListParts => "s3-object-lambda:ListMultipartUploadParts",
        Op::DeleteObject | Op::DeleteObjects => "s3-object-lambda:DeleteObject",
        Op::GetObjectAcl => "s3-object-lambda:GetObjectAcl",
        Op::PutObjectAcl => "s3-object-lambda:PutObjectAcl",
        Op::GetObjectRetention => "s3-object-lambda:GetObjectRetention",
        Op::PutObjectRetention => "s3-object-lambda:PutObjectRetention",
        Op::GetObjectLegalHold => "s3-object-lambda:GetObjectLegalHold",
        Op::PutObjectLegalHold => "s3-object-lambda:PutObjectLegalHold",
        Op::PostObject => return Err(not_supported("POST Object")),
        Op::CopyObject | Op::UploadPartCopy => return Err(not_supported("CopyObject")),
        _ => {
            return Err(S3Error::invalid_request(
                "This operation cannot be made through an Object Lambda access point.",
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_and_addresses() {
        assert_eq!(
            olap_action(Op::HeadObject).ok(),
            Some("s3-object-lambda:GetObject")
        );
        assert_eq!(
            olap_action(Op::ListObjectsV2).ok(),
            Some("s3-object-lambda:ListBucket")
        );
        assert_eq!(
            olap_action(Op::PostObject).map_err(|e| e.code()),
            Err(crate::s3::S3ErrorCode::NotImplemented)
        );
        assert_eq!(
            olap_action(Op::GetBucketPolicy).map_err(|e| e.code()),
            Err(crate::s3::S3ErrorCode::InvalidRequest)
        );
        assert_eq!(
            name_account("my-olap-000000000000"),
            Some(("my-olap", "000000000000"))
        );
        assert_eq!(name_account("bucket"), None);
        assert!(names_object_lambda("/my-olap-abc--ol-s3/k"));
        assert!(names_object_lambda(
            "arn%3Aaws%3As3-object-lambda%3Aus-east-1%3A000000000000%3Aaccesspoint%2Fx/object/k"
        ));
        assert!(!names_object_lambda("/bucket/k--ol-s3"));
    }
}
