//! Function configurations and their registry: `HOME/lambda/functions/NAME.json`, one owner-only file per
//! function, replaced atomically ([`crate::fsutil::write_atomic`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::iam::policy::{ParseOptions, Policy};

/// The default timeout of a function, in seconds (AWS's).
pub const DEFAULT_TIMEOUT_SECS: u32 = 3;
/// The largest timeout of a function, in seconds (AWS's 15 minutes).
pub const MAX_TIMEOUT_SECS: u32 = 900;
/// The default memory size, in MB (AWS's). Recorded and passed to the function; not enforced.
pub const DEFAULT_MEMORY_MB: u32 = 128;
/// The smallest memory size AWS accepts, in MB.
pub const MIN_MEMORY_MB: u32 = 128;
/// The largest memory size AWS accepts, in MB.
pub const MAX_MEMORY_MB: u32 = 10_240;
/// The longest handler string AWS accepts.
pub const MAX_HANDLER_LEN: usize = 128;

/// How long a registry operation waits for another process holding the registry lock.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// A failed registry operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// No function of that name (AWS: `ResourceNotFoundException`).
    #[error("Function not found: {0}")]
    FunctionNotFound(String),
    /// The name, ARN or qualifier does not follow Lambda's rules (AWS: `InvalidParameterValueException`).
    #[error(
        "invalid function name {0:?}: 1 to 64 characters of [A-Za-z0-9_-], or a Lambda function ARN"
    )]
    InvalidName(String),
    /// A qualifier other than `$LATEST` or a version number (aliases are not supported).
    #[error("unsupported qualifier {0:?}: only $LATEST and version numbers are accepted")]
    UnsupportedQualifier(String),
    /// A function of that name exists (AWS: `ResourceConflictException`).
    #[error("Function already exist: {0}")]
    AlreadyExists(String),
    /// The role policy is not a valid IAM identity policy.
    #[error("invalid role policy: {0}")]
    InvalidPolicy(String),
    /// Another configuration field is out of range (timeout, memory, handler, URL, code directory).
    #[error("invalid {field}: {reason}")]
    InvalidParameter {
        /// The field (`timeout`, `memory`, `handler`, `url`, `code`).
        field: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// A stored configuration file does not parse (edited by hand, or from a newer version).
    #[error("corrupt function file {path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parse error.
        reason: String,
    },
    /// Reading, writing or locking the registry failed.
    #[error("lambda registry I/O on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// What runs a function's code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Runtime {
    /// `python -m awslambdaric HANDLER` (the official Python runtime interface client).
    Python,
    /// `aws-lambda-ric HANDLER` (the official Node.js runtime interface client, Node.js ≥ 22).
    Node,
    /// An executable (`handler`, relative to the code directory) that speaks the Runtime API itself,
    /// as a custom runtime's `bootstrap` does.
    Command,
    /// No process: the event is POSTed to the function's loopback `url`.
    Webhook,
}

impl Runtime {
    /// The name used on the command line and in stored files (`python`, `node`, `command`, `webhook`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Python => "python",
            Self::Node => "node",
            Self::Command => "command",
            Self::Webhook => "webhook",
        }
    }

    /// The closest AWS runtime identifier, as `aws lambda get-function` prints it.
    #[must_use]
    pub fn aws_name(self) -> &'static str {
        match self {
            Self::Python => "python3",
            Self::Node => "nodejs22.x",
            Self::Command => "provided.al2023",
            Self::Webhook => "webhook",
        }
    }
}

impl std::str::FromStr for Runtime {
    type Err = RegistryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "python" => Ok(Self::Python),
            "node" | "nodejs" => Ok(Self::Node),
            "command" | "provided" => Ok(Self::Command),
            "webhook" => Ok(Self::Webhook),
            other => Err(RegistryError::InvalidParameter {
                field: "runtime",
                reason: format!("{other:?} is not one of python, node, command, webhook"),
            }),
        }
    }
}

impl std::fmt::Display for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One function's configuration, as stored in `HOME/lambda/functions/NAME.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FunctionConfig {
    /// 1–64 characters of `[A-Za-z0-9_-]`.
    pub name: String,
    /// What runs the code.
    pub runtime: Runtime,
    /// `module.function` (Python), `file.function` (Node), an executable (Command); ignored for Webhook.
    pub handler: String,
    /// The code directory (`LAMBDA_TASK_ROOT`, the working directory, Python's `PYTHONPATH`).
    pub code_dir: PathBuf,
    /// The execution role's permissions: an IAM identity policy document (JSON), kept verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_policy: Option<String>,
    /// Seconds an invocation may run (1–900, default 3).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u32,
    /// Memory size in MB (128–10240, default 128): passed as `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, not enforced.
    #[serde(default = "default_memory")]
    pub memory_mb: u32,
    /// Webhook functions only: the loopback `http://` or `https://` URL the event is POSTed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

fn default_timeout() -> u32 {
    DEFAULT_TIMEOUT_SECS
}

fn default_memory() -> u32 {
    DEFAULT_MEMORY_MB
}

impl FunctionConfig {
    /// A configuration with AWS's defaults (3 s, 128 MB, no role policy, no URL). Call
    /// [`validate`](Self::validate) (or let [`FunctionRegistry::create`] do it) before use.
    #[must_use]
    pub fn new(
        name: impl Into<String>,
        runtime: Runtime,
        handler: impl Into<String>,
        code_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            name: name.into(),
            runtime,
            handler: handler.into(),
            code_dir: code_dir.into(),
            role_policy: None,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            memory_mb: DEFAULT_MEMORY_MB,
            url: None,
        }
    }

    /// `arn:aws:lambda:REGION:ACCOUNT:function:NAME`.
    #[must_use]
    pub fn arn(&self, region: &str, account: &str) -> String {
        format!("arn:aws:lambda:{region}:{account}:function:{}", self.name)
    }

    /// The timeout as a duration.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.timeout_secs))
    }

    /// Checks every field: name, handler, timeout, memory, role policy (parsed by the crate's IAM policy
    /// engine as an identity policy), and the webhook URL (loopback only).
    ///
    /// # Errors
    /// The first field that is refused.
    pub fn validate(&self) -> Result<(), RegistryError> {
        validate_name(&self.name)?;
        if self.runtime != Runtime::Webhook {
            if self.handler.is_empty() || self.handler.len() > MAX_HANDLER_LEN {
                return Err(invalid("handler", "1 to 128 characters"));
            }
            if self.handler.chars().any(char::is_control) {
                return Err(invalid("handler", "control characters"));
            }
            if self.code_dir.as_os_str().is_empty() {
                return Err(invalid("code", "an empty path"));
            }
            if self.url.is_some() {
                return Err(invalid("url", "only webhook functions have a URL"));
            }
        } else {
            let url = self
                .url
                .as_deref()
                .ok_or_else(|| invalid("url", "webhook functions need --url"))?;
            validate_webhook_url(url)?;
        }
        if !(1..=MAX_TIMEOUT_SECS).contains(&self.timeout_secs) {
            return Err(invalid("timeout", "1 to 900 seconds"));
        }
        if !(MIN_MEMORY_MB..=MAX_MEMORY_MB).contains(&self.memory_mb) {
            return Err(invalid("memory", "128 to 10240 MB"));
        }
        if let Some(policy) = &self.role_policy {
            Policy::parse(policy, &ParseOptions::IDENTITY)
                .map_err(|e| RegistryError::InvalidPolicy(e.to_string()))?;
        }
        Ok(())
    }
}

fn invalid(field: &'static str, reason: &str) -> RegistryError {
    RegistryError::InvalidParameter {
        field,
        reason: reason.to_owned(),
    }
}

/// Checks Lambda's function-name rule: 1–64 characters of `[A-Za-z0-9_-]`.
///
/// # Errors
/// [`RegistryError::InvalidName`].
pub fn validate_name(name: &str) -> Result<(), RegistryError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(RegistryError::InvalidName(name.to_owned()))
    }
}

/// Accepts `http://` or `https://` URLs whose host is `127.0.0.1` (any `127.x.y.z`), `[::1]` or
/// `localhost`, with no user information.
///
/// # Errors
/// [`RegistryError::InvalidParameter`] for `url`.
pub fn validate_webhook_url(url: &str) -> Result<(), RegistryError> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| invalid("url", "only http:// and https:// URLs"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(invalid("url", "user information is not accepted"));
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return Err(invalid(
            "url",
            "only loopback hosts (127.0.0.0/8, [::1], localhost)",
        ));
    }
    if url.chars().any(|c| c.is_control() || c == ' ') {
        return Err(invalid("url", "control characters or spaces"));
    }
    Ok(())
}

/// A function named by name, partial ARN or ARN, with its qualifier.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FunctionRef {
    /// The function name.
    pub name: String,
    /// The qualifier (`$LATEST` or a version number), if one was given.
    pub qualifier: Option<String>,
    /// The region of a full ARN.
    pub region: Option<String>,
    /// The account of a full or partial ARN.
    pub account: Option<String>,
}

impl FunctionRef {
    /// Parses what Lambda's `FunctionName` accepts: `NAME`, `NAME:QUALIFIER`,
    /// `ACCOUNT:function:NAME[:QUALIFIER]` and `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`.
    /// Qualifiers: `$LATEST` or a version number (aliases are refused).
    ///
    /// # Errors
    /// [`RegistryError::InvalidName`] or [`RegistryError::UnsupportedQualifier`].
    pub fn parse(s: &str) -> Result<Self, RegistryError> {
        let bad = || RegistryError::InvalidName(s.to_owned());
        let parts: Vec<&str> = s.split(':').collect();
        let (region, account, name, qualifier) = match parts.as_slice() {
            [name] => (None, None, *name, None),
            [name, q] => (None, None, *name, Some(*q)),
            [account, "function", name] => (None, Some(*account), *name, None),
            [account, "function", name, q] => (None, Some(*account), *name, Some(*q)),
            [
                "arn",
                partition,
                "lambda",
                region,
                account,
                "function",
                name,
                rest @ ..,
            ] if partition.starts_with("aws") && rest.len() <= 1 => {
                (Some(*region), Some(*account), *name, rest.first().copied())
            }
            _ => return Err(bad()),
        };
        validate_name(name).map_err(|_| bad())?;
        if let Some(a) = account
            && (a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad());
        }
        if let Some(r) = region
            && (r.is_empty() || !r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        {
            return Err(bad());
        }
        if let Some(q) = qualifier {
            let version = !q.is_empty() && q.len() <= 10 && q.bytes().all(|b| b.is_ascii_digit());
            if q != "$LATEST" && !version {
                return Err(RegistryError::UnsupportedQualifier(q.to_owned()));
            }
        }
        Ok(Self {
            name: name.to_owned(),
            qualifier: qualifier.map(str::to_owned),
            region: region.map(str::to_owned),
            account: account.map(str::to_owned),
        })
    }
}

/// The functions of a home: `HOME/lambda/functions/NAME.json`.
#[derive(Clone, Debug)]
pub struct FunctionRegistry {
    dir: PathBuf,
}

impl FunctionRegistry {
    /// Opens (creating it, owner-only) the registry of `home`.
    ///
    /// # Errors
    /// [`RegistryError::Io`] if the directory cannot be created.
    pub fn open(home: &Path) -> Result<Self, RegistryError> {
        let dir = home.join("lambda").join("functions");
        crate::fsutil::create_private_dir(&dir).map_err(|source| RegistryError::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(Self { dir })
    }

    /// The registry directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stores a new function after [`FunctionConfig::validate`].
    ///
    /// # Errors
    /// [`RegistryError::AlreadyExists`], a validation error, or [`RegistryError::Io`].
    pub fn create(&self, config: &FunctionConfig) -> Result<(), RegistryError> {
        config.validate()?;
        let _lock = self.lock()?;
        let path = self.path_of(&config.name);
        if path.exists() {
            return Err(RegistryError::AlreadyExists(config.name.clone()));
        }
        self.write(&path, config)
    }

    /// Replaces an existing function's configuration (its name is the key).
    ///
    /// # Errors
    /// [`RegistryError::FunctionNotFound`], a validation error, or [`RegistryError::Io`].
    pub fn update(&self, config: &FunctionConfig) -> Result<(), RegistryError> {
        config.validate()?;
        let _lock = self.lock()?;
        let path = self.path_of(&config.name);
        if !path.exists() {
            return Err(RegistryError::FunctionNotFound(config.name.clone()));
        }
        self.write(&path, config)
    }

    /// The function named by a name, `NAME:$LATEST`, a partial ARN or an ARN ([`FunctionRef::parse`]).
    /// The region and account of an ARN are not checked here ([`super::LambdaHost`] does).
    ///
    /// # Errors
    /// [`RegistryError::FunctionNotFound`], [`RegistryError::InvalidName`],
    /// [`RegistryError::UnsupportedQualifier`], [`RegistryError::Corrupt`] or [`RegistryError::Io`].
    pub fn get(&self, function: &str) -> Result<FunctionConfig, RegistryError> {
        let r = FunctionRef::parse(function)?;
        let path = self.path_of(&r.name);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(RegistryError::FunctionNotFound(r.name));
            }
            Err(source) => return Err(RegistryError::Io { path, source }),
        };
        let config: FunctionConfig =
            serde_json::from_slice(&text).map_err(|e| RegistryError::Corrupt {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        if config.name != r.name {
            return Err(RegistryError::Corrupt {
                path,
                reason: format!("it names the function {:?}", config.name),
            });
        }
        Ok(config)
    }

    /// Every function, sorted by name. Files that are not `NAME.json` with a valid name are ignored.
    ///
    /// # Errors
    /// [`RegistryError::Io`] or [`RegistryError::Corrupt`].
    pub fn list(&self) -> Result<Vec<FunctionConfig>, RegistryError> {
        let io = |source| RegistryError::Io {
            path: self.dir.clone(),
            source,
        };
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let file = entry.file_name();
            let Some(name) = file.to_str().and_then(|f| f.strip_suffix(".json")) else {
                continue;
            };
            if validate_name(name).is_ok() {
                names.push(name.to_owned());
            }
        }
        names.sort();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            match self.get(&name) {
                Ok(c) => out.push(c),
                // Deleted between the listing and the read.
                Err(RegistryError::FunctionNotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Removes a function (by name, or anything [`get`](Self::get) accepts).
    ///
    /// # Errors
    /// [`RegistryError::FunctionNotFound`], a name error, or [`RegistryError::Io`].
    pub fn delete(&self, function: &str) -> Result<(), RegistryError> {
        let r = FunctionRef::parse(function)?;
        let _lock = self.lock()?;
        let path = self.path_of(&r.name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(RegistryError::FunctionNotFound(r.name))
            }
            Err(source) => Err(RegistryError::Io { path, source }),
        }
    }

    fn path_of(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    fn lock(&self) -> Result<crate::fsutil::LockGuard, RegistryError> {
        let path = self.dir.join(".lock");
        crate::fsutil::lock_exclusive(&path, LOCK_WAIT)
            .map_err(|source| RegistryError::Io { path, source })
    }

    fn write(&self, path: &Path, config: &FunctionConfig) -> Result<(), RegistryError> {
        let mut text = serde_json::to_vec_pretty(config).map_err(|e| RegistryError::Io {
            path: path.to_owned(),
            source: std::io::Error::other(e),
        })?;
        text.push(b'\n');
        crate::fsutil::write_atomic(path, &text).map_err(|e| {
            let (path, source) = e.into_parts();
            RegistryError::Io { path, source }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_lambdas_rule() {
        for ok in ["a", "echo_1", "A-b", &"x".repeat(64)] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a.b", "a b", "é", &"x".repeat(65), "a/b", "a:b"] {
            assert!(
                matches!(validate_name(bad), Err(RegistryError::InvalidName(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn references_by_name_partial_arn_and_arn() {
        let r = FunctionRef::parse("echo").expect("name");
        assert_eq!((r.name.as_str(), r.qualifier), ("echo", None));
        let r = FunctionRef::parse("echo:$LATEST").expect("partial");
        assert_eq!(r.qualifier.as_deref(), Some("$LATEST"));
        let r = FunctionRef::parse("123456789012:function:echo:7").expect("account");
        assert_eq!(r.account.as_deref(), Some("123456789012"));
        assert_eq!(r.qualifier.as_deref(), Some("7"));
        let r = FunctionRef::parse("arn:aws:lambda:eu-west-1:123456789012:function:echo:$LATEST")
            .expect("arn");
        assert_eq!(r.region.as_deref(), Some("eu-west-1"));
        assert_eq!(r.name, "echo");
        for bad in [
            "arn:aws:lambda:eu-west-1:123456789012:function:",
            "arn:aws:s3:eu-west-1:123456789012:function:echo",
            "arn:aws:lambda:eu-west-1:12:function:echo",
            "a:b:c:d:e",
            "",
        ] {
            assert!(
                matches!(FunctionRef::parse(bad), Err(RegistryError::InvalidName(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            FunctionRef::parse("echo:prod"),
            Err(RegistryError::UnsupportedQualifier(_))
        ));
    }

    #[test]
    fn webhook_urls_must_be_loopback() {
        for ok in [
            "http://127.0.0.1:8080/hook",
            "https://localhost/x",
            "http://[::1]:9/",
            "http://127.1.2.3",
        ] {
            assert!(validate_webhook_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com/",
            "ftp://127.0.0.1/",
            "http://user@127.0.0.1/",
            "http://10.0.0.1/",
            "http://127.0.0.1.evil.com/",
            "127.0.0.1",
        ] {
            assert!(validate_webhook_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn registry_round_trip_with_owner_only_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let reg = FunctionRegistry::open(dir.path()).expect("open");
        let mut f = FunctionConfig::new("echo", Runtime::Python, "echo.handler", "/code");
        reg.create(&f).expect("create");
        assert!(matches!(
            reg.create(&f),
            Err(RegistryError::AlreadyExists(_))
        ));
        assert_eq!(reg.get("echo").expect("get"), f);
        assert_eq!(
            reg.get("arn:aws:lambda:us-east-1:000000000000:function:echo:$LATEST")
                .expect("arn"),
            f
        );
        f.timeout_secs = 30;
        reg.update(&f).expect("update");
        assert_eq!(reg.get("echo").expect("get").timeout_secs, 30);
        #[cfg(unix)]
        {
            let meta = std::fs::metadata(reg.dir().join("echo.json")).expect("meta");
            assert_eq!(crate::fsutil::shared_mode(&meta), None);
        }
        f.timeout_secs = 901;
        assert!(reg.update(&f).is_err());
        f.timeout_secs = 3;
        f.role_policy = Some("{\"Statement\": 5}".into());
        assert!(matches!(
            reg.update(&f),
            Err(RegistryError::InvalidPolicy(_))
        ));
        assert_eq!(reg.list().expect("list").len(), 1);
        reg.delete("echo").expect("delete");
        assert!(matches!(
            reg.get("echo"),
            Err(RegistryError::FunctionNotFound(_))
        ));
        assert!(matches!(
            reg.delete("echo"),
            Err(RegistryError::FunctionNotFound(_))
        ));
    }
}
