//! `s3crypt selftest` from an installed binary (issue 18, item 7): the vectors are embedded, so a copy
//! of the binary outside the source tree, run from another directory, passes; `--json` prints one object
//! per suite and a summary; `--vectors DIR` overrides, and any failure exits non-zero.

// Not on aarch64: CI runs that leg under qemu-user, where the test cannot exec the emulated binary (as
// tests/cli_bench.rs).
#![cfg(all(unix, not(target_arch = "aarch64")))]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary copied into a fresh directory, as `cargo install` or a package would place it.
fn installed() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = dir.path().join("bin").join("s3crypt");
    fs::create_dir_all(bin.parent().expect("parent")).expect("mkdir");
    fs::copy(env!("CARGO_BIN_EXE_s3crypt"), &bin).expect("copy the binary");
    (dir, bin)
}

fn run(bin: &Path, cwd: &Path, args: &[&str]) -> Output {
    Command::new(bin)
        .current_dir(cwd)
        .args(args)
        .env_remove("S3CRYPT_BACKEND")
        .stdin(Stdio::null())
        .output()
        .expect("run the copied binary")
}

fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn an_installed_binary_passes_from_any_directory() {
    let (dir, bin) = installed();
    let elsewhere = tempfile::tempdir().expect("tempdir");
    assert!(!elsewhere.path().join("test-vectors").exists());
    let out = run(&bin, elsewhere.path(), &["selftest"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("embedded"), "{text}");
    assert!(text.contains("all 11 suites passed"), "{text}");
    // From / too (no test-vectors directory there either).
    let out = run(&bin, Path::new("/"), &["--json", "selftest"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 12, "11 suites and a summary");
    for l in &lines[..11] {
        assert_eq!(l["ok"], true, "{l}");
        assert!(l["cases"].as_u64().is_some_and(|n| n > 0), "{l}");
        assert!(l["file"].as_str().is_some(), "{l}");
        assert_eq!(l["sha256"].as_str().map(str::len), Some(64), "{l}");
    }
    let nist = lines
        .iter()
        .find(|l| l["file"] == "nist/gcmDecrypt256.rsp")
        .expect("the NIST decrypt suite");
    assert_eq!(
        (&nist["cases"], &nist["valid"], &nist["rejected"]),
        (&375.into(), &184.into(), &191.into())
    );
    let summary = &lines[11];
    assert_eq!(summary["summary"], true);
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["suites"], 11);
    assert_eq!(summary["passed"], 11);
    assert_eq!(summary["failed"], 0);
    assert_eq!(summary["vectors"], "embedded");
    let total: u64 = lines[..11]
        .iter()
        .map(|l| l["cases"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(summary["cases"], total);
    drop(dir);
}

#[test]
fn vectors_dir_overrides_and_a_failure_exits_non_zero() {
    let (_dir, bin) = installed();
    let tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-vectors");
    let cwd = tempfile::tempdir().expect("tempdir");
    // The source tree's directory passes.
    let out = run(
        &bin,
        cwd.path(),
        &[
            "--json",
            "selftest",
            "--vectors",
            tree.to_str().expect("utf-8"),
        ],
    );
    assert!(out.status.success());
    let lines = json_lines(&out);
    assert_eq!(lines[11]["vectors"], tree.display().to_string());
    assert!(lines[0].get("sha256").is_none());

    // A copy with one tag flipped: that suite fails, the others pass, the exit status says so.
    let bad = tempfile::tempdir().expect("tempdir");
    for s in s3crypt::selftest::SUITES {
        let dest = bad.path().join(s.file);
        fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
        fs::copy(tree.join(s.file), &dest).expect("copy");
    }
    let path = bad.path().join("nist/gcmEncryptExtIV256.rsp");
    let text = fs::read_to_string(&path).expect("read");
    let pos = text.find("Tag = ").expect("a tag") + 6;
    let mut bytes = text.into_bytes();
    bytes[pos] = if bytes[pos] == b'0' { b'1' } else { b'0' };
    fs::write(&path, bytes).expect("write");
    let bad_dir = bad.path().to_str().expect("utf-8");
    let out = run(
        &bin,
        cwd.path(),
        &["--json", "selftest", "--vectors", bad_dir],
    );
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out);
    let failed: Vec<_> = lines[..11].iter().filter(|l| l["ok"] == false).collect();
    assert_eq!(failed.len(), 1, "{lines:?}");
    assert_eq!(failed[0]["file"], "nist/gcmEncryptExtIV256.rsp");
    assert!(
        failed[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("FAILED")),
        "{}",
        failed[0]
    );
    assert_eq!(lines[11]["ok"], false);
    assert_eq!(lines[11]["failed"], 1);
    // The text output says so too.
    let out = run(&bin, cwd.path(), &["selftest", "--vectors", bad_dir]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 of 11 suites FAILED"));

    // A directory without the files fails every suite.
    let out = run(
        &bin,
        cwd.path(),
        &["--json", "selftest", "--vectors", "nowhere"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_lines(&out)[11]["failed"], 11);
}

#[test]
fn the_embedded_copies_are_the_tree_files() {
    let tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-vectors");
    for s in s3crypt::selftest::SUITES {
        let on_disk = fs::read_to_string(tree.join(s.file)).expect("read");
        assert!(
            on_disk == s.embedded_text(),
            "{} differs from the build",
            s.file
        );
        let embedded = s.run_embedded().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(embedded, s.run(&tree).expect("from the tree"), "{}", s.name);
    }
}
