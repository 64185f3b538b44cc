//! `Kms` for shared and borrowed KMS handles, so one KMS can back several keyrings and caches.

use std::sync::Arc;

use super::Kms;
use super::api::*;
use super::error::KmsError;

macro_rules! forward {
    ($($ty:ty),*) => {$(
        impl<K: Kms + ?Sized> Kms for $ty {
            fn generate_data_key(&self, req: &GenerateDataKeyRequest) -> Result<GenerateDataKeyResponse, KmsError> {
                (**self).generate_data_key(req)
            }
            fn generate_data_key_without_plaintext(
                &self,
                req: &GenerateDataKeyRequest,
            ) -> Result<GenerateDataKeyWithoutPlaintextResponse, KmsError> {
                (**self).generate_data_key_without_plaintext(req)
            }
            fn encrypt(&self, req: &EncryptRequest) -> Result<EncryptResponse, KmsError> {
                (**self).encrypt(req)
            }
            fn decrypt(&self, req: &DecryptRequest) -> Result<DecryptResponse, KmsError> {
                (**self).decrypt(req)
            }
            fn re_encrypt(&self, req: &ReEncryptRequest) -> Result<ReEncryptResponse, KmsError> {
                (**self).re_encrypt(req)
            }
            fn create_key(&self, req: &CreateKeyRequest) -> Result<CreateKeyResponse, KmsError> {
                (**self).create_key(req)
            }
            fn describe_key(&self, req: &DescribeKeyRequest) -> Result<DescribeKeyResponse, KmsError> {
                (**self).describe_key(req)
            }
            fn list_keys(&self, req: &ListKeysRequest) -> Result<ListKeysResponse, KmsError> {
                (**self).list_keys(req)
            }
            fn create_alias(&self, req: &CreateAliasRequest) -> Result<Empty, KmsError> {
                (**self).create_alias(req)
            }
            fn list_aliases(&self, req: &ListAliasesRequest) -> Result<ListAliasesResponse, KmsError> {
                (**self).list_aliases(req)
            }
            fn enable_key(&self, req: &KeyIdRequest) -> Result<Empty, KmsError> {
                (**self).enable_key(req)
            }
            fn disable_key(&self, req: &KeyIdRequest) -> Result<Empty, KmsError> {
                (**self).disable_key(req)
            }
            fn schedule_key_deletion(&self, req: &ScheduleKeyDeletionRequest) -> Result<ScheduleKeyDeletionResponse, KmsError> {
                (**self).schedule_key_deletion(req)
            }
            fn cancel_key_deletion(&self, req: &KeyIdRequest) -> Result<KeyIdResponse, KmsError> {
                (**self).cancel_key_deletion(req)
            }
            fn enable_key_rotation(&self, req: &EnableKeyRotationRequest) -> Result<Empty, KmsError> {
                (**self).enable_key_rotation(req)
            }
            fn rotate_key_on_demand(&self, req: &KeyIdRequest) -> Result<KeyIdResponse, KmsError> {
                (**self).rotate_key_on_demand(req)
            }
        }
    )*};
}

forward!(Arc<K>, &K, Box<K>);
