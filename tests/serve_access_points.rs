//! Access points against `s3crypt serve` with an unmodified boto3 client (S3 Control on
//! `https://000000000000.localhost:PORT`, the data plane by alias and by access point ARN, the plain
//! HTTP listener for the HTTPS-only refusal), driven by `tests/interop/access_points_boto3.py`
//! (S3-FEATURES.md §2 and §11). One server for the whole scenario: started once from the built binary
//! with a temporary home and `--json`, stopped (SIGTERM, then SIGKILL) by a drop guard, also on panic.
//! The scenario also runs `s3crypt --home HOME iam create-user` on the server's home while it runs.

#[path = "support/common.rs"]
mod common;
#[path = "support/scenario.rs"]
mod scenario;

const ACCESS_KEY: &str = "AKIDS3ACCESSPOINTS01";
const SECRET: &str = "s3-access-points-secret/for+tests";

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "interop tests spawn host processes (Python, servers); they run on the x86_64 legs"
)]
fn access_points_control_plane_and_data_plane_with_boto3() {
    let tmp = tempfile::tempdir().expect("tmp");
    let home = tmp.path().join("home");
    // Two VPC endpoints: vpce-1a2b3c4d in vpc-1a2b3c4d, and vpce-0e0f in another VPC.
    let server = scenario::serve_with(
        &home,
        tmp.path().join("serve.log"),
        ACCESS_KEY,
        SECRET,
        &[
            "--vpc-endpoint",
            "vpce-1a2b3c4d=127.0.0.2:0",
            "--vpc-endpoint",
            "vpce-0e0f=127.0.0.3:0,vpc=vpc-other",
        ],
    );
    assert_eq!(server.vpc_endpoints.len(), 2, "{:?}", server.vpc_endpoints);
    // Also checks that no secret the scenario used (the root's secret, IAM users' secrets) appears in
    // the server's request log.
    let run = scenario::run_scenario("access_points_boto3.py", &server, &home, ACCESS_KEY, SECRET);
    let ran = run.passed();
    // Each of the three areas ran at least one step.
    for area in ["control_", "policy_", "transport_", "vpc_"] {
        assert!(
            ran.iter().any(|s| s.starts_with(area)),
            "no {area}* step ran: {ran:?}"
        );
    }
    // Every request through an access point is logged with the access point's ARN (audit).
    let log = std::fs::read_to_string(&server.log).expect("server log");
    let through: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("\"access_point\":\"arn:aws:s3:us-east-1:000000000000:accesspoint/"))
        .collect();
    assert!(
        through.len() >= 10,
        "requests through access points name them in the request log: {} lines",
        through.len()
    );
    assert!(
        through.iter().any(|l| l.contains("\"status\":403")),
        "refused requests through access points are logged too"
    );
}
