//! `s3crypt bench --json`: one JSON object per line, with every operation users compare machines by,
//! each line carrying the version, CPU model, tier and the run's timestamp.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const PRIMITIVES: [&str; 4] = ["gcm-seal", "gcm-open", "ctr", "ghash"];

/// Runs `s3crypt bench --json` with `args` and returns its lines, checking the fields every line has.
fn bench(args: &[&str]) -> Vec<serde_json::Value> {
    let before = OffsetDateTime::now_utc();
    let out = Command::new(env!("CARGO_BIN_EXE_s3crypt"))
        .args(["bench", "--json", "--seconds", "0.05", "--file-runs", "1"])
        .args(args)
        .output()
        .expect("run s3crypt bench");
    let after = OffsetDateTime::now_utc();
    assert!(
        out.status.success(),
        "s3crypt bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8 output");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"))
        })
        .collect();
    assert!(!lines.is_empty(), "no output");
    let mut seen = BTreeSet::new();
    for v in &lines {
        let op = v["op"].as_str().expect("op is a string").to_owned();
        let gbps = v["gbps"].as_f64().expect("gbps is a number");
        assert!(gbps.is_finite() && gbps > 0.0, "{op}: gbps {gbps}");
        let bytes = v["bytes"].as_u64().expect("bytes");
        assert!(bytes > 0, "{op}: bytes");
        assert!(
            v["threads"].as_u64().is_some_and(|t| t >= 1),
            "{op}: threads"
        );
        assert!(
            v["tier"].as_str().is_some_and(|t| !t.is_empty()),
            "{op}: tier"
        );
        assert_eq!(v["arch"].as_str(), Some(std::env::consts::ARCH));
        assert_eq!(v["version"].as_str(), Some(env!("CARGO_PKG_VERSION")));
        assert!(
            v["cpu_model"]
                .as_str()
                .is_some_and(|m| !m.trim().is_empty()),
            "{op}: cpu_model"
        );
        let ts = v["timestamp"].as_str().expect("timestamp is a string");
        assert!(ts.ends_with('Z'), "{op}: timestamp {ts} is not UTC");
        let at = OffsetDateTime::parse(ts, &Rfc3339)
            .unwrap_or_else(|e| panic!("{op}: timestamp {ts} is not RFC 3339: {e}"));
        // RFC 3339 from the clock, truncated to whole seconds at most.
        assert!(
            at >= before - time::Duration::seconds(1) && at <= after,
            "{op}: timestamp {ts} is outside the run ({before} .. {after})"
        );
        assert_eq!(
            v["timestamp"], lines[0]["timestamp"],
            "one timestamp per run"
        );
        assert!(
            seen.insert((op.clone(), bytes)),
            "{op} at {bytes} B reported twice"
        );
    }
    lines
}

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "spawns the aarch64 s3crypt binary, which the host cannot exec without binfmt_misc (CI \
              installs qemu-user without it); .ci/aarch64.sh runs `s3crypt bench --json` under qemu itself"
)]
fn bench_json_reports_every_operation_at_every_size() {
    let dir = tempfile::tempdir().expect("tmp");
    let dir_arg = dir.path().to_str().expect("UTF-8 temp path");
    let lines = bench(&["--file-mib", "1", "--dir", dir_arg]);
    let mut sizes: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    let mut file = BTreeMap::new();
    for v in &lines {
        let op = v["op"].as_str().expect("op").to_owned();
        let bytes = v["bytes"].as_u64().expect("bytes");
        if op.starts_with("file-") {
            assert_eq!(bytes, 1 << 20, "{op}: file size");
            let secs = v["seconds"].as_f64().expect("file rows carry seconds");
            let ratio = v["ratio_to_cp"]
                .as_f64()
                .expect("file rows carry ratio_to_cp");
            assert!(secs > 0.0 && secs.is_finite(), "{op}: seconds {secs}");
            assert!(ratio > 0.0 && ratio.is_finite(), "{op}: ratio {ratio}");
            file.insert(op, (secs, ratio));
        } else {
            assert!(v.get("ratio_to_cp").is_none(), "{op}: ratio_to_cp");
            sizes.entry(op).or_default().insert(bytes);
        }
    }
    for op in PRIMITIVES {
        assert_eq!(
            sizes.get(op).cloned().unwrap_or_default(),
            BTreeSet::from([1024, 16 * 1024, 64 * 1024, 1024 * 1024]),
            "{op}: sizes"
        );
    }
    for want in ["file-cp", "file-encrypt", "file-decrypt"] {
        assert!(file.contains_key(want), "{want} missing from {file:?}");
    }
    // The ratio is to cp in the same run: cp's own is exactly 1, the others are their seconds over cp's.
    let cp = file["file-cp"];
    assert_eq!(cp.1, 1.0, "file-cp ratio");
    for (op, (secs, ratio)) in &file {
        assert!(
            (ratio - secs / cp.0).abs() < 1e-6 * ratio.max(1.0),
            "{op}: ratio {ratio} is not {secs} / {}",
            cp.0
        );
    }
    // age is measured exactly when it is installed.
    let age = Command::new("age").arg("--version").output().is_ok()
        && Command::new("age-keygen").arg("--version").output().is_ok();
    assert_eq!(file.contains_key("file-age-encrypt"), age, "{file:?}");
    assert_eq!(file.contains_key("file-age-decrypt"), age, "{file:?}");
    // The bench cleans up after itself in the directory it was given.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "spawns the aarch64 s3crypt binary (see above)"
)]
fn kib_restricts_the_primitives_to_one_size() {
    let lines = bench(&["--kib", "4", "--file-mib", "0"]);
    let mut ops = BTreeSet::new();
    for v in &lines {
        let op = v["op"].as_str().expect("op");
        assert!(
            !op.starts_with("file-"),
            "--file-mib 0 skips the file paths"
        );
        if PRIMITIVES.contains(&op) {
            assert_eq!(v["bytes"].as_u64(), Some(4096), "{op}");
            ops.insert(op.to_owned());
        }
    }
    assert_eq!(ops.len(), PRIMITIVES.len(), "{ops:?}");
}

#[test]
fn bad_bench_arguments_are_refused() {
    for args in [&["--kib", "0"][..], &["--kib", "x"], &["--file-runs", "0"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_s3crypt"))
            .arg("bench")
            .args(args)
            .output()
            .expect("run s3crypt bench");
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("invalid value"),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
