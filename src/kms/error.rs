//! AWS KMS errors.

use std::fmt;
use std::time::Duration;

/// Which AWS KMS error occurred. [`KmsErrorKind::code`] is the exact AWS `__type`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KmsErrorKind {
    /// The key, alias or resource does not exist.
    NotFound,
    /// The key is disabled.
    Disabled,
    /// The key is in a state that does not allow the operation (for example pending deletion).
    KmsInvalidState,
    /// The ciphertext blob is not valid: tampered, truncated, or the encryption context differs.
    InvalidCiphertext,
    /// `KeyId` names a different key than the one that encrypted the blob.
    IncorrectKey,
    /// The shared request quota is exhausted.
    Throttling,
    /// The caller's principal is not allowed by the key policy.
    AccessDenied,
    /// A parameter violates a constraint (lengths, ranges, exclusive fields).
    Validation,
    /// The request body is not valid JSON for the operation.
    Serialization,
    /// The key's usage does not allow the operation.
    InvalidKeyUsage,
    /// A grant token is malformed.
    InvalidGrantToken,
    /// `DryRun` was set and the call would have succeeded.
    DryRunOperation,
    /// The key material is temporarily unavailable (server side, retryable).
    KeyUnavailable,
    /// The service timed out on a dependency (server side, retryable).
    DependencyTimeout,
    /// Internal service error (server side, retryable).
    KmsInternal,
    /// The alias already exists.
    AlreadyExists,
    /// The alias name is malformed or reserved (`alias/aws/`).
    InvalidAliasName,
    /// The key policy document is malformed.
    MalformedPolicyDocument,
    /// The operation or parameter is not supported by this implementation.
    UnsupportedOperation,
    /// The `X-Amz-Target` names no known operation.
    UnknownOperation,
    /// SigV4 authentication failed; the string is the AWS code (`InvalidSignatureException`, …).
    Authentication(&'static str),
    /// The request could not be sent or the response could not be read (remote clients only).
    Transport,
    /// An error code this crate does not know (remote clients only).
    Other(String),
}

impl KmsErrorKind {
    /// The AWS error code (`__type` on the wire).
    #[must_use]
    pub fn code(&self) -> &str {
        match self {
            Self::NotFound => "NotFoundException",
            Self::Disabled => "DisabledException",
            Self::KmsInvalidState => "KMSInvalidStateException",
            Self::InvalidCiphertext => "InvalidCiphertextException",
            Self::IncorrectKey => "IncorrectKeyException",
            Self::Throttling => "ThrottlingException",
            Self::AccessDenied => "AccessDeniedException",
            Self::Validation => "ValidationException",
            Self::Serialization => "SerializationException",
            Self::InvalidKeyUsage => "InvalidKeyUsageException",
            Self::InvalidGrantToken => "InvalidGrantTokenException",
            Self::DryRunOperation => "DryRunOperationException",
            Self::KeyUnavailable => "KeyUnavailableException",
            Self::DependencyTimeout => "DependencyTimeoutException",
            Self::KmsInternal => "KMSInternalException",
            Self::AlreadyExists => "AlreadyExistsException",
            Self::InvalidAliasName => "InvalidAliasNameException",
            Self::MalformedPolicyDocument => "MalformedPolicyDocumentException",
            Self::UnsupportedOperation => "UnsupportedOperationException",
            Self::UnknownOperation => "UnknownOperationException",
            Self::Authentication(code) => code,
            Self::Transport => "TransportError",
            Self::Other(code) => code,
        }
    }

    /// Parses an AWS error code (with or without a `namespace#` prefix).
    #[must_use]
    pub fn from_code(code: &str) -> Self {
        let code = code.rsplit('#').next().unwrap_or(code);
        let code = code.split(':').next().unwrap_or(code);
        match code {
            "NotFoundException" => Self::NotFound,
            "DisabledException" => Self::Disabled,
            "KMSInvalidStateException" => Self::KmsInvalidState,
            "InvalidCiphertextException" => Self::InvalidCiphertext,
            "IncorrectKeyException" => Self::IncorrectKey,
            "ThrottlingException" => Self::Throttling,
            "AccessDeniedException" => Self::AccessDenied,
            "ValidationException" => Self::Validation,
            "SerializationException" => Self::Serialization,
            "InvalidKeyUsageException" => Self::InvalidKeyUsage,
            "InvalidGrantTokenException" => Self::InvalidGrantToken,
            "DryRunOperationException" => Self::DryRunOperation,
            "KeyUnavailableException" => Self::KeyUnavailable,
            "DependencyTimeoutException" => Self::DependencyTimeout,
            "KMSInternalException" => Self::KmsInternal,
            "AlreadyExistsException" => Self::AlreadyExists,
            "InvalidAliasNameException" => Self::InvalidAliasName,
            "MalformedPolicyDocumentException" => Self::MalformedPolicyDocument,
            "UnsupportedOperationException" => Self::UnsupportedOperation,
            "UnknownOperationException" => Self::UnknownOperation,
            "InvalidSignatureException" => Self::Authentication("InvalidSignatureException"),
            "UnrecognizedClientException" => Self::Authentication("UnrecognizedClientException"),
            "MissingAuthenticationTokenException" => {
                Self::Authentication("MissingAuthenticationTokenException")
            }
            "IncompleteSignatureException" => Self::Authentication("IncompleteSignatureException"),
            other => Self::Other(other.to_owned()),
        }
    }

    /// The HTTP status AWS KMS answers with.
    #[must_use]
    pub fn http_status(&self) -> u16 {
        match self {
            Self::KmsInternal | Self::KeyUnavailable => 500,
            Self::DependencyTimeout => 503,
            Self::Transport => 502,
            _ => 400,
        }
    }

    /// Whether a client should retry the call (throttling and transient server faults).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Throttling
                | Self::KmsInternal
                | Self::KeyUnavailable
                | Self::DependencyTimeout
                | Self::Transport
        )
    }
}

/// A failed KMS call: the AWS error kind and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KmsError {
    kind: KmsErrorKind,
    message: String,
    retry_after: Option<Duration>,
}

impl KmsError {
    /// An error of `kind` with AWS's message text.
    #[must_use]
    pub fn new(kind: KmsErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    /// `ThrottlingException` with AWS's message and the time until a token is available.
    #[must_use]
    pub fn throttled(retry_after: Duration) -> Self {
        Self {
            kind: KmsErrorKind::Throttling,
            message: "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.".into(),
            retry_after: Some(retry_after),
        }
    }

    /// `NotFoundException` for a key id, ARN or alias.
    #[must_use]
    pub fn not_found(what: &str) -> Self {
        Self::new(KmsErrorKind::NotFound, format!("{what} is not found."))
    }

    /// `ValidationException`.
    #[must_use]
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(KmsErrorKind::Validation, message)
    }

    /// The error kind.
    #[must_use]
    pub fn kind(&self) -> &KmsErrorKind {
        &self.kind
    }

    /// The AWS error code, e.g. `NotFoundException`.
    #[must_use]
    pub fn code(&self) -> &str {
        self.kind.code()
    }

    /// The message text (never contains key material or plaintext).
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// For throttling: how long until the quota admits another call, if known.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The HTTP status AWS answers with.
    #[must_use]
    pub fn http_status(&self) -> u16 {
        self.kind.http_status()
    }
}

impl fmt::Display for KmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.message)
    }
}

impl std::error::Error for KmsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        let kinds = [
            KmsErrorKind::NotFound,
            KmsErrorKind::Disabled,
            KmsErrorKind::KmsInvalidState,
            KmsErrorKind::InvalidCiphertext,
            KmsErrorKind::IncorrectKey,
            KmsErrorKind::Throttling,
            KmsErrorKind::AccessDenied,
            KmsErrorKind::Validation,
            KmsErrorKind::InvalidKeyUsage,
            KmsErrorKind::InvalidGrantToken,
            KmsErrorKind::DryRunOperation,
            KmsErrorKind::KeyUnavailable,
            KmsErrorKind::DependencyTimeout,
            KmsErrorKind::KmsInternal,
            KmsErrorKind::AlreadyExists,
        ];
        for k in kinds {
            assert_eq!(KmsErrorKind::from_code(k.code()), k);
            assert_eq!(
                KmsErrorKind::from_code(&format!("com.amazonaws.kms#{}", k.code())),
                k
            );
        }
        assert_eq!(KmsError::throttled(Duration::ZERO).http_status(), 400);
        assert!(KmsErrorKind::Throttling.is_retryable());
        assert!(!KmsErrorKind::InvalidCiphertext.is_retryable());
    }
}
