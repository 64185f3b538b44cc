//! `s3crypt`: the command-line front end of the s3crypt library.
//!
//! The binary only parses arguments and prints; all behaviour lives in the library.

/// `println!` that returns an error instead of panicking when stdout is closed or full.
macro_rules! outln {
    ($($arg:tt)*) => {
        crate::stdout_line(format_args!($($arg)*))
    };
}

mod access_point;
mod bench;
mod completions;
mod cpu;
mod envelope;
mod files;
#[cfg(feature = "s3-client")]
mod gateway;
mod iam;
mod kms;
mod lambda;
mod logs;
mod object_lambda;
mod rewrap;
mod selftest;
mod serve;
mod sse;
mod vault;
mod verify;
mod versions;
mod vpc_endpoint;

use std::io::{self, Write as _};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Encryption toolkit for object storage: SSE-S3, SSE-KMS, SSE-C and client-side envelope encryption.
#[derive(Debug, Parser)]
#[command(name = "s3crypt", version, about)]
pub(crate) struct Cli {
    /// State directory (keys, KMS state, buckets); created on first use.
    #[arg(long, global = true, env = "S3CRYPT_HOME", default_value = ".s3crypt")]
    home: std::path::PathBuf,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Encrypt a file client-side (S3 Encryption Client format) with a KMS key or a wrapping key.
    Encrypt(envelope::EncryptArgs),
    /// Decrypt a client-side encrypted file (whole, or a byte range); nothing is written unless it authenticates.
    Decrypt(envelope::DecryptArgs),
    /// Check that encrypted files authenticate (key, commitment, whole body) without writing any plaintext.
    Verify(verify::Args),
    /// Re-wrap an encrypted file's data key under another KMS key or wrapping key; the body is not touched.
    Rewrap(rewrap::Args),
    /// Write a new random AES-256 wrapping key (hex) to FILE.
    GenKey {
        /// The key file to create (must not exist).
        file: std::path::PathBuf,
    },
    /// Buckets of the local object store: create, default encryption, policy.
    #[command(subcommand)]
    Bucket(sse::BucketCommand),
    /// PutObject: encrypt FILE into the local store as the SSE headers and bucket say.
    Put {
        /// BUCKET/KEY.
        target: String,
        /// The object data.
        file: std::path::PathBuf,
        #[command(flatten)]
        req: sse::RequestArgs,
    },
    /// GetObject into OUTFILE (written only if the request succeeds).
    Get {
        /// BUCKET/KEY.
        target: String,
        /// Where to write the object.
        outfile: std::path::PathBuf,
        /// A byte range, bytes=A-B, bytes=A- or bytes=-N.
        #[arg(long)]
        range: Option<s3crypt::range::ByteRange>,
        /// A version of the object (default: the current one).
        #[arg(long, allow_hyphen_values = true)]
        version_id: Option<String>,
        #[command(flatten)]
        req: sse::RequestArgs,
    },
    /// HeadObject.
    Head {
        /// BUCKET/KEY.
        target: String,
        /// A version of the object (default: the current one).
        #[arg(long, allow_hyphen_values = true)]
        version_id: Option<String>,
        #[command(flatten)]
        req: sse::RequestArgs,
    },
    /// CopyObject (re-encrypts between any two modes; copy-source SSE-C headers for an SSE-C source).
    Cp {
        /// SRC_BUCKET/KEY.
        src: String,
        /// DST_BUCKET/KEY.
        dst: String,
        #[command(flatten)]
        req: sse::RequestArgs,
    },
    /// An object's retention, legal hold, and deletion (of a version, with MFA Delete).
    #[command(subcommand)]
    Object(versions::ObjectCommand),
    /// SSE-S3 root keys: rotate, reseal.
    #[command(subcommand)]
    Sse(sse::SseCommand),
    /// Measure the primitives and the file paths on this machine (GB/s, cycles/byte, tier).
    Bench(bench::Args),
    /// Print the detected CPU features and the implementation each primitive uses.
    Cpu,
    /// Run every published test vector through this build and print the counts.
    Selftest(selftest::Args),
    /// The built-in KMS: keys, data keys, the HTTP server and load generator.
    Kms(kms::Args),
    /// Serve the S3 API over HTTPS (a local CA is made on first start) for boto3, aws-cli, browsers.
    Serve(Box<serve::ServeArgs>),
    /// Print a presigned URL for BUCKET/KEY on the endpoint (like `aws s3 presign`).
    Presign(serve::PresignArgs),
    /// The account's root credentials and IAM users (access keys, inline policies) for `s3crypt serve`.
    #[command(subcommand)]
    Iam(iam::Command),
    /// S3 Control access points of the local account: create, get, list, delete, policies.
    AccessPoint(access_point::Args),
    /// S3 Object Lambda access points of the local account: create, get, list, delete,
    /// configuration, policies.
    ObjectLambda(object_lambda::Args),
    /// Policies of the VPC endpoints that `serve --vpc-endpoint` serves.
    #[command(subcommand)]
    VpcEndpoint(vpc_endpoint::Command),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(completions::CompletionArgs),
    /// Print the man page (or write every page with --out-dir).
    Man(completions::ManArgs),
    /// Read S3 server access logs (files, or a bucket's delivered log objects): a table or JSON lines and a summary.
    Logs(logs::Args),
    /// Lambda functions of the home (Python, Node.js, custom runtimes, webhooks) and `invoke`.
    Lambda(lambda::Args),
    /// Glacier vaults of the home (served by `s3crypt serve`): vaults, encrypted archives, access policies, Vault Lock.
    Vault(vault::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Cpu => cpu::run(cli.json),
        Command::Bench(args) => bench::run(&args, cli.json),
        Command::Encrypt(args) => envelope::encrypt(&args, &cli.home, cli.json),
        Command::Decrypt(args) => envelope::decrypt(&args, &cli.home, cli.json),
        Command::GenKey { file } => envelope::gen_key(&file),
        Command::Verify(args) => verify::run(&args, &cli.home, cli.json),
        Command::Rewrap(args) => rewrap::run(&args, &cli.home, cli.json),
        Command::Bucket(cmd) => sse::bucket(&cmd, &cli.home, cli.json),
        Command::Put { target, file, req } => sse::put(&target, &file, &req, &cli.home, cli.json),
        Command::Get {
            target,
            outfile,
            range,
            version_id,
            req,
        } => sse::get(
            &target,
            &outfile,
            range,
            version_id.as_deref(),
            &req,
            &cli.home,
            cli.json,
        ),
        Command::Head {
            target,
            version_id,
            req,
        } => sse::head(&target, version_id.as_deref(), &req, &cli.home, cli.json),
        Command::Cp { src, dst, req } => sse::cp(&src, &dst, &req, &cli.home, cli.json),
        Command::Sse(cmd) => sse::sse(&cmd, &cli.home, cli.json),
        Command::Object(cmd) => versions::object(&cmd, &cli.home, cli.json),
        Command::Selftest(args) => selftest::run(&args, cli.json),
        Command::Kms(args) => kms::run(&args, &cli.home, cli.json),
        Command::Serve(args) => serve::serve(&args, &cli.home, cli.json),
        Command::Presign(args) => serve::presign(&args, &cli.home, cli.json),
        Command::Iam(cmd) => iam::run(&cmd, &cli.home, cli.json),
        Command::Logs(args) => logs::run(&args, &cli.home, cli.json),
        Command::Completions(args) => completions::completions(&args),
        Command::Man(args) => completions::man(&args),
        Command::AccessPoint(args) => {
            sse::engine(&cli.home).and_then(|e| access_point::run(&e, &args, cli.json))
        }
        Command::ObjectLambda(args) => {
            sse::engine(&cli.home).and_then(|e| object_lambda::run(&e, &args, cli.json))
        }
        Command::Vault(args) => vault::run(&args, &cli.home, cli.json),
        Command::Lambda(args) => lambda::run(&args, &cli.home, cli.json),
        Command::VpcEndpoint(cmd) => vpc_endpoint::run(&cmd, &cli.home, cli.json),
    };
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => {
            // The reader went away (`| head`): stop quietly, with the status a shell reports for a
            // process ended by SIGPIPE.
            ExitCode::from(141)
        }
        Err(e) => {
            eprintln!("s3crypt: error: {}", error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// Writes one line to stdout; an error (closed pipe, full disk) is returned, never a panic.
fn stdout_line(args: std::fmt::Arguments<'_>) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    out.write_fmt(args)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes, each printed once: a cause whose text its parent already includes (many
/// errors both print their source and return it from `source()`) is skipped.
fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}
