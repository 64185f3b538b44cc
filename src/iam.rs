//! Identity and access: who is calling ([`context::RequestContext`]) and whether they may
//! (the policy engine, shared by identity policies, bucket policies, access-point policies and KMS key
//! policies).
//!
//! Every operation of the SSE engine, the S3 endpoint and the KMS server takes a request context; none
//! hard-codes a principal.
//!
//! | you want to…                                                  | use                                   |
//! |---------------------------------------------------------------|---------------------------------------|
//! | describe the caller, transport and network path               | [`RequestContext`], [`Caller`]        |
//! | parse a policy document (identity or resource, size bound)    | [`Policy::parse`] with [`ParseOptions`] |
//! | add request-specific condition keys (`s3:prefix`, `kms:EncryptionContext:…`) | [`ConditionKeys`]   |
//! | one policy's verdict (`Allow`, `ExplicitDeny`, …)             | [`Policy::evaluate`] → [`Decision`]   |
//! | the access decision across identity, resource, access-point and VPC-endpoint policies | [`authorize()`] → [`Verdict`] |
//! | the account's root key, IAM users, their access keys and inline policies (persisted in the home) | [`users::AccountStore`] |
//! | the root's virtual MFA devices and their one-time codes (persisted in the home) | [`mfa::MfaStore`] |
//! | S3's and KMS's wrappers (their error codes, extra checks)     | `sse::bucket::BucketPolicy`, `kms::policy::KeyPolicy` |
//!
//! ```
//! use s3crypt::iam::{
//!     Authorization, ConditionKeys, ParseOptions, Policy, Principal, RequestContext, ResourceModel,
//!     authorize,
//! };
//!
//! # fn main() -> Result<(), s3crypt::iam::PolicyError> {
//! let bucket_policy = Policy::parse(
//!     r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
//!         "Principal":{"AWS":"arn:aws:iam::444455556666:user/bob"},
//!         "Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}}"#,
//!     &ParseOptions::BUCKET,
//! )?;
//! let bob = RequestContext::signed_by(Principal::user("444455556666", "bob", "AKIABOB"));
//! let keys = ConditionKeys::new();
//! let request = Authorization::new(
//!     "s3:GetObject",
//!     "arn:aws:s3:::photos/cat.jpg",
//!     "111122223333",
//!     &bob,
//!     &keys,
//!     ResourceModel::S3,
//! )
//! .with_resource_policy(Some(&bucket_policy));
//! // Cross-account: the bucket policy alone is not enough, bob's identity policies must allow too.
//! assert!(!authorize(&request).is_allowed());
//! let mine = Policy::parse(
//!     r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
//!     &ParseOptions::IDENTITY,
//! )?;
//! let ids = [mine];
//! assert!(authorize(&request.with_identity_policies(&ids)).is_allowed());
//! # Ok(())
//! # }
//! ```

pub mod arn;
pub mod authorize;
pub mod context;
pub mod mfa;
pub mod policy;
pub mod sessions;
pub mod users;

pub use authorize::{
    AccessPointGate, Authorization, PolicySource, ResourceModel, Verdict, authorize,
};
pub use context::{AccessPointRef, AuthType, Caller, Principal, RequestContext};
pub use policy::{
    ConditionKeys, Decision, Effect, ParseOptions, Policy, PolicyError, PolicyKind, Request,
};
