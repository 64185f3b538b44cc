//! Fuzz target `chunked_open`: arbitrary bytes must give an error, never a panic. Body shared with
//! tests/fuzz_smoke.rs.
#![no_main]

#[path = "../../tests/support/fuzz_bodies.rs"]
mod fuzz_bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_bodies::chunked_open(data));
