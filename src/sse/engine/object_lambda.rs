//! The engine's Object Lambda access points (OLAPs): their records, kept with the bucket of their
//! supporting access point (the bucket document [`OBJECT_LAMBDA_CONFIG`](crate::s3::object_lambda::OBJECT_LAMBDA_CONFIG), so whatever store holds the
//! bucket holds them), the S3 Control operations on them with their authorization, lookups by name,
//! alias and ARN for the data plane, and the data plane's OLAP decisions
//! ([`SseEngine::authorize_object_lambda`], [`SseEngine::authorize_lambda_invoke`]).
//!
//! Facts: `../shared/reference/S3-FEATURES.md` §3.1 and §3.5. A request through an OLAP needs the
//! caller's identity and the OLAP policy to allow the `s3-object-lambda:*` action on the OLAP ARN
//! (same account: either; cross-account: both), `lambda:InvokeFunction` on the function for a
//! transformed request, and then the supporting access point and its bucket as any access point
//! request (with `aws:CalledVia` = `s3-object-lambda.amazonaws.com`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use super::SseEngine;

use crate::iam::policy::{ParseOptions, Policy};
use crate::iam::{Authorization, ConditionKeys, RequestContext, ResourceModel, Verdict, authorize};
use crate::s3::access_point::{self, AccessPoint};
use crate::s3::object_lambda::{self, Configuration, ObjectLambdaAccessPoint, Transformation};
use crate::s3::{S3Error, S3ErrorCode};

/// Object Lambda access points per account (S3's quota per account and Region).
const MAX_PER_ACCOUNT: usize = 1000;

impl super::bucket_records::Record for ObjectLambdaAccessPoint {
    fn account_and_name(&self) -> (&str, &str) {
        (&self.account, &self.name)
    }
}

impl SseEngine {
    fn bucket_object_lambdas(
        &self,
        bucket: &str,
    ) -> Result<BTreeMap<String, ObjectLambdaAccessPoint>, S3Error> {
        self.object_lambda_access_points.load(&*self.store, bucket)
    }

    fn save_bucket_object_lambdas(
        &self,
        bucket: &str,
        olaps: &BTreeMap<String, ObjectLambdaAccessPoint>,
    ) -> Result<(), S3Error> {
        self.object_lambda_access_points
            .save(&*self.store, bucket, olaps)
    }

    /// Every Object Lambda access point, by account and name (cached).
    fn all_object_lambdas(&self) -> Result<Arc<Vec<ObjectLambdaAccessPoint>>, S3Error> {
        self.object_lambda_access_points.all(&*self.store)
    }

    /// The Object Lambda access point `name` of `account`.
    ///
    /// # Errors
    /// 404 `NoSuchAccessPoint`.
    pub fn object_lambda_access_point(
        &self,
        account: &str,
        name: &str,
    ) -> Result<ObjectLambdaAccessPoint, S3Error> {
        self.all_object_lambdas()?
            .iter()
            .find(|o| o.account == account && o.name == name)
            .cloned()
            .ok_or_else(object_lambda::no_such_access_point)
    }

    /// The Object Lambda access point whose alias is `alias`, if any.
    ///
    /// # Errors
    /// 500 on a store failure.
    pub fn object_lambda_access_point_by_alias(
        &self,
        alias: &str,
    ) -> Result<Option<ObjectLambdaAccessPoint>, S3Error> {
        Ok(self
            .all_object_lambdas()?
            .iter()
            .find(|o| o.alias == alias)
            .cloned())
    }

    /// The Object Lambda access point an ARN names (`arn:aws:s3-object-lambda:REGION:ACCOUNT:
    /// accesspoint/NAME`), if any (the region must be this one's record's).
    ///
    /// # Errors
    /// 500 on a store failure.
    pub fn object_lambda_access_point_by_arn(
        &self,
        arn: &str,
    ) -> Result<Option<ObjectLambdaAccessPoint>, S3Error> {
        let Some((region, account, name)) = object_lambda::parse_arn(arn) else {
            return Ok(None);
        };
        Ok(self
            .object_lambda_access_point(account, name)
            .ok()
            .filter(|o| o.region == region))
    }

    /// The supporting access point of `olap`.
    ///
    /// # Errors
    /// 404 `NoSuchAccessPoint` when it has been deleted since (S3 then fails the request).
    pub fn supporting_access_point(
        &self,
        olap: &ObjectLambdaAccessPoint,
    ) -> Result<AccessPoint, S3Error> {
        let (region, account, name) = olap.configuration.supporting()?;
        let ap = self.access_point(account, name)?;
        if ap.region == region {
            Ok(ap)
        } else {
            Err(access_point::no_such_access_point())
        }
    }

    /// The policy of `olap`, parsed.
    ///
    /// # Errors
    /// 500 for a stored policy that no longer parses.
    pub fn object_lambda_policy(
        &self,
        olap: &ObjectLambdaAccessPoint,
    ) -> Result<Option<Policy>, S3Error> {
        olap.policy
            .as_deref()
            .map(|p| Policy::parse(p, &ParseOptions::ACCESS_POINT))
            .transpose()
            .map_err(|e| S3Error::internal_because("stored Object Lambda access point policy", e))
    }

    /// Whether `ctx` may make `action` (`s3-object-lambda:GetObject`, …) through `olap`: the caller's
    /// identity policies and the OLAP policy on the OLAP ARN, as a resource policy of the OLAP's
    /// account (same account: either allows; another account: both must).
    ///
    /// # Errors
    /// 403 `AccessDenied` "Access Denied".
    pub fn authorize_object_lambda(
        &self,
        ctx: &RequestContext,
        olap: &ObjectLambdaAccessPoint,
        action: &str,
    ) -> Result<(), S3Error> {
        let policy = self.object_lambda_policy(olap)?;
        let arn = olap.arn();
        let keys = ConditionKeys::new();
        let a = Authorization::new(action, &arn, &olap.account, ctx, &keys, ResourceModel::S3)
            .with_identity_policies(&ctx.identity_policies)
            .with_resource_policy(policy.as_ref());
        if authorize(&a) == Verdict::Allow {
            Ok(())
        } else {
            Err(S3Error::access_denied("Access Denied"))
        }
    }

    /// Whether `ctx` may invoke the function of `transformation` (`lambda:InvokeFunction` on its
    /// ARN, completed with the OLAP's region and account; an unqualified function also matches a
    /// grant on `…:$LATEST`). Lambda's own resource policies are not modelled: the caller's identity
    /// policies decide (the function's account root always may), so a caller of another account is
    /// refused.
    ///
    /// # Errors
    /// 403 `AccessDenied` "Access Denied".
    pub fn authorize_lambda_invoke(
        &self,
        ctx: &RequestContext,
        olap: &ObjectLambdaAccessPoint,
        transformation: &Transformation,
    ) -> Result<(), S3Error> {
        let denied = || S3Error::access_denied("Access Denied");
        let function =
            object_lambda::function_arn(&transformation.function, &olap.region, &olap.account)
                .ok_or_else(denied)?;
        let owner = function.split(':').nth(4).unwrap_or_default().to_owned();
        let mut candidates = vec![function.clone()];
        if function.matches(':').count() == 6 {
            candidates.push(format!("{function}:$LATEST"));
        }
        let keys = ConditionKeys::new();
        for arn in &candidates {
            let a = Authorization::new(
                "lambda:InvokeFunction",
                arn,
                &owner,
                ctx,
                &keys,
                ResourceModel::S3,
            )
            .with_identity_policies(&ctx.identity_policies);
            if authorize(&a) == Verdict::Allow {
                return Ok(());
            }
        }
        Err(denied())
    }

    /// The supporting access point a configuration names, which must exist in `account` and
    /// `region`; and a function in the same account and region.
    fn check_configuration(
        &self,
        account: &str,
        region: &str,
        configuration: &Configuration,
    ) -> Result<AccessPoint, S3Error> {
        let (ap_region, ap_account, ap_name) = configuration.supporting()?;
        if ap_account != account || ap_region != region {
            return Err(access_point::no_such_access_point());
        }
        for t in &configuration.transformations {
            let arn = object_lambda::function_arn(&t.function, region, account).unwrap_or_default();
            let mut parts = arn.split(':');
            if parts.nth(3) != Some(region) || parts.next() != Some(account) {
                return Err(S3Error::invalid_argument(
                    "The Lambda function must be in the same account and Region as the Object Lambda access point.",
                )
                .with_extra("ArgumentName", "FunctionArn"));
            }
        }
        self.access_point(account, ap_name)
    }

    /// CreateAccessPointForObjectLambda `name` in `account` (and `region`).
    ///
    /// # Errors
    /// 400 `InvalidRequest` for a bad name; 400 `InvalidArgument` for a function of another account
    /// or region; 400 `TooManyAccessPoints`-like `InvalidRequest` past 1,000; 403 for a caller of
    /// another account or without `s3:CreateAccessPointForObjectLambda`; 404 `NoSuchAccessPoint`
    /// for a supporting access point that does not exist in the account; 409
    /// `AccessPointAlreadyOwnedByYou`.
    pub fn create_object_lambda_access_point(
        &self,
        ctx: &RequestContext,
        account: &str,
        region: &str,
        name: &str,
        configuration: Configuration,
    ) -> Result<ObjectLambdaAccessPoint, S3Error> {
        object_lambda::check_name(name)?;
        let arn = object_lambda::arn(region, account, name);
        self.authorize_control(ctx, account, "s3:CreateAccessPointForObjectLambda", &arn)?;
        let ap = self.check_configuration(account, region, &configuration)?;
        let all = self.all_object_lambdas()?;
        if all.iter().any(|o| o.account == account && o.name == name) {
            return Err(S3Error::from_code(
                S3ErrorCode::AccessPointAlreadyOwnedByYou,
            ));
        }
        if all.iter().filter(|o| o.account == account).count() >= MAX_PER_ACCOUNT {
            return Err(S3Error::invalid_request(
                "You have reached the limit of 1,000 Object Lambda access points for this account and Region.",
            ));
        }
        let olap = ObjectLambdaAccessPoint {
            name: name.to_owned(),
            account: account.to_owned(),
            region: region.to_owned(),
            created: access_point::creation_time(SystemTime::UNIX_EPOCH + self.clock.now()),
            alias: object_lambda::new_alias(name)?,
            configuration,
            policy: None,
        };
        let mut olaps = self.bucket_object_lambdas(&ap.bucket)?;
        olaps.insert(name.to_owned(), olap.clone());
        self.save_bucket_object_lambdas(&ap.bucket, &olaps)?;
        Ok(olap)
    }

    /// An S3 Control read of OLAP `name`, after `action` is authorized.
    ///
    /// # Errors
    /// 403; 404 `NoSuchAccessPoint`.
    pub fn read_object_lambda_access_point(
        &self,
        ctx: &RequestContext,
        account: &str,
        region: &str,
        name: &str,
        action: &str,
    ) -> Result<ObjectLambdaAccessPoint, S3Error> {
        self.authorize_control(
            ctx,
            account,
            action,
            &object_lambda::arn(region, account, name),
        )?;
        self.object_lambda_access_point(account, name)
    }

    /// ListAccessPointsForObjectLambda of `account`: a page of at most `max` after the token (the
    /// last name of the previous page).
    ///
    /// # Errors
    /// 403 without `s3:ListAccessPointsForObjectLambda`.
    pub fn list_object_lambda_access_points(
        &self,
        ctx: &RequestContext,
        account: &str,
        after: Option<&str>,
        max: usize,
    ) -> Result<(Vec<ObjectLambdaAccessPoint>, Option<String>), S3Error> {
        self.authorize_control(ctx, account, "s3:ListAccessPointsForObjectLambda", "*")?;
        let mut page: Vec<ObjectLambdaAccessPoint> = self
            .all_object_lambdas()?
            .iter()
            .filter(|o| o.account == account)
            .filter(|o| after.is_none_or(|t| o.name.as_str() > t))
            .cloned()
            .collect();
        let max = max.max(1);
        let next = (page.len() > max).then(|| page[max - 1].name.clone());
        page.truncate(max);
        Ok((page, next))
    }

    /// The bucket an OLAP's record is kept with (its supporting access point's), found from the
    /// stored records (the supporting access point may have been deleted since).
    fn bucket_of(&self, olap: &ObjectLambdaAccessPoint) -> Result<String, S3Error> {
        for b in self.store.list_buckets()? {
            if self
                .bucket_object_lambdas(&b.name)
                .is_ok_and(|m| m.get(&olap.name).is_some_and(|o| o.account == olap.account))
            {
                return Ok(b.name);
            }
        }
        Err(object_lambda::no_such_access_point())
    }

    /// Changes OLAP `name` of `account` through `change` (which returns the new record, or `None` to
    /// delete it), after `action` is authorized. A new supporting access point moves the record to
    /// its bucket.
    fn change_object_lambda_access_point(
        &self,
        ctx: &RequestContext,
        account: &str,
        region: &str,
        name: &str,
        action: &str,
        change: impl FnOnce(ObjectLambdaAccessPoint) -> Result<Option<ObjectLambdaAccessPoint>, S3Error>,
    ) -> Result<(), S3Error> {
        let olap = self.read_object_lambda_access_point(ctx, account, region, name, action)?;
        let old_bucket = self.bucket_of(&olap)?;
        let changed = change(olap)?;
        let mut olaps = self.bucket_object_lambdas(&old_bucket)?;
        olaps.remove(name);
        match changed {
            None => self.save_bucket_object_lambdas(&old_bucket, &olaps),
            Some(new) => {
                let bucket = self.supporting_access_point(&new)?.bucket;
                if bucket == old_bucket {
                    olaps.insert(name.to_owned(), new);
                    self.save_bucket_object_lambdas(&old_bucket, &olaps)
                } else {
                    let mut moved = self.bucket_object_lambdas(&bucket)?;
                    moved.insert(name.to_owned(), new);
                    self.save_bucket_object_lambdas(&bucket, &moved)?;
                    self.save_bucket_object_lambdas(&old_bucket, &olaps)
                }
            }
        }
    }

    /// DeleteAccessPointForObjectLambda.
    ///
    /// # Errors
    /// 403; 404 `NoSuchAccessPoint`.
    pub fn delete_object_lambda_access_point(
        &self,
        ctx: &RequestContext,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<(), S3Error> {
        self.change_object_lambda_access_point(
            ctx,
            account,
            region,
            name,
            "s3:DeleteAccessPointForObjectLambda",
            |_| Ok(None),
        )
    }

    /// PutAccessPointConfigurationForObjectLambda: replaces the configuration.
    ///
    /// # Errors
    /// As [`SseEngine::create_object_lambda_access_point`] for the configuration; 404
    /// `NoSuchAccessPoint` for an unknown OLAP.
    pub fn put_object_lambda_configuration(
        &self,
        ctx: &RequestContext,
        account: &str,
        region: &str,
        name: &str,
        configuration: Configuration,
    ) -> Result<(), S3Error> {
        self.change_object_lambda_access_point(
            ctx,
            account,
            region,
            name,
            "s3:PutAccessPointConfigurationForObjectLambda",
            |mut olap| {
                self.check_configuration(account, region, &configuration)?;
                olap.configuration = configuration;
                Ok(Some(olap))
            },
        )
    }

    /// PutAccessPointPolicyForObjectLambda (`None`: DeleteAccessPointPolicyForObjectLambda). A public
    /// policy is refused (an OLAP's Block Public Access settings are always all on).
    ///
    /// # Errors
    /// 403 (also for a public policy, as S3 answers a blocked one); 400 `MalformedPolicy` (also for a
    /// document over 20 KB); 404 `NoSuchAccessPoint`.
    pub fn put_object_lambda_policy(
        &self,
        ctx: &RequestContext,
        account: &str,
        region: &str,
        name: &str,
        policy: Option<&str>,
    ) -> Result<(), S3Error> {
        let action = if policy.is_some() {
            "s3:PutAccessPointPolicyForObjectLambda"
        } else {
            "s3:DeleteAccessPointPolicyForObjectLambda"
        };
        let parsed = policy
            .map(|p| Policy::parse(p, &ParseOptions::ACCESS_POINT))
            .transpose()
            .map_err(|e| {
                S3Error::from_code(S3ErrorCode::MalformedPolicy).with_message(e.to_string())
            })?;
        self.change_object_lambda_access_point(ctx, account, region, name, action, |mut olap| {
            if parsed
                .as_ref()
                .is_some_and(crate::s3::public_access::is_public)
            {
                return Err(S3Error::access_denied("Access Denied"));
            }
            olap.policy = policy.map(str::to_owned);
            Ok(Some(olap))
        })
    }

    /// GetAccessPointPolicyForObjectLambda: the document as put.
    ///
    /// # Errors
    /// 403; 404 `NoSuchAccessPoint`, `NoSuchAccessPointPolicy`.
    pub fn get_object_lambda_policy(
        &self,
        ctx: &RequestContext,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<String, S3Error> {
        self.read_object_lambda_access_point(
            ctx,
            account,
            region,
            name,
            "s3:GetAccessPointPolicyForObjectLambda",
        )?
        .policy
        .ok_or_else(object_lambda::no_such_policy)
    }

    /// GetAccessPointPolicyStatusForObjectLambda: whether the policy is public (S3's rules).
    ///
    /// # Errors
    /// 403; 404 `NoSuchAccessPoint`.
    pub fn object_lambda_policy_status(
        &self,
        ctx: &RequestContext,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<bool, S3Error> {
        let olap = self.read_object_lambda_access_point(
            ctx,
            account,
            region,
            name,
            "s3:GetAccessPointPolicyStatusForObjectLambda",
        )?;
        Ok(self
            .object_lambda_policy(&olap)?
            .is_some_and(|p| crate::s3::public_access::is_public(&p)))
    }
}
