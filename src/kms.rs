//! Key management: the [`Kms`] trait (the AWS KMS symmetric API), [`MockKms`] (a local KMS that behaves like
//! the real one, including the shared request quota), the client-side remedies for throttling (retries,
//! data-key caching), the audit log, and the AWS JSON 1.1 wire protocol (server and remote client).
//!
//! | you want to… | use |
//! |---|---|
//! | a KMS in memory or in a state directory | [`MockKms`] |
//! | the shared request quota of a region/era | [`quota::QuotaConfig`], [`quota::QuotaPreset`] |
//! | retries with backoff like the AWS SDKs | [`retry::RetryingKms`] |
//! | fewer KMS calls by caching data keys | [`cache::DataKeyCache`] |
//! | CloudTrail-like records of every key use | [`audit`] |
//! | talk to real AWS KMS, moto or `s3crypt kms serve` | [`remote::RemoteKms`] |
//! | serve the mock over HTTP | [`server`] |
//!
//! Field names, limits and error codes follow the AWS KMS API (reference: <https://docs.aws.amazon.com/kms/latest/APIReference/>).

pub mod api;
pub mod audit;
mod blob;
pub mod cache;
mod context;
mod error;
mod forward;
mod mock;
pub mod policy;
pub mod quota;
pub mod remote;
pub mod retry;
#[cfg(feature = "server")]
pub mod server;
mod store;

pub use api::*;
pub use error::{KmsError, KmsErrorKind};
pub use mock::{MockKms, MockKmsBuilder};
pub use store::{LOCK_WAIT, StoreError};

/// The AWS KMS operations s3crypt uses, with AWS's request and response shapes.
///
/// Implemented by [`MockKms`], [`remote::RemoteKms`] and the wrappers in [`retry`]. Every method returns
/// the AWS error for a failed call ([`KmsError::kind`] names it, [`KmsError::code`] spells it as AWS does).
pub trait Kms: Send + Sync {
    /// `GenerateDataKey`: a fresh data key, in plaintext and encrypted under `KeyId`.
    ///
    /// # Errors
    /// The AWS KMS errors of this operation (`NotFoundException`, `DisabledException`,
    /// `KMSInvalidStateException`, `ThrottlingException`, `ValidationException`, …).
    fn generate_data_key(
        &self,
        req: &GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyResponse, KmsError>;

    /// `GenerateDataKeyWithoutPlaintext`: only the encrypted data key.
    ///
    /// # Errors
    /// As [`Kms::generate_data_key`].
    fn generate_data_key_without_plaintext(
        &self,
        req: &GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyWithoutPlaintextResponse, KmsError>;

    /// `Encrypt`: encrypts up to 4,096 bytes under `KeyId`.
    ///
    /// # Errors
    /// As [`Kms::generate_data_key`].
    fn encrypt(&self, req: &EncryptRequest) -> Result<EncryptResponse, KmsError>;

    /// `Decrypt`: decrypts a ciphertext blob; `KeyId` is optional for symmetric keys.
    ///
    /// # Errors
    /// Adds `InvalidCiphertextException` (tampered blob or wrong encryption context) and
    /// `IncorrectKeyException` (a `KeyId` that is not the blob's key).
    fn decrypt(&self, req: &DecryptRequest) -> Result<DecryptResponse, KmsError>;

    /// `ReEncrypt`: moves a blob to another key (or the current material of its key) without releasing the
    /// plaintext to the caller.
    ///
    /// # Errors
    /// As [`Kms::decrypt`] for the source and [`Kms::encrypt`] for the destination.
    fn re_encrypt(&self, req: &ReEncryptRequest) -> Result<ReEncryptResponse, KmsError>;

    /// `CreateKey` (symmetric `SYMMETRIC_DEFAULT` keys).
    ///
    /// # Errors
    /// `ValidationException`, `MalformedPolicyDocumentException`, `UnsupportedOperationException`.
    fn create_key(&self, req: &CreateKeyRequest) -> Result<CreateKeyResponse, KmsError>;

    /// `DescribeKey`.
    ///
    /// # Errors
    /// `NotFoundException`.
    fn describe_key(&self, req: &DescribeKeyRequest) -> Result<DescribeKeyResponse, KmsError>;

    /// `ListKeys`.
    ///
    /// # Errors
    /// `ValidationException` for a bad `Limit` or `Marker`.
    fn list_keys(&self, req: &ListKeysRequest) -> Result<ListKeysResponse, KmsError>;

    /// `CreateAlias`.
    ///
    /// # Errors
    /// `AlreadyExistsException`, `InvalidAliasNameException`, `NotFoundException`.
    fn create_alias(&self, req: &CreateAliasRequest) -> Result<Empty, KmsError>;

    /// `ListAliases`.
    ///
    /// # Errors
    /// `NotFoundException` for an unknown `KeyId` filter.
    fn list_aliases(&self, req: &ListAliasesRequest) -> Result<ListAliasesResponse, KmsError>;

    /// `EnableKey`.
    ///
    /// # Errors
    /// `NotFoundException`, `KMSInvalidStateException` (pending deletion).
    fn enable_key(&self, req: &KeyIdRequest) -> Result<Empty, KmsError>;

    /// `DisableKey`.
    ///
    /// # Errors
    /// As [`Kms::enable_key`].
    fn disable_key(&self, req: &KeyIdRequest) -> Result<Empty, KmsError>;

    /// `ScheduleKeyDeletion` (7–30 days, default 30).
    ///
    /// # Errors
    /// `NotFoundException`, `KMSInvalidStateException`, `ValidationException`.
    fn schedule_key_deletion(
        &self,
        req: &ScheduleKeyDeletionRequest,
    ) -> Result<ScheduleKeyDeletionResponse, KmsError>;

    /// `CancelKeyDeletion`: the key returns in the `Disabled` state, as in AWS.
    ///
    /// # Errors
    /// `NotFoundException`, `KMSInvalidStateException` (not pending deletion).
    fn cancel_key_deletion(&self, req: &KeyIdRequest) -> Result<KeyIdResponse, KmsError>;

    /// `EnableKeyRotation` (automatic, period 90–2560 days, default 365).
    ///
    /// # Errors
    /// `NotFoundException`, `DisabledException`, `KMSInvalidStateException`, `ValidationException`.
    fn enable_key_rotation(&self, req: &EnableKeyRotationRequest) -> Result<Empty, KmsError>;

    /// `RotateKeyOnDemand`: adds new backing material now; old material is kept for decryption.
    ///
    /// # Errors
    /// `NotFoundException`, `DisabledException`, `KMSInvalidStateException`.
    fn rotate_key_on_demand(&self, req: &KeyIdRequest) -> Result<KeyIdResponse, KmsError>;
}
