#!/usr/bin/env bash
# .ci/aarch64.sh: build the crate for aarch64-unknown-linux-gnu and run its crypto and format suites (.ci/crypto-tests.sh)
# under qemu-user, in two legs:
#   1. hardware path: qemu-aarch64 -cpu max (ARMv8 AES + PMULL + SHA2 present, detected at run time)
#   2. software path: RustCrypto backends forced to software at build time
#      (--cfg aes_backend="soft" --cfg polyval_backend="soft"). No qemu CPU model lacks AES/PMULL
#      (checked with qemu 7.2 and all its aarch64 models), so a CPU switch alone can't force this leg.
#
# Run it:    bash ci-aarch64.sh [extra cargo test args, e.g. --locked]
# Source it: . ci-aarch64.sh; aarch64_install && aarch64_leg hardware max && ...
#            (sourcing only defines functions and variables; it changes no shell options)
#
# Knobs (environment):
#   AARCH64_HW_CPU      qemu CPU model for the hardware leg        (default: max)
#   AARCH64_SOFT_CPU    qemu CPU model for the software leg        (default: cortex-a53, plain ARMv8.0)
#   AARCH64_OPT_LEVEL   if set, exported as CARGO_PROFILE_DEV_OPT_LEVEL for both legs; code that
#                       is generic in RustCrypto is compiled in *your* crate at the dev opt-level, and
#                       under qemu opt-level 1 gives ~1 MiB/s AES-GCM (hw) / 0.4 MiB/s (soft) vs
#                       ~22 / ~30 MiB/s at opt-level 3.
#   AARCH64_FORCE_INSTALL=1  run apt-get even if the tools are already there.

AARCH64_TARGET=aarch64-unknown-linux-gnu
AARCH64_SYSROOT=/usr/aarch64-linux-gnu
AARCH64_SOFT_CFG='--cfg aes_backend="soft" --cfg polyval_backend="soft" --cfg sha2_backend="soft"'
AARCH64_APT_PACKAGES=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
# The emulated legs build without the `s3-client` feature (aws-sdk-s3: a large tree, network plumbing
# with nothing architecture-specific; its tests run on the x86_64 legs).
AARCH64_FEATURES=(--no-default-features --features cli,server)
# The suites the legs run (clippy still checks every target).
# shellcheck source=.ci/crypto-tests.sh
. "$(dirname "${BASH_SOURCE[0]}")/crypto-tests.sh"

aarch64_banner() {
    printf '\n==================== %s ====================\n' "$*"
}

# Install the cross linker, the aarch64 glibc (headers, crt files, ld-linux-aarch64.so.1) and
# qemu-user, and the rustup target. Idempotent: does nothing when everything is present.
aarch64_install() {
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
            echo "aarch64: not root and no sudo: cannot apt-get install" >&2; return 1
        fi
    fi
    if [ "${AARCH64_FORCE_INSTALL:-0}" = 1 ] ||
        ! command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 ||
        ! command -v qemu-aarch64 >/dev/null 2>&1 ||
        [ ! -e "$AARCH64_SYSROOT/lib/crt1.o" ] ||
        [ ! -e "$AARCH64_SYSROOT/lib/ld-linux-aarch64.so.1" ]; then
        aarch64_banner "aarch64: apt-get install ${AARCH64_APT_PACKAGES[*]}"
        local t0=$SECONDS
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
        # --no-install-recommends: otherwise qemu-user pulls qemu-user-binfmt (binfmt_misc
        # registration, not needed: cargo's runner calls qemu-aarch64 explicitly). Note that
        # libc6-dev-arm64-cross must be named: gcc-aarch64-linux-gnu only *recommends* it, and
        # without it there is no crt1.o / libc.so for the linker to find.
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${AARCH64_APT_PACKAGES[@]}" >/dev/null || return 1
        echo "aarch64: apt install took $((SECONDS - t0)) s"
    else
        echo "aarch64: cross gcc, aarch64 libc and qemu-aarch64 already installed"
    fi
    if rustup target list --installed | grep -qx "$AARCH64_TARGET"; then
        echo "aarch64: rustup target $AARCH64_TARGET already installed"
    else
        aarch64_banner "aarch64: rustup target add $AARCH64_TARGET"
        rustup target add "$AARCH64_TARGET" || return 1
    fi
    aarch64-linux-gnu-gcc --version | head -n1
    qemu-aarch64 --version | head -n1
}

# aarch64_leg NAME CPU [soft|""] [-- extra cargo test args]
# Runs `cargo test --target aarch64-unknown-linux-gnu` with the runner
# `qemu-aarch64 -cpu CPU -L /usr/aarch64-linux-gnu` (set through the environment, so it overrides
# .cargo/config.toml without editing it). With "soft", forces the software AES/POLYVAL backends.
# Sets AARCH64_LAST_PASSED to the number of tests that passed (all "test result: ok. N passed"
# lines, doctests included). Returns cargo's exit status.
aarch64_leg() {
    local name=$1 cpu=$2 soft=""
    shift 2
    if [ "${1:-}" = soft ]; then soft=1; shift; elif [ $# -gt 0 ] && [ -z "$1" ]; then shift; fi
    if [ "${1:-}" = "--" ]; then shift; fi
    local log rc
    log=$(mktemp "${TMPDIR:-/tmp}/aarch64-${name}.XXXXXX.log")
    aarch64_banner "aarch64 $name leg: qemu-aarch64 -cpu $cpu${soft:+, software backends (cfg)}"
    (
        export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
        export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -cpu $cpu -L $AARCH64_SYSROOT"
        if [ -n "${AARCH64_OPT_LEVEL:-}" ]; then export CARGO_PROFILE_DEV_OPT_LEVEL=$AARCH64_OPT_LEVEL; fi
        if [ -n "$soft" ]; then
            # RUSTFLAGS, when set, wins over target.<triple>.rustflags (cargo uses the first of
            # CARGO_ENCODED_RUSTFLAGS, RUSTFLAGS, target rustflags, build.rustflags), so add the
            # cfgs to whichever one cargo will actually read.
            if [ -n "${CARGO_ENCODED_RUSTFLAGS:-}" ]; then
                export CARGO_ENCODED_RUSTFLAGS="${CARGO_ENCODED_RUSTFLAGS}"$'\x1f--cfg\x1faes_backend="soft"\x1f--cfg\x1fpolyval_backend="soft"\x1f--cfg\x1fsha2_backend="soft"'
            elif [ -n "${RUSTFLAGS:-}" ]; then
                export RUSTFLAGS="$RUSTFLAGS $AARCH64_SOFT_CFG"
            else
                export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS="${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS:+$CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS }$AARCH64_SOFT_CFG"
            fi
        fi
        export AARCH64_LEG=$name   # tests may read this to assert which path they are on
        nice -n 10 cargo test --target "$AARCH64_TARGET" "$@" 2>&1
    ) | tee "$log"
    rc=${PIPESTATUS[0]}
    AARCH64_LAST_PASSED=$(grep -Eo 'test result: ok\. [0-9]+ passed' "$log" |
        awk '{s += $4} END {print s + 0}')
    rm -f "$log"
    if [ "$rc" -eq 0 ]; then
        echo "==> aarch64 $name leg: OK, $AARCH64_LAST_PASSED tests passed (qemu -cpu $cpu)"
    else
        echo "==> aarch64 $name leg: FAILED (cargo exit $rc; $AARCH64_LAST_PASSED tests passed before that)"
    fi
    return "$rc"
}

aarch64_ci() {
    local t0=$SECONDS hw sw
    # The generic RustCrypto code is compiled in s3crypt at the dev opt-level; at opt-level 1 emulated
    # AES-GCM runs at ~1 MiB/s, at 3 at ~22 MiB/s. Optimise the emulated legs.
    export AARCH64_OPT_LEVEL=${AARCH64_OPT_LEVEL:-3}
    aarch64_install || return 1
    aarch64_banner "aarch64: clippy (x86-only code must compile out cleanly)"
    nice -n 10 cargo clippy --target "$AARCH64_TARGET" "${AARCH64_FEATURES[@]}" --all-targets -- -D warnings || return 1
    # The hardware leg builds with the CLI's features (the same build then runs `s3crypt cpu` and
    # `s3crypt bench`); the software leg without any.
    aarch64_leg hardware "${AARCH64_HW_CPU:-max}" "" -- "${AARCH64_FEATURES[@]}" "${CRYPTO_TESTS[@]}" "$@" || return 1
    hw=$AARCH64_LAST_PASSED
    aarch64_banner "aarch64: s3crypt cpu and s3crypt bench --json under qemu (emulated timings are not performance figures)"
    (
        export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -cpu ${AARCH64_HW_CPU:-max} -L $AARCH64_SYSROOT"
        if [ -n "${AARCH64_OPT_LEVEL:-}" ]; then export CARGO_PROFILE_DEV_OPT_LEVEL=$AARCH64_OPT_LEVEL; fi
        nice -n 10 cargo run --quiet --target "$AARCH64_TARGET" "${AARCH64_FEATURES[@]}" -- cpu &&
            nice -n 10 cargo run --quiet --target "$AARCH64_TARGET" "${AARCH64_FEATURES[@]}" -- bench --json --seconds 0.2 --kib 16 --file-mib 2
    ) || return 1
    aarch64_leg software "${AARCH64_SOFT_CPU:-cortex-a53}" soft -- --no-default-features "${CRYPTO_TESTS[@]}" "$@" || return 1
    sw=$AARCH64_LAST_PASSED
    aarch64_banner "aarch64 done in $((SECONDS - t0)) s: hardware leg $hw tests, software leg $sw tests"
    if [ "$hw" -eq 0 ] || [ "$sw" -eq 0 ]; then
        echo "aarch64: a leg ran no test" >&2; return 1
    fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -uo pipefail
    aarch64_ci "$@"
fi
