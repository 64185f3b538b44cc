# The suites that exercise the crypto core and the formats built on it: what a different kernel tier, a
# forced software backend or another architecture can change. Sourced by .ci/run (step 4) and
# .ci/aarch64.sh (both emulated legs). Every one builds without features (`--no-default-features`);
# server, CLI and interop suites are architecture-independent and run in .ci/run's step 3.
# shellcheck disable=SC2034
CRYPTO_TESTS=(
    --lib
    --test vectors --test differential --test fuzz_smoke
    --test envelope --test envelope_v1
    --test sse_engine --test sse_multipart --test sse_versioning --test store_local
    --test aws_chunked --test sigv4 --test presign
)
