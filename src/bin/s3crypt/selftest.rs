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

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let dir = args.vectors.clone().unwrap_or_else(default_vectors_dir);
    outln!("s3crypt self-test over {}", dir.display())?;
    outln!("implementations under test ({}):", std::env::consts::ARCH)?;
    for (name, imp) in BackendReport::current().primitives {
        outln!("  {name:<26} {imp}")?;
    }
    let mut failed = 0usize;
    let mut total = 0usize;
    for suite in SUITES {
        let start = Instant::now();
        match suite.run(&dir) {
            Ok(t) => {
                total += t.cases;
                let skipped = if t.skipped > 0 {
                    format!(", {} out of scope", t.skipped)
                } else {
                    String::new()
                };
                outln!(
                    "  ok    {:<48} {:>4} cases ({} valid, {} invalid rejected{skipped}) {:>7.1} ms",
                    suite.name,
                    t.cases,
                    t.valid,
                    t.rejected,
                    start.elapsed().as_secs_f64() * 1e3
                )?;
            }
            Err(e) => {
                failed += 1;
                outln!("  FAIL  {:<48} {e}", suite.name)?;
            }
        }
    }
    if failed > 0 {
        outln!("{failed} of {} suites FAILED", SUITES.len())?;
        return Ok(ExitCode::FAILURE);
    }
    outln!("all {} suites passed: {total} cases", SUITES.len())?;
    Ok(ExitCode::SUCCESS)
}
