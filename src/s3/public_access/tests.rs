use super::*;
use crate::iam::policy::ParseOptions;

fn policy(statements: &str) -> Policy {
    let json = format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#);
    match Policy::parse(&json, &ParseOptions::BUCKET) {
        Ok(p) => p,
        Err(e) => panic!("{json}: {e:?}"),
    }
}

/// An `Allow` of `s3:GetObject` on the bucket's objects to `principal` under `condition`.
fn allow(principal: &str, condition: &str) -> String {
    let cond = if condition.is_empty() {
        String::new()
    } else {
        format!(r#","Condition":{condition}"#)
    };
    format!(
        r#"{{"Effect":"Allow","Principal":{principal},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"{cond}}}"#
    )
}

#[test]
fn user_guide_examples() {
    // Public: a Federated principal, "*" without condition, "*" with a wildcard SourceVpc.
    let federated = r#"{"Principal":{"Federated":"graph.facebook.com"},"Resource":"*","Action":"s3:PutObject","Effect":"Allow"}"#;
    let star = r#"{"Principal":"*","Resource":"*","Action":"s3:PutObject","Effect":"Allow"}"#;
    let vpc_wild = r#"{"Principal":"*","Resource":"*","Action":"s3:PutObject","Effect":"Allow","Condition":{"StringLike":{"aws:SourceVpc":"vpc-*"}}}"#;
    let vpc_fixed = r#"{"Principal":"*","Resource":"*","Action":"s3:PutObject","Effect":"Allow","Condition":{"StringEquals":{"aws:SourceVpc":"vpc-91237329"}}}"#;
    assert!(is_public(&policy(federated)));
    assert!(is_public(&policy(star)));
    assert!(is_public(&policy(vpc_wild)));
    assert!(!is_public(&policy(vpc_fixed)));
    // Mixed: CloudTrail, another account, and the public: public because of the third statement.
    let cloudtrail = r#"{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"}"#;
    let account = r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#;
    assert!(!is_public(&policy(&format!("{cloudtrail},{account}"))));
    assert!(is_public(&policy(&format!(
        "{cloudtrail},{account},{star}"
    ))));
}

#[test]
fn rules_table() {
    let cases: &[(&str, String, bool)] = &[
        ("AWS * no condition", allow(r#"{"AWS":"*"}"#, ""), true),
        ("AWS list with *", allow(r#"{"AWS":["111122223333","*"]}"#, ""), true),
        ("fixed account", allow(r#"{"AWS":"111122223333"}"#, ""), false),
        ("fixed user ARN", allow(r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#, ""), false),
        ("wildcard in principal ARN path", allow(r#"{"AWS":"arn:aws:iam::111122223333:user/*"}"#, ""), true),
        ("canonical user", allow(r#"{"CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}"#, ""), false),
        ("service", allow(r#"{"Service":"logging.s3.amazonaws.com"}"#, ""), false),
        ("SourceIp /24", allow(r#""*""#, r#"{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}"#), false),
        ("SourceIp single address", allow(r#""*""#, r#"{"IpAddress":{"aws:SourceIp":"203.0.113.7"}}"#), false),
        ("SourceIp /8", allow(r#""*""#, r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#), false),
        ("SourceIp /7", allow(r#""*""#, r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/7"}}"#), true),
        ("SourceIp 0.0.0.0/1", allow(r#""*""#, r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/1"}}"#), true),
        ("SourceIp 0.0.0.0/0", allow(r#""*""#, r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#), true),
        ("SourceIp one broad among narrow", allow(r#""*""#, r#"{"IpAddress":{"aws:SourceIp":["192.0.2.0/24","0.0.0.0/0"]}}"#), true),
        ("SourceIp IPv6 /32", allow(r#""*""#, r#"{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}"#), false),
        ("SourceIp IPv6 /31", allow(r#""*""#, r#"{"IpAddress":{"aws:SourceIp":"2001:db8::/31"}}"#), true),
        ("SourceIp ::/0", allow(r#""*""#, r#"{"IpAddress":{"aws:SourceIp":"::/0"}}"#), true),
        ("NotIpAddress", allow(r#""*""#, r#"{"NotIpAddress":{"aws:SourceIp":"192.0.2.0/24"}}"#), true),
        ("SourceArn fixed", allow(r#""*""#, r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:cloudtrail:us-east-1:111122223333:trail/t"}}"#), false),
        ("SourceArn wildcard", allow(r#""*""#, r#"{"ArnLike":{"aws:SourceArn":"arn:aws:cloudtrail:*:111122223333:trail/*"}}"#), true),
        ("SourceAccount fixed", allow(r#""*""#, r#"{"StringEquals":{"aws:SourceAccount":"111122223333"}}"#), false),
        ("SourceOwner fixed", allow(r#""*""#, r#"{"StringEquals":{"aws:SourceOwner":"111122223333"}}"#), false),
        ("SourceVpce fixed", allow(r#""*""#, r#"{"StringEquals":{"aws:SourceVpce":"vpce-1a2b3c4d"}}"#), false),
        ("key name case-insensitive", allow(r#""*""#, r#"{"StringEquals":{"AWS:SOURCEVPCE":"vpce-1a2b3c4d"}}"#), false),
        ("SourceVpce IfExists", allow(r#""*""#, r#"{"StringEqualsIfExists":{"aws:SourceVpce":"vpce-1a2b3c4d"}}"#), true),
        ("SourceVpce StringNotEquals", allow(r#""*""#, r#"{"StringNotEquals":{"aws:SourceVpce":"vpce-1a2b3c4d"}}"#), true),
        ("SourceVpc ForAllValues", allow(r#""*""#, r#"{"ForAllValues:StringEquals":{"aws:SourceVpc":"vpc-1"}}"#), true),
        ("KMS key id fixed", allow(r#""*""#, r#"{"StringEquals":{"s3:x-amz-server-side-encryption-aws-kms-key-id":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}}"#), false),
        ("userid fixed", allow(r#""*""#, r#"{"StringEquals":{"aws:userid":"AIDAEXAMPLEID"}}"#), false),
        ("userid role sessions", allow(r#""*""#, r#"{"StringLike":{"aws:userid":"AROAEXAMPLEID:*"}}"#), false),
        ("userid wildcard", allow(r#""*""#, r#"{"StringLike":{"aws:userid":"AROA*"}}"#), true),
        ("PrincipalOrgID fixed", allow(r#""*""#, r#"{"StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}"#), false),
        ("PrincipalOrgID wildcard", allow(r#""*""#, r#"{"StringLike":{"aws:PrincipalOrgID":"o-*"}}"#), true),
        ("PrincipalAccount fixed", allow(r#""*""#, r#"{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}"#), false),
        ("policy variable is not fixed", allow(r#""*""#, r#"{"StringEquals":{"aws:SourceAccount":"${aws:PrincipalAccount}"}}"#), true),
        ("DataAccessPointAccount fixed", allow(r#""*""#, r#"{"StringEquals":{"s3:DataAccessPointAccount":"111122223333"}}"#), false),
        ("DataAccessPointArn name wildcard", allow(r#""*""#, r#"{"ArnLike":{"s3:DataAccessPointArn":"arn:aws:s3:us-west-2:123456789012:accesspoint/*"}}"#), false),
        ("DataAccessPointArn account wildcard", allow(r#""*""#, r#"{"ArnLike":{"s3:DataAccessPointArn":"arn:aws:s3:us-west-2:*:accesspoint/*"}}"#), true),
        ("unrelated condition", allow(r#""*""#, r#"{"Bool":{"aws:SecureTransport":"true"}}"#), true),
        ("unrelated plus restricting", allow(r#""*""#, r#"{"Bool":{"aws:SecureTransport":"true"},"StringEquals":{"aws:SourceAccount":"111122223333"}}"#), false),
        ("Deny to everyone", r#"{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#.to_owned(), false),
        ("NotPrincipal Allow", r#"{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#.to_owned(), true),
    ];
    for (what, statements, public) in cases {
        assert_eq!(
            is_public(&policy(statements)),
            *public,
            "{what}: {statements}"
        );
    }
}

#[test]
fn settings() {
    let on = PublicAccessBlock::all_on();
    assert!(
        on.block_public_acls
            && on.ignore_public_acls
            && on.block_public_policy
            && on.restrict_public_buckets
    );
    let off = PublicAccessBlock::default();
    assert_eq!(off.stricter(on), on);
    let one = PublicAccessBlock {
        block_public_policy: true,
        ..off
    };
    assert_eq!(off.stricter(one), one);
    let public = policy(&allow(r#""*""#, ""));
    assert!(on.blocks_policy(&public));
    assert!(!off.blocks_policy(&public));
    assert!(!on.blocks_policy(&policy(&allow(r#"{"AWS":"111122223333"}"#, ""))));
    assert_eq!(
        PublicAccessBlock::from_xml(on.to_xml().as_bytes()).expect("round trip"),
        on
    );
    assert_eq!(
        PublicAccessBlock::from_xml(b"<Nope/>").map_err(|e| e.code()),
        Err(crate::s3::S3ErrorCode::MalformedXML)
    );
}
