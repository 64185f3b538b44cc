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
mod exit;
mod files;
#[cfg(feature = "s3-client")]
mod gateway;
mod home;
mod iam;
mod kms;
mod lambda;
mod logs;
mod object_lambda;
mod progress;
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

use clap::parser::ValueSource;
use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

/// Encryption toolkit for object storage: SSE-S3, SSE-KMS, SSE-C and client-side envelope encryption.
#[derive(Debug, Parser)]
#[command(name = "s3crypt", version, about, after_help = exit::HELP)]
pub(crate) struct Cli {
    /// State directory (keys, KMS state, buckets); created on first use. Default:
    /// $XDG_STATE_HOME/s3crypt, else ~/.local/state/s3crypt (`s3crypt home` shows it).
    #[arg(
        id = "home",
        long = "home",
        global = true,
        env = "S3CRYPT_HOME",
        value_name = "DIR"
    )]
    home_arg: Option<std::ffi::OsString>,
    /// The home in use (resolved from --home, S3CRYPT_HOME, XDG_STATE_HOME, HOME).
    #[arg(skip)]
    home: std::path::PathBuf,
    /// Print JSON instead of text (errors too: one JSON object on stderr).
    #[arg(long, global = true)]
    json: bool,
    /// No progress bars.
    #[arg(short, long, global = true)]
    quiet: bool,
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
    /// PutObject: encrypt FILE (- for stdin) into the local store as the SSE headers and bucket say.
    Put {
        /// BUCKET/KEY.
        target: String,
        /// The object data, or - for stdin.
        file: std::path::PathBuf,
        #[command(flatten)]
        req: sse::RequestArgs,
    },
    /// GetObject into OUTFILE (- for stdout); nothing is written unless the whole object authenticates.
    Get {
        /// BUCKET/KEY.
        target: String,
        /// Where to write the object, or - for stdout.
        outfile: std::path::PathBuf,
        /// Write to stdout even when it is a terminal.
        #[arg(short, long)]
        force: bool,
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
    /// Maintenance of an encrypting gateway's shared state (`serve --upstream`): rotate the shared
    /// SSE-S3 root keys, reseal a bucket, abort orphaned upstream uploads.
    #[cfg(feature = "s3-client")]
    Gateway(gateway::Args),
    /// Print the home in use (where keys, KMS state and buckets live) and what it holds.
    Home,
}

impl Command {
    /// Whether the command reads or writes the home (the others run without one).
    fn uses_home(&self) -> bool {
        !matches!(
            self,
            Self::Cpu
                | Self::Bench(_)
                | Self::GenKey { .. }
                | Self::Selftest(_)
                | Self::Completions(_)
                | Self::Man(_)
        )
    }
}

fn main() -> ExitCode {
    // Before parsing, so a usage error is reported as JSON too.
    let json_requested = std::env::args_os().any(|a| a == "--json");
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|m| Ok((Cli::from_arg_matches(&m)?, m)));
    let (mut cli, matches) = match parsed {
        Ok(p) => p,
        Err(e) => return exit::clap_error(&e, json_requested),
    };
    let uses_home = cli.command.uses_home();
    let mut home_source = home::Source::Flag;
    if uses_home {
        let from_env = matches.value_source("home") == Some(ValueSource::EnvVariable);
        match home::resolve(
            cli.home_arg.as_deref().map(std::path::Path::new),
            from_env,
            |k| std::env::var_os(k),
        ) {
            Ok((path, source)) => {
                if let Some(w) = home::legacy_warning(&path, source) {
                    eprintln!("{w}");
                }
                cli.home = path;
                home_source = source;
            }
            Err(e) => return exit::report(&exit::classify(&e), &error_chain(&e), cli.json),
        }
    }
    let keys_before = if uses_home {
        home::key_files(&cli.home)
    } else {
        Vec::new()
    };
    let progress = progress::Progress::new(cli.json, cli.quiet);
    let result = match cli.command {
        Command::Cpu => cpu::run(cli.json),
        Command::Bench(args) => bench::run(&args, cli.json),
        Command::Encrypt(args) => envelope::encrypt(&args, &cli.home, cli.json),
        Command::Decrypt(args) => envelope::decrypt(&args, &cli.home, cli.json),
        Command::GenKey { file } => envelope::gen_key(&file).and_then(|code| {
            if cli.json {
                outln!(
                    "{}",
                    serde_json::json!({"file": file.display().to_string()})
                )?;
            }
            Ok(code)
        }),
        Command::Verify(args) => verify::run(&args, &cli.home, cli.json),
        Command::Rewrap(args) => rewrap::run(&args, &cli.home, cli.json),
        Command::Bucket(cmd) => sse::bucket(&cmd, &cli.home, cli.json),
        Command::Put { target, file, req } => {
            sse::put(&target, &file, &req, &cli.home, cli.json, progress)
        }
        Command::Get {
            target,
            outfile,
            range,
            version_id,
            force,
            req,
        } => sse::get(
            &sse::GetArgs {
                target: &target,
                out: &outfile,
                range,
                version: version_id.as_deref(),
                force,
                req: &req,
            },
            &cli.home,
            cli.json,
            progress,
        ),
        Command::Head {
            target,
            version_id,
            req,
        } => sse::head(&target, version_id.as_deref(), &req, &cli.home, cli.json),
        Command::Cp { src, dst, req } => sse::cp(&src, &dst, &req, &cli.home, cli.json, progress),
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
        #[cfg(feature = "s3-client")]
        Command::Gateway(args) => gateway::run(&args, cli.json),
        Command::Home => home::show(&cli.home, home_source, cli.json),
    };
    // Not silenced by --quiet: it is printed once, and losing these keys loses the data.
    if uses_home && let Some(note) = home::first_keys_notice(&cli.home, &keys_before) {
        eprintln!("{note}");
    }
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => {
            // The reader went away (`| head`): stop quietly, with the status a shell reports for a
            // process ended by SIGPIPE.
            ExitCode::from(141)
        }
        Err(e) => exit::report(&exit::classify(&e), &error_chain(&e), cli.json),
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
