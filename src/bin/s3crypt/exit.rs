//! Exit codes and error reports of the CLI: one table, one classification of the library's typed
//! errors, one JSON shape.
//!
//! | code | meaning                                                                                     |
//! |------|---------------------------------------------------------------------------------------------|
//! | 0    | success                                                                                     |
//! | 1    | any other failure (bad input file, conflict, invalid state, I/O, internal error)            |
//! | 2    | usage: bad arguments or options (clap's own code), a malformed BUCKET/KEY or header         |
//! | 3    | access denied: authentication or authorization refused (S3 AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch, KMS AccessDeniedException, a file the user may not read) |
//! | 4    | not found: no such bucket, key, version, KMS key or local file                              |
//! | 5    | server or remote failure: HTTP 5xx, throttling after retries, a connection that failed      |
//! | 6    | decryption refused: the data or its metadata failed authentication, or the key is wrong     |
//! | 141  | stdout was closed by its reader (`| head`); nothing is printed                              |
//!
//! The classification reads the library's typed errors ([`S3Error`], [`EnvelopeError`], [`KmsError`],
//! [`std::io::Error`]) in the error chain, outermost first; it never parses messages.

use std::fmt;
use std::io;
use std::process::ExitCode;

use s3crypt::envelope::EnvelopeError;
use s3crypt::kms::{KmsError, KmsErrorKind};
use s3crypt::s3::{S3Error, S3ErrorCode};

/// The exit-code table, for `--help` (kept beside the table above; the golden help test pins it).
pub(crate) const HELP: &str = "\
Exit status:
  0    success
  1    any other failure (bad input file, conflict, I/O, internal error)
  2    usage: bad arguments or options, a malformed BUCKET/KEY or header
  3    access denied (S3 AccessDenied, bad credentials or signature, KMS AccessDeniedException)
  4    not found (bucket, key, version, KMS key, local file)
  5    server or remote failure (HTTP 5xx, throttling after retries, connection failed)
  6    decryption refused: authentication failed or wrong key
With --json, an error is one line on stderr:
  {\"error\":{\"code\":\"NoSuchKey\",\"message\":\"...\",\"exit_code\":4}}";

/// The class of a failure; its discriminant is the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Class {
    /// Any other failure.
    Failure = 1,
    /// Bad arguments.
    Usage = 2,
    /// Authentication or authorization refused.
    AccessDenied = 3,
    /// The bucket, object, key or file does not exist.
    NotFound = 4,
    /// A server fault, throttling, or a failed connection.
    Remote = 5,
    /// The ciphertext failed authentication or the key is wrong.
    Decryption = 6,
}

impl Class {
    /// The process exit code.
    pub(crate) fn code(self) -> u8 {
        self as u8
    }

    /// The default error code for the JSON report when no typed error names one.
    fn name(self) -> &'static str {
        match self {
            Self::Failure => "Failure",
            Self::Usage => "UsageError",
            Self::AccessDenied => "AccessDenied",
            Self::NotFound => "NotFound",
            Self::Remote => "RemoteError",
            Self::Decryption => "DecryptionFailed",
        }
    }
}

/// A mistake in the command line that clap cannot see (a malformed BUCKET/KEY, a bad header): exit
/// code 2.
#[derive(Debug)]
pub(crate) struct Usage(pub(crate) String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// Returns a [`Usage`] error (exit code 2) from the enclosing function: `bail!` for a bad combination
/// of arguments that clap cannot express.
macro_rules! usage {
    ($($arg:tt)*) => {
        return Err($crate::exit::Usage(format!($($arg)*)).into())
    };
}
pub(crate) use usage;

/// An error classified: the code scripts match on, and the exit class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Classified {
    /// An S3 or KMS error code (`NoSuchKey`, `AccessDeniedException`), or a CLI one (`UsageError`).
    pub(crate) code: String,
    /// The exit class.
    pub(crate) class: Class,
}

/// Classifies an S3 error by its code and status.
pub(crate) fn s3(e: &S3Error) -> Classified {
    use S3ErrorCode as C;
    let class = match e.code() {
        C::AccessDenied
        | C::AccessForbidden
        | C::AccountProblem
        | C::InvalidAccessKeyId
        | C::SignatureDoesNotMatch
        | C::ExpiredToken
        | C::InvalidToken
        | C::RequestTimeTooSkewed
        | C::LambdaPermissionError => Class::AccessDenied,
        C::KmsNotFound => Class::NotFound,
        C::KmsInvalidCiphertext => Class::Decryption,
        C::SlowDown | C::ServiceUnavailable => Class::Remote,
        _ if e.status() == 404 => Class::NotFound,
        _ if e.status() >= 500 => Class::Remote,
        _ => Class::Failure,
    };
    Classified {
        code: e.code().as_str().to_owned(),
        class,
    }
}

/// Classifies a KMS error by its kind.
pub(crate) fn kms(e: &KmsError) -> Classified {
    let class = match e.kind() {
        KmsErrorKind::NotFound => Class::NotFound,
        KmsErrorKind::AccessDenied | KmsErrorKind::Authentication(_) => Class::AccessDenied,
        KmsErrorKind::InvalidCiphertext | KmsErrorKind::IncorrectKey => Class::Decryption,
        k if k.is_retryable() => Class::Remote,
        _ => Class::Failure,
    };
    Classified {
        code: e.code().to_owned(),
        class,
    }
}

fn envelope(e: &EnvelopeError) -> Classified {
    let (code, class) = match e {
        EnvelopeError::Kms(k) => return kms(k),
        EnvelopeError::Io(io) => return io_error(io),
        EnvelopeError::Authentication => ("AuthenticationFailed", Class::Decryption),
        EnvelopeError::CommitmentMismatch => ("CommitmentMismatch", Class::Decryption),
        EnvelopeError::WrongKey => ("WrongKey", Class::Decryption),
        EnvelopeError::ContextMismatch => ("ContextMismatch", Class::Decryption),
        EnvelopeError::NotEncrypted => ("NotEncrypted", Class::Failure),
        _ => ("EnvelopeError", Class::Failure),
    };
    Classified {
        code: code.to_owned(),
        class,
    }
}

fn io_error(e: &io::Error) -> Classified {
    let (code, class) = match e.kind() {
        io::ErrorKind::NotFound => ("FileNotFound", Class::NotFound),
        io::ErrorKind::PermissionDenied => ("PermissionDenied", Class::AccessDenied),
        _ => ("IoError", Class::Failure),
    };
    Classified {
        code: code.to_owned(),
        class,
    }
}

#[cfg(feature = "s3-client")]
fn s3_envelope(e: &s3crypt::envelope::s3::S3EnvelopeError) -> Classified {
    use s3crypt::envelope::s3::S3EnvelopeError as E;
    match e {
        E::Envelope(inner) => envelope(inner),
        E::NoSuchKey { .. } => Classified {
            code: "NoSuchKey".into(),
            class: Class::NotFound,
        },
        E::NoSuchBucket { .. } => Classified {
            code: "NoSuchBucket".into(),
            class: Class::NotFound,
        },
        E::S3 { code, status, .. } => {
            let class = match code.parse::<S3ErrorCode>() {
                Ok(c) => s3(&S3Error::from_code(c)).class,
                Err(_) if status.is_none_or(|s| s >= 500) => Class::Remote,
                Err(_) if *status == Some(403) => Class::AccessDenied,
                Err(_) if *status == Some(404) => Class::NotFound,
                Err(_) => Class::Failure,
            };
            Classified {
                code: code.clone(),
                class,
            }
        }
        _ => Classified {
            code: "S3EnvelopeError".into(),
            class: Class::Failure,
        },
    }
}

/// Classifies an error by the first typed error in its chain.
pub(crate) fn classify(e: &anyhow::Error) -> Classified {
    for cause in e.chain() {
        if cause.is::<Usage>() {
            return Classified {
                code: Class::Usage.name().to_owned(),
                class: Class::Usage,
            };
        }
        if let Some(s) = cause.downcast_ref::<S3Error>() {
            return s3(s);
        }
        #[cfg(feature = "s3-client")]
        if let Some(s) = cause.downcast_ref::<s3crypt::envelope::s3::S3EnvelopeError>() {
            return s3_envelope(s);
        }
        if let Some(env) = cause.downcast_ref::<EnvelopeError>() {
            return envelope(env);
        }
        if let Some(k) = cause.downcast_ref::<KmsError>() {
            return kms(k);
        }
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            return io_error(io);
        }
    }
    Classified {
        code: Class::Failure.name().to_owned(),
        class: Class::Failure,
    }
}

/// The JSON error report: `{"error": {"code", "message", "exit_code", "http_status"?}}`, keys in this
/// order whatever serde_json's map ordering.
#[derive(serde::Serialize)]
struct JsonReport<'a> {
    error: JsonError<'a>,
}

#[derive(serde::Serialize)]
struct JsonError<'a> {
    code: &'a str,
    message: &'a str,
    exit_code: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_status: Option<u16>,
}

fn print_json(code: &str, message: &str, exit_code: u8, http_status: Option<u16>) {
    let r = JsonReport {
        error: JsonError {
            code,
            message,
            exit_code,
            http_status,
        },
    };
    match serde_json::to_string(&r) {
        Ok(line) => eprintln!("{line}"),
        Err(_) => eprintln!("s3crypt: error: {message}"),
    }
}

/// Prints an error report on stderr (one JSON object with `--json`, else `s3crypt: error: TEXT`) and
/// returns its exit code.
pub(crate) fn report(c: &Classified, text: &str, json: bool) -> ExitCode {
    if json {
        print_json(&c.code, text, c.class.code(), None);
    } else {
        eprintln!("s3crypt: error: {text}");
    }
    ExitCode::from(c.class.code())
}

/// Prints an S3 error: with `--json`, `message` is S3's message and `http_status` is added; the text
/// line is `s3crypt: error: HTTP STATUS CODE: message (causes)` (the local operator sees the cause of a
/// server fault too, which a client of S3 would not).
pub(crate) fn report_s3(e: &S3Error, json: bool) -> ExitCode {
    let c = s3(e);
    if json {
        print_json(&c.code, e.message(), c.class.code(), Some(e.status()));
        ExitCode::from(c.class.code())
    } else {
        report(
            &c,
            &format!("HTTP {} {}: {}", e.status(), e.code(), e.detail()),
            false,
        )
    }
}

/// A clap error (usage, `--help`, `--version`): printed by clap, or as JSON with `--json`; exits
/// with clap's code (0 for help and version, 2 for usage).
pub(crate) fn clap_error(e: &clap::Error, json: bool) -> ExitCode {
    let code = u8::try_from(e.exit_code()).unwrap_or(Class::Usage.code());
    if json && e.use_stderr() {
        // The first line of clap's rendering, without its `error: ` prefix and the usage block.
        let rendered = e.render().to_string();
        let message = rendered
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches("error: ");
        print_json(Class::Usage.name(), message, code, None);
    } else {
        let _ = e.print();
    }
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_errors_map_to_their_class() {
        let e = anyhow::Error::new(S3Error::no_such_key()).context("get");
        assert_eq!(classify(&e).class, Class::NotFound);
        assert_eq!(classify(&e).code, "NoSuchKey");
        let e = anyhow::Error::new(S3Error::access_denied("no"));
        assert_eq!(classify(&e).class, Class::AccessDenied);
        let e = anyhow::Error::new(S3Error::internal(io::Error::other("disk")));
        assert_eq!(classify(&e).class, Class::Remote);
        let e = anyhow::Error::new(EnvelopeError::Authentication);
        assert_eq!(classify(&e).class, Class::Decryption);
        let e = anyhow::Error::new(EnvelopeError::Kms(KmsError::not_found("alias/x")));
        assert_eq!(classify(&e).code, "NotFoundException");
        assert_eq!(classify(&e).class, Class::NotFound);
        let e = anyhow::Error::new(KmsError::throttled(std::time::Duration::from_secs(1)));
        assert_eq!(classify(&e).class, Class::Remote);
        let e = anyhow::Error::new(io::Error::from(io::ErrorKind::NotFound)).context("opening x");
        assert_eq!(classify(&e).class, Class::NotFound);
        let e = anyhow::Error::new(Usage("bad".into()));
        assert_eq!(classify(&e).class, Class::Usage);
        assert_eq!(classify(&anyhow::anyhow!("plain")).class, Class::Failure);
    }
}
