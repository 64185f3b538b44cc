//! The Glacier vault API of `s3crypt serve`: unmodified boto3 (`tests/interop/glacier_boto3.py`), then
//! signed raw requests for what boto3 cannot show: the routing, the JSON errors, SigV4 for `glacier`,
//! and time (the 24-hour lock-ID expiry, `glacier:ArchiveAgeInDays`) moved on the server's injected
//! clock from Rust, never over HTTP; and `s3crypt vault` on the server's home. One server for the
//! file; the tests take turns (the clock is shared).

#[path = "support/common.rs"]
mod common;
#[path = "support/http.rs"]
mod http;

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{ID, SECRET, send};
use s3crypt::aws::clock::ManualClock;
use s3crypt::aws::sigv4::{self, Credentials, SignableRequest};
use s3crypt::glacier::Glacier;
use s3crypt::glacier::tree_hash::tree_hash_hex;
use s3crypt::server::ServerOptions;
use s3crypt::sse::engine::LOCAL_ACCOUNT;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

struct Shared {
    server: http::Server,
    clock: ManualClock,
}

/// The file's one server (Glacier vaults on a manual clock), and the turn to use it.
fn server() -> (&'static Shared, MutexGuard<'static, ()>) {
    static SERVER: OnceLock<Shared> = OnceLock::new();
    static TURN: Mutex<()> = Mutex::new(());
    let turn = TURN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let shared = SERVER.get_or_init(|| {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
        let clock = ManualClock::new(now);
        let c = clock.clone();
        let server = http::start_with(ServerOptions::default(), move |service, home| {
            let vaults = Glacier::open(home, "us-east-1")
                .expect("vaults")
                .with_clock(Arc::new(c));
            service.with_glacier(Arc::new(vaults))
        });
        Shared { server, clock }
    });
    (shared, turn)
}

/// A request signed for `glacier` as botocore signs it (no `x-amz-content-sha256` unless given).
fn glacier(
    s: &http::Server,
    method: &str,
    target: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> http::Resp {
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), s.addr.to_string()),
        ("x-amz-glacier-version".into(), "2012-06-01".into()),
    ];
    headers.extend(
        extra
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
    );
    let req = SignableRequest {
        method,
        uri: target,
        headers: &headers,
        body,
    };
    let creds = Credentials::new(ID, SECRET, None);
    let added = sigv4::sign(&req, &creds, "us-east-1", "glacier", SystemTime::now()).expect("sign");
    headers.extend(added);
    send(s.addr, method, target, &headers, body)
}

/// The Glacier error code of a response (its JSON `code`).
fn code(r: &http::Resp) -> String {
    serde_json::from_slice::<serde_json::Value>(&r.body)
        .ok()
        .and_then(|v| v["code"].as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("(no code: {})", r.text()))
}

fn upload(s: &http::Server, vault: &str, body: &[u8]) -> String {
    let hash = tree_hash_hex(body);
    let sha = hex::encode(s3crypt::primitives::hash::sha256(body));
    let r = glacier(
        s,
        "POST",
        &format!("/-/vaults/{vault}/archives"),
        &[
            ("x-amz-sha256-tree-hash", &hash),
            ("x-amz-content-sha256", &sha),
        ],
        body,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("x-amz-sha256-tree-hash"), Some(hash.as_str()));
    r.header("x-amz-archive-id").expect("archive id").to_owned()
}

fn lock_policy(vault: &str, days: u32) -> String {
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"glacier:DeleteArchive","Resource":"arn:aws:glacier:us-east-1:{LOCAL_ACCOUNT}:vaults/{vault}","Condition":{{"NumericLessThan":{{"glacier:ArchiveAgeInDays":"{days}"}}}}}}]}}"#
    );
    serde_json::json!({ "Policy": policy }).to_string()
}

/// Whether any file under `dir` contains `needle`.
fn holds(dir: &Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            let p = e.path();
            if p.is_dir() {
                holds(&p, needle)
            } else {
                std::fs::read(&p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))
            }
        })
}

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "interop tests spawn host processes (Python); they run on the x86_64 legs"
)]
fn boto3_glacier_client_drives_vaults_and_vault_lock() {
    let (shared, _turn) = server();
    let s = &shared.server;
    let marker = "glacier-boto3-plaintext-7f3a9c";
    let out = Command::new(common::python())
        .arg(common::root().join("tests/interop/glacier_boto3.py"))
        .args([&format!("http://{}", s.addr), ID, SECRET, marker])
        .output()
        .expect("run glacier_boto3.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "glacier_boto3.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains("FAIL"), "{stdout}");
    assert!(stdout.matches("OK ").count() >= 35, "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_str(stdout.lines().last().expect("summary")).expect("summary JSON");
    assert_eq!(summary["account"], LOCAL_ACCOUNT);
    // Archives are encrypted at rest: the home never holds their text.
    assert!(
        !holds(s.home.path(), marker.as_bytes()),
        "plaintext archive bytes on disk"
    );
    assert!(
        s.home
            .path()
            .join("glacier")
            .join(LOCAL_ACCOUNT)
            .join("gv2")
            .join("vault.json")
            .is_file()
    );
}

#[test]
fn glacier_requests_are_routed_signed_and_answered_in_json() {
    let (shared, _turn) = server();
    let s = &shared.server;
    // Unsigned: refused, never served anonymously.
    let r = send(
        s.addr,
        "GET",
        "/-/vaults",
        &[("host".into(), s.addr.to_string())],
        b"",
    );
    assert_eq!(
        (r.status, code(&r).as_str()),
        (403, "MissingAuthenticationTokenException")
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.header("x-amzn-requestid").is_some());
    // An unsigned archive is refused before its body is read (none is sent here).
    let head = format!(
        "POST /-/vaults/raw1/archives HTTP/1.1\r\nhost: {}\r\nx-amz-content-sha256: {}\r\ncontent-length: 10485760\r\n\r\n",
        s.addr,
        "ab".repeat(32)
    );
    let r = http::raw(s.addr, head.as_bytes());
    assert_eq!(
        (r.status, code(&r).as_str()),
        (403, "MissingAuthenticationTokenException")
    );
    assert_eq!(r.header("connection"), Some("close"));
    // Signed for S3 instead of Glacier: the scope names the wrong service.
    let r = http::signed(s.addr, "GET", "/-/vaults", &[], b"");
    assert_eq!(
        (r.status, code(&r).as_str()),
        (403, "InvalidSignatureException"),
        "{}",
        r.text()
    );
    // S3 still answers for other paths.
    let r = http::signed(s.addr, "GET", "/", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());

    let r = glacier(s, "PUT", "/-/vaults/raw1", &[], b"");
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        r.header("location"),
        Some(format!("/{LOCAL_ACCOUNT}/vaults/raw1").as_str())
    );
    let r = glacier(s, "GET", &format!("/{LOCAL_ACCOUNT}/vaults/raw1"), &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let d: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(d["VaultName"], "raw1");
    // Another account's vaults: no policy lets this root in.
    let r = glacier(s, "GET", "/444455556666/vaults/raw1", &[], b"");
    assert_eq!(
        (r.status, code(&r).as_str()),
        (403, "AccessDeniedException"),
        "{}",
        r.text()
    );
    let r = glacier(s, "PUT", "/-/vaults/bad~name", &[], b"");
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "InvalidParameterValueException")
    );
    let r = glacier(s, "POST", "/-/vaults/raw1/jobs", &[], b"{}");
    assert_eq!((r.status, code(&r).as_str()), (501, "NotImplemented"));
    let r = glacier(s, "PATCH", "/-/vaults/raw1", &[], b"");
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "UnknownOperationException")
    );
    // An upload must carry the tree hash and x-amz-content-sha256.
    let r = glacier(s, "POST", "/-/vaults/raw1/archives", &[], b"abc");
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "MissingParameterValueException")
    );
    let sha = hex::encode(s3crypt::primitives::hash::sha256(b"abc"));
    let r = glacier(
        s,
        "POST",
        "/-/vaults/raw1/archives",
        &[("x-amz-content-sha256", &sha)],
        b"abc",
    );
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "MissingParameterValueException")
    );
    let wrong = hex::encode(s3crypt::primitives::hash::sha256(b"abd"));
    let r = glacier(
        s,
        "POST",
        "/-/vaults/raw1/archives",
        &[
            ("x-amz-content-sha256", &wrong),
            ("x-amz-sha256-tree-hash", &sha),
        ],
        b"abc",
    );
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "InvalidParameterValueException"),
        "a body that is not the signed hash: {}",
        r.text()
    );
    let id = upload(s, "raw1", b"abc");
    let r = glacier(s, "DELETE", "/-/vaults/raw1", &[], b"");
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "InvalidParameterValueException")
    );
    let r = glacier(
        s,
        "DELETE",
        &format!("/-/vaults/raw1/archives/{id}"),
        &[],
        b"",
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let r = glacier(s, "DELETE", "/-/vaults/raw1", &[], b"");
    assert_eq!(r.status, 204, "{}", r.text());
    let r = glacier(s, "POST", "/-/vaults/raw1/lock-policy", &[], b"{}");
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "MissingParameterValueException")
    );
    let policy = lock_policy("raw1", 1);
    let r = glacier(
        s,
        "POST",
        "/-/vaults/raw1/lock-policy",
        &[],
        policy.as_bytes(),
    );
    assert_eq!(
        (r.status, code(&r).as_str()),
        (404, "ResourceNotFoundException")
    );
}

#[test]
fn glacier_lock_id_expires_after_24_hours_and_old_archives_become_deletable() {
    let (shared, _turn) = server();
    let (s, clock) = (&shared.server, &shared.clock);
    let r = glacier(s, "PUT", "/-/vaults/timed", &[], b"");
    assert_eq!(r.status, 201, "{}", r.text());

    // An InProgress lock is enforced, then gone 24 hours later.
    let body = lock_policy("timed", 30);
    let r = glacier(
        s,
        "POST",
        "/-/vaults/timed/lock-policy",
        &[],
        body.as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let first_id = r.header("x-amz-lock-id").expect("lock id").to_owned();
    let id = upload(s, "timed", b"first");
    let r = glacier(
        s,
        "DELETE",
        &format!("/-/vaults/timed/archives/{id}"),
        &[],
        b"",
    );
    assert_eq!(
        (r.status, code(&r).as_str()),
        (403, "AccessDeniedException"),
        "{}",
        r.text()
    );
    clock.advance(DAY - Duration::from_secs(60));
    let r = glacier(s, "GET", "/-/vaults/timed/lock-policy", &[], b"");
    let lock: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(lock["State"], "InProgress", "{}", r.text());
    clock.advance(Duration::from_secs(60));
    let r = glacier(s, "GET", "/-/vaults/timed/lock-policy", &[], b"");
    assert_eq!(
        (r.status, code(&r).as_str()),
        (404, "ResourceNotFoundException"),
        "{}",
        r.text()
    );
    let r = glacier(
        s,
        "POST",
        &format!("/-/vaults/timed/lock-policy/{first_id}"),
        &[],
        b"",
    );
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "InvalidParameterValueException")
    );
    let r = glacier(
        s,
        "DELETE",
        &format!("/-/vaults/timed/archives/{id}"),
        &[],
        b"",
    );
    assert_eq!(
        r.status,
        204,
        "the expired lock no longer applies: {}",
        r.text()
    );

    // A Locked policy: young archives stay until they are 30 days old.
    let r = glacier(
        s,
        "POST",
        "/-/vaults/timed/lock-policy",
        &[],
        body.as_bytes(),
    );
    let lock_id = r.header("x-amz-lock-id").expect("lock id").to_owned();
    let r = glacier(
        s,
        "POST",
        &format!("/-/vaults/timed/lock-policy/{lock_id}"),
        &[],
        b"",
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let id = upload(s, "timed", b"second");
    clock.advance(DAY * 29);
    let r = glacier(
        s,
        "DELETE",
        &format!("/-/vaults/timed/archives/{id}"),
        &[],
        b"",
    );
    assert_eq!(
        (r.status, code(&r).as_str()),
        (403, "AccessDeniedException"),
        "{}",
        r.text()
    );
    clock.advance(DAY * 2);
    let r = glacier(s, "GET", "/-/vaults/timed/lock-policy", &[], b"");
    let lock: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(
        lock["State"],
        "Locked",
        "a Locked policy never expires: {}",
        r.text()
    );
    let r = glacier(
        s,
        "DELETE",
        &format!("/-/vaults/timed/archives/{id}"),
        &[],
        b"",
    );
    assert_eq!(r.status, 204, "31 days old: {}", r.text());
    let r = glacier(s, "DELETE", "/-/vaults/timed/lock-policy", &[], b"");
    assert_eq!(
        (r.status, code(&r).as_str()),
        (403, "AccessDeniedException")
    );
}

/// `s3crypt vault …` on `home`: (success, stdout, stderr).
fn cli(home: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_s3crypt"))
        .arg("--home")
        .arg(home)
        .env_remove("S3CRYPT_HOME")
        .arg("vault")
        .args(args)
        .output()
        .expect("run s3crypt vault");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "CLI tests exec the host binary; they run on the x86_64 legs"
)]
fn cli_vault_commands_share_the_servers_home() {
    let (shared, _turn) = server();
    let s = &shared.server;
    let home = s.home.path();
    let ok = |args: &[&str]| {
        let (ok, out, err) = cli(home, args);
        assert!(ok, "s3crypt vault {args:?}: {err}");
        out
    };
    let created: serde_json::Value =
        serde_json::from_str(&ok(&["--json", "create", "cli1"])).expect("json");
    assert_eq!(created["location"], format!("/{LOCAL_ACCOUNT}/vaults/cli1"));
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("archive.bin");
    let data = b"cli-archive-plaintext-51c0".repeat(50_000);
    std::fs::write(&file, &data).expect("write");
    let up: serde_json::Value = serde_json::from_str(&ok(&[
        "--json",
        "upload",
        "cli1",
        file.to_str().expect("utf-8 path"),
        "--description",
        "from the CLI",
    ]))
    .expect("json");
    assert_eq!(up["checksum"], tree_hash_hex(&data));
    let archive = up["archiveId"].as_str().expect("archive id").to_owned();
    // The server sees what the CLI wrote.
    let r = glacier(s, "GET", "/-/vaults/cli1", &[], b"");
    let d: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(
        (d["NumberOfArchives"].as_u64(), d["SizeInBytes"].as_u64()),
        (Some(1), Some(data.len() as u64)),
        "{}",
        r.text()
    );
    assert!(!holds(home, b"cli-archive-plaintext-51c0"));

    let policy = dir.path().join("lock.json");
    let doc: serde_json::Value = serde_json::from_str(&lock_policy("cli1", 365)).expect("json");
    std::fs::write(&policy, doc["Policy"].as_str().expect("policy")).expect("write");
    let lock_id = ok(&[
        "lock-initiate",
        "cli1",
        policy.to_str().expect("utf-8 path"),
    ])
    .trim()
    .to_owned();
    let got: serde_json::Value =
        serde_json::from_str(&ok(&["--json", "lock-get", "cli1"])).expect("json");
    assert_eq!(got["State"], "InProgress");
    ok(&["lock-complete", "cli1", &lock_id]);
    assert!(ok(&["lock-get", "cli1"]).starts_with("Locked"));
    let (refused, _, err) = cli(home, &["delete-archive", "cli1", &archive]);
    assert!(!refused && err.contains("AccessDeniedException"), "{err}");
    let (refused, _, err) = cli(home, &["lock-abort", "cli1"]);
    assert!(!refused && err.contains("AccessDeniedException"), "{err}");
    let (refused, _, err) = cli(home, &["delete", "cli1"]);
    assert!(
        !refused && err.contains("InvalidParameterValueException"),
        "{err}"
    );
    let (refused, _, err) = cli(home, &["policy-get", "cli1"]);
    assert!(
        !refused && err.contains("ResourceNotFoundException"),
        "{err}"
    );
    let listed = ok(&["list", "--limit", "1000"]);
    assert!(
        listed.lines().any(|l| l.starts_with("cli1\t1\t")),
        "{listed}"
    );
}
