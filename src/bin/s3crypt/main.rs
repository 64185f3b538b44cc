//! `s3crypt`: the command-line front end of the s3crypt library.
//!
//! The binary only parses arguments and prints; all behaviour lives in the library.

mod cpu;
mod selftest;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Encryption toolkit for object storage: SSE-S3, SSE-KMS, SSE-C and client-side envelope encryption.
#[derive(Debug, Parser)]
#[command(name = "s3crypt", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the detected CPU features and the implementation each primitive uses.
    Cpu(cpu::Args),
    /// Run every published test vector through this build and print the counts.
    Selftest(selftest::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Cpu(args) => cpu::run(&args),
        Command::Selftest(args) => selftest::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("s3crypt: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
