//! The CLI's file outputs under a careless user and a crash (issue 11, items 1, 2, 3, 6, 9, 11, 12, 13):
//! destinations that are not regular files, outputs that alias inputs, replacing a body and its sidecar
//! as one, temporary files of killed runs, the material description of a wrapping key, secrets in
//! arguments, stdout that is closed or full, and error text.

// Not on aarch64: CI runs that leg under qemu-user, where the test cannot exec the emulated binary (as
// tests/cli_bench.rs).
#![cfg(all(unix, not(target_arch = "aarch64")))]

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{FileTypeExt as _, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let env = Self {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        fs::write(env.path("wrap.key"), KEY_HEX).expect("key");
        env
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_s3crypt"));
        c.current_dir(self.dir.path())
            .arg("--home")
            .arg(self.path("home"))
            .args(args)
            .env_remove("S3CRYPT_FAILPOINT")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ENDPOINT_URL_KMS")
            // The AWS credential chain sees no shared files or instance metadata of this machine's,
            // and a refused connection is not retried.
            .env("AWS_CONFIG_FILE", self.path("no-aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.path("no-aws-credentials"),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_MAX_ATTEMPTS", "1")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run s3crypt")
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "s3crypt {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Encrypts `content` (written to `name`) to `name.s3ec` with the wrapping key.
    fn encrypted(&self, name: &str, content: &[u8]) -> String {
        fs::write(self.path(name), content).expect("write");
        let enc = format!("{name}.s3ec");
        self.ok(&["encrypt", name, &enc, "--wrapping-key", "wrap.key"]);
        enc
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn not_a_panic(o: &Output) {
    assert_ne!(o.status.code(), Some(101), "panicked: {}", stderr(o));
}

fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().expect("mkfifo");
    assert!(st.success());
}

fn temporaries(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .expect("read_dir")
        .filter_map(|e| {
            let n = e.ok()?.file_name().to_string_lossy().into_owned();
            n.starts_with(".s3crypt-").then_some(n)
        })
        .collect()
}

// ---- 1. Outputs that are not regular files ----

#[test]
fn decrypt_through_a_symlink_keeps_the_link() {
    let env = Env::new();
    let enc = env.encrypted("plain", b"secret text");
    fs::write(env.path("target"), b"old").expect("w");
    symlink(env.path("target"), env.path("link")).expect("symlink");
    env.ok(&["decrypt", &enc, "link", "--wrapping-key", "wrap.key"]);
    let meta = fs::symlink_metadata(env.path("link")).expect("meta");
    assert!(meta.file_type().is_symlink(), "the link was replaced");
    assert_eq!(fs::read(env.path("target")).expect("r"), b"secret text");
}

#[test]
fn decrypt_to_a_link_to_dev_null_leaves_both_alone() {
    let env = Env::new();
    let enc = env.encrypted("plain", b"secret text");
    symlink("/dev/null", env.path("null")).expect("symlink");
    env.ok(&["decrypt", &enc, "null", "--wrapping-key", "wrap.key"]);
    assert!(
        fs::symlink_metadata(env.path("null"))
            .expect("m")
            .file_type()
            .is_symlink()
    );
    assert!(
        fs::metadata("/dev/null")
            .expect("m")
            .file_type()
            .is_char_device()
    );
}

#[test]
fn decrypt_and_encrypt_write_through_a_fifo() {
    let env = Env::new();
    let enc = env.encrypted("plain", &vec![7u8; 300_000]);
    let fifo = env.path("fifo");
    mkfifo(&fifo);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || fs::read(fifo).expect("read fifo"))
    };
    env.ok(&["decrypt", &enc, "fifo", "--wrapping-key", "wrap.key"]);
    // Checked before joining: a replaced FIFO would leave the reader blocked for ever.
    assert!(
        fs::symlink_metadata(&fifo)
            .expect("m")
            .file_type()
            .is_fifo()
    );
    assert_eq!(reader.join().expect("join"), vec![7u8; 300_000]);
    assert!(temporaries(env.dir.path()).is_empty());

    // Encrypting to a FIFO streams the body through it; the sidecar is a regular file beside it.
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || fs::read(fifo).expect("read fifo"))
    };
    env.ok(&["encrypt", "plain", "fifo", "--wrapping-key", "wrap.key"]);
    assert!(
        fs::symlink_metadata(&fifo)
            .expect("m")
            .file_type()
            .is_fifo()
    );
    let body = reader.join().expect("join");
    assert_eq!(body.len(), 300_000 + 16);
    fs::write(env.path("body"), body).expect("w");
    fs::copy(
        env.path("fifo.metadata.json"),
        env.path("body.metadata.json"),
    )
    .expect("cp");
    env.ok(&["decrypt", "body", "back", "--wrapping-key", "wrap.key"]);
    assert_eq!(fs::read(env.path("back")).expect("r"), vec![7u8; 300_000]);
}

#[test]
fn dev_stdout_to_a_pipe_is_written_through() {
    let env = Env::new();
    let enc = env.encrypted("plain", b"to the pipe");
    let o = env
        .cmd(&["decrypt", &enc, "/dev/stdout", "--wrapping-key", "wrap.key"])
        .stdout(Stdio::piped())
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, b"to the pipe");
}

#[test]
fn a_dangling_link_or_a_directory_is_refused() {
    let env = Env::new();
    let enc = env.encrypted("plain", b"x");
    symlink(env.path("nowhere/file"), env.path("dangling")).expect("symlink");
    let out = env.run(&["decrypt", &enc, "dangling", "--wrapping-key", "wrap.key"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    fs::create_dir(env.path("adir")).expect("mkdir");
    let out = env.run(&["decrypt", &enc, "adir", "--wrapping-key", "wrap.key"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is a directory"), "{}", stderr(&out));
}

#[test]
fn get_through_a_symlink_keeps_the_link() {
    let env = Env::new();
    env.ok(&["bucket", "create", "bkt"]);
    fs::write(env.path("data"), b"object bytes").expect("w");
    env.ok(&["put", "bkt/obj", "data"]);
    fs::write(env.path("target"), b"old").expect("w");
    symlink(env.path("target"), env.path("link")).expect("symlink");
    env.ok(&["get", "bkt/obj", "link"]);
    assert!(
        fs::symlink_metadata(env.path("link"))
            .expect("m")
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read(env.path("target")).expect("r"), b"object bytes");
}

// ---- 2. Paths that alias ----

#[test]
fn outputs_that_are_inputs_are_refused_and_nothing_changes() {
    let env = Env::new();
    let enc = env.encrypted("plain", b"only copy");
    let body = fs::read(env.path(&enc)).expect("r");
    let sidecar = format!("{enc}.metadata.json");
    let meta = fs::read(env.path(&sidecar)).expect("r");
    fs::hard_link(env.path(&enc), env.path("hardlink")).expect("link");
    for out in [enc.as_str(), sidecar.as_str(), "./plain.s3ec", "hardlink"] {
        let o = env.run(&["decrypt", &enc, out, "--wrapping-key", "wrap.key"]);
        assert!(!o.status.success(), "decrypt {enc} {out} succeeded");
        assert!(stderr(&o).contains("same file"), "{}", stderr(&o));
        assert_eq!(fs::read(env.path(&enc)).expect("r"), body);
        assert_eq!(fs::read(env.path(&sidecar)).expect("r"), meta);
    }
    // The wrapping key is an input too.
    let o = env.run(&["decrypt", &enc, "wrap.key", "--wrapping-key", "wrap.key"]);
    assert!(!o.status.success());
    assert_eq!(
        fs::read_to_string(env.path("wrap.key")).expect("r"),
        KEY_HEX
    );

    // encrypt F - --metadata F would overwrite F before reading it.
    let o = env.run(&[
        "encrypt",
        "plain",
        "-",
        "--metadata",
        "plain",
        "--wrapping-key",
        "wrap.key",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("same file"), "{}", stderr(&o));
    assert_eq!(fs::read(env.path("plain")).expect("r"), b"only copy");
    // encrypt F F and encrypt F G where G.metadata.json is F.
    let o = env.run(&["encrypt", "plain", "plain", "--wrapping-key", "wrap.key"]);
    assert!(!o.status.success());
    fs::hard_link(env.path("plain"), env.path("g.metadata.json")).expect("link");
    let o = env.run(&["encrypt", "plain", "g", "--wrapping-key", "wrap.key"]);
    assert!(!o.status.success());
    assert_eq!(fs::read(env.path("plain")).expect("r"), b"only copy");
}

#[test]
fn stdout_redirected_to_the_input_is_refused() {
    let env = Env::new();
    let enc = env.encrypted("plain", b"only copy");
    let body = fs::read(env.path(&enc)).expect("r");
    // `s3crypt decrypt X - >> X`: stdout is the input file (opened for append, so not truncated).
    let f = fs::OpenOptions::new()
        .append(true)
        .open(env.path(&enc))
        .expect("open");
    let o = env
        .cmd(&["decrypt", &enc, "-", "--wrapping-key", "wrap.key"])
        .stdout(f)
        .output()
        .expect("run");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("same file"), "{}", stderr(&o));
    assert_eq!(fs::read(env.path(&enc)).expect("r"), body);
}

// ---- 3. Crash safety of replacing a body and its sidecar ----

#[test]
fn a_crash_before_the_commit_point_keeps_the_old_pair() {
    let env = Env::new();
    let enc = env.encrypted("plain", b"old version");
    fs::write(env.path("plain"), b"new version").expect("w");
    let o = env
        .cmd(&["encrypt", "plain", &enc, "--wrapping-key", "wrap.key"])
        .env("S3CRYPT_FAILPOINT", "commit-group-before-journal")
        .output()
        .expect("run");
    assert!(!o.status.success(), "the failpoint did not fire");
    assert!(!temporaries(env.dir.path()).is_empty());
    env.ok(&["decrypt", &enc, "out", "--wrapping-key", "wrap.key"]);
    assert_eq!(fs::read(env.path("out")).expect("r"), b"old version");
    // That run (writing beside them) removed the dead run's temporaries and said so.
    let o = env.ok(&["decrypt", &enc, "out2", "--wrapping-key", "wrap.key"]);
    let _ = o;
    assert!(
        temporaries(env.dir.path()).is_empty(),
        "{:?}",
        temporaries(env.dir.path())
    );
}

#[test]
fn a_crash_after_the_commit_point_completes_the_new_pair() {
    let env = Env::new();
    let enc = env.encrypted("plain", b"old version");
    fs::write(env.path("plain"), b"new version").expect("w");
    let o = env
        .cmd(&["encrypt", "plain", &enc, "--wrapping-key", "wrap.key"])
        .env("S3CRYPT_FAILPOINT", "commit-group-after-journal")
        .output()
        .expect("run");
    assert!(!o.status.success(), "the failpoint did not fire");
    // Reading the object completes the interrupted replacement first.
    env.ok(&["decrypt", &enc, "out", "--wrapping-key", "wrap.key"]);
    assert_eq!(fs::read(env.path("out")).expect("r"), b"new version");
    assert!(
        temporaries(env.dir.path()).is_empty(),
        "{:?}",
        temporaries(env.dir.path())
    );
}

#[test]
fn an_output_that_is_a_directory_leaves_no_half_pair() {
    let env = Env::new();
    fs::write(env.path("plain"), b"data").expect("w");
    fs::create_dir(env.path("outdir")).expect("mkdir");
    let o = env.run(&["encrypt", "plain", "outdir", "--wrapping-key", "wrap.key"]);
    assert!(!o.status.success());
    assert!(!env.path("outdir.metadata.json").exists());
    assert!(temporaries(env.dir.path()).is_empty());
    // A sidecar path that is a directory: the old pair stays whole.
    let enc = env.encrypted("plain", b"old");
    fs::create_dir(env.path(&format!("{enc}.instruction"))).expect("mkdir");
    let before = fs::read(env.path(&enc)).expect("r");
    let o = env.run(&["encrypt", "plain", &enc, "--wrapping-key", "wrap.key"]);
    assert!(!o.status.success());
    assert_eq!(fs::read(env.path(&enc)).expect("r"), before);
}

// ---- 6. Temporary files of killed runs ----

#[test]
fn a_killed_decrypt_leaves_a_temporary_that_the_next_run_removes_and_reports() {
    let env = Env::new();
    let content = vec![3u8; 8 << 20];
    let enc = env.encrypted("plain", &content);
    let meta = format!("{enc}.metadata.json");
    // The output directory exists before the child starts: it checks its
    // destination first and would otherwise exit before reading stdin.
    fs::create_dir(env.path("out")).expect("mkdir");
    let mut child = env
        .cmd(&[
            "decrypt",
            "-",
            "out/plain",
            "--metadata",
            &meta,
            "--wrapping-key",
            "wrap.key",
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let body = fs::read(env.path(&enc)).expect("r");
    let mut stdin = child.stdin.take().expect("stdin");
    // Half the body, then wait for the temporary to appear, then kill.
    stdin.write_all(&body[..4 << 20]).expect("write");
    let deadline = Instant::now() + Duration::from_secs(30);
    while temporaries(&env.path("out")).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("kill");
    let _ = child.wait();
    drop(stdin);
    let stale = temporaries(&env.path("out"));
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert!(!env.path("out/plain").exists());
    let o = env.ok(&["decrypt", &enc, "out/plain", "--wrapping-key", "wrap.key"]);
    assert!(stderr(&o).contains(&stale[0]), "{}", stderr(&o));
    assert!(stderr(&o).contains("interrupted run"), "{}", stderr(&o));
    assert!(temporaries(&env.path("out")).is_empty());
    assert_eq!(fs::read(env.path("out/plain")).expect("r"), content);
}

// ---- 9. Encryption context with a wrapping key ----

#[test]
fn context_with_a_wrapping_key_is_stored_and_checked() {
    let env = Env::new();
    fs::write(env.path("plain"), b"ctx").expect("w");
    env.ok(&[
        "encrypt",
        "plain",
        "p.s3ec",
        "--wrapping-key",
        "wrap.key",
        "--context",
        "tenant=t1",
    ]);
    let md = fs::read_to_string(env.path("p.s3ec.metadata.json")).expect("r");
    assert!(
        md.contains("tenant"),
        "the material description is not stored: {md}"
    );
    let o = env.run(&[
        "decrypt",
        "p.s3ec",
        "o",
        "--wrapping-key",
        "wrap.key",
        "--context",
        "tenant=t2",
    ]);
    assert!(!o.status.success());
    assert!(!env.path("o").exists());
    env.ok(&[
        "decrypt",
        "p.s3ec",
        "o",
        "--wrapping-key",
        "wrap.key",
        "--context",
        "tenant=t1",
    ]);
    assert_eq!(fs::read(env.path("o")).expect("r"), b"ctx");
}

// ---- 11. Secrets on the command line ----

#[test]
fn a_malformed_header_never_echoes_its_value() {
    let env = Env::new();
    env.ok(&["bucket", "create", "bkt", "--allow-sse-c"]);
    fs::write(env.path("data"), b"d").expect("w");
    let secret = "c2VjcmV0LWN1c3RvbWVyLWtleS0zMi1ieXRlcy1sb25nIQ";
    let bad = format!("x-amz-server-side-encryption-customer-key {secret}");
    let o = env.run(&["put", "bkt/o", "data", "-H", &bad]);
    assert!(!o.status.success());
    assert!(!stderr(&o).contains(secret), "{}", stderr(&o));
    // The same header from a file (not in the process list) works, and a bad line there is not echoed.
    fs::write(env.path("h.txt"), format!("{bad}\n")).expect("w");
    let o = env.run(&["put", "bkt/o", "data", "-H", "@h.txt"]);
    assert!(!o.status.success());
    assert!(!stderr(&o).contains(secret), "{}", stderr(&o));
}

#[test]
fn sse_c_headers_from_a_file() {
    use base64::Engine as _;
    let env = Env::new();
    env.ok(&["bucket", "create", "bkt", "--allow-sse-c"]);
    fs::write(env.path("data"), b"customer data").expect("w");
    let key = [0x42u8; 32];
    let b64 = base64::engine::general_purpose::STANDARD;
    let md5 = s3crypt::primitives::hash::md5(&key);
    let headers = format!(
        "x-amz-server-side-encryption-customer-algorithm: AES256\n\
         x-amz-server-side-encryption-customer-key: {}\n\
         x-amz-server-side-encryption-customer-key-MD5: {}\n",
        b64.encode(key),
        b64.encode(md5)
    );
    fs::write(env.path("ssec.txt"), headers).expect("w");
    env.ok(&["put", "bkt/o", "data", "-H", "@ssec.txt"]);
    env.ok(&["get", "bkt/o", "back", "-H", "@ssec.txt"]);
    assert_eq!(fs::read(env.path("back")).expect("r"), b"customer data");
    let o = env.run(&["get", "bkt/o", "back2"]);
    assert!(!o.status.success());
}

#[test]
fn kms_endpoint_credentials_come_from_the_environment_or_a_file() {
    let env = Env::new();
    fs::write(env.path("plain"), b"x").expect("w");
    // No credentials anywhere: a clear error, before any connection.
    let args = [
        "encrypt",
        "plain",
        "p.s3ec",
        "--kms-endpoint",
        "http://127.0.0.1:9",
        "--kms-key",
        "alias/k",
    ];
    let o = env.run(&args);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("AWS_ACCESS_KEY_ID"), "{}", stderr(&o));
    // From the environment: the credentials are accepted, and the call fails on the connection.
    let o = env
        .cmd(&args)
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "envsecretvalue")
        .output()
        .expect("run");
    assert!(!o.status.success());
    assert!(!stderr(&o).contains("AWS_ACCESS_KEY_ID"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("envsecretvalue"));
    // A malformed file is refused without echoing it.
    fs::write(env.path("creds"), "onlyonesecretfield\n").expect("w");
    let mut with_file = args.to_vec();
    with_file.extend(["--access-key-file", "creds"]);
    let o = env.run(&with_file);
    assert!(!o.status.success());
    assert!(!stderr(&o).contains("onlyonesecretfield"), "{}", stderr(&o));
}

// ---- 12. stdout closed or full ----

#[test]
fn a_full_stdout_is_an_error_not_a_panic() {
    let env = Env::new();
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let o = env.cmd(&["cpu"]).stdout(full).output().expect("run");
    not_a_panic(&o);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("No space left"), "{}", stderr(&o));
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let env = Env::new();
    let enc = env.encrypted("plain", &vec![5u8; 4 << 20]);
    let mut child = env
        .cmd(&["decrypt", &enc, "-", "--wrapping-key", "wrap.key"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let o = child.wait_with_output().expect("wait");
    not_a_panic(&o);
    assert_eq!(o.status.code(), Some(141));
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
    // The same for a short report.
    let mut child = env
        .cmd(&["cpu"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let o = child.wait_with_output().expect("wait");
    not_a_panic(&o);
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
}

// ---- 13. Error text ----

#[test]
fn each_cause_is_printed_once() {
    let env = Env::new();
    let o = env.run(&[
        "decrypt",
        "missing.s3ec",
        "out",
        "--wrapping-key",
        "wrap.key",
    ]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert_eq!(e.matches("No such file or directory").count(), 1, "{e}");
    let o = env.run(&["encrypt", "missing", "out", "--wrapping-key", "wrap.key"]);
    let e = stderr(&o);
    assert_eq!(e.matches("No such file or directory").count(), 1, "{e}");
}
