//! `s3crypt bench`: measures the primitives and the file paths on this machine, so x86 and ARM servers
//! can be compared. Prints GB/s, cycles per byte (from the CPU's nominal clock where the OS reports it)
//! and the implementation tier; `--json` prints one object per line.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use s3crypt::envelope::{AesKeyring, CommitmentPolicy, Decryptor, Encryptor, Format, file};
use s3crypt::keys::KeyEncryptionKey;
use s3crypt::primitives::{Aes256Ctr, Aes256Gcm, BackendReport, Ghash};

/// Arguments of `s3crypt bench`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Buffer size for the primitive measurements, in KiB.
    #[arg(long, default_value_t = 64)]
    kib: usize,
    /// Size of the file for file-encrypt/file-decrypt, in MiB.
    #[arg(long, default_value_t = 64)]
    file_mib: usize,
    /// Seconds to spend per measurement.
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
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

/// The median duration of `run` (which returns its own duration in seconds), run at least three times
/// and until about `secs` have passed.
fn median_secs(secs: f64, mut run: impl FnMut() -> anyhow::Result<f64>) -> anyhow::Result<f64> {
    let start = Instant::now();
    let mut times = Vec::new();
    while times.len() < 3 || (start.elapsed().as_secs_f64() < secs && times.len() < 15) {
        times.push(run()?);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
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

pub(crate) fn run(a: &Args, json: bool) -> anyhow::Result<ExitCode> {
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
    let n = a.kib * 1024;
    let mut buf = vec![0x5a_u8; n];
    let key = [7u8; 32];
    let gcm = Aes256Gcm::new(&key);
    let ctr = Aes256Ctr::new(&key);
    let mut rows: Vec<(&str, String, usize, usize, f64)> = Vec::new();
    rows.push((
        "gcm-seal",
        tier("aes-256-gcm"),
        n,
        1,
        rate(n, a.seconds, || {
            let _ = gcm.seal_in_place_detached(&[1; 12], b"", &mut buf);
        }),
    ));
    // Open without copying the ciphertext back each time: sealing `ct` under the same key and nonce
    // gives the plaintext back (CTR is an XOR) with a tag `back` over it, so opening alternates
    // ct → pt (with `tag`) and pt → ct (with `back`), each a full decryption of a valid message.
    let mut work = vec![0x5a_u8; n];
    let tag = gcm.seal_in_place_detached(&[1; 12], b"", &mut work)?;
    let back = gcm.seal_in_place_detached(&[1; 12], b"", &mut work.clone())?;
    let tags = [tag, back];
    let mut which = 0;
    let mut open_failed = false;
    rows.push((
        "gcm-open",
        tier("aes-256-gcm"),
        n,
        1,
        rate(n, a.seconds, || {
            open_failed |= gcm
                .open_in_place_detached(&[1; 12], b"", &mut work, &tags[which])
                .is_err();
            which ^= 1;
        }),
    ));
    anyhow::ensure!(!open_failed, "gcm-open: a benchmark message failed to open");
    rows.push((
        "ctr",
        tier("aes-256-ctr"),
        n,
        1,
        rate(n, a.seconds, || ctr.apply_keystream(&[0; 16], 0, &mut buf)),
    ));
    rows.push((
        "ghash",
        tier("ghash"),
        n,
        1,
        rate(n, a.seconds, || {
            let mut g = Ghash::new(&[3; 16]);
            g.update_padded(&buf);
            let _ = g.finalize();
        }),
    ));
    // What the vector units allow with no memory traffic: the real kernels above can only approach it.
    if let Some(c) = s3crypt::primitives::kernel_ceiling(a.seconds / 2.0) {
        let probe = "vaes512 arithmetic only (no loads/stores)".to_owned();
        rows.push(("ceiling-aes", probe.clone(), 512, 1, c.aes_bytes_per_sec));
        rows.push(("ceiling-gcm", probe, 512, 1, c.aes_ghash_bytes_per_sec));
    }
    // File paths: encrypt and decrypt a temporary file through the envelope layer (raw AES keyring).
    let dir = tempfile::tempdir()?;
    let size = a.file_mib << 20;
    let input = dir.path().join("in");
    std::fs::write(&input, vec![0x11_u8; size])?;
    let kr = AesKeyring::new(KeyEncryptionKey::from_bytes([9; 32]), Default::default());
    let enc_path = dir.path().join("in.s3ec");
    // File I/O (page cache, writeback, fsync) varies far more than the crypto: take the median of
    // at least three whole runs.
    let encrypt = || -> anyhow::Result<f64> {
        let t = Instant::now();
        let e = Encryptor::new(
            &kr,
            Format::V3,
            &Default::default(),
            CommitmentPolicy::default(),
        )?;
        file::encrypt_file(e, &mut std::fs::File::open(&input)?, &enc_path, false, None)?;
        Ok(t.elapsed().as_secs_f64())
    };
    rows.push((
        "file-encrypt",
        tier("aes-256-gcm"),
        size,
        threads,
        size as f64 / median_secs(a.seconds, encrypt)?,
    ));
    let md = file::read_metadata(&enc_path)?;
    let decrypt = || -> anyhow::Result<f64> {
        let t = Instant::now();
        let d = Decryptor::new(&kr, &md, CommitmentPolicy::default(), None)?;
        file::decrypt_file(
            &d,
            &mut std::fs::File::open(&enc_path)?,
            &dir.path().join("out"),
        )?;
        Ok(t.elapsed().as_secs_f64())
    };
    rows.push((
        "file-decrypt",
        tier("aes-256-gcm"),
        size,
        threads,
        size as f64 / median_secs(a.seconds, decrypt)?,
    ));

    let mut out = std::io::stdout().lock();
    if !json {
        writeln!(
            out,
            "s3crypt bench on {} ({threads} threads){}",
            std::env::consts::ARCH,
            hz.map_or(String::new(), |h| format!(
                ", nominal clock {:.2} GHz",
                h / 1e9
            ))
        )?;
        writeln!(
            out,
            "{:<13} {:>10} {:>8} {:>8} {:>10}  tier",
            "op", "bytes", "threads", "GB/s", "cycles/B"
        )?;
    }
    for (op, tier, bytes, th, bps) in rows {
        let gbps = bps / 1e9;
        let cpb = hz.map(|h| h / bps * th as f64);
        if json {
            let line = serde_json::json!({"op": op, "tier": tier, "bytes": bytes, "threads": th, "gbps": gbps, "cycles_per_byte": cpb, "arch": std::env::consts::ARCH});
            writeln!(out, "{line}")?;
        } else {
            writeln!(
                out,
                "{op:<13} {bytes:>10} {th:>8} {gbps:>8.3} {:>10}  {tier}",
                cpb.map_or("n/a".into(), |c| format!("{c:.2}"))
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
