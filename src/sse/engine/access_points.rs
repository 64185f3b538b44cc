//! The engine's access points: the records of an account's access points, kept with their bucket (the
//! bucket document [`ACCESS_POINTS_CONFIG`](crate::s3::access_point::ACCESS_POINTS_CONFIG), so whatever store holds the bucket holds its access
//! points), the S3 Control operations on them with their authorization, lookups by name and by alias
//! for the data plane, and the [`AccessPointRef`] a request through an access point carries into every
//! authorization decision ([`SseEngine::check_policy_keys`] adds the access point's gate).
//!
//! Lookups scan the account's buckets; the list is cached for [`super::bucket_records::CACHE_TTL`] and dropped at once when
//! this process changes an access point (another process's change is seen within the TTL).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use super::SseEngine;
use crate::iam::policy::{ParseOptions, Policy};
use crate::iam::{
    AccessPointRef, Authorization, ConditionKeys, RequestContext, ResourceModel, Verdict, authorize,
};
use crate::s3::access_point::{self, AccessPoint, CreateRequest, NetworkOrigin};
use crate::s3::{S3Error, S3ErrorCode};

impl super::bucket_records::Record for AccessPoint {
    fn account_and_name(&self) -> (&str, &str) {
        (&self.account, &self.name)
    }
}

impl SseEngine {
    fn bucket_access_points(&self, bucket: &str) -> Result<BTreeMap<String, AccessPoint>, S3Error> {
        self.access_points.load(&*self.store, bucket)
    }

    fn save_bucket_access_points(
        &self,
        bucket: &str,
        aps: &BTreeMap<String, AccessPoint>,
    ) -> Result<(), S3Error> {
        self.access_points.save(&*self.store, bucket, aps)
    }

    /// Every access point of every bucket, by account and name (cached).
    fn all_access_points(&self) -> Result<Arc<Vec<AccessPoint>>, S3Error> {
        self.access_points.all(&*self.store)
    }

    /// The access point `name` of `account`.
    ///
    /// # Errors
    /// 404 `NoSuchAccessPoint`.
    pub fn access_point(&self, account: &str, name: &str) -> Result<AccessPoint, S3Error> {
        self.all_access_points()?
            .iter()
            .find(|a| a.account == account && a.name == name)
            .cloned()
            .ok_or_else(access_point::no_such_access_point)
    }

    /// The access point whose alias is `alias`, if any.
    ///
    /// # Errors
    /// 500 on a store failure.
    pub fn access_point_by_alias(&self, alias: &str) -> Result<Option<AccessPoint>, S3Error> {
        Ok(self
            .all_access_points()?
            .iter()
            .find(|a| a.alias == alias)
            .cloned())
    }

    /// What a request through `ap` carries into authorization.
    ///
    /// # Errors
    /// 500 for a stored policy that no longer parses.
    pub fn access_point_ref(&self, ap: &AccessPoint) -> Result<AccessPointRef, S3Error> {
        let policy = ap
            .policy
            .as_deref()
            .map(|p| Policy::parse(p, &ParseOptions::ACCESS_POINT))
            .transpose()
            .map_err(|e| S3Error::internal_because("stored access point policy", e))?;
        Ok(AccessPointRef {
            arn: ap.arn(),
            account: ap.account.clone(),
            network_origin: ap.network_origin.as_str().to_owned(),
            policy: policy.map(Arc::new),
        })
    }

    /// An S3 Control request by `ctx` for `action` on `resource` in `account`: the caller must belong to
    /// the account (S3 Control access point calls are never cross-account) and be allowed by its
    /// identity policies (an account root always is).
    pub(super) fn authorize_control(
        &self,
        ctx: &RequestContext,
        account: &str,
        action: &str,
        resource: &str,
    ) -> Result<(), S3Error> {
        let denied = || S3Error::access_denied("Access Denied");
        let p = ctx.caller.principal().ok_or_else(denied)?;
        if p.account != account {
            return Err(denied());
        }
        let keys = ConditionKeys::new();
        let a = Authorization::new(action, resource, account, ctx, &keys, ResourceModel::S3)
            .with_identity_policies(&ctx.identity_policies);
        if authorize(&a) == Verdict::Allow {
            Ok(())
        } else {
            Err(denied())
        }
    }

    /// CreateAccessPoint `name` in `account` (and `region`) for the bucket the request names.
    ///
    /// # Errors
    /// 400 `InvalidRequest` for a bad name; 403 for a caller of another account or without
    /// `s3:CreateAccessPoint`; 404 `NoSuchBucket` (also for a bucket of another account, which this
    /// server does not let an access point reach); 409 `AccessPointAlreadyOwnedByYou`.
    pub fn create_access_point(
        &self,
        ctx: &RequestContext,
        account: &str,
        region: &str,
        name: &str,
        request: CreateRequest,
    ) -> Result<AccessPoint, S3Error> {
        access_point::check_name(name)?;
        let arn = access_point::arn(region, account, name);
        self.authorize_control(ctx, account, "s3:CreateAccessPoint", &arn)?;
        if request
            .bucket_account_id
            .as_deref()
            .is_some_and(|b| b != account)
        {
            return Err(S3Error::not_implemented(
                "Access points for buckets of other accounts are not implemented by this server.",
            ));
        }
        if self.owner_of(&request.bucket)? != account {
            return Err(S3Error::from_code(S3ErrorCode::NoSuchBucket));
        }
        if self.access_point(account, name).is_ok() {
            return Err(S3Error::from_code(
                S3ErrorCode::AccessPointAlreadyOwnedByYou,
            ));
        }
        let pab = request.public_access_block;
        let ap = AccessPoint {
            name: name.to_owned(),
            bucket: request.bucket.clone(),
            account: account.to_owned(),
            region: region.to_owned(),
            network_origin: request
                .vpc_id
                .map_or(NetworkOrigin::Internet, NetworkOrigin::Vpc),
            block_public_acls: pab.block_public_acls,
            ignore_public_acls: pab.ignore_public_acls,
            block_public_policy: pab.block_public_policy,
            restrict_public_buckets: pab.restrict_public_buckets,
            created: access_point::creation_time(SystemTime::UNIX_EPOCH + self.clock.now()),
            alias: access_point::new_alias(name)?,
            policy: None,
        };
        let mut aps = self.bucket_access_points(&request.bucket)?;
        aps.insert(name.to_owned(), ap.clone());
        self.save_bucket_access_points(&request.bucket, &aps)?;
        Ok(ap)
    }

    /// GetAccessPoint.
    ///
    /// # Errors
    /// 403; 404 `NoSuchAccessPoint`.
    pub fn get_access_point(
        &self,
        ctx: &RequestContext,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<AccessPoint, S3Error> {
        self.authorize_control(
            ctx,
            account,
            "s3:GetAccessPoint",
            &access_point::arn(region, account, name),
        )?;
        self.access_point(account, name)
    }

    /// ListAccessPoints of `account`, optionally of one bucket, a page of at most `max` after the
    /// token (the last name of the previous page).
    ///
    /// # Errors
    /// 403 without `s3:ListAccessPoints`.
    pub fn list_access_points(
        &self,
        ctx: &RequestContext,
        account: &str,
        bucket: Option<&str>,
        after: Option<&str>,
        max: usize,
    ) -> Result<(Vec<AccessPoint>, Option<String>), S3Error> {
        self.authorize_control(ctx, account, "s3:ListAccessPoints", "*")?;
        let mut page: Vec<AccessPoint> = self
            .all_access_points()?
            .iter()
            .filter(|a| a.account == account)
            .filter(|a| bucket.is_none_or(|b| a.bucket == b))
            .filter(|a| after.is_none_or(|t| a.name.as_str() > t))
            .cloned()
            .collect();
        let next = (page.len() > max).then(|| page[max - 1].name.clone());
        page.truncate(max);
        Ok((page, next))
    }

    /// Changes access point `name` of `account` through `change`, after `action` is authorized.
    fn change_access_point<T>(
        &self,
        ctx: &RequestContext,
        account: &str,
        region: &str,
        name: &str,
        action: &str,
        change: impl FnOnce(&mut BTreeMap<String, AccessPoint>) -> Result<T, S3Error>,
    ) -> Result<T, S3Error> {
        self.authorize_control(
            ctx,
            account,
            action,
            &access_point::arn(region, account, name),
        )?;
        let ap = self.access_point(account, name)?;
        let mut aps = self.bucket_access_points(&ap.bucket)?;
        let out = change(&mut aps)?;
        self.save_bucket_access_points(&ap.bucket, &aps)?;
        Ok(out)
    }

    /// DeleteAccessPoint.
    ///
    /// # Errors
    /// 403; 404 `NoSuchAccessPoint`.
    pub fn delete_access_point(
        &self,
        ctx: &RequestContext,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<(), S3Error> {
        self.change_access_point(ctx, account, region, name, "s3:DeleteAccessPoint", |aps| {
            aps.remove(name)
                .map(drop)
                .ok_or_else(access_point::no_such_access_point)
        })
    }

    /// PutAccessPointPolicy (`None`: DeleteAccessPointPolicy). A public policy is refused while the
    /// access point's or the bucket's Block Public Access has `BlockPublicPolicy`.
    ///
    /// # Errors
    /// 403 (also "Access Denied" for a public policy that is blocked, as S3); 400
    /// `MalformedPolicy`; 404 `NoSuchAccessPoint`.
    pub fn put_access_point_policy(
        &self,
        ctx: &RequestContext,
        account: &str,
        region: &str,
        name: &str,
        policy: Option<&str>,
    ) -> Result<(), S3Error> {
        let action = if policy.is_some() {
            "s3:PutAccessPointPolicy"
        } else {
            "s3:DeleteAccessPointPolicy"
        };
        let parsed = policy
            .map(|p| Policy::parse(p, &ParseOptions::ACCESS_POINT))
            .transpose()
            .map_err(|e| {
                S3Error::from_code(S3ErrorCode::MalformedPolicy).with_message(e.to_string())
            })?;
        self.change_access_point(ctx, account, region, name, action, |aps| {
            let ap = aps
                .get_mut(name)
                .ok_or_else(access_point::no_such_access_point)?;
            if let Some(p) = &parsed
                && crate::s3::public_access::is_public(p)
                && (ap.block_public_policy || self.bucket_blocks_public_policy(&ap.bucket)?)
            {
                return Err(S3Error::access_denied("Access Denied"));
            }
            ap.policy = policy.map(str::to_owned);
            Ok(())
        })
    }

    /// GetAccessPointPolicy: the document as put.
    ///
    /// # Errors
    /// 403; 404 `NoSuchAccessPoint`, `NoSuchAccessPointPolicy`.
    pub fn get_access_point_policy(
        &self,
        ctx: &RequestContext,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<String, S3Error> {
        self.authorize_control(
            ctx,
            account,
            "s3:GetAccessPointPolicy",
            &access_point::arn(region, account, name),
        )?;
        self.access_point(account, name)?
            .policy
            .ok_or_else(access_point::no_such_policy)
    }

    /// GetAccessPointPolicyStatus: whether the policy is public (S3's rules).
    ///
    /// # Errors
    /// 403; 404 `NoSuchAccessPoint`.
    pub fn access_point_policy_status(
        &self,
        ctx: &RequestContext,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<bool, S3Error> {
        self.authorize_control(
            ctx,
            account,
            "s3:GetAccessPointPolicyStatus",
            &access_point::arn(region, account, name),
        )?;
        let ap = self.access_point(account, name)?;
        Ok(self
            .access_point_ref(&ap)?
            .policy
            .is_some_and(|p| crate::s3::public_access::is_public(&p)))
    }
}
