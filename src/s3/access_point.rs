//! S3 access points on the wire: names, ARNs and aliases as S3 forms them, the stored record of an
//! access point, and the S3 Control documents of CreateAccessPoint, GetAccessPoint, ListAccessPoints,
//! Put/GetAccessPointPolicy and GetAccessPointPolicyStatus. Pure: no I/O; the engine keeps the records
//! with their bucket ([`ACCESS_POINTS_CONFIG`]) and the server routes S3 Control requests.
//!
//! Facts (`../shared/reference/S3-FEATURES.md` §2): a name is 3–50 characters of lowercase letters,
//! digits and `-`, starting and ending with a letter or digit, not ending in `-s3alias`; the ARN is
//! `arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME` and an object through it
//! `…:accesspoint/NAME/object/KEY`; the alias is `<name prefix>-<generated>-s3alias` (at most 63
//! characters) and stands in for a bucket name on the data plane only; `NetworkOrigin` is `VPC` exactly
//! when a `VpcConfiguration` was given at creation. S3 Control documents are in the namespace
//! [`S3_CONTROL_XMLNS`] and their roots are named after the output shape.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::s3::public_access::PublicAccessBlock;
use crate::s3::xml::{self, Doc};
use crate::s3::{S3Error, S3ErrorCode};

/// The bucket configuration document holding a bucket's access points (JSON: name → record).
pub const ACCESS_POINTS_CONFIG: &str = "access-points";

/// The namespace of S3 Control documents.
pub const S3_CONTROL_XMLNS: &str = "http://awss3control.amazonaws.com/doc/2018-08-20/";

/// The suffix of every access point alias.
pub const ALIAS_SUFFIX: &str = "-s3alias";

/// Characters of generated text in an alias (S3's example has 34).
const ALIAS_RANDOM: usize = 34;
/// The longest alias (S3 Control's `Alias` shape).
const MAX_ALIAS: usize = 63;

/// Where requests to an access point may come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NetworkOrigin {
    /// Anywhere.
    Internet,
    /// Only through a VPC endpoint of this VPC.
    Vpc(String),
}

impl NetworkOrigin {
    /// `Internet` or `VPC` (`NetworkOrigin`, `s3:AccessPointNetworkOrigin`).
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Internet => "Internet",
            Self::Vpc(_) => "VPC",
        }
    }
}

/// An access point as stored with its bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessPoint {
    /// Its name, unique in the account.
    pub name: String,
    /// The bucket it serves (fixed at creation).
    pub bucket: String,
    /// The owning account.
    pub account: String,
    /// The region it lives in.
    pub region: String,
    /// Internet or a VPC (fixed at creation).
    pub network_origin: NetworkOrigin,
    /// Its own Block Public Access settings (all on unless the creation said otherwise).
    pub block_public_acls: bool,
    /// See [`PublicAccessBlock`].
    pub ignore_public_acls: bool,
    /// See [`PublicAccessBlock`].
    pub block_public_policy: bool,
    /// See [`PublicAccessBlock`].
    pub restrict_public_buckets: bool,
    /// When it was created (RFC 3339).
    pub created: String,
    /// Its alias (generated at creation, never changed).
    pub alias: String,
    /// Its policy document, if one was put.
    #[serde(default)]
    pub policy: Option<String>,
}

impl AccessPoint {
    /// `arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME`.
    #[must_use]
    pub fn arn(&self) -> String {
        arn(&self.region, &self.account, &self.name)
    }

    /// The resource ARN of `key` through this access point (`…/object/KEY`), or the access point's
    /// own ARN for a bucket-level request (empty `key`).
    #[must_use]
    pub fn resource(&self, key: &str) -> String {
        if key.is_empty() {
            self.arn()
        } else {
            format!("{}/object/{key}", self.arn())
        }
    }

    /// Its Block Public Access settings.
    #[must_use]
    pub fn public_access_block(&self) -> PublicAccessBlock {
        PublicAccessBlock {
            block_public_acls: self.block_public_acls,
            ignore_public_acls: self.ignore_public_acls,
            block_public_policy: self.block_public_policy,
            restrict_public_buckets: self.restrict_public_buckets,
        }
    }
}

/// `arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME`.
#[must_use]
pub fn arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:s3:{region}:{account}:accesspoint/{name}")
}

/// The name in an access point ARN (`arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME`) with its region and
/// account, if `s` is one.
#[must_use]
pub fn parse_arn(s: &str) -> Option<(&str, &str, &str)> {
    let rest = s.strip_prefix("arn:aws:s3:")?;
    let (region, rest) = rest.split_once(':')?;
    let (account, rest) = rest.split_once(':')?;
    let name = rest.strip_prefix("accesspoint/")?;
    (!name.contains('/') && is_valid_name(name) && is_account_id(account))
        .then_some((region, account, name))
}

/// Whether `s` is a 12-digit account id.
#[must_use]
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `name` is a valid access point name (see the module documentation).
#[must_use]
pub fn is_valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=50).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
        && !name.ends_with(ALIAS_SUFFIX)
}

/// Checks an access point name.
///
/// # Errors
/// S3 Control documents no error for a bad name; this server answers 400 `InvalidRequest` "Your access
/// point name is invalid: …".
pub fn check_name(name: &str) -> Result<(), S3Error> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(S3Error::invalid_request(
            "Your access point name is invalid: 3 to 50 lowercase letters, digits and hyphens, starting and ending with a letter or digit.",
        ))
    }
}

/// Whether `s` has the shape of an access point alias.
#[must_use]
pub fn is_alias(s: &str) -> bool {
    s.len() <= MAX_ALIAS
        && s.ends_with(ALIAS_SUFFIX)
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

/// A new alias for `name`: as much of the name as fits, `-`, 34 random lowercase letters and digits,
/// `-s3alias`.
///
/// # Errors
/// 500 if the random number generator fails.
pub fn new_alias(name: &str) -> Result<String, S3Error> {
    generated_alias(name, ALIAS_SUFFIX, MAX_ALIAS)
}

/// `PREFIX-RANDOM SUFFIX` of at most `max` characters: as much of `name` as fits, `-`, 34 random
/// lowercase letters and digits, `suffix` (access point and Object Lambda access point aliases).
///
/// # Errors
/// 500 if the random number generator fails.
pub(crate) fn generated_alias(name: &str, suffix: &str, max: usize) -> Result<String, S3Error> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let raw = crate::primitives::random_array::<ALIAS_RANDOM>()
        .map_err(|e| S3Error::internal_because("random number generator failed", e))?;
    // 256 is a multiple of neither 36 nor a power of two below it; the bias (256 mod 36 = 4) is
    // irrelevant for a name that only has to be unique.
    let random: String = raw
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    let room = max.saturating_sub(ALIAS_RANDOM + suffix.len() + 1);
    let prefix = name.get(..room.min(name.len())).unwrap_or(name);
    let prefix = prefix.trim_end_matches('-');
    Ok(format!("{prefix}-{random}{suffix}"))
}

/// The body of CreateAccessPoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateRequest {
    /// `Bucket`.
    pub bucket: String,
    /// `VpcConfiguration/VpcId`.
    pub vpc_id: Option<String>,
    /// `PublicAccessBlockConfiguration` (all on when absent).
    pub public_access_block: PublicAccessBlock,
    /// `BucketAccountId`.
    pub bucket_account_id: Option<String>,
}

/// Parses a `CreateAccessPointRequest`.
///
/// # Errors
/// 400 `MalformedXML` for a document that is not one or has no `Bucket`.
pub fn parse_create(body: &[u8]) -> Result<CreateRequest, S3Error> {
    let root = xml::parse_tree(body, "CreateAccessPointRequest")?;
    let mut bucket = None;
    let mut vpc = None;
    let mut pab = None;
    let mut account = None;
    for c in root.children_only(&[
        "Bucket",
        "VpcConfiguration",
        "PublicAccessBlockConfiguration",
        "BucketAccountId",
        "Scope",
        "Tags",
    ])? {
        match c.name.as_str() {
            "Bucket" => {
                c.leaf()?;
                xml::set_once(&mut bucket, c.text.trim().to_owned())?;
            }
            "BucketAccountId" => {
                c.leaf()?;
                xml::set_once(&mut account, c.text.trim().to_owned())?;
            }
            "VpcConfiguration" => {
                let [id] = c.children_only(&["VpcId"])? else {
                    return Err(xml::malformed());
                };
                id.leaf()?;
                let id = id.text.trim();
                if id.is_empty() || id.len() > 1024 {
                    return Err(xml::malformed());
                }
                xml::set_once(&mut vpc, id.to_owned())?;
            }
            "PublicAccessBlockConfiguration" => {
                xml::set_once(&mut pab, xml::public_access_block_from(c)?)?;
            }
            // Directory-bucket scopes and tags are accepted and not kept.
            _ => {}
        }
    }
    Ok(CreateRequest {
        bucket: bucket
            .filter(|b| !b.is_empty())
            .ok_or_else(xml::malformed)?,
        vpc_id: vpc,
        public_access_block: pab.unwrap_or_else(PublicAccessBlock::all_on),
        bucket_account_id: account,
    })
}

/// CreateAccessPoint's `CreateAccessPointResult`.
#[must_use]
pub fn render_create(ap: &AccessPoint) -> String {
    let mut d = Doc::with_namespace("CreateAccessPointResult", S3_CONTROL_XMLNS);
    d.text("AccessPointArn", &ap.arn());
    d.text("Alias", &ap.alias);
    d.finish("CreateAccessPointResult")
}

fn vpc_and_block(d: &mut Doc, ap: &AccessPoint) {
    if let NetworkOrigin::Vpc(id) = &ap.network_origin {
        d.open("VpcConfiguration");
        d.text("VpcId", id);
        d.close("VpcConfiguration");
    }
}

/// GetAccessPoint's `GetAccessPointResult`.
#[must_use]
pub fn render_get(ap: &AccessPoint, bucket_owner: &str) -> String {
    let mut d = Doc::with_namespace("GetAccessPointResult", S3_CONTROL_XMLNS);
    d.text("Name", &ap.name);
    d.text("Bucket", &ap.bucket);
    d.text("NetworkOrigin", ap.network_origin.as_str());
    vpc_and_block(&mut d, ap);
    d.open("PublicAccessBlockConfiguration");
    d.num("BlockPublicAcls", ap.block_public_acls);
    d.num("IgnorePublicAcls", ap.ignore_public_acls);
    d.num("BlockPublicPolicy", ap.block_public_policy);
    d.num("RestrictPublicBuckets", ap.restrict_public_buckets);
    d.close("PublicAccessBlockConfiguration");
    d.text("CreationDate", &ap.created);
    d.text("Alias", &ap.alias);
    d.text("AccessPointArn", &ap.arn());
    d.text("BucketAccountId", bucket_owner);
    d.finish("GetAccessPointResult")
}

/// ListAccessPoints' `ListAccessPointsResult`.
#[must_use]
pub fn render_list(aps: &[AccessPoint], next_token: Option<&str>) -> String {
    let mut d = Doc::with_namespace("ListAccessPointsResult", S3_CONTROL_XMLNS);
    d.open("AccessPointList");
    for ap in aps {
        d.open("AccessPoint");
        d.text("Name", &ap.name);
        d.text("NetworkOrigin", ap.network_origin.as_str());
        vpc_and_block(&mut d, ap);
        d.text("Bucket", &ap.bucket);
        d.text("AccessPointArn", &ap.arn());
        d.text("Alias", &ap.alias);
        d.text("BucketAccountId", &ap.account);
        d.close("AccessPoint");
    }
    d.close("AccessPointList");
    d.opt("NextToken", next_token);
    d.finish("ListAccessPointsResult")
}

/// Parses a `PutAccessPointPolicyRequest`: the policy document's text.
///
/// # Errors
/// 400 `MalformedXML` for anything else.
pub fn parse_put_policy(body: &[u8]) -> Result<String, S3Error> {
    let root = xml::parse_tree(body, "PutAccessPointPolicyRequest")?;
    let [policy] = root.children_only(&["Policy"])? else {
        return Err(xml::malformed());
    };
    policy.leaf()?;
    Ok(policy.text.clone())
}

/// GetAccessPointPolicy's `GetAccessPointPolicyResult`.
#[must_use]
pub fn render_policy(policy: &str) -> String {
    let mut d = Doc::with_namespace("GetAccessPointPolicyResult", S3_CONTROL_XMLNS);
    d.text("Policy", policy);
    d.finish("GetAccessPointPolicyResult")
}

/// GetAccessPointPolicyStatus' `GetAccessPointPolicyStatusResult`.
#[must_use]
pub fn render_policy_status(is_public: bool) -> String {
    let mut d = Doc::with_namespace("GetAccessPointPolicyStatusResult", S3_CONTROL_XMLNS);
    d.open("PolicyStatus");
    d.num("IsPublic", is_public);
    d.close("PolicyStatus");
    d.finish("GetAccessPointPolicyStatusResult")
}

/// 404 `NoSuchAccessPoint`.
#[must_use]
pub fn no_such_access_point() -> S3Error {
    S3Error::from_code(S3ErrorCode::NoSuchAccessPoint)
}

/// 404 `NoSuchAccessPointPolicy` "The specified accesspoint policy does not exist" (moto's; S3
/// Control's model lists no errors).
#[must_use]
pub fn no_such_policy() -> S3Error {
    S3Error::from_code(S3ErrorCode::NoSuchAccessPointPolicy)
}

/// The creation time as S3 Control writes it.
#[must_use]
pub fn creation_time(t: SystemTime) -> String {
    xml::timestamp(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_arns_aliases() {
        for ok in ["finance", "abc", "a-1", &"a".repeat(50)] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in [
            "ab",
            "Finance",
            "fin_ance",
            "-fin",
            "fin-",
            "fin.ance",
            &"a".repeat(51),
            "x-s3alias",
        ] {
            assert!(!is_valid_name(bad), "{bad}");
        }
        assert_eq!(
            arn("us-east-1", "111122223333", "finance"),
            "arn:aws:s3:us-east-1:111122223333:accesspoint/finance"
        );
        assert_eq!(
            parse_arn("arn:aws:s3:us-east-1:111122223333:accesspoint/finance"),
            Some(("us-east-1", "111122223333", "finance"))
        );
        for bad in [
            "arn:aws:s3:::bucket",
            "arn:aws:s3:us-east-1:1111:accesspoint/finance",
            "arn:aws:s3:us-east-1:111122223333:accesspoint/finance/object/k",
        ] {
            assert_eq!(parse_arn(bad), None, "{bad}");
        }
        let long = "my-access-point-with-a-long-name";
        for name in ["my-access-point", long, "abc"] {
            let a = new_alias(name).expect("alias");
            assert!(is_alias(&a), "{a}");
            assert!(a.len() <= 63, "{a}");
            assert!(a.starts_with(&name[..name.len().min(20)].trim_end_matches('-').to_owned()));
            assert_ne!(a, new_alias(name).expect("again"), "random");
        }
        assert_eq!(
            new_alias("my-access-point").expect("a").len(),
            58,
            "S3's example length"
        );
        assert!(!is_alias("bucket"));
        assert!(!crate::sse::engine::valid_bucket_name(
            &new_alias("x-y").expect("a")
        ));
    }

    #[test]
    fn create_request_and_results() {
        let r = parse_create(
            br#"<CreateAccessPointRequest xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/"><Bucket>shared</Bucket><VpcConfiguration><VpcId>vpc-1a2b3c</VpcId></VpcConfiguration><PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>false</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy><RestrictPublicBuckets>false</RestrictPublicBuckets></PublicAccessBlockConfiguration></CreateAccessPointRequest>"#,
        )
        .expect("ok");
        assert_eq!(r.bucket, "shared");
        assert_eq!(r.vpc_id.as_deref(), Some("vpc-1a2b3c"));
        assert!(!r.public_access_block.ignore_public_acls);
        let bare = parse_create(
            b"<CreateAccessPointRequest><Bucket>b1b</Bucket></CreateAccessPointRequest>",
        )
        .expect("bare");
        assert_eq!(bare.public_access_block, PublicAccessBlock::all_on());
        for bad in [
            &b"<CreateAccessPointRequest/>"[..],
            b"<CreateAccessPointRequest><Bucket></Bucket></CreateAccessPointRequest>",
            b"<CreateAccessPointRequest><Bucket>a</Bucket><Bucket>b</Bucket></CreateAccessPointRequest>",
            b"<CreateAccessPointRequest><Other/></CreateAccessPointRequest>",
        ] {
            assert_eq!(
                parse_create(bad).expect_err("bad").code(),
                S3ErrorCode::MalformedXML
            );
        }
        let ap = AccessPoint {
            name: "finance".into(),
            bucket: "shared".into(),
            account: "111122223333".into(),
            region: "us-east-1".into(),
            network_origin: NetworkOrigin::Vpc("vpc-1".into()),
            block_public_acls: true,
            ignore_public_acls: true,
            block_public_policy: true,
            restrict_public_buckets: true,
            created: "2026-12-02T00:00:00.000Z".into(),
            alias: "finance-abc-s3alias".into(),
            policy: None,
        };
        let created = render_create(&ap);
        assert!(created.contains("<AccessPointArn>arn:aws:s3:us-east-1:111122223333:accesspoint/finance</AccessPointArn><Alias>finance-abc-s3alias</Alias>"));
        assert!(created.contains(S3_CONTROL_XMLNS));
        let got = render_get(&ap, "111122223333");
        assert!(got.contains("<NetworkOrigin>VPC</NetworkOrigin><VpcConfiguration><VpcId>vpc-1</VpcId></VpcConfiguration>"));
        let listed = render_list(std::slice::from_ref(&ap), Some("t"));
        assert!(listed.contains("<AccessPointList><AccessPoint><Name>finance</Name>"));
        assert!(listed.contains("<NextToken>t</NextToken>"));
        assert_eq!(
            ap.resource("a/b"),
            "arn:aws:s3:us-east-1:111122223333:accesspoint/finance/object/a/b"
        );
        assert_eq!(
            parse_put_policy(b"<PutAccessPointPolicyRequest><Policy>{\"a\":1}</Policy></PutAccessPointPolicyRequest>")
                .expect("policy"),
            "{\"a\":1}"
        );
        assert!(
            render_policy_status(true)
                .contains("<PolicyStatus><IsPublic>true</IsPublic></PolicyStatus>")
        );
    }
}
