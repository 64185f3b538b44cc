//! Glacier vaults with Vault Lock, as the legacy Glacier REST API (`2012-06-01`) presents them: vaults,
//! archives (encrypted at rest), vault access policies and vault lock policies.
//!
//! | you want to…                                              | use                               |
//! |-----------------------------------------------------------|-----------------------------------|
//! | vault and archive operations, authorized                  | [`Glacier`] (`vault`)             |
//! | the Vault Lock state machine (24-hour lock IDs)           | [`lock`]                          |
//! | Glacier's SHA-256 tree hash                               | [`tree_hash`]                     |
//! | the errors, with Glacier's codes and statuses             | [`GlacierError`]                  |
//!
//! The HTTPS endpoint (`s3crypt serve`, `crate::server`) routes `/{accountId}/vaults…` here; the CLI
//! (`s3crypt vault …`) calls the same [`Glacier`] on the local home. Every operation is authorized by
//! the crate's one policy engine ([`crate::iam::authorize()`] with
//! [`ResourceModel::Glacier`](crate::iam::ResourceModel::Glacier)): the caller's identity policies, the
//! vault access policy and the vault lock policy together. Time comes from an injected
//! [`Clock`](crate::aws::clock::Clock), so the 24-hour lock-ID expiry and `glacier:ArchiveAgeInDays`
//! are testable.

mod archive;
pub mod lock;
pub mod tree_hash;
mod vault;

pub use vault::{
    ArchiveCreated, Glacier, LockDescription, MAX_ARCHIVE_BYTES, MAX_POLICY_BYTES,
    VaultDescription, VaultPage, vault_arn,
};

/// Glacier's error codes (the `code` of its JSON error body; botocore raises a `ClientError` with it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GlacierErrorCode {
    /// 404: no such vault, archive or lock policy.
    ResourceNotFound,
    /// 400: a parameter is wrong (bad name, checksum mismatch, vault not empty, wrong lock ID).
    InvalidParameterValue,
    /// 400: a required parameter or header is missing.
    MissingParameterValue,
    /// 403: the policies do not allow the request, or the vault lock forbids it.
    AccessDenied,
    /// 400: too many vaults.
    LimitExceeded,
    /// 408: the body did not arrive in time.
    RequestTimeout,
    /// 500: the service could not complete the request (I/O, damaged state).
    ServiceUnavailable,
    /// 403: no SigV4 signature.
    MissingAuthenticationToken,
    /// 403: the access key is not known.
    UnrecognizedClient,
    /// 403: the signature (or its scope or time) does not verify.
    InvalidSignature,
    /// 400: the `Authorization` header is malformed.
    IncompleteSignature,
    /// 400: a path that is no Glacier operation.
    UnknownOperation,
    /// 501: a Glacier operation this server does not implement (jobs, multipart uploads, …).
    NotImplemented,
}

impl GlacierErrorCode {
    /// The code as Glacier spells it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ResourceNotFound => "ResourceNotFoundException",
            Self::InvalidParameterValue => "InvalidParameterValueException",
            Self::MissingParameterValue => "MissingParameterValueException",
            Self::AccessDenied => "AccessDeniedException",
            Self::LimitExceeded => "LimitExceededException",
            Self::RequestTimeout => "RequestTimeoutException",
            Self::ServiceUnavailable => "ServiceUnavailableException",
            Self::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            Self::UnrecognizedClient => "UnrecognizedClientException",
            Self::InvalidSignature => "InvalidSignatureException",
            Self::IncompleteSignature => "IncompleteSignatureException",
            Self::UnknownOperation => "UnknownOperationException",
            Self::NotImplemented => "NotImplemented",
        }
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(self) -> u16 {
        match self {
            Self::ResourceNotFound => 404,
            Self::AccessDenied
            | Self::MissingAuthenticationToken
            | Self::UnrecognizedClient
            | Self::InvalidSignature => 403,
            Self::RequestTimeout => 408,
            Self::ServiceUnavailable => 500,
            Self::NotImplemented => 501,
            Self::InvalidParameterValue
            | Self::MissingParameterValue
            | Self::LimitExceeded
            | Self::IncompleteSignature
            | Self::UnknownOperation => 400,
        }
    }

    /// `Client` or `Server` (the `type` of the JSON error body).
    #[must_use]
    pub fn kind(self) -> &'static str {
        if self.status() >= 500 {
            "Server"
        } else {
            "Client"
        }
    }
}

/// A refused Glacier request: the code and a message for the client (never a secret or a local path).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct GlacierError {
    code: GlacierErrorCode,
    message: String,
}

impl GlacierError {
    /// An error with `code` and `message`.
    #[must_use]
    pub fn new(code: GlacierErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A `ServiceUnavailableException` (500) saying only `what` failed.
    #[must_use]
    pub fn internal(what: &str) -> Self {
        Self::new(
            GlacierErrorCode::ServiceUnavailable,
            format!("The service cannot complete the request: {what}"),
        )
    }

    /// The code.
    #[must_use]
    pub fn code(&self) -> GlacierErrorCode {
        self.code
    }

    /// The message.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The JSON body Glacier answers with: `{"code": …, "message": …, "type": "Client"|"Server"}`.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "code": self.code.as_str(),
            "message": self.message,
            "type": self.code.kind(),
        })
        .to_string()
    }
}
