//! The IAM policy engine against AWS's documented policy examples: one table per source, each row a
//! policy, a request and the expected decision; `authorize()` rows for the same account, across accounts,
//! anonymous callers, access points, VPC endpoints and KMS's key-policy model; malformed documents with
//! their reasons.
//!
//! Sources: S3 user guide example-bucket-policies (deny non-TLS, IP lists, SSE-KMS with a key, prefixes,
//! MFA deletes), access-points-policies (delegation); IAM user guide reference_policies_examples_*,
//! reference_policies_condition-single-vs-multivalued-context-keys (ForAllValues / ForAnyValue and empty
//! sets), reference_policies_elements_condition_operators (IfExists, Null, Date), reference_policies_variables
//! (`${aws:username}` home folders); KMS developer guide conditions-kms (EncryptionContext, ViaService).

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use s3crypt::iam::policy::PolicyError;
use s3crypt::iam::{
    AccessPointGate, AccessPointRef, AuthType, Authorization, Caller, ConditionKeys, Decision,
    ParseOptions, Policy, PolicySource, Principal, Request, RequestContext, ResourceModel, Verdict,
    authorize,
};

const OWNER: &str = "111122223333";
const OTHER: &str = "444455556666";
const BUCKET: &str = "arn:aws:s3:::amzn-s3-demo-bucket";
const OBJECT: &str = "arn:aws:s3:::amzn-s3-demo-bucket/home/alice/notes.txt";
const KEY_ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// 2026-03-15T12:00:00Z.
fn march_2026() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_773_576_000)
}

fn alice() -> RequestContext {
    RequestContext::new(
        Caller::Principal(Principal::user(OWNER, "alice", "AKIAALICE")),
        AuthType::Header,
        march_2026(),
    )
    .with_tls(true)
}

fn bob_elsewhere() -> RequestContext {
    RequestContext::new(
        Caller::Principal(Principal::user(OTHER, "bob", "AKIABOB")),
        AuthType::Header,
        march_2026(),
    )
    .with_tls(true)
}

fn root(account: &str) -> RequestContext {
    RequestContext::new(
        Caller::Principal(Principal::root(account, "AKIAROOT")),
        AuthType::Header,
        march_2026(),
    )
    .with_tls(true)
}

fn anonymous() -> RequestContext {
    RequestContext::new(Caller::Anonymous, AuthType::None, march_2026()).with_tls(true)
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

fn parse(json: &str, options: &ParseOptions) -> Policy {
    Policy::parse(json, options).unwrap_or_else(|e| panic!("{json}: {e}"))
}

fn deny(sid: &str) -> Decision {
    Decision::ExplicitDeny {
        sid: Some(sid.to_owned()),
    }
}

/// One evaluation row: name, action, resource, context, keys, expected.
type Row = (
    &'static str,
    &'static str,
    &'static str,
    RequestContext,
    ConditionKeys,
    Decision,
);

fn run(policy: &Policy, rows: Vec<Row>) {
    for (name, action, resource, context, keys, expected) in rows {
        let got = policy.evaluate(&Request {
            action,
            resource,
            context: &context,
            keys: &keys,
        });
        assert_eq!(got, expected, "{name}");
    }
}

/// One `authorize()` row: name, context, identity policies, resource policy, expected verdict.
type AuthRow<'a> = (
    &'static str,
    RequestContext,
    Vec<Policy>,
    Option<&'a Policy>,
    Verdict,
);

/// One KMS `authorize()` row: name, context, identity policies, key policy, allowed.
type KmsRow<'a> = (&'static str, RequestContext, Vec<Policy>, &'a Policy, bool);

fn none() -> ConditionKeys {
    ConditionKeys::new()
}

// ---------------------------------------------------------------------------------------------------------
// S3 user guide: bucket-policy examples (resource policies)

#[test]
fn s3_deny_requests_without_tls() {
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"RestrictToTLSRequestsOnly","Effect":"Deny",
            "Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::amzn-s3-demo-bucket","arn:aws:s3:::amzn-s3-demo-bucket/*"],
            "Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#,
        &ParseOptions::BUCKET,
    );
    run(
        &p,
        vec![
            (
                "http object read",
                "s3:GetObject",
                OBJECT,
                alice().with_tls(false),
                none(),
                deny("RestrictToTLSRequestsOnly"),
            ),
            (
                "http list",
                "s3:ListBucket",
                BUCKET,
                alice().with_tls(false),
                none(),
                deny("RestrictToTLSRequestsOnly"),
            ),
            (
                "http anonymous",
                "s3:GetObject",
                OBJECT,
                anonymous().with_tls(false),
                none(),
                deny("RestrictToTLSRequestsOnly"),
            ),
            (
                "https",
                "s3:GetObject",
                OBJECT,
                alice(),
                none(),
                Decision::NotApplicable,
            ),
            (
                "other bucket",
                "s3:GetObject",
                "arn:aws:s3:::other/x",
                alice().with_tls(false),
                none(),
                Decision::NotApplicable,
            ),
        ],
    );
}

#[test]
fn s3_ip_allow_and_deny_lists() {
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"IPAllow","Effect":"Deny","Principal":"*","Action":"s3:*",
            "Resource":["arn:aws:s3:::amzn-s3-demo-bucket","arn:aws:s3:::amzn-s3-demo-bucket/*"],
            "Condition":{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","2001:DB8:1234:5678::/64"]}}},
           {"Sid":"BlockOne","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
            "Condition":{"IpAddress":{"aws:SourceIp":"192.0.2.66/32"}}}]}"#,
        &ParseOptions::BUCKET,
    );
    run(
        &p,
        vec![
            (
                "inside v4",
                "s3:GetObject",
                OBJECT,
                alice().with_source_ip(ip("192.0.2.9")),
                none(),
                Decision::NotApplicable,
            ),
            (
                "inside v6",
                "s3:GetObject",
                OBJECT,
                alice().with_source_ip(ip("2001:db8:1234:5678::abcd")),
                none(),
                Decision::NotApplicable,
            ),
            (
                "outside v4",
                "s3:GetObject",
                OBJECT,
                alice().with_source_ip(ip("203.0.113.5")),
                none(),
                deny("IPAllow"),
            ),
            (
                "outside v6",
                "s3:GetObject",
                OBJECT,
                alice().with_source_ip(ip("2001:db8:1234:5679::1")),
                none(),
                deny("IPAllow"),
            ),
            // NotIpAddress on a missing key is true (negated operator): no address, denied.
            (
                "no address",
                "s3:GetObject",
                OBJECT,
                alice(),
                none(),
                deny("IPAllow"),
            ),
            (
                "blocked host",
                "s3:GetObject",
                OBJECT,
                alice().with_source_ip(ip("192.0.2.66")),
                none(),
                deny("BlockOne"),
            ),
        ],
    );
}

#[test]
fn s3_require_sse_kms_with_a_given_key() {
    let p = parse(
        &format!(
            r#"{{"Version":"2012-10-17","Statement":[
            {{"Sid":"RequireKms","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
             "Condition":{{"StringNotEquals":{{"s3:x-amz-server-side-encryption":"aws:kms"}}}}}},
            {{"Sid":"RequireKey","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
             "Condition":{{"StringNotEquals":{{"s3:x-amz-server-side-encryption-aws-kms-key-id":"{KEY_ARN}"}}}}}}]}}"#
        ),
        &ParseOptions::BUCKET,
    );
    let kms = |key: &str| {
        none()
            .with("s3:x-amz-server-side-encryption", "aws:kms")
            .with("s3:x-amz-server-side-encryption-aws-kms-key-id", key)
    };
    run(
        &p,
        vec![
            (
                "right key",
                "s3:PutObject",
                OBJECT,
                alice(),
                kms(KEY_ARN),
                Decision::NotApplicable,
            ),
            (
                "other key",
                "s3:PutObject",
                OBJECT,
                alice(),
                kms("arn:aws:kms:us-east-1:111122223333:key/other"),
                deny("RequireKey"),
            ),
            (
                "SSE-S3",
                "s3:PutObject",
                OBJECT,
                alice(),
                none().with("s3:x-amz-server-side-encryption", "AES256"),
                deny("RequireKms"),
            ),
            (
                "no header",
                "s3:PutObject",
                OBJECT,
                alice(),
                none(),
                deny("RequireKms"),
            ),
            (
                "kms without key id",
                "s3:PutObject",
                OBJECT,
                alice(),
                none().with("s3:x-amz-server-side-encryption", "aws:kms"),
                deny("RequireKey"),
            ),
            (
                "reads untouched",
                "s3:GetObject",
                OBJECT,
                alice(),
                none(),
                Decision::NotApplicable,
            ),
        ],
    );
}

#[test]
fn s3_restrict_listing_to_a_prefix() {
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"ListHome","Effect":"Allow",
            "Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"s3:ListBucket",
            "Resource":"arn:aws:s3:::amzn-s3-demo-bucket",
            "Condition":{"StringEquals":{"s3:prefix":["","home/"],"s3:delimiter":"/"}}},
           {"Sid":"ListOwn","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},
            "Action":"s3:ListBucket","Resource":"arn:aws:s3:::amzn-s3-demo-bucket",
            "Condition":{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}}]}"#,
        &ParseOptions::BUCKET,
    );
    let list = |prefix: &str, delimiter: Option<&str>| {
        none()
            .with("s3:prefix", prefix)
            .with_opt("s3:delimiter", delimiter)
    };
    run(
        &p,
        vec![
            (
                "root listing",
                "s3:ListBucket",
                BUCKET,
                alice(),
                list("", Some("/")),
                Decision::Allow,
            ),
            (
                "home listing",
                "s3:ListBucket",
                BUCKET,
                alice(),
                list("home/", Some("/")),
                Decision::Allow,
            ),
            (
                "home without delimiter",
                "s3:ListBucket",
                BUCKET,
                alice(),
                list("home/", None),
                Decision::NotApplicable,
            ),
            (
                "own folder",
                "s3:ListBucket",
                BUCKET,
                alice(),
                list("home/alice/photos/", None),
                Decision::Allow,
            ),
            (
                "someone else's",
                "s3:ListBucket",
                BUCKET,
                alice(),
                list("home/bob/", None),
                Decision::NotApplicable,
            ),
            (
                "no prefix",
                "s3:ListBucket",
                BUCKET,
                alice(),
                none(),
                Decision::NotApplicable,
            ),
            (
                "another user",
                "s3:ListBucket",
                BUCKET,
                bob_elsewhere(),
                list("", Some("/")),
                Decision::NotApplicable,
            ),
        ],
    );
}

#[test]
fn s3_mfa_required_for_deletes() {
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"DenyWithoutMfa","Effect":"Deny","Principal":"*","Action":["s3:DeleteObject","s3:DeleteObjectVersion"],
             "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*","Condition":{"Null":{"aws:MultiFactorAuthPresent":"true"}}},
            {"Sid":"DenyMfaFalse","Effect":"Deny","Principal":"*","Action":"s3:Delete*",
             "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}"#,
        &ParseOptions::BUCKET,
    );
    let mfa = |present: Option<bool>| {
        let mut c = alice();
        c.mfa_present = present;
        c
    };
    run(
        &p,
        vec![
            (
                "long-term keys",
                "s3:DeleteObject",
                OBJECT,
                mfa(None),
                none(),
                deny("DenyWithoutMfa"),
            ),
            (
                "session without MFA",
                "s3:DeleteObject",
                OBJECT,
                mfa(Some(false)),
                none(),
                deny("DenyMfaFalse"),
            ),
            (
                "with MFA",
                "s3:DeleteObject",
                OBJECT,
                mfa(Some(true)),
                none(),
                Decision::NotApplicable,
            ),
            (
                "action case-insensitive",
                "S3:DELETEOBJECTVERSION",
                OBJECT,
                mfa(Some(false)),
                none(),
                deny("DenyMfaFalse"),
            ),
            (
                "reads untouched",
                "s3:GetObject",
                OBJECT,
                mfa(None),
                none(),
                Decision::NotApplicable,
            ),
        ],
    );
}

#[test]
fn s3_access_point_delegation() {
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Delegate","Effect":"Allow","Principal":{"AWS":"*"},"Action":"*",
            "Resource":["arn:aws:s3:::amzn-s3-demo-bucket","arn:aws:s3:::amzn-s3-demo-bucket/*"],
            "Condition":{"StringEquals":{"s3:DataAccessPointAccount":"111122223333"}}}]}"#,
        &ParseOptions::BUCKET,
    );
    let via = |account: &str| {
        let mut c = alice();
        c.access_point = Some(AccessPointRef {
            arn: format!("arn:aws:s3:us-east-1:{account}:accesspoint/ap"),
            account: account.to_owned(),
            network_origin: "Internet".into(),
            policy: None,
        });
        c
    };
    run(
        &p,
        vec![
            (
                "owner's access point",
                "s3:GetObject",
                OBJECT,
                via(OWNER),
                none(),
                Decision::Allow,
            ),
            (
                "other account's access point",
                "s3:GetObject",
                OBJECT,
                via(OTHER),
                none(),
                Decision::NotApplicable,
            ),
            (
                "direct",
                "s3:GetObject",
                OBJECT,
                alice(),
                none(),
                Decision::NotApplicable,
            ),
        ],
    );
}

// ---------------------------------------------------------------------------------------------------------
// IAM user guide examples (identity policies)

#[test]
fn iam_not_action_with_deny() {
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"DenyAllOutsideIam","Effect":"Deny","NotAction":"iam:*","Resource":"*"},
            {"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        &ParseOptions::IDENTITY,
    );
    run(
        &p,
        vec![
            (
                "s3 denied",
                "s3:GetObject",
                OBJECT,
                alice(),
                none(),
                deny("DenyAllOutsideIam"),
            ),
            (
                "iam allowed",
                "iam:CreateUser",
                "arn:aws:iam::111122223333:user/x",
                alice(),
                none(),
                Decision::Allow,
            ),
        ],
    );
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","NotResource":"arn:aws:s3:::amzn-s3-demo-bucket/secret/*"}}"#,
        &ParseOptions::IDENTITY,
    );
    run(
        &p,
        vec![
            (
                "not the secret",
                "s3:GetObject",
                OBJECT,
                alice(),
                none(),
                Decision::Allow,
            ),
            (
                "the secret",
                "s3:GetObject",
                "arn:aws:s3:::amzn-s3-demo-bucket/secret/x",
                alice(),
                none(),
                Decision::NotApplicable,
            ),
        ],
    );
}

#[test]
fn iam_for_all_values_and_for_any_value_incl_empty_sets() {
    let all = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:PutObjectTagging","Resource":"*",
            "Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}}}"#,
        &ParseOptions::IDENTITY,
    );
    let any = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:PutObjectTagging","Resource":"*",
            "Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["env","team"]}}}}"#,
        &ParseOptions::IDENTITY,
    );
    let all_not = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:PutObjectTagging","Resource":"*",
            "Condition":{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env","team"]}}}}"#,
        &ParseOptions::IDENTITY,
    );
    let tags = |keys: &[&str]| none().with_values("aws:TagKeys", keys.iter().copied());
    let a = "s3:PutObjectTagging";
    run(
        &all,
        vec![
            (
                "subset",
                a,
                OBJECT,
                alice(),
                tags(&["env"]),
                Decision::Allow,
            ),
            (
                "all",
                a,
                OBJECT,
                alice(),
                tags(&["team", "env"]),
                Decision::Allow,
            ),
            (
                "one outside",
                a,
                OBJECT,
                alice(),
                tags(&["env", "owner"]),
                Decision::NotApplicable,
            ),
            (
                "empty set: vacuously true",
                a,
                OBJECT,
                alice(),
                tags(&[]),
                Decision::Allow,
            ),
            (
                "missing key: true",
                a,
                OBJECT,
                alice(),
                none(),
                Decision::Allow,
            ),
        ],
    );
    run(
        &any,
        vec![
            (
                "one inside",
                a,
                OBJECT,
                alice(),
                tags(&["owner", "env"]),
                Decision::Allow,
            ),
            (
                "none inside",
                a,
                OBJECT,
                alice(),
                tags(&["owner"]),
                Decision::NotApplicable,
            ),
            (
                "empty set: false",
                a,
                OBJECT,
                alice(),
                tags(&[]),
                Decision::NotApplicable,
            ),
            (
                "missing key: false",
                a,
                OBJECT,
                alice(),
                none(),
                Decision::NotApplicable,
            ),
        ],
    );
    run(
        &all_not,
        vec![
            (
                "an unexpected key",
                a,
                OBJECT,
                alice(),
                tags(&["env", "owner"]),
                Decision::ExplicitDeny { sid: None },
            ),
            (
                "only expected keys",
                a,
                OBJECT,
                alice(),
                tags(&["env"]),
                Decision::NotApplicable,
            ),
            (
                "no keys",
                a,
                OBJECT,
                alice(),
                none(),
                Decision::NotApplicable,
            ),
        ],
    );
}

#[test]
fn iam_if_exists_and_null() {
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"StandardOnly","Effect":"Allow","Action":"s3:PutObject","Resource":"*",
             "Condition":{"StringEqualsIfExists":{"s3:x-amz-storage-class":"STANDARD"}}},
            {"Sid":"EncryptedCopy","Effect":"Allow","Action":"s3:CopyObject","Resource":"*",
             "Condition":{"Null":{"s3:x-amz-server-side-encryption":"false"}}},
            {"Sid":"SmallLists","Effect":"Allow","Action":"s3:ListBucket","Resource":"*",
             "Condition":{"NumericLessThanEqualsIfExists":{"s3:max-keys":"100"}}}]}"#,
        &ParseOptions::IDENTITY,
    );
    run(
        &p,
        vec![
            (
                "no storage class",
                "s3:PutObject",
                OBJECT,
                alice(),
                none(),
                Decision::Allow,
            ),
            (
                "standard",
                "s3:PutObject",
                OBJECT,
                alice(),
                none().with("s3:x-amz-storage-class", "STANDARD"),
                Decision::Allow,
            ),
            (
                "glacier",
                "s3:PutObject",
                OBJECT,
                alice(),
                none().with("s3:x-amz-storage-class", "GLACIER"),
                Decision::NotApplicable,
            ),
            (
                "header present",
                "s3:CopyObject",
                OBJECT,
                alice(),
                none().with("s3:x-amz-server-side-encryption", "AES256"),
                Decision::Allow,
            ),
            (
                "header absent",
                "s3:CopyObject",
                OBJECT,
                alice(),
                none(),
                Decision::NotApplicable,
            ),
            (
                "max-keys absent",
                "s3:ListBucket",
                BUCKET,
                alice(),
                none(),
                Decision::Allow,
            ),
            (
                "max-keys 100",
                "s3:ListBucket",
                BUCKET,
                alice(),
                none().with("s3:max-keys", "100"),
                Decision::Allow,
            ),
            (
                "max-keys 1000",
                "s3:ListBucket",
                BUCKET,
                alice(),
                none().with("s3:max-keys", "1000"),
                Decision::NotApplicable,
            ),
        ],
    );
}

#[test]
fn iam_date_ranges_on_current_time() {
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*",
            "Condition":{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"},
                         "DateLessThan":{"aws:CurrentTime":"2026-06-30T23:59:59Z"}}}}"#,
        &ParseOptions::IDENTITY,
    );
    let at = |t: SystemTime| {
        let mut c = alice();
        c.now = t;
        c
    };
    let epoch = |s: u64| UNIX_EPOCH + Duration::from_secs(s);
    run(
        &p,
        vec![
            (
                "inside",
                "s3:GetObject",
                OBJECT,
                at(march_2026()),
                none(),
                Decision::Allow,
            ),
            (
                "before",
                "s3:GetObject",
                OBJECT,
                at(epoch(1_767_225_599)),
                none(),
                Decision::NotApplicable,
            ),
            (
                "after",
                "s3:GetObject",
                OBJECT,
                at(epoch(1_782_864_000)),
                none(),
                Decision::NotApplicable,
            ),
        ],
    );
    // Epoch seconds work as dates, and aws:EpochTime takes numeric operators too.
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*",
            "Condition":{"DateLessThanEquals":{"aws:CurrentTime":"1773576000"},"NumericGreaterThan":{"aws:EpochTime":"1773575999"}}}}"#,
        &ParseOptions::IDENTITY,
    );
    run(
        &p,
        vec![
            (
                "exactly then",
                "s3:GetObject",
                OBJECT,
                at(march_2026()),
                none(),
                Decision::Allow,
            ),
            (
                "a second later",
                "s3:GetObject",
                OBJECT,
                at(march_2026() + Duration::from_secs(1)),
                none(),
                Decision::NotApplicable,
            ),
        ],
    );
}

#[test]
fn iam_username_home_folders() {
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/*"},
            {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/shared/${aws:username, 'guest'}/*"}]}"#,
        &ParseOptions::IDENTITY,
    );
    let evil = RequestContext::new(
        Caller::Principal(Principal::user(OWNER, "*", "AKIASTAR")),
        AuthType::Header,
        march_2026(),
    );
    run(
        &p,
        vec![
            (
                "own folder",
                "s3:PutObject",
                OBJECT,
                alice(),
                none(),
                Decision::Allow,
            ),
            (
                "other folder",
                "s3:GetObject",
                "arn:aws:s3:::amzn-s3-demo-bucket/home/bob/x",
                alice(),
                none(),
                Decision::NotApplicable,
            ),
            // No aws:username for the root: the variable matches nothing.
            (
                "root has no user name",
                "s3:GetObject",
                OBJECT,
                root(OWNER),
                none(),
                Decision::NotApplicable,
            ),
            (
                "default value",
                "s3:GetObject",
                "arn:aws:s3:::amzn-s3-demo-bucket/shared/guest/x",
                root(OWNER),
                none(),
                Decision::Allow,
            ),
            // A substituted value is literal text, not a wildcard.
            (
                "substituted * is literal",
                "s3:GetObject",
                OBJECT,
                evil,
                none(),
                Decision::NotApplicable,
            ),
        ],
    );
    // Version 2008-10-17: `${…}` is literal text.
    let old = parse(
        r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/*"}}"#,
        &ParseOptions::IDENTITY,
    );
    run(
        &old,
        vec![
            (
                "2008: no substitution",
                "s3:GetObject",
                OBJECT,
                alice(),
                none(),
                Decision::NotApplicable,
            ),
            (
                "2008: literal",
                "s3:GetObject",
                "arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/x",
                alice(),
                none(),
                Decision::Allow,
            ),
        ],
    );
}

#[test]
fn iam_string_arn_and_binary_operators() {
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"Arn","Effect":"Allow","Action":"s3:GetObject","Resource":"*",
             "Condition":{"ArnLike":{"AWS:PRINCIPALARN":"arn:aws:iam::*:user/a*"}}},
            {"Sid":"Ci","Effect":"Allow","Action":"s3:PutObject","Resource":"*",
             "Condition":{"StringEqualsIgnoreCase":{"s3:x-amz-server-side-encryption":"AWS:KMS"}}},
            {"Sid":"NotArn","Effect":"Deny","Action":"s3:DeleteObject","Resource":"*",
             "Condition":{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/alice"}}},
            {"Sid":"Bin","Effect":"Allow","Action":"s3:RestoreObject","Resource":"*",
             "Condition":{"BinaryEquals":{"s3:x-amz-content-sha256":"QmluYXJ5"}}}]}"#,
        &ParseOptions::IDENTITY,
    );
    run(
        &p,
        vec![
            (
                "arn like",
                "s3:GetObject",
                OBJECT,
                alice(),
                none(),
                Decision::Allow,
            ),
            (
                "arn unlike",
                "s3:GetObject",
                OBJECT,
                bob_elsewhere(),
                none(),
                Decision::NotApplicable,
            ),
            (
                "ignore case",
                "s3:PutObject",
                OBJECT,
                alice(),
                none().with("s3:x-amz-server-side-encryption", "aws:kms"),
                Decision::Allow,
            ),
            (
                "arn not equals: alice",
                "s3:DeleteObject",
                OBJECT,
                alice(),
                none(),
                Decision::NotApplicable,
            ),
            (
                "arn not equals: bob",
                "s3:DeleteObject",
                OBJECT,
                bob_elsewhere(),
                none(),
                deny("NotArn"),
            ),
            (
                "binary equal",
                "s3:RestoreObject",
                OBJECT,
                alice(),
                none().with("s3:x-amz-content-sha256", "QmluYXJ5"),
                Decision::Allow,
            ),
            (
                "binary different",
                "s3:RestoreObject",
                OBJECT,
                alice(),
                none().with("s3:x-amz-content-sha256", "QmluYXJz"),
                Decision::NotApplicable,
            ),
        ],
    );
}

#[test]
fn s3_request_context_keys() {
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"NoPresign","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
             "Condition":{"StringEquals":{"s3:authType":"REST-QUERY-STRING"}}},
            {"Sid":"Fresh","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
             "Condition":{"NumericGreaterThan":{"s3:signatureAge":"600000"}}},
            {"Sid":"Vpce","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
             "Condition":{"StringNotEqualsIfExists":{"aws:SourceVpce":"vpce-1a2b3c4d"}}}]}"#,
        &ParseOptions::BUCKET,
    );
    let presigned = {
        let mut c = alice();
        c.auth = AuthType::Presigned;
        c
    };
    let old_signature = {
        let mut c = alice();
        c.signature_age = Some(Duration::from_secs(601));
        c
    };
    let vpce = |id: &str| {
        let mut c = alice();
        c.source_vpce = Some(id.to_owned());
        c
    };
    run(
        &p,
        vec![
            (
                "presigned",
                "s3:GetObject",
                OBJECT,
                presigned,
                none(),
                deny("NoPresign"),
            ),
            (
                "old signature",
                "s3:GetObject",
                OBJECT,
                old_signature,
                none(),
                deny("Fresh"),
            ),
            (
                "right endpoint",
                "s3:GetObject",
                OBJECT,
                vpce("vpce-1a2b3c4d"),
                none(),
                Decision::NotApplicable,
            ),
            (
                "wrong endpoint",
                "s3:GetObject",
                OBJECT,
                vpce("vpce-99999999"),
                none(),
                deny("Vpce"),
            ),
            // …IfExists on a missing key is true: a request from the public endpoint is denied too.
            (
                "public endpoint",
                "s3:GetObject",
                OBJECT,
                alice(),
                none(),
                deny("Vpce"),
            ),
        ],
    );
}

// ---------------------------------------------------------------------------------------------------------
// KMS developer guide: key-policy conditions

#[test]
fn kms_encryption_context_and_via_service() {
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"ByContext","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},
             "Action":"kms:Decrypt","Resource":"*",
             "Condition":{"StringEquals":{"kms:EncryptionContext:Department":"IT"}}},
            {"Sid":"OnlyKnownKeys","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},
             "Action":"kms:GenerateDataKey","Resource":"*",
             "Condition":{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["Department","Project"]},
                          "Null":{"kms:EncryptionContextKeys":"false"}}},
            {"Sid":"ViaS3","Effect":"Allow","Principal":{"AWS":"*"},"Action":["kms:Encrypt","kms:ReEncrypt*"],"Resource":"*",
             "Condition":{"StringEquals":{"kms:ViaService":"s3.us-east-1.amazonaws.com","kms:CallerAccount":"111122223333"}}}]}"#,
        &ParseOptions::KEY,
    );
    let ctx = |pairs: &[(&'static str, &'static str)]| {
        none().with_encryption_context(pairs.iter().copied())
    };
    run(
        &p,
        vec![
            (
                "context matches",
                "kms:Decrypt",
                KEY_ARN,
                alice(),
                ctx(&[("Department", "IT")]),
                Decision::Allow,
            ),
            (
                "context differs",
                "kms:Decrypt",
                KEY_ARN,
                alice(),
                ctx(&[("Department", "HR")]),
                Decision::NotApplicable,
            ),
            (
                "no context",
                "kms:Decrypt",
                KEY_ARN,
                alice(),
                none(),
                Decision::NotApplicable,
            ),
            (
                "known keys",
                "kms:GenerateDataKey",
                KEY_ARN,
                alice(),
                ctx(&[("Project", "x")]),
                Decision::Allow,
            ),
            (
                "unknown key",
                "kms:GenerateDataKey",
                KEY_ARN,
                alice(),
                ctx(&[("Project", "x"), ("Owner", "y")]),
                Decision::NotApplicable,
            ),
            (
                "empty context refused by Null",
                "kms:GenerateDataKey",
                KEY_ARN,
                alice(),
                ctx(&[]),
                Decision::NotApplicable,
            ),
            (
                "via S3",
                "kms:ReEncryptFrom",
                KEY_ARN,
                alice(),
                none()
                    .with("kms:ViaService", "s3.us-east-1.amazonaws.com")
                    .with("kms:CallerAccount", OWNER),
                Decision::Allow,
            ),
            (
                "directly",
                "kms:Encrypt",
                KEY_ARN,
                alice(),
                none().with("kms:CallerAccount", OWNER),
                Decision::NotApplicable,
            ),
        ],
    );
}

// ---------------------------------------------------------------------------------------------------------
// authorize(): the evaluation logic across policies

fn identity(json: &str) -> Policy {
    parse(json, &ParseOptions::IDENTITY)
}

fn bucket(json: &str) -> Policy {
    parse(json, &ParseOptions::BUCKET)
}

#[test]
fn authorize_same_account_cross_account_and_anonymous() {
    let allow_get = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}}"#,
    );
    let deny_get = identity(
        r#"{"Version":"2012-10-17","Statement":{"Sid":"No","Effect":"Deny","Action":"s3:GetObject","Resource":"*"}}"#,
    );
    let to = |aws: &str| {
        bucket(&format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Sid":"Grant","Effect":"Allow","Principal":{{"AWS":"{aws}"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}}}}"#
        ))
    };
    let public = bucket(
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}}"#,
    );
    let deny_all = bucket(
        r#"{"Statement":{"Sid":"Lock","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}}"#,
    );
    let to_alice = to("arn:aws:iam::111122223333:user/alice");
    let to_owner = to(OWNER);
    let to_other = to(OTHER);
    let to_bob = to("arn:aws:iam::444455556666:user/bob");
    let keys = none();
    let allowed = Verdict::Allow;
    let implicit = Verdict::ImplicitDeny;
    let rows: Vec<AuthRow<'_>> = vec![
        // Same account: union of identity and resource policies.
        (
            "same: identity only",
            alice(),
            vec![allow_get.clone()],
            None,
            allowed.clone(),
        ),
        (
            "same: bucket names user",
            alice(),
            vec![],
            Some(&to_alice),
            allowed.clone(),
        ),
        (
            "same: bucket names account, no identity",
            alice(),
            vec![],
            Some(&to_owner),
            implicit.clone(),
        ),
        (
            "same: bucket names account + identity",
            alice(),
            vec![allow_get.clone()],
            Some(&to_owner),
            allowed.clone(),
        ),
        ("same: nothing", alice(), vec![], None, implicit.clone()),
        (
            "same: identity deny beats bucket allow",
            alice(),
            vec![deny_get.clone()],
            Some(&to_alice),
            Verdict::ExplicitDeny {
                sid: Some("No".into()),
                source: PolicySource::Identity,
            },
        ),
        (
            "same: owner root needs nothing",
            root(OWNER),
            vec![],
            None,
            allowed.clone(),
        ),
        (
            "same: owner root skips identity policies",
            root(OWNER),
            vec![deny_get.clone()],
            None,
            allowed.clone(),
        ),
        (
            "same: bucket deny binds the root",
            root(OWNER),
            vec![],
            Some(&deny_all),
            Verdict::ExplicitDeny {
                sid: Some("Lock".into()),
                source: PolicySource::Resource,
            },
        ),
        // Cross account: both must allow.
        (
            "cross: identity only",
            bob_elsewhere(),
            vec![allow_get.clone()],
            None,
            implicit.clone(),
        ),
        (
            "cross: bucket only",
            bob_elsewhere(),
            vec![],
            Some(&to_bob),
            implicit.clone(),
        ),
        (
            "cross: both",
            bob_elsewhere(),
            vec![allow_get.clone()],
            Some(&to_bob),
            allowed.clone(),
        ),
        (
            "cross: bucket names the account + identity",
            bob_elsewhere(),
            vec![allow_get.clone()],
            Some(&to_other),
            allowed.clone(),
        ),
        (
            "cross: bucket names the account, no identity",
            bob_elsewhere(),
            vec![],
            Some(&to_other),
            implicit.clone(),
        ),
        (
            "cross: root of the named account",
            root(OTHER),
            vec![],
            Some(&to_other),
            allowed.clone(),
        ),
        (
            "cross: root, bucket silent",
            root(OTHER),
            vec![],
            None,
            implicit.clone(),
        ),
        (
            "cross: public bucket still needs identity",
            bob_elsewhere(),
            vec![],
            Some(&public),
            implicit.clone(),
        ),
        // Anonymous: resource policies only.
        (
            "anonymous: public",
            anonymous(),
            vec![],
            Some(&public),
            allowed.clone(),
        ),
        (
            "anonymous: account grant",
            anonymous(),
            vec![],
            Some(&to_owner),
            implicit.clone(),
        ),
        (
            "anonymous: identity policies ignored",
            anonymous(),
            vec![allow_get.clone()],
            None,
            implicit.clone(),
        ),
    ];
    for (name, context, ids, resource_policy, expected) in rows {
        let verdict = authorize(
            &Authorization::new(
                "s3:GetObject",
                OBJECT,
                OWNER,
                &context,
                &keys,
                ResourceModel::S3,
            )
            .with_identity_policies(&ids)
            .with_resource_policy(resource_policy),
        );
        assert_eq!(verdict, expected, "{name}");
    }
}

#[test]
fn authorize_access_points_and_vpc_endpoints() {
    const AP_OBJECT: &str =
        "arn:aws:s3:us-east-1:111122223333:accesspoint/ap/object/home/alice/notes.txt";
    let delegate = bucket(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"*",
            "Resource":["arn:aws:s3:::amzn-s3-demo-bucket","arn:aws:s3:::amzn-s3-demo-bucket/*"],
            "Condition":{"StringEquals":{"s3:DataAccessPointAccount":"111122223333"}}}}"#,
    );
    let ap_to_bob = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:user/bob"},
            "Action":"s3:GetObject","Resource":"arn:aws:s3:us-east-1:111122223333:accesspoint/ap/object/*"}}"#,
        &ParseOptions::ACCESS_POINT,
    );
    let vpce_bucket_only = parse(
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}}"#,
        &ParseOptions::BUCKET,
    );
    let vpce_both = parse(
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":["arn:aws:s3:::amzn-s3-demo-bucket/*","arn:aws:s3:us-east-1:111122223333:accesspoint/ap/object/*"]}}"#,
        &ParseOptions::BUCKET,
    );
    let vpce_deny = parse(
        r#"{"Statement":{"Sid":"NoVpce","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}}"#,
        &ParseOptions::BUCKET,
    );
    let get_anything = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
    );
    let through = |mut c: RequestContext| {
        c.access_point = Some(AccessPointRef {
            arn: "arn:aws:s3:us-east-1:111122223333:accesspoint/ap".into(),
            account: OWNER.into(),
            network_origin: "Internet".into(),
            policy: None,
        });
        c
    };
    let keys = none();
    let ids = vec![get_anything];
    let check = |name: &str,
                 context: &RequestContext,
                 bucket_policy: Option<&Policy>,
                 ap_policy: Option<&Policy>,
                 vpce: Option<&Policy>,
                 expected: Verdict| {
        let mut a = Authorization::new(
            "s3:GetObject",
            OBJECT,
            OWNER,
            context,
            &keys,
            ResourceModel::S3,
        )
        .with_identity_policies(&ids)
        .with_resource_policy(bucket_policy);
        if context.access_point.is_some() {
            a = a.with_access_point(AccessPointGate {
                policy: ap_policy,
                resource: AP_OBJECT,
                owner: OWNER,
            });
        }
        if let Some(v) = vpce {
            a = a.with_vpc_endpoint_policy(v);
        }
        assert_eq!(authorize(&a), expected, "{name}");
    };
    let bob = through(bob_elsewhere());
    let al = through(alice());
    check(
        "cross via AP: AP and delegation allow",
        &bob,
        Some(&delegate),
        Some(&ap_to_bob),
        None,
        Verdict::Allow,
    );
    check(
        "cross via AP: no AP policy",
        &bob,
        Some(&delegate),
        None,
        None,
        Verdict::ImplicitDeny,
    );
    check(
        "cross via AP: bucket does not delegate",
        &bob,
        None,
        Some(&ap_to_bob),
        None,
        Verdict::ImplicitDeny,
    );
    check(
        "same via AP: identity suffices for both gates",
        &al,
        None,
        None,
        None,
        Verdict::Allow,
    );
    check(
        "direct: vpce allows the bucket",
        &alice(),
        None,
        None,
        Some(&vpce_bucket_only),
        Verdict::Allow,
    );
    check(
        "via AP: vpce must allow the AP too",
        &al,
        None,
        None,
        Some(&vpce_bucket_only),
        Verdict::ImplicitDeny,
    );
    check(
        "via AP: vpce allows both",
        &al,
        None,
        None,
        Some(&vpce_both),
        Verdict::Allow,
    );
    check(
        "vpce deny",
        &alice(),
        None,
        None,
        Some(&vpce_deny),
        Verdict::ExplicitDeny {
            sid: Some("NoVpce".into()),
            source: PolicySource::VpcEndpoint,
        },
    );
}

/// A request through a VPC endpoint carries the endpoint's policy in its context: every S3 decision
/// made with that context obeys it, the KMS decisions S3 makes for it do not, and `aws:SourceVpc`,
/// `aws:VpcSourceIp` and `aws:SourceIp` follow the endpoint.
#[test]
fn the_context_carries_the_endpoint_policy_into_s3_decisions_only() {
    let deny_all = parse(
        r#"{"Statement":{"Sid":"Nothing","Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}}"#,
        &ParseOptions::BUCKET,
    );
    let get_anything = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:GetObject","kms:Decrypt"],"Resource":"*"}}"#,
    );
    let ids = vec![get_anything];
    let keys = none();
    let mut ctx = alice();
    ctx.source_vpce = Some("vpce-1a2b3c4d".into());
    ctx.source_vpc = Some("vpc-1a2b3c4d".into());
    ctx.vpc_endpoint_policy = Some(std::sync::Arc::new(deny_all));
    let s3 = Authorization::new(
        "s3:GetObject",
        OBJECT,
        OWNER,
        &ctx,
        &keys,
        ResourceModel::S3,
    )
    .with_identity_policies(&ids);
    assert!(matches!(authorize(&s3), Verdict::ExplicitDeny { .. }));
    let key_policy = parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}"#,
        &ParseOptions::KEY,
    );
    let kms = Authorization::new(
        "kms:Decrypt",
        "arn:aws:kms:us-east-1:111122223333:key/k",
        OWNER,
        &ctx,
        &keys,
        ResourceModel::Kms,
    )
    .with_identity_policies(&ids)
    .with_resource_policy(Some(&key_policy));
    assert_eq!(authorize(&kms), Verdict::Allow);
    // Condition keys of a request through the endpoint.
    let cond = |c: &str| {
        let p = bucket(&format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{c}}}}}"#
        ));
        let mut plain = ctx.clone();
        plain.vpc_endpoint_policy = None;
        plain.source_ip = Some("127.0.0.2".parse().expect("ip"));
        let a = Authorization::new(
            "s3:GetObject",
            OBJECT,
            OWNER,
            &plain,
            &keys,
            ResourceModel::S3,
        )
        .with_resource_policy(Some(&p));
        authorize(&a)
    };
    assert_eq!(
        cond(r#"{"StringEquals":{"aws:SourceVpc":"vpc-1a2b3c4d"}}"#),
        Verdict::Allow
    );
    assert_eq!(
        cond(r#"{"StringEquals":{"aws:SourceVpc":"vpc-other"}}"#),
        Verdict::ImplicitDeny
    );
    assert_eq!(
        cond(r#"{"IpAddress":{"aws:VpcSourceIp":"127.0.0.0/8"}}"#),
        Verdict::Allow
    );
    assert_eq!(
        cond(r#"{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}"#),
        Verdict::ImplicitDeny,
        "aws:SourceIp is absent through an endpoint"
    );
}

#[test]
fn authorize_kms_key_policy_model() {
    let key_policy = |statement: &str| {
        parse(
            &format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#),
            &ParseOptions::KEY,
        )
    };
    let account = key_policy(
        r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}"#,
    );
    let alice_only = key_policy(
        r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Decrypt","Resource":"*"}"#,
    );
    let other_account = key_policy(
        r#"{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"kms:Decrypt","Resource":"*"}"#,
    );
    let decrypt = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}}"#,
    );
    let keys = none();
    let rows: Vec<KmsRow<'_>> = vec![
        (
            "account principal + identity",
            alice(),
            vec![decrypt.clone()],
            &account,
            true,
        ),
        (
            "account principal, no identity",
            alice(),
            vec![],
            &account,
            false,
        ),
        (
            "identity, key policy silent on the account",
            alice(),
            vec![decrypt.clone()],
            &alice_only,
            true,
        ),
        (
            "identity alone does not open a key",
            alice(),
            vec![decrypt.clone()],
            &other_account,
            false,
        ),
        (
            "named user, no identity",
            alice(),
            vec![],
            &alice_only,
            true,
        ),
        (
            "root of the key account via account principal",
            root(OWNER),
            vec![],
            &account,
            true,
        ),
        (
            "root of the key account, policy silent",
            root(OWNER),
            vec![],
            &alice_only,
            false,
        ),
        (
            "cross: account delegated + identity",
            bob_elsewhere(),
            vec![decrypt.clone()],
            &other_account,
            true,
        ),
        (
            "cross: account delegated, no identity",
            bob_elsewhere(),
            vec![],
            &other_account,
            false,
        ),
    ];
    for (name, context, ids, policy, expected) in rows {
        let verdict = authorize(
            &Authorization::new(
                "kms:Decrypt",
                KEY_ARN,
                OWNER,
                &context,
                &keys,
                ResourceModel::Kms,
            )
            .with_identity_policies(&ids)
            .with_resource_policy(Some(policy)),
        );
        assert_eq!(verdict.is_allowed(), expected, "{name}: {verdict:?}");
    }
}

// ---------------------------------------------------------------------------------------------------------
// Malformed documents

#[test]
fn malformed_policies_name_the_reason() {
    let stmt = |extra: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"{extra}}}]}}"#
        )
    };
    let id_stmt = |body: &str| format!(r#"{{"Version":"2012-10-17","Statement":{{{body}}}}}"#);
    let r = ParseOptions::BUCKET;
    let i = ParseOptions::IDENTITY;
    let cases: Vec<(&str, String, ParseOptions, PolicyError)> = vec![
        ("not an object", "[1]".into(), r, PolicyError::NotAnObject),
        (
            "repeated key",
            stmt(r#","Sid":"a","Sid":"b""#),
            r,
            PolicyError::InvalidJson,
        ),
        (
            "too large",
            stmt(&format!(r#","Sid":"{}""#, "x".repeat(21_000))),
            r,
            PolicyError::TooLarge,
        ),
        (
            "identity policy with Principal",
            stmt(""),
            i,
            PolicyError::PrincipalNotAllowed,
        ),
        (
            "resource policy without Principal",
            id_stmt(r#""Effect":"Allow","Action":"s3:*","Resource":"*""#),
            r,
            PolicyError::MissingField("Principal"),
        ),
        (
            "Principal and NotPrincipal",
            stmt(r#","NotPrincipal":{"AWS":"111122223333"}"#),
            r,
            PolicyError::Conflict("Principal"),
        ),
        (
            "Resource and NotResource",
            stmt(r#","NotResource":"*""#),
            r,
            PolicyError::Conflict("Resource"),
        ),
        (
            "no Action",
            id_stmt(r#""Effect":"Allow","Resource":"*""#),
            i,
            PolicyError::MissingField("Action"),
        ),
        (
            "bad version",
            stmt("").replace("2012-10-17", "2012-10-18"),
            r,
            PolicyError::InvalidVersion,
        ),
        (
            "empty statement",
            r#"{"Statement":[]}"#.into(),
            r,
            PolicyError::EmptyStatement,
        ),
        (
            "bad effect",
            stmt("").replace("Allow", "Permit"),
            r,
            PolicyError::InvalidEffect("Permit".into()),
        ),
        (
            "principal not an ARN",
            stmt("").replace(r#""Principal":"*""#, r#""Principal":{"AWS":"bob"}"#),
            r,
            PolicyError::InvalidPrincipal,
        ),
        (
            "unknown principal type",
            stmt("").replace(r#""Principal":"*""#, r#""Principal":{"Group":"x"}"#),
            r,
            PolicyError::InvalidPrincipal,
        ),
        (
            "action without service",
            stmt("").replace("s3:GetObject", "GetObject"),
            r,
            PolicyError::InvalidAction,
        ),
        (
            "resource not an ARN",
            stmt("").replace(r#""Resource":"*""#, r#""Resource":"bucket/*""#),
            r,
            PolicyError::InvalidResource,
        ),
        (
            "unknown operator",
            stmt(r#","Condition":{"StringEqualz":{"s3:prefix":"a"}}"#),
            r,
            PolicyError::InvalidConditionType("StringEqualz".into()),
        ),
        (
            "Null with IfExists",
            stmt(r#","Condition":{"NullIfExists":{"s3:prefix":"true"}}"#),
            r,
            PolicyError::InvalidConditionType("NullIfExists".into()),
        ),
        (
            "set operator on Null",
            stmt(r#","Condition":{"ForAnyValue:Null":{"s3:prefix":"true"}}"#),
            r,
            PolicyError::InvalidConditionType("ForAnyValue:Null".into()),
        ),
        (
            "number that is not",
            stmt(r#","Condition":{"NumericLessThan":{"s3:max-keys":"ten"}}"#),
            r,
            PolicyError::ConditionValue(
                "Condition NumericLessThan on s3:max-keys takes numbers".into(),
            ),
        ),
        (
            "bad CIDR",
            stmt(r#","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}"#),
            r,
            PolicyError::ConditionValue(
                "Condition IpAddress on aws:SourceIp takes IP addresses or CIDR blocks".into(),
            ),
        ),
        (
            "bad date",
            stmt(r#","Condition":{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}"#),
            r,
            PolicyError::ConditionValue(
                "Condition DateLessThan on aws:CurrentTime takes dates (ISO 8601 or epoch seconds)"
                    .into(),
            ),
        ),
        (
            "Bool not boolean",
            stmt(r#","Condition":{"Bool":{"aws:SecureTransport":"yes"}}"#),
            r,
            PolicyError::ConditionValue(
                "Condition Bool on aws:SecureTransport takes true or false".into(),
            ),
        ),
        (
            "no value",
            stmt(r#","Condition":{"StringEquals":{"s3:prefix":[]}}"#),
            r,
            PolicyError::ConditionValue("Condition StringEquals has no value for s3:prefix".into()),
        ),
        (
            "unknown statement field",
            stmt(r#","Actions":"s3:*""#),
            r,
            PolicyError::UnknownField("Actions".into()),
        ),
    ];
    for (name, json, options, expected) in cases {
        match Policy::parse(&json, &options) {
            Ok(p) => panic!("{name}: expected a refusal, got {p:?}"),
            Err(e) => assert_eq!(e, expected, "{name}: {json}"),
        }
    }
    // Accepted: every principal type, a bare account id, NotPrincipal, a statement object.
    for json in [
        r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::444455556666:role/r"],"Service":"logging.s3.amazonaws.com","Federated":"cognito-identity.amazonaws.com","CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},"Action":"sts:AssumeRole","Resource":"*"}}"#,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"NotAction":"s3:Get*","Resource":"*"}]}"#,
    ] {
        assert!(Policy::parse(json, &ParseOptions::KEY).is_ok(), "{json}");
    }
}

#[test]
fn not_principal_with_deny_excludes_only_the_named_callers() {
    let p = parse(
        r#"{"Version":"2012-10-17","Statement":{"Sid":"OnlyAlice","Effect":"Deny",
            "NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/alice","arn:aws:iam::111122223333:root"]},
            "Action":"s3:*","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}}"#,
        &ParseOptions::BUCKET,
    );
    let carol = RequestContext::new(
        Caller::Principal(Principal::user(OWNER, "carol", "AKIACAROL")),
        AuthType::Header,
        march_2026(),
    );
    let only = || deny("OnlyAlice");
    run(
        &p,
        vec![
            (
                "alice",
                "s3:GetObject",
                OBJECT,
                alice(),
                none(),
                Decision::NotApplicable,
            ),
            (
                "the account root",
                "s3:GetObject",
                OBJECT,
                root(OWNER),
                none(),
                Decision::NotApplicable,
            ),
            // Naming the account does not exclude its other users.
            (
                "carol, same account",
                "s3:GetObject",
                OBJECT,
                carol,
                none(),
                only(),
            ),
            (
                "bob, other account",
                "s3:GetObject",
                OBJECT,
                bob_elsewhere(),
                none(),
                only(),
            ),
            (
                "anonymous",
                "s3:GetObject",
                OBJECT,
                anonymous(),
                none(),
                only(),
            ),
        ],
    );
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just(",".to_owned()),
            Just(":".to_owned()),
            Just(r#""Version":"2012-10-17""#.to_owned()),
            Just(r#""Statement""#.to_owned()),
            Just(r#""Effect":"Allow""#.to_owned()),
            Just(r#""Principal":{"AWS":"111122223333"}"#.to_owned()),
            Just(r#""NotAction":"s3:*""#.to_owned()),
            Just(r#""Resource":"arn:aws:s3:::b/${aws:username, 'x'}/*""#.to_owned()),
            Just(r#""Condition""#.to_owned()),
            Just(r#""ForAllValues:StringLikeIfExists""#.to_owned()),
            Just(r#""NumericLessThan""#.to_owned()),
            Just(r#""IpAddress""#.to_owned()),
            Just(r#""DateGreaterThan""#.to_owned()),
            Just(r#""ArnLike""#.to_owned()),
            Just(r#""aws:SourceIp""#.to_owned()),
            Just(r#""${aws:username""#.to_owned()),
            Just(r#""10.0.0.0/8""#.to_owned()),
            "[\"{}\\[\\],: a-zA-Z0-9*?/$\\\\-]{0,8}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn parse_and_evaluate_never_panic(parts in proptest::collection::vec(fragment(), 0..40), resource in "[a-z:/*?${}]{0,30}") {
            let json = parts.concat();
            for options in [ParseOptions::BUCKET, ParseOptions::IDENTITY, ParseOptions::KEY] {
                if let Ok(p) = Policy::parse(&json, &options) {
                    let context = alice().with_source_ip(ip("10.1.2.3"));
                    let keys = none().with("s3:prefix", resource.clone());
                    let _ = p.evaluate(&Request { action: "s3:GetObject", resource: &resource, context: &context, keys: &keys });
                }
            }
        }

        #[test]
        fn arbitrary_strings_never_panic(s in any::<String>()) {
            let _ = Policy::parse(&s, &ParseOptions::KEY);
        }
    }
}

/// S3 Object Lambda (UG olap-policies): the supporting access point's grant conditioned on
/// `aws:CalledVia`, `lambda:InvokeFunction` on a function ARN (with `$LATEST`), and an Object Lambda
/// access point policy on the OLAP ARN across accounts.
#[test]
fn object_lambda_called_via_invoke_function_and_olap_policy() {
    let identity = parse(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:us-east-1:111122223333:accesspoint/ap/object/*",
             "Condition":{"ForAnyValue:StringEquals":{"aws:CalledVia":["s3-object-lambda.amazonaws.com"]}}},
            {"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:111122223333:function:redact:$LATEST"}
        ]}"#,
        &ParseOptions::IDENTITY,
    );
    let keys = none();
    let decide = |ctx: &RequestContext, action: &str, resource: &str| {
        identity.evaluate(&Request {
            action,
            resource,
            context: ctx,
            keys: &keys,
        })
    };
    let direct = alice();
    let mut via = alice();
    via.called_via = Some("s3-object-lambda.amazonaws.com".to_owned());
    let object = "arn:aws:s3:us-east-1:111122223333:accesspoint/ap/object/k";
    assert_eq!(decide(&via, "s3:GetObject", object), Decision::Allow);
    assert_eq!(
        decide(&direct, "s3:GetObject", object),
        Decision::NotApplicable
    );
    let latest = "arn:aws:lambda:us-east-1:111122223333:function:redact:$LATEST";
    assert_eq!(
        decide(&direct, "lambda:InvokeFunction", latest),
        Decision::Allow
    );
    assert_eq!(
        decide(
            &direct,
            "lambda:InvokeFunction",
            "arn:aws:lambda:us-east-1:111122223333:function:other"
        ),
        Decision::NotApplicable
    );

    // The OLAP policy grants bob's account; bob's identity policy must allow too (cross-account).
    let olap = "arn:aws:s3-object-lambda:us-east-1:111122223333:accesspoint/redacted";
    let olap_policy = parse(
        &format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{OTHER}:root"}},"Action":"s3-object-lambda:GetObject","Resource":"{olap}"}}]}}"#
        ),
        &ParseOptions::ACCESS_POINT,
    );
    let bob_identity = parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3-object-lambda:*","Resource":"*"}]}"#,
        &ParseOptions::IDENTITY,
    );
    let bob = bob_elsewhere();
    let with = [bob_identity];
    let a = Authorization::new(
        "s3-object-lambda:GetObject",
        olap,
        OWNER,
        &bob,
        &keys,
        ResourceModel::S3,
    )
    .with_resource_policy(Some(&olap_policy));
    assert_eq!(authorize(&a), Verdict::ImplicitDeny, "no identity allow");
    assert_eq!(authorize(&a.with_identity_policies(&with)), Verdict::Allow);
    let a = Authorization::new(
        "s3-object-lambda:PutObject",
        olap,
        OWNER,
        &bob,
        &keys,
        ResourceModel::S3,
    )
    .with_resource_policy(Some(&olap_policy))
    .with_identity_policies(&with);
    assert_eq!(
        authorize(&a),
        Verdict::ImplicitDeny,
        "the OLAP policy grants GetObject only"
    );
}
