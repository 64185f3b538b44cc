//! Server access logging through the endpoint: PutBucketLogging's checks on the target, one record
//! per request (authorized, denied, anonymous, presigned, failed signature) with every field checked,
//! batched delivery as log objects, and buckets logging into each other staying bounded.

#[path = "support/http.rs"]
mod http;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{ID, SECRET, code, raw, send, signed};
use s3crypt::aws::sigv4::Credentials;
use s3crypt::iam::{Principal, RequestContext};
use s3crypt::kms::MockKms;
use s3crypt::s3::access_log::{LogRecord, parse_line};
use s3crypt::server::{DeliveryOptions, ServerOptions};
use s3crypt::sse::engine::{LOCAL_ACCOUNT, SseEngine};
use s3crypt::sse::headers::Headers;
use s3crypt::store::ListRequest;

fn server() -> http::Server {
    http::start(ServerOptions {
        // Long enough that only the test's flushes deliver (so each test knows what a batch holds).
        access_logs: DeliveryOptions {
            interval: Duration::from_secs(3600),
        },
        ..ServerOptions::default()
    })
}

fn md5_header(body: &[u8]) -> String {
    use base64::Engine as _;
    use md5::Digest as _;
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(body))
}

fn create(s: &http::Server, bucket: &str) {
    let r = signed(s.addr, "PUT", &format!("/{bucket}"), &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
}

/// The target policy S3's documentation gives: the logging service may write under `prefix` for logs
/// of `source` in our account.
fn allow_logs_from(s: &http::Server, target: &str, prefix: &str, source: &str) {
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"S3ServerAccessLogsPolicy","Effect":"Allow","Principal":{{"Service":"logging.s3.amazonaws.com"}},"Action":"s3:PutObject","Resource":"arn:aws:s3:::{target}/{prefix}*","Condition":{{"ArnLike":{{"aws:SourceArn":"arn:aws:s3:::{source}"}},"StringEquals":{{"aws:SourceAccount":"{LOCAL_ACCOUNT}"}}}}}}]}}"#
    );
    let r = signed(
        s.addr,
        "PUT",
        &format!("/{target}?policy"),
        &[],
        policy.as_bytes(),
    );
    assert_eq!(r.status, 204, "{}", r.text());
}

fn logging_xml(target: &str, prefix: &str) -> String {
    format!(
        r#"<BucketLoggingStatus xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LoggingEnabled><TargetBucket>{target}</TargetBucket><TargetPrefix>{prefix}</TargetPrefix></LoggingEnabled></BucketLoggingStatus>"#
    )
}

fn put_logging(s: &http::Server, source: &str, body: &str) -> http::Resp {
    let md5 = md5_header(body.as_bytes());
    signed(
        s.addr,
        "PUT",
        &format!("/{source}?logging"),
        &[("content-md5", &md5)],
        body.as_bytes(),
    )
}

/// Every record delivered into `bucket` under `prefix`, read through an engine of its own on the
/// server's home (so that reading makes no request, hence no record), with the keys of the log objects.
fn delivered(s: &http::Server, bucket: &str, prefix: &str) -> (Vec<String>, Vec<LogRecord>) {
    s.service.flush_access_logs(Duration::from_secs(30));
    let engine = SseEngine::new(s.home.path(), Arc::new(MockKms::in_memory())).expect("engine");
    let ctx = RequestContext::signed_by(Principal::root(LOCAL_ACCOUNT, ID)).with_tls(true);
    let page = engine
        .list_objects(
            &ctx,
            bucket,
            &ListRequest {
                prefix: prefix.to_owned(),
                ..ListRequest::default()
            },
        )
        .expect("list");
    let mut keys = Vec::new();
    let mut records = Vec::new();
    for o in page.contents {
        let mut text = Vec::new();
        engine
            .get_object(
                &ctx,
                bucket,
                &o.key,
                &Headers::new(Vec::<(String, String)>::new()),
                None,
                &mut text,
            )
            .expect("get log object");
        let text = String::from_utf8(text).expect("utf-8");
        assert!(text.ends_with('\n'), "records are newline-terminated");
        for line in text.lines() {
            records.push(parse_line(line).unwrap_or_else(|e| panic!("{line:?}: {e}")));
        }
        keys.push(o.key);
    }
    (keys, records)
}

fn by_id<'a>(records: &'a [LogRecord], id: &str) -> &'a LogRecord {
    let found: Vec<_> = records.iter().filter(|r| r.request_id == id).collect();
    assert_eq!(found.len(), 1, "one record for request {id}: {records:#?}");
    found[0]
}

fn request_id(r: &http::Resp) -> String {
    r.header("x-amz-request-id").expect("request id").to_owned()
}

#[test]
fn put_bucket_logging_refuses_bad_targets() {
    let s = server();
    for b in ["src", "logs", "nopolicy", "kmslogs"] {
        create(&s, b);
    }
    allow_logs_from(&s, "logs", "access/", "src");
    allow_logs_from(&s, "kmslogs", "access/", "src");
    let kms = r#"<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>"#;
    let md5 = md5_header(kms.as_bytes());
    let r = signed(
        s.addr,
        "PUT",
        "/kmslogs?encryption",
        &[("content-md5", &md5)],
        kms.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    // The source itself (S3 allows it; s3crypt refuses the loop).
    let r = put_logging(&s, "src", &logging_xml("src", "access/"));
    assert_eq!((r.status, code(&r).as_str()), (400, "InvalidArgument"));
    assert!(
        r.text().contains("cannot be the source bucket"),
        "{}",
        r.text()
    );
    // A target that does not exist, and one whose policy does not let the logging service write.
    let message = "The target bucket for logging does not exist, is not owned by you, or does not have the appropriate grants for the log-delivery group.";
    for target in ["missing", "nopolicy"] {
        let r = put_logging(&s, "src", &logging_xml(target, "access/"));
        assert_eq!(
            (r.status, code(&r).as_str()),
            (400, "InvalidTargetBucketForLogging"),
            "{target}: {}",
            r.text()
        );
        assert!(r.text().contains(message), "{}", r.text());
    }
    // The policy allows only the prefix `access/`.
    let r = put_logging(&s, "src", &logging_xml("logs", "other/"));
    assert_eq!(code(&r), "InvalidTargetBucketForLogging", "{}", r.text());
    // SSE-KMS default encryption on the target.
    let r = put_logging(&s, "src", &logging_xml("kmslogs", "access/"));
    assert_eq!((r.status, code(&r).as_str()), (400, "InvalidArgument"));
    assert!(r.text().contains("SSE-KMS"), "{}", r.text());
    // Malformed.
    let r = put_logging(
        &s,
        "src",
        "<BucketLoggingStatus><LoggingEnabled/></BucketLoggingStatus>",
    );
    assert_eq!((r.status, code(&r).as_str()), (400, "MalformedXML"));
    // Nothing was stored by the refusals.
    let r = signed(s.addr, "GET", "/src?logging", &[], b"");
    assert_eq!(r.status, 200);
    assert!(!r.text().contains("LoggingEnabled"), "{}", r.text());

    // A good target; then GetBucketLogging shows it; an empty status turns logging off.
    let r = put_logging(&s, "src", &logging_xml("logs", "access/"));
    assert_eq!(r.status, 200, "{}", r.text());
    let r = signed(s.addr, "GET", "/src?logging", &[], b"");
    let t = r.text();
    assert!(
        t.contains("<TargetBucket>logs</TargetBucket>")
            && t.contains("<TargetPrefix>access/</TargetPrefix>"),
        "{t}"
    );
    let r = put_logging(
        &s,
        "src",
        r#"<BucketLoggingStatus xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = signed(s.addr, "GET", "/src?logging", &[], b"");
    assert!(!r.text().contains("LoggingEnabled"), "{}", r.text());
    // Only the owner (or a user the policy allows) may change it: an anonymous request is refused.
    let body = logging_xml("logs", "access/");
    let r = send(
        s.addr,
        "PUT",
        "/src?logging",
        &[("host".to_owned(), s.addr.to_string())],
        body.as_bytes(),
    );
    assert_eq!((r.status, code(&r).as_str()), (403, "AccessDenied"));
}

#[test]
fn every_request_is_recorded_field_by_field() {
    let s = server();
    create(&s, "src");
    create(&s, "logs");
    allow_logs_from(&s, "logs", "access/", "src");
    let r = put_logging(&s, "src", &logging_xml("logs", "access/"));
    assert_eq!(r.status, 200, "{}", r.text());
    let started = time::OffsetDateTime::now_utc() - time::Duration::seconds(2);
    let host = s.addr.to_string();

    let body = b"hello, access logs";
    let put = signed(
        s.addr,
        "PUT",
        "/src/dir/a%20b.txt",
        &[("user-agent", "serve-logs-test/1.0")],
        body,
    );
    assert_eq!(put.status, 200, "{}", put.text());
    let get = signed(
        s.addr,
        "GET",
        "/src/dir/a%20b.txt",
        &[("referer", "https://example.com/page")],
        b"",
    );
    assert_eq!((get.status, get.body.as_slice()), (200, &body[..]));
    let list = signed(s.addr, "GET", "/src?list-type=2&prefix=dir%2F", &[], b"");
    assert_eq!(list.status, 200);
    let anonymous = send(
        s.addr,
        "GET",
        "/src/dir/a%20b.txt",
        &[("host".to_owned(), host.clone())],
        b"",
    );
    assert_eq!(
        (anonymous.status, code(&anonymous).as_str()),
        (403, "AccessDenied")
    );
    let url = s3crypt::aws::presign::presign_url(
        "GET",
        &format!("http://{host}/src/dir/a%20b.txt"),
        &Credentials::new(ID, SECRET, None),
        "us-east-1",
        "s3",
        SystemTime::now(),
        300,
        &[],
    )
    .expect("presign");
    let target = url.split_once(&host).expect("host in url").1.to_owned();
    let presigned = raw(
        s.addr,
        format!("GET {target} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(presigned.status, 200, "{}", presigned.text());
    // A signature made with the wrong secret.
    let forged = {
        let mut headers = vec![("host".to_owned(), host.clone())];
        let req = s3crypt::aws::sigv4::SignableRequest {
            method: "GET",
            uri: "/src/dir/a%20b.txt",
            headers: &headers,
            body: b"",
        };
        let added = s3crypt::aws::sigv4::sign(
            &req,
            &Credentials::new(ID, "not-the-secret", None),
            "us-east-1",
            "s3",
            SystemTime::now(),
        )
        .expect("sign");
        headers.extend(added);
        send(s.addr, "GET", "/src/dir/a%20b.txt", &headers, b"")
    };
    assert_eq!(
        (forged.status, code(&forged).as_str()),
        (403, "SignatureDoesNotMatch")
    );
    let delete = signed(s.addr, "DELETE", "/src/dir/a%20b.txt", &[], b"");
    assert_eq!(delete.status, 204);

    let (keys, records) = delivered(&s, "logs", "access/");
    // One batch, one object, named TargetPrefix + YYYY-MM-DD-hh-mm-ss-UNIQUE.
    assert_eq!(keys.len(), 1, "{keys:?}");
    let name = keys[0].strip_prefix("access/").expect("prefix");
    assert_eq!(
        name.len(),
        "2026-12-02-13-05-59-0123456789ABCDEF".len(),
        "{name}"
    );
    assert!(name[20..].bytes().all(|b| b.is_ascii_hexdigit()), "{name}");
    // The seven requests above, and the PutBucketLogging that turned logging on (its record is made
    // once it has answered, when logging is on).
    assert_eq!(records.len(), 8, "{records:#?}");
    assert_eq!(
        records
            .iter()
            .filter(|r| r.operation == "REST.PUT.LOGGING_STATUS")
            .count(),
        1
    );
    let root_arn = format!("arn:aws:iam::{LOCAL_ACCOUNT}:root");
    let now = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    for r in &records {
        assert_eq!(r.bucket_owner, LOCAL_ACCOUNT);
        assert_eq!(r.bucket, "src");
        assert!(r.time >= started && r.time <= now, "{:?}", r.time);
        assert_eq!(r.remote_ip, "127.0.0.1");
        assert_eq!(r.host_id, r.request_id, "x-amz-id-2 repeats the request id");
        assert_eq!(r.host_header.as_deref(), Some(host.as_str()));
        assert!(r.total_time_ms.is_some() && r.turn_around_time_ms.is_some());
        assert!(r.total_time_ms >= r.turn_around_time_ms);
        // Plain HTTP: no cipher suite, no TLS version; no access point, no version, no ACL.
        assert_eq!(
            (r.cipher_suite.as_deref(), r.tls_version.as_deref()),
            (None, None)
        );
        assert_eq!(r.access_point_arn, None);
        assert_eq!(r.version_id, None);
        assert!(!r.acl_required);
    }

    let p = by_id(&records, &request_id(&put));
    assert_eq!(p.operation, "REST.PUT.OBJECT");
    assert_eq!(p.key.as_deref(), Some("dir/a b.txt"));
    assert_eq!(
        p.request_uri.as_deref(),
        Some("PUT /src/dir/a%20b.txt HTTP/1.1")
    );
    assert_eq!((p.http_status, p.error_code.as_deref()), (Some(200), None));
    assert_eq!(p.bytes_sent, 0);
    assert_eq!(p.object_size, Some(body.len() as u64));
    assert_eq!(p.requester.as_deref(), Some(root_arn.as_str()));
    assert_eq!(p.user_agent.as_deref(), Some("serve-logs-test/1.0"));
    assert_eq!(
        (
            p.signature_version.as_deref(),
            p.authentication_type.as_deref()
        ),
        (Some("SigV4"), Some("AuthHeader"))
    );

    let g = by_id(&records, &request_id(&get));
    assert_eq!(g.operation, "REST.GET.OBJECT");
    assert_eq!(g.key.as_deref(), Some("dir/a b.txt"));
    assert_eq!(
        (g.http_status, g.bytes_sent),
        (Some(200), body.len() as u64)
    );
    assert_eq!(g.object_size, Some(body.len() as u64));
    assert_eq!(g.referer.as_deref(), Some("https://example.com/page"));
    assert_eq!(g.requester.as_deref(), Some(root_arn.as_str()));

    let l = by_id(&records, &request_id(&list));
    assert_eq!(l.operation, "REST.GET.BUCKET");
    assert_eq!(l.key, None);
    assert_eq!(
        l.request_uri.as_deref(),
        Some("GET /src?list-type=2&prefix=dir%2F HTTP/1.1")
    );
    assert_eq!(l.bytes_sent, list.body.len() as u64);

    let a = by_id(&records, &request_id(&anonymous));
    assert_eq!(a.operation, "REST.GET.OBJECT");
    assert_eq!(
        (a.http_status, a.error_code.as_deref()),
        (Some(403), Some("AccessDenied"))
    );
    assert_eq!(a.requester, None, "anonymous");
    assert_eq!(
        (
            a.signature_version.as_deref(),
            a.authentication_type.as_deref()
        ),
        (None, None)
    );
    assert_eq!(a.bytes_sent, anonymous.body.len() as u64);
    assert_eq!(a.object_size, None);

    let q = by_id(&records, &request_id(&presigned));
    assert_eq!(q.operation, "REST.GET.OBJECT");
    assert_eq!(
        (q.http_status, q.bytes_sent),
        (Some(200), body.len() as u64)
    );
    assert_eq!(
        (
            q.signature_version.as_deref(),
            q.authentication_type.as_deref()
        ),
        (Some("SigV4"), Some("QueryString"))
    );
    assert_eq!(q.requester.as_deref(), Some(root_arn.as_str()));
    let uri = q.request_uri.as_deref().expect("request uri");
    assert!(
        uri.starts_with("GET /src/dir/a%20b.txt?") && uri.ends_with(" HTTP/1.1"),
        "{uri}"
    );
    let signature = url.split("X-Amz-Signature=").nth(1).expect("signature");
    assert!(
        !uri.contains(signature),
        "the signature is not logged: {uri}"
    );

    let f = by_id(&records, &request_id(&forged));
    assert_eq!(
        (f.http_status, f.error_code.as_deref()),
        (Some(403), Some("SignatureDoesNotMatch"))
    );
    assert_eq!(f.requester, None, "a failed signature names no requester");
    assert_eq!(
        (
            f.signature_version.as_deref(),
            f.authentication_type.as_deref()
        ),
        (Some("SigV4"), Some("AuthHeader"))
    );

    let d = by_id(&records, &request_id(&delete));
    assert_eq!(d.operation, "REST.DELETE.OBJECT");
    assert_eq!((d.http_status, d.bytes_sent), (Some(204), 0));

    // Requests to the target bucket are not logged (it has no logging), and deliveries never are.
    assert!(records.iter().all(|r| r.bucket == "src"));
    let (_, again) = delivered(&s, "logs", "access/");
    assert_eq!(again.len(), 8, "a flush without requests delivers nothing");
}

#[test]
fn buckets_logging_into_each_other_stay_bounded() {
    let s = server();
    create(&s, "ping");
    create(&s, "pong");
    allow_logs_from(&s, "ping", "from-pong/", "pong");
    allow_logs_from(&s, "pong", "from-ping/", "ping");
    assert_eq!(
        put_logging(&s, "ping", &logging_xml("pong", "from-ping/")).status,
        200
    );
    assert_eq!(
        put_logging(&s, "pong", &logging_xml("ping", "from-pong/")).status,
        200
    );
    for i in 0..5 {
        let r = signed(s.addr, "PUT", &format!("/ping/k{i}"), &[], b"x");
        assert_eq!(r.status, 200);
    }
    for i in 0..3 {
        let r = signed(s.addr, "GET", &format!("/pong/k{i}"), &[], b"");
        assert_eq!(r.status, 404);
    }
    let (_, in_pong) = delivered(&s, "pong", "from-ping/");
    let (_, in_ping) = delivered(&s, "ping", "from-pong/");
    // One record per request to each bucket, its PutBucketLogging included.
    assert_eq!(in_pong.len(), 6, "{in_pong:#?}");
    assert_eq!(in_ping.len(), 4, "{in_ping:#?}");
    assert!(in_pong.iter().all(|r| r.bucket == "ping"));
    assert!(in_ping.iter().all(|r| r.bucket == "pong"));
    // Deliveries wrote objects into both buckets; none of them made a record, so further flushes
    // deliver nothing and the log objects stop growing.
    for _ in 0..3 {
        let (k1, r1) = delivered(&s, "pong", "from-ping/");
        let (k2, r2) = delivered(&s, "ping", "from-pong/");
        assert_eq!((r1.len(), r2.len()), (6, 4));
        assert_eq!((k1.len(), k2.len()), (1, 1));
    }
}
