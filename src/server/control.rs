//! S3 Control on the S3 listeners: the access point and Object Lambda access point operations that
//! boto3's `s3control` client calls (`/v20180820/accesspoint…` and
//! `/v20180820/accesspointforobjectlambda…` with `x-amz-account-id`), authenticated like every S3 request and
//! answered with S3 Control's XML (errors in S3's error document, which botocore reads for both).
//! The records and the decisions are the engine's ([`crate::sse::engine::SseEngine::create_access_point`],
//! …).

use super::request::Op;
use super::{Call, Reply, S3Service};
use crate::s3::S3Error;
use crate::s3::access_point::{self, is_account_id};
use crate::s3::object_lambda;

/// The most access points ListAccessPoints returns in one page (S3 Control's `maxResults` bound).
const MAX_RESULTS: usize = 1000;

/// Runs an S3 Control operation.
pub(crate) fn dispatch(svc: &S3Service, op: Op, call: &Call) -> Result<Reply, S3Error> {
    let account = call
        .headers
        .get("x-amz-account-id")
        .map(str::trim)
        .filter(|a| is_account_id(a))
        .ok_or_else(|| {
            S3Error::invalid_request("x-amz-account-id must be a 12-digit account id")
                .with_extra("ArgumentName", "x-amz-account-id")
        })?;
    let region = svc.options().region.as_str();
    let engine = svc.engine();
    let ctx = &call.ctx;
    let name = call.req.key.as_deref().unwrap_or_default();
    let max_results = || match call.req.param("maxResults") {
        None => Ok(MAX_RESULTS),
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if n <= MAX_RESULTS => Ok(n.max(1)),
            _ => Err(
                S3Error::invalid_argument("maxResults must be an integer between 0 and 1000")
                    .with_extra("ArgumentName", "maxResults"),
            ),
        },
    };
    match op {
        Op::ListAccessPoints => {
            let max = max_results()?;
            let after = call.req.param("nextToken").filter(|t| !t.is_empty());
            let (aps, next) =
                engine.list_access_points(ctx, account, call.req.param("bucket"), after, max)?;
            Ok(Reply::xml(
                200,
                access_point::render_list(&aps, next.as_deref()),
            ))
        }
        Op::CreateAccessPoint => {
            let request = access_point::parse_create(&call.body)?;
            let ap = engine.create_access_point(ctx, account, region, name, request)?;
            Ok(Reply::xml(200, access_point::render_create(&ap)))
        }
        Op::GetAccessPoint => {
            let ap = engine.get_access_point(ctx, account, region, name)?;
            Ok(Reply::xml(200, access_point::render_get(&ap, account)))
        }
        Op::DeleteAccessPoint => {
            engine.delete_access_point(ctx, account, region, name)?;
            Ok(Reply::empty(204, Vec::new()))
        }
        Op::PutAccessPointPolicy => {
            let policy = access_point::parse_put_policy(&call.body)?;
            engine.put_access_point_policy(ctx, account, region, name, Some(&policy))?;
            Ok(Reply::empty(200, Vec::new()))
        }
        Op::DeleteAccessPointPolicy => {
            engine.put_access_point_policy(ctx, account, region, name, None)?;
            Ok(Reply::empty(204, Vec::new()))
        }
        Op::GetAccessPointPolicy => {
            let policy = engine.get_access_point_policy(ctx, account, region, name)?;
            Ok(Reply::xml(200, access_point::render_policy(&policy)))
        }
        Op::GetAccessPointPolicyStatus => {
            let public = engine.access_point_policy_status(ctx, account, region, name)?;
            Ok(Reply::xml(200, access_point::render_policy_status(public)))
        }
        Op::ListAccessPointsForObjectLambda => {
            let max = max_results()?;
            let after = call.req.param("nextToken").filter(|t| !t.is_empty());
            let (olaps, next) =
                engine.list_object_lambda_access_points(ctx, account, after, max)?;
            Ok(Reply::xml(
                200,
                object_lambda::render_list(&olaps, next.as_deref()),
            ))
        }
        Op::CreateAccessPointForObjectLambda => {
            let config = object_lambda::parse_configuration_request(
                &call.body,
                "CreateAccessPointForObjectLambdaRequest",
            )?;
            let olap =
                engine.create_object_lambda_access_point(ctx, account, region, name, config)?;
            Ok(Reply::xml(200, object_lambda::render_create(&olap)))
        }
        Op::GetAccessPointForObjectLambda => {
            let olap = engine.read_object_lambda_access_point(
                ctx,
                account,
                region,
                name,
                "s3:GetAccessPointForObjectLambda",
            )?;
            Ok(Reply::xml(200, object_lambda::render_get(&olap)))
        }
        Op::DeleteAccessPointForObjectLambda => {
            engine.delete_object_lambda_access_point(ctx, account, region, name)?;
            Ok(Reply::empty(204, Vec::new()))
        }
        Op::GetAccessPointConfigurationForObjectLambda => {
            let olap = engine.read_object_lambda_access_point(
                ctx,
                account,
                region,
                name,
                "s3:GetAccessPointConfigurationForObjectLambda",
            )?;
            Ok(Reply::xml(
                200,
                object_lambda::render_get_configuration(&olap.configuration),
            ))
        }
        Op::PutAccessPointConfigurationForObjectLambda => {
            let config = object_lambda::parse_configuration_request(
                &call.body,
                "PutAccessPointConfigurationForObjectLambdaRequest",
            )?;
            engine.put_object_lambda_configuration(ctx, account, region, name, config)?;
            Ok(Reply::empty(200, Vec::new()))
        }
        Op::PutAccessPointPolicyForObjectLambda => {
            let policy = object_lambda::parse_put_policy(&call.body)?;
            engine.put_object_lambda_policy(ctx, account, region, name, Some(&policy))?;
            Ok(Reply::empty(200, Vec::new()))
        }
        Op::DeleteAccessPointPolicyForObjectLambda => {
            engine.put_object_lambda_policy(ctx, account, region, name, None)?;
            Ok(Reply::empty(204, Vec::new()))
        }
        Op::GetAccessPointPolicyForObjectLambda => {
            let policy = engine.get_object_lambda_policy(ctx, account, region, name)?;
            Ok(Reply::xml(200, object_lambda::render_policy(&policy)))
        }
        Op::GetAccessPointPolicyStatusForObjectLambda => {
            let public = engine.object_lambda_policy_status(ctx, account, region, name)?;
            Ok(Reply::xml(200, object_lambda::render_policy_status(public)))
        }
        _ => Err(S3Error::internal("not an S3 Control operation")),
    }
}
