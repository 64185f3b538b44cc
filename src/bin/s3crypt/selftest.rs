//! `s3crypt selftest`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use s3crypt::primitives::BackendReport;
use s3crypt::selftest::{SUITES, default_vectors_dir};

/// Arguments of `s3crypt selftest`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Directory holding the vector files (default: ./test-vectors, else the source tree's).
    #[arg(long, value_name = "DIR")]
    vectors: Option<PathBuf>,
}

/// Runs every suite; with `json`, prints one object (`directory`, `suites`, `failed`, `cases`) instead of
/// the text report.
pub(crate) fn run(args: &Args, json: bool) -> anyhow::Result<ExitCode> {
    let dir = args.vectors.clone().unwrap_or_else(default_vectors_dir);
    if !json {
        outln!("s3crypt self-test over {}", dir.display())?;
        outln!("implementations under test ({}):", std::env::consts::ARCH)?;
        for (name, imp) in BackendReport::current().primitives {
            outln!("  {name:<26} {imp}")?;
        }
    }
    let mut failed = 0usize;
    let mut total = 0usize;
    let mut rows = Vec::new();
    for suite in SUITES {
        let start = Instant::now();
        match suite.run(&dir) {
            Ok(t) => {
                total += t.cases;
                let ms = start.elapsed().as_secs_f64() * 1e3;
                rows.push(serde_json::json!({
                    "name": suite.name, "ok": true, "cases": t.cases, "valid": t.valid,
                    "rejected": t.rejected, "skipped": t.skipped, "ms": ms,
                }));
                if json {
                    continue;
                }
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
            Err(e) => {
                failed += 1;
                rows.push(
                    serde_json::json!({"name": suite.name, "ok": false, "error": e.to_string()}),
                );
                if !json {
                    outln!("  FAIL  {:<48} {e}", suite.name)?;
                }
            }
        }
    }
    if json {
        outln!(
            "{}",
            serde_json::json!({
                "directory": dir.display().to_string(),
                "suites": rows,
                "failed": failed,
                "cases": total,
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
