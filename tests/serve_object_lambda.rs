//! S3 Object Lambda access points against `s3crypt serve` with an unmodified boto3 client (S3 Control's
//! `…ForObjectLambda` operations on `https://000000000000.localhost:PORT`, the data plane by alias and
//! by Object Lambda access point ARN, the plain HTTP listener and a VPC endpoint listener for the
//! refusals), driven by `tests/interop/object_lambda_boto3.py` (S3-FEATURES.md §3). One server for the
//! whole scenario, stopped by a drop guard, also on panic. No function is registered here, so
//! transformed requests that pass every check end at the Lambda runtime with 404 `LambdaNotFound`
//! (`tests/serve_object_lambda_functions.rs` runs real functions).

#[path = "support/common.rs"]
mod common;
#[path = "support/scenario.rs"]
mod scenario;

const ACCESS_KEY: &str = "AKIDS3OBJECTLAMBDA01";
const SECRET: &str = "s3-object-lambda-secret/for+tests";

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "interop tests spawn host processes (Python, servers); they run on the x86_64 legs"
)]
fn object_lambda_access_points_with_boto3() {
    let tmp = tempfile::tempdir().expect("tmp");
    let home = tmp.path().join("home");
    let server = scenario::serve_with(
        &home,
        tmp.path().join("serve.log"),
        ACCESS_KEY,
        SECRET,
        &["--vpc-endpoint", "vpce-0b1a2c3d=127.0.0.2:0"],
    );
    assert_eq!(server.vpc_endpoints.len(), 1, "{:?}", server.vpc_endpoints);
    let run = scenario::run_scenario("object_lambda_boto3.py", &server, &home, ACCESS_KEY, SECRET);
    let ran = run.passed();
    for area in ["control_", "data_", "security_"] {
        assert!(
            ran.iter().any(|s| s.starts_with(area)),
            "no {area}* step ran: {ran:?}"
        );
    }
    assert!(
        ran.contains(&"security_vpc_endpoint_refused"),
        "the VPC endpoint step ran: {ran:?}"
    );
    // Requests through an Object Lambda access point name it in the request log (audit), refused ones
    // too.
    let log = std::fs::read_to_string(&server.log).expect("server log");
    let through: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains(
                "\"access_point\":\"arn:aws:s3-object-lambda:us-east-1:000000000000:accesspoint/",
            )
        })
        .collect();
    assert!(
        through.len() >= 10,
        "requests through Object Lambda access points name them in the request log: {} lines",
        through.len()
    );
    assert!(
        through.iter().any(|l| l.contains("\"status\":403")),
        "refused requests are logged with the Object Lambda access point"
    );
}
