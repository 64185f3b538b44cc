//! `s3crypt logs`: AWS's documented example access logs read with `--file` (counts and summary
//! figures worked out by hand from the files, every filter, JSON lines), unparsable lines, and log
//! objects read from a bucket through the engine (with and without a logging configuration).
//!
//! Figures of `test-vectors/access-logs/` (each record's bytes sent in brackets):
//! - `aws-userguide-examples.log`, bucket `amzn-s3-demo-bucket1`, 06/Feb/2019: 00:00:38
//!   REST.GET.VERSIONING 200 (113), 00:00:38 REST.GET.LOGGING_STATUS 200 (242), 00:00:38
//!   REST.GET.BUCKETPOLICY 404 (297), 00:01:00 REST.GET.VERSIONING 200 (113), 00:01:57
//!   REST.PUT.OBJECT s3-dg.pdf 200 (-): 5 records, 765 bytes.
//! - `aws-devguide-2014-examples-18-fields.log`, bucket `mybucket`: the same five on 06/Feb/2014:
//!   5 records, 765 bytes.
//! - `aws-cn-userguide-examples-27-fields.log`, bucket `amzn-s3-demo-bucket1`, 06/Feb/2019 00:00:38:
//!   REST.GET.VERSIONING 200 (113), REST.GET.LOGGING_STATUS 200 (242): 2 records, 355 bytes.
//!
//! All twelve: 1885 bytes; VERSIONING 5, LOGGING_STATUS 3, BUCKETPOLICY 2, PUT.OBJECT 2; status 200
//! ten times, 404 twice; one requester (the canonical id below) for all.

// The binary and the in-process server need the default features.
#![cfg(feature = "cli")]

#[path = "support/http.rs"]
mod http;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use s3crypt::s3::access_log::{LogRecord, LoggingConfig, TABLE_HEADER, parse_line};
use s3crypt::store::ObjectStore as _;
use time::macros::datetime;

const REQUESTER: &str = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be";
const USERGUIDE: &str = "aws-userguide-examples.log";
const DEVGUIDE: &str = "aws-devguide-2014-examples-18-fields.log";
const CN: &str = "aws-cn-userguide-examples-27-fields.log";

fn vector(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test-vectors/access-logs")
        .join(name)
        .display()
        .to_string()
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn home(&self) -> PathBuf {
        self.path("home")
    }

    fn run_with_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_s3crypt"));
        cmd.current_dir(self.dir.path())
            .arg("--home")
            .arg(self.home())
            .args(args)
            .env_remove("S3CRYPT_HOME")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let Some(input) = stdin else {
            return cmd.stdin(Stdio::null()).output().expect("run s3crypt");
        };
        let mut child = cmd.stdin(Stdio::piped()).spawn().expect("spawn s3crypt");
        {
            use std::io::Write as _;
            let mut w = child.stdin.take().expect("stdin");
            w.write_all(input).expect("write stdin");
        }
        child.wait_with_output().expect("run s3crypt")
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, None)
    }

    /// Runs a command that must succeed; returns (stdout, stderr).
    fn ok(&self, args: &[&str]) -> (String, String) {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "s3crypt {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8(out.stdout).expect("utf-8"),
            String::from_utf8(out.stderr).expect("utf-8"),
        )
    }
}

/// A table output: its rows (without the header) and the summary text after the blank line.
struct Table {
    rows: Vec<String>,
    summary: String,
}

fn table(stdout: &str) -> Table {
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some(TABLE_HEADER), "{stdout}");
    let mut rows = Vec::new();
    for l in lines.by_ref() {
        if l.is_empty() {
            break;
        }
        rows.push(l.to_owned());
    }
    let summary: Vec<&str> = lines.collect();
    Table {
        rows,
        summary: summary.join("\n"),
    }
}

/// The count on the line of `name` in the summary's `title` section (`None` if absent).
fn count(summary: &str, title: &str, name: &str) -> Option<u64> {
    let mut in_section = false;
    for l in summary.lines() {
        if l.is_empty() {
            in_section = false;
            continue;
        }
        let mut words = l.split_whitespace();
        let first = words.next()?;
        if first == title {
            in_section = true;
            continue;
        }
        if in_section && first == name {
            return words.last()?.parse().ok();
        }
    }
    None
}

fn total(summary: &str, name: &str) -> u64 {
    summary
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .unwrap_or_else(|| panic!("no {name} in {summary}"))
        .trim()
        .parse()
        .expect("number")
}

fn all_files() -> Vec<String> {
    let mut args = Vec::new();
    for f in [USERGUIDE, DEVGUIDE, CN] {
        args.push("--file".to_owned());
        args.push(vector(f));
    }
    args
}

fn logs(env: &Env, extra: &[&str]) -> Table {
    let mut args = vec!["logs"];
    let files = all_files();
    args.extend(files.iter().map(String::as_str));
    args.extend_from_slice(extra);
    let (stdout, stderr) = env.ok(&args);
    assert!(stderr.is_empty(), "{stderr}");
    table(&stdout)
}

/// A record of our own, from AWS's first example with the given changes.
fn own_record(
    bucket: &str,
    time: time::OffsetDateTime,
    requester: Option<&str>,
    key: &str,
    bytes: u64,
) -> LogRecord {
    let text = fs::read_to_string(vector(USERGUIDE)).expect("vector");
    let mut r = parse_line(text.lines().next().expect("a line")).expect("parses");
    r.bucket = bucket.to_owned();
    r.time = time;
    r.requester = requester.map(str::to_owned);
    r.operation = "REST.GET.OBJECT".to_owned();
    r.key = Some(key.to_owned());
    r.request_uri = Some(format!("GET /{bucket}/{key} HTTP/1.1"));
    r.bytes_sent = bytes;
    r.extra = Vec::new();
    r
}

#[test]
#[cfg_attr(target_arch = "aarch64", ignore = "runs the binary under qemu")]
fn aws_examples_table_and_summary() {
    let env = Env::new();
    let t = logs(&env, &[]);
    assert_eq!(t.rows.len(), 12, "{:?}", t.rows);
    assert_eq!(total(&t.summary, "requests"), 12);
    assert_eq!(total(&t.summary, "bytes sent"), 1885);
    let s = &t.summary;
    assert_eq!(count(s, "operation", "REST.GET.VERSIONING"), Some(5));
    assert_eq!(count(s, "operation", "REST.GET.LOGGING_STATUS"), Some(3));
    assert_eq!(count(s, "operation", "REST.GET.BUCKETPOLICY"), Some(2));
    assert_eq!(count(s, "operation", "REST.PUT.OBJECT"), Some(2));
    assert_eq!(count(s, "status", "200"), Some(10));
    assert_eq!(count(s, "status", "404"), Some(2));
    assert_eq!(count(s, "requester", REQUESTER), Some(12));

    // Rows in the order read: the user guide's five first.
    assert!(
        t.rows[0].starts_with("2019-02-06T00:00:38Z 200    REST.GET.VERSIONING"),
        "{}",
        t.rows[0]
    );
    assert!(t.rows[2].contains(" 404 "), "{}", t.rows[2]);
    assert!(
        t.rows[4].starts_with("2019-02-06T00:01:57Z 200    REST.PUT.OBJECT"),
        "{}",
        t.rows[4]
    );
    assert!(t.rows[4].ends_with(" s3-dg.pdf 0"), "{}", t.rows[4]);
    assert!(
        t.rows[5].starts_with("2014-02-06T00:00:38Z"),
        "{}",
        t.rows[5]
    );

    // One file alone.
    let (out, _) = env.ok(&["logs", "--file", &vector(CN)]);
    let t = table(&out);
    assert_eq!(t.rows.len(), 2);
    assert_eq!(total(&t.summary, "bytes sent"), 355);
}

#[test]
#[cfg_attr(target_arch = "aarch64", ignore = "runs the binary under qemu")]
fn filters() {
    let env = Env::new();

    let t = logs(&env, &["--status", "404"]);
    assert_eq!(t.rows.len(), 2);
    assert_eq!(total(&t.summary, "bytes sent"), 594);
    assert_eq!(
        count(&t.summary, "operation", "REST.GET.BUCKETPOLICY"),
        Some(2)
    );
    assert_eq!(count(&t.summary, "status", "200"), None);

    let t = logs(&env, &["--operation", "REST.GET.*"]);
    assert_eq!(t.rows.len(), 10);
    assert_eq!(count(&t.summary, "operation", "REST.PUT.OBJECT"), None);
    assert_eq!(total(&t.summary, "bytes sent"), 1885);

    let t = logs(&env, &["--operation", "rest.put.object"]);
    assert_eq!(t.rows.len(), 2);

    let t = logs(
        &env,
        &["--operation", "REST.GET.VERSIONING", "--status", "200"],
    );
    assert_eq!(t.rows.len(), 5);
    assert_eq!(total(&t.summary, "bytes sent"), 565);

    let t = logs(&env, &["--requester", REQUESTER]);
    assert_eq!(t.rows.len(), 12);
    // Nothing anonymous in AWS's examples: an empty table and a zero summary, still success.
    let t = logs(&env, &["--requester", "-"]);
    assert!(t.rows.is_empty());
    assert_eq!(total(&t.summary, "requests"), 0);

    // The 2019 records (user guide and China pages) in both time forms.
    let t = logs(&env, &["--since", "2019-01-01T00:00:00Z"]);
    assert_eq!(t.rows.len(), 7);
    let t = logs(&env, &["--until", "[01/Jan/2015:00:00:00 +0000]"]);
    assert_eq!(t.rows.len(), 5);
    assert!(
        t.rows.iter().all(|r| r.starts_with("2014-")),
        "{:?}",
        t.rows
    );
    // --since is inclusive, --until exclusive: only the user guide's 00:01:00 record.
    let t = logs(
        &env,
        &[
            "--since",
            "2019-02-06T00:01:00Z",
            "--until",
            "[06/Feb/2019:00:01:57 +0000]",
        ],
    );
    assert_eq!(t.rows.len(), 1, "{:?}", t.rows);
    assert!(
        t.rows[0].starts_with("2019-02-06T00:01:00Z"),
        "{}",
        t.rows[0]
    );
    // An offset other than UTC.
    let t = logs(&env, &["--since", "2019-02-06T01:01:00+01:00"]);
    assert_eq!(t.rows.len(), 2);

    // BUCKET with files keeps that bucket's records.
    let t = logs(&env, &["mybucket"]);
    assert_eq!(t.rows.len(), 5);
    let t = logs(&env, &["amzn-s3-demo-bucket1", "--status", "200"]);
    assert_eq!(t.rows.len(), 6);

    // A time that is neither form is refused.
    let out = env.run(&["logs", "--file", &vector(CN), "--since", "yesterday"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("RFC 3339"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[cfg_attr(target_arch = "aarch64", ignore = "runs the binary under qemu")]
fn json_lines() {
    let env = Env::new();
    let mut args = vec!["--json", "logs"];
    let files = all_files();
    args.extend(files.iter().map(String::as_str));
    let (stdout, _) = env.ok(&args);
    let values: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(values.len(), 13, "{stdout}");
    let (records, summary) = values.split_at(12);
    for r in records {
        assert_eq!(r["requester"], REQUESTER);
        assert_eq!(r["remote_ip"], "192.0.2.3");
        assert!(
            r["operation"]
                .as_str()
                .expect("operation")
                .starts_with("REST."),
            "{r}"
        );
    }
    let first = &records[0];
    assert_eq!(first["bucket"], "amzn-s3-demo-bucket1");
    assert_eq!(first["time"], "2019-02-06T00:00:38Z");
    assert_eq!(first["operation"], "REST.GET.VERSIONING");
    assert_eq!(first["http_status"], 200);
    assert_eq!(first["bytes_sent"], 113);
    assert_eq!(first["key"], serde_json::Value::Null);
    assert_eq!(first["signature_version"], "SigV4");
    assert_eq!(first["acl_required"], true);
    assert_eq!(records[4]["key"], "s3-dg.pdf");
    assert_eq!(records[4]["object_size"], 4_406_583);
    assert_eq!(records[5]["bucket"], "mybucket");
    assert_eq!(records[5]["host_id"], "-");
    assert_eq!(records[2]["error_code"], "NoSuchBucketPolicy");
    // The China page's 27th field.
    assert_eq!(records[10]["extra"], serde_json::json!(["us-east-1"]));

    let s = &summary[0]["summary"];
    assert_eq!(s["requests"], 12);
    assert_eq!(s["bytes_sent"], 1885);
    assert_eq!(
        s["by_operation"],
        serde_json::json!({
            "REST.GET.VERSIONING": 5,
            "REST.GET.LOGGING_STATUS": 3,
            "REST.GET.BUCKETPOLICY": 2,
            "REST.PUT.OBJECT": 2,
        })
    );
    assert_eq!(s["by_status"], serde_json::json!({"200": 10, "404": 2}));
    assert_eq!(s["by_requester"], serde_json::json!({ REQUESTER: 12 }));

    // Filters apply to JSON too.
    let (stdout, _) = env.ok(&[
        "logs",
        "--json",
        "--file",
        &vector(DEVGUIDE),
        "--status",
        "404",
    ]);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["request_id"], "A1206F460EXAMPLE");
    assert_eq!(lines[1]["summary"]["requests"], 1);
}

#[test]
#[cfg_attr(target_arch = "aarch64", ignore = "runs the binary under qemu")]
fn unparsable_lines() {
    let env = Env::new();
    let anon = own_record(
        "b1",
        datetime!(2026-12-01 10:00:00 UTC),
        None,
        "a b.txt",
        10,
    );
    let alice = own_record(
        "b1",
        datetime!(2026-12-01 10:00:05 UTC),
        Some("arn:aws:iam::000000000000:user/alice"),
        "k",
        20,
    );
    let text = format!(
        "{}\nthis is not a log record\n\n{}\n",
        anon.to_line(),
        alice.to_line()
    );
    fs::write(env.path("mixed.log"), &text).expect("write");

    let out = env.run(&["logs", "--file", "mixed.log"]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let stderr = String::from_utf8(out.stderr).expect("utf-8");
    let t = table(&stdout);
    assert_eq!(t.rows.len(), 2, "{stdout}");
    // The key's space is escaped so the columns stay apart.
    assert!(t.rows[0].contains(" a\\x20b.txt 10"), "{}", t.rows[0]);
    assert_eq!(total(&t.summary, "bytes sent"), 30);
    // One bad line (the blank one does not count), named with its file and line.
    assert!(
        stderr.contains("1 line could not be parsed (first: mixed.log:2: "),
        "{stderr}"
    );

    // Anonymous requests with `-`, and an IAM user's ARN; from stdin.
    let out = env.run_with_stdin(
        &["logs", "--file", "-", "--requester", "-"],
        Some(text.as_bytes()),
    );
    assert!(out.status.success());
    let t = table(&String::from_utf8(out.stdout).expect("utf-8"));
    assert_eq!(t.rows.len(), 1);
    assert_eq!(count(&t.summary, "requester", "-"), Some(1));
    let stderr = String::from_utf8(out.stderr).expect("utf-8");
    assert!(stderr.contains("(first: <stdin>:2: "), "{stderr}");
    let (stdout, _) = env.ok(&[
        "logs",
        "--file",
        "mixed.log",
        "--requester",
        "arn:aws:iam::000000000000:user/alice",
    ]);
    assert_eq!(table(&stdout).rows.len(), 1);

    // Only garbage: a clear error and a failing exit code.
    fs::write(env.path("garbage.log"), "garbage\nmore garbage\n").expect("write");
    let out = env.run(&["logs", "--file", "garbage.log"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).expect("utf-8");
    assert!(stderr.contains("2 lines could not be parsed"), "{stderr}");
    assert!(
        stderr.contains("no access log record could be read"),
        "{stderr}"
    );

    // A missing file is an error too.
    let out = env.run(&["logs", "--file", "missing.log"]);
    assert!(!out.status.success());
}

#[test]
#[cfg_attr(target_arch = "aarch64", ignore = "runs the binary under qemu")]
fn from_a_bucket() {
    let env = Env::new();
    env.ok(&["bucket", "create", "logs-target"]);
    env.ok(&["bucket", "create", "src-bucket"]);
    let one = own_record(
        "src-bucket",
        datetime!(2026-12-01 10:00:00 UTC),
        None,
        "photos/one.jpg",
        100,
    );
    let two = own_record(
        "src-bucket",
        datetime!(2026-12-01 10:00:07 UTC),
        Some("arn:aws:iam::000000000000:root"),
        "photos/two.jpg",
        200,
    );
    let other = own_record(
        "other-bucket",
        datetime!(2026-12-01 10:00:09 UTC),
        None,
        "x",
        1,
    );
    fs::write(
        env.path("log1"),
        format!("{}\n{}\n", one.to_line(), two.to_line()),
    )
    .expect("write");
    fs::write(env.path("log2"), format!("{}\n", other.to_line())).expect("write");
    env.ok(&[
        "put",
        "logs-target/logs/2026-12-01-10-00-10-0123456789ABCDEF",
        "log1",
    ]);
    env.ok(&[
        "put",
        "logs-target/logs/2026-12-01-10-00-20-FEDCBA9876543210",
        "log2",
    ]);

    // A bucket without a logging configuration: its objects are the logs.
    let (stdout, _) = env.ok(&["logs", "logs-target"]);
    let t = table(&stdout);
    assert_eq!(t.rows.len(), 3, "{stdout}");
    assert!(
        t.rows[0].starts_with("2026-12-01T10:00:00Z 200    REST.GET.OBJECT"),
        "{}",
        t.rows[0]
    );
    assert!(t.rows[0].contains(" photos/one.jpg 100"), "{}", t.rows[0]);
    assert!(t.rows[2].contains(" x 1"), "{}", t.rows[2]);
    assert_eq!(total(&t.summary, "bytes sent"), 301);

    let (stdout, _) = env.ok(&["logs", "logs-target", "--prefix", "logs/2026-12-01-10-00-1"]);
    assert_eq!(table(&stdout).rows.len(), 2);
    let (stdout, stderr) = env.ok(&["logs", "logs-target", "--prefix", "none/"]);
    assert!(table(&stdout).rows.is_empty());
    assert!(stderr.contains("no log objects"), "{stderr}");

    // JSON from the bucket: the records read back equal what was written.
    let (stdout, _) = env.ok(&["--json", "logs", "logs-target", "--requester", "-"]);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    let got: serde_json::Value = serde_json::from_str(lines[0]).expect("json");
    assert_eq!(got, serde_json::to_value(&one).expect("serialize"));

    // The source bucket with a logging configuration (set in the store as PutBucketLogging does):
    // the target's objects under the target prefix, only the source's records.
    let config = LoggingConfig {
        target_bucket: "logs-target".to_owned(),
        target_prefix: "logs/".to_owned(),
        key_format: s3crypt::s3::access_log::KeyFormat::Simple,
    };
    s3crypt::store::local::LocalStore::open(&env.home())
        .expect("store")
        .put_bucket_config(
            "src-bucket",
            "logging",
            Some(&serde_json::to_string(&config).expect("json")),
        )
        .expect("put config");
    let (stdout, _) = env.ok(&["logs", "src-bucket"]);
    let t = table(&stdout);
    assert_eq!(t.rows.len(), 2, "{stdout}");
    assert_eq!(total(&t.summary, "bytes sent"), 300);
    assert_eq!(
        count(&t.summary, "requester", "arn:aws:iam::000000000000:root"),
        Some(1)
    );
    let (stdout, _) = env.ok(&["logs", "src-bucket", "--status", "404"]);
    assert!(table(&stdout).rows.is_empty());

    // A bucket that does not exist.
    let out = env.run(&["logs", "no-such-bucket"]);
    assert!(!out.status.success());
    // Neither a bucket nor files.
    let out = env.run(&["logs"]);
    assert!(!out.status.success());
}

/// End to end: an in-process `s3crypt serve` delivers the access logs of a bucket (PutBucketLogging
/// into a second bucket, as S3's documentation sets it up), and `s3crypt logs SOURCE` on its home reads
/// them back through the engine.
#[test]
#[cfg_attr(target_arch = "aarch64", ignore = "runs the binary under qemu")]
fn logs_delivered_by_the_server() {
    use base64::Engine as _;
    use md5::Digest as _;
    use s3crypt::sse::engine::LOCAL_ACCOUNT;

    let s = http::start(s3crypt::server::ServerOptions {
        access_logs: s3crypt::server::DeliveryOptions {
            interval: std::time::Duration::from_secs(3600),
        },
        ..s3crypt::server::ServerOptions::default()
    });
    for b in ["src", "logs"] {
        let r = http::signed(s.addr, "PUT", &format!("/{b}"), &[], b"");
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"logging.s3.amazonaws.com"}},"Action":"s3:PutObject","Resource":"arn:aws:s3:::logs/access/*","Condition":{{"ArnLike":{{"aws:SourceArn":"arn:aws:s3:::src"}},"StringEquals":{{"aws:SourceAccount":"{LOCAL_ACCOUNT}"}}}}}}]}}"#
    );
    let r = http::signed(s.addr, "PUT", "/logs?policy", &[], policy.as_bytes());
    assert_eq!(r.status, 204, "{}", r.text());
    let xml = r#"<BucketLoggingStatus xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LoggingEnabled><TargetBucket>logs</TargetBucket><TargetPrefix>access/</TargetPrefix></LoggingEnabled></BucketLoggingStatus>"#;
    let md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(xml.as_bytes()));
    let r = http::signed(
        s.addr,
        "PUT",
        "/src?logging",
        &[("content-md5", &md5)],
        xml.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    let r = http::signed(s.addr, "PUT", "/src/hello.txt", &[], b"hello, world");
    assert_eq!(r.status, 200, "{}", r.text());
    let r = http::signed(s.addr, "GET", "/src/hello.txt", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let r = http::signed(s.addr, "GET", "/src/missing", &[], b"");
    assert_eq!(r.status, 404, "{}", r.text());
    s.service
        .flush_access_logs(std::time::Duration::from_secs(30));

    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_s3crypt"))
            .arg("--home")
            .arg(s.home.path())
            .args(args)
            .env_remove("S3CRYPT_HOME")
            .stdin(Stdio::null())
            .output()
            .expect("run s3crypt");
        assert!(
            out.status.success(),
            "s3crypt {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let t = table(&run(&["logs", "src"]));
    assert_eq!(t.rows.len(), 4, "{:?}", t.rows);
    assert!(
        t.rows[0].contains(" REST.PUT.LOGGING_STATUS "),
        "{}",
        t.rows[0]
    );
    assert!(t.rows[1].contains(" REST.PUT.OBJECT "), "{}", t.rows[1]);
    assert!(t.rows[1].contains(" hello.txt "), "{}", t.rows[1]);
    assert!(t.rows[2].contains(" REST.GET.OBJECT "), "{}", t.rows[2]);
    assert!(t.rows[2].ends_with(" hello.txt 12"), "{}", t.rows[2]);
    assert_eq!(&t.rows[3][20..25], " 404 ", "{}", t.rows[3]);
    let t = table(&run(&["logs", "src", "--operation", "rest.*"]));
    assert_eq!(t.rows.len(), 4);
    let t = table(&run(&["logs", "src", "--operation", "REST.GET.OBJECT"]));
    assert_eq!(t.rows.len(), 2);
    let root = format!("arn:aws:iam::{LOCAL_ACCOUNT}:root");
    assert_eq!(
        count(&t.summary, "requester", &root),
        Some(2),
        "{}",
        t.summary
    );
    assert_eq!(count(&t.summary, "status", "404"), Some(1));

    let json = run(&["--json", "logs", "src", "--status", "404"]);
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 2, "{json}");
    assert_eq!(lines[0]["bucket"], "src");
    assert_eq!(lines[0]["key"], "missing");
    assert_eq!(lines[0]["error_code"], "NoSuchKey");
    assert_eq!(lines[1]["summary"]["requests"], 1);
}
