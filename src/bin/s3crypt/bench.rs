//! `s3crypt bench`: measures the primitives and the file paths on this machine, so x86 and ARM servers
//! can be compared. Prints GB/s, cycles per byte (from the CPU's nominal clock where the OS reports it)
//! and the implementation tier; `--json` prints one object per line, each with the s3crypt version, the
//! CPU model, the tier and the run's timestamp.
//!
//! The primitives run at 1 KiB, 16 KiB, 64 KiB and 1 MiB in one run (`--kib` picks one size). The file
//! paths encrypt and decrypt one file through the same library functions as `s3crypt encrypt` and
//! `s3crypt decrypt`, and in the same rounds, on the same file in the same directory, time the system
//! `cp` and, when `age` and `age-keygen` are on PATH, `age` to and from an X25519 identity, so each is
//! reported as a ratio to `cp` measured in the same run.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use s3crypt::envelope::{AesKeyring, CommitmentPolicy, Decryptor, Encryptor, Format, file};
use s3crypt::keys::KeyEncryptionKey;
use s3crypt::primitives::{Aes256Ctr, Aes256Gcm, BackendReport, Ghash};

/// The buffer sizes of the primitive measurements, in KiB.
const SIZES_KIB: [usize; 4] = [1, 16, 64, 1024];

/// Arguments of `s3crypt bench`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Measure the primitives at this one buffer size, in KiB (default: 1, 16, 64 and 1024).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    kib: Option<u64>,
    /// Size of the file for the file paths, in MiB (0 skips them).
    #[arg(long, default_value_t = 64)]
    file_mib: usize,
    /// Rounds of the file paths (each round runs cp, encrypt, decrypt and age once); medians are reported.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=101))]
    file_runs: u64,
    /// Directory for the file paths' files (default: a new temporary directory); for example /dev/shm
    /// to measure the file paths without a disk, or a directory on the disk that matters.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Seconds to spend per primitive measurement.
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
}

/// One result line.
struct Row {
    op: &'static str,
    tier: String,
    bytes: usize,
    threads: usize,
    bytes_per_sec: f64,
    /// File paths: the median seconds and the ratio to `cp` in the same run.
    file: Option<(f64, f64)>,
    /// GCM rows of the active tier: the share of the tier's stitched arithmetic ceiling reached.
    ceiling_ratio: Option<f64>,
}

/// Runs `f` repeatedly for about `secs` and returns bytes per second (median of 5 slices).
fn rate(bytes: usize, secs: f64, mut f: impl FnMut()) -> f64 {
    f();
    let slice = Duration::from_secs_f64((secs / 5.0).max(0.02));
    let mut rates = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < slice {
            f();
            n += 1;
        }
        rates.push(n as f64 * bytes as f64 / start.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    rates[2]
}

/// The nominal CPU clock in Hz, where the OS reports one (Linux x86 `cpu MHz`; ARM usually has none).
fn cpu_hz() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .find(|l| l.starts_with("cpu MHz"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|mhz| mhz * 1e6)
}

/// The CPU model from the text of `/proc/cpuinfo`: x86's `model name`, else the board or SoC name some
/// ARM kernels give (`Model`, `Hardware`), else ARM's implementer and part numbers, else `unknown`.
fn cpu_model(cpuinfo: &str) -> String {
    let field = |name: &str| {
        cpuinfo.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            let v = v.trim();
            (k.trim().eq_ignore_ascii_case(name) && !v.is_empty()).then(|| v.to_owned())
        })
    };
    if let Some(m) = field("model name").or_else(|| field("Model")) {
        return m;
    }
    match (field("CPU implementer"), field("CPU part")) {
        (Some(i), Some(p)) => format!("ARM implementer {i} part {p}"),
        _ => field("Hardware").unwrap_or_else(|| "unknown".to_owned()),
    }
}

pub(crate) fn run(a: &Args, json: bool) -> anyhow::Result<ExitCode> {
    let timestamp = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .context("formatting the timestamp")?;
    let cpu = cpu_model(&std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default());
    let report = BackendReport::current();
    let tier = |name: &str| {
        report
            .primitives
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t.clone())
            .unwrap_or_default()
    };
    let hz = cpu_hz();
    let threads = rayon::current_num_threads();
    let sizes: Vec<usize> = match a.kib {
        Some(k) => vec![usize::try_from(k)? * 1024],
        None => SIZES_KIB.iter().map(|k| k * 1024).collect(),
    };
    let mut rows = Vec::new();
    for &n in &sizes {
        primitives(n, a.seconds, &tier, &mut rows)?;
    }
    // What each tier's vector units allow with no memory traffic (AES alone, and AES stitched with the
    // GHASH multiplies): the real kernels can only approach it. The GCM rows of the active tier carry
    // their ratio to its stitched ceiling.
    let ceilings = s3crypt::primitives::KernelCeiling::per_tier(a.seconds / 2.0);
    let active = report.backend.name();
    if let Some(c) = ceilings.iter().find(|c| c.backend.name() == active) {
        for r in rows
            .iter_mut()
            .filter(|r| r.op == "gcm-seal" || r.op == "gcm-open")
        {
            r.ceiling_ratio = Some(r.bytes_per_sec / c.aes_ghash_bytes_per_sec);
        }
    }
    for c in &ceilings {
        let probe = format!("{} arithmetic only (no loads/stores)", c.backend.name());
        for (op, bps) in [
            ("ceiling-aes", c.aes_bytes_per_sec),
            ("ceiling-gcm", c.aes_ghash_bytes_per_sec),
        ] {
            rows.push(Row {
                op,
                tier: probe.clone(),
                bytes: c.batch_bytes,
                threads: 1,
                bytes_per_sec: bps,
                file: None,
                ceiling_ratio: None,
            });
        }
    }
    let dir = match &a.dir {
        Some(d) => tempfile::Builder::new()
            .prefix("s3crypt-bench-")
            .tempdir_in(d)
            .with_context(|| format!("creating a directory in {}", d.display()))?,
        None => tempfile::tempdir()?,
    };
    if a.file_mib > 0 {
        file_paths(
            dir.path(),
            a.file_mib << 20,
            a.file_runs,
            &tier("aes-256-gcm"),
            threads,
            &mut rows,
        )?;
    }

    let mut out = std::io::stdout().lock();
    if !json {
        writeln!(
            out,
            "s3crypt {} bench on {} ({cpu}, {threads} threads){}, {timestamp}",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::ARCH,
            hz.map_or(String::new(), |h| format!(
                ", nominal clock {:.2} GHz",
                h / 1e9
            ))
        )?;
        writeln!(
            out,
            "{:<17} {:>10} {:>8} {:>8} {:>10} {:>9} {:>6}  tier",
            "op", "bytes", "threads", "GB/s", "cycles/B", "seconds", "× cp"
        )?;
    }
    for r in rows {
        let gbps = r.bytes_per_sec / 1e9;
        let cpb = hz.map(|h| h / r.bytes_per_sec * r.threads as f64);
        if json {
            let mut line = serde_json::json!({
                "op": r.op, "tier": r.tier, "bytes": r.bytes, "threads": r.threads, "gbps": gbps,
                "cycles_per_byte": cpb, "arch": std::env::consts::ARCH,
                "version": env!("CARGO_PKG_VERSION"), "cpu_model": cpu, "timestamp": timestamp,
            });
            if let Some((secs, ratio)) = r.file {
                line["seconds"] = secs.into();
                line["ratio_to_cp"] = ratio.into();
            }
            if let Some(q) = r.ceiling_ratio {
                line["ratio_to_ceiling"] = q.into();
            }
            writeln!(out, "{line}")?;
        } else {
            let (secs, ratio) = r.file.map_or((String::new(), String::new()), |(s, q)| {
                (format!("{s:.3}"), format!("{q:.2}"))
            });
            writeln!(
                out,
                "{:<17} {:>10} {:>8} {gbps:>8.3} {:>10} {secs:>9} {ratio:>6}  {}",
                r.op,
                r.bytes,
                r.threads,
                cpb.map_or("n/a".into(), |c| format!("{c:.2}")),
                match r.ceiling_ratio {
                    Some(q) => format!("{} ({:.0}% of its ceiling)", r.tier, q * 100.0),
                    None => r.tier.clone(),
                }
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The primitives on buffers of `n` bytes.
fn primitives(
    n: usize,
    seconds: f64,
    tier: &dyn Fn(&str) -> String,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let mut buf = vec![0x5a_u8; n];
    let key = [7u8; 32];
    let gcm = Aes256Gcm::new(&key);
    let ctr = Aes256Ctr::new(&key);
    let mut row = |op, t: &str, bps| {
        rows.push(Row {
            op,
            tier: tier(t),
            bytes: n,
            threads: 1,
            bytes_per_sec: bps,
            file: None,
            ceiling_ratio: None,
        });
    };
    row(
        "gcm-seal",
        "aes-256-gcm",
        rate(n, seconds, || {
            let _ = gcm.seal_in_place_detached(&[1; 12], b"", &mut buf);
        }),
    );
    // Open without copying the ciphertext back each time: sealing `ct` under the same key and nonce
    // gives the plaintext back (CTR is an XOR) with a tag `back` over it, so opening alternates
    // ct → pt (with `tag`) and pt → ct (with `back`), each a full decryption of a valid message.
    let mut work = vec![0x5a_u8; n];
    let tag = gcm.seal_in_place_detached(&[1; 12], b"", &mut work)?;
    let back = gcm.seal_in_place_detached(&[1; 12], b"", &mut work.clone())?;
    let tags = [tag, back];
    let mut which = 0;
    let mut open_failed = false;
    row(
        "gcm-open",
        "aes-256-gcm",
        rate(n, seconds, || {
            open_failed |= gcm
                .open_in_place_detached(&[1; 12], b"", &mut work, &tags[which])
                .is_err();
            which ^= 1;
        }),
    );
    anyhow::ensure!(!open_failed, "gcm-open: a benchmark message failed to open");
    row(
        "ctr",
        "aes-256-ctr",
        rate(n, seconds, || ctr.apply_keystream(&[0; 16], 0, &mut buf)),
    );
    row(
        "ghash",
        "ghash",
        rate(n, seconds, || {
            let mut g = Ghash::new(&[3; 16]);
            g.update_padded(&buf);
            let _ = g.finalize();
        }),
    );
    Ok(())
}

/// Seconds taken by `f`.
fn timed(f: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let t = Instant::now();
    f()?;
    Ok(t.elapsed().as_secs_f64())
}

/// Runs a spawned program to completion, failing with its stderr if it fails.
fn spawn(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    anyhow::ensure!(
        out.status.success(),
        "{:?} failed: {}",
        cmd.get_program(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

/// Whether `program` can be run (it is on PATH and answers `--version`).
fn available(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Writes `size` bytes of a cheap pseudo-random pattern to `path`, 1 MiB at a time.
fn write_input(path: &Path, size: usize) -> anyhow::Result<()> {
    let mut f = std::fs::File::create(path)?;
    let mut block = vec![0u8; 1 << 20];
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    for chunk in block.chunks_exact_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes());
    }
    let mut left = size;
    while left > 0 {
        let n = left.min(block.len());
        f.write_all(&block[..n])?;
        block.rotate_left(8);
        left -= n;
    }
    Ok(())
}

/// The median of `times` (sorted in place).
fn median(times: &mut [f64]) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// The file paths: `cp`, s3crypt encrypt and decrypt (the library functions of `s3crypt encrypt` and
/// `s3crypt decrypt`) and, if installed, `age`, on one file of `size` bytes in `dir`, round by round so
/// that background noise affects each alike. Each is reported with its median and its ratio to `cp`'s.
fn file_paths(
    dir: &Path,
    size: usize,
    runs: u64,
    tier: &str,
    threads: usize,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let input = dir.join("in");
    write_input(&input, size)?;
    let kr = AesKeyring::new(KeyEncryptionKey::from_bytes([9; 32]), Default::default());
    let (copied, enc_path, dec_path) = (dir.join("cp"), dir.join("in.s3ec"), dir.join("out"));
    let age = available("age") && available("age-keygen");
    let recipient = if age {
        let id = dir.join("age-identity");
        spawn(Command::new("age-keygen").arg("-o").arg(&id))?;
        let out = Command::new("age-keygen").arg("-y").arg(&id).output()?;
        anyhow::ensure!(out.status.success(), "age-keygen -y failed");
        Some((String::from_utf8(out.stdout)?.trim().to_owned(), id))
    } else {
        None
    };
    let (age_enc, age_dec) = (dir.join("in.age"), dir.join("out.age"));
    let mut t: [Vec<f64>; 5] = Default::default();
    for _ in 0..runs {
        // Every command creates its output anew (none pays for freeing the previous round's file).
        for p in [&copied, &enc_path, &dec_path, &age_enc, &age_dec] {
            let _ = std::fs::remove_file(p);
        }
        t[0].push(timed(|| {
            spawn(Command::new("cp").arg(&input).arg(&copied))
        })?);
        t[1].push(timed(|| {
            let e = Encryptor::new(
                &kr,
                Format::V3,
                &Default::default(),
                CommitmentPolicy::default(),
            )?;
            file::encrypt_file(e, &mut std::fs::File::open(&input)?, &enc_path, false, None)?;
            Ok(())
        })?);
        t[2].push(timed(|| {
            let md = file::read_metadata(&enc_path)?;
            let d = Decryptor::new(&kr, &md, CommitmentPolicy::default(), None)?;
            file::decrypt_file(&d, &mut std::fs::File::open(&enc_path)?, &dec_path)?;
            Ok(())
        })?);
        if let Some((r, id)) = &recipient {
            t[3].push(timed(|| {
                spawn(
                    Command::new("age")
                        .arg("-r")
                        .arg(r)
                        .arg("-o")
                        .arg(&age_enc)
                        .arg(&input),
                )
            })?);
            t[4].push(timed(|| {
                spawn(
                    Command::new("age")
                        .arg("-d")
                        .arg("-i")
                        .arg(id)
                        .arg("-o")
                        .arg(&age_dec)
                        .arg(&age_enc),
                )
            })?);
        }
    }
    anyhow::ensure!(
        same_content(&input, &dec_path)?,
        "file-decrypt: the decrypted file differs from the input"
    );
    let cp = median(&mut t[0]);
    let ops: [(&'static str, &str); 5] = [
        ("file-cp", "cp"),
        ("file-encrypt", tier),
        ("file-decrypt", tier),
        ("file-age-encrypt", "age (X25519)"),
        ("file-age-decrypt", "age (X25519)"),
    ];
    for ((op, tier), times) in ops.into_iter().zip(&mut t) {
        if times.is_empty() {
            continue;
        }
        let secs = median(times);
        let threads = if op.starts_with("file-age") || op == "file-cp" {
            1
        } else {
            threads
        };
        rows.push(Row {
            op,
            tier: tier.to_owned(),
            bytes: size,
            threads,
            bytes_per_sec: size as f64 / secs,
            file: Some((secs, secs / cp)),
            ceiling_ratio: None,
        });
    }
    Ok(())
}

/// Whether two files hold the same bytes.
fn same_content(a: &Path, b: &Path) -> anyhow::Result<bool> {
    let (mut fa, mut fb) = (std::fs::File::open(a)?, std::fs::File::open(b)?);
    if fa.metadata()?.len() != fb.metadata()?.len() {
        return Ok(false);
    }
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = fa.read(&mut ba)?;
        if n == 0 {
            return Ok(true);
        }
        fb.read_exact(&mut bb[..n])?;
        if ba[..n] != bb[..n] {
            return Ok(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_model_is_read_from_x86_and_arm_cpuinfo() {
        let x86 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7R13 Processor\ncpu MHz\t\t: 2650.000\n";
        assert_eq!(cpu_model(x86), "AMD EPYC 7R13 Processor");
        let arm =
            "processor\t: 0\nBogoMIPS\t: 243.75\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\n";
        assert_eq!(cpu_model(arm), "ARM implementer 0x41 part 0xd0c");
        let pi = "CPU implementer\t: 0x41\nCPU part\t: 0xd08\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n";
        assert_eq!(cpu_model(pi), "Raspberry Pi 4 Model B Rev 1.4");
        assert_eq!(cpu_model("model name\t:\n"), "unknown");
        assert_eq!(cpu_model(""), "unknown");
    }
}
