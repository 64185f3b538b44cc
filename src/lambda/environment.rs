//! The environment of a function's process: AWS's reserved variables, a few inherited ones, and the
//! variables an [`EnvProvider`] supplies at each process start. Secret values are zeroized on drop,
//! redacted in `Debug`, never logged, and scrubbed from the process's captured output.

use std::sync::Arc;

use zeroize::Zeroizing;

use super::function::FunctionConfig;

/// Called at each process start for the extra variables of a function (credentials, configuration).
pub type EnvProvider = Arc<dyn Fn(&FunctionConfig) -> Vec<EnvVar> + Send + Sync>;

/// Variables a function process inherits from the host (everything else is cleared).
pub const INHERITED: [&str; 3] = ["PATH", "HOME", "LANG"];

/// One environment variable for a function's process.
#[derive(Clone)]
pub struct EnvVar {
    name: String,
    value: Value,
}

#[derive(Clone)]
enum Value {
    Public(String),
    Secret(Zeroizing<String>),
}

impl EnvVar {
    /// A variable whose value may be logged.
    #[must_use]
    pub fn public(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: Value::Public(value.into()),
        }
    }

    /// A variable whose value is secret (a secret access key, a session token): zeroized on drop,
    /// `[REDACTED]` in `Debug`, replaced by `[REDACTED]` in the function's captured logs.
    #[must_use]
    pub fn secret(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: Value::Secret(Zeroizing::new(value.into())),
        }
    }

    /// The variable's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the value is secret.
    #[must_use]
    pub fn is_secret(&self) -> bool {
        matches!(self.value, Value::Secret(_))
    }

    /// The value, secret or not: the one explicit way to read it.
    #[must_use]
    pub fn expose_value(&self) -> &str {
        match &self.value {
            Value::Public(v) => v,
            Value::Secret(v) => v,
        }
    }

    /// A name a process may receive: non-empty, no `=` or NUL, value without NUL.
    pub(crate) fn is_valid(&self) -> bool {
        !self.name.is_empty()
            && !self.name.contains(['=', '\0'])
            && !self.expose_value().contains('\0')
    }
}

impl std::fmt::Debug for EnvVar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.value {
            Value::Public(v) => write!(f, "EnvVar({}={v:?})", self.name),
            Value::Secret(_) => write!(f, "EnvVar({}=[REDACTED])", self.name),
        }
    }
}

/// The secret values of a process, for scrubbing its output.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    secrets: Vec<Zeroizing<String>>,
}

impl Redactor {
    pub(crate) fn new(vars: &[EnvVar]) -> Self {
        let secrets = vars
            .iter()
            .filter(|v| v.is_secret() && !v.expose_value().is_empty())
            .map(|v| Zeroizing::new(v.expose_value().to_owned()))
            .collect();
        Self { secrets }
    }

    /// `text` with every secret value replaced by `[REDACTED]`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "[REDACTED]");
            }
        }
        out
    }
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug_and_scrubbed_from_output() {
        let public = EnvVar::public("STAGE", "test");
        let secret = EnvVar::secret("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-s3cr3t");
        assert_eq!(format!("{public:?}"), "EnvVar(STAGE=\"test\")");
        let shown = format!("{secret:?} {:?}", vec![secret.clone()]);
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("[REDACTED]"));
        assert_eq!(secret.expose_value(), "wJalrXUtnFEMI-s3cr3t");
        let r = Redactor::new(&[public, secret]);
        assert_eq!(
            r.scrub("key=wJalrXUtnFEMI-s3cr3t stage=test"),
            "key=[REDACTED] stage=test"
        );
        assert!(!format!("{r:?}").contains("s3cr3t"));
    }

    #[test]
    fn invalid_names_are_refused() {
        assert!(EnvVar::public("A", "b").is_valid());
        assert!(!EnvVar::public("", "b").is_valid());
        assert!(!EnvVar::public("A=B", "b").is_valid());
        assert!(!EnvVar::secret("A", "b\0").is_valid());
    }
}
