//! Bucket default encryption (`PutBucketEncryption` XML) and the encryption statements of bucket policies
//! (`FORMATS.md` §3.2 and §4): accepted documents, every refusal with its exact status and code, the four
//! policy patterns of §4 on matching and non-matching requests, and property tests that neither parser
//! panics on any input.

use proptest::prelude::*;
use s3crypt::sse::S3Error;
use s3crypt::sse::bucket::{
    BlockedType, BucketEncryption, BucketPolicy, Decision, DefaultSse, PolicyRequest,
    S3_XML_NAMESPACE,
};

const KEY_ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const BUCKET: &str = "amzn-s3-demo-bucket";
const ALICE: &str = "arn:aws:iam::111122223333:user/alice";

fn parse_ok(xml: &str) -> BucketEncryption {
    match BucketEncryption::parse_xml(xml) {
        Ok(config) => config,
        Err(e) => panic!("expected {xml:?} to parse, got {e}"),
    }
}

fn parse_err(xml: &str) -> S3Error {
    match BucketEncryption::parse_xml(xml) {
        Ok(config) => panic!("expected {xml:?} to be refused, got {config:?}"),
        Err(e) => e,
    }
}

/// A `ServerSideEncryptionConfiguration` in the S3 namespace around `rules`.
fn doc(rules: &str) -> String {
    format!(
        "<ServerSideEncryptionConfiguration xmlns=\"{S3_XML_NAMESPACE}\">{rules}</ServerSideEncryptionConfiguration>"
    )
}

fn rule_with(default: &str) -> String {
    doc(&format!(
        "<Rule><ApplyServerSideEncryptionByDefault>{default}</ApplyServerSideEncryptionByDefault></Rule>"
    ))
}

// ---------------------------------------------------------------------------------------------------------
// PutBucketEncryption: accepted documents

#[test]
fn formats_example_kms_with_key_bucket_key_and_sse_c_block() {
    // FORMATS.md §4, with the aws:kms alternative filled in, pretty-printed as the AWS docs show it.
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Rule>
    <ApplyServerSideEncryptionByDefault>
      <SSEAlgorithm>aws:kms</SSEAlgorithm>
      <KMSMasterKeyID>{KEY_ARN}</KMSMasterKeyID>      <!-- only for aws:kms / aws:kms:dsse -->
    </ApplyServerSideEncryptionByDefault>
    <BucketKeyEnabled>true</BucketKeyEnabled>
    <BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType></BlockedEncryptionTypes>
  </Rule>
</ServerSideEncryptionConfiguration>
"#
    );
    let config = parse_ok(&xml);
    assert_eq!(
        config,
        BucketEncryption {
            default: DefaultSse::Kms {
                key_id: Some(KEY_ARN.into()),
                bucket_key: true
            },
            blocked: vec![BlockedType::SseC],
        }
    );
    assert!(config.blocks_sse_c());
    assert_eq!(config.default.algorithm(), "aws:kms");
    assert_eq!(config.default.kms_key_id(), Some(KEY_ARN));
    assert!(config.default.bucket_key());
}

#[test]
fn aes256_without_namespace_or_declaration() {
    let xml = "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>\
               <SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>\
               </ServerSideEncryptionConfiguration>";
    let config = parse_ok(xml);
    assert_eq!(
        config,
        BucketEncryption {
            default: DefaultSse::S3,
            blocked: vec![]
        }
    );
    assert!(!config.blocks_sse_c());
    assert_eq!(config.default.kms_key_id(), None);
}

#[test]
fn kms_variants() {
    let cases = [
        (
            "<SSEAlgorithm>aws:kms</SSEAlgorithm>",
            "",
            DefaultSse::Kms {
                key_id: None,
                bucket_key: false,
            },
        ),
        (
            "<SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>alias/s3-default</KMSMasterKeyID>",
            "<BucketKeyEnabled>false</BucketKeyEnabled>",
            DefaultSse::Kms {
                key_id: Some("alias/s3-default".into()),
                bucket_key: false,
            },
        ),
        (
            // Element order inside a container is free.
            "<KMSMasterKeyID>1234abcd</KMSMasterKeyID><SSEAlgorithm>aws:kms</SSEAlgorithm>",
            "<BucketKeyEnabled>1</BucketKeyEnabled>",
            DefaultSse::Kms {
                key_id: Some("1234abcd".into()),
                bucket_key: true,
            },
        ),
        (
            "<SSEAlgorithm>aws:kms:dsse</SSEAlgorithm>",
            "",
            DefaultSse::DsseKms { key_id: None },
        ),
        (
            "<SSEAlgorithm>aws:kms:dsse</SSEAlgorithm><KMSMasterKeyID>arn:aws:kms:eu-west-1:111122223333:key/x</KMSMasterKeyID>",
            // DSSE has no bucket keys: accepted and not kept (as S3 does for AES256).
            "<BucketKeyEnabled>true</BucketKeyEnabled>",
            DefaultSse::DsseKms {
                key_id: Some("arn:aws:kms:eu-west-1:111122223333:key/x".into()),
            },
        ),
        (
            "<SSEAlgorithm>AES256</SSEAlgorithm>",
            // S3 accepts SSE-S3 with BucketKeyEnabled true; objects report no bucket key (FORMATS-adjacent capture).
            "<BucketKeyEnabled>true</BucketKeyEnabled>",
            DefaultSse::S3,
        ),
    ];
    for (default, extra, expected) in cases {
        let xml = doc(&format!(
            "<Rule><ApplyServerSideEncryptionByDefault>{default}</ApplyServerSideEncryptionByDefault>{extra}</Rule>"
        ));
        assert_eq!(parse_ok(&xml).default, expected, "{xml}");
    }
}

#[test]
fn blocked_encryption_types() {
    let with_blocked = |types: &str| {
        doc(&format!(
            "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>\
             </ApplyServerSideEncryptionByDefault><BlockedEncryptionTypes>{types}</BlockedEncryptionTypes></Rule>"
        ))
    };
    let sse_c = parse_ok(&with_blocked("<EncryptionType>SSE-C</EncryptionType>"));
    assert_eq!(sse_c.blocked, vec![BlockedType::SseC]);
    assert!(sse_c.blocks_sse_c());

    let none = parse_ok(&with_blocked("<EncryptionType>NONE</EncryptionType>"));
    assert_eq!(none.blocked, vec![BlockedType::None]);
    assert!(!none.blocks_sse_c());

    // A repeated value is one value.
    let twice = parse_ok(&with_blocked(
        "<EncryptionType>SSE-C</EncryptionType><EncryptionType>SSE-C</EncryptionType>",
    ));
    assert_eq!(twice.blocked, vec![BlockedType::SseC]);

    // AWS's own "unblock SSE-C" body has no ApplyServerSideEncryptionByDefault: the default is SSE-S3.
    let unblock = parse_ok(&doc(
        "<Rule><BlockedEncryptionTypes><EncryptionType>NONE</EncryptionType></BlockedEncryptionTypes></Rule>",
    ));
    assert_eq!(
        unblock,
        BucketEncryption {
            default: DefaultSse::S3,
            blocked: vec![BlockedType::None]
        }
    );
}

#[test]
fn xml_syntax_variants_are_accepted() {
    let expected = BucketEncryption {
        default: DefaultSse::Kms {
            key_id: Some("key&<id>".into()),
            bucket_key: true,
        },
        blocked: vec![BlockedType::SseC],
    };
    let body = "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm>\
                <KMSMasterKeyID>key&amp;&lt;id&gt;</KMSMasterKeyID></ApplyServerSideEncryptionByDefault>\
                <BucketKeyEnabled>true</BucketKeyEnabled>\
                <BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType></BlockedEncryptionTypes></Rule>";
    let variants = [
        doc(body),
        // byte-order mark and declaration
        format!(
            "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>{}",
            doc(body)
        ),
        // prefixed namespace
        format!(
            "<s3:ServerSideEncryptionConfiguration xmlns:s3=\"{S3_XML_NAMESPACE}\">{}</s3:ServerSideEncryptionConfiguration>",
            body.replace('<', "<s3:").replace("<s3:/", "</s3:")
        ),
        // CRLF and tabs between elements, whitespace around values, comments and a processing instruction
        doc(&body
            .replace("><", ">\r\n\t<")
            .replace(">aws:kms<", ">  aws:kms \n<")
            .replace("<Rule>", "<!-- the rule --><?note x?><Rule>")),
        // CDATA and character references
        doc(&body
            .replace(">aws:kms<", "><![CDATA[aws:kms]]><")
            .replace(">true<", ">&#116;rue<")
            .replace(">SSE-C<", ">SSE&#x2D;C<")),
        // attributes are ignored
        doc(&body.replace("<Rule>", "<Rule id=\"1\">")),
        // a comment splitting a value
        doc(&body.replace(">SSE-C<", ">SSE-<!-- split -->C<")),
    ];
    for xml in &variants {
        assert_eq!(parse_ok(xml), expected, "{xml}");
    }
}

#[test]
fn round_trip_through_to_xml() {
    let configs = [
        BucketEncryption::new_bucket_default(),
        BucketEncryption {
            default: DefaultSse::S3,
            blocked: vec![],
        },
        BucketEncryption {
            default: DefaultSse::S3,
            blocked: vec![BlockedType::None],
        },
        BucketEncryption {
            default: DefaultSse::Kms {
                key_id: Some(KEY_ARN.into()),
                bucket_key: true,
            },
            blocked: vec![BlockedType::SseC],
        },
        BucketEncryption {
            default: DefaultSse::Kms {
                key_id: None,
                bucket_key: false,
            },
            blocked: vec![],
        },
        BucketEncryption {
            default: DefaultSse::DsseKms {
                key_id: Some("alias/a&b<c>\"'".into()),
            },
            blocked: vec![BlockedType::None],
        },
        BucketEncryption {
            default: DefaultSse::DsseKms { key_id: None },
            blocked: vec![BlockedType::SseC],
        },
    ];
    for config in configs {
        let xml = config.to_xml();
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ServerSideEncryptionConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"));
        assert_eq!(parse_ok(&xml), config, "{xml}");
    }
}

#[test]
fn new_bucket_default_blocks_sse_c() {
    let config = BucketEncryption::new_bucket_default();
    assert_eq!(config.default, DefaultSse::S3);
    assert!(config.blocks_sse_c());
    assert_eq!(
        config.to_xml(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <ServerSideEncryptionConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Rule>\
         <ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>\
         <BucketKeyEnabled>false</BucketKeyEnabled>\
         <BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType></BlockedEncryptionTypes>\
         </Rule></ServerSideEncryptionConfiguration>"
    );
}

#[test]
fn a_put_without_blocked_types_keeps_the_block() {
    let current = BucketEncryption::new_bucket_default();
    let put = parse_ok(&rule_with("<SSEAlgorithm>aws:kms</SSEAlgorithm>"));
    let stored = put.applied_over(&current);
    assert_eq!(
        stored.default,
        DefaultSse::Kms {
            key_id: None,
            bucket_key: false
        }
    );
    assert!(stored.blocks_sse_c());

    let unblock = parse_ok(&doc(
        "<Rule><BlockedEncryptionTypes><EncryptionType>NONE</EncryptionType></BlockedEncryptionTypes></Rule>",
    ));
    let stored = unblock.applied_over(&stored);
    assert_eq!(
        stored,
        BucketEncryption {
            default: DefaultSse::S3,
            blocked: vec![BlockedType::None]
        }
    );
    assert!(!stored.blocks_sse_c());
}

// ---------------------------------------------------------------------------------------------------------
// PutBucketEncryption: refusals

#[test]
fn aes256_with_kms_key_is_invalid_argument() {
    for key in [
        "<KMSMasterKeyID>arn:aws:kms:us-east-1:111122223333:key/x</KMSMasterKeyID>",
        "<KMSMasterKeyID/>",
    ] {
        let e = parse_err(&rule_with(&format!(
            "<SSEAlgorithm>AES256</SSEAlgorithm>{key}"
        )));
        assert_eq!(
            (e.status(), e.code().as_str(), e.message()),
            (
                400,
                "InvalidArgument",
                "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse"
            )
        );
    }
}

#[test]
fn schema_errors_come_before_the_kms_key_error() {
    let aes_with_key = "<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>\
                        <KMSMasterKeyID>k</KMSMasterKeyID></ApplyServerSideEncryptionByDefault>";
    for extra in [
        "<BucketKeyEnabled>maybe</BucketKeyEnabled>",
        "<BlockedEncryptionTypes><EncryptionType>SSE-S3</EncryptionType></BlockedEncryptionTypes>",
        "<Unknown/>",
    ] {
        let xml = doc(&format!("<Rule>{aes_with_key}{extra}</Rule>"));
        assert_eq!(parse_err(&xml), S3Error::malformed_xml(), "{xml}");
    }
    let xml = doc(&format!(
        "<Rule>{aes_with_key}</Rule><Rule>{aes_with_key}</Rule>"
    ));
    assert_eq!(parse_err(&xml), S3Error::malformed_xml());
}

#[test]
fn malformed_documents_are_malformed_xml() {
    let aes = "<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>";
    let rule = format!("<Rule>{aes}</Rule>");
    let cases: Vec<(&str, String)> = vec![
        ("empty body", String::new()),
        ("whitespace only", " \n ".into()),
        ("not XML", "AES256".into()),
        (
            "JSON",
            r#"{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}"#
                .into(),
        ),
        (
            "unclosed root",
            format!("<ServerSideEncryptionConfiguration>{rule}"),
        ),
        (
            "truncated tag",
            format!("<ServerSideEncryptionConfiguration>{rule}</ServerSideEncryptionConfigura"),
        ),
        ("mismatched end tag", doc(&format!("<Rule>{aes}</Rules>"))),
        (
            "unescaped ampersand",
            rule_with("<SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>a&b</KMSMasterKeyID>"),
        ),
        (
            "undefined entity",
            rule_with("<SSEAlgorithm>&aes;</SSEAlgorithm>"),
        ),
        ("no rule", doc("")),
        ("two rules", doc(&format!("{rule}{rule}"))),
        ("three rules", doc(&format!("{rule}{rule}{rule}"))),
        ("empty rule", doc("<Rule/>")),
        ("empty rule, explicit", doc("<Rule></Rule>")),
        (
            "wrong root",
            format!("<ServerSideEncryptionRule>{rule}</ServerSideEncryptionRule>"),
        ),
        (
            "lower-case root",
            format!(
                "<serversideencryptionconfiguration>{rule}</serversideencryptionconfiguration>"
            ),
        ),
        ("rule as root", rule.clone()),
        (
            "foreign namespace",
            format!(
                "<ServerSideEncryptionConfiguration xmlns=\"http://example.com/\">{rule}</ServerSideEncryptionConfiguration>"
            ),
        ),
        (
            "foreign namespace on a child",
            doc(&format!("<Rule xmlns=\"urn:other\">{aes}</Rule>")),
        ),
        (
            "undeclared prefix",
            format!(
                "<s3:ServerSideEncryptionConfiguration>{rule}</s3:ServerSideEncryptionConfiguration>"
            ),
        ),
        (
            "unknown element in Rule",
            doc(&format!("<Rule>{aes}<Priority>1</Priority></Rule>")),
        ),
        (
            "unknown element in default",
            rule_with("<SSEAlgorithm>AES256</SSEAlgorithm><KMSKeyID>k</KMSKeyID>"),
        ),
        ("unknown element at top", doc(&format!("{rule}<Extra/>"))),
        (
            "text in a container",
            doc(&format!("<Rule>{aes}oops</Rule>")),
        ),
        ("text in the root", doc(&format!("{rule}oops"))),
        (
            "element inside a value",
            rule_with("<SSEAlgorithm><b>AES256</b></SSEAlgorithm>"),
        ),
        (
            "repeated SSEAlgorithm",
            rule_with("<SSEAlgorithm>AES256</SSEAlgorithm><SSEAlgorithm>AES256</SSEAlgorithm>"),
        ),
        ("repeated default", doc(&format!("<Rule>{aes}{aes}</Rule>"))),
        (
            "repeated BucketKeyEnabled",
            doc(&format!(
                "<Rule>{aes}<BucketKeyEnabled>true</BucketKeyEnabled><BucketKeyEnabled>true</BucketKeyEnabled></Rule>"
            )),
        ),
        ("missing SSEAlgorithm", rule_with("")),
        (
            "only a key id",
            rule_with("<KMSMasterKeyID>k</KMSMasterKeyID>"),
        ),
        ("empty SSEAlgorithm", rule_with("<SSEAlgorithm/>")),
        (
            "unknown algorithm",
            rule_with("<SSEAlgorithm>AES128</SSEAlgorithm>"),
        ),
        (
            "algorithm case",
            rule_with("<SSEAlgorithm>aes256</SSEAlgorithm>"),
        ),
        (
            "aws:fsx is not a bucket default",
            rule_with("<SSEAlgorithm>aws:fsx</SSEAlgorithm>"),
        ),
        (
            "aws:backup is not a bucket default",
            rule_with("<SSEAlgorithm>aws:backup</SSEAlgorithm>"),
        ),
        (
            "SSE-C cannot be a default",
            rule_with("<SSEAlgorithm>SSE-C</SSEAlgorithm>"),
        ),
        (
            "empty key id with kms",
            rule_with("<SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>  </KMSMasterKeyID>"),
        ),
        (
            "BucketKeyEnabled not a boolean",
            doc(&format!(
                "<Rule>{aes}<BucketKeyEnabled>yes</BucketKeyEnabled></Rule>"
            )),
        ),
        (
            "BucketKeyEnabled case",
            doc(&format!(
                "<Rule>{aes}<BucketKeyEnabled>True</BucketKeyEnabled></Rule>"
            )),
        ),
        (
            "unknown EncryptionType",
            doc(
                "<Rule><BlockedEncryptionTypes><EncryptionType>SSE-KMS</EncryptionType></BlockedEncryptionTypes></Rule>",
            ),
        ),
        (
            "empty BlockedEncryptionTypes",
            doc(&format!("<Rule>{aes}<BlockedEncryptionTypes/></Rule>")),
        ),
        (
            "SSE-C and NONE together",
            doc(
                "<Rule><BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType><EncryptionType>NONE</EncryptionType></BlockedEncryptionTypes></Rule>",
            ),
        ),
        (
            "repeated BlockedEncryptionTypes",
            doc(
                "<Rule><BlockedEncryptionTypes><EncryptionType>NONE</EncryptionType></BlockedEncryptionTypes><BlockedEncryptionTypes><EncryptionType>NONE</EncryptionType></BlockedEncryptionTypes></Rule>",
            ),
        ),
        ("two roots", format!("{}{}", doc(&rule), doc(&rule))),
        ("text after the root", format!("{}trailing", doc(&rule))),
        (
            "declaration not first",
            format!(" <?xml version=\"1.0\"?>{}", doc(&rule)),
        ),
        (
            "declaration after the root",
            format!("{}<?xml version=\"1.0\"?>", doc(&rule)),
        ),
        (
            "DTD",
            format!(
                "<!DOCTYPE ServerSideEncryptionConfiguration [<!ENTITY a \"AES256\">]>{}",
                rule_with("<SSEAlgorithm>&a;</SSEAlgorithm>")
            ),
        ),
        (
            "malformed attribute",
            doc(&format!("<Rule id=>{aes}</Rule>")),
        ),
        (
            "duplicate attribute",
            doc(&format!("<Rule a=\"1\" a=\"2\">{aes}</Rule>")),
        ),
        (
            "CDATA in a container",
            doc(&format!("<Rule><![CDATA[x]]>{aes}</Rule>")),
        ),
        (
            "character reference in a container",
            doc(&format!("<Rule>&#65;{aes}</Rule>")),
        ),
        (
            "invalid character reference",
            rule_with("<SSEAlgorithm>&#0;</SSEAlgorithm>"),
        ),
    ];
    for (name, xml) in cases {
        let e = parse_err(&xml);
        assert_eq!(e, S3Error::malformed_xml(), "{name}: {xml}");
        assert_eq!(
            (e.status(), e.code().as_str()),
            (400, "MalformedXML"),
            "{name}"
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// Bucket policy: the four patterns of FORMATS.md §4

fn policy(statements: &str) -> BucketPolicy {
    let json = format!(r#"{{"Version":"2012-10-17","Statement":{statements}}}"#);
    match BucketPolicy::parse(&json, BUCKET) {
        Ok(p) => p,
        Err(e) => panic!("expected {json} to parse, got {e}"),
    }
}

/// A PUT of `photos/cat.jpg` by alice over TLS without encryption headers.
fn put() -> PolicyRequest<'static> {
    PolicyRequest {
        action: "s3:PutObject",
        bucket: BUCKET,
        key: "photos/cat.jpg",
        principal: ALICE,
        secure_transport: true,
        sse_header: None,
        kms_key_id_header: None,
        sse_c_algorithm_header: None,
    }
}

fn get() -> PolicyRequest<'static> {
    PolicyRequest {
        action: "s3:GetObject",
        ..put()
    }
}

fn deny(sid: &str) -> Decision {
    Decision::Deny {
        sid: Some(sid.to_owned()),
    }
}

#[test]
fn deny_insecure_transport() {
    let p = policy(
        r#"[{"Sid":"DenyInsecure","Effect":"Deny","Principal":"*","Action":"s3:*",
             "Resource":["arn:aws:s3:::amzn-s3-demo-bucket","arn:aws:s3:::amzn-s3-demo-bucket/*"],
             "Condition":{"Bool":{"aws:SecureTransport":"false"}}}]"#,
    );
    let insecure = |r: PolicyRequest<'static>| PolicyRequest {
        secure_transport: false,
        ..r
    };
    assert_eq!(p.evaluate(&insecure(put())), deny("DenyInsecure"));
    assert_eq!(p.evaluate(&insecure(get())), deny("DenyInsecure"));
    // Bucket-level request: the resource is the bucket ARN.
    assert_eq!(
        p.evaluate(&insecure(PolicyRequest {
            action: "s3:ListBucket",
            key: "",
            ..put()
        })),
        deny("DenyInsecure")
    );
    // Anonymous callers match Principal "*".
    assert_eq!(
        p.evaluate(&insecure(PolicyRequest {
            principal: "",
            ..get()
        })),
        deny("DenyInsecure")
    );
    assert_eq!(p.evaluate(&put()), Decision::NoOpinion);
    assert_eq!(p.evaluate(&get()), Decision::NoOpinion);
    // JSON boolean written without quotes means the same.
    let p = policy(
        r#"{"Effect":"Deny","Principal":"*","Action":"*","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
            "Condition":{"Bool":{"aws:securetransport":false}}}"#,
    );
    assert_eq!(p.evaluate(&insecure(put())), Decision::Deny { sid: None });
    assert_eq!(p.evaluate(&put()), Decision::NoOpinion);
}

#[test]
fn deny_wrong_sse_type_with_string_not_equals() {
    let p = policy(
        r#"[{"Sid":"KmsOnly","Effect":"Deny","Principal":"*","Action":"s3:PutObject",
             "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
             "Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}}]"#,
    );
    assert_eq!(
        p.evaluate(&PolicyRequest {
            sse_header: Some("aws:kms"),
            ..put()
        }),
        Decision::NoOpinion
    );
    assert_eq!(
        p.evaluate(&PolicyRequest {
            sse_header: Some("AES256"),
            ..put()
        }),
        deny("KmsOnly")
    );
    assert_eq!(
        p.evaluate(&PolicyRequest {
            sse_header: Some("aws:kms:dsse"),
            ..put()
        }),
        deny("KmsOnly")
    );
    // StringNotEquals on an absent key is true: a header-less PUT is denied even if the default is aws:kms.
    assert_eq!(p.evaluate(&put()), deny("KmsOnly"));
    // Values are case-sensitive.
    assert_eq!(
        p.evaluate(&PolicyRequest {
            sse_header: Some("AWS:KMS"),
            ..put()
        }),
        deny("KmsOnly")
    );
    // Other actions are untouched.
    assert_eq!(p.evaluate(&get()), Decision::NoOpinion);

    // A list of values is any-of; for the negated operator, "none of".
    let p = policy(
        r#"{"Sid":"KmsFamily","Effect":"Deny","Principal":"*","Action":"s3:PutObject",
            "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
            "Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":["aws:kms","aws:kms:dsse"]}}}"#,
    );
    assert_eq!(
        p.evaluate(&PolicyRequest {
            sse_header: Some("aws:kms:dsse"),
            ..put()
        }),
        Decision::NoOpinion
    );
    assert_eq!(
        p.evaluate(&PolicyRequest {
            sse_header: Some("aws:kms"),
            ..put()
        }),
        Decision::NoOpinion
    );
    assert_eq!(
        p.evaluate(&PolicyRequest {
            sse_header: Some("AES256"),
            ..put()
        }),
        deny("KmsFamily")
    );
}

#[test]
fn deny_missing_header_with_null_also_denies_default_encryption() {
    let p = policy(
        r#"[{"Sid":"RequireHeader","Effect":"Deny","Principal":"*","Action":"s3:PutObject",
             "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
             "Condition":{"Null":{"s3:x-amz-server-side-encryption":"true"}}}]"#,
    );
    // The bucket's default encryption (whatever it is) does not put the header in the request:
    // FORMATS.md §4 — the key reflects the request header.
    let relies_on_default = put();
    assert_eq!(relies_on_default.sse_header, None);
    assert_eq!(p.evaluate(&relies_on_default), deny("RequireHeader"));
    assert_eq!(
        p.evaluate(&PolicyRequest {
            sse_header: Some("AES256"),
            ..put()
        }),
        Decision::NoOpinion
    );
    assert_eq!(
        p.evaluate(&PolicyRequest {
            sse_header: Some("aws:kms"),
            ..put()
        }),
        Decision::NoOpinion
    );
    // An SSE-C PUT has no x-amz-server-side-encryption header either.
    assert_eq!(
        p.evaluate(&PolicyRequest {
            sse_c_algorithm_header: Some("AES256"),
            ..put()
        }),
        deny("RequireHeader")
    );
}

#[test]
fn pin_the_kms_key() {
    let p = policy(&format!(
        r#"[{{"Sid":"PinKey","Effect":"Deny","Principal":"*","Action":"s3:PutObject",
              "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
              "Condition":{{"StringNotEquals":{{"s3:x-amz-server-side-encryption-aws-kms-key-id":"{KEY_ARN}"}}}}}}]"#
    ));
    let kms = |key: Option<&'static str>| PolicyRequest {
        sse_header: Some("aws:kms"),
        kms_key_id_header: key,
        ..put()
    };
    assert_eq!(p.evaluate(&kms(Some(KEY_ARN))), Decision::NoOpinion);
    assert_eq!(
        p.evaluate(&kms(Some("arn:aws:kms:us-east-1:111122223333:key/other"))),
        deny("PinKey")
    );
    // Without the key-id header (aws/s3 key, or the bucket default key) the key is absent: denied.
    assert_eq!(p.evaluate(&kms(None)), deny("PinKey"));
    assert_eq!(p.evaluate(&put()), deny("PinKey"));

    // IAM: an absent key makes an ...IfExists condition true, so the IfExists form still denies the
    // header-less PUT; pinning the key only when one is named takes StringNotEquals plus Null false.
    let if_exists = policy(&format!(
        r#"{{"Sid":"PinIfExists","Effect":"Deny","Principal":"*","Action":"s3:PutObject",
             "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
             "Condition":{{"StringNotEqualsIfExists":{{"s3:x-amz-server-side-encryption-aws-kms-key-id":"{KEY_ARN}"}}}}}}"#
    ));
    assert_eq!(if_exists.evaluate(&kms(None)), deny("PinIfExists"));
    assert_eq!(if_exists.evaluate(&kms(Some(KEY_ARN))), Decision::NoOpinion);
    let if_named = policy(&format!(
        r#"{{"Sid":"PinIfNamed","Effect":"Deny","Principal":"*","Action":"s3:PutObject",
             "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
             "Condition":{{"StringNotEquals":{{"s3:x-amz-server-side-encryption-aws-kms-key-id":"{KEY_ARN}"}},
                          "Null":{{"s3:x-amz-server-side-encryption-aws-kms-key-id":"false"}}}}}}"#
    ));
    assert_eq!(if_named.evaluate(&kms(None)), Decision::NoOpinion);
    assert_eq!(if_named.evaluate(&kms(Some(KEY_ARN))), Decision::NoOpinion);
    assert_eq!(
        if_named.evaluate(&kms(Some("alias/other"))),
        deny("PinIfNamed")
    );
}

#[test]
fn deny_or_require_sse_c_with_null_on_the_customer_algorithm() {
    let deny_sse_c = policy(
        r#"{"Sid":"NoSseC","Effect":"Deny","Principal":"*","Action":"s3:PutObject",
            "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
            "Condition":{"Null":{"s3:x-amz-server-side-encryption-customer-algorithm":"false"}}}"#,
    );
    let sse_c = PolicyRequest {
        sse_c_algorithm_header: Some("AES256"),
        ..put()
    };
    assert_eq!(deny_sse_c.evaluate(&sse_c), deny("NoSseC"));
    assert_eq!(deny_sse_c.evaluate(&put()), Decision::NoOpinion);
    assert_eq!(
        deny_sse_c.evaluate(&PolicyRequest {
            sse_header: Some("aws:kms"),
            ..put()
        }),
        Decision::NoOpinion
    );

    let require_sse_c = policy(
        r#"{"Sid":"OnlySseC","Effect":"Deny","Principal":"*","Action":"s3:PutObject",
            "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
            "Condition":{"Null":{"s3:x-amz-server-side-encryption-customer-algorithm":true}}}"#,
    );
    assert_eq!(require_sse_c.evaluate(&sse_c), Decision::NoOpinion);
    assert_eq!(require_sse_c.evaluate(&put()), deny("OnlySseC"));
    assert_eq!(
        require_sse_c.evaluate(&PolicyRequest {
            sse_header: Some("AES256"),
            ..put()
        }),
        deny("OnlySseC")
    );
}

// ---------------------------------------------------------------------------------------------------------
// Bucket policy: evaluation rules

#[test]
fn explicit_deny_wins_and_no_match_is_no_opinion() {
    let p = policy(
        r#"[{"Sid":"AliceWrites","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},
              "Action":["s3:PutObject","s3:GetObject"],"Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"},
             {"Sid":"KmsOnly","Effect":"Deny","Principal":"*","Action":"s3:Put*",
              "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
              "Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}}]"#,
    );
    assert_eq!(
        p.evaluate(&PolicyRequest {
            sse_header: Some("aws:kms"),
            ..put()
        }),
        Decision::Allow
    );
    assert_eq!(p.evaluate(&put()), deny("KmsOnly"));
    assert_eq!(p.evaluate(&get()), Decision::Allow);
    let bob = PolicyRequest {
        principal: "arn:aws:iam::111122223333:user/bob",
        ..get()
    };
    assert_eq!(p.evaluate(&bob), Decision::NoOpinion);
    // The engine acts for the bucket owner: only Deny refuses.
    assert_eq!(p.evaluate(&bob).enforce(), Ok(()));
    assert_eq!(p.evaluate(&get()).enforce(), Ok(()));
    let e = p.evaluate(&put()).enforce().expect_err("denied");
    assert_eq!(
        (e.status(), e.code().as_str(), e.message()),
        (403, "AccessDenied", "Access Denied")
    );
}

#[test]
fn principals_actions_and_resources() {
    let p = policy(
        r#"[{"Sid":"Account","Effect":"Deny","Principal":{"AWS":["444455556666","arn:aws:iam::777788889999:root"]},
              "Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"},
             {"Sid":"Secret","Effect":"Deny","Principal":{"AWS":"*"},"Action":"*",
              "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/secret/*"},
             {"Sid":"Service","Effect":"Deny","Principal":{"Service":"logging.s3.amazonaws.com"},
              "Action":"S3:PUTOBJECT","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/lo?s/*"}]"#,
    );
    let as_ = |principal: &'static str| PolicyRequest { principal, ..get() };
    assert_eq!(
        p.evaluate(&as_("arn:aws:iam::444455556666:user/eve")),
        deny("Account")
    );
    assert_eq!(
        p.evaluate(&as_("arn:aws:sts::777788889999:assumed-role/r/s")),
        deny("Account")
    );
    assert_eq!(p.evaluate(&as_(ALICE)), Decision::NoOpinion);
    assert_eq!(p.evaluate(&as_("")), Decision::NoOpinion);
    assert_eq!(
        p.evaluate(&PolicyRequest {
            key: "secret/plans.txt",
            ..get()
        }),
        deny("Secret")
    );
    assert_eq!(
        p.evaluate(&PolicyRequest {
            key: "secretive.txt",
            ..get()
        }),
        Decision::NoOpinion
    );
    let service = PolicyRequest {
        principal: "logging.s3.amazonaws.com",
        key: "logs/2026/a",
        ..put()
    };
    assert_eq!(p.evaluate(&service), deny("Service"));
    assert_eq!(
        p.evaluate(&PolicyRequest {
            key: "lots/x",
            ..service
        }),
        deny("Service")
    );
    assert_eq!(
        p.evaluate(&PolicyRequest {
            key: "log/x",
            ..service
        }),
        Decision::NoOpinion
    );
    // Another bucket's requests are not this policy's business.
    assert_eq!(
        p.evaluate(&PolicyRequest {
            bucket: "other",
            key: "secret/x",
            ..get()
        }),
        Decision::NoOpinion
    );
}

#[test]
fn string_operators_and_conditions_combine() {
    let p = policy(
        r#"[{"Sid":"Like","Effect":"Deny","Principal":"*","Action":"s3:PutObject",
              "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
              "Condition":{"StringLike":{"s3:x-amz-server-side-encryption-aws-kms-key-id":"arn:aws:kms:*:444455556666:key/*"}}},
             {"Sid":"Both","Effect":"Deny","Principal":"*","Action":"s3:PutObject",
              "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
              "Condition":{"StringEqualsIgnoreCase":{"S3:X-AMZ-SERVER-SIDE-ENCRYPTION":"aes256"},
                           "Bool":{"aws:SecureTransport":"FALSE"}}},
             {"Sid":"IfExists","Effect":"Deny","Principal":"*","Action":"s3:PutObject",
              "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
              "Condition":{"StringEqualsIfExists":{"s3:x-amz-server-side-encryption-customer-algorithm":"AES256"},
                           "StringNotLike":{"s3:x-amz-server-side-encryption":"aws:*"}}}]"#,
    );
    let foreign_key = PolicyRequest {
        sse_header: Some("aws:kms"),
        kms_key_id_header: Some("arn:aws:kms:eu-west-1:444455556666:key/k"),
        ..put()
    };
    assert_eq!(p.evaluate(&foreign_key), deny("Like"));
    assert_eq!(
        p.evaluate(&PolicyRequest {
            kms_key_id_header: Some(KEY_ARN),
            ..foreign_key
        }),
        Decision::NoOpinion
    );
    // All conditions of a statement must hold.
    let aes = PolicyRequest {
        sse_header: Some("AES256"),
        ..put()
    };
    assert_eq!(p.evaluate(&aes), deny("IfExists"));
    assert_eq!(
        p.evaluate(&PolicyRequest {
            secure_transport: false,
            ..aes
        }),
        deny("Both")
    );
    // IfExists: the absent customer algorithm holds, but StringNotLike "aws:*" fails for aws:kms.
    assert_eq!(
        p.evaluate(&PolicyRequest {
            sse_header: Some("aws:kms"),
            ..put()
        }),
        Decision::NoOpinion
    );
}

// ---------------------------------------------------------------------------------------------------------
// Bucket policy: refusals

#[test]
fn malformed_policies_are_malformed_policy() {
    let stmt = |fields: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"{fields}}}]}}"#
        )
    };
    let without = |field: &str| {
        let mut value: serde_json::Value = serde_json::from_str(&stmt("")).expect("json");
        value["Statement"][0]
            .as_object_mut()
            .expect("object")
            .remove(field);
        value.to_string()
    };
    let big = stmt(&format!(r#","Sid":"{}""#, "x".repeat(21_000)));
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "empty",
            String::new(),
            "Policies must be valid JSON and the first byte must be '{'",
        ),
        (
            "not JSON",
            "deny everything".into(),
            "Policies must be valid JSON and the first byte must be '{'",
        ),
        (
            "array",
            "[]".into(),
            "Policies must be valid JSON and the first byte must be '{'",
        ),
        (
            "XML",
            "<Policy/>".into(),
            "Policies must be valid JSON and the first byte must be '{'",
        ),
        (
            "truncated",
            r#"{"Statement":["#.into(),
            "This policy contains invalid Json",
        ),
        (
            "trailing garbage",
            format!("{} x", stmt("")),
            "This policy contains invalid Json",
        ),
        (
            "no Statement",
            r#"{"Version":"2012-10-17"}"#.into(),
            "Missing required field Statement",
        ),
        (
            "repeated key",
            stmt("").replace(r#""Effect":"Deny""#, r#""Effect":"Deny","Effect":"Allow""#),
            "This policy contains invalid Json",
        ),
        (
            "repeated top-level key",
            stmt("").replacen('{', r#"{"Statement":[],"#, 1),
            "This policy contains invalid Json",
        ),
        (
            "deep nesting",
            format!("{{\"Statement\":{}{}}}", "[".repeat(5000), "]".repeat(5000)),
            "This policy contains invalid Json",
        ),
        (
            "empty Statement",
            r#"{"Statement":[]}"#.into(),
            "Could not parse the policy: Statement is empty!",
        ),
        (
            "Statement a string",
            r#"{"Statement":"allow"}"#.into(),
            "This policy contains invalid Json",
        ),
        (
            "Statement list of strings",
            r#"{"Statement":["allow"]}"#.into(),
            "This policy contains invalid Json",
        ),
        (
            "bad Version",
            stmt("").replace("2012-10-17", "2020-01-01"),
            "The policy must contain a valid version string",
        ),
        (
            "unknown top-level field",
            stmt("").replacen('{', r#"{"Foo":1,"#, 1),
            "Unknown field Foo",
        ),
        (
            "bad Effect",
            stmt("").replace(r#""Deny""#, r#""Permit""#),
            "Invalid effect: Permit",
        ),
        (
            "lower-case Effect",
            stmt("").replace(r#""Deny""#, r#""deny""#),
            "Invalid effect: deny",
        ),
        (
            "Effect not a string",
            stmt("").replace(r#""Deny""#, "true"),
            "This policy contains invalid Json",
        ),
        (
            "missing Effect",
            without("Effect"),
            "Missing required field Effect",
        ),
        (
            "missing Principal",
            without("Principal"),
            "Missing required field Principal",
        ),
        (
            "missing Action",
            without("Action"),
            "Missing required field Action",
        ),
        (
            "missing Resource",
            without("Resource"),
            "Missing required field Resource",
        ),
        (
            "unknown statement field",
            stmt(r#","Bank":"x""#),
            "Unknown field Bank",
        ),
        (
            // NotAction is supported since the IAM engine (issue 12); a statement with both forms is
            // what stays malformed.
            "Action and NotAction",
            stmt(r#","NotAction":"s3:GetObject""#),
            "Statement cannot have both Action and NotAction",
        ),
        (
            "foreign bucket",
            stmt("").replace("amzn-s3-demo-bucket/*", "other-bucket/*"),
            "Policy has invalid resource",
        ),
        (
            "bucket prefix",
            stmt("").replace("amzn-s3-demo-bucket/*", "amzn-s3-demo-bucket-2/*"),
            "Policy has invalid resource",
        ),
        (
            "bucket wildcard",
            stmt("").replace("amzn-s3-demo-bucket/*", "amzn-s3-demo-*"),
            "Policy has invalid resource",
        ),
        (
            "any resource",
            stmt("").replace("arn:aws:s3:::amzn-s3-demo-bucket/*", "*"),
            "Policy has invalid resource",
        ),
        (
            "not an S3 ARN",
            stmt("").replace("arn:aws:s3:::", "arn:aws:sqs:::"),
            "Policy has invalid resource",
        ),
        (
            "empty resource list",
            stmt("").replace(r#""arn:aws:s3:::amzn-s3-demo-bucket/*""#, "[]"),
            "Policy has invalid resource",
        ),
        (
            "other service action",
            stmt("").replace("s3:PutObject", "ec2:RunInstances"),
            "Policy has invalid action",
        ),
        (
            "bare action",
            stmt("").replace("s3:PutObject", "PutObject"),
            "Policy has invalid action",
        ),
        (
            "empty action list",
            stmt("").replace(r#""s3:PutObject""#, "[]"),
            "Policy has invalid action",
        ),
        (
            "object action on the bucket",
            stmt("").replace("amzn-s3-demo-bucket/*", "amzn-s3-demo-bucket"),
            "Action does not apply to any resource(s) in statement",
        ),
        (
            "bucket action on objects",
            stmt("").replace("s3:PutObject", "s3:ListBucket"),
            "Action does not apply to any resource(s) in statement",
        ),
        (
            "principal of unknown type",
            stmt("").replace(r#""Principal":"*""#, r#""Principal":{"Federated":"x"}"#),
            "Invalid principal in policy",
        ),
        (
            "principal not an ARN",
            stmt("").replace(r#""Principal":"*""#, r#""Principal":{"AWS":"alice"}"#),
            "Invalid principal in policy",
        ),
        (
            "principal a bare string",
            stmt("").replace(r#""Principal":"*""#, r#""Principal":"alice""#),
            "Invalid principal in policy",
        ),
        (
            "empty principal list",
            stmt("").replace(r#""Principal":"*""#, r#""Principal":{"AWS":[]}"#),
            "Invalid principal in policy",
        ),
        (
            // Numeric operators are supported since the IAM engine; on a string key they could
            // never match, so they stay refused with the key's type named.
            "numeric operator on a string key",
            stmt(r#","Condition":{"NumericEquals":{"s3:x-amz-server-side-encryption":"1"}}"#),
            "Condition operator NumericEquals does not apply to the string key s3:x-amz-server-side-encryption",
        ),
        (
            "unknown operator",
            stmt(r#","Condition":{"NumericEqual":{"s3:max-keys":"1"}}"#),
            "Invalid Condition type : NumericEqual",
        ),
        (
            "misspelt operator",
            stmt(r#","Condition":{"StringEqual":{"s3:x-amz-server-side-encryption":"AES256"}}"#),
            "Invalid Condition type : StringEqual",
        ),
        (
            // ForAnyValue:/ForAllValues: are supported since the IAM engine; a set prefix on an
            // unknown operator stays refused.
            "set operator on an unknown operator",
            stmt(
                r#","Condition":{"ForAnyValue:StringEqual":{"s3:x-amz-server-side-encryption":"AES256"}}"#,
            ),
            "Invalid Condition type : ForAnyValue:StringEqual",
        ),
        (
            "NullIfExists",
            stmt(r#","Condition":{"NullIfExists":{"s3:x-amz-server-side-encryption":"true"}}"#),
            "Invalid Condition type : NullIfExists",
        ),
        (
            // s3:x-amz-acl is a real S3 key (S3-FEATURES.md §11.2), accepted since the IAM engine.
            "unknown condition key",
            stmt(r#","Condition":{"StringEquals":{"s3:x-amz-no-such-key":"private"}}"#),
            "Policy has an invalid condition key",
        ),
        (
            "KMS condition key in a bucket policy",
            stmt(
                r#","Condition":{"StringEquals":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}"#,
            ),
            "Policy has an invalid condition key",
        ),
        (
            "Bool on a string key",
            stmt(r#","Condition":{"Bool":{"s3:x-amz-server-side-encryption":"true"}}"#),
            "Condition operator Bool does not apply to the string key s3:x-amz-server-side-encryption",
        ),
        (
            "Null value not boolean",
            stmt(r#","Condition":{"Null":{"s3:x-amz-server-side-encryption":"maybe"}}"#),
            "Condition Null on s3:x-amz-server-side-encryption takes true or false",
        ),
        (
            "no condition value",
            stmt(r#","Condition":{"StringEquals":{"s3:x-amz-server-side-encryption":[]}}"#),
            "Condition StringEquals has no value for s3:x-amz-server-side-encryption",
        ),
        (
            "condition value an object",
            stmt(r#","Condition":{"StringEquals":{"s3:x-amz-server-side-encryption":{"a":1}}}"#),
            "This policy contains invalid Json",
        ),
        (
            "Condition not an object",
            stmt(r#","Condition":["x"]"#),
            "This policy contains invalid Json",
        ),
        (
            "too large",
            big,
            "Policy exceeds the maximum allowed document size.",
        ),
    ];
    for (name, json, message) in cases {
        match BucketPolicy::parse(&json, BUCKET) {
            Ok(p) => panic!("{name}: expected a refusal, got {p:?}"),
            Err(e) => assert_eq!(
                (e.status(), e.code().as_str(), e.message()),
                (400, "MalformedPolicy", message),
                "{name}: {json}"
            ),
        }
    }
}

#[test]
fn accepted_policy_shapes() {
    let shapes = [
        // No Version (S3 defaults to 2008-10-17), Id, single statement object, list forms.
        r#"{"Id":"p1","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}}"#,
        r#"  {"Version":"2008-10-17","Statement":[{"Sid":"a","Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::amzn-s3-demo-bucket/*"],"Condition":{}}]}"#,
        r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":["s3:ListBucket","s3:GetObject"],"Resource":["arn:aws:s3:::amzn-s3-demo-bucket","arn:aws:s3:::amzn-s3-demo-bucket/*"]}]}"#,
        r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:SomeFutureAction","Resource":"arn:aws:s3:::amzn-s3-demo-bucket"}]}"#,
        // Accepted since the IAM engine (issue 12): NotAction, NotPrincipal, NotResource, set operators,
        // numeric / date / IP / ARN operators, S3 keys beyond the encryption ones, policy variables.
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"NotAction":"s3:Get*","NotResource":"arn:aws:s3:::amzn-s3-demo-bucket/public/*"}]}"#,
        r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*","Condition":{"ForAnyValue:StringEquals":{"s3:x-amz-server-side-encryption":"AES256"},"StringEquals":{"s3:x-amz-acl":"private"}}}}"#,
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::amzn-s3-demo-bucket","Condition":{"NumericLessThanEquals":{"s3:max-keys":"10"},"IpAddress":{"aws:SourceIp":["192.0.2.0/24","2001:db8::/32"]},"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"},"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"}}}}"#,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:*","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/*"}}"#,
    ];
    for json in shapes {
        let p = BucketPolicy::parse(json, BUCKET).unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(p.bucket(), BUCKET);
    }
}

// ---------------------------------------------------------------------------------------------------------
// Property tests: no input panics either parser; every configuration round-trips.

/// Fragments that make random documents get past the tokenizer and into the schema walk.
fn xml_fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("<ServerSideEncryptionConfiguration>".to_owned()),
        Just(format!(
            "<ServerSideEncryptionConfiguration xmlns=\"{S3_XML_NAMESPACE}\">"
        )),
        Just("</ServerSideEncryptionConfiguration>".to_owned()),
        Just("<Rule>".to_owned()),
        Just("</Rule>".to_owned()),
        Just("<Rule/>".to_owned()),
        Just("<ApplyServerSideEncryptionByDefault>".to_owned()),
        Just("</ApplyServerSideEncryptionByDefault>".to_owned()),
        Just("<SSEAlgorithm>aws:kms</SSEAlgorithm>".to_owned()),
        Just("<SSEAlgorithm>AES256</SSEAlgorithm>".to_owned()),
        Just("<KMSMasterKeyID>k</KMSMasterKeyID>".to_owned()),
        Just("<BucketKeyEnabled>true</BucketKeyEnabled>".to_owned()),
        Just("<BlockedEncryptionTypes>".to_owned()),
        Just("</BlockedEncryptionTypes>".to_owned()),
        Just("<EncryptionType>SSE-C</EncryptionType>".to_owned()),
        Just("<EncryptionType>NONE</EncryptionType>".to_owned()),
        Just("<?xml version=\"1.0\"?>".to_owned()),
        Just("<!-- c -->".to_owned()),
        Just("<![CDATA[x]]>".to_owned()),
        Just("&amp;".to_owned()),
        Just("&#x41;".to_owned()),
        Just("<s3:Rule xmlns:s3=\"x\">".to_owned()),
        "[<>/&;#=\"' a-zA-Z:!?\\[\\]-]{0,8}",
    ]
}

fn json_fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just(",".to_owned()),
        Just(":".to_owned()),
        Just(r#""Statement""#.to_owned()),
        Just(r#""Effect":"Deny""#.to_owned()),
        Just(r#""Principal":"*""#.to_owned()),
        Just(r#""Principal":{"AWS":"111122223333"}"#.to_owned()),
        Just(r#""Action":"s3:*""#.to_owned()),
        Just(r#""Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*""#.to_owned()),
        Just(r#""Condition""#.to_owned()),
        Just(r#""StringNotEquals""#.to_owned()),
        Just(r#""Null""#.to_owned()),
        Just(r#""s3:x-amz-server-side-encryption""#.to_owned()),
        Just(r#""aws:SecureTransport""#.to_owned()),
        Just(r#""true""#.to_owned()),
        Just("null".to_owned()),
        Just("1e999".to_owned()),
        "[\"{}\\[\\],: a-zA-Z0-9*?/\\\\-]{0,8}",
    ]
}

fn arbitrary_config() -> impl Strategy<Value = BucketEncryption> {
    // Key ids as parse_xml can return them: no surrounding XML whitespace, not empty, XML 1.0 characters.
    let key_id = proptest::option::of(
        "[A-Za-z0-9:/_&<>\"'=.-][A-Za-z0-9:/_&<>\"'=. -]{0,40}[A-Za-z0-9:/_&<>\"'=.-]",
    );
    let default = prop_oneof![
        Just(DefaultSse::S3),
        (key_id.clone(), any::<bool>())
            .prop_map(|(key_id, bucket_key)| DefaultSse::Kms { key_id, bucket_key }),
        key_id.prop_map(|key_id| DefaultSse::DsseKms { key_id }),
    ];
    let blocked = prop_oneof![
        Just(vec![]),
        Just(vec![BlockedType::SseC]),
        Just(vec![BlockedType::None])
    ];
    (default, blocked).prop_map(|(default, blocked)| BucketEncryption { default, blocked })
}

fn sample_request(
    principal: String,
    key: String,
    sse: Option<String>,
    kms: Option<String>,
    tls: bool,
) {
    let p = BucketPolicy::parse(
        r#"{"Statement":[{"Effect":"Deny","Principal":{"AWS":["111122223333","arn:aws:iam::444455556666:root"]},"Action":"s3:*",
            "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/a*b?c",
            "Condition":{"StringLike":{"s3:x-amz-server-side-encryption-aws-kms-key-id":"*a*b*c*"},"Null":{"s3:x-amz-server-side-encryption":"false"},"Bool":{"aws:SecureTransport":"true"}}}]}"#,
        BUCKET,
    )
    .expect("fixture policy");
    let req = PolicyRequest {
        action: "s3:PutObject",
        bucket: BUCKET,
        key: &key,
        principal: &principal,
        secure_transport: tls,
        sse_header: sse.as_deref(),
        kms_key_id_header: kms.as_deref(),
        sse_c_algorithm_header: None,
    };
    let _ = p.evaluate(&req);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(target_arch = "aarch64") { 64 } else { 512 }))]

    #[test]
    fn parse_xml_never_panics_on_any_string(s in any::<String>()) {
        let _ = BucketEncryption::parse_xml(&s);
    }

    #[test]
    fn parse_xml_never_panics_on_xml_like_input(parts in proptest::collection::vec(xml_fragment(), 0..40)) {
        let _ = BucketEncryption::parse_xml(&parts.concat());
    }

    #[test]
    fn parse_xml_never_panics_on_mutated_documents(
        config in arbitrary_config(),
        cut in any::<prop::sample::Index>(),
        insert in "[<>&/ a-z]{0,3}",
    ) {
        let xml = config.to_xml();
        let mut at = cut.index(xml.len() + 1);
        while !xml.is_char_boundary(at) {
            at -= 1;
        }
        let _ = BucketEncryption::parse_xml(&xml[..at]);
        let _ = BucketEncryption::parse_xml(&format!("{}{insert}{}", &xml[..at], &xml[at..]));
    }

    #[test]
    fn to_xml_round_trips(config in arbitrary_config()) {
        prop_assert_eq!(BucketEncryption::parse_xml(&config.to_xml()), Ok(config));
    }

    #[test]
    fn policy_parse_never_panics_on_any_string(s in any::<String>(), bucket in "[a-z0-9.-]{0,12}") {
        let _ = BucketPolicy::parse(&s, &bucket);
    }

    #[test]
    fn policy_parse_never_panics_on_json_like_input(parts in proptest::collection::vec(json_fragment(), 0..40)) {
        let _ = BucketPolicy::parse(&parts.concat(), BUCKET);
    }

    #[test]
    fn policy_evaluate_never_panics(
        principal in ".{0,30}",
        key in ".{0,30}",
        sse in proptest::option::of(".{0,12}"),
        kms in proptest::option::of(".{0,30}"),
        tls in any::<bool>(),
    ) {
        sample_request(principal, key, sse, kms, tls);
    }
}
