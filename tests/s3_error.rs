//! The typed S3 errors: every code's status and message, the XML document (escaping, extras order,
//! resource and request id), the body-less HEAD form, and the cause chain of an `InternalError`.

use std::error::Error as _;
use std::io;

use s3crypt::s3::error::ErrorResponse;
use s3crypt::s3::{S3Error, S3ErrorCode};

#[test]
fn every_code_has_its_status() {
    let cases: &[(S3ErrorCode, &str, u16)] = &[
        (S3ErrorCode::AccessDenied, "AccessDenied", 403),
        (S3ErrorCode::AccessForbidden, "AccessForbidden", 403),
        (
            S3ErrorCode::AuthorizationQueryParametersError,
            "AuthorizationQueryParametersError",
            400,
        ),
        (S3ErrorCode::BadDigest, "BadDigest", 400),
        (S3ErrorCode::BadRequest, "BadRequest", 400),
        (S3ErrorCode::BucketAlreadyExists, "BucketAlreadyExists", 409),
        (
            S3ErrorCode::BucketAlreadyOwnedByYou,
            "BucketAlreadyOwnedByYou",
            409,
        ),
        (S3ErrorCode::BucketNotEmpty, "BucketNotEmpty", 409),
        (S3ErrorCode::EntityTooLarge, "EntityTooLarge", 400),
        (S3ErrorCode::EntityTooSmall, "EntityTooSmall", 400),
        (S3ErrorCode::IncompleteBody, "IncompleteBody", 400),
        (S3ErrorCode::InternalError, "InternalError", 500),
        (S3ErrorCode::InvalidAccessKeyId, "InvalidAccessKeyId", 403),
        (S3ErrorCode::InvalidArgument, "InvalidArgument", 400),
        (S3ErrorCode::InvalidBucketName, "InvalidBucketName", 400),
        (S3ErrorCode::InvalidBucketState, "InvalidBucketState", 409),
        (S3ErrorCode::InvalidDigest, "InvalidDigest", 400),
        (
            S3ErrorCode::InvalidEncryptionAlgorithmError,
            "InvalidEncryptionAlgorithmError",
            400,
        ),
        (S3ErrorCode::InvalidPart, "InvalidPart", 400),
        (S3ErrorCode::InvalidPartOrder, "InvalidPartOrder", 400),
        (S3ErrorCode::InvalidRange, "InvalidRange", 416),
        (S3ErrorCode::InvalidRequest, "InvalidRequest", 400),
        (S3ErrorCode::InvalidObjectState, "InvalidObjectState", 403),
        (S3ErrorCode::KeyTooLongError, "KeyTooLongError", 400),
        (S3ErrorCode::KmsDisabled, "KMS.DisabledException", 400),
        (
            S3ErrorCode::KmsInvalidCiphertext,
            "KMS.InvalidCiphertextException",
            400,
        ),
        (
            S3ErrorCode::KmsInvalidState,
            "KMS.KMSInvalidStateException",
            400,
        ),
        (S3ErrorCode::KmsNotFound, "KMS.NotFoundException", 400),
        (S3ErrorCode::MalformedPolicy, "MalformedPolicy", 400),
        (S3ErrorCode::MalformedXML, "MalformedXML", 400),
        (S3ErrorCode::MetadataTooLarge, "MetadataTooLarge", 400),
        (S3ErrorCode::MethodNotAllowed, "MethodNotAllowed", 405),
        (
            S3ErrorCode::MissingContentLength,
            "MissingContentLength",
            411,
        ),
        (S3ErrorCode::NoSuchBucket, "NoSuchBucket", 404),
        (S3ErrorCode::NoSuchBucketPolicy, "NoSuchBucketPolicy", 404),
        (S3ErrorCode::NoSuchKey, "NoSuchKey", 404),
        (S3ErrorCode::NoSuchUpload, "NoSuchUpload", 404),
        (S3ErrorCode::NoSuchVersion, "NoSuchVersion", 404),
        (S3ErrorCode::NotImplemented, "NotImplemented", 501),
        (S3ErrorCode::PreconditionFailed, "PreconditionFailed", 412),
        (
            S3ErrorCode::RequestHeaderSectionTooLarge,
            "RequestHeaderSectionTooLarge",
            400,
        ),
        (
            S3ErrorCode::RequestTimeTooSkewed,
            "RequestTimeTooSkewed",
            403,
        ),
        (S3ErrorCode::ServiceUnavailable, "ServiceUnavailable", 503),
        (
            S3ErrorCode::SignatureDoesNotMatch,
            "SignatureDoesNotMatch",
            403,
        ),
        (S3ErrorCode::SlowDown, "SlowDown", 503),
        (
            S3ErrorCode::ObjectLockConfigurationNotFoundError,
            "ObjectLockConfigurationNotFoundError",
            404,
        ),
    ];
    for &(code, name, status) in cases {
        assert_eq!((code.as_str(), code.status()), (name, status), "{code:?}");
        let e = S3Error::from_code(code);
        assert_eq!(
            (e.status(), e.code(), e.message()),
            (status, code, code.default_message())
        );
        assert_eq!(name.parse::<S3ErrorCode>(), Ok(code));
    }
}

#[test]
fn every_code_round_trips_and_has_a_message() {
    for &code in S3ErrorCode::ALL {
        assert_eq!(code.as_str().parse::<S3ErrorCode>(), Ok(code));
        assert!(!code.default_message().is_empty(), "{code:?}");
        assert!(
            (300..600).contains(&code.status()),
            "{code:?}: {}",
            code.status()
        );
        assert_eq!(code.to_string(), code.as_str());
    }
    assert!("NoSuchThing".parse::<S3ErrorCode>().is_err());
    assert!(
        "nosuchkey".parse::<S3ErrorCode>().is_err(),
        "codes are case-sensitive"
    );
}

#[test]
fn convenience_constructors_build_typed_codes() {
    let cases = [
        (
            S3Error::invalid_argument("a"),
            S3ErrorCode::InvalidArgument,
            "a",
        ),
        (
            S3Error::invalid_request("b"),
            S3ErrorCode::InvalidRequest,
            "b",
        ),
        (S3Error::access_denied("c"), S3ErrorCode::AccessDenied, "c"),
        (
            S3Error::malformed_policy("d"),
            S3ErrorCode::MalformedPolicy,
            "d",
        ),
        (
            S3Error::malformed_xml(),
            S3ErrorCode::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema.",
        ),
        (
            S3Error::invalid_encryption_algorithm(),
            S3ErrorCode::InvalidEncryptionAlgorithmError,
            "The Encryption request you specified is not valid. Supported value: AES256.",
        ),
        (
            S3Error::no_such_key(),
            S3ErrorCode::NoSuchKey,
            "The specified key does not exist.",
        ),
        (
            S3Error::invalid_range(),
            S3ErrorCode::InvalidRange,
            "The requested range is not satisfiable",
        ),
    ];
    for (e, code, message) in cases {
        assert_eq!((e.code(), e.message()), (code, message));
        assert_eq!(e.status(), code.status());
    }
    assert_eq!(S3Error::customer_key_mismatch().status(), 403);
    assert_eq!(S3Error::kms_requires_sigv4().code(), "InvalidArgument");
    assert_eq!(S3Error::no_such_bucket().status(), 404);
    assert_eq!(S3Error::no_such_upload().status(), 404);
    assert_eq!(S3Error::no_such_version().status(), 404);
    assert_eq!(S3Error::not_implemented("x").status(), 501);
}

#[test]
fn xml_has_code_message_extras_resource_request_id_in_order() {
    let e = S3Error::with_code(
        S3ErrorCode::AccessDenied,
        "There were headers present in the request which were not signed",
    )
    .with_extra("HeadersNotSigned", "x-amz-server-side-encryption")
    .with_extra("ServerTime", "2026-12-02T03:00:00Z")
    .with_resource("/bkt/key")
    .with_request_id("4442587FB7D0A2F9");
    assert_eq!(
        e.to_xml(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>\
         <Message>There were headers present in the request which were not signed</Message>\
         <HeadersNotSigned>x-amz-server-side-encryption</HeadersNotSigned>\
         <ServerTime>2026-12-02T03:00:00Z</ServerTime>\
         <Resource>/bkt/key</Resource><RequestId>4442587FB7D0A2F9</RequestId></Error>"
    );
    assert_eq!(e.resource(), Some("/bkt/key"));
    assert_eq!(e.request_id(), Some("4442587FB7D0A2F9"));
    assert_eq!(e.extras().len(), 2);
    assert_eq!(e.extras()[0].0, "HeadersNotSigned");
}

#[test]
fn xml_escapes_every_text() {
    let e = S3Error::invalid_argument("a <b> & \"c\" 'd'")
        .with_extra("ArgumentValue", "</ArgumentValue><Evil/>")
        .with_resource("/bkt/<&>");
    let x = e.to_xml();
    assert!(
        x.contains("<Message>a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;</Message>"),
        "{x}"
    );
    assert!(
        x.contains("<ArgumentValue>&lt;/ArgumentValue&gt;&lt;Evil/&gt;</ArgumentValue>"),
        "{x}"
    );
    assert!(x.contains("<Resource>/bkt/&lt;&amp;&gt;</Resource>"), "{x}");
    assert!(!x.contains("<Evil/>"));
}

#[test]
fn minimal_xml_has_no_resource_or_request_id() {
    let x = S3Error::no_such_key().to_xml();
    assert_eq!(
        x,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>\
         <Message>The specified key does not exist.</Message></Error>"
    );
}

#[test]
fn head_has_no_body() {
    let e = S3Error::no_such_key().with_request_id("REQ1");
    let head = e.render("HEAD");
    assert_eq!(
        head,
        ErrorResponse {
            status: 404,
            headers: vec![("x-amz-request-id".to_owned(), "REQ1".to_owned())],
            body: Vec::new(),
        }
    );
    assert_eq!(e.render("head"), head);
    assert_eq!(e.render_head(), head);
    let get = e.render("GET");
    assert_eq!(get.status, 404);
    assert_eq!(get.body, e.to_xml().into_bytes());
    assert!(
        get.headers
            .contains(&("Content-Type".to_owned(), "application/xml".to_owned()))
    );
    assert!(
        get.headers
            .contains(&("x-amz-request-id".to_owned(), "REQ1".to_owned()))
    );
}

#[test]
fn internal_error_keeps_its_cause_out_of_the_message() {
    let io = io::Error::new(
        io::ErrorKind::PermissionDenied,
        "open /srv/home/sse/roots.json",
    );
    let e = S3Error::internal_because("cannot read the root keys", io);
    assert_eq!(e.status(), 500);
    assert_eq!(e.code(), S3ErrorCode::InternalError);
    assert_eq!(
        e.message(),
        "We encountered an internal error. Please try again."
    );
    assert!(
        !e.to_xml().contains("roots.json"),
        "the cause never reaches the client"
    );
    assert!(!e.render("GET").body.windows(5).any(|w| w == b"roots"));
    // The chain: S3Error -> "cannot read the root keys" -> the io::Error.
    let first = e.source().expect("a cause");
    assert_eq!(first.to_string(), "cannot read the root keys");
    let second = first.source().expect("the io error");
    assert_eq!(second.to_string(), "open /srv/home/sse/roots.json");
    let io = second.downcast_ref::<io::Error>().expect("an io::Error");
    assert_eq!(io.kind(), io::ErrorKind::PermissionDenied);
    assert!(second.source().is_none());
    // Display (for logs) and detail() carry the whole chain.
    let shown = e.to_string();
    assert!(
        shown.starts_with("500 InternalError: We encountered an internal error."),
        "{shown}"
    );
    assert!(
        shown.contains("cannot read the root keys") && shown.contains("roots.json"),
        "{shown}"
    );
    assert!(
        e.detail().contains("(open /srv/home/sse/roots.json)"),
        "{}",
        e.detail()
    );
}

#[test]
fn internal_from_text_and_errors_alike() {
    let e = S3Error::internal("lock poisoned");
    assert_eq!(
        e.source().map(ToString::to_string).as_deref(),
        Some("lock poisoned")
    );
    let e = S3Error::internal(io::Error::other("disk"));
    assert!(
        e.source()
            .and_then(|s| s.downcast_ref::<io::Error>())
            .is_some()
    );
    assert!(S3Error::no_such_key().source().is_none());
}

#[test]
fn equality_is_what_the_client_sees() {
    assert_eq!(S3Error::internal("a"), S3Error::internal("b"));
    assert_ne!(
        S3Error::invalid_argument("a"),
        S3Error::invalid_argument("b")
    );
    assert_ne!(
        S3Error::no_such_key(),
        S3Error::no_such_key().with_resource("/b/k")
    );
    assert_eq!(
        S3Error::from(S3ErrorCode::SlowDown),
        S3Error::from_code(S3ErrorCode::SlowDown)
    );
}

#[test]
fn errors_cross_threads() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<S3Error>();
    let e = std::thread::spawn(|| S3Error::internal(io::Error::other("x")))
        .join()
        .expect("thread");
    assert_eq!(e.status(), 500);
}
