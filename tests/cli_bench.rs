//! `s3crypt bench --json`: one JSON object per line, with every operation users compare machines by.

use std::collections::BTreeSet;
use std::process::Command;

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "spawns the aarch64 s3crypt binary, which the host cannot exec without binfmt_misc (CI \
              installs qemu-user without it); .ci/aarch64.sh runs `s3crypt bench --json` under qemu itself"
)]
fn bench_json_reports_every_operation() {
    let out = Command::new(env!("CARGO_BIN_EXE_s3crypt"))
        .args(["bench", "--json", "--seconds", "0.05", "--kib", "4"])
        .args(["--file-mib", "1"])
        .output()
        .expect("run s3crypt bench");
    assert!(
        out.status.success(),
        "s3crypt bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8 output");
    let mut ops = BTreeSet::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
        let op = v["op"].as_str().expect("op is a string").to_owned();
        let gbps = v["gbps"].as_f64().expect("gbps is a number");
        assert!(gbps.is_finite() && gbps > 0.0, "{op}: gbps {gbps}");
        assert!(v["bytes"].as_u64().is_some_and(|b| b > 0), "{op}: bytes");
        assert!(
            v["threads"].as_u64().is_some_and(|t| t >= 1),
            "{op}: threads"
        );
        assert!(
            v["tier"].as_str().is_some_and(|t| !t.is_empty()),
            "{op}: tier"
        );
        assert_eq!(v["arch"].as_str(), Some(std::env::consts::ARCH));
        if op.starts_with("file-") {
            assert_eq!(v["bytes"].as_u64(), Some(1 << 20), "{op}: file size");
        }
        assert!(ops.insert(op.clone()), "{op} reported twice");
    }
    for want in [
        "gcm-seal",
        "gcm-open",
        "ctr",
        "ghash",
        "file-encrypt",
        "file-decrypt",
    ] {
        assert!(ops.contains(want), "{want} missing from {ops:?}");
    }
}
