//! Embed the SSE engine: S3's server-side encryption (here SSE-S3) over a local directory store, without
//! an HTTP server. `s3crypt serve` puts the same engine behind the S3 API.
//!
//! Runs offline: the store is a temporary directory and SSE-KMS would use the in-process `MockKms`.
//!
//! ```text
//! cargo run --example sse_engine
//! ```

use std::sync::Arc;

use s3crypt::iam::{Principal, RequestContext};
use s3crypt::kms::MockKms;
use s3crypt::sse::engine::SseEngine;
use s3crypt::sse::headers::Headers;

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let home = tempfile::tempdir()?;
    let engine = SseEngine::new(home.path(), Arc::new(MockKms::in_memory()))?;
    // Every call carries the caller (for bucket policies and ownership) and whether it came over TLS.
    let caller =
        RequestContext::signed_by(Principal::root("000000000000", "AKIAEXAMPLE")).with_tls(true);
    engine.create_bucket(&caller, "reports", None)?;

    // PutObject with SSE-S3.
    let body = b"quarterly figures\n".repeat(50_000);
    let sse_s3 = Headers::new([(
        "x-amz-server-side-encryption".to_owned(),
        "AES256".to_owned(),
    )]);
    let put = engine.put_object(&caller, "reports", "q3.txt", &sse_s3, &mut &body[..])?;
    assert_eq!(
        header(&put.headers, "x-amz-server-side-encryption"),
        Some("AES256")
    );

    // The plaintext is nowhere on disk.
    let needle = b"quarterly figures";
    let mut stack = vec![home.path().to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path)?;
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle),
                    "plaintext found in {}",
                    path.display()
                );
            }
        }
    }

    // GetObject (whole, then a range) decrypts it.
    let mut out = Vec::new();
    let get = engine.get_object(
        &caller,
        "reports",
        "q3.txt",
        &Headers::new([]),
        None,
        &mut out,
    )?;
    assert_eq!(out, body);
    assert_eq!(get.status, 200);
    let mut part = Vec::new();
    let ranged = engine.get_object(
        &caller,
        "reports",
        "q3.txt",
        &Headers::new([]),
        Some("bytes=100-199".parse()?),
        &mut part,
    )?;
    assert_eq!((ranged.status, &part[..]), (206, &body[100..200]));
    println!(
        "stored {} bytes with SSE-S3 ({}), read back whole and bytes=100-199",
        body.len(),
        header(&get.headers, "x-amz-server-side-encryption").unwrap_or("?")
    );
    Ok(())
}
