//! `s3crypt selftest`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use s3crypt::primitives::BackendReport;
use s3crypt::primitives::hash::sha256;
use s3crypt::selftest::{SUITES, VectorSource};

/// Arguments of `s3crypt selftest`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Directory holding the vector files, laid out as the source tree's test-vectors/ (default: the
    /// vectors embedded in this binary, so an installed binary tests itself anywhere).
    #[arg(long, value_name = "DIR")]
    vectors: Option<PathBuf>,
}

/// Runs every suite and prints a line per suite and a summary (with `--json`: one JSON object per suite,
/// then a summary object). Exits non-zero if any suite fails.
pub(crate) fn run(args: &Args, json: bool) -> anyhow::Result<ExitCode> {
    let source = match &args.vectors {
        Some(dir) => VectorSource::Dir(dir.clone()),
        None => VectorSource::Embedded,
    };
    let report = BackendReport::current();
    if !json {
        outln!("s3crypt self-test over {source}")?;
        outln!("implementations under test ({}):", std::env::consts::ARCH)?;
        for (name, imp) in &report.primitives {
            outln!("  {name:<26} {imp}")?;
        }
    }
    let mut failed = 0usize;
    let mut total = 0usize;
    for suite in SUITES {
        let start = Instant::now();
        let result = suite.run_from(&source);
        let ms = start.elapsed().as_secs_f64() * 1e3;
        if json {
            let mut line = serde_json::json!({
                "suite": suite.name,
                "file": suite.file,
                "ok": result.is_ok(),
                "elapsed_ms": (ms * 10.0).round() / 10.0,
            });
            if source == VectorSource::Embedded {
                line["sha256"] = hex::encode(sha256(suite.embedded_text().as_bytes())).into();
            }
            match &result {
                Ok(t) => {
                    line["cases"] = t.cases.into();
                    line["valid"] = t.valid.into();
                    line["rejected"] = t.rejected.into();
                    line["skipped"] = t.skipped.into();
                }
                Err(e) => line["error"] = e.to_string().into(),
            }
            outln!("{line}")?;
        }
        match result {
            Ok(t) => {
                total += t.cases;
                if !json {
                    let skipped = if t.skipped > 0 {
                        format!(", {} out of scope", t.skipped)
                    } else {
                        String::new()
                    };
                    outln!(
                        "  ok    {:<48} {:>4} cases ({} valid, {} invalid rejected{skipped}) {ms:>7.1} ms",
                        suite.name,
                        t.cases,
                        t.valid,
                        t.rejected,
                    )?;
                }
            }
            Err(e) => {
                failed += 1;
                if !json {
                    outln!("  FAIL  {:<48} {e}", suite.name)?;
                }
            }
        }
    }
    if json {
        let implementations: serde_json::Map<String, serde_json::Value> = report
            .primitives
            .iter()
            .map(|(name, imp)| ((*name).to_owned(), imp.clone().into()))
            .collect();
        outln!(
            "{}",
            serde_json::json!({
                "summary": true,
                "ok": failed == 0,
                "suites": SUITES.len(),
                "passed": SUITES.len() - failed,
                "failed": failed,
                "cases": total,
                "vectors": match &source {
                    VectorSource::Dir(d) => d.display().to_string(),
                    _ => "embedded".to_owned(),
                },
                "arch": std::env::consts::ARCH,
                "backend": report.backend.to_string(),
                "implementations": implementations,
                "version": env!("CARGO_PKG_VERSION"),
            })
        )?;
    } else if failed > 0 {
        outln!("{failed} of {} suites FAILED", SUITES.len())?;
    } else {
        outln!("all {} suites passed: {total} cases", SUITES.len())?;
    }
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
