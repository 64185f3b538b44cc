//! S3 errors: HTTP status, S3 error code and S3's message.

use std::fmt;

/// An error as S3 reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Error {
    /// HTTP status (400, 403, 404, 416, 500, 503…).
    pub status: u16,
    /// The S3 error code (`InvalidArgument`, `AccessDenied`, `InvalidRequest`, …).
    pub code: String,
    /// The message S3 sends (never contains key material).
    pub message: String,
}

impl S3Error {
    /// An error with `status`, `code` and `message`.
    #[must_use]
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// 400 `InvalidArgument`.
    #[must_use]
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidArgument", message)
    }

    /// 400 `InvalidRequest`.
    #[must_use]
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidRequest", message)
    }

    /// 403 `AccessDenied`.
    #[must_use]
    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(403, "AccessDenied", message)
    }

    /// 400 `MalformedXML`.
    #[must_use]
    pub fn malformed_xml() -> Self {
        Self::new(
            400,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema.",
        )
    }

    /// 400 `MalformedPolicy`.
    #[must_use]
    pub fn malformed_policy(message: impl Into<String>) -> Self {
        Self::new(400, "MalformedPolicy", message)
    }

    /// 500 `InternalError`.
    #[must_use]
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// The S3 XML error document.
    #[must_use]
    pub fn to_xml(&self) -> String {
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message></Error>",
            esc(&self.code),
            esc(&self.message)
        )
    }
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for S3Error {}
