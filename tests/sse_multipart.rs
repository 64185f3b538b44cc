//! Multipart uploads through the SSE engine: round trips in every mode with parts of 5 MiB, 1 byte and
//! 0 bytes, ranges at every part boundary, `?partNumber=N`, copies of and from multipart objects, S3's
//! multipart errors, SSE-C key rules, and tampering of the stored object (part body, part trailer,
//! manifest, a dropped, swapped or spliced part).

use std::sync::Arc;

use s3crypt::iam::{Principal, RequestContext};
use s3crypt::kms::MockKms;
use s3crypt::primitives::chunked::CHUNK_SIZE;
use s3crypt::primitives::hash::md5;
use s3crypt::range::ByteRange;
use s3crypt::s3::S3ErrorCode;
use s3crypt::sse::S3Error;
use s3crypt::sse::bucket::{BlockedType, BucketEncryption};
use s3crypt::sse::engine::{MIN_PART_SIZE, SseEngine, object_file_name};
use s3crypt::sse::headers::{Headers, copy_source_customer_key_headers, customer_key_headers};

const MIN: usize = MIN_PART_SIZE as usize;

fn tls() -> RequestContext {
    RequestContext::signed_by(Principal::root("000000000000", "AKIALOCALADMIN")).with_tls(true)
}

fn setup() -> (tempfile::TempDir, SseEngine) {
    let (dir, e, _) = setup_kms();
    (dir, e)
}

fn setup_kms() -> (tempfile::TempDir, SseEngine, MockKms) {
    let dir = tempfile::tempdir().expect("tmp");
    let kms = MockKms::in_memory();
    let e = SseEngine::new(dir.path(), Arc::new(kms.clone())).expect("engine");
    let mut enc = BucketEncryption::new_bucket_default();
    enc.blocked = vec![BlockedType::None];
    e.create_bucket(&tls(), "bkt", Some(enc)).expect("bucket");
    (dir, e, kms)
}

fn h(pairs: &[(&str, &str)]) -> Headers {
    Headers::new(
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned())),
    )
}

fn data(n: usize, seed: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + seed * 7 + n) as u8).collect()
}

fn header<'a>(hs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    hs.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Creates an upload, uploads `parts` as 1..=N and returns the upload id and the part ETags.
fn upload_parts(
    e: &SseEngine,
    key: &str,
    create: &Headers,
    part_h: &Headers,
    parts: &[Vec<u8>],
) -> (String, Vec<(u32, String)>) {
    let (id, _) = e
        .create_multipart_upload(&tls(), "bkt", key, create)
        .expect("create");
    let mut etags = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let n = u32::try_from(i + 1).expect("n");
        let r = e
            .upload_part(&tls(), "bkt", key, &id, n, part_h, &mut &p[..])
            .expect("upload part");
        etags.push((n, header(&r.headers, "ETag").expect("etag").to_owned()));
    }
    (id, etags)
}

fn upload(
    e: &SseEngine,
    key: &str,
    create: &Headers,
    part_h: &Headers,
    parts: &[Vec<u8>],
) -> Vec<(String, String)> {
    let (id, etags) = upload_parts(e, key, create, part_h, parts);
    e.complete_multipart_upload(&tls(), "bkt", key, &id, &etags, &h(&[]))
        .expect("complete")
        .headers
}

/// GET into a buffer, returning what was released even on failure.
fn get(
    e: &SseEngine,
    key: &str,
    hs: &Headers,
    range: Option<ByteRange>,
) -> (Result<s3crypt::sse::engine::Response, S3Error>, Vec<u8>) {
    let mut out = Vec::new();
    let r = e.get_object(&tls(), "bkt", key, hs, range, &mut out);
    (r, out)
}

fn modes(ck: &[u8; 32]) -> Vec<(&'static str, Headers, Headers)> {
    let c = Headers::new(customer_key_headers(ck).to_vec());
    vec![
        (
            "sse-s3",
            h(&[("x-amz-server-side-encryption", "AES256")]),
            h(&[]),
        ),
        (
            "sse-kms",
            h(&[("x-amz-server-side-encryption", "aws:kms")]),
            h(&[]),
        ),
        (
            "sse-kms-bucket-key",
            h(&[
                ("x-amz-server-side-encryption", "aws:kms"),
                ("x-amz-server-side-encryption-bucket-key-enabled", "true"),
            ]),
            h(&[]),
        ),
        (
            "dsse-kms",
            h(&[("x-amz-server-side-encryption", "aws:kms:dsse")]),
            h(&[]),
        ),
        ("sse-c", c.clone(), c),
    ]
}

fn is_hex32(s: &str) -> bool {
    let s = s.trim_matches('"');
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn every_mode_round_trips_with_ranges_at_part_boundaries_and_part_numbers() {
    let (_d, e) = setup();
    let ck = [9u8; 32];
    let layouts: Vec<Vec<Vec<u8>>> = vec![
        vec![data(7, 1)],
        vec![data(MIN, 2), data(1, 3)],
        vec![data(MIN, 4), data(MIN + CHUNK_SIZE + 5, 5), data(0, 6)],
    ];
    for (name, create, part_h) in modes(&ck) {
        for (li, parts) in layouts.iter().enumerate() {
            let key = format!("{name}/{li}");
            let resp = upload(&e, &key, &create, &part_h, parts);
            let whole: Vec<u8> = parts.concat();
            // ETag: "<md5 of the binary part ETags>-N".
            let etag = header(&resp, "ETag").expect("etag");
            let (hexpart, n) = etag
                .trim_matches('"')
                .split_once('-')
                .expect("multipart etag");
            assert_eq!(n, parts.len().to_string(), "{key}");
            assert!(is_hex32(hexpart), "{key}: {etag}");
            let read_h = part_h.clone();
            let (r, out) = get(&e, &key, &read_h, None);
            let r = r.unwrap_or_else(|err| panic!("{key}: {err}"));
            assert_eq!(out, whole, "{key}");
            assert_eq!(header(&r.headers, "ETag"), Some(etag));
            let head = e
                .head_object(&tls(), "bkt", &key, None, &read_h)
                .expect("head");
            assert_eq!(
                header(&head.headers, "Content-Length"),
                Some(whole.len().to_string().as_str())
            );
            // Ranges at every part boundary: b-1, b, b+1.
            let mut b = 0u64;
            let total = whole.len() as u64;
            for p in parts {
                b += p.len() as u64;
                for (s, t) in [
                    (b.saturating_sub(1), b),
                    (b, b + 1),
                    (b.saturating_sub(1), b + 1),
                    (b.saturating_sub(2), b.saturating_sub(1)),
                ] {
                    if s >= total {
                        continue;
                    }
                    let t = t.min(total - 1);
                    let (r, out) = get(&e, &key, &read_h, Some(ByteRange::FromTo(s, t)));
                    r.unwrap_or_else(|err| panic!("{key} {s}-{t}: {err}"));
                    assert_eq!(out, whole[s as usize..=t as usize], "{key} {s}-{t}");
                }
            }
            // ?partNumber=N
            let mut at = 0usize;
            for (i, p) in parts.iter().enumerate() {
                let n = u32::try_from(i + 1).expect("n");
                let mut out = Vec::new();
                let r = e
                    .get_object_part(&tls(), "bkt", &key, &read_h, n, &mut out)
                    .unwrap_or_else(|err| panic!("{key} part {n}: {err}"));
                assert_eq!(&out, p, "{key} part {n}");
                assert_eq!(r.status, 206);
                assert_eq!(
                    header(&r.headers, "x-amz-mp-parts-count"),
                    Some(parts.len().to_string().as_str())
                );
                if !p.is_empty() {
                    assert_eq!(
                        header(&r.headers, "Content-Range"),
                        Some(format!("bytes {}-{}/{}", at, at + p.len() - 1, total).as_str())
                    );
                }
                let hr = e
                    .head_object_part(&tls(), "bkt", &key, &read_h, n)
                    .expect("head part");
                assert_eq!(
                    header(&hr.headers, "Content-Length"),
                    Some(p.len().to_string().as_str())
                );
                at += p.len();
            }
            let past = u32::try_from(parts.len() + 1).expect("n");
            let err = e
                .get_object_part(&tls(), "bkt", &key, &read_h, past, &mut Vec::new())
                .expect_err("past the last part");
            assert_eq!(err.code(), S3ErrorCode::InvalidPartNumber);
            assert_eq!(err.status(), 416);
        }
    }
}

#[test]
fn part_etags_are_md5_for_sse_s3_only_and_the_object_etag_is_the_md5_of_them() {
    let (_d, e) = setup();
    let ck = [3u8; 32];
    let parts = vec![data(MIN, 1), data(10, 2)];
    for (name, create, part_h) in modes(&ck) {
        let key = format!("etag/{name}");
        let (id, etags) = upload_parts(&e, &key, &create, &part_h, &parts);
        for ((_, etag), p) in etags.iter().zip(&parts) {
            assert!(is_hex32(etag), "{name}: {etag}");
            let is_md5 = etag.trim_matches('"') == hex::encode(md5(p));
            assert_eq!(is_md5, name == "sse-s3", "{name}");
        }
        let listed = e.list_parts(&tls(), "bkt", &key, &id).expect("list parts");
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].size, MIN as u64);
        assert_eq!(listed[1].size, 10);
        assert_eq!(listed[1].etag, etags[1].1);
        let resp = e
            .complete_multipart_upload(&tls(), "bkt", &key, &id, &etags, &h(&[]))
            .expect("complete");
        let mut raw = Vec::new();
        for (_, t) in &etags {
            raw.extend(hex::decode(t.trim_matches('"')).expect("hex"));
        }
        assert_eq!(
            header(&resp.headers, "ETag"),
            Some(format!("\"{}-2\"", hex::encode(md5(&raw))).as_str())
        );
    }
}

#[test]
fn sse_c_parts_need_the_same_key_and_reads_need_it_too() {
    let (_d, e) = setup();
    let ck = [5u8; 32];
    let c = Headers::new(customer_key_headers(&ck).to_vec());
    let other = Headers::new(customer_key_headers(&[6u8; 32]).to_vec());
    let (id, _) = e
        .create_multipart_upload(&tls(), "bkt", "c", &c)
        .expect("create");
    let err = e
        .upload_part(&tls(), "bkt", "c", &id, 1, &other, &mut &b"x"[..])
        .expect_err("other key");
    assert_eq!(err.code(), S3ErrorCode::InvalidRequest);
    assert_eq!(
        err.message(),
        "The provided encryption parameters did not match the ones used originally."
    );
    let err = e
        .upload_part(&tls(), "bkt", "c", &id, 1, &h(&[]), &mut &b"x"[..])
        .expect_err("no key");
    assert_eq!(err.code(), S3ErrorCode::InvalidRequest);
    assert!(
        err.message()
            .starts_with("The multipart upload initiate requested encryption.")
    );
    // A key on an upload that was not SSE-C.
    let (id2, _) = e
        .create_multipart_upload(&tls(), "bkt", "s", &h(&[]))
        .expect("create");
    let err = e
        .upload_part(&tls(), "bkt", "s", &id2, 1, &c, &mut &b"x"[..])
        .expect_err("key on SSE-S3 upload");
    assert_eq!(err.code(), S3ErrorCode::InvalidRequest);
    // Complete without the key (S3 does not need it), then reads need it.
    let r = e
        .upload_part(&tls(), "bkt", "c", &id, 1, &c, &mut &b"hello"[..])
        .expect("part");
    let etag = header(&r.headers, "ETag").expect("etag").to_owned();
    assert!(header(&r.headers, "x-amz-server-side-encryption-customer-key-MD5").is_some());
    e.complete_multipart_upload(&tls(), "bkt", "c", &id, &[(1, etag)], &h(&[]))
        .expect("complete");
    let (r, out) = get(&e, "c", &h(&[]), None);
    assert_eq!(r.expect_err("no key").code(), S3ErrorCode::InvalidRequest);
    assert!(out.is_empty());
    let (r, out) = get(&e, "c", &other, None);
    let err = r.expect_err("wrong key");
    assert_eq!(err.code(), S3ErrorCode::AccessDenied);
    assert!(out.is_empty());
    let (r, out) = get(&e, "c", &c, None);
    r.expect("right key");
    assert_eq!(out, b"hello");
}

#[test]
fn s3_multipart_errors() {
    let (_d, e) = setup();
    let (id, etags) = upload_parts(
        &e,
        "k",
        &h(&[]),
        &h(&[]),
        &[data(100, 1), data(MIN, 2), data(3, 3)],
    );
    for n in [0, 10_001] {
        let err = e
            .upload_part(&tls(), "bkt", "k", &id, n, &h(&[]), &mut &b"x"[..])
            .expect_err("part number");
        assert_eq!(err.code(), S3ErrorCode::InvalidArgument);
        assert_eq!(
            err.message(),
            "Part number must be an integer between 1 and 10000, inclusive"
        );
    }
    let complete = |parts: &[(u32, String)]| {
        e.complete_multipart_upload(&tls(), "bkt", "k", &id, parts, &h(&[]))
            .expect_err("refused")
            .code()
    };
    assert_eq!(complete(&[]), S3ErrorCode::MalformedXML);
    assert_eq!(
        complete(&[etags[1].clone(), etags[0].clone()]),
        S3ErrorCode::InvalidPartOrder
    );
    assert_eq!(
        complete(&[(7, etags[0].1.clone())]),
        S3ErrorCode::InvalidPart
    );
    assert_eq!(
        complete(&[(1, "\"00000000000000000000000000000000\"".into())]),
        S3ErrorCode::InvalidPart
    );
    // Part 1 (100 bytes) is not the last: too small.
    assert_eq!(complete(&etags), S3ErrorCode::EntityTooSmall);
    // Parts 2 and 3 only: fine (the last may be small).
    let resp = e
        .complete_multipart_upload(&tls(), "bkt", "k", &id, &etags[1..], &h(&[]))
        .expect("complete");
    assert!(
        header(&resp.headers, "ETag")
            .expect("etag")
            .ends_with("-2\"")
    );
    let (r, out) = get(&e, "k", &h(&[]), None);
    r.expect("get");
    assert_eq!(out, [data(MIN, 2), data(3, 3)].concat());
    // The upload is gone.
    let code = |r: Result<(), S3Error>| r.expect_err("no such upload").code();
    assert_eq!(
        code(
            e.upload_part(&tls(), "bkt", "k", &id, 1, &h(&[]), &mut &b"x"[..])
                .map(|_| ())
        ),
        S3ErrorCode::NoSuchUpload
    );
    assert_eq!(
        code(
            e.complete_multipart_upload(&tls(), "bkt", "k", &id, &etags, &h(&[]))
                .map(|_| ())
        ),
        S3ErrorCode::NoSuchUpload
    );
    assert_eq!(
        code(e.abort_multipart_upload(&tls(), "bkt", "k", "00ff")),
        S3ErrorCode::NoSuchUpload
    );
    assert_eq!(
        code(e.list_parts(&tls(), "bkt", "k", &id).map(|_| ())),
        S3ErrorCode::NoSuchUpload
    );
    // Abort removes the upload and its parts.
    let (id2, _) = upload_parts(&e, "a", &h(&[]), &h(&[]), &[data(5, 1)]);
    let ups = e.list_multipart_uploads(&tls(), "bkt").expect("list");
    assert!(ups.iter().any(|u| u.upload_id == id2 && u.key == "a"));
    e.abort_multipart_upload(&tls(), "bkt", "a", &id2)
        .expect("abort");
    assert_eq!(
        code(e.list_parts(&tls(), "bkt", "a", &id2).map(|_| ())),
        S3ErrorCode::NoSuchUpload
    );
    let ups = e.list_multipart_uploads(&tls(), "bkt").expect("list");
    assert!(!ups.iter().any(|u| u.upload_id == id2));
}

#[test]
fn non_multipart_objects_have_one_part() {
    let (_d, e) = setup();
    let body = data(1000, 1);
    e.put_object(&tls(), "bkt", "one", &h(&[]), &mut &body[..])
        .expect("put");
    let mut out = Vec::new();
    let r = e
        .get_object_part(&tls(), "bkt", "one", &h(&[]), 1, &mut out)
        .expect("part 1");
    assert_eq!(out, body);
    assert_eq!(r.status, 206);
    assert_eq!(header(&r.headers, "x-amz-mp-parts-count"), None);
    let err = e
        .get_object_part(&tls(), "bkt", "one", &h(&[]), 2, &mut Vec::new())
        .expect_err("part 2");
    assert_eq!(err.code(), S3ErrorCode::InvalidPartNumber);
    let err = e
        .head_object_part(&tls(), "bkt", "one", &h(&[]), 0)
        .expect_err("part 0");
    assert_eq!(err.code(), S3ErrorCode::InvalidArgument);
}

#[test]
fn copies_of_and_from_multipart_objects() {
    let (_d, e) = setup();
    let ck = [8u8; 32];
    let c = Headers::new(customer_key_headers(&ck).to_vec());
    let parts = vec![data(MIN, 1), data(CHUNK_SIZE + 7, 2)];
    let whole = parts.concat();
    upload(&e, "src", &c, &c, &parts);
    // CopyObject with an SSE-C multipart source into SSE-KMS.
    let mut copy_h: Vec<(String, String)> = copy_source_customer_key_headers(&ck).to_vec();
    copy_h.push(("x-amz-server-side-encryption".into(), "aws:kms".into()));
    e.copy_object(
        &tls(),
        ("bkt", "src", None),
        ("bkt", "dst"),
        &Headers::new(copy_h),
    )
    .expect("copy");
    let (r, out) = get(&e, "dst", &h(&[]), None);
    r.expect("get copy");
    assert_eq!(out, whole);
    // UploadPartCopy with a range across the source's part boundary, and a whole small source.
    e.put_object(&tls(), "bkt", "small", &h(&[]), &mut &b"tail"[..])
        .expect("put");
    let (id, _) = e
        .create_multipart_upload(
            &tls(),
            "bkt",
            "pc",
            &h(&[("x-amz-server-side-encryption", "aws:kms:dsse")]),
        )
        .expect("create");
    // Inclusive, across the source's part boundary, at least 5 MiB (it is not the last part).
    let from = 10u64;
    let to = (whole.len() - 2) as u64;
    let copy_src = Headers::new(copy_source_customer_key_headers(&ck).to_vec());
    let r1 = e
        .upload_part_copy(
            &tls(),
            "bkt",
            "pc",
            &id,
            1,
            ("bkt", "src", None),
            Some(ByteRange::FromTo(from, to)),
            &copy_src,
        )
        .expect("part copy");
    assert!(header(&r1.headers, "Last-Modified").is_some());
    let r2 = e
        .upload_part_copy(
            &tls(),
            "bkt",
            "pc",
            &id,
            2,
            ("bkt", "small", None),
            None,
            &h(&[]),
        )
        .expect("part copy");
    let etags = vec![
        (1, header(&r1.headers, "ETag").expect("etag").to_owned()),
        (2, header(&r2.headers, "ETag").expect("etag").to_owned()),
    ];
    e.complete_multipart_upload(&tls(), "bkt", "pc", &id, &etags, &h(&[]))
        .expect("complete");
    let (r, out) = get(&e, "pc", &h(&[]), None);
    r.expect("get");
    let want = [&whole[from as usize..=to as usize], b"tail"].concat();
    assert_eq!(out, want);
    // Reseal leaves multipart objects alone (they stay readable).
    e.rotate_root().expect("rotate");
    e.reseal("bkt").expect("reseal");
    let (r, out) = get(&e, "src", &c, None);
    r.expect("get after reseal");
    assert_eq!(out, whole);
}

/// The stored object's parts (offset, length) from its manifest.
fn stored_parts(bytes: &[u8]) -> Vec<(usize, usize)> {
    let n = bytes.len();
    assert_eq!(&bytes[n - 8..], b"S3CRMPU1");
    let len = u32::from_be_bytes(bytes[n - 12..n - 8].try_into().expect("len")) as usize;
    let m: serde_json::Value =
        serde_json::from_slice(&bytes[n - 12 - len..n - 12]).expect("manifest json");
    m["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .map(|p| {
            (
                p["offset"].as_u64().expect("offset") as usize,
                p["length"].as_u64().expect("length") as usize,
            )
        })
        .collect()
}

#[test]
fn tampering_with_a_stored_multipart_object_is_detected() {
    let (d, e) = setup();
    let ck = [4u8; 32];
    let c = Headers::new(customer_key_headers(&ck).to_vec());
    let parts = vec![data(MIN, 1), data(MIN, 2), data(1000, 3)];
    let p1 = parts[0].len();
    for (name, hs) in [("s3-a", h(&[])), ("sc-a", c.clone())] {
        upload(&e, name, &hs, &hs, &parts);
        // Another upload of the same shape (and key length) to splice from.
        let other_name = name.replace("-a", "-b");
        upload(&e, &other_name, &hs, &hs, &parts);
        let path = d
            .path()
            .join("buckets/bkt/objects")
            .join(object_file_name(name));
        let orig = std::fs::read(&path).expect("read");
        let other = std::fs::read(
            d.path()
                .join("buckets/bkt/objects")
                .join(object_file_name(&other_name)),
        )
        .expect("read");
        let sp = stored_parts(&orig);
        let (o2, l2) = sp[1];
        let manifest_at = sp[2].0 + sp[2].1;
        let check = |what: &str, bytes: Vec<u8>, max_released: usize| {
            std::fs::write(&path, &bytes).expect("write");
            let (r, out) = get(&e, name, &hs, None);
            let err = r.expect_err(what);
            assert_eq!(err.code(), S3ErrorCode::InternalError, "{name} {what}");
            assert!(
                out.len() <= max_released,
                "{name} {what}: released {}",
                out.len()
            );
            assert_eq!(out, parts.concat()[..out.len()], "{name} {what}");
        };
        // A byte of part 2's body (its first chunk): nothing of part 2 is released.
        let mut t = orig.clone();
        t[o2 + 8 + 64] ^= 1;
        check("part body", t.clone(), p1);
        // A range within part 1 does not touch part 2 and still reads.
        std::fs::write(&path, &t).expect("write");
        let (r, out) = get(&e, name, &hs, Some(ByteRange::FromTo(0, 99)));
        r.expect("part 1 range");
        assert_eq!(out, parts[0][..100]);
        // A byte of part 2's trailer.
        let mut t = orig.clone();
        t[o2 + l2 - 40] ^= 1;
        check("part trailer", t, p1);
        // Bytes of the manifest (start, middle, its MAC, its length).
        for at in [
            manifest_at + 2,
            (manifest_at + orig.len()) / 2,
            orig.len() - 20,
            orig.len() - 11,
        ] {
            let mut t = orig.clone();
            t[at] ^= 1;
            check("manifest", t, 0);
        }
        // The last part dropped.
        let t = [&orig[..sp[2].0], &orig[manifest_at..]].concat();
        check("dropped part", t, 0);
        // Truncated.
        check("truncated", orig[..orig.len() - 1].to_vec(), 0);
        // Parts 1 and 2 swapped (same length).
        let t = [&orig[o2..o2 + l2], &orig[..o2], &orig[o2 + l2..]].concat();
        check("swapped parts", t, 0);
        // Part 2 spliced from the other upload of the same shape.
        let osp = stored_parts(&other);
        assert_eq!(osp[1].1, l2);
        let t = [
            &orig[..o2],
            &other[osp[1].0..osp[1].0 + osp[1].1],
            &orig[o2 + l2..],
        ]
        .concat();
        check("spliced part", t, p1);
        std::fs::write(&path, &orig).expect("restore");
        let (r, out) = get(&e, name, &hs, None);
        r.expect("restored");
        assert_eq!(out, parts.concat());
    }
}

#[test]
fn kms_uploads_generate_one_data_key_and_need_tls() {
    let (_d, e, kms) = setup_kms();
    let count = |kms: &MockKms| {
        kms.quota_counters()
            .admitted
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let kh = h(&[("x-amz-server-side-encryption", "aws:kms")]);
    // The managed key exists after a first use.
    upload(&e, "warm", &kh, &h(&[]), &[data(1, 1)]);
    let before = count(&kms);
    let (id, etags) = upload_parts(
        &e,
        "k",
        &kh,
        &h(&[]),
        &[data(MIN, 1), data(MIN, 2), data(3, 3)],
    );
    let after_parts = count(&kms);
    e.complete_multipart_upload(&tls(), "bkt", "k", &id, &etags, &h(&[]))
        .expect("complete");
    assert!(
        after_parts - before <= 2,
        "KMS calls for create + 3 parts: {}",
        after_parts - before
    );
    assert_eq!(count(&kms), after_parts, "Complete calls no KMS");
    let plain = tls().with_tls(false);
    let err = e
        .create_multipart_upload(&plain, "bkt", "p", &kh)
        .expect_err("KMS over HTTP");
    assert_eq!(err.code(), S3ErrorCode::InvalidArgument);
    let (id, _) = e
        .create_multipart_upload(&tls(), "bkt", "p", &kh)
        .expect("create");
    let err = e
        .upload_part(&plain, "bkt", "p", &id, 1, &h(&[]), &mut &b"x"[..])
        .expect_err("KMS part over HTTP");
    assert_eq!(err.code(), S3ErrorCode::InvalidArgument);
}

#[test]
fn create_has_put_objects_checks() {
    let dir = tempfile::tempdir().expect("tmp");
    let e = SseEngine::new(dir.path(), Arc::new(MockKms::in_memory())).expect("engine");
    // S3's default for new buckets blocks SSE-C writes.
    e.create_bucket(&tls(), "bkt", None).expect("bucket");
    let c = Headers::new(customer_key_headers(&[1u8; 32]).to_vec());
    let err = e
        .create_multipart_upload(&tls(), "bkt", "c", &c)
        .expect_err("SSE-C blocked");
    assert_eq!(err.code(), S3ErrorCode::AccessDenied);
    let err = e
        .create_multipart_upload(
            &tls(),
            "bkt",
            "x",
            &h(&[("x-amz-server-side-encryption", "bogus")]),
        )
        .expect_err("bad SSE header");
    assert_eq!(err.code(), S3ErrorCode::InvalidArgument);
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::bkt/*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}}]}"#;
    e.put_bucket_policy(&tls(), "bkt", policy).expect("policy");
    let err = e
        .create_multipart_upload(&tls(), "bkt", "x", &h(&[]))
        .expect_err("policy");
    assert_eq!(err.code(), S3ErrorCode::AccessDenied);
    let (_, r) = e
        .create_multipart_upload(
            &tls(),
            "bkt",
            "x",
            &h(&[("x-amz-server-side-encryption", "aws:kms")]),
        )
        .expect("create with KMS");
    assert_eq!(
        header(&r.headers, "x-amz-server-side-encryption"),
        Some("aws:kms")
    );
}

#[test]
fn the_upload_record_and_part_trailers_are_authenticated() {
    let (d, e) = setup();
    let (id, etags) = upload_parts(&e, "k", &h(&[]), &h(&[]), &[data(MIN, 1), data(5, 2)]);
    let up = d.path().join("buckets/bkt/uploads").join(&id);
    // A part trailer edited before completion.
    let part = up.join("part-00002");
    let orig = std::fs::read(&part).expect("read");
    let mut t = orig.clone();
    let n = t.len();
    t[n - 30] ^= 1;
    std::fs::write(&part, &t).expect("write");
    let err = e
        .complete_multipart_upload(&tls(), "bkt", "k", &id, &etags, &h(&[]))
        .expect_err("tampered trailer");
    assert_eq!(err.code(), S3ErrorCode::InternalError);
    std::fs::write(&part, &orig).expect("restore");
    // The upload record edited.
    let rec_path = up.join("upload.json");
    let rec = std::fs::read_to_string(&rec_path).expect("read");
    let mut v: serde_json::Value = serde_json::from_str(&rec).expect("json");
    let inner = v["metadata"]["s3crypt-upload"]
        .as_str()
        .expect("record")
        .replace("\"content_type\":null", "\"content_type\":\"text/evil\"");
    v["metadata"]["s3crypt-upload"] = serde_json::Value::String(inner);
    std::fs::write(&rec_path, v.to_string()).expect("write");
    let err = e
        .upload_part(&tls(), "bkt", "k", &id, 3, &h(&[]), &mut &b"x"[..])
        .expect_err("tampered record");
    assert_eq!(err.code(), S3ErrorCode::InternalError);
    std::fs::write(&rec_path, rec).expect("restore");
    e.complete_multipart_upload(&tls(), "bkt", "k", &id, &etags, &h(&[]))
        .expect("complete");
    let (r, out) = get(&e, "k", &h(&[]), None);
    r.expect("get");
    assert_eq!(out, [data(MIN, 1), data(5, 2)].concat());
}

#[test]
fn parts_decrypt_the_uploads_data_key_through_kms_when_it_is_not_cached() {
    let (d, e, kms) = setup_kms();
    let ck = [2u8; 32];
    let mut ids = Vec::new();
    for (name, create, part_h) in modes(&ck) {
        let (id, _) = e
            .create_multipart_upload(&tls(), "bkt", name, &create)
            .expect("create");
        ids.push((name, id, part_h));
    }
    drop(e);
    // A new engine (another process, or after the cache's TTL) has no cached data keys.
    let e = SseEngine::new(d.path(), Arc::new(kms)).expect("engine");
    for (name, id, part_h) in ids {
        let parts = [data(MIN, 1), data(2, 2)];
        let mut etags = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let n = u32::try_from(i + 1).expect("n");
            let r = e
                .upload_part(&tls(), "bkt", name, &id, n, &part_h, &mut &p[..])
                .unwrap_or_else(|err| panic!("{name}: {err}"));
            etags.push((n, header(&r.headers, "ETag").expect("etag").to_owned()));
        }
        e.complete_multipart_upload(&tls(), "bkt", name, &id, &etags, &h(&[]))
            .expect("complete");
        let (r, out) = get(&e, name, &part_h, Some(ByteRange::Suffix(3)));
        r.unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(out, parts.concat()[MIN - 1..], "{name}");
    }
}
