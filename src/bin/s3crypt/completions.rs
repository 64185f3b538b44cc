//! `s3crypt completions SHELL` and `s3crypt man`: shell completions and the man pages, generated from
//! the clap definition of the CLI (clap_complete, clap_mangen), so they never drift from it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::CommandFactory as _;

/// `s3crypt completions`.
#[derive(Debug, clap::Args)]
pub(crate) struct CompletionArgs {
    /// The shell.
    shell: clap_complete::Shell,
}

/// `s3crypt man`.
#[derive(Debug, clap::Args)]
pub(crate) struct ManArgs {
    /// Write `s3crypt.1` and one page per subcommand (`s3crypt-put.1`, …) into DIR instead of printing
    /// the main page.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

/// Prints the completion script for `args.shell`.
pub(crate) fn completions(args: &CompletionArgs) -> anyhow::Result<ExitCode> {
    let mut cmd = crate::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "s3crypt", &mut out);
    std::io::Write::write_all(&mut std::io::stdout().lock(), &out)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the main man page, or writes every page into `--out-dir`.
pub(crate) fn man(args: &ManArgs) -> anyhow::Result<ExitCode> {
    let cmd = crate::Cli::command();
    match &args.out_dir {
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            std::io::Write::write_all(&mut std::io::stdout().lock(), &out)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(cmd, dir)
                .with_context(|| format!("writing man pages into {}", dir.display()))?;
            outln!("{}", dir.display())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
