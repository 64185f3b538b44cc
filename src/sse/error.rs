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

    /// 400 `InvalidEncryptionAlgorithmError`: an SSE-C algorithm header other than `AES256` (FORMATS.md §3.3).
    ///
    /// The text is the one S3 sends (LocalStack's AWS captures, aws-sdk-go#2724); S3's error-code
    /// documentation words it differently ("The encryption request that you specified is not valid. The
    /// valid value is AES256.").
    #[must_use]
    pub fn invalid_encryption_algorithm() -> Self {
        Self::new(
            400,
            "InvalidEncryptionAlgorithmError",
            "The Encryption request you specified is not valid. Supported value: AES256.",
        )
    }

    /// 403 `AccessDenied`: an SSE-C read (GET, HEAD, copy source) whose key is not the one the object was
    /// stored with (FORMATS.md §3.3). Return this, and nothing more precise, whenever the customer key
    /// fails to authenticate, however that is detected.
    #[must_use]
    pub fn customer_key_mismatch() -> Self {
        Self::access_denied(
            "Requests specifying Server Side Encryption with Customer provided keys must provide the correct secret key.",
        )
    }

    /// 403 `AccessDenied`: an SSE-C write (`action` such as `s3:PutObject` or `s3:CopyObject`) to a bucket
    /// whose encryption configuration blocks SSE-C (`BlockedEncryptionTypes` = `SSE-C`, FORMATS.md §3.2,
    /// §3.3; AWS UG troubleshoot-403-errors, primary). `principal` is the caller's ARN, `resource` the
    /// object ARN.
    #[must_use]
    pub fn sse_c_blocked(principal: &str, action: &str, resource: &str) -> Self {
        Self::access_denied(format!(
            "User: {principal} is not authorized to perform: {action} on resource: \"{resource}\" because this bucket \
             has blocked upload requests that specify Server Side Encryption with Customer provided keys (SSE-C). \
             Please specify a different server-side encryption type"
        ))
    }

    /// 400 `InvalidArgument`: an SSE-KMS or DSSE-KMS request (or a GET/HEAD of such an object) that is not
    /// signed with SigV4 or not made over TLS (FORMATS.md §4). AWS's text names SigV4 only; s3crypt sends
    /// the same answer for plain HTTP, where AWS's exact answer is unverified.
    #[must_use]
    pub fn kms_requires_sigv4() -> Self {
        Self::invalid_argument(
            "Requests specifying Server Side Encryption with AWS KMS managed keys require AWS Signature Version 4.",
        )
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
