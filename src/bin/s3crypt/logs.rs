//! `s3crypt logs`: reads S3 server access logs (files, or the log objects `s3crypt serve` delivered
//! into a bucket), filters them and prints a table or JSON lines, then a summary.

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use s3crypt::iam::{Principal, RequestContext};
use s3crypt::s3::access_log::{
    LogFilter, LogRecord, LoggingConfig, Summary, TABLE_HEADER, parse_line, render_table_row,
};
use s3crypt::sse::engine::SseEngine;
use s3crypt::sse::headers::Headers;
use s3crypt::store::ListRequest;
use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// S3's log time, without the brackets: `06/Feb/2019:00:00:38 +0000`.
const S3_TIME: &[BorrowedFormatItem<'static>] = format_description!(
    "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] [offset_hour sign:mandatory][offset_minute]"
);

/// `s3crypt logs`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Without --file: a bucket with a logging configuration (its log objects are read from the
    /// target bucket and only its records kept), else a bucket holding log objects. With --file:
    /// keep only records of this bucket.
    bucket: Option<String>,
    /// Read this access-log file instead of a bucket (repeatable; `-` for stdin).
    #[arg(long = "file", value_name = "PATH")]
    files: Vec<PathBuf>,
    /// Read only the log objects whose keys start with this (default: the logging configuration's
    /// target prefix, or every object of the bucket).
    #[arg(long, value_name = "P")]
    prefix: Option<String>,
    /// Keep records at or after this time: RFC 3339 (2026-12-01T10:00:00Z) or S3's
    /// [06/Feb/2019:00:00:38 +0000].
    #[arg(long, value_name = "T", value_parser = parse_time)]
    since: Option<OffsetDateTime>,
    /// Keep records before this time (same forms as --since).
    #[arg(long, value_name = "T", value_parser = parse_time)]
    until: Option<OffsetDateTime>,
    /// Keep records with this HTTP status.
    #[arg(long, value_name = "N")]
    status: Option<u16>,
    /// Keep records of this requester (ARN or canonical id; `-` for anonymous requests).
    #[arg(long, value_name = "ARN")]
    requester: Option<String>,
    /// Keep records of this operation (case-insensitive; a trailing `*` matches a prefix, e.g.
    /// REST.GET.*).
    #[arg(long, value_name = "OP")]
    operation: Option<String>,
}

/// Parses `--since`/`--until`: RFC 3339, or S3's log time with or without its brackets.
fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    let t = s.trim();
    if let Ok(v) = OffsetDateTime::parse(t, &Rfc3339) {
        return Ok(v);
    }
    let inner = t
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(t);
    OffsetDateTime::parse(inner, S3_TIME).map_err(|_| {
        format!(
            "{s:?} is not a time: use RFC 3339 (2026-12-01T10:00:00Z) or S3's form \
             ([06/Feb/2019:00:00:38 +0000])"
        )
    })
}

/// What has been read so far.
struct Reader<'a> {
    /// Keep only records of this bucket.
    bucket: Option<&'a str>,
    filter: LogFilter,
    json: bool,
    summary: Summary,
    /// Records parsed (before any filter).
    parsed: u64,
    /// Lines that did not parse, and the first one's place and error.
    bad: u64,
    first_bad: Option<String>,
    header_printed: bool,
}

impl Reader<'_> {
    /// Reads the records of one source (`name` is used in messages), printing the kept ones.
    fn read(&mut self, name: &str, input: &mut dyn BufRead) -> anyhow::Result<()> {
        let mut buf = Vec::new();
        let mut number = 0u64;
        loop {
            buf.clear();
            let n = input
                .read_until(b'\n', &mut buf)
                .with_context(|| format!("reading {name}"))?;
            if n == 0 {
                return Ok(());
            }
            number += 1;
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let record = std::str::from_utf8(&buf)
                .map_err(|_| "the line is not UTF-8".to_owned())
                .and_then(|line| parse_line(line).map_err(|e| e.to_string()));
            match record {
                Ok(r) => {
                    self.parsed += 1;
                    self.record(&r)?;
                }
                Err(e) => {
                    self.bad += 1;
                    if self.first_bad.is_none() {
                        self.first_bad = Some(format!("{name}:{number}: {e}"));
                    }
                }
            }
        }
    }

    fn record(&mut self, r: &LogRecord) -> anyhow::Result<()> {
        if self.bucket.is_some_and(|b| r.bucket != b) || !self.filter.matches(r) {
            return Ok(());
        }
        self.summary.add(r);
        if self.json {
            outln!("{}", serde_json::to_string(r)?)?;
        } else {
            self.header()?;
            outln!("{}", render_table_row(r))?;
        }
        Ok(())
    }

    fn header(&mut self) -> anyhow::Result<()> {
        if !self.header_printed {
            self.header_printed = true;
            outln!("{TABLE_HEADER}")?;
        }
        Ok(())
    }

    /// The warning about unparsable lines, the error when nothing could be read, and the summary.
    fn finish(mut self) -> anyhow::Result<ExitCode> {
        if self.bad > 0 {
            let lines = if self.bad == 1 { "line" } else { "lines" };
            let first = self.first_bad.as_deref().unwrap_or("-");
            eprintln!(
                "s3crypt: {} {lines} could not be parsed (first: {first})",
                self.bad
            );
            if self.parsed == 0 {
                anyhow::bail!("no access log record could be read: no line parsed");
            }
        }
        if self.json {
            outln!("{}", serde_json::json!({ "summary": self.summary }))?;
        } else {
            self.header()?;
            outln!("")?;
            // render_text ends with a newline; outln! adds one.
            let text = self.summary.render_text();
            outln!("{}", text.strip_suffix('\n').unwrap_or(&text))?;
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// A name for messages: `s` with control characters and quotes escaped.
fn shown(s: &str) -> String {
    s.escape_debug().to_string()
}

pub(crate) fn run(args: &Args, home: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let filter = LogFilter {
        since: args.since,
        until: args.until,
        status: args.status,
        requester: args.requester.clone(),
        operation: args.operation.clone(),
    };
    let mut reader = Reader {
        bucket: None,
        filter,
        json,
        summary: Summary::default(),
        parsed: 0,
        bad: 0,
        first_bad: None,
        header_printed: false,
    };
    if !args.files.is_empty() {
        if args.prefix.is_some() {
            anyhow::bail!(
                "--prefix selects log objects in a bucket; it cannot be used with --file"
            );
        }
        reader.bucket = args.bucket.as_deref();
        for path in &args.files {
            if path.as_os_str() == "-" {
                reader.read("<stdin>", &mut std::io::stdin().lock())?;
            } else {
                let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
                reader.read(&path.display().to_string(), &mut BufReader::new(f))?;
            }
        }
        return reader.finish();
    }
    let Some(bucket) = args.bucket.as_deref() else {
        crate::exit::usage!("give a BUCKET, or access-log files with --file");
    };
    let engine = crate::sse::engine(home)?;
    let config = engine
        .object_store()
        .bucket_config(bucket, s3crypt::s3::access_log::LOGGING_CONFIG)
        .with_context(|| format!("reading the logging configuration of {}", shown(bucket)))?;
    let (source, prefix) = match config {
        Some(doc) => {
            let c: LoggingConfig = serde_json::from_str(&doc).with_context(|| {
                format!(
                    "the logging configuration of {} is not valid",
                    shown(bucket)
                )
            })?;
            reader.bucket = Some(bucket);
            let prefix = args.prefix.clone().unwrap_or(c.target_prefix);
            (c.target_bucket, prefix)
        }
        None => (bucket.to_owned(), args.prefix.clone().unwrap_or_default()),
    };
    read_bucket(&engine, &source, &prefix, &mut reader)?;
    reader.finish()
}

/// Reads every object of `bucket` under `prefix` through the engine, as the root of the account
/// owning the bucket: the home's account (the one the local CLI acts in; `s3crypt serve` may have
/// been given root keys of another account id, whose buckets are then owned by that account).
fn read_bucket(
    engine: &SseEngine,
    bucket: &str,
    prefix: &str,
    reader: &mut Reader<'_>,
) -> anyhow::Result<()> {
    let account = engine
        .owner_of(bucket)
        .map_err(|e| anyhow::anyhow!("{}: {e}", shown(bucket)))?;
    let ctx = RequestContext::signed_by(Principal::root(&account, "AKIALOCALADMIN")).with_tls(true);
    let mut request = ListRequest {
        prefix: prefix.to_owned(),
        ..ListRequest::default()
    };
    let mut objects = 0u64;
    let mut unreadable = 0u64;
    loop {
        let page = engine
            .list_objects(&ctx, bucket, &request)
            .map_err(|e| anyhow::anyhow!("listing {}: {e}", shown(bucket)))?;
        for info in &page.contents {
            objects += 1;
            let name = format!("{}/{}", shown(bucket), shown(&info.key));
            let mut body = Vec::new();
            match engine.get_object(
                &ctx,
                bucket,
                &info.key,
                &Headers::default(),
                None,
                &mut body,
            ) {
                Ok(_) => reader.read(&name, &mut Cursor::new(body))?,
                Err(e) => {
                    unreadable += 1;
                    eprintln!("s3crypt: skipping {name}: {e}");
                }
            }
        }
        match page.next_token {
            Some(t) => request.continuation_token = Some(t),
            None => break,
        }
    }
    if objects == 0 {
        eprintln!(
            "s3crypt: no log objects in {} under {:?}",
            shown(bucket),
            prefix
        );
    } else if unreadable == objects {
        anyhow::bail!(
            "none of the {objects} objects in {} under {prefix:?} could be read",
            shown(bucket)
        );
    }
    Ok(())
}
