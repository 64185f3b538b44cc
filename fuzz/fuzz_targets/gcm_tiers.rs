//! Fuzz target `gcm_tiers`: every kernel tier must agree with the RustCrypto backend on GCM seal/open
//! (in place, out of place, unaligned, tampered), CTR at any offset and GHASH. Body shared with
//! tests/fuzz_smoke.rs.
#![no_main]

#[path = "../../tests/support/fuzz_bodies.rs"]
mod fuzz_bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_bodies::gcm_tiers(data));
