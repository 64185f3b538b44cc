//! Client-side envelope encryption, byte-compatible with the Amazon S3 Encryption Client (S3EC).
//!
//! An object is one AES-256-GCM message over its whole body (`ciphertext ‖ tag`), under a data key that a
//! [`Keyring`] creates and wraps; everything needed to decrypt (except the wrapping key) travels in the
//! object's S3 user metadata ([`MetadataMap`]) or an instruction file.
//!
//! | format | content key | IV | AAD | written by |
//! |---|---|---|---|---|
//! | V3 (default, suite 115) | HKDF-SHA512(salt = message id, data key, `00 73 ‖ "DERIVEKEY"`), with a 28-byte key commitment checked before decryption | `01` × 12 | `00 73` | Java/.NET/Go v4, Python 4.0 |
//! | V2 | the data key | random 12 bytes | none | S3EC v2, Java/Go/.NET v3 |
//!
//! | you want to… | use |
//! |---|---|
//! | encrypt a stream with bounded memory | [`Encryptor::writer`] → [`EncryptWriter`] (call `finish`) |
//! | decrypt a file or other seekable input | [`Decryptor::reader_seekable`] (authenticates first) |
//! | decrypt a pure stream | [`Decryptor::reader_buffered`] (bounded) or, explicitly, [`Decryptor::reader_delayed_authentication`] |
//! | decrypt a byte range | [`Decryptor::decrypt_range`] (authenticates the whole body first) or, when only the range is at hand, [`Decryptor::danger_decrypt_range_unauthenticated`] (like S3EC's ranged GET) |
//! | small buffers | [`Encryptor::encrypt_to_vec`], [`Decryptor::decrypt_to_vec`] |
//! | files with a metadata sidecar | [`file`](mod@file) |
//! | move an object's data key to another KMS key or wrapping key, body untouched | [`rewrap`](mod@rewrap) |
//! | objects in S3, encrypted while they upload and decrypted while they download (feature `s3-client`) | [`s3`](mod@s3): `put_encrypted`, `get_decrypted` |
//!
//! No plaintext is released before authentication unless the caller opts into it by name: the one-shot,
//! seekable and buffered paths verify the tag first, and the file helpers write to a temporary file that
//! is renamed over the destination only after the tag verifies.

pub mod file;
mod keyring;
pub mod metadata;
pub mod rewrap;
#[cfg(feature = "s3-client")]
pub mod s3;
mod stream;

use std::fmt;

pub use keyring::{AesKeyring, Keyring, KmsKeyring, Materials, RESERVED_CEK_ALG};
pub use metadata::{ContentMetadata, Format, MetadataMap, WrapAlg};
pub use stream::{
    DecryptReader, Decryptor, DelayedAuthReader, EncryptWriter, Encryptor, LegacyV1Decryptor,
    STREAM_CHUNK,
};

use crate::kms::KmsError;
use crate::range::RangeError;

/// Which formats may be written and read (the S3EC commitment policies).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommitmentPolicy {
    /// Write V3, read only V3 (the default).
    #[default]
    RequireEncryptRequireDecrypt,
    /// Write V3, read V3 and V2 (migration).
    RequireEncryptAllowDecrypt,
    /// Write V2, read V3 and V2 (for readers that do not know V3 yet).
    ForbidEncryptAllowDecrypt,
}

impl CommitmentPolicy {
    fn allows_encrypt(self, format: Format) -> bool {
        match self {
            Self::RequireEncryptRequireDecrypt | Self::RequireEncryptAllowDecrypt => {
                format == Format::V3
            }
            Self::ForbidEncryptAllowDecrypt => format == Format::V2,
        }
    }

    fn allows_decrypt(self, format: Format) -> bool {
        match self {
            Self::RequireEncryptRequireDecrypt => format == Format::V3,
            _ => matches!(format, Format::V2 | Format::V3),
        }
    }
}

/// Why an envelope operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The object metadata has no S3EC mapkeys: it is not client-side encrypted (or its instruction file
    /// or sidecar is missing).
    NotEncrypted,
    /// A required mapkey is missing.
    MissingMetadata(&'static str),
    /// A mapkey has an invalid value.
    MalformedMetadata {
        /// The mapkey.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// Mapkeys of two format versions are present: a downgrade attempt.
    MixedFormats,
    /// The format or algorithm is not supported.
    UnsupportedFormat(String),
    /// The commitment policy does not allow this format.
    CommitmentPolicy {
        /// The format.
        format: Format,
        /// The policy.
        policy: CommitmentPolicy,
    },
    /// The V3 key commitment does not match the data key: wrong key or tampered metadata.
    CommitmentMismatch,
    /// The content failed authentication: the body, tag or metadata was altered or truncated.
    Authentication,
    /// The raw AES wrapping key does not unwrap the data key.
    WrongKey,
    /// The object was wrapped by another kind of keyring.
    WrongKeyring {
        /// The object's wrapping.
        object: &'static str,
        /// The keyring given.
        keyring: &'static str,
    },
    /// The encryption context differs from the one stored with the object.
    ContextMismatch,
    /// The caller used a reserved encryption-context key.
    ReservedContextKey(&'static str),
    /// S3 user metadata must be US-ASCII; this context key or value is not.
    NonAsciiContext(String),
    /// The KMS returned an error.
    Kms(KmsError),
    /// The unwrapped data key is not 32 bytes.
    BadDataKey,
    /// The body is shorter than a GCM tag, or longer than GCM allows.
    BadLength(u64),
    /// An unbuffered stream exceeded the in-memory authentication limit.
    TooLargeToBuffer {
        /// The limit in bytes.
        limit: u64,
    },
    /// The requested range is malformed or not satisfiable.
    Range(RangeError),
    /// The operating system's RNG failed.
    Rng,
    /// An I/O error.
    Io(std::io::Error),
}

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotEncrypted => f.write_str("the object metadata holds no S3 Encryption Client keys (missing sidecar or instruction file?)"),
            Self::MissingMetadata(k) => write!(f, "the object metadata lacks {k}"),
            Self::MalformedMetadata { key, reason } => write!(f, "object metadata {key} is invalid: {reason}"),
            Self::MixedFormats => f.write_str("the object metadata mixes format versions (possible downgrade attack); refusing it"),
            Self::UnsupportedFormat(what) => write!(f, "unsupported: {what}"),
            Self::CommitmentPolicy { format, policy } => write!(f, "the commitment policy {policy:?} does not allow {format:?} objects"),
            Self::CommitmentMismatch => f.write_str("the key commitment does not match: wrong key or tampered metadata"),
            Self::Authentication => f.write_str("authentication failed: the object or its metadata was altered or truncated"),
            Self::WrongKey => f.write_str("the wrapping key does not match this object"),
            Self::WrongKeyring { object, keyring } => write!(f, "the object's data key is wrapped with {object}, not a {keyring} keyring"),
            Self::ContextMismatch => f.write_str("the encryption context does not match the one stored with the object"),
            Self::ReservedContextKey(k) => write!(f, "the encryption context key {k} is reserved"),
            Self::NonAsciiContext(k) => write!(f, "encryption context entry {k:?} is not US-ASCII (S3 metadata cannot carry it)"),
            Self::Kms(e) => write!(f, "KMS: {e}"),
            Self::BadDataKey => f.write_str("the data key is not 32 bytes"),
            Self::BadLength(n) => write!(f, "an encrypted body of {n} bytes is impossible (too short for the tag, or over the GCM limit)"),
            Self::TooLargeToBuffer { limit } => write!(
                f,
                "the stream exceeds {limit} bytes, the limit for authenticating in memory; decrypt from a file, raise the limit, or opt into delayed authentication"
            ),
            Self::Range(e) => write!(f, "{e}"),
            Self::Rng => f.write_str("the operating system's random number generator failed"),
            Self::Io(e) => write!(f, "I/O: {e}"),
        }
    }
}

impl std::error::Error for EnvelopeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Kms(e) => Some(e),
            Self::Io(e) => Some(e),
            Self::Range(e) => Some(e),
            _ => None,
        }
    }
}

impl From<KmsError> for EnvelopeError {
    fn from(e: KmsError) -> Self {
        Self::Kms(e)
    }
}

impl From<std::io::Error> for EnvelopeError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<RangeError> for EnvelopeError {
    fn from(e: RangeError) -> Self {
        Self::Range(e)
    }
}
