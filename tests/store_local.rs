//! The local directory store: buckets and configuration, put/get/range/head/delete, listings across
//! pages, multipart uploads, versions and delete markers in every versioning state, Object Lock fields,
//! failed and crashed writes, and readers racing a writer.

use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use s3crypt::s3::{S3Error, S3ErrorCode};
use s3crypt::store::local::{LocalStore, object_file_name};
use s3crypt::store::{
    ListRequest, Metadata, NULL_VERSION, ObjectLock, ObjectStore, Retention, RetentionMode,
    StoreError, VersionListRequest, Versioning,
};

const NO_LOCK: ObjectLock = ObjectLock {
    retention: None,
    legal_hold: false,
};

fn store() -> (tempfile::TempDir, LocalStore) {
    let d = tempfile::tempdir().expect("tempdir");
    let s = LocalStore::open(d.path()).expect("open");
    s.create_bucket("bkt").expect("bucket");
    (d, s)
}

fn put(s: &LocalStore, key: &str, bytes: &[u8]) {
    s.put_object("bkt", key, &mut &bytes[..], &Metadata::new(), &NO_LOCK)
        .expect("put");
}

fn get(s: &LocalStore, key: &str) -> Result<Vec<u8>, StoreError> {
    let mut o = s.get_object("bkt", key, None)?;
    let mut v = Vec::new();
    o.body.read_to_end(&mut v).expect("read");
    Ok(v)
}

fn meta(pairs: &[(&str, &str)]) -> Metadata {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Names in `objects/` (temporaries start with '.').
fn object_files(home: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(home.join("buckets/bkt/objects"))
        .expect("objects dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn buckets_and_configuration_documents() {
    let (_d, s) = store();
    assert!(matches!(
        s.create_bucket("bkt"),
        Err(StoreError::BucketExists)
    ));
    s.create_bucket("other").expect("second bucket");
    let names: Vec<String> = s
        .list_buckets()
        .expect("list")
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(names, ["bkt", "other"]);
    assert!(matches!(
        s.head_bucket("nope"),
        Err(StoreError::NoSuchBucket)
    ));
    assert_eq!(s.bucket_config("bkt", "policy").expect("get"), None);
    s.put_bucket_config("bkt", "policy", Some("{\"Version\":\"2012-10-17\"}"))
        .expect("put");
    s.put_bucket_config("bkt", "encryption", Some("<x/>"))
        .expect("put");
    assert_eq!(
        s.bucket_config("bkt", "policy").expect("get").as_deref(),
        Some("{\"Version\":\"2012-10-17\"}")
    );
    assert_eq!(
        s.bucket_config("bkt", "encryption")
            .expect("get")
            .as_deref(),
        Some("<x/>")
    );
    s.put_bucket_config("bkt", "policy", None).expect("remove");
    assert_eq!(s.bucket_config("bkt", "policy").expect("get"), None);
    assert!(matches!(
        s.bucket_config("nope", "policy"),
        Err(StoreError::NoSuchBucket)
    ));
    put(&s, "k", b"x");
    assert!(matches!(
        s.delete_bucket("bkt"),
        Err(StoreError::BucketNotEmpty)
    ));
    s.delete_object("bkt", "k").expect("delete");
    s.delete_bucket("bkt").expect("empty now");
    assert!(matches!(
        s.head_bucket("bkt"),
        Err(StoreError::NoSuchBucket)
    ));
    assert!(matches!(
        s.create_bucket("../escape"),
        Err(StoreError::InvalidBucketName)
    ));
}

/// Two stores on one home (two processes): concurrent changes of different configuration documents
/// of one bucket all survive, and a bucket is created once.
#[test]
fn concurrent_configuration_changes_from_two_stores_lose_nothing() {
    const EACH: usize = 15;
    let d = tempfile::tempdir().expect("tempdir");
    let a = LocalStore::open(d.path()).expect("a");
    let b = LocalStore::open(d.path()).expect("b");
    a.create_bucket("bkt").expect("bucket");
    assert!(matches!(
        b.create_bucket("bkt"),
        Err(StoreError::BucketExists)
    ));
    let barrier = Arc::new(std::sync::Barrier::new(2));
    std::thread::scope(|scope| {
        for (who, s) in [("a", &a), ("b", &b)] {
            let barrier = Arc::clone(&barrier);
            scope.spawn(move || {
                barrier.wait();
                for i in 0..EACH {
                    s.put_bucket_config("bkt", &format!("{who}{i}"), Some(&format!("doc {i}")))
                        .expect("put config");
                }
            });
        }
    });
    for who in ["a", "b"] {
        for i in 0..EACH {
            assert_eq!(
                b.bucket_config("bkt", &format!("{who}{i}")).expect("get"),
                Some(format!("doc {i}")),
                "{who}{i}"
            );
        }
    }
}

#[test]
fn put_get_range_head_delete() {
    let (d, s) = store();
    let body: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let info = s
        .put_object(
            "bkt",
            "a/b c",
            &mut &body[..],
            &meta(&[("content-type", "x/y")]),
            &NO_LOCK,
        )
        .expect("put");
    assert_eq!(info.size, 100_000);
    assert_eq!(info.version_id, NULL_VERSION);
    assert_eq!(info.etag.len(), 34, "a quoted 128-bit tag: {}", info.etag);
    assert_eq!(get(&s, "a/b c").expect("get"), body);
    let head = s.head_object("bkt", "a/b c", None).expect("head");
    assert_eq!(head, info);
    assert_eq!(head.metadata["content-type"], "x/y");
    // The layout: the bytes under the hash of the key.
    assert_eq!(
        std::fs::read(
            d.path()
                .join("buckets/bkt/objects")
                .join(object_file_name("a/b c"))
        )
        .expect("file"),
        body
    );
    let mut r = s
        .get_object_range("bkt", "a/b c", None, 10, 20)
        .expect("range");
    let mut v = Vec::new();
    r.body.read_to_end(&mut v).expect("read");
    assert_eq!((r.start, r.end, v.as_slice()), (10, 20, &body[10..20]));
    // The end is clamped to the size; a start at or past the size is refused.
    let r = s
        .get_object_range("bkt", "a/b c", None, 99_990, u64::MAX)
        .expect("tail");
    assert_eq!(r.end, 100_000);
    assert!(matches!(
        s.get_object_range("bkt", "a/b c", None, 100_000, u64::MAX),
        Err(StoreError::InvalidRange)
    ));
    // Seekable whole reads.
    let mut o = s.get_object("bkt", "a/b c", None).expect("get");
    io::Seek::seek(&mut o.body, io::SeekFrom::Start(99_999)).expect("seek");
    let mut last = Vec::new();
    o.body.read_to_end(&mut last).expect("read");
    assert_eq!(last, [body[99_999]]);
    // Replace, then delete.
    put(&s, "a/b c", b"short");
    let replaced = s.head_object("bkt", "a/b c", None).expect("head");
    assert_eq!(replaced.size, 5);
    assert_ne!(replaced.etag, info.etag, "new bytes, new ETag");
    assert_eq!(
        replaced.metadata,
        Metadata::new(),
        "the metadata is the new write's"
    );
    assert_eq!(s.delete_object("bkt", "a/b c").expect("delete"), None);
    assert_eq!(s.delete_object("bkt", "a/b c").expect("again"), None);
    assert!(matches!(get(&s, "a/b c"), Err(StoreError::NoSuchKey)));
    assert!(matches!(
        s.put_object("nope", "k", &mut &b""[..], &Metadata::new(), &NO_LOCK),
        Err(StoreError::NoSuchBucket)
    ));
    // An empty object and a 1,024-byte key.
    let long = "k".repeat(1024);
    put(&s, &long, b"");
    assert_eq!(get(&s, &long).expect("get"), b"");
}

#[test]
fn list_with_prefix_delimiter_and_continuation() {
    let (_d, s) = store();
    let keys = [
        "a.txt",
        "dir/1",
        "dir/2",
        "dir/sub/3",
        "dir2/x",
        "photos/2024/a.jpg",
        "photos/2024/b.jpg",
        "photos/2025/c.jpg",
        "photos/readme",
        "z",
    ];
    for k in keys {
        put(&s, k, k.as_bytes());
    }
    // Everything, two at a time.
    let mut seen = Vec::new();
    let mut token = None;
    for _ in 0..20 {
        let p = s
            .list_objects(
                "bkt",
                &ListRequest {
                    max_keys: 3,
                    continuation_token: token.clone(),
                    ..ListRequest::default()
                },
            )
            .expect("list");
        assert!(p.contents.len() <= 3);
        seen.extend(p.contents.iter().map(|o| o.key.clone()));
        token = p.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, keys);
    // Delimiter at the top: keys and common prefixes, one page.
    let p = s
        .list_objects(
            "bkt",
            &ListRequest {
                delimiter: Some("/".into()),
                ..ListRequest::default()
            },
        )
        .expect("list");
    let names: Vec<&str> = p.contents.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(names, ["a.txt", "z"]);
    assert_eq!(p.common_prefixes, ["dir/", "dir2/", "photos/"]);
    assert_eq!(p.next_token, None);
    // Prefix + delimiter, one entry a page: prefixes count as entries and are never repeated.
    let mut entries = Vec::new();
    let mut token = None;
    for _ in 0..20 {
        let p = s
            .list_objects(
                "bkt",
                &ListRequest {
                    prefix: "photos/".into(),
                    delimiter: Some("/".into()),
                    max_keys: 1,
                    continuation_token: token.clone(),
                    start_after: None,
                },
            )
            .expect("list");
        assert_eq!(p.contents.len() + p.common_prefixes.len(), 1);
        entries.extend(p.common_prefixes.iter().cloned());
        entries.extend(p.contents.iter().map(|o| o.key.clone()));
        token = p.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(entries, ["photos/2024/", "photos/2025/", "photos/readme"]);
    // start-after (ListObjectsV2) / marker (ListObjects): only what sorts after it.
    let p = s
        .list_objects(
            "bkt",
            &ListRequest {
                start_after: Some("dir2/".into()),
                delimiter: Some("/".into()),
                ..ListRequest::default()
            },
        )
        .expect("list");
    assert_eq!(p.common_prefixes, ["photos/"]);
    let names: Vec<&str> = p.contents.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(names, ["z"]);
    // A token the store did not issue.
    assert!(matches!(
        s.list_objects(
            "bkt",
            &ListRequest {
                continuation_token: Some("not hex".into()),
                ..ListRequest::default()
            }
        ),
        Err(StoreError::InvalidArgument(_))
    ));
    // Page sizes: 0 means the default; sizes in the info are the stored sizes.
    let p = s.list_objects("bkt", &ListRequest::default()).expect("all");
    assert_eq!(p.contents.len(), keys.len());
    assert!(p.contents.iter().all(|o| o.size == o.key.len() as u64));
}

#[test]
fn multipart_upload() {
    let (_d, s) = store();
    let id = s
        .create_multipart_upload("bkt", "big", &meta(&[("m", "1")]), &NO_LOCK)
        .expect("create");
    let parts: Vec<Vec<u8>> = vec![vec![1u8; 300_000], vec![2u8; 200_000], vec![3u8; 5]];
    let mut listed = Vec::new();
    // Upload out of order, and part 2 twice (the second replaces the first).
    for n in [3u32, 1, 2, 2] {
        let body = &parts[n as usize - 1];
        let p = s
            .upload_part("bkt", "big", &id, n, &mut &body[..])
            .expect("part");
        assert_eq!(p.size, body.len() as u64);
        listed.push(p);
    }
    let ls = s.list_parts("bkt", "big", &id).expect("list parts");
    assert_eq!(
        ls.iter().map(|p| p.part_number).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let etags: Vec<(u32, String)> = ls.iter().map(|p| (p.part_number, p.etag.clone())).collect();
    assert!(matches!(
        s.upload_part("bkt", "big", &id, 0, &mut &b"x"[..]),
        Err(StoreError::InvalidArgument(_))
    ));
    assert!(matches!(
        s.upload_part("bkt", "big", &id, 10_001, &mut &b"x"[..]),
        Err(StoreError::InvalidArgument(_))
    ));
    // Wrong order, wrong ETag, a missing part: refused, the upload goes on.
    let reversed: Vec<(u32, String)> = etags.iter().rev().cloned().collect();
    assert!(matches!(
        s.complete_multipart_upload("bkt", "big", &id, &reversed, b""),
        Err(StoreError::InvalidPartOrder)
    ));
    let mut wrong = etags.clone();
    wrong[1].1 = format!("\"{}\"", "0".repeat(32));
    assert!(matches!(
        s.complete_multipart_upload("bkt", "big", &id, &wrong, b""),
        Err(StoreError::InvalidPart { part_number: 2 })
    ));
    assert!(matches!(
        s.complete_multipart_upload("bkt", "big", &id, &[(4, "\"x\"".into())], b""),
        Err(StoreError::InvalidPart { part_number: 4 })
    ));
    assert!(matches!(get(&s, "big"), Err(StoreError::NoSuchKey)));
    let info = s
        .complete_multipart_upload("bkt", "big", &id, &etags, b"")
        .expect("complete");
    assert!(info.etag.ends_with("-3\""), "{}", info.etag);
    assert_eq!(info.metadata["m"], "1");
    assert_eq!(get(&s, "big").expect("get"), parts.concat());
    assert!(matches!(
        s.list_parts("bkt", "big", &id),
        Err(StoreError::NoSuchUpload)
    ));
    // Abort: the parts go.
    let id = s
        .create_multipart_upload("bkt", "other", &Metadata::new(), &NO_LOCK)
        .expect("create");
    s.upload_part("bkt", "other", &id, 1, &mut &b"x"[..])
        .expect("part");
    assert!(matches!(
        s.abort_multipart_upload("bkt", "big", &id),
        Err(StoreError::NoSuchUpload)
    ));
    s.abort_multipart_upload("bkt", "other", &id)
        .expect("abort");
    assert!(matches!(
        s.upload_part("bkt", "other", &id, 1, &mut &b"x"[..]),
        Err(StoreError::NoSuchUpload)
    ));
    assert!(matches!(
        s.abort_multipart_upload("bkt", "other", "../../x"),
        Err(StoreError::NoSuchUpload)
    ));
    s.delete_object("bkt", "big").expect("delete");
    s.delete_bucket("bkt").expect("nothing left");
}

fn read_version(s: &LocalStore, key: &str, version: &str) -> Result<Vec<u8>, StoreError> {
    let mut o = s.get_object("bkt", key, Some(version))?;
    let mut v = Vec::new();
    o.body.read_to_end(&mut v).expect("read");
    Ok(v)
}

fn versions(s: &LocalStore, request: &VersionListRequest) -> Vec<(String, String, bool, bool)> {
    s.list_object_versions("bkt", request)
        .expect("versions")
        .versions
        .into_iter()
        .map(|v| (v.key, v.version_id, v.is_latest, v.is_delete_marker))
        .collect()
}

#[test]
fn unversioned_then_enabled_then_suspended() {
    let (d, s) = store();
    assert_eq!(
        s.bucket_versioning("bkt").expect("state"),
        Versioning::Unversioned
    );
    put(&s, "k", b"null-1");
    // Unversioned: the only version is `null`; a delete removes it and makes no marker.
    let p = versions(&s, &VersionListRequest::default());
    assert_eq!(p, vec![("k".into(), NULL_VERSION.into(), true, false)]);

    s.put_bucket_versioning("bkt", Versioning::Enabled)
        .expect("enable");
    assert!(matches!(
        s.put_bucket_versioning("bkt", Versioning::Unversioned),
        Err(StoreError::InvalidArgument(_))
    ));
    let v1 = s
        .put_object("bkt", "k", &mut &b"v1"[..], &Metadata::new(), &NO_LOCK)
        .expect("v1");
    let v2 = s
        .put_object("bkt", "k", &mut &b"v2"[..], &Metadata::new(), &NO_LOCK)
        .expect("v2");
    assert_ne!(v1.version_id, NULL_VERSION);
    assert_ne!(v1.version_id, v2.version_id);
    assert_eq!(get(&s, "k").expect("current"), b"v2");
    assert_eq!(read_version(&s, "k", &v1.version_id).expect("v1"), b"v1");
    assert_eq!(
        read_version(&s, "k", NULL_VERSION).expect("null kept"),
        b"null-1"
    );
    // Newest first, the newest latest.
    let ids: Vec<_> = versions(&s, &VersionListRequest::default())
        .into_iter()
        .map(|v| (v.1, v.2))
        .collect();
    assert_eq!(
        ids,
        vec![
            (v2.version_id.clone(), true),
            (v1.version_id.clone(), false),
            (NULL_VERSION.into(), false)
        ]
    );
    // A delete adds a marker: the key is gone from listings and GET says which marker.
    let marker = s
        .delete_object("bkt", "k")
        .expect("delete")
        .expect("marker");
    assert!(marker.is_delete_marker);
    match s.get_object("bkt", "k", None) {
        Err(StoreError::DeleteMarker {
            version_id,
            requested: false,
            ..
        }) => assert_eq!(version_id, marker.version_id),
        other => panic!("{other:?}"),
    }
    match s.head_object("bkt", "k", Some(&marker.version_id)) {
        Err(StoreError::DeleteMarker {
            requested: true, ..
        }) => {}
        other => panic!("{other:?}"),
    }
    let e = S3Error::from(s.get_object("bkt", "k", None).expect_err("marker"));
    assert_eq!(e.code(), S3ErrorCode::NoSuchKey);
    assert!(
        e.headers()
            .contains(&("x-amz-delete-marker".into(), "true".into()))
    );
    let e = S3Error::from(
        s.get_object("bkt", "k", Some(&marker.version_id))
            .expect_err("marker"),
    );
    assert_eq!(e.code(), S3ErrorCode::MethodNotAllowed);
    assert!(
        s.list_objects("bkt", &ListRequest::default())
            .expect("list")
            .contents
            .is_empty()
    );
    // The bucket is not empty while versions or markers exist.
    assert!(matches!(
        s.delete_bucket("bkt"),
        Err(StoreError::BucketNotEmpty)
    ));
    // Removing the marker brings v2 back.
    let gone = s
        .delete_object_version("bkt", "k", &marker.version_id)
        .expect("remove marker");
    assert!(gone.is_delete_marker);
    assert_eq!(get(&s, "k").expect("v2 again"), b"v2");
    // Removing the current version makes the next newest current.
    s.delete_object_version("bkt", "k", &v2.version_id)
        .expect("remove v2");
    assert_eq!(get(&s, "k").expect("v1 now"), b"v1");
    assert!(matches!(
        s.delete_object_version("bkt", "k", &v2.version_id),
        Err(StoreError::NoSuchVersion)
    ));
    assert!(matches!(
        s.get_object("bkt", "k", Some("nosuchversion")),
        Err(StoreError::NoSuchVersion)
    ));

    // Suspended: writes replace the `null` version, other versions stay; a delete makes a `null`
    // marker.
    s.put_bucket_versioning("bkt", Versioning::Suspended)
        .expect("suspend");
    let n = s
        .put_object("bkt", "k", &mut &b"null-2"[..], &Metadata::new(), &NO_LOCK)
        .expect("null write");
    assert_eq!(n.version_id, NULL_VERSION);
    assert_eq!(get(&s, "k").expect("null current"), b"null-2");
    assert_eq!(
        read_version(&s, "k", &v1.version_id).expect("v1 kept"),
        b"v1"
    );
    let m = s
        .delete_object("bkt", "k")
        .expect("delete")
        .expect("marker");
    assert_eq!(m.version_id, NULL_VERSION);
    assert!(matches!(
        s.get_object("bkt", "k", None),
        Err(StoreError::DeleteMarker { .. })
    ));
    let all = versions(&s, &VersionListRequest::default());
    assert_eq!(
        all,
        vec![
            ("k".into(), NULL_VERSION.into(), true, true),
            ("k".into(), v1.version_id.clone(), false, false),
        ]
    );
    // Clean up every version: the bucket can go.
    for (key, id, _, _) in all {
        s.delete_object_version("bkt", &key, &id).expect("remove");
    }
    assert!(versions(&s, &VersionListRequest::default()).is_empty());
    s.delete_bucket("bkt").expect("empty now");
    drop(d);
}

#[test]
fn version_listing_pages_with_markers_and_prefixes() {
    let (_d, s) = store();
    s.put_bucket_versioning("bkt", Versioning::Enabled)
        .expect("enable");
    let mut ids = Vec::new();
    for key in ["a", "b/1", "b/2", "c"] {
        for n in 0..2 {
            let body = format!("{key}{n}");
            let info = s
                .put_object("bkt", key, &mut body.as_bytes(), &Metadata::new(), &NO_LOCK)
                .expect("put");
            ids.push((key.to_owned(), info.version_id));
        }
    }
    let all = versions(&s, &VersionListRequest::default());
    assert_eq!(all.len(), 8);
    // Page through three at a time with the markers the store hands out.
    let mut request = VersionListRequest {
        max_keys: 3,
        ..VersionListRequest::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = s.list_object_versions("bkt", &request).expect("page");
        seen.extend(page.versions.iter().map(|v| v.version_id.clone()));
        if !page.is_truncated {
            break;
        }
        request.key_marker = page.next_key_marker;
        request.version_id_marker = page.next_version_id_marker;
    }
    assert_eq!(
        seen,
        all.iter().map(|v| v.1.clone()).collect::<Vec<_>>(),
        "pages join into the whole listing"
    );
    // A key-marker alone skips that key's versions.
    let after_a = versions(
        &s,
        &VersionListRequest {
            key_marker: Some("a".into()),
            ..VersionListRequest::default()
        },
    );
    assert_eq!(after_a.first().map(|v| v.0.as_str()), Some("b/1"));
    // A delimiter rolls `b/` up once.
    let page = s
        .list_object_versions(
            "bkt",
            &VersionListRequest {
                delimiter: Some("/".into()),
                ..VersionListRequest::default()
            },
        )
        .expect("rolled");
    assert_eq!(page.common_prefixes, vec!["b/".to_owned()]);
    assert_eq!(page.versions.len(), 4);
}

#[test]
fn lock_fields_persist_per_version_and_reseal_keeps_order() {
    let (_d, s) = store();
    s.put_bucket_versioning("bkt", Versioning::Enabled)
        .expect("enable");
    let until = SystemTime::UNIX_EPOCH + Duration::from_secs(4_000_000_000);
    let lock = ObjectLock {
        retention: Some(Retention {
            mode: RetentionMode::Compliance,
            retain_until: until,
        }),
        legal_hold: true,
    };
    let v1 = s
        .put_object("bkt", "k", &mut &b"one"[..], &Metadata::new(), &lock)
        .expect("v1");
    let v2 = s
        .put_object("bkt", "k", &mut &b"two"[..], &Metadata::new(), &NO_LOCK)
        .expect("v2");
    let h1 = s.head_object("bkt", "k", Some(&v1.version_id)).expect("h1");
    assert_eq!(h1.retention, lock.retention);
    assert!(h1.legal_hold);
    s.put_object_legal_hold("bkt", "k", &v1.version_id, false)
        .expect("hold off");
    s.put_object_retention("bkt", "k", &v2.version_id, lock.retention.as_ref())
        .expect("retain v2");
    assert!(
        !s.head_object("bkt", "k", Some(&v1.version_id))
            .expect("h1")
            .legal_hold
    );
    assert_eq!(
        s.head_object("bkt", "k", None).expect("h2").retention,
        lock.retention
    );
    // Rewriting the older version's bytes (a reseal) keeps it older.
    s.replace_object_bytes("bkt", "k", &v1.version_id, &mut &b"ONE"[..])
        .expect("replace");
    assert_eq!(get(&s, "k").expect("current"), b"two");
    assert_eq!(read_version(&s, "k", &v1.version_id).expect("v1"), b"ONE");
    // A delete marker has no lock state.
    let m = s
        .delete_object("bkt", "k")
        .expect("delete")
        .expect("marker");
    assert!(matches!(
        s.put_object_legal_hold("bkt", "k", &m.version_id, true),
        Err(StoreError::NoSuchVersion)
    ));
}

#[test]
fn a_null_version_written_before_versioning_keeps_its_place_when_resealed() {
    let (_d, s) = store();
    put(&s, "k", b"old");
    s.put_bucket_versioning("bkt", Versioning::Enabled)
        .expect("enable");
    let v = s
        .put_object("bkt", "k", &mut &b"new"[..], &Metadata::new(), &NO_LOCK)
        .expect("new");
    std::thread::sleep(Duration::from_millis(20));
    s.replace_object_bytes("bkt", "k", NULL_VERSION, &mut &b"OLD"[..])
        .expect("reseal null");
    assert_eq!(get(&s, "k").expect("current"), b"new");
    let listed = versions(&s, &VersionListRequest::default());
    assert_eq!(listed[0].1, v.version_id);
    assert_eq!(listed[1].1, NULL_VERSION);
}

#[test]
fn store_errors_map_to_s3_errors() {
    let cases = [
        (StoreError::NoSuchBucket, S3ErrorCode::NoSuchBucket),
        (
            StoreError::BucketExists,
            S3ErrorCode::BucketAlreadyOwnedByYou,
        ),
        (StoreError::BucketNotEmpty, S3ErrorCode::BucketNotEmpty),
        (StoreError::NoSuchKey, S3ErrorCode::NoSuchKey),
        (StoreError::NoSuchVersion, S3ErrorCode::NoSuchVersion),
        (StoreError::NoSuchUpload, S3ErrorCode::NoSuchUpload),
        (
            StoreError::InvalidPart { part_number: 2 },
            S3ErrorCode::InvalidPart,
        ),
        (StoreError::InvalidPartOrder, S3ErrorCode::InvalidPartOrder),
        (StoreError::InvalidRange, S3ErrorCode::InvalidRange),
        (
            StoreError::Body(io::Error::other("reset")),
            S3ErrorCode::IncompleteBody,
        ),
        (StoreError::Corrupt("x".into()), S3ErrorCode::InternalError),
    ];
    for (e, code) in cases {
        let s3 = S3Error::from(e);
        assert_eq!(s3.code(), code);
        assert!(std::error::Error::source(&s3).is_some(), "{s3}");
    }
    let e = S3Error::from(StoreError::Io {
        what: "cannot rename into /home/x".into(),
        source: io::Error::other("disk full"),
    });
    assert_eq!(e.message(), S3ErrorCode::InternalError.default_message());
    assert!(e.to_string().contains("disk full"), "{e}");
}

/// A body that yields `good` bytes, then fails.
struct FailingReader {
    good: usize,
}

impl Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.good == 0 {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "client went away",
            ));
        }
        let n = buf.len().min(self.good);
        buf[..n].fill(b'N');
        self.good -= n;
        Ok(n)
    }
}

#[test]
fn a_body_that_fails_half_way_leaves_the_old_object() {
    let (d, s) = store();
    put(&s, "k", b"old bytes");
    let before = object_files(d.path());
    let e = s
        .put_object(
            "bkt",
            "k",
            &mut FailingReader { good: 3 << 20 },
            &Metadata::new(),
            &NO_LOCK,
        )
        .expect_err("the body failed");
    assert!(matches!(e, StoreError::Body(_)), "{e}");
    assert_eq!(S3Error::from(e).code(), S3ErrorCode::IncompleteBody);
    assert_eq!(get(&s, "k").expect("old kept"), b"old bytes");
    assert_eq!(s.head_object("bkt", "k", None).expect("head").size, 9);
    // No partial object, no temporary left by a writer that returned.
    assert_eq!(object_files(d.path()), before);
    // A new key that fails: nothing visible.
    s.put_object(
        "bkt",
        "new",
        &mut FailingReader { good: 10 },
        &Metadata::new(),
        &NO_LOCK,
    )
    .expect_err("failed");
    assert!(matches!(get(&s, "new"), Err(StoreError::NoSuchKey)));
    let listed = s
        .list_objects("bkt", &ListRequest::default())
        .expect("list");
    assert_eq!(listed.contents.len(), 1);
}

#[test]
fn a_crashed_writers_temporary_is_cleaned_by_the_next_open() {
    let (d, s) = store();
    put(&s, "k", b"old bytes");
    drop(s);
    // What a writer killed mid-put leaves: an unlocked temporary with partial bytes, untouched for a
    // while. One that is fresh, or still locked by a live writer, stays.
    let objects = d.path().join("buckets/bkt/objects");
    let stale = objects.join(".s3crypt-put-abandoned.tmp");
    std::fs::write(&stale, vec![b'N'; 4096]).expect("partial");
    let old = SystemTime::now() - Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .expect("open")
        .set_modified(old)
        .expect("age it");
    let fresh = objects.join(".s3crypt-put-fresh.tmp");
    std::fs::write(&fresh, b"N").expect("fresh");
    let live = s3crypt::fsutil::locked_temp(&objects, ".s3crypt-put-", ".tmp").expect("live");
    std::fs::File::options()
        .write(true)
        .open(live.path())
        .expect("open")
        .set_modified(old)
        .expect("age it");
    let s = LocalStore::open(d.path()).expect("reopen");
    assert_eq!(s.stale_temporaries_removed(), std::slice::from_ref(&stale));
    assert!(!stale.exists() && fresh.exists() && live.path().exists());
    assert_eq!(get(&s, "k").expect("old kept"), b"old bytes");
    let listed = s
        .list_objects("bkt", &ListRequest::default())
        .expect("list");
    assert_eq!(listed.contents.len(), 1);
}

#[test]
fn readers_see_the_old_or_the_new_object_whole_while_a_writer_replaces_it() {
    let (_d, s) = store();
    let s = Arc::new(s);
    let a = vec![b'a'; 300_000];
    let b = vec![b'b'; 200_001];
    put(&s, "k", &a);
    std::thread::scope(|scope| {
        let writer = {
            let s = Arc::clone(&s);
            let (a, b) = (a.clone(), b.clone());
            scope.spawn(move || {
                for i in 0..40 {
                    let body = if i % 2 == 0 { &b } else { &a };
                    s.put_object("bkt", "k", &mut &body[..], &Metadata::new(), &NO_LOCK)
                        .expect("put");
                }
            })
        };
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let s = Arc::clone(&s);
                scope.spawn(move || {
                    for _ in 0..60 {
                        let mut o = s.get_object("bkt", "k", None).expect("get");
                        let mut v = Vec::new();
                        o.body.read_to_end(&mut v).expect("read");
                        let whole_a = v.len() == 300_000 && v.iter().all(|&c| c == b'a');
                        let whole_b = v.len() == 200_001 && v.iter().all(|&c| c == b'b');
                        assert!(whole_a || whole_b, "a torn read of {} bytes", v.len());
                        assert_eq!(o.info.size, v.len() as u64, "info and bytes agree");
                    }
                })
            })
            .collect();
        writer.join().expect("writer");
        for r in readers {
            r.join().expect("reader");
        }
    });
}

#[test]
fn multipart_trailer_part_access_and_upload_listing() {
    let (_d, s) = store();
    let id = s
        .create_multipart_upload("bkt", "t", &meta(&[("rec", "x")]), &NO_LOCK)
        .expect("create");
    let id2 = s
        .create_multipart_upload("bkt", "a", &Metadata::new(), &NO_LOCK)
        .expect("create");
    let up = s.multipart_upload("bkt", "t", &id).expect("upload");
    assert_eq!((up.key.as_str(), up.metadata["rec"].as_str()), ("t", "x"));
    assert!(matches!(
        s.multipart_upload("bkt", "other", &id),
        Err(StoreError::NoSuchUpload)
    ));
    let ups = s.list_multipart_uploads("bkt").expect("list");
    assert_eq!(
        ups.iter()
            .map(|u| (u.key.as_str(), u.upload_id.as_str()))
            .collect::<Vec<_>>(),
        [("a", id2.as_str()), ("t", id.as_str())]
    );
    let p = s
        .upload_part("bkt", "t", &id, 1, &mut &b"part one"[..])
        .expect("part");
    // The part's bytes, seekable; a part not uploaded is InvalidPart.
    let mut f = s.open_part("bkt", "t", &id, 1).expect("open part");
    let mut got = Vec::new();
    f.read_to_end(&mut got).expect("read");
    assert_eq!(got, b"part one");
    assert!(matches!(
        s.open_part("bkt", "t", &id, 2),
        Err(StoreError::InvalidPart { part_number: 2 })
    ));
    // The recorded MD5 is used while it describes the part; the parts' files are the only ones listed.
    let ls = s.list_parts("bkt", "t", &id).expect("list parts");
    assert_eq!(ls, std::slice::from_ref(&p));
    // The trailer follows the parts.
    s.complete_multipart_upload("bkt", "t", &id, &[(1, p.etag)], b"TRAILER")
        .expect("complete");
    assert_eq!(get(&s, "t").expect("get"), b"part oneTRAILER");
    let ups = s.list_multipart_uploads("bkt").expect("list");
    assert_eq!(ups.len(), 1);
}

#[test]
fn version_bytes_without_an_entry_are_swept_at_open() {
    let (d, s) = store();
    s.put_bucket_versioning("bkt", Versioning::Enabled)
        .expect("enable");
    let kept = s
        .put_object("bkt", "k", &mut &b"kept"[..], &Metadata::new(), &NO_LOCK)
        .expect("kept");
    let lost = s
        .put_object("bkt", "k", &mut &b"lost"[..], &Metadata::new(), &NO_LOCK)
        .expect("lost");
    let dir = d
        .path()
        .join("buckets/bkt/versions")
        .join(object_file_name("k"));
    // A writer that died between the bytes and the entry: the bytes are there, the entry is not.
    std::fs::remove_file(dir.join(format!("{}.json", lost.version_id))).expect("entry");
    let bytes = dir.join(&lost.version_id);
    let old = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&bytes)
        .and_then(|f| f.set_modified(old))
        .expect("age the bytes");
    let reopened = LocalStore::open(d.path()).expect("reopen");
    assert_eq!(
        reopened.stale_temporaries_removed(),
        std::slice::from_ref(&bytes)
    );
    assert!(!bytes.exists());
    assert_eq!(get(&reopened, "k").expect("current"), b"kept");
    assert_eq!(
        versions(&reopened, &VersionListRequest::default())
            .into_iter()
            .map(|v| v.1)
            .collect::<Vec<_>>(),
        vec![kept.version_id]
    );
}

#[test]
fn an_index_entry_left_by_a_crashed_delete_does_not_keep_the_bucket() {
    let (d, s) = store();
    put(&s, "k", b"v");
    // A delete that died between removing the bytes and the entry.
    std::fs::remove_file(s.object_path("bkt", "k")).expect("bytes");
    assert!(matches!(get(&s, "k"), Err(StoreError::NoSuchKey)));
    s.delete_bucket("bkt").expect("no version left");
    drop(d);
}
