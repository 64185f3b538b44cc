//! `s3crypt bucket …`, `put`, `get`, `head`, `cp`, `sse …`: the server-side encryption engine on the local
//! object store, with S3's headers in and out.

use std::fs::File;
use std::io::{self, BufReader, IsTerminal as _, Read, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use s3crypt::fsutil::{Destination, Staged};
use s3crypt::iam::{Principal, RequestContext};
use s3crypt::range::ByteRange;
use s3crypt::sse::S3Error;
use s3crypt::sse::bucket::{BlockedType, BucketEncryption, DefaultSse};
use s3crypt::sse::engine::{Response, SseEngine};
use s3crypt::sse::headers::Headers;

use crate::exit::Usage;
use crate::progress::Progress;

/// `s3crypt bucket`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum BucketCommand {
    /// Create a bucket (new buckets default to SSE-S3 and block SSE-C writes, as S3 since April 2026).
    Create {
        /// Bucket name.
        bucket: String,
        /// Default encryption: AES256 or aws:kms.
        #[arg(long, value_name = "ALG")]
        default_sse: Option<String>,
        /// KMS key for the aws:kms default.
        #[arg(long, value_name = "ID")]
        kms_key_id: Option<String>,
        /// Use S3 Bucket Keys for the aws:kms default.
        #[arg(long)]
        bucket_key: bool,
        /// Allow SSE-C writes (BlockedEncryptionTypes NONE).
        #[arg(long)]
        allow_sse_c: bool,
    },
    /// PutBucketEncryption from an XML file.
    PutEncryption {
        /// Bucket name.
        bucket: String,
        /// ServerSideEncryptionConfiguration XML.
        file: PathBuf,
    },
    /// PutBucketPolicy from a JSON file.
    PutPolicy {
        /// Bucket name.
        bucket: String,
        /// Policy JSON.
        file: PathBuf,
    },
    #[command(flatten)]
    Versions(crate::versions::BucketVersionCommand),
}

/// `s3crypt sse`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum SseCommand {
    /// Add a new SSE-S3 root key version.
    RotateRoot,
    /// Move a bucket's SSE-S3 objects to the newest root key (headers only, data not re-encrypted).
    Reseal {
        /// Bucket name.
        bucket: String,
    },
}

/// Options shared by put/get/head/cp.
#[derive(Debug, clap::Args)]
pub(crate) struct RequestArgs {
    /// A request header, 'Name: value' (repeatable), e.g. -H 'x-amz-server-side-encryption: aws:kms';
    /// or @FILE to read 'Name: value' lines from FILE, which keeps an SSE-C key out of the process list
    /// (/proc/PID/cmdline), where other local users can read it.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE | @FILE")]
    headers: Vec<String>,
    /// Treat the request as arriving over plain HTTP (SSE-C and SSE-KMS are then refused, as by S3).
    #[arg(long)]
    insecure_transport: bool,
    /// Server-side encryption of the new object, as aws-cli's --sse.
    #[arg(long, value_name = "ALG", value_parser = ["AES256", "aws:kms", "aws:kms:dsse"])]
    sse: Option<String>,
    /// The KMS key for --sse aws:kms or aws:kms:dsse (id, ARN or alias).
    #[arg(long, value_name = "ID", requires = "sse")]
    sse_kms_key_id: Option<String>,
    /// SSE-C: FILE holds the customer key (32 raw bytes, or 64 hex digits, or base64 of 32 bytes);
    /// the algorithm and key MD5 headers are computed. Keeps the key out of the process list.
    #[arg(long, value_name = "FILE", conflicts_with = "sse")]
    sse_c_key: Option<PathBuf>,
    /// SSE-C key of a copy's source object (cp), as --sse-c-key.
    #[arg(long, value_name = "FILE")]
    sse_c_copy_source_key: Option<PathBuf>,
}

/// Reads a customer key file: 32 raw bytes, 64 hex digits, or base64 of 32 bytes (surrounding
/// whitespace ignored for the text forms). The error never contains key material.
fn read_customer_key(path: &Path) -> anyhow::Result<zeroize::Zeroizing<[u8; 32]>> {
    use base64::Engine as _;
    let raw = zeroize::Zeroizing::new(
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
    );
    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    if raw.len() == 32 {
        key.copy_from_slice(&raw);
        return Ok(key);
    }
    let text = std::str::from_utf8(&raw).unwrap_or_default().trim();
    let decoded = zeroize::Zeroizing::new(
        hex::decode(text)
            .ok()
            .or_else(|| base64::engine::general_purpose::STANDARD.decode(text).ok())
            .unwrap_or_default(),
    );
    anyhow::ensure!(
        decoded.len() == 32,
        "{}: an SSE-C key file must hold 32 bytes (raw, 64 hex digits or base64)",
        path.display()
    );
    key.copy_from_slice(&decoded);
    Ok(key)
}

impl RequestArgs {
    fn parse(&self) -> anyhow::Result<(Headers, RequestContext)> {
        let mut pairs = Vec::new();
        for (i, h) in self.headers.iter().enumerate() {
            if let Some(path) = h.strip_prefix('@') {
                let text = zeroize::Zeroizing::new(
                    std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
                );
                for (n, line) in text.lines().enumerate() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    pairs.push(header_pair(line).ok_or_else(|| {
                        Usage(format!(
                            "{path} line {}: a header must be 'Name: value'",
                            n + 1
                        ))
                    })?);
                }
            } else {
                pairs.push(header_pair(h).ok_or_else(|| {
                    Usage(format!(
                        "-H number {}: a header must be 'Name: value'",
                        i + 1
                    ))
                })?);
            }
        }
        // A header that looks like an SSE header but is none would be ignored by S3 and the object
        // stored under the bucket default: refuse it rather than silently downgrade.
        if let Some((n, _)) = pairs
            .iter()
            .find(|(n, _)| s3crypt::sse::headers::is_misspelled_sse_header(n))
        {
            return Err(Usage(format!(
                "{n:?} is not an SSE header S3 knows (use --sse, --sse-kms-key-id, --sse-c-key, or one of: {})",
                s3crypt::sse::headers::SSE_HEADERS.join(", ")
            ))
            .into());
        }
        let flagged = |name: &str| pairs.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        if let Some(alg) = &self.sse {
            anyhow::ensure!(
                !flagged(s3crypt::sse::headers::SERVER_SIDE_ENCRYPTION),
                "--sse and -H x-amz-server-side-encryption both given"
            );
            pairs.push((
                s3crypt::sse::headers::SERVER_SIDE_ENCRYPTION.to_owned(),
                alg.clone(),
            ));
        }
        if let Some(id) = &self.sse_kms_key_id {
            anyhow::ensure!(
                self.sse
                    .as_deref()
                    .is_some_and(|a| a.starts_with("aws:kms")),
                "--sse-kms-key-id needs --sse aws:kms or aws:kms:dsse"
            );
            pairs.push((s3crypt::sse::headers::KMS_KEY_ID.to_owned(), id.clone()));
        }
        if let Some(path) = &self.sse_c_key {
            let key = read_customer_key(path)?;
            pairs.extend(s3crypt::sse::headers::customer_key_headers(&key));
        }
        if let Some(path) = &self.sse_c_copy_source_key {
            let key = read_customer_key(path)?;
            pairs.extend(s3crypt::sse::headers::copy_source_customer_key_headers(
                &key,
            ));
        }
        Ok((Headers::new(pairs), local_admin(!self.insecure_transport)))
    }
}

/// The account the local CLI acts in: the engine runs on the operator's own machine, so the operator is
/// the account root of a fixed local account (LocalStack's default account id).
use s3crypt::sse::engine::LOCAL_ACCOUNT;

/// The request context of the local operator: the root of [`LOCAL_ACCOUNT`], over TLS unless
/// `--insecure-transport`.
pub(crate) fn local_admin(tls: bool) -> RequestContext {
    RequestContext::signed_by(Principal::root(LOCAL_ACCOUNT, "AKIALOCALADMIN")).with_tls(tls)
}

/// Splits `Name: value`. The error never contains the text: a header value may be an SSE-C key.
fn header_pair(h: &str) -> Option<(String, String)> {
    let (n, v) = h.split_once(':')?;
    let n = n.trim();
    (!n.is_empty() && n.bytes().all(|b| b.is_ascii_graphic()))
        .then(|| (n.to_owned(), v.trim().to_owned()))
}

/// Splits `BUCKET/KEY`; anything else is a usage error (exit code 2).
pub(crate) fn split(path: &str) -> anyhow::Result<(&str, &str)> {
    path.split_once('/')
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        .ok_or_else(|| Usage(format!("{path:?} must be BUCKET/KEY")).into())
}

pub(crate) fn engine(home: &Path) -> anyhow::Result<SseEngine> {
    let kms = crate::kms::open(home)?;
    let e = SseEngine::new(home, Arc::new(kms))?;
    for p in e.stale_temporaries_removed() {
        eprintln!(
            "s3crypt: removed {}, a temporary file left by an interrupted run",
            p.display()
        );
    }
    Ok(e)
}

/// Prints a response (headers) or an S3 error, and returns the exit code.
fn report(result: Result<Response, S3Error>, json: bool) -> anyhow::Result<ExitCode> {
    Ok(match result {
        Ok(r) => {
            if json {
                outln!("{}", response_json(&r))?;
            } else {
                outln!("HTTP {}", r.status)?;
                for (n, v) in &r.headers {
                    outln!("{n}: {v}")?;
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => report_error(&e, json)?,
    })
}

/// A response as JSON: `{"status": 200, "headers": {..}}` (header names as S3 sends them).
fn response_json(r: &Response) -> serde_json::Value {
    let hs: serde_json::Map<String, serde_json::Value> = r
        .headers
        .iter()
        .map(|(n, v)| (n.clone(), v.clone().into()))
        .collect();
    serde_json::json!({"status": r.status, "headers": hs})
}

/// Prints an S3 error (one JSON object on stderr with `--json`, a line on stderr otherwise) and returns
/// its exit code (see [`crate::exit`]).
pub(crate) fn report_error(e: &S3Error, json: bool) -> anyhow::Result<ExitCode> {
    Ok(crate::exit::report_s3(e, json))
}

pub(crate) fn bucket(cmd: &BucketCommand, home: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let e = engine(home)?;
    let r = match cmd {
        BucketCommand::Create {
            bucket,
            default_sse,
            kms_key_id,
            bucket_key,
            allow_sse_c,
        } => {
            let mut enc = BucketEncryption::new_bucket_default();
            match default_sse.as_deref() {
                None | Some("AES256") => {}
                Some("aws:kms") => {
                    enc.default = DefaultSse::Kms {
                        key_id: kms_key_id.clone(),
                        bucket_key: *bucket_key,
                    }
                }
                Some(other) => {
                    crate::exit::usage!("--default-sse must be AES256 or aws:kms, not {other:?}")
                }
            }
            if *allow_sse_c {
                enc.blocked = vec![BlockedType::None];
            }
            e.create_bucket(&local_admin(true), bucket, Some(enc))
                .map(|()| Response {
                    status: 200,
                    headers: vec![("Location".into(), format!("/{bucket}"))],
                })
        }
        BucketCommand::PutEncryption { bucket, file } => {
            let xml = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            e.put_bucket_encryption(&local_admin(true), bucket, &xml)
                .map(|()| Response {
                    status: 200,
                    headers: Vec::new(),
                })
        }
        BucketCommand::PutPolicy { bucket, file } => {
            let p = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            e.put_bucket_policy(&local_admin(true), bucket, &p)
                .map(|()| Response {
                    status: 204,
                    headers: Vec::new(),
                })
        }
        BucketCommand::Versions(v) => return crate::versions::bucket(&e, v, json),
    };
    report(r, json)
}

pub(crate) fn sse(cmd: &SseCommand, home: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let e = engine(home)?;
    let r = match cmd {
        SseCommand::RotateRoot => e.rotate_root().map(|v| Response {
            status: 200,
            headers: vec![("x-s3crypt-root-version".into(), v.to_string())],
        }),
        SseCommand::Reseal { bucket } => e.reseal(bucket).map(|n| Response {
            status: 200,
            headers: vec![("x-s3crypt-resealed-objects".into(), n.to_string())],
        }),
    };
    report(r, json)
}

pub(crate) fn put(
    target: &str,
    file: &Path,
    req: &RequestArgs,
    home: &Path,
    json: bool,
    progress: Progress,
) -> anyhow::Result<ExitCode> {
    let (b, k) = split(target)?;
    let (h, t) = req.parse()?;
    // The engine reads the body in chunks as it encrypts them: stdin is streamed, never held whole.
    let (mut input, len): (Box<dyn Read>, Option<u64>) = if file == Path::new("-") {
        (Box::new(io::stdin().lock()), None)
    } else {
        let f = File::open(file).with_context(|| format!("opening {}", file.display()))?;
        let len = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
        (Box::new(f), len)
    };
    let engine = engine(home)?;
    let bar = progress.bytes("put", len);
    let mut body = BufReader::new(bar.wrap_read(&mut input));
    let r = engine.put_object(&t, b, k, &h, &mut body);
    bar.finish_and_clear();
    report(r, json)
}

/// `s3crypt get` arguments.
pub(crate) struct GetArgs<'a> {
    /// BUCKET/KEY.
    pub(crate) target: &'a str,
    /// The output file, `-` for stdout.
    pub(crate) out: &'a Path,
    /// A byte range.
    pub(crate) range: Option<ByteRange>,
    /// A version id.
    pub(crate) version: Option<&'a str>,
    /// Write binary data to a terminal.
    pub(crate) force: bool,
    /// The request options.
    pub(crate) req: &'a RequestArgs,
}

pub(crate) fn get(
    a: &GetArgs<'_>,
    home: &Path,
    json: bool,
    progress: Progress,
) -> anyhow::Result<ExitCode> {
    let (b, k) = split(a.target)?;
    let to_stdout = a.out == Path::new("-");
    if to_stdout && !a.force && io::stdout().is_terminal() {
        return Err(Usage(
            "refusing to write the object to a terminal; redirect stdout, or pass --force".into(),
        )
        .into());
    }
    let (h, t) = a.req.parse()?;
    let engine = engine(home)?;
    let fetch = |w: &mut dyn std::io::Write| -> Result<Response, S3Error> {
        let (resp, body) = engine.get_object_start(&t, b, k, a.version, &h, a.range)?;
        let len = resp
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok());
        let bar = progress.bytes("get", len);
        let r = body.write_to(&mut bar.wrap_write(w));
        bar.finish_and_clear();
        r?;
        Ok(resp)
    };
    let r = if to_stdout {
        // Staged in an anonymous temporary file and copied out only once the whole object has
        // authenticated, as for a file: a truncated or tampered object releases nothing.
        let mut tmp = tempfile::tempfile().context("creating a temporary file")?;
        let r = {
            let mut w = std::io::BufWriter::new(&mut tmp);
            let r = fetch(&mut w);
            w.flush()?;
            r
        };
        if r.is_ok() {
            tmp.rewind()?;
            let mut out = io::stdout().lock();
            io::copy(&mut tmp, &mut out)?;
            out.flush()?;
        }
        r
    } else {
        match Destination::of(a.out)? {
            // A device or FIFO is written through, never replaced. Every byte GET writes is
            // authenticated (chunk by chunk), so nothing unauthenticated reaches it.
            Destination::Special(p) => {
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&p)
                    .with_context(|| format!("opening {}", p.display()))?;
                let mut w = std::io::BufWriter::new(f);
                let r = fetch(&mut w);
                w.flush()?;
                r
            }
            dest => {
                crate::files::clean_beside(dest.path());
                let mut tmp = Staged::new_private(dest.path())?;
                let r = {
                    let mut w = std::io::BufWriter::new(tmp.file_mut());
                    let r = fetch(&mut w);
                    w.flush()?;
                    r
                };
                if r.is_ok() {
                    tmp.commit()?;
                }
                r
            }
        }
    };
    // With the object on stdout, the response goes to stderr with --json (else nothing, as `cat`), so
    // it never mixes with the object.
    if to_stdout {
        return match r {
            Ok(resp) => {
                if json {
                    eprintln!("{}", response_json(&resp));
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => report_error(&e, json),
        };
    }
    report(r, json)
}

pub(crate) fn head(
    target: &str,
    version: Option<&str>,
    req: &RequestArgs,
    home: &Path,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (b, k) = split(target)?;
    let (h, t) = req.parse()?;
    report(engine(home)?.head_object(&t, b, k, version, &h), json)
}

pub(crate) fn cp(
    src: &str,
    dst: &str,
    req: &RequestArgs,
    home: &Path,
    json: bool,
    progress: Progress,
) -> anyhow::Result<ExitCode> {
    let (sb, sk) = split(src)?;
    let (db, dk) = split(dst)?;
    let (h, t) = req.parse()?;
    let engine = engine(home)?;
    let bar = progress.spinner("cp");
    let r = engine.copy_object(&t, (sb, sk, None), (db, dk), &h);
    bar.finish_and_clear();
    report(r, json)
}
