//! S3 Block Public Access: the four settings ([`PublicAccessBlock`]) and S3's definition of a public
//! bucket policy ([`is_public`]).
//!
//! # When is a bucket policy public
//! S3 user guide, "Blocking public access to your Amazon S3 storage", section "The meaning of public",
//! "Bucket policies": S3 assumes a policy is public and then checks whether it qualifies as non-public.
//! Here a policy is public when at least one `Allow` statement both
//! - grants to an open principal: `"*"` / `{"AWS": "*"}`, any principal value containing a wildcard, any
//!   `Federated` principal (the guide's first public example), or `NotPrincipal` (everyone but a few); and
//! - has no condition restricting it to fixed values of one of the keys the guide lists:
//!   `aws:SourceIp` (CIDRs no broader than /8 for IPv4 and /32 for IPv6), `aws:SourceArn`,
//!   `aws:SourceVpc`, `aws:SourceVpce`, `aws:SourceOwner`, `aws:SourceAccount`,
//!   `s3:x-amz-server-side-encryption-aws-kms-key-id`, `aws:userid` (fixed, or the `ROLEID:*` pattern
//!   of one role's sessions), `s3:DataAccessPointArn` (the access point *name* may be a wildcard when
//!   partition, region and account are fixed), `s3:DataAccessPointAccount`, and the principal keys the
//!   guide means by "an AWS principal … (e.g. `aws:PrincipalOrgID`)": `aws:PrincipalOrgID`,
//!   `aws:PrincipalAccount`, `aws:PrincipalArn`.
//!
//! A restricting condition uses a positive matching operator (`StringEquals`, `StringEqualsIgnoreCase`,
//! `StringLike`, `ArnEquals`, `ArnLike`; `IpAddress` for `aws:SourceIp`), without `IfExists` (a missing key
//! would pass) and without `ForAllValues:` (an empty or missing key set would pass), and every value is
//! fixed: no `*`, no `?`, no policy variable `${…}`. A `*` counts as a wildcard even under `StringEquals`
//! (where IAM compares it literally): the check errs towards "public", which is the safe direction for
//! `BlockPublicPolicy`. `Deny` statements never make a policy public.

use std::net::IpAddr;

use crate::iam::policy::{Condition, Statement};
use crate::iam::policy::{Effect, Operator, Policy, PrincipalElement, Principals, SetOperator};
use crate::s3::S3Error;
use crate::s3::xml;

/// A bucket's (or account's) Block Public Access settings
/// (`PublicAccessBlockConfiguration`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PublicAccessBlock {
    /// `BlockPublicAcls`: refuse requests that set a public ACL.
    pub block_public_acls: bool,
    /// `IgnorePublicAcls`: ignore public ACLs already set.
    pub ignore_public_acls: bool,
    /// `BlockPublicPolicy`: refuse PutBucketPolicy with a public policy ([`is_public`]).
    pub block_public_policy: bool,
    /// `RestrictPublicBuckets`: with a public policy, only service principals and the owner's account get
    /// access.
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    /// All four settings on: what new buckets get since April 2023.
    #[must_use]
    pub const fn all_on() -> Self {
        Self {
            block_public_acls: true,
            ignore_public_acls: true,
            block_public_policy: true,
            restrict_public_buckets: true,
        }
    }

    /// The effective settings of two levels (bucket and account): each setting on if either has it on,
    /// as S3 applies "the most restrictive combination".
    #[must_use]
    pub const fn stricter(self, other: Self) -> Self {
        Self {
            block_public_acls: self.block_public_acls || other.block_public_acls,
            ignore_public_acls: self.ignore_public_acls || other.ignore_public_acls,
            block_public_policy: self.block_public_policy || other.block_public_policy,
            restrict_public_buckets: self.restrict_public_buckets || other.restrict_public_buckets,
        }
    }

    /// Whether these settings refuse PutBucketPolicy with `policy` (`BlockPublicPolicy` and a public
    /// policy).
    #[must_use]
    pub fn blocks_policy(&self, policy: &Policy) -> bool {
        self.block_public_policy && is_public(policy)
    }

    /// Parses a `PublicAccessBlockConfiguration` body (missing settings are off, as S3).
    ///
    /// # Errors
    /// 400 `MalformedXML`, as [`xml::parse_public_access_block`].
    pub fn from_xml(body: &[u8]) -> Result<Self, S3Error> {
        xml::parse_public_access_block(body)
    }

    /// The `PublicAccessBlockConfiguration` document (GetPublicAccessBlock).
    #[must_use]
    pub fn to_xml(&self) -> String {
        xml::render_public_access_block(self)
    }
}

/// Whether `policy` is public in S3's sense (see the module documentation).
#[must_use]
pub fn is_public(policy: &Policy) -> bool {
    policy.statements().iter().any(statement_is_public)
}

fn statement_is_public(s: &Statement) -> bool {
    if s.effect() != Effect::Allow {
        return false;
    }
    let open = match s.principal() {
        None => false,
        Some(PrincipalElement::NotPrincipal(_)) => true,
        Some(PrincipalElement::Principal(p)) => principals_open(p),
    };
    open && !s.conditions().iter().any(restricts)
}

fn principals_open(p: &Principals) -> bool {
    match p {
        Principals::Anyone => true,
        Principals::Listed {
            aws,
            service,
            federated,
            canonical_user,
        } => {
            !federated.is_empty()
                || aws
                    .iter()
                    .chain(service)
                    .chain(canonical_user)
                    .any(|v| !is_fixed(v))
        }
    }
}

/// No wildcard and no policy variable.
fn is_fixed(v: &str) -> bool {
    !v.is_empty() && !v.contains(['*', '?']) && !v.contains("${")
}

/// The keys whose fixed values make a statement non-public (lower case; names match case-insensitively).
const RESTRICTING_KEYS: &[&str] = &[
    "aws:sourcearn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceowner",
    "aws:sourceaccount",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:dataaccesspointaccount",
    "aws:principalorgid",
    "aws:principalaccount",
    "aws:principalarn",
];

fn restricts(c: &Condition) -> bool {
    if c.if_exists() || c.set_operator() == Some(SetOperator::ForAllValues) || c.values().is_empty()
    {
        return false;
    }
    let key = c.key().to_ascii_lowercase();
    let matching = matches!(
        c.operator(),
        Operator::StringEquals
            | Operator::StringEqualsIgnoreCase
            | Operator::StringLike
            | Operator::ArnEquals
            | Operator::ArnLike
    );
    match key.as_str() {
        "aws:sourceip" => {
            c.operator() == Operator::IpAddress && c.values().iter().all(|v| narrow_cidr(v))
        }
        "aws:userid" => matching && c.values().iter().all(|v| fixed_user_id(v)),
        "s3:dataaccesspointarn" => matching && c.values().iter().all(|v| fixed_access_point_arn(v)),
        k if RESTRICTING_KEYS.contains(&k) => matching && c.values().iter().all(|v| is_fixed(v)),
        _ => false,
    }
}

/// A fixed user id, or `ROLEID:*` (every session of one role).
fn fixed_user_id(v: &str) -> bool {
    is_fixed(v)
        || v.strip_suffix(":*")
            .is_some_and(|id| is_fixed(id) && !id.contains(':'))
}

/// `arn:PARTITION:s3:REGION:ACCOUNT:accesspoint/NAME` with everything but `NAME` fixed.
fn fixed_access_point_arn(v: &str) -> bool {
    let Some((head, name)) = v.split_once(":accesspoint/") else {
        return false;
    };
    let parts: Vec<&str> = head.split(':').collect();
    let [arn, partition, service, region, account] = parts.as_slice() else {
        return false;
    };
    !name.is_empty()
        && *arn == "arn"
        && *service == "s3"
        && [partition, region].iter().all(|p| is_fixed(p))
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
}

/// A CIDR (or address) no broader than /8 (IPv4) or /32 (IPv6). The guide exempts RFC 1918 ranges from
/// the breadth rule; they are all /8 or narrower, so the rule already accepts them.
fn narrow_cidr(v: &str) -> bool {
    let v = v.trim();
    let (addr, bits) = match v.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (v, None),
    };
    let Ok(ip) = addr.parse::<IpAddr>() else {
        return false;
    };
    let (max, min) = if ip.is_ipv4() { (32u8, 8u8) } else { (128, 32) };
    let bits = match bits {
        None => max,
        Some(b) if !b.is_empty() && b.len() <= 3 && b.bytes().all(|c| c.is_ascii_digit()) => {
            match b.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return false,
            }
        }
        Some(_) => return false,
    };
    bits >= min
}

#[cfg(test)]
mod tests;
