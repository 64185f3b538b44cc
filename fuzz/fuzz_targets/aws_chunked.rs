//! Fuzz target `aws_chunked`: arbitrary bytes as an `aws-chunked` body and as a presigned-URL query must
//! give an error, never a panic. Body shared with tests/fuzz_smoke.rs.
#![no_main]

#[path = "../../tests/fuzz_bodies/mod.rs"]
mod fuzz_bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_bodies::aws_chunked(data));
