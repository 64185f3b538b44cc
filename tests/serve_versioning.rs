//! Versioning, MFA Delete and Object Lock against `s3crypt serve` with an unmodified boto3 client
//! (HTTPS verifying the local CA; the plain HTTP listener for the MFA-over-HTTP refusal), driven by
//! `tests/interop/versioning_boto3.py` (S3-FEATURES.md §4, §5, §6). One server for the whole scenario:
//! started once from the built binary with a temporary home and `--json`, stopped (SIGTERM, then
//! SIGKILL) by a drop guard, also on panic. The scenario also runs `s3crypt --home HOME` CLI commands
//! (IAM users, MFA devices, SSE-S3 root rotation and reseal) on the server's home while it runs.

#[path = "support/common.rs"]
mod common;
#[path = "support/scenario.rs"]
mod scenario;

const ACCESS_KEY: &str = "AKIDS3VERSIONING0001";
const SECRET: &str = "s3-versioning-secret/for+tests";

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "interop tests spawn host processes (Python, servers); they run on the x86_64 legs"
)]
fn versioning_mfa_delete_object_lock_with_boto3() {
    let tmp = tempfile::tempdir().expect("tmp");
    let home = tmp.path().join("home");
    let server = scenario::serve(&home, tmp.path().join("serve.log"), ACCESS_KEY, SECRET);
    // Also checks that no secret the scenario used (the root's secret, IAM users' secrets, SSE-C keys,
    // MFA seeds) appears in the server's request log.
    let run = scenario::run_scenario("versioning_boto3.py", &server, &home, ACCESS_KEY, SECRET);
    let ran = run.passed();
    // Each of the four areas ran at least one step.
    for area in ["versioning_", "encryption_", "mfa_delete_", "object_lock_"] {
        assert!(
            ran.iter().any(|s| s.starts_with(area)),
            "no {area}* step ran: {ran:?}"
        );
    }
}
