//! The mock KMS against the AWS KMS behaviour of reference §5: every error row, rotation, re-encryption,
//! quota, retries, caching, audit and persistence.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine as _;
use s3crypt::aws::clock::ManualClock;
use s3crypt::keys::SecretBytes;
use s3crypt::kms::audit::MemoryAudit;
use s3crypt::kms::cache::{CacheLimits, DataKeyCache};
use s3crypt::kms::quota::QuotaConfig;
use s3crypt::kms::retry::{RetryPolicy, RetryingKms, Sleeper};
use s3crypt::kms::*;

const T0: Duration = Duration::from_secs(1_790_000_000);

fn ec(pairs: &[(&str, &str)]) -> EncryptionContext {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn kms_with_clock() -> (MockKms, ManualClock) {
    let clock = ManualClock::new(T0);
    let kms = MockKms::builder()
        .clock(Arc::new(clock.clone()))
        .build()
        .expect("build");
    (kms, clock)
}

fn new_key(kms: &impl Kms) -> KeyMetadata {
    kms.create_key(&CreateKeyRequest::default())
        .expect("create")
        .key_metadata
}

fn code<T: std::fmt::Debug>(r: Result<T, KmsError>) -> String {
    r.expect_err("expected an error").code().to_owned()
}

fn gdk(key: &str, ctx: &EncryptionContext) -> GenerateDataKeyRequest {
    GenerateDataKeyRequest::aes256(key, ctx.clone())
}

#[test]
fn generate_and_decrypt_with_every_key_id_form() {
    let (kms, _) = kms_with_clock();
    let key = new_key(&kms);
    assert!(
        key.arn
            .starts_with("arn:aws:kms:us-east-1:111122223333:key/")
    );
    assert_eq!(key.key_state, "Enabled");
    kms.create_alias(&CreateAliasRequest::new("alias/app", &key.key_id))
        .expect("alias");
    let alias_arn = "arn:aws:kms:us-east-1:111122223333:alias/app".to_owned();
    let ctx = ec(&[("tenant", "t1"), ("purpose", "test")]);
    for id in [
        key.key_id.clone(),
        key.arn.clone(),
        "alias/app".into(),
        alias_arn,
    ] {
        let r = kms.generate_data_key(&gdk(&id, &ctx)).expect("gdk");
        assert_eq!(r.key_id, key.arn, "responses return the key ARN");
        assert_eq!(r.plaintext.len(), 32);
        let d = kms
            .decrypt(&DecryptRequest::new(r.ciphertext_blob.clone(), ctx.clone()))
            .expect("decrypt");
        assert!(d.plaintext.ct_eq(&r.plaintext));
        assert_eq!(d.key_id, key.arn);
    }
    assert_eq!(
        code(kms.generate_data_key(&gdk(
            "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000000",
            &ctx
        ))),
        "NotFoundException"
    );
}

#[test]
fn key_specs_and_lengths() {
    let kms = MockKms::in_memory();
    let key = new_key(&kms).key_id;
    let mut r = gdk(&key, &EncryptionContext::new());
    r.key_spec = Some(DataKeySpec::Aes128);
    assert_eq!(kms.generate_data_key(&r).expect("128").plaintext.len(), 16);
    for n in [1, 64, 1024] {
        let mut r = GenerateDataKeyRequest::default();
        r.key_id = key.clone();
        r.number_of_bytes = Some(n);
        assert_eq!(
            kms.generate_data_key(&r).expect("n").plaintext.len(),
            n as usize
        );
    }
    for bad in [Some(0), Some(1025)] {
        let mut r = GenerateDataKeyRequest::default();
        r.key_id = key.clone();
        r.number_of_bytes = bad;
        assert_eq!(code(kms.generate_data_key(&r)), "ValidationException");
    }
    let mut both = gdk(&key, &EncryptionContext::new());
    both.number_of_bytes = Some(32);
    assert_eq!(code(kms.generate_data_key(&both)), "ValidationException");
    let mut neither = gdk(&key, &EncryptionContext::new());
    neither.key_spec = None;
    assert_eq!(code(kms.generate_data_key(&neither)), "ValidationException");
    let without = kms
        .generate_data_key_without_plaintext(&gdk(&key, &EncryptionContext::new()))
        .expect("np");
    let d = kms
        .decrypt(&DecryptRequest::new(
            without.ciphertext_blob,
            EncryptionContext::new(),
        ))
        .expect("decrypt");
    assert_eq!(d.plaintext.len(), 32);
    assert_eq!(
        code(kms.generate_data_key(&gdk("", &EncryptionContext::new()))),
        "ValidationException"
    );
}

#[test]
fn encrypt_limits_and_round_trip() {
    let kms = MockKms::in_memory();
    let key = new_key(&kms).arn;
    for len in [1usize, 4096] {
        let pt = SecretBytes::new(vec![0xAB; len]);
        let e = kms
            .encrypt(&EncryptRequest::new(&key, pt.clone(), ec(&[("a", "b")])))
            .expect("encrypt");
        let d = kms
            .decrypt(&DecryptRequest::new(e.ciphertext_blob, ec(&[("a", "b")])))
            .expect("decrypt");
        assert!(d.plaintext.ct_eq(&pt));
    }
    for len in [0usize, 4097] {
        let r = kms.encrypt(&EncryptRequest::new(
            &key,
            SecretBytes::new(vec![1; len]),
            EncryptionContext::new(),
        ));
        assert_eq!(code(r), "ValidationException", "len {len}");
    }
}

#[test]
fn invalid_ciphertext_wrong_context_tamper_and_incorrect_key() {
    let kms = MockKms::in_memory();
    let a = new_key(&kms);
    let b = new_key(&kms);
    let ctx = ec(&[("k", "v")]);
    let r = kms.generate_data_key(&gdk(&a.key_id, &ctx)).expect("gdk");
    let blob = r.ciphertext_blob;
    for wrong in [
        EncryptionContext::new(),
        ec(&[("k", "V")]),
        ec(&[("k", "v"), ("x", "y")]),
        ec(&[("K", "v")]),
    ] {
        assert_eq!(
            code(kms.decrypt(&DecryptRequest::new(blob.clone(), wrong))),
            "InvalidCiphertextException"
        );
    }
    for i in 0..blob.len() {
        for bit in [0x01u8, 0x80] {
            let mut t = blob.clone();
            t[i] ^= bit;
            assert_eq!(
                code(kms.decrypt(&DecryptRequest::new(t, ctx.clone()))),
                "InvalidCiphertextException",
                "byte {i}"
            );
        }
    }
    assert_eq!(
        code(kms.decrypt(&DecryptRequest::new(
            blob[..blob.len() - 1].to_vec(),
            ctx.clone()
        ))),
        "InvalidCiphertextException"
    );
    assert_eq!(
        code(kms.decrypt(&DecryptRequest::new(Vec::new(), ctx.clone()))),
        "InvalidCiphertextException"
    );
    let mut req = DecryptRequest::new(blob.clone(), ctx.clone());
    req.key_id = Some(b.key_id.clone());
    assert_eq!(code(kms.decrypt(&req)), "IncorrectKeyException");
    req.key_id = Some(a.arn.clone());
    assert!(kms.decrypt(&req).is_ok());
}

#[test]
fn disabled_pending_deletion_and_not_found() {
    let (kms, clock) = kms_with_clock();
    let key = new_key(&kms);
    let ctx = EncryptionContext::new();
    let blob = kms
        .generate_data_key(&gdk(&key.key_id, &ctx))
        .expect("gdk")
        .ciphertext_blob;
    kms.disable_key(&KeyIdRequest::new(&key.key_id))
        .expect("disable");
    assert_eq!(
        code(kms.generate_data_key(&gdk(&key.key_id, &ctx))),
        "DisabledException"
    );
    assert_eq!(
        code(kms.decrypt(&DecryptRequest::new(blob.clone(), ctx.clone()))),
        "DisabledException"
    );
    assert_eq!(
        code(kms.encrypt(&EncryptRequest::new(
            &key.key_id,
            SecretBytes::new(vec![1]),
            ctx.clone()
        ))),
        "DisabledException"
    );
    assert_eq!(
        code(kms.enable_key_rotation(&EnableKeyRotationRequest::new(&key.key_id, None))),
        "DisabledException"
    );
    kms.enable_key(&KeyIdRequest::new(&key.key_id))
        .expect("enable");
    assert!(
        kms.decrypt(&DecryptRequest::new(blob.clone(), ctx.clone()))
            .is_ok()
    );

    let d = kms
        .schedule_key_deletion(&ScheduleKeyDeletionRequest::new(&key.key_id, Some(7)))
        .expect("schedule");
    assert_eq!(d.key_state, "PendingDeletion");
    assert_eq!(
        kms.describe_key(&DescribeKeyRequest::new(&key.key_id))
            .expect("describe")
            .key_metadata
            .key_state,
        "PendingDeletion"
    );
    assert_eq!(
        code(kms.generate_data_key(&gdk(&key.key_id, &ctx))),
        "KMSInvalidStateException"
    );
    assert_eq!(
        code(kms.decrypt(&DecryptRequest::new(blob.clone(), ctx.clone()))),
        "KMSInvalidStateException"
    );
    assert_eq!(
        code(kms.enable_key(&KeyIdRequest::new(&key.key_id))),
        "KMSInvalidStateException"
    );
    assert_eq!(
        code(kms.schedule_key_deletion(&ScheduleKeyDeletionRequest::new(&key.key_id, Some(7)))),
        "KMSInvalidStateException"
    );
    kms.cancel_key_deletion(&KeyIdRequest::new(&key.key_id))
        .expect("cancel");
    assert_eq!(
        kms.describe_key(&DescribeKeyRequest::new(&key.key_id))
            .expect("d")
            .key_metadata
            .key_state,
        "Disabled"
    );
    assert_eq!(
        code(kms.cancel_key_deletion(&KeyIdRequest::new(&key.key_id))),
        "KMSInvalidStateException"
    );
    for days in [Some(6), Some(31)] {
        assert_eq!(
            code(kms.schedule_key_deletion(&ScheduleKeyDeletionRequest::new(&key.key_id, days))),
            "ValidationException"
        );
    }

    kms.schedule_key_deletion(&ScheduleKeyDeletionRequest::new(&key.key_id, Some(7)))
        .expect("schedule");
    clock.advance(Duration::from_secs(7 * 86_400));
    assert_eq!(
        code(kms.describe_key(&DescribeKeyRequest::new(&key.key_id))),
        "NotFoundException"
    );
    assert_eq!(
        code(kms.decrypt(&DecryptRequest::new(blob, ctx))),
        "InvalidCiphertextException"
    );
    assert_eq!(
        code(kms.describe_key(&DescribeKeyRequest::new(
            "9d5b1f0e-1111-4222-8333-444455556666"
        ))),
        "NotFoundException"
    );
    assert_eq!(
        code(kms.describe_key(&DescribeKeyRequest::new("alias/none"))),
        "NotFoundException"
    );
}

#[test]
fn rotation_keeps_old_material_and_reencrypt_moves_blobs() {
    let (kms, clock) = kms_with_clock();
    let key = new_key(&kms);
    let ctx = ec(&[("bucket", "b")]);
    let v1 = kms.generate_data_key(&gdk(&key.key_id, &ctx)).expect("gdk");
    assert_eq!(&v1.ciphertext_blob[37..41], &1u32.to_be_bytes());
    kms.rotate_key_on_demand(&KeyIdRequest::new(&key.key_id))
        .expect("rotate");
    let v2 = kms.generate_data_key(&gdk(&key.key_id, &ctx)).expect("gdk");
    assert_eq!(
        &v2.ciphertext_blob[37..41],
        &2u32.to_be_bytes(),
        "new blobs use the new material"
    );
    assert!(
        kms.decrypt(&DecryptRequest::new(
            v1.ciphertext_blob.clone(),
            ctx.clone()
        ))
        .expect("old")
        .plaintext
        .ct_eq(&v1.plaintext)
    );

    // ReEncrypt to the same key moves the blob to the current material without exposing the plaintext.
    let mut re = ReEncryptRequest::default();
    re.ciphertext_blob = v1.ciphertext_blob.clone();
    re.source_encryption_context = ctx.clone();
    re.destination_key_id = key.key_id.clone();
    re.destination_encryption_context = ec(&[("bucket", "b2")]);
    let moved = kms.re_encrypt(&re).expect("reencrypt");
    assert_eq!(&moved.ciphertext_blob[37..41], &2u32.to_be_bytes());
    let d = kms
        .decrypt(&DecryptRequest::new(
            moved.ciphertext_blob,
            ec(&[("bucket", "b2")]),
        ))
        .expect("decrypt");
    assert!(d.plaintext.ct_eq(&v1.plaintext));

    // ... and to another key; a wrong source context fails like Decrypt.
    let other = new_key(&kms);
    re.destination_key_id = other.arn.clone();
    let moved = kms.re_encrypt(&re).expect("to other");
    assert_eq!(moved.key_id, other.arn);
    assert_eq!(moved.source_key_id, key.arn);
    re.source_encryption_context = ec(&[("bucket", "x")]);
    assert_eq!(code(kms.re_encrypt(&re)), "InvalidCiphertextException");

    // Automatic rotation: due after the period, applied on the next use.
    kms.enable_key_rotation(&EnableKeyRotationRequest::new(&key.key_id, Some(90)))
        .expect("enable rotation");
    for bad in [Some(89), Some(2561)] {
        assert_eq!(
            code(kms.enable_key_rotation(&EnableKeyRotationRequest::new(&key.key_id, bad))),
            "ValidationException"
        );
    }
    clock.advance(Duration::from_secs(89 * 86_400));
    assert_eq!(
        &kms.generate_data_key(&gdk(&key.key_id, &ctx))
            .expect("g")
            .ciphertext_blob[37..41],
        &2u32.to_be_bytes()
    );
    clock.advance(Duration::from_secs(86_400));
    assert_eq!(
        &kms.generate_data_key(&gdk(&key.key_id, &ctx))
            .expect("g")
            .ciphertext_blob[37..41],
        &3u32.to_be_bytes()
    );
    assert!(
        kms.decrypt(&DecryptRequest::new(v2.ciphertext_blob, ctx))
            .is_ok()
    );
}

#[test]
fn key_usage_algorithm_grant_tokens_and_dry_run() {
    let kms = MockKms::in_memory();
    let mut req = CreateKeyRequest::default();
    req.key_usage = Some("GENERATE_VERIFY_MAC".into());
    req.key_spec = Some("HMAC_256".into());
    let mac = kms.create_key(&req).expect("hmac key").key_metadata;
    assert_eq!(
        code(kms.generate_data_key(&gdk(&mac.key_id, &EncryptionContext::new()))),
        "InvalidKeyUsageException"
    );
    let mut rsa = CreateKeyRequest::default();
    rsa.key_spec = Some("RSA_2048".into());
    assert_eq!(code(kms.create_key(&rsa)), "UnsupportedOperationException");

    let key = new_key(&kms).key_id;
    let mut e = EncryptRequest::new(&key, SecretBytes::new(vec![1]), EncryptionContext::new());
    e.encryption_algorithm = Some("RSAES_OAEP_SHA_256".into());
    assert_eq!(code(kms.encrypt(&e)), "InvalidKeyUsageException");

    let mut g = gdk(&key, &EncryptionContext::new());
    g.grant_tokens = vec!["not a token".into()];
    assert_eq!(
        code(kms.generate_data_key(&g)),
        "InvalidGrantTokenException"
    );
    g.grant_tokens = vec!["AQpAM2RhZTk1MGMyNTk2ZmZmMzEyYWVhOWViN2I1MWM4Mzc0MWFiYjc0ZDE1ODkyNGFlNTIzODZhMzgyZjBlNGY3NiKIAQEBAgB4".into()];
    assert!(kms.generate_data_key(&g).is_ok());

    g.dry_run = true;
    assert_eq!(code(kms.generate_data_key(&g)), "DryRunOperationException");
}

#[test]
fn aliases_and_listing() {
    let kms = MockKms::in_memory();
    let key = new_key(&kms);
    for bad in ["app", "alias/aws/s3", "alias/sp ace", "alias/"] {
        let c = code(kms.create_alias(&CreateAliasRequest::new(bad, &key.key_id)));
        assert!(
            c == "InvalidAliasNameException" || c == "ValidationException",
            "{bad}: {c}"
        );
    }
    kms.create_alias(&CreateAliasRequest::new("alias/one", &key.key_id))
        .expect("alias");
    assert_eq!(
        code(kms.create_alias(&CreateAliasRequest::new("alias/one", &key.key_id))),
        "AlreadyExistsException"
    );
    assert_eq!(
        code(kms.create_alias(&CreateAliasRequest::new("alias/two", "alias/one"))),
        "NotFoundException"
    );
    let list = kms
        .list_aliases(&ListAliasesRequest::default())
        .expect("list");
    assert_eq!(list.aliases.len(), 1);
    assert_eq!(
        list.aliases[0].alias_arn,
        "arn:aws:kms:us-east-1:111122223333:alias/one"
    );
    assert_eq!(list.aliases[0].target_key_id, key.key_id);

    for _ in 0..4 {
        new_key(&kms);
    }
    let mut req = ListKeysRequest::default();
    req.limit = Some(2);
    let mut seen = Vec::new();
    loop {
        let page = kms.list_keys(&req).expect("page");
        seen.extend(page.keys.iter().map(|k| k.key_id.clone()));
        if !page.truncated {
            break;
        }
        req.marker = page.next_marker;
    }
    assert_eq!(seen.len(), 5);
    req.limit = Some(0);
    assert_eq!(code(kms.list_keys(&req)), "ValidationException");
    let mut bad_policy = CreateKeyRequest::default();
    bad_policy.policy = Some("{not json".into());
    assert_eq!(
        code(kms.create_key(&bad_policy)),
        "MalformedPolicyDocumentException"
    );
}

#[test]
fn key_policies_control_access() {
    let kms = MockKms::in_memory();
    let mut req = CreateKeyRequest::default();
    req.policy = Some(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
            {"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"kms:Decrypt","Resource":"*"}]}"#
            .into(),
    );
    let key = kms.create_key(&req).expect("key").key_metadata;
    let alice = kms.with_caller("arn:aws:iam::111122223333:user/alice");
    let bob = kms.with_caller("arn:aws:iam::111122223333:user/bob");
    let eve = kms.with_caller("arn:aws:iam::444455556666:user/eve");
    let blob = alice
        .generate_data_key(&gdk(&key.key_id, &EncryptionContext::new()))
        .expect("alice")
        .ciphertext_blob;
    assert!(
        alice
            .decrypt(&DecryptRequest::new(blob.clone(), EncryptionContext::new()))
            .is_ok()
    );
    assert!(
        bob.generate_data_key(&gdk(&key.key_id, &EncryptionContext::new()))
            .is_ok()
    );
    assert_eq!(
        code(bob.decrypt(&DecryptRequest::new(blob.clone(), EncryptionContext::new()))),
        "AccessDeniedException"
    );
    assert_eq!(
        code(eve.generate_data_key(&gdk(&key.key_id, &EncryptionContext::new()))),
        "AccessDeniedException"
    );
    assert_eq!(
        code(eve.disable_key(&KeyIdRequest::new(&key.key_id))),
        "AccessDeniedException"
    );
}

/// KMS developer guide (conditions-kms, kms:EncryptionContext:context-key): a key policy can tie a
/// principal's use of the key to an encryption-context pair; the mock passes each call's context to the
/// IAM policy engine.
#[test]
fn key_policy_conditions_see_the_encryption_context() {
    let kms = MockKms::in_memory();
    let mut req = CreateKeyRequest::default();
    req.policy = Some(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/admin"},"Action":"kms:*","Resource":"*"},
            {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"*",
             "Condition":{"StringEquals":{"kms:EncryptionContext:Department":"IT","kms:CallerAccount":"111122223333"}}}]}"#
            .into(),
    );
    let admin = kms.with_caller("arn:aws:iam::111122223333:user/admin");
    let key = admin.create_key(&req).expect("key").key_metadata;
    let alice = kms.with_caller("arn:aws:iam::111122223333:user/alice");
    let it: EncryptionContext = [("Department".to_owned(), "IT".to_owned())].into();
    let hr: EncryptionContext = [("Department".to_owned(), "HR".to_owned())].into();
    let blob = alice
        .generate_data_key(&gdk(&key.key_id, &it))
        .expect("IT context")
        .ciphertext_blob;
    assert!(alice.decrypt(&DecryptRequest::new(blob, it)).is_ok());
    assert_eq!(
        code(alice.generate_data_key(&gdk(&key.key_id, &hr))),
        "AccessDeniedException"
    );
    assert_eq!(
        code(alice.generate_data_key(&gdk(&key.key_id, &EncryptionContext::new()))),
        "AccessDeniedException"
    );
    assert!(admin.generate_data_key(&gdk(&key.key_id, &hr)).is_ok());
}

#[test]
fn quota_throttles_with_the_injected_clock() {
    let clock = ManualClock::new(T0);
    let kms = MockKms::builder()
        .clock(Arc::new(clock.clone()))
        .quota(QuotaConfig::per_second(100))
        .build()
        .expect("kms");
    let key = new_key(&kms).key_id; // admin calls are not counted
    let req = gdk(&key, &EncryptionContext::new());
    for _ in 0..100 {
        kms.generate_data_key(&req).expect("within burst");
    }
    let e = kms.generate_data_key(&req).expect_err("over quota");
    assert_eq!(e.code(), "ThrottlingException");
    assert_eq!(e.http_status(), 400);
    assert_eq!(
        e.message(),
        "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."
    );
    assert!(
        e.retry_after()
            .is_some_and(|d| d <= Duration::from_millis(10))
    );
    // Encrypt, Decrypt and ReEncrypt share the same bucket.
    assert_eq!(
        code(kms.encrypt(&EncryptRequest::new(
            &key,
            SecretBytes::new(vec![1]),
            EncryptionContext::new()
        ))),
        "ThrottlingException"
    );
    assert!(
        kms.describe_key(&DescribeKeyRequest::new(&key)).is_ok(),
        "admin calls are not throttled"
    );
    clock.advance(Duration::from_millis(10));
    assert!(kms.generate_data_key(&req).is_ok());

    // Twice the quota for 10 simulated seconds: accepted = 100 x 10 + burst (100), within 1%.
    clock.advance(Duration::from_secs(5)); // refill
    let before = kms.quota_counters().admitted.load(Ordering::Relaxed);
    for _ in 0..2000 {
        let _ = kms.generate_data_key(&req);
        clock.advance(Duration::from_millis(5));
    }
    let accepted = kms.quota_counters().admitted.load(Ordering::Relaxed) - before;
    println!("2x quota for 10 s at 100 rps: {accepted} accepted (expected 1100)");
    assert!((1089..=1111).contains(&accepted), "{accepted}");
}

#[derive(Debug, Default)]
struct RecordingSleeper(std::sync::Mutex<Vec<Duration>>);

impl Sleeper for RecordingSleeper {
    fn sleep(&self, d: Duration) {
        self.0.lock().expect("lock").push(d);
    }
}

#[test]
fn retries_recover_from_transient_errors_only() {
    let kms = MockKms::in_memory();
    let key = new_key(&kms).key_id;
    let sleeper = Arc::new(RecordingSleeper::default());
    let policy = RetryPolicy {
        max_attempts: 3,
        base: Duration::from_millis(100),
        cap: Duration::from_secs(20),
    };
    let retrying =
        RetryingKms::new(kms.clone(), policy).with_sleeper(sleeper.clone(), Arc::new(|| 1.0));
    let req = gdk(&key, &EncryptionContext::new());

    for kind in [
        KmsErrorKind::KmsInternal,
        KmsErrorKind::KeyUnavailable,
        KmsErrorKind::DependencyTimeout,
    ] {
        kms.inject_faults(kind.clone(), 2);
        assert!(
            retrying.generate_data_key(&req).is_ok(),
            "{kind:?} recovered on the third attempt"
        );
        kms.inject_faults(kind.clone(), 3);
        assert_eq!(
            retrying
                .generate_data_key(&req)
                .expect_err("exhausted")
                .kind(),
            &kind
        );
    }
    assert_eq!(
        sleeper.0.lock().expect("lock")[..2],
        [Duration::from_millis(100), Duration::from_millis(200)],
        "exponential backoff (jitter pinned to 1.0)"
    );
    let (calls, attempts, _, retried, failed) = retrying.stats().snapshot();
    assert_eq!((calls, attempts, retried, failed), (6, 18, 12, 3));

    // Non-retryable errors are returned at once.
    let before = retrying.stats().snapshot().1;
    assert_eq!(
        code(retrying.decrypt(&DecryptRequest::new(
            vec![1, 2, 3],
            EncryptionContext::new()
        ))),
        "InvalidCiphertextException"
    );
    assert_eq!(retrying.stats().snapshot().1, before + 1);
}

#[test]
fn retries_absorb_throttling() {
    let clock = ManualClock::new(T0);
    let kms = MockKms::builder()
        .clock(Arc::new(clock.clone()))
        .quota(QuotaConfig::per_second(10).with_burst(1))
        .build()
        .expect("kms");
    let key = new_key(&kms).key_id;
    // The sleeper advances the simulated clock, so backoff really waits for tokens.
    #[derive(Debug)]
    struct ClockSleeper(ManualClock);
    impl Sleeper for ClockSleeper {
        fn sleep(&self, d: Duration) {
            self.0.advance(d);
        }
    }
    let policy = RetryPolicy {
        max_attempts: 5,
        base: Duration::from_millis(50),
        cap: Duration::from_secs(1),
    };
    let retrying =
        RetryingKms::new(kms, policy).with_sleeper(Arc::new(ClockSleeper(clock)), Arc::new(|| 1.0));
    let req = gdk(&key, &EncryptionContext::new());
    for _ in 0..20 {
        retrying
            .generate_data_key(&req)
            .expect("retries wait out the quota");
    }
    let (calls, _, throttled, retried, failed) = retrying.stats().snapshot();
    assert_eq!((calls, failed), (20, 0));
    assert!(
        throttled > 0 && retried == throttled,
        "throttled {throttled}, retried {retried}"
    );
}

#[test]
fn data_key_cache_limits() {
    let clock = ManualClock::new(T0);
    let kms = MockKms::in_memory();
    let key = new_key(&kms).key_id;
    let limits = CacheLimits {
        max_age: Duration::from_secs(60),
        max_messages: 3,
        max_bytes: 1000,
        capacity: 2,
    };
    let cache = DataKeyCache::with_clock(kms, limits, Arc::new(clock.clone()));
    let req = gdk(&key, &ec(&[("bucket", "b")]));
    let first = cache.data_key_for_encrypt(&req, 100).expect("miss");
    assert!(!first.from_cache);
    let second = cache.data_key_for_encrypt(&req, 100).expect("hit");
    assert!(second.from_cache && second.plaintext.ct_eq(&first.plaintext));
    assert!(
        cache
            .data_key_for_encrypt(&req, 100)
            .expect("hit")
            .from_cache
    );
    assert!(
        !cache
            .data_key_for_encrypt(&req, 100)
            .expect("message limit")
            .from_cache
    );
    assert!(
        !cache
            .data_key_for_encrypt(&req, 950)
            .expect("byte limit")
            .from_cache
    );
    assert!(
        cache
            .data_key_for_encrypt(&req, 10)
            .expect("hit")
            .from_cache
    );
    clock.advance(Duration::from_secs(60));
    assert!(
        !cache
            .data_key_for_encrypt(&req, 10)
            .expect("age limit")
            .from_cache
    );
    let other_ctx = cache
        .data_key_for_encrypt(&gdk(&key, &ec(&[("bucket", "c")])), 10)
        .expect("other context");
    assert!(!other_ctx.from_cache, "never reused across contexts");
    let d1 = cache
        .decrypt(&DecryptRequest::new(
            first.ciphertext_blob.clone(),
            ec(&[("bucket", "b")]),
        ))
        .expect("d");
    let d2 = cache
        .decrypt(&DecryptRequest::new(
            first.ciphertext_blob,
            ec(&[("bucket", "b")]),
        ))
        .expect("d");
    assert!(d1.plaintext.ct_eq(&d2.plaintext));
    let s = cache.stats();
    println!(
        "cache: hits {} misses {}",
        s.hits.load(Ordering::Relaxed),
        s.misses.load(Ordering::Relaxed)
    );
    assert_eq!(s.hits.load(Ordering::Relaxed), 4);
    assert_eq!(s.misses.load(Ordering::Relaxed), 6);
}

#[test]
fn audit_log_records_every_call_and_no_secret() {
    let audit = Arc::new(MemoryAudit::new());
    let kms = MockKms::builder()
        .audit(audit.clone())
        .build()
        .expect("kms");
    let key = new_key(&kms);
    let ctx = ec(&[("tenant", "t1")]);
    let g = kms.generate_data_key(&gdk(&key.key_id, &ctx)).expect("gdk");
    let secret_pt = SecretBytes::new(b"top secret plaintext value".to_vec());
    let e = kms
        .encrypt(&EncryptRequest::new(
            &key.key_id,
            secret_pt.clone(),
            ctx.clone(),
        ))
        .expect("enc");
    kms.decrypt(&DecryptRequest::new(e.ciphertext_blob.clone(), ctx.clone()))
        .expect("dec");
    let _ = kms.decrypt(&DecryptRequest::new(
        e.ciphertext_blob,
        ec(&[("tenant", "t2")]),
    ));
    let lines = audit.lines();
    assert_eq!(lines.len(), 5);
    let records: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(records[1]["eventName"], "GenerateDataKey");
    assert_eq!(records[1]["keyArn"], key.arn.as_str());
    assert_eq!(records[1]["encryptionContext"]["tenant"], "t1");
    assert_eq!(records[1]["caller"], "arn:aws:iam::111122223333:root");
    assert_eq!(records[1]["outcome"], "Success");
    assert_eq!(records[4]["outcome"], "Failure");
    assert_eq!(records[4]["errorCode"], "InvalidCiphertextException");
    assert!(
        records
            .iter()
            .all(|r| r["requestId"].as_str().is_some_and(|s| s.len() == 36)
                && r["eventTime"].is_string())
    );
    let b64 = base64::engine::general_purpose::STANDARD;
    let all = lines.join("\n");
    for secret in [g.plaintext.expose_secret(), secret_pt.expose_secret()] {
        assert!(!all.contains(&hex::encode(secret)));
        assert!(!all.contains(&b64.encode(secret)));
    }
    assert!(!all.contains("top secret"));
    assert!(!format!("{g:?}").contains(&hex::encode(g.plaintext.expose_secret())));
}

#[test]
fn state_directory_survives_restart_and_refuses_corruption() {
    let dir = tempfile::tempdir().expect("tmp");
    let home = dir.path().join("kms");
    let ctx = ec(&[("a", "b")]);
    let (key, blob, pt) = {
        let kms = MockKms::builder().state_dir(&home).build().expect("open");
        let key = new_key(&kms);
        kms.create_alias(&CreateAliasRequest::new("alias/keep", &key.key_id))
            .expect("alias");
        let g = kms.generate_data_key(&gdk(&key.key_id, &ctx)).expect("gdk");
        kms.rotate_key_on_demand(&KeyIdRequest::new(&key.key_id))
            .expect("rotate");
        let second = new_key(&kms);
        kms.disable_key(&KeyIdRequest::new(&second.key_id))
            .expect("disable");
        // No process owns the directory: a second instance opens it while the first is open and sees
        // its state.
        let other = MockKms::builder()
            .state_dir(&home)
            .build()
            .expect("a second instance on the same directory");
        assert_eq!(
            other
                .describe_key(&DescribeKeyRequest::new(&second.key_id))
                .expect("describe")
                .key_metadata
                .key_state,
            "Disabled"
        );
        (key, g.ciphertext_blob, g.plaintext)
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for f in ["root.key", "state.json", "audit.log"] {
            let mode = std::fs::metadata(home.join(f))
                .expect(f)
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600, "{f}");
        }
        assert_eq!(
            std::fs::metadata(&home).expect("dir").permissions().mode() & 0o777,
            0o700
        );
    }
    let state = std::fs::read_to_string(home.join("state.json")).expect("state");
    assert!(!state.contains(&hex::encode(pt.expose_secret())));
    {
        let kms = MockKms::builder().state_dir(&home).build().expect("reopen");
        let d = kms
            .decrypt(&DecryptRequest::new(blob.clone(), ctx.clone()))
            .expect("old blob after restart");
        assert!(d.plaintext.ct_eq(&pt));
        let g = kms
            .generate_data_key(&gdk("alias/keep", &ctx))
            .expect("alias survived");
        assert_eq!(
            &g.ciphertext_blob[37..41],
            &2u32.to_be_bytes(),
            "rotation survived"
        );
        assert_eq!(
            kms.list_keys(&ListKeysRequest::default())
                .expect("list")
                .keys
                .len(),
            2
        );
        assert_eq!(
            kms.describe_key(&DescribeKeyRequest::new(&key.arn))
                .expect("d")
                .key_metadata
                .key_state,
            "Enabled"
        );
    }
    let audit = std::fs::read_to_string(home.join("audit.log")).expect("audit");
    assert!(audit.lines().count() >= 8);

    // Truncated state: a clear error, and the file is left as it was.
    let full = std::fs::read(home.join("state.json")).expect("read");
    std::fs::write(home.join("state.json"), &full[..full.len() / 2]).expect("truncate");
    let e = MockKms::builder()
        .state_dir(&home)
        .build()
        .expect_err("truncated");
    assert!(
        matches!(e, StoreError::Corrupt { .. }) && e.to_string().contains("refusing"),
        "{e}"
    );
    assert_eq!(
        std::fs::read(home.join("state.json")).expect("read").len(),
        full.len() / 2,
        "not replaced"
    );

    // Wrapped material edited: fails to authenticate under the root key.
    let mut doc: serde_json::Value = serde_json::from_slice(&full).expect("json");
    let w = doc["keys"][0]["materials"][0]["wrapped"]
        .as_str()
        .expect("wrapped")
        .to_owned();
    let mut raw = base64::engine::general_purpose::STANDARD
        .decode(w)
        .expect("b64");
    raw[20] ^= 1;
    doc["keys"][0]["materials"][0]["wrapped"] =
        base64::engine::general_purpose::STANDARD.encode(raw).into();
    std::fs::write(
        home.join("state.json"),
        serde_json::to_vec(&doc).expect("ser"),
    )
    .expect("write");
    assert!(matches!(
        MockKms::builder().state_dir(&home).build(),
        Err(StoreError::Corrupt { .. })
    ));

    // Root key missing while state exists.
    std::fs::write(home.join("state.json"), &full).expect("restore");
    std::fs::remove_file(home.join("root.key")).expect("rm");
    assert!(matches!(
        MockKms::builder().state_dir(&home).build(),
        Err(StoreError::Corrupt { .. })
    ));
}

#[test]
fn responses_never_print_plaintext() {
    let kms = MockKms::in_memory();
    let key = new_key(&kms).key_id;
    let g = kms
        .generate_data_key(&gdk(&key, &BTreeMap::new()))
        .expect("gdk");
    let d = kms
        .decrypt(&DecryptRequest::new(
            g.ciphertext_blob.clone(),
            BTreeMap::new(),
        ))
        .expect("d");
    for s in [format!("{g:?}"), format!("{d:?}")] {
        assert!(s.contains("REDACTED"));
        assert!(
            !s.contains(
                format!("{:?}", &g.plaintext.expose_secret()[..4]).trim_matches(['[', ']'])
            )
        );
    }
}

fn key_count(kms: &MockKms) -> usize {
    kms.list_keys(&ListKeysRequest::default())
        .expect("list")
        .keys
        .len()
}

/// Two instances on one state directory stand for two processes on one home (a server and a CLI
/// command): each sees the other's changes on its next call.
#[test]
fn two_instances_on_one_directory_see_each_others_changes() {
    let dir = tempfile::tempdir().expect("tmp");
    let home = dir.path().join("kms");
    let a = MockKms::builder().state_dir(&home).build().expect("a");
    let b = MockKms::builder().state_dir(&home).build().expect("b");
    let ctx = ec(&[("app", "shared")]);

    let key = new_key(&a);
    let described = b
        .describe_key(&DescribeKeyRequest::new(&key.key_id))
        .expect("b sees a's key");
    assert_eq!(described.key_metadata.arn, key.arn);
    let pt = SecretBytes::new(b"shared secret".to_vec());
    let blob = b
        .encrypt(&EncryptRequest::new(&key.key_id, pt.clone(), ctx.clone()))
        .expect("b encrypts under a's key")
        .ciphertext_blob;
    let d = a
        .decrypt(&DecryptRequest::new(blob.clone(), ctx.clone()))
        .expect("a decrypts");
    assert!(d.plaintext.ct_eq(&pt));

    // Changes made through b: an alias, a rotation, then disabling.
    b.create_alias(&CreateAliasRequest::new("alias/shared", &key.key_id))
        .expect("alias");
    b.rotate_key_on_demand(&KeyIdRequest::new(&key.key_id))
        .expect("rotate");
    let g = a
        .generate_data_key(&gdk("alias/shared", &ctx))
        .expect("a resolves b's alias");
    assert_eq!(
        &g.ciphertext_blob[37..41],
        &2u32.to_be_bytes(),
        "a uses b's new version"
    );
    b.decrypt(&DecryptRequest::new(g.ciphertext_blob, ctx.clone()))
        .expect("b decrypts the new version");
    b.disable_key(&KeyIdRequest::new(&key.key_id))
        .expect("disable");
    assert_eq!(
        code(a.encrypt(&EncryptRequest::new(&key.key_id, pt, ctx.clone()))),
        "DisabledException"
    );
    // a's change after b's: applied on top of b's state, not over it.
    a.enable_key(&KeyIdRequest::new(&key.key_id))
        .expect("enable");
    let other = new_key(&a);
    assert_eq!(key_count(&b), 2);
    assert_eq!(
        b.list_aliases(&ListAliasesRequest::default())
            .expect("aliases")
            .aliases
            .iter()
            .filter(|x| x.alias_name == "alias/shared")
            .count(),
        1,
        "b's alias survived a's later saves"
    );
    b.decrypt(&DecryptRequest::new(blob, ctx))
        .expect("enabled again through a");
    assert_eq!(
        b.describe_key(&DescribeKeyRequest::new(&other.key_id))
            .expect("d")
            .key_metadata
            .key_state,
        "Enabled"
    );
}

#[test]
fn concurrent_changes_through_two_instances_lose_nothing() {
    const EACH: usize = 20;
    let dir = tempfile::tempdir().expect("tmp");
    let home = dir.path().join("kms");
    let instances: Vec<MockKms> = (0..2)
        .map(|_| MockKms::builder().state_dir(&home).build().expect("open"))
        .collect();
    let barrier = Arc::new(std::sync::Barrier::new(instances.len()));
    let threads: Vec<_> = instances
        .iter()
        .cloned()
        .map(|kms| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                (0..EACH).map(|_| new_key(&kms).key_id).collect::<Vec<_>>()
            })
        })
        .collect();
    let mut created: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("thread"))
        .collect();
    created.sort();
    created.dedup();
    assert_eq!(created.len(), 2 * EACH);
    let fresh = MockKms::builder().state_dir(&home).build().expect("fresh");
    for kms in instances.iter().chain([&fresh]) {
        let mut listed: Vec<String> = kms
            .list_keys(&ListKeysRequest::default())
            .expect("list")
            .keys
            .into_iter()
            .map(|k| k.key_id)
            .collect();
        listed.sort();
        assert_eq!(listed, created);
    }
}

#[test]
fn instances_starting_together_on_an_empty_directory_share_one_root_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let home = dir.path().join("kms");
    let barrier = Arc::new(std::sync::Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (home, barrier) = (home.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                let kms = MockKms::builder().state_dir(&home).build().expect("open");
                new_key(&kms).key_id
            })
        })
        .collect();
    let ids: Vec<String> = threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    // Every key's material unwraps under the one root key a fresh instance reads.
    let fresh = MockKms::builder().state_dir(&home).build().expect("fresh");
    for id in &ids {
        fresh
            .encrypt(&EncryptRequest::new(
                id,
                SecretBytes::new(vec![1]),
                BTreeMap::new(),
            ))
            .expect("encrypt");
    }
    assert_eq!(key_count(&fresh), 4);
}
