//! Server-side encryption as S3 does it: SSE-S3, SSE-KMS (with bucket keys), DSSE-KMS and SSE-C, driven by
//! request headers, bucket configuration and bucket policy, over a local object store.
//!
//! Every S3-facing failure is an [`S3Error`] carrying the HTTP status, S3 error code and message S3 uses
//! (reference: AWS: <https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerSideEncryptionCustomerKeys.html>, <https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html>).

pub mod bucket;
pub mod engine;
pub mod headers;
pub mod object;
pub mod roots;

/// S3 errors live in [`crate::s3::error`]; re-exported here for the SSE API's callers.
pub use crate::s3::S3Error;
pub use headers::{
    CustomerKeyHeaders, Headers, SseRequest, StoredSse, Transport, check_read, check_upload_part,
    customer_key_headers, parse_copy_source, parse_read, parse_write, response_headers,
};
