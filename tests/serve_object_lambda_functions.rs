//! S3 Object Lambda with real functions: `s3crypt serve` runs Python handlers with AWS's own runtime
//! interface client (`awslambdaric`, from the venv), and unmodified boto3, aws-cli and the handlers'
//! own boto3 (`write_get_object_response`) talk to it. Driven by
//! `tests/interop/object_lambda_functions_boto3.py`; handlers in `tests/object_lambda/` and
//! `examples/object_lambda/`. One server for the whole scenario. With `S3CRYPT_OLAP_BENCH=N` the
//! scenario also prints the latency an Object Lambda GET of 1 MiB adds over a direct GET.

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
fn object_lambda_functions_with_awslambdaric_boto3_and_aws_cli() {
    let tmp = tempfile::tempdir().expect("tmp");
    let home = tmp.path().join("home");
    let python = common::python();
    let server = scenario::serve_with(
        &home,
        tmp.path().join("serve.log"),
        ACCESS_KEY,
        SECRET,
        &[
            "--lambda-python",
            python.to_str().expect("utf-8 venv path"),
            "--access-log-interval",
            "1",
        ],
    );
    let run = scenario::run_scenario(
        "object_lambda_functions_boto3.py",
        &server,
        &home,
        ACCESS_KEY,
        SECRET,
    );
    let ran = run.passed();
    for step in [
        "get_transformed_sse_s3_by_alias_and_arn",
        "get_head_list_transformed_sse_s3_and_sse_kms",
        "function_silent_error_crash_timeout_surface_as_errors",
        "example_s3ec_reencrypt_for_the_caller",
        "audit_server_access_log_names_the_object_lambda_access_point",
    ] {
        assert!(ran.contains(&step), "{step} did not pass: {ran:?}");
    }
    // Every invocation is audited with the Object Lambda access point's ARN and the function's output.
    let log = std::fs::read_to_string(&server.log).expect("server log");
    let invocations = log
        .lines()
        .filter(|l| {
            l.contains("invocation ended")
                && l.contains("arn:aws:s3-object-lambda:us-east-1:000000000000:accesspoint/")
        })
        .count();
    assert!(invocations >= 10, "{invocations} audited invocations");
    // A handler printed its event: the inputS3Url in the logged output has no usable token or
    // signature.
    let printed: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("invocation ended") && l.contains("X-Amz-Security-Token="))
        .collect();
    assert!(!printed.is_empty(), "the `tell` handler's output is logged");
    for line in printed {
        assert!(
            line.contains("X-Amz-Security-Token=[REDACTED]")
                && line.contains("X-Amz-Signature=[REDACTED]"),
            "a caller session token or signature reached the log"
        );
    }
}
