//! # s3crypt
//!
//! An encryption toolkit for object storage. It implements the four ways Amazon S3 protects objects
//! (SSE-S3, SSE-KMS, SSE-C and client-side envelope encryption) on one small, proven crypto core.
//!
//! | you want to…                                   | use                                   |
//! |------------------------------------------------|---------------------------------------|
//! | seal or open a buffer with AES-256-GCM         | [`primitives::Aes256Gcm`]             |
//! | decrypt a byte range of a GCM object           | [`primitives::Aes256Ctr::apply_gcm_keystream`] |
//! | derive keys (HKDF-SHA256/512), HMAC, digests   | [`primitives::kdf`], [`primitives::hash`] |
//! | hold a key of a given role                     | [`keys`] ([`keys::DataKey`], [`keys::CustomerKey`], …) |
//! | compare tags/MACs/digests                      | [`primitives::ct_eq`]                 |
//! | prove the build against published vectors      | [`selftest`]                          |
//! | fail an S3 operation with S3's code and status | [`s3::S3Error`], [`s3::S3ErrorCode`]  |
//! | keep buckets and objects (local or elsewhere)  | [`store::ObjectStore`], [`store::local::LocalStore`] |
//! | encrypt objects as S3 does (SSE-S3/KMS/C)      | [`sse::engine::SseEngine`]            |
//! | run unmodified AWS Lambda handlers (`server`)  | `lambda::LambdaHost`                  |
//!
//! ```
//! use s3crypt::keys::DataKey;
//! use s3crypt::primitives::Aes256Gcm;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = DataKey::generate()?;
//! let gcm = Aes256Gcm::new(key.expose_secret());
//! let nonce = s3crypt::primitives::random_array::<12>()?;
//!
//! let sealed = gcm.seal(&nonce, b"header", b"hello object storage")?;
//! let opened = gcm.open(&nonce, b"header", &sealed)?;
//! assert_eq!(opened, b"hello object storage");
//!
//! // One flipped bit anywhere is one opaque error.
//! let mut tampered = sealed.clone();
//! tampered[0] ^= 1;
//! assert!(gcm.open(&nonce, b"header", &tampered).is_err());
//! # Ok(())
//! # }
//! ```
//!
//! `unsafe` code is denied everywhere in this crate except the x86-64 SIMD kernels
//! (`primitives::simd`, private), where every block states why it is sound.

pub mod aws;
pub mod envelope;
pub mod fsutil;
pub mod glacier;
pub mod iam;
pub mod keys;
pub mod kms;
#[cfg(feature = "server")]
pub mod lambda;
pub mod primitives;
pub mod range;
pub mod s3;
pub mod selftest;
#[cfg(feature = "server")]
pub mod server;
pub mod sse;
pub mod store;

/// The README's code blocks, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
