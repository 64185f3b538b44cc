//! S3 errors: a typed error code (which fixes the HTTP status and S3's default message), the message
//! S3 sends, the XML error document, and for server faults the underlying cause as
//! [`std::error::Error::source`].
//!
//! The client sees the code, the message, the resource, the request id and any extra elements
//! ([`S3Error::to_xml`], [`S3Error::render`]). The cause of an `InternalError` never reaches the client:
//! its message stays S3's generic one and the cause is only in [`std::error::Error::source`] and in the
//! [`Display`](fmt::Display) form meant for logs. Nothing here may carry key material.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::str::FromStr;

/// A boxed error that may cross threads: the cause of an [`S3Error`].
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = $name:literal, $status:literal, $message:literal;)*) => {
        /// An S3 error code. Each code fixes its HTTP status ([`S3ErrorCode::status`]) and S3's default
        /// message ([`S3ErrorCode::default_message`]); [`S3ErrorCode::as_str`] is the `<Code>` text.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum S3ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl S3ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];

            /// The code as S3 writes it in `<Code>`.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            /// The HTTP status S3 answers this code with.
            #[must_use]
            pub const fn status(self) -> u16 {
                match self {
                    $(Self::$variant => $status,)*
                }
            }

            /// S3's default message for this code (used when no more precise message is given).
            #[must_use]
            pub const fn default_message(self) -> &'static str {
                match self {
                    $(Self::$variant => $message,)*
                }
            }
        }
    };
}

codes! {
    /// 400: the bucket's Object Ownership setting disables ACLs.
    AccessControlListNotSupported = "AccessControlListNotSupported", 400, "The bucket does not allow ACLs";
    /// 409: CreateAccessPoint of a name the account already uses.
    AccessPointAlreadyOwnedByYou = "AccessPointAlreadyOwnedByYou", 409,
        "Your previous request to create the named accesspoint succeeded and you already own it.";
    /// 403: the caller is not allowed to do this.
    AccessDenied = "AccessDenied", 403, "Access Denied";
    /// 403: access forbidden (CORS preflight refused, among others).
    AccessForbidden = "AccessForbidden", 403, "Access Forbidden";
    /// 403: the account has a problem that prevents the operation.
    AccountProblem = "AccountProblem", 403,
        "There is a problem with your AWS account that prevents the action from completing successfully.";
    /// 400: the `Authorization` header's credential scope is wrong (region, service, date).
    AuthorizationHeaderMalformed = "AuthorizationHeaderMalformed", 400,
        "The authorization header is malformed.";
    /// 400: a presigned URL's query parameters are wrong.
    AuthorizationQueryParametersError = "AuthorizationQueryParametersError", 400,
        "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.";
    /// 400: the `LocationConstraint` names another region than the endpoint's.
    IllegalLocationConstraintException = "IllegalLocationConstraintException", 400,
        "The location constraint is incompatible for the region specific endpoint this request was sent to.";
    /// 400: an ACL was set on a bucket whose Object Ownership is `BucketOwnerEnforced`.
    InvalidBucketAclWithObjectOwnership = "InvalidBucketAclWithObjectOwnership", 400,
        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting";
    /// 400: the request URI cannot be parsed (not UTF-8, or a NUL in the key).
    InvalidURI = "InvalidURI", 400, "Couldn't parse the specified URI.";
    /// 400: a request body (XML, policy) is larger than the server accepts.
    MaxMessageLengthExceeded = "MaxMessageLengthExceeded", 400, "Your request was too big.";
    /// 400: the body does not match its `Content-MD5` (or checksum).
    BadDigest = "BadDigest", 400, "The Content-MD5 you specified did not match what we received.";
    /// 400: a request S3 cannot act on as sent (a CORS preflight without `Origin` or with an invalid
    /// `Access-Control-Request-Method`).
    BadRequest = "BadRequest", 400, "Bad Request";
    /// 409: the bucket name is taken by another account.
    BucketAlreadyExists = "BucketAlreadyExists", 409,
        "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.";
    /// 409: the caller already owns a bucket of that name.
    BucketAlreadyOwnedByYou = "BucketAlreadyOwnedByYou", 409,
        "Your previous request to create the named bucket succeeded and you already own it.";
    /// 409: DeleteBucket on a bucket that still holds objects.
    BucketNotEmpty = "BucketNotEmpty", 409, "The bucket you tried to delete is not empty";
    /// 400: the upload exceeds the maximum object (or part) size.
    EntityTooLarge = "EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed object size.";
    /// 400: a multipart part other than the last is below the minimum size.
    EntityTooSmall = "EntityTooSmall", 400,
        "Your proposed upload is smaller than the minimum allowed object size.";
    /// 400: the session token has expired.
    ExpiredToken = "ExpiredToken", 400, "The provided token has expired.";
    /// 400: a versioning configuration with an invalid `Status`.
    IllegalVersioningConfigurationException = "IllegalVersioningConfigurationException", 400,
        "The versioning configuration specified in the request is invalid.";
    /// 400: the body ended before `Content-Length` bytes (or the body could not be read).
    IncompleteBody = "IncompleteBody", 400,
        "You did not provide the number of bytes specified by the Content-Length HTTP header.";
    /// 500: a server fault; the cause is in [`std::error::Error::source`], never in the message.
    InternalError = "InternalError", 500, "We encountered an internal error. Please try again.";
    /// 403: the access key id is unknown.
    InvalidAccessKeyId = "InvalidAccessKeyId", 403,
        "The AWS Access Key Id you provided does not exist in our records.";
    /// 400: an argument (header, query parameter, value) is not valid.
    InvalidArgument = "InvalidArgument", 400, "Invalid Argument";
    /// 400: the bucket name breaks S3's naming rules.
    InvalidBucketName = "InvalidBucketName", 400, "The specified bucket is not valid.";
    /// 400: an aws-chunked body has a chunk other than the last smaller than 8192 bytes.
    InvalidChunkSizeError = "InvalidChunkSizeError", 400,
        "Only the last chunk is allowed to have a size less than 8192 bytes";
    /// 409: the operation is not valid in the bucket's current state (versioning, Object Lock).
    InvalidBucketState = "InvalidBucketState", 409,
        "The request is not valid with the current state of the bucket.";
    /// 400: the `Content-MD5` is not a valid MD5 in base64.
    InvalidDigest = "InvalidDigest", 400, "The Content-MD5 you specified is not valid.";
    /// 400: an SSE-C algorithm other than `AES256`.
    InvalidEncryptionAlgorithmError = "InvalidEncryptionAlgorithmError", 400,
        "The Encryption request you specified is not valid. Supported value: AES256.";
    /// 400: a POST Object policy document that cannot be read.
    InvalidPolicyDocument = "InvalidPolicyDocument", 400,
        "The content of the form does not meet the conditions specified in the policy document.";
    /// 400: the location constraint is not valid.
    InvalidLocationConstraint = "InvalidLocationConstraint", 400,
        "The specified location constraint is not valid.";
    /// 403: the operation is not valid for the object's state (archived, locked).
    InvalidObjectState = "InvalidObjectState", 403,
        "The operation is not valid for the current state of the object.";
    /// 400: CompleteMultipartUpload names a part that was not uploaded or whose ETag differs.
    InvalidPart = "InvalidPart", 400,
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.";
    /// 416: GET or HEAD `?partNumber=N` past the object's last part.
    InvalidPartNumber = "InvalidPartNumber", 416, "The requested partnumber is not satisfiable";
    /// 400: CompleteMultipartUpload's parts are not in ascending order.
    InvalidPartOrder = "InvalidPartOrder", 400,
        "The list of parts was not in ascending order. Parts must be ordered by part number.";
    /// 416: the range cannot be satisfied.
    InvalidRange = "InvalidRange", 416, "The requested range is not satisfiable";
    /// 400: the request is not valid (SSE mismatches, Object Lock on a bucket without it, …).
    InvalidRequest = "InvalidRequest", 400, "Invalid Request";
    /// 400: an Object Lock retention period that is not a positive integer.
    InvalidRetentionPeriod = "InvalidRetentionPeriod", 400,
        "Default retention period must be a positive integer value.";
    /// 400: a tag is not valid.
    InvalidTag = "InvalidTag", 400, "The tag provided was not a valid tag.";
    /// 400: the server access logging target bucket is not acceptable.
    InvalidTargetBucketForLogging = "InvalidTargetBucketForLogging", 400,
        "The target bucket for logging does not exist, is not owned by you, or does not have the appropriate grants for the log-delivery group.";
    /// 400: the session token is malformed.
    InvalidToken = "InvalidToken", 400, "The provided token is malformed or otherwise invalid.";
    /// 400: an object key longer than 1,024 bytes (or empty).
    KeyTooLongError = "KeyTooLongError", 400, "Your key is too long";
    /// 400 (S3 Object Lambda): the function's answer cannot be used.
    LambdaInvalidResponse = "LambdaInvalidResponse", 400,
        "The object lambda returned an invalid response.";
    /// 400 (S3 Object Lambda): the function failed.
    LambdaInvocationFailed = "LambdaInvocationFailed", 400, "The object lambda invocation failed.";
    /// 404 (S3 Object Lambda): the configured function does not exist.
    LambdaNotFound = "LambdaNotFound", 404, "The requested lambda resource does not exist.";
    /// 403 (S3 Object Lambda): the caller may not invoke the function.
    LambdaPermissionError = "LambdaPermissionError", 403,
        "You do not have permission to invoke this lambda.";
    /// 500 (S3 Object Lambda): the function ended without answering.
    LambdaResponseNotReceived = "LambdaResponseNotReceived", 500,
        "No response was received from the object lambda.";
    /// 400: the KMS key is disabled (the KMS message is passed on).
    KmsDisabled = "KMS.DisabledException", 400, "The specified KMS key is disabled.";
    /// 400: KMS could not decrypt the stored data key (the KMS message is passed on).
    KmsInvalidCiphertext = "KMS.InvalidCiphertextException", 400,
        "The ciphertext is not valid for the specified KMS key.";
    /// 400: the KMS key is in a state that does not allow the operation (pending deletion, …).
    KmsInvalidState = "KMS.KMSInvalidStateException", 400,
        "The KMS key is not in a valid state for this operation.";
    /// 400: the KMS key does not exist (the KMS message is passed on).
    KmsNotFound = "KMS.NotFoundException", 400, "The specified KMS key does not exist.";
    /// 400: a POST Object body that is not well-formed `multipart/form-data`.
    MalformedPOSTRequest = "MalformedPOSTRequest", 400,
        "The body of your POST request is not well-formed multipart/form-data.";
    /// 400: a POST Object form whose fields before the file exceed 20 KiB.
    MaxPostPreDataLengthExceeded = "MaxPostPreDataLengthExceeded", 400,
        "Your POST request fields preceeding the upload file was too large.";
    /// 400: a bucket or access point policy that cannot be accepted.
    MalformedPolicy = "MalformedPolicy", 400, "Policies must be valid JSON and the first byte must be '{'";
    /// 400: an XML body that is not well formed or does not match S3's schema.
    MalformedXML = "MalformedXML", 400,
        "The XML you provided was not well-formed or did not validate against our published schema.";
    /// 400: more than 2 KiB of user-defined metadata.
    MetadataTooLarge = "MetadataTooLarge", 400,
        "Your metadata headers exceed the maximum allowed metadata size.";
    /// 405: the method is not allowed on this resource (GET of a delete marker version, …).
    MethodNotAllowed = "MethodNotAllowed", 405, "The specified method is not allowed against this resource.";
    /// 411: a write without `Content-Length`.
    MissingContentLength = "MissingContentLength", 411, "You must provide the Content-Length HTTP header.";
    /// 400: a required header is missing.
    MissingSecurityHeader = "MissingSecurityHeader", 400, "Your request is missing a required header.";
    /// 404: an access point that does not exist.
    NoSuchAccessPoint = "NoSuchAccessPoint", 404, "The specified accesspoint does not exist";
    /// 404: GetAccessPointPolicy on an access point without a policy (moto's text).
    NoSuchAccessPointPolicy = "NoSuchAccessPointPolicy", 404, "The specified accesspoint policy does not exist";
    /// 404: a bucket that does not exist.
    NoSuchBucket = "NoSuchBucket", 404, "The specified bucket does not exist";
    /// 404: GetBucketPolicy on a bucket without a policy.
    NoSuchBucketPolicy = "NoSuchBucketPolicy", 404, "The bucket policy does not exist";
    /// 404: GetBucketCors on a bucket without a CORS configuration.
    NoSuchCORSConfiguration = "NoSuchCORSConfiguration", 404, "The CORS configuration does not exist";
    /// 404: a key that does not exist (or whose current version is a delete marker).
    NoSuchKey = "NoSuchKey", 404, "The specified key does not exist.";
    /// 404: GetBucketLifecycleConfiguration on a bucket without one.
    NoSuchLifecycleConfiguration = "NoSuchLifecycleConfiguration", 404,
        "The lifecycle configuration does not exist";
    /// 404: GetObjectRetention / GetObjectLegalHold on a version without one.
    NoSuchObjectLockConfiguration = "NoSuchObjectLockConfiguration", 404,
        "The specified object does not have a ObjectLock configuration";
    /// 404: the bucket has no public access block configuration.
    NoSuchPublicAccessBlockConfiguration = "NoSuchPublicAccessBlockConfiguration", 404,
        "The public access block configuration was not found";
    /// 404: GetBucketTagging / GetObjectTagging without tags.
    NoSuchTagSet = "NoSuchTagSet", 404, "The TagSet does not exist";
    /// 404: a multipart upload id that does not exist (aborted, completed or never created).
    NoSuchUpload = "NoSuchUpload", 404,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.";
    /// 404: a well-formed version id that matches no version.
    NoSuchVersion = "NoSuchVersion", 404, "The specified version does not exist.";
    /// 501: functionality s3crypt does not implement.
    NotImplemented = "NotImplemented", 501,
        "A header you provided implies functionality that is not implemented.";
    /// 404: GetObjectLockConfiguration on a bucket without Object Lock.
    ObjectLockConfigurationNotFoundError = "ObjectLockConfigurationNotFoundError", 404,
        "Object Lock configuration does not exist for this bucket";
    /// 409: a conflicting operation is in progress.
    OperationAborted = "OperationAborted", 409,
        "A conflicting conditional operation is currently in progress against this resource. Try again.";
    /// 404: the bucket has no ownership controls.
    OwnershipControlsNotFoundError = "OwnershipControlsNotFoundError", 404,
        "The bucket ownership controls were not found";
    /// 412: an `If-Match` / `If-Unmodified-Since` precondition failed.
    PreconditionFailed = "PreconditionFailed", 412,
        "At least one of the preconditions you specified did not hold.";
    /// 400: more than 8 KiB of request headers.
    RequestHeaderSectionTooLarge = "RequestHeaderSectionTooLarge", 400,
        "Your request header section exceeds the maximum allowed size.";
    /// 400: the connection idled past the timeout while the body was read.
    RequestTimeout = "RequestTimeout", 400,
        "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.";
    /// 403: the request time is too far from the server's (SigV4).
    RequestTimeTooSkewed = "RequestTimeTooSkewed", 403,
        "The difference between the request time and the current time is too large.";
    /// 404: GetBucketEncryption without a configuration.
    ServerSideEncryptionConfigurationNotFoundError = "ServerSideEncryptionConfigurationNotFoundError", 404,
        "The server side encryption configuration was not found";
    /// 503: the service cannot take the request now.
    ServiceUnavailable = "ServiceUnavailable", 503, "Please reduce your request rate.";
    /// 403: the SigV4 signature does not verify.
    SignatureDoesNotMatch = "SignatureDoesNotMatch", 403,
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.";
    /// 503: throttled (also KMS throttling behind SSE-KMS).
    SlowDown = "SlowDown", 503, "Please reduce your request rate.";
    /// 400: more buckets than the account may have.
    TooManyBuckets = "TooManyBuckets", 400, "You have attempted to create more buckets than allowed";
    /// 400: a body on a request that takes none.
    UnexpectedContent = "UnexpectedContent", 400, "This request does not support content";
    /// 400: the body does not match `x-amz-content-sha256`.
    XAmzContentSHA256Mismatch = "XAmzContentSHA256Mismatch", 400,
        "The provided 'x-amz-content-sha256' header does not match what was computed.";
}

impl fmt::Display for S3ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not an S3 error code s3crypt knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownS3ErrorCode(pub String);

impl fmt::Display for UnknownS3ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown S3 error code {:?}", self.0)
    }
}

impl StdError for UnknownS3ErrorCode {}

impl FromStr for S3ErrorCode {
    type Err = UnknownS3ErrorCode;

    /// The code whose `<Code>` text is `s` (exact, case-sensitive as S3 writes it).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownS3ErrorCode(s.to_owned()))
    }
}

impl PartialEq<str> for S3ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for S3ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<S3ErrorCode> for &str {
    fn eq(&self, other: &S3ErrorCode) -> bool {
        *self == other.as_str()
    }
}

/// An error as S3 reports it: a code (which fixes the status), a message, optionally the resource, the
/// request id and extra elements, and for server faults the cause.
///
/// Equality compares what the client sees (code, message, resource, request id, extras, headers), not
/// the cause.
pub struct S3Error {
    code: S3ErrorCode,
    message: Cow<'static, str>,
    resource: Option<Box<str>>,
    request_id: Option<Box<str>>,
    extras: Vec<(String, String)>,
    /// Extra response headers; boxed, as few errors have any (keeps `Result<_, S3Error>` small).
    headers: Option<Box<[(String, String)]>>,
    source: Option<BoxError>,
}

/// An error response ready to send: status, headers and body (empty for `HEAD`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorResponse {
    /// The HTTP status.
    pub status: u16,
    /// Response headers (`Content-Type` when there is a body, `x-amz-request-id` when known).
    pub headers: Vec<(String, String)>,
    /// The XML error document; empty for `HEAD`, where S3 sends no body.
    pub body: Vec<u8>,
}

impl S3Error {
    /// An error with `code` and S3's default message for it.
    #[must_use]
    pub fn from_code(code: S3ErrorCode) -> Self {
        Self {
            code,
            message: Cow::Borrowed(code.default_message()),
            resource: None,
            request_id: None,
            extras: Vec::new(),
            headers: None,
            source: None,
        }
    }

    /// An error with `code` and `message`.
    #[must_use]
    pub fn with_code(code: S3ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self::from_code(code).with_message(message)
    }

    /// The same error with `message` instead of the current one.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.message = message.into();
        self
    }

    /// The same error naming `resource` (`<Resource>`, such as `/bucket/key`).
    #[must_use]
    pub fn with_resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into().into_boxed_str());
        self
    }

    /// The same error with the request's id (`<RequestId>` and `x-amz-request-id`).
    #[must_use]
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into().into_boxed_str());
        self
    }

    /// The same error with one more extra element (such as `HeadersNotSigned`, `ServerTime`,
    /// `ArgumentName`), written after `<Message>` in the order added.
    #[must_use]
    pub fn with_extra(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extras.push((name.into(), value.into()));
        self
    }

    /// The same error with one more response header (such as `x-amz-delete-marker`), sent with the
    /// body and also for `HEAD`.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let mut all = self.headers.take().map(Vec::from).unwrap_or_default();
        all.push((name.into(), value.into()));
        self.headers = Some(all.into_boxed_slice());
        self
    }

    /// The same error with `source` as its cause (for logs; never shown to the client).
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The error code.
    #[must_use]
    pub fn code(&self) -> S3ErrorCode {
        self.code
    }

    /// The HTTP status, fixed by the code.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The message the client sees.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The resource, if set.
    #[must_use]
    pub fn resource(&self) -> Option<&str> {
        self.resource.as_deref()
    }

    /// The request id, if set.
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The extra elements, in order.
    #[must_use]
    pub fn extras(&self) -> &[(String, String)] {
        &self.extras
    }

    /// The extra response headers, in order.
    #[must_use]
    pub fn headers(&self) -> &[(String, String)] {
        self.headers.as_deref().unwrap_or_default()
    }

    /// The message followed by the cause chain, for operators (logs, the local CLI). Never send this to
    /// a client.
    #[must_use]
    pub fn detail(&self) -> String {
        let mut s = self.message.to_string();
        let mut cause = StdError::source(self);
        while let Some(c) = cause {
            s.push_str(" (");
            s.push_str(&c.to_string());
            s.push(')');
            cause = c.source();
        }
        s
    }

    /// 400 `InvalidArgument`.
    #[must_use]
    pub fn invalid_argument(message: impl Into<Cow<'static, str>>) -> Self {
        Self::with_code(S3ErrorCode::InvalidArgument, message)
    }

    /// 400 `InvalidRequest`.
    #[must_use]
    pub fn invalid_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::with_code(S3ErrorCode::InvalidRequest, message)
    }

    /// 403 `AccessDenied`.
    #[must_use]
    pub fn access_denied(message: impl Into<Cow<'static, str>>) -> Self {
        Self::with_code(S3ErrorCode::AccessDenied, message)
    }

    /// 400 `InvalidEncryptionAlgorithmError`: an SSE-C algorithm header other than `AES256` (FORMATS.md §3.3).
    ///
    /// The text is the one S3 sends (LocalStack's AWS captures, aws-sdk-go#2724); S3's error-code
    /// documentation words it differently ("The encryption request that you specified is not valid. The
    /// valid value is AES256.").
    #[must_use]
    pub fn invalid_encryption_algorithm() -> Self {
        Self::from_code(S3ErrorCode::InvalidEncryptionAlgorithmError)
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
        Self::from_code(S3ErrorCode::MalformedXML)
    }

    /// 400 `MalformedPolicy`.
    #[must_use]
    pub fn malformed_policy(message: impl Into<Cow<'static, str>>) -> Self {
        Self::with_code(S3ErrorCode::MalformedPolicy, message)
    }

    /// 404 `NoSuchBucket`.
    #[must_use]
    pub fn no_such_bucket() -> Self {
        Self::from_code(S3ErrorCode::NoSuchBucket)
    }

    /// 404 `NoSuchKey`.
    #[must_use]
    pub fn no_such_key() -> Self {
        Self::from_code(S3ErrorCode::NoSuchKey)
    }

    /// 404 `NoSuchUpload`.
    #[must_use]
    pub fn no_such_upload() -> Self {
        Self::from_code(S3ErrorCode::NoSuchUpload)
    }

    /// 404 `NoSuchVersion`.
    #[must_use]
    pub fn no_such_version() -> Self {
        Self::from_code(S3ErrorCode::NoSuchVersion)
    }

    /// 416 `InvalidRange`.
    #[must_use]
    pub fn invalid_range() -> Self {
        Self::from_code(S3ErrorCode::InvalidRange)
    }

    /// 501 `NotImplemented`.
    #[must_use]
    pub fn not_implemented(message: impl Into<Cow<'static, str>>) -> Self {
        Self::with_code(S3ErrorCode::NotImplemented, message)
    }

    /// 500 `InternalError` caused by `source`. The client sees S3's generic message only; `source`
    /// (an error, or a `&str`/`String` describing the fault) is kept as [`std::error::Error::source`] for
    /// logs. It must not contain key material.
    #[must_use]
    pub fn internal(source: impl Into<BoxError>) -> Self {
        Self::from_code(S3ErrorCode::InternalError).with_source(source)
    }

    /// 500 `InternalError`: `what` failed because of `source` (both kept for logs, as
    /// [`S3Error::internal`]).
    #[must_use]
    pub fn internal_because(what: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::internal(Fault {
            what: what.into(),
            source: Some(source.into()),
        })
    }

    /// The S3 XML error document: `<Error><Code/><Message/>` extras `<Resource/><RequestId/></Error>`,
    /// every text XML-escaped.
    #[must_use]
    pub fn to_xml(&self) -> String {
        let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
        element(&mut x, "Code", self.code.as_str());
        element(&mut x, "Message", &self.message);
        for (name, value) in &self.extras {
            element(&mut x, name, value);
        }
        if let Some(r) = &self.resource {
            element(&mut x, "Resource", r);
        }
        if let Some(r) = &self.request_id {
            element(&mut x, "RequestId", r);
        }
        x.push_str("</Error>");
        x
    }

    /// The response to send for a request with HTTP `method`: S3 sends no body for `HEAD`.
    #[must_use]
    pub fn render(&self, method: &str) -> ErrorResponse {
        if method.eq_ignore_ascii_case("HEAD") {
            return self.render_head();
        }
        let mut headers = self.render_head().headers;
        headers.push(("Content-Type".to_owned(), "application/xml".to_owned()));
        ErrorResponse {
            status: self.status(),
            headers,
            body: self.to_xml().into_bytes(),
        }
    }

    /// The body-less response S3 sends for a failed `HEAD`: status and headers only.
    #[must_use]
    pub fn render_head(&self) -> ErrorResponse {
        let headers = self
            .request_id
            .iter()
            .map(|id| ("x-amz-request-id".to_owned(), id.to_string()))
            .chain(self.headers().iter().cloned())
            .collect();
        ErrorResponse {
            status: self.status(),
            headers,
            body: Vec::new(),
        }
    }
}

impl From<crate::aws::WireError> for S3Error {
    /// An error of the shared AWS layer (SigV4, aws-chunked) as S3 sends it: its code (an unknown code
    /// becomes `InternalError`, which no AWS-layer error produces), message and extra elements.
    fn from(w: crate::aws::WireError) -> Self {
        let code = w
            .code
            .parse::<S3ErrorCode>()
            .unwrap_or(S3ErrorCode::InternalError);
        w.extras
            .into_iter()
            .fold(Self::with_code(code, w.message), |e, (name, value)| {
                e.with_extra(name, value)
            })
    }
}

impl From<S3ErrorCode> for S3Error {
    fn from(code: S3ErrorCode) -> Self {
        Self::from_code(code)
    }
}

impl PartialEq for S3Error {
    fn eq(&self, other: &Self) -> bool {
        self.code == other.code
            && self.message == other.message
            && self.resource == other.resource
            && self.request_id == other.request_id
            && self.extras == other.extras
            && self.headers() == other.headers()
    }
}

impl Eq for S3Error {}

impl fmt::Debug for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Error")
            .field("status", &self.status())
            .field("code", &self.code)
            .field("message", &self.message)
            .field("resource", &self.resource)
            .field("request_id", &self.request_id)
            .field("extras", &self.extras)
            .field("headers", &self.headers)
            .field("source", &self.source)
            .finish()
    }
}

/// `STATUS CODE: message`, then the cause chain in parentheses (for logs).
impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status(), self.code, self.detail())
    }
}

impl StdError for S3Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// A described server fault with an optional cause (the source of an `InternalError`).
#[derive(Debug)]
struct Fault {
    what: String,
    source: Option<BoxError>,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

impl StdError for Fault {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// Appends `<name>escaped text</name>`.
fn element(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}
