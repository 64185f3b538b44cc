//! Versioning, MFA Delete and Object Lock in the SSE engine, with time moved by a manual clock: a
//! version's life cycle with delete markers; every version of an SSE-KMS and an SSE-C object decrypting
//! with its own key after a root rotation and a reseal; COMPLIANCE retention that nobody (root
//! included) can shorten or delete through until the clock passes it; GOVERNANCE yielding only to the
//! permission plus the header; a legal hold independent of retention; MFA Delete required exactly
//! where S3 requires it, with codes accepted once.

use std::sync::Arc;
use std::time::Duration;

use s3crypt::aws::clock::ManualClock;
use s3crypt::iam::mfa::{MfaStore, totp_code};
use s3crypt::iam::policy::{ParseOptions, Policy};
use s3crypt::iam::{Principal, RequestContext};
use s3crypt::kms::MockKms;
use s3crypt::s3::{S3Error, S3ErrorCode};
use s3crypt::sse::bucket::{BlockedType, BucketEncryption};
use s3crypt::sse::engine::{LOCAL_ACCOUNT, SseEngine};
use s3crypt::sse::headers::{Headers, customer_key_headers};
use s3crypt::store::{NULL_VERSION, VersionListRequest};

/// 2026-12-02T00:00:00Z.
const T0: Duration = Duration::from_secs(1_796_169_600);
const DAY: Duration = Duration::from_secs(86_400);

struct Fixture {
    _home: tempfile::TempDir,
    home: std::path::PathBuf,
    engine: SseEngine,
    clock: ManualClock,
}

fn fixture() -> Fixture {
    let home = tempfile::tempdir().expect("tmp");
    let clock = ManualClock::new(T0);
    let engine = SseEngine::new(home.path(), Arc::new(MockKms::in_memory()))
        .expect("engine")
        .with_clock(Arc::new(clock.clone()));
    Fixture {
        home: home.path().to_owned(),
        _home: home,
        engine,
        clock,
    }
}

fn root() -> RequestContext {
    RequestContext::signed_by(Principal::root(LOCAL_ACCOUNT, "AKIAROOT")).with_tls(true)
}

/// An IAM user of the bucket's account allowed `actions` on everything.
fn user(actions: &[&str], deny: &[&str]) -> RequestContext {
    let mut statements = vec![serde_json::json!({
        "Effect": "Allow", "Action": actions, "Resource": "*"
    })];
    if !deny.is_empty() {
        statements.push(serde_json::json!({"Effect": "Deny", "Action": deny, "Resource": "*"}));
    }
    let doc = serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    let policy = Policy::parse(&doc, &ParseOptions::IDENTITY).expect("policy");
    let mut ctx = RequestContext::signed_by(Principal::user(LOCAL_ACCOUNT, "alice", "AKIAALICE"))
        .with_tls(true);
    ctx.identity_policies = Arc::from(vec![policy]);
    ctx
}

fn h(pairs: &[(&str, &str)]) -> Headers {
    Headers::new(
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned())),
    )
}

fn versioning(status: &str) -> Vec<u8> {
    format!("<VersioningConfiguration><Status>{status}</Status></VersioningConfiguration>")
        .into_bytes()
}

fn version_of(resp: &s3crypt::sse::engine::Response) -> String {
    resp.headers
        .iter()
        .find(|(n, _)| n == "x-amz-version-id")
        .map(|(_, v)| v.clone())
        .expect("x-amz-version-id")
}

fn read(
    e: &SseEngine,
    ctx: &RequestContext,
    key: &str,
    version: Option<&str>,
    hs: &Headers,
) -> Result<Vec<u8>, S3Error> {
    let (_, body) = e.get_object_start(ctx, "bkt", key, version, hs, None)?;
    let mut out = Vec::new();
    body.write_to(&mut out)?;
    Ok(out)
}

fn put(e: &SseEngine, key: &str, hs: &[(&str, &str)], body: &[u8]) -> String {
    let mut all: Vec<(&str, &str)> = hs.to_vec();
    all.push(("content-md5", "ignored-by-the-engine"));
    version_of(
        &e.put_object(&root(), "bkt", key, &h(&all), &mut &body[..])
            .expect("put"),
    )
}

fn bucket(e: &SseEngine, lock: bool) {
    let mut enc = BucketEncryption::new_bucket_default();
    enc.blocked = vec![BlockedType::None];
    e.create_bucket(&root(), "bkt", Some(enc)).expect("bucket");
    e.put_bucket_versioning(&root(), "bkt", &h(&[]), &versioning("Enabled"))
        .expect("enable");
    if lock {
        e.put_object_lock_configuration(
            &root(),
            "bkt",
            b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>",
        )
        .expect("lock");
    }
}

fn locked(e: &S3Error) -> bool {
    e.code() == S3ErrorCode::AccessDenied
        && e.message() == "Access Denied because object protected by object lock."
}

#[test]
fn every_version_of_kms_and_sse_c_objects_reads_with_its_own_key_after_rotation_and_reseal() {
    let f = fixture();
    let e = &f.engine;
    bucket(e, false);
    let k1 = [1u8; 32];
    let k2 = [2u8; 32];
    let c1: Vec<(String, String)> = customer_key_headers(&k1).to_vec();
    let c2: Vec<(String, String)> = customer_key_headers(&k2).to_vec();
    let pairs = |c: &[(String, String)]| -> Vec<(String, String)> { c.to_vec() };
    let as_ref = |v: &[(String, String)]| -> Headers { Headers::new(v.iter().cloned()) };
    let kms = [("x-amz-server-side-encryption", "aws:kms")];
    let s3v1 = put(e, "s3", &[], b"s3 one");
    let kv1 = put(e, "kms", &kms, b"kms one");
    let kv2 = put(e, "kms", &kms, b"kms two");
    let cv1 = version_of(
        &e.put_object(
            &root(),
            "bkt",
            "c",
            &as_ref(&pairs(&c1)),
            &mut &b"c one"[..],
        )
        .expect("c1"),
    );
    let cv2 = version_of(
        &e.put_object(
            &root(),
            "bkt",
            "c",
            &as_ref(&pairs(&c2)),
            &mut &b"c two"[..],
        )
        .expect("c2"),
    );
    let s3v2 = put(e, "s3", &[], b"s3 two");
    e.rotate_root().expect("rotate");
    assert!(
        e.reseal("bkt").expect("reseal") >= 2,
        "both SSE-S3 versions resealed"
    );
    let none = h(&[]);
    assert_eq!(
        read(e, &root(), "s3", Some(&s3v1), &none).expect("s3 v1"),
        b"s3 one"
    );
    assert_eq!(
        read(e, &root(), "s3", Some(&s3v2), &none).expect("s3 v2"),
        b"s3 two"
    );
    assert_eq!(
        read(e, &root(), "s3", None, &none).expect("s3 current"),
        b"s3 two"
    );
    assert_eq!(
        read(e, &root(), "kms", Some(&kv1), &none).expect("kms v1"),
        b"kms one"
    );
    assert_eq!(
        read(e, &root(), "kms", Some(&kv2), &none).expect("kms v2"),
        b"kms two"
    );
    assert_eq!(
        read(e, &root(), "c", Some(&cv1), &as_ref(&c1)).expect("c v1"),
        b"c one"
    );
    assert_eq!(
        read(e, &root(), "c", Some(&cv2), &as_ref(&c2)).expect("c v2"),
        b"c two"
    );
    // Each SSE-C version needs its own key.
    let wrong = read(e, &root(), "c", Some(&cv1), &as_ref(&c2)).expect_err("wrong key");
    assert_eq!(wrong.code(), S3ErrorCode::AccessDenied);
    // The versions list with plaintext sizes.
    let page = e
        .list_object_versions(&root(), "bkt", &VersionListRequest::default())
        .expect("list");
    let c_sizes: Vec<u64> = page
        .versions
        .iter()
        .filter(|v| v.key == "c")
        .map(|v| v.size)
        .collect();
    assert_eq!(c_sizes, vec![5, 5]);
}

#[test]
fn delete_markers_and_version_reads() {
    let f = fixture();
    let e = &f.engine;
    bucket(e, false);
    let v1 = put(e, "k", &[], b"one");
    let marker = e
        .delete_object(&root(), "bkt", "k")
        .expect("delete")
        .expect("a marker");
    let current = read(e, &root(), "k", None, &h(&[])).expect_err("marker");
    assert_eq!(current.code(), S3ErrorCode::NoSuchKey);
    assert!(
        current
            .headers()
            .contains(&("x-amz-delete-marker".into(), "true".into()))
    );
    let named = read(e, &root(), "k", Some(&marker.version_id), &h(&[])).expect_err("405");
    assert_eq!(named.code(), S3ErrorCode::MethodNotAllowed);
    assert_eq!(
        read(e, &root(), "k", Some(&v1), &h(&[])).expect("v1"),
        b"one"
    );
    let bad = read(e, &root(), "k", Some("../../etc"), &h(&[])).expect_err("bad id");
    assert_eq!(bad.code(), S3ErrorCode::InvalidArgument);
    // Removing the marker makes v1 current again; removing a missing version is no error.
    let gone = e
        .delete_object_version(&root(), "bkt", "k", &marker.version_id, false, false)
        .expect("remove marker");
    assert!(gone.delete_marker);
    assert_eq!(read(e, &root(), "k", None, &h(&[])).expect("back"), b"one");
    e.delete_object_version(&root(), "bkt", "k", "nosuchversion", false, false)
        .expect("idempotent");
    // Reading an old version needs s3:GetObjectVersion, not only s3:GetObject.
    let reader = user(&["s3:GetObject"], &[]);
    assert_eq!(
        read(e, &reader, "k", None, &h(&[])).expect("current"),
        b"one"
    );
    assert_eq!(
        read(e, &reader, "k", Some(&v1), &h(&[]))
            .expect_err("no GetObjectVersion")
            .code(),
        S3ErrorCode::AccessDenied
    );
    // Versioning cannot go back to unversioned; a lock bucket cannot be suspended.
    let suspended = e.put_bucket_versioning(&root(), "bkt", &h(&[]), &versioning("Off"));
    assert_eq!(
        suspended.expect_err("bad status").code(),
        S3ErrorCode::IllegalVersioningConfigurationException
    );
    assert!(
        e.get_bucket_versioning(&root(), "bkt")
            .expect("get")
            .contains("<Status>Enabled</Status>")
    );
    let _ = NULL_VERSION;
}

#[test]
fn compliance_retention_binds_root_until_the_clock_passes_it() {
    let f = fixture();
    let e = &f.engine;
    bucket(e, true);
    let until = "2026-12-12T00:00:00Z"; // T0 + 10 days
    let v = put(
        e,
        "k",
        &[
            ("x-amz-object-lock-mode", "COMPLIANCE"),
            ("x-amz-object-lock-retain-until-date", until),
        ],
        b"kept",
    );
    let bypass = |ctx: &RequestContext| e.delete_object_version(ctx, "bkt", "k", &v, true, false);
    assert!(locked(&bypass(&root()).expect_err("root, bypass")));
    assert!(locked(
        &e.delete_object_version(&root(), "bkt", "k", &v, false, false)
            .expect_err("root")
    ));
    // Shorter, another mode, removal: refused; longer: allowed.
    for doc in [
        "<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>2026-12-05T00:00:00Z</RetainUntilDate></Retention>",
        "<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2027-01-01T00:00:00Z</RetainUntilDate></Retention>",
        "<Retention/>",
    ] {
        let r = e.put_object_retention(&root(), "bkt", "k", Some(&v), doc.as_bytes(), true);
        assert!(locked(&r.expect_err(doc)), "{doc}");
    }
    e.put_object_retention(
        &root(),
        "bkt",
        "k",
        Some(&v),
        b"<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>2026-12-22T00:00:00Z</RetainUntilDate></Retention>",
        false,
    )
    .expect("extend");
    let got = e
        .get_object_retention(&root(), "bkt", "k", Some(&v))
        .expect("retention");
    assert!(got.contains("2026-12-22T00:00:00.000Z"), "{got}");
    // A delete without a version id still adds a marker; the version survives.
    let marker = e
        .delete_object(&root(), "bkt", "k")
        .expect("marker")
        .expect("marker");
    assert!(marker.is_delete_marker);
    assert_eq!(
        read(e, &root(), "k", Some(&v), &h(&[])).expect("kept"),
        b"kept"
    );
    // Past the extended date: deletable.
    f.clock.advance(DAY * 19);
    assert!(locked(&bypass(&root()).expect_err("still a day left")));
    f.clock.advance(DAY + Duration::from_secs(1));
    e.delete_object_version(&root(), "bkt", "k", &v, false, false)
        .expect("expired");
    // The HEAD of a locked version shows its lock to a caller allowed to read it.
    let v2 = put(
        e,
        "h",
        &[
            ("x-amz-object-lock-mode", "GOVERNANCE"),
            (
                "x-amz-object-lock-retain-until-date",
                "2027-06-01T00:00:00Z",
            ),
            ("x-amz-object-lock-legal-hold", "ON"),
        ],
        b"x",
    );
    let head = e
        .head_object(&root(), "bkt", "h", Some(&v2), &h(&[]))
        .expect("head");
    let has = |n: &str, v: &str| head.headers.iter().any(|(hn, hv)| hn == n && hv == v);
    assert!(
        has("x-amz-object-lock-mode", "GOVERNANCE"),
        "{:?}",
        head.headers
    );
    assert!(has("x-amz-object-lock-legal-hold", "ON"));
    let plain_reader = user(&["s3:GetObject", "s3:GetObjectVersion"], &[]);
    let head = e
        .head_object(&plain_reader, "bkt", "h", Some(&v2), &h(&[]))
        .expect("head");
    assert!(
        !head
            .headers
            .iter()
            .any(|(n, _)| n.starts_with("x-amz-object-lock")),
        "lock headers need s3:GetObjectRetention / s3:GetObjectLegalHold"
    );
}

#[test]
fn governance_yields_to_permission_plus_header_and_legal_hold_to_nothing() {
    let f = fixture();
    let e = &f.engine;
    bucket(e, true);
    e.put_object_lock_configuration(
        &root(),
        "bkt",
        b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>",
    )
    .expect("default");
    let v = put(e, "g", &[], b"governed");
    let info = e
        .get_object_retention(&root(), "bkt", "g", Some(&v))
        .expect("default applied");
    assert!(info.contains("<Mode>GOVERNANCE</Mode>"));
    assert!(info.contains("2026-12-03T00:00:00.000Z"), "{info}");
    let no_bypass = user(&["s3:*"], &["s3:BypassGovernanceRetention"]);
    let with_bypass = user(&["s3:*"], &[]);
    // Header without permission, permission without header: refused.
    assert!(locked(
        &e.delete_object_version(&no_bypass, "bkt", "g", &v, true, false)
            .expect_err("no permission")
    ));
    assert!(locked(
        &e.delete_object_version(&with_bypass, "bkt", "g", &v, false, false)
            .expect_err("no header")
    ));
    // Shortening needs the bypass too.
    let shorter = b"<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2026-12-02T12:00:00Z</RetainUntilDate></Retention>";
    assert!(locked(
        &e.put_object_retention(&no_bypass, "bkt", "g", Some(&v), shorter, true)
            .expect_err("shorten")
    ));
    e.put_object_retention(&with_bypass, "bkt", "g", Some(&v), shorter, true)
        .expect("shorten with bypass");
    // A legal hold blocks even the bypass, and is independent of retention.
    e.put_object_legal_hold(
        &root(),
        "bkt",
        "g",
        Some(&v),
        b"<LegalHold><Status>ON</Status></LegalHold>",
    )
    .expect("hold");
    assert!(locked(
        &e.delete_object_version(&with_bypass, "bkt", "g", &v, true, false)
            .expect_err("held")
    ));
    f.clock.advance(DAY * 400);
    assert!(locked(
        &e.delete_object_version(&root(), "bkt", "g", &v, false, false)
            .expect_err("still held after retention")
    ));
    e.put_object_legal_hold(
        &no_bypass,
        "bkt",
        "g",
        Some(&v),
        b"<LegalHold><Status>OFF</Status></LegalHold>",
    )
    .expect("release");
    e.delete_object_version(&no_bypass, "bkt", "g", &v, false, false)
        .expect("deletable now");
    // A bucket with Object Lock cannot be suspended; lock calls on a plain bucket are refused.
    let e2 = e.put_bucket_versioning(&root(), "bkt", &h(&[]), &versioning("Suspended"));
    assert_eq!(
        e2.expect_err("lock bucket").code(),
        S3ErrorCode::InvalidBucketState
    );
}

#[test]
fn lock_requests_on_buckets_without_object_lock() {
    let f = fixture();
    let e = &f.engine;
    let mut enc = BucketEncryption::new_bucket_default();
    enc.blocked = vec![BlockedType::None];
    e.create_bucket(&root(), "bkt", Some(enc)).expect("bucket");
    let lock_doc = b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>";
    let r = e.put_object_lock_configuration(&root(), "bkt", lock_doc);
    assert_eq!(
        r.expect_err("unversioned").code(),
        S3ErrorCode::InvalidBucketState
    );
    assert_eq!(
        e.get_object_lock_configuration(&root(), "bkt")
            .expect_err("none")
            .code(),
        S3ErrorCode::ObjectLockConfigurationNotFoundError
    );
    let r = e.put_object(
        &root(),
        "bkt",
        "k",
        &h(&[("x-amz-object-lock-legal-hold", "ON"), ("content-md5", "x")]),
        &mut &b"x"[..],
    );
    let err = r.expect_err("no lock");
    assert_eq!(err.code(), S3ErrorCode::InvalidRequest);
    assert_eq!(err.message(), "Bucket is missing Object Lock Configuration");
    // With Object Lock, lock parameters need an integrity header.
    e.put_bucket_versioning(&root(), "bkt", &h(&[]), &versioning("Enabled"))
        .expect("enable");
    e.put_object_lock_configuration(&root(), "bkt", lock_doc)
        .expect("lock now");
    let r = e.put_object(
        &root(),
        "bkt",
        "k",
        &h(&[("x-amz-object-lock-legal-hold", "ON")]),
        &mut &b"x"[..],
    );
    assert!(
        r.expect_err("no md5")
            .message()
            .starts_with("Content-MD5 OR x-amz-checksum-")
    );
}

#[test]
fn mfa_delete_where_s3_requires_it_and_nowhere_else() {
    let f = fixture();
    let e = &f.engine;
    bucket(e, false);
    let now = T0.as_secs();
    let mfa = MfaStore::open(&f.home)
        .expect("mfa")
        .with_clock(f.clock.clone());
    let device = mfa
        .create_virtual_mfa_device("root-device")
        .expect("device");
    mfa.enable_mfa_device(
        &device.serial_number,
        &totp_code(&device.seed, now - 60),
        &totp_code(&device.seed, now - 30),
    )
    .expect("enable");
    let header = |offset: i64| {
        let t = now.saturating_add_signed(offset);
        format!("{} {}", device.serial_number, totp_code(&device.seed, t))
    };
    // Turning MFA Delete on needs a code.
    let on = b"<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Enabled</MfaDelete></VersioningConfiguration>";
    let missing = e
        .put_bucket_versioning(&root(), "bkt", &h(&[]), on)
        .expect_err("no mfa");
    assert_eq!(
        missing.message(),
        "Mfa Authentication must be used for this request"
    );
    e.put_bucket_versioning(&root(), "bkt", &h(&[("x-amz-mfa", &header(0))]), on)
        .expect("mfa delete on");
    assert!(
        e.get_bucket_versioning(&root(), "bkt")
            .expect("get")
            .contains("<MfaDelete>Enabled</MfaDelete>")
    );
    let v = put(e, "k", &[], b"x");
    // Not needed: writes, reads, listings, plain deletes.
    read(e, &root(), "k", Some(&v), &h(&[])).expect("read");
    e.list_object_versions(&root(), "bkt", &VersionListRequest::default())
        .expect("list");
    let marker = e
        .delete_object(&root(), "bkt", "k")
        .expect("plain delete")
        .expect("marker");
    // Needed: a versioned delete (the server checks the header and passes `mfa_checked`).
    let refused = e
        .delete_object_version(&root(), "bkt", "k", &v, false, false)
        .expect_err("no mfa");
    assert_eq!(
        refused.message(),
        "Mfa Authentication must be used for this request"
    );
    let code = h(&[("x-amz-mfa", &header(30))]);
    e.check_mfa(&root(), "bkt", &code).expect("valid code");
    // The same code twice, a non-root caller, plain HTTP, a malformed header: refused.
    assert_eq!(
        e.check_mfa(&root(), "bkt", &code)
            .expect_err("reused")
            .code(),
        S3ErrorCode::AccessDenied
    );
    f.clock.advance(Duration::from_secs(60));
    let fresh = h(&[("x-amz-mfa", &header(60))]);
    assert_eq!(
        e.check_mfa(&user(&["s3:*"], &[]), "bkt", &fresh)
            .expect_err("user")
            .message(),
        "This operation may only be performed by the bucket owner"
    );
    assert_eq!(
        e.check_mfa(&root().with_tls(false), "bkt", &fresh)
            .expect_err("http")
            .code(),
        S3ErrorCode::InvalidRequest
    );
    assert_eq!(
        e.check_mfa(&root(), "bkt", &h(&[("x-amz-mfa", "garbage")]))
            .expect_err("malformed")
            .code(),
        S3ErrorCode::InvalidArgument
    );
    let wrong = format!("{} 000000", device.serial_number);
    assert_eq!(
        e.check_mfa(&root(), "bkt", &h(&[("x-amz-mfa", &wrong)]))
            .expect_err("wrong")
            .code(),
        S3ErrorCode::AccessDenied
    );
    e.delete_object_version(&root(), "bkt", "k", &marker.version_id, false, true)
        .expect("with mfa checked");
    // Suspending needs a code too, and works with one.
    let suspend = versioning("Suspended");
    assert_eq!(
        e.put_bucket_versioning(&root(), "bkt", &h(&[]), &suspend)
            .expect_err("no mfa")
            .message(),
        "Mfa Authentication must be used for this request"
    );
    e.put_bucket_versioning(&root(), "bkt", &fresh, &suspend)
        .expect("suspended with mfa");
}
