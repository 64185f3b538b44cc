//! Bucket-level encryption settings: the default-encryption configuration (`PutBucketEncryption` /
//! `GetBucketEncryption`, AWS: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketEncryption.html>, <https://docs.aws.amazon.com/AmazonS3/latest/userguide/blocking-unblocking-s3-c-encryption-gpb.html>) and the encryption-related statements of a bucket
//! policy (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html>).
//!
//! | you want to…                                              | use                                  |
//! |-----------------------------------------------------------|--------------------------------------|
//! | know what a new bucket does                               | [`BucketEncryption::new_bucket_default`] |
//! | accept a `PUT /?encryption` body                          | [`BucketEncryption::parse_xml`], then [`BucketEncryption::applied_over`] |
//! | answer `GET /?encryption`                                 | [`BucketEncryption::to_xml`]         |
//! | refuse an SSE-C write to a bucket that blocks it          | [`BucketEncryption::blocks_sse_c`]   |
//! | accept a `PUT /?policy` body                              | [`BucketPolicy::parse`]              |
//! | decide whether a request is denied by the bucket policy   | [`BucketPolicy::evaluate`]           |
//!
//! ```
//! use s3crypt::sse::bucket::{BucketEncryption, BucketPolicy, Decision, PolicyRequest};
//!
//! # fn main() -> Result<(), s3crypt::sse::S3Error> {
//! let enc = BucketEncryption::new_bucket_default();
//! assert!(enc.blocks_sse_c());
//!
//! let policy = BucketPolicy::parse(
//!     r#"{"Version":"2012-10-17","Statement":[{"Sid":"KmsOnly","Effect":"Deny","Principal":"*",
//!         "Action":"s3:PutObject","Resource":"arn:aws:s3:::photos/*",
//!         "Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}}]}"#,
//!     "photos",
//! )?;
//! let put = PolicyRequest {
//!     action: "s3:PutObject",
//!     bucket: "photos",
//!     key: "cat.jpg",
//!     principal: "arn:aws:iam::111122223333:user/alice",
//!     secure_transport: true,
//!     sse_header: None, // relies on the bucket default: still denied
//!     kms_key_id_header: None,
//!     sse_c_algorithm_header: None,
//! };
//! assert_eq!(policy.evaluate(&put), Decision::Deny { sid: Some("KmsOnly".into()) });
//! # Ok(())
//! # }
//! ```

mod encryption;
mod policy;

pub use encryption::{BlockedType, BucketEncryption, DefaultSse, S3_XML_NAMESPACE};
pub use policy::{BucketPolicy, Decision, MAX_POLICY_BYTES, PolicyRequest};
