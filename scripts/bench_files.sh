#!/usr/bin/env bash
# File paths at disk speed: `s3crypt encrypt` / `s3crypt decrypt` of one large file against `cp` of the
# same file, in the same run, in the same directory, on one core (`taskset -c 0`) and on all cores.
# With `age` on PATH the same file is also encrypted to, and decrypted with, a fresh X25519 identity.
# Prints a Markdown table of medians (seconds) and ratios to cp.
#
# Usage: scripts/bench_files.sh [--size-mib N] [--runs N] [--dir DIR] [--bin PATH] [--install-age]
#   --size-mib N    file size in MiB (default 1024)
#   --runs N        runs per command and core setting; the median is reported (default 5)
#   --dir DIR       where the files live (default /dev/shm: the file paths, not a disk, are measured)
#   --bin PATH      the s3crypt binary (default target/release/s3crypt, built if missing)
#   --install-age   if `age` is missing, run `apt-get install -y age` (nothing is installed otherwise)
set -euo pipefail

size_mib=1024
runs=5
dir=/dev/shm
bin=""
install_age=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --size-mib) size_mib="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --dir) dir="$2"; shift 2 ;;
        --bin) bin="$2"; shift 2 ;;
        --install-age) install_age=1; shift ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$size_mib" =~ ^[1-9][0-9]*$ ]] || { echo "--size-mib must be a positive integer" >&2; exit 2; }
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "--runs must be a positive integer" >&2; exit 2; }

root="$(cd "$(dirname "$0")/.." && pwd)"
if [[ -z "$bin" ]]; then
    bin="$root/target/release/s3crypt"
    if [[ ! -x "$bin" ]]; then
        echo "building $bin (cargo build --release --no-default-features --features cli,server)" >&2
        (cd "$root" && cargo build --release --no-default-features --features cli,server --bin s3crypt >&2)
    fi
fi
[[ -x "$bin" ]] || { echo "no s3crypt binary at $bin" >&2; exit 1; }

if ! command -v age >/dev/null || ! command -v age-keygen >/dev/null; then
    if [[ $install_age == 1 ]]; then
        echo "installing age: apt-get install -y age" >&2
        apt-get install -y age >&2
    else
        echo "age not found: its columns are skipped (pass --install-age to apt-get install it)" >&2
    fi
fi
have_age=0
command -v age >/dev/null && command -v age-keygen >/dev/null && have_age=1

work="$(mktemp -d "$dir/s3crypt-bench-files.XXXXXX")"
trap 'rm -rf "$work"' EXIT
in="$work/in"
echo "writing a ${size_mib} MiB random file to $in" >&2
head -c "$((size_mib << 20))" /dev/urandom >"$in"
"$bin" gen-key "$work/key" 2>/dev/null
export S3CRYPT_HOME="$work/home"
if [[ $have_age == 1 ]]; then
    age-keygen -o "$work/age-id" 2>/dev/null
    recipient="$(age-keygen -y "$work/age-id")"
fi

# Seconds taken by a command, to the millisecond.
secs() {
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

declare -A med
for cores in 1 all; do
    if [[ $cores == 1 ]]; then pin=(taskset -c 0); else pin=(); fi
    declare -A t=()
    for ((i = 0; i < runs; i++)); do
        # One round runs every command once, so background noise spreads over all of them alike.
        # Every command creates its output anew (none pays for freeing the previous round's file).
        rm -f "$work/cp-out" "$work/enc" "$work/enc.metadata.json"
        t[cp]+="$(secs "${pin[@]}" cp "$in" "$work/cp-out") "
        t[enc]+="$(secs "${pin[@]}" "$bin" encrypt --wrapping-key "$work/key" "$in" "$work/enc") "
        t[dec]+="$(secs "${pin[@]}" "$bin" decrypt --wrapping-key "$work/key" "$work/enc" "$work/dec") "
        cmp -s "$in" "$work/dec" || { echo "s3crypt round trip differs" >&2; exit 1; }
        rm -f "$work/dec"
        if [[ $have_age == 1 ]]; then
            t[age_enc]+="$(secs "${pin[@]}" age -r "$recipient" -o "$work/enc.age" "$in") "
            t[age_dec]+="$(secs "${pin[@]}" age -d -i "$work/age-id" -o "$work/dec.age" "$work/enc.age") "
            cmp -s "$in" "$work/dec.age" || { echo "age round trip differs" >&2; exit 1; }
            rm -f "$work/dec.age" "$work/enc.age"
        fi
    done
    for k in "${!t[@]}"; do
        med[$cores,$k]="$(tr ' ' '\n' <<<"${t[$k]}" | grep . | median)"
    done
    unset t
done

cpu="$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)"
echo
echo "${size_mib} MiB file in $dir, median of $runs runs, seconds (ratio to cp in the same run)."
echo "CPU: ${cpu:-unknown}, $(nproc) cores; $("$bin" --version 2>/dev/null || echo s3crypt); $(cp --version | head -1)$([[ $have_age == 1 ]] && echo "; age $(age --version)")"
echo
if [[ $have_age == 1 ]]; then
    echo "| cores | cp | s3crypt encrypt | s3crypt decrypt | age encrypt | age decrypt |"
    echo "|---|---|---|---|---|---|"
else
    echo "| cores | cp | s3crypt encrypt | s3crypt decrypt |"
    echo "|---|---|---|---|"
fi
for cores in 1 all; do
    c="${med[$cores,cp]}"
    label=$([[ $cores == 1 ]] && echo "1 (taskset -c 0)" || echo "all ($(nproc))")
    row="| $label | $c | ${med[$cores,enc]} ($(ratio "${med[$cores,enc]}" "$c")×) | ${med[$cores,dec]} ($(ratio "${med[$cores,dec]}" "$c")×) |"
    if [[ $have_age == 1 ]]; then
        row+=" ${med[$cores,age_enc]} ($(ratio "${med[$cores,age_enc]}" "$c")×) | ${med[$cores,age_dec]} ($(ratio "${med[$cores,age_dec]}" "$c")×) |"
    fi
    echo "$row"
done
