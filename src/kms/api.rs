//! Request and response shapes of the AWS KMS API, with AWS's field names (`PascalCase` on the wire,
//! blobs as base64). The same types serve the in-process [`super::Kms`] trait, the HTTP server and the
//! remote client, so the wire format cannot drift from the library API.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::keys::SecretBytes;

/// An encryption context: non-secret key/value pairs bound to a ciphertext as associated data. Sorted,
/// so its canonical encoding is unique.
pub type EncryptionContext = BTreeMap<String, String>;

/// `KeySpec` of a data key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataKeySpec {
    /// 32-byte key.
    #[serde(rename = "AES_256")]
    Aes256,
    /// 16-byte key.
    #[serde(rename = "AES_128")]
    Aes128,
}

/// `GenerateDataKey` / `GenerateDataKeyWithoutPlaintext` request.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct GenerateDataKeyRequest {
    /// Key id, key ARN, alias name (`alias/x`) or alias ARN.
    pub key_id: String,
    /// `AES_256` or `AES_128`; exactly one of this and `number_of_bytes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_spec: Option<DataKeySpec>,
    /// 1..=1024 bytes; exactly one of this and `key_spec`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_bytes: Option<u32>,
    /// Encryption context bound to the ciphertext blob.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub encryption_context: EncryptionContext,
    /// Grant tokens (validated for form only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grant_tokens: Vec<String>,
    /// Check permissions and parameters only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

impl GenerateDataKeyRequest {
    /// A request for a 256-bit data key under `key_id` with `context`.
    #[must_use]
    pub fn aes256(key_id: impl Into<String>, context: EncryptionContext) -> Self {
        Self {
            key_id: key_id.into(),
            key_spec: Some(DataKeySpec::Aes256),
            encryption_context: context,
            ..Self::default()
        }
    }
}

/// `GenerateDataKey` response.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct GenerateDataKeyResponse {
    /// The data key encrypted under the KMS key.
    #[serde(with = "b64")]
    pub ciphertext_blob: Vec<u8>,
    /// The plaintext data key. Zeroized on drop; redacted in `Debug`.
    #[serde(with = "b64_secret")]
    pub plaintext: SecretBytes,
    /// The key ARN.
    pub key_id: String,
}

/// `GenerateDataKeyWithoutPlaintext` response.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct GenerateDataKeyWithoutPlaintextResponse {
    /// The data key encrypted under the KMS key.
    #[serde(with = "b64")]
    pub ciphertext_blob: Vec<u8>,
    /// The key ARN.
    pub key_id: String,
}

/// `Encrypt` request.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct EncryptRequest {
    /// Key id, key ARN, alias name or alias ARN.
    pub key_id: String,
    /// 1..=4096 bytes.
    #[serde(with = "b64_secret")]
    pub plaintext: SecretBytes,
    /// Encryption context.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub encryption_context: EncryptionContext,
    /// Grant tokens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grant_tokens: Vec<String>,
    /// Must be `SYMMETRIC_DEFAULT` if present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_algorithm: Option<String>,
    /// Check permissions and parameters only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

impl EncryptRequest {
    /// Encrypt `plaintext` under `key_id` with `context`.
    #[must_use]
    pub fn new(
        key_id: impl Into<String>,
        plaintext: SecretBytes,
        context: EncryptionContext,
    ) -> Self {
        Self {
            key_id: key_id.into(),
            plaintext,
            encryption_context: context,
            grant_tokens: Vec::new(),
            encryption_algorithm: None,
            dry_run: false,
        }
    }
}

/// `Encrypt` response.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct EncryptResponse {
    /// The ciphertext blob.
    #[serde(with = "b64")]
    pub ciphertext_blob: Vec<u8>,
    /// The key ARN.
    pub key_id: String,
    /// `SYMMETRIC_DEFAULT` (optional in the AWS model; absent from some implementations).
    #[serde(default)]
    pub encryption_algorithm: String,
}

/// `Decrypt` request.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct DecryptRequest {
    /// The ciphertext blob.
    #[serde(with = "b64")]
    pub ciphertext_blob: Vec<u8>,
    /// The exact encryption context used to encrypt.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub encryption_context: EncryptionContext,
    /// Grant tokens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grant_tokens: Vec<String>,
    /// Optional for symmetric keys; if given, must name the blob's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Must be `SYMMETRIC_DEFAULT` if present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_algorithm: Option<String>,
    /// Check permissions and parameters only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

impl DecryptRequest {
    /// Decrypt `blob` with `context`.
    #[must_use]
    pub fn new(blob: Vec<u8>, context: EncryptionContext) -> Self {
        Self {
            ciphertext_blob: blob,
            encryption_context: context,
            ..Self::default()
        }
    }
}

/// `Decrypt` response.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct DecryptResponse {
    /// The key ARN.
    pub key_id: String,
    /// The plaintext. Zeroized on drop; redacted in `Debug`.
    #[serde(with = "b64_secret")]
    pub plaintext: SecretBytes,
    /// `SYMMETRIC_DEFAULT` (optional in the AWS model; absent from some implementations).
    #[serde(default)]
    pub encryption_algorithm: String,
}

/// `ReEncrypt` request.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ReEncryptRequest {
    /// The ciphertext blob to move.
    #[serde(with = "b64")]
    pub ciphertext_blob: Vec<u8>,
    /// Its encryption context.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub source_encryption_context: EncryptionContext,
    /// Optional; if given, must name the blob's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_key_id: Option<String>,
    /// The key to move to (may be the same key: moves to its current material).
    pub destination_key_id: String,
    /// The new encryption context.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub destination_encryption_context: EncryptionContext,
    /// Grant tokens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grant_tokens: Vec<String>,
    /// Check permissions and parameters only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// `ReEncrypt` response.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ReEncryptResponse {
    /// The new blob.
    #[serde(with = "b64")]
    pub ciphertext_blob: Vec<u8>,
    /// The source key ARN.
    pub source_key_id: String,
    /// The destination key ARN.
    pub key_id: String,
    /// `SYMMETRIC_DEFAULT` (optional in the AWS model; absent from some implementations).
    #[serde(default)]
    pub source_encryption_algorithm: String,
    /// `SYMMETRIC_DEFAULT` (optional in the AWS model; absent from some implementations).
    #[serde(default)]
    pub destination_encryption_algorithm: String,
}

/// `CreateKey` request.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct CreateKeyRequest {
    /// Up to 8192 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `ENCRYPT_DECRYPT` (default) or `GENERATE_VERIFY_MAC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_usage: Option<String>,
    /// `SYMMETRIC_DEFAULT` (default) or an HMAC spec with `GENERATE_VERIFY_MAC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_spec: Option<String>,
    /// A key policy document (JSON); default: the account root may do everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Accepted for compatibility; ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bypass_policy_lockout_safety_check: Option<bool>,
}

/// Key metadata as `DescribeKey` returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct KeyMetadata {
    /// The 12-digit account.
    #[serde(rename = "AWSAccountId")]
    pub aws_account_id: String,
    /// The key id (a UUID).
    pub key_id: String,
    /// The key ARN.
    pub arn: String,
    /// Seconds since the epoch.
    pub creation_date: f64,
    /// Whether the key is enabled.
    #[serde(default, deserialize_with = "null_default")]
    pub enabled: bool,
    /// The description.
    #[serde(default, deserialize_with = "null_default")]
    pub description: String,
    /// `ENCRYPT_DECRYPT` or `GENERATE_VERIFY_MAC`.
    #[serde(default, deserialize_with = "null_default")]
    pub key_usage: String,
    /// `Enabled`, `Disabled` or `PendingDeletion`.
    #[serde(default, deserialize_with = "null_default")]
    pub key_state: String,
    /// When a key pending deletion will be deleted (seconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<f64>,
    /// The waiting period of a key pending deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_deletion_window_in_days: Option<u32>,
    /// `AWS_KMS`.
    #[serde(default, deserialize_with = "null_default")]
    pub origin: String,
    /// `CUSTOMER`.
    #[serde(default, deserialize_with = "null_default")]
    pub key_manager: String,
    /// `SYMMETRIC_DEFAULT`.
    #[serde(default, deserialize_with = "null_default")]
    pub key_spec: String,
    /// `["SYMMETRIC_DEFAULT"]`.
    #[serde(default, deserialize_with = "null_default")]
    pub encryption_algorithms: Vec<String>,
    /// Always `false`.
    #[serde(default, deserialize_with = "null_default")]
    pub multi_region: bool,
}

/// `CreateKey` response.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct CreateKeyResponse {
    /// The new key.
    pub key_metadata: KeyMetadata,
}

/// `DescribeKey` request.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct DescribeKeyRequest {
    /// Key id, key ARN, alias name or alias ARN.
    pub key_id: String,
}

impl DescribeKeyRequest {
    /// Describe `key_id`.
    #[must_use]
    pub fn new(key_id: impl Into<String>) -> Self {
        Self {
            key_id: key_id.into(),
        }
    }
}

/// `DescribeKey` response.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct DescribeKeyResponse {
    /// The key.
    pub key_metadata: KeyMetadata,
}

/// `ListKeys` request.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ListKeysRequest {
    /// 1..=1000, default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// `NextMarker` of a previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

/// One key in `ListKeys`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct KeyListEntry {
    /// The key id.
    pub key_id: String,
    /// The key ARN.
    pub key_arn: String,
}

/// `ListKeys` response.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ListKeysResponse {
    /// The keys of this page.
    pub keys: Vec<KeyListEntry>,
    /// Whether more pages follow.
    pub truncated: bool,
    /// The marker for the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// `CreateAlias` request.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct CreateAliasRequest {
    /// `alias/` followed by 1..=250 characters of `[A-Za-z0-9/_-]`; `alias/aws/` is reserved.
    pub alias_name: String,
    /// Key id or key ARN (not an alias).
    pub target_key_id: String,
}

impl CreateAliasRequest {
    /// Point `alias_name` at `target_key_id`.
    #[must_use]
    pub fn new(alias_name: impl Into<String>, target_key_id: impl Into<String>) -> Self {
        Self {
            alias_name: alias_name.into(),
            target_key_id: target_key_id.into(),
        }
    }
}

/// `ListAliases` request.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ListAliasesRequest {
    /// Only aliases of this key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// 1..=100, default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// `NextMarker` of a previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

/// One alias in `ListAliases`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct AliasListEntry {
    /// `alias/…`.
    pub alias_name: String,
    /// `arn:aws:kms:REGION:ACCOUNT:alias/…`.
    pub alias_arn: String,
    /// The key id it points to.
    pub target_key_id: String,
}

/// `ListAliases` response.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ListAliasesResponse {
    /// The aliases of this page.
    pub aliases: Vec<AliasListEntry>,
    /// Whether more pages follow.
    pub truncated: bool,
    /// The marker for the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// A request naming only a key (`EnableKey`, `DisableKey`, `CancelKeyDeletion`, `RotateKeyOnDemand`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct KeyIdRequest {
    /// Key id or key ARN (and, where AWS allows it, an alias).
    pub key_id: String,
}

impl KeyIdRequest {
    /// Name `key_id`.
    #[must_use]
    pub fn new(key_id: impl Into<String>) -> Self {
        Self {
            key_id: key_id.into(),
        }
    }
}

/// A response carrying the key ARN.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct KeyIdResponse {
    /// The key ARN.
    pub key_id: String,
}

/// An empty response (`{}`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// `ScheduleKeyDeletion` request.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ScheduleKeyDeletionRequest {
    /// Key id or key ARN.
    pub key_id: String,
    /// 7..=30, default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_window_in_days: Option<u32>,
}

impl ScheduleKeyDeletionRequest {
    /// Schedule deletion of `key_id` after `days`.
    #[must_use]
    pub fn new(key_id: impl Into<String>, days: Option<u32>) -> Self {
        Self {
            key_id: key_id.into(),
            pending_window_in_days: days,
        }
    }
}

/// `ScheduleKeyDeletion` response.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ScheduleKeyDeletionResponse {
    /// The key ARN.
    pub key_id: String,
    /// Seconds since the epoch.
    pub deletion_date: f64,
    /// `PendingDeletion`.
    pub key_state: String,
    /// The waiting period.
    pub pending_window_in_days: u32,
}

/// `EnableKeyRotation` request.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct EnableKeyRotationRequest {
    /// Key id or key ARN.
    pub key_id: String,
    /// 90..=2560, default 365.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_period_in_days: Option<u32>,
}

impl EnableKeyRotationRequest {
    /// Rotate `key_id` every `days` (default 365).
    #[must_use]
    pub fn new(key_id: impl Into<String>, days: Option<u32>) -> Self {
        Self {
            key_id: key_id.into(),
            rotation_period_in_days: days,
        }
    }
}

/// Other KMS implementations (moto) send `null` for fields they do not model; read those as the default.
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD
            .decode(s.as_bytes())
            .map_err(|_| serde::de::Error::custom("blob is not valid base64"))
    }
}

mod b64_secret {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};
    use zeroize::Zeroizing;

    use crate::keys::SecretBytes;

    pub(super) fn serialize<S: Serializer>(v: &SecretBytes, s: S) -> Result<S::Ok, S::Error> {
        let text = Zeroizing::new(STANDARD.encode(v.expose_secret()));
        s.serialize_str(&text)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SecretBytes, D::Error> {
        let s = Zeroizing::new(String::deserialize(d)?);
        STANDARD
            .decode(s.as_bytes())
            .map(SecretBytes::new)
            .map_err(|_| serde::de::Error::custom("plaintext is not valid base64"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_aws_names() {
        let req =
            GenerateDataKeyRequest::aes256("alias/x", [("a".to_owned(), "b".to_owned())].into());
        let json = serde_json::to_string(&req).expect("json");
        assert_eq!(
            json,
            r#"{"KeyId":"alias/x","KeySpec":"AES_256","EncryptionContext":{"a":"b"}}"#
        );
        let resp: GenerateDataKeyResponse =
            serde_json::from_str(r#"{"CiphertextBlob":"AAEC","Plaintext":"AwQ=","KeyId":"arn"}"#)
                .expect("parse");
        assert_eq!(resp.ciphertext_blob, vec![0, 1, 2]);
        assert_eq!(resp.plaintext.expose_secret(), &[3, 4]);
        assert!(
            !format!("{resp:?}").contains("[3, 4]"),
            "plaintext must be redacted"
        );
        assert!(serde_json::from_str::<DecryptRequest>(r#"{"CiphertextBlob":"!!"}"#).is_err());
    }
}
