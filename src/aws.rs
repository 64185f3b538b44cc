//! The AWS request layer shared by the KMS wire protocol and the S3 server: Signature Version 4 (header
//! and presigned-URL authentication), `aws-chunked` streaming bodies, typed authentication failures
//! rendered per protocol, and the injected clock.
//!
//! | you want to…                                                   | use                                   |
//! |----------------------------------------------------------------|---------------------------------------|
//! | sign a request (KMS, S3) with an `Authorization` header        | [`sigv4::sign`], [`sigv4::sign_with`] |
//! | check a KMS request (header auth, JSON protocol rules)         | [`sigv4::verify_with`]                |
//! | check an S3 request (header auth *or* presigned URL)           | [`presign::verify_s3`]                |
//! | make a presigned URL (the same bytes as botocore)              | [`presign::presign_url`]              |
//! | decode an `aws-chunked` body (`STREAMING-*` payloads)          | [`chunked::ChunkedReader`]            |
//! | turn an authentication failure into a KMS or S3 error response | [`sigv4::SigV4Error::kms`], [`sigv4::SigV4Error::s3`] → [`WireError`] |
//! | inject time (quota, rotation, signature age)                   | [`clock::Clock`], [`clock::ManualClock`] |
//! | an aws-sdk-s3 client (endpoint, credential chain, CA bundle)    | `sdk::s3_client` (feature `s3-client`) |
//!
//! There is exactly one SigV4 implementation in the crate ([`sigv4`]); [`presign`] and [`chunked`] build
//! on its canonicalisation and signing key. Failures are one typed, protocol-neutral enum
//! ([`sigv4::SigV4Error`]); the protocol decides the status, code and message: KMS answers every
//! authentication failure with HTTP 400 and a JSON `__type`, S3 with 400/403 and an XML `<Error>` whose
//! extra elements ([`WireError::extras`]) help the client debug (`StringToSign`, `ServerTime`, …).

pub mod chunked;
pub mod clock;
pub mod presign;
#[cfg(feature = "s3-client")]
pub mod sdk;
pub mod sigv4;

/// An error as a protocol puts it on the wire: HTTP status, error code, message and, for S3, the
/// extra XML elements of `<Error>` in the order S3 sends them.
///
/// Never holds secret material: messages and extras are built from request values only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireError {
    /// The HTTP status (400, 403, …).
    pub status: u16,
    /// The error code: the JSON `__type` for KMS, `<Code>` for S3.
    pub code: &'static str,
    /// The message, in AWS's words where known.
    pub message: String,
    /// Extra elements (S3 `<Error>` children after `<Message>`), name then text, in order.
    pub extras: Vec<(&'static str, String)>,
}

impl WireError {
    /// The value of extra element `name`, if present.
    #[must_use]
    pub fn extra(&self, name: &str) -> Option<&str> {
        self.extras
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}
