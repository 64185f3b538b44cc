//! Secret key types, one per role.
//!
//! Every type here:
//! - is zeroized when dropped ([`zeroize::ZeroizeOnDrop`]);
//! - prints as `TypeName([REDACTED])` with `Debug` and has no `Display`;
//! - gives its bytes only through an explicit `expose_secret()`, so every use of raw key material is
//!   visible in review;
//! - compares in constant time ([`DataKey::ct_eq`] and friends), and deliberately has no `PartialEq`.
//!
//! Distinct types keep roles apart: a [`CustomerKey`] cannot be passed where a [`KeyEncryptionKey`] is
//! expected without an explicit, greppable conversion.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::primitives::{self, RngError};

/// The length of every fixed-size key in this module: 256 bits.
pub const KEY_LEN: usize = 32;

/// A byte string had the wrong length for a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyLengthError {
    /// The required length in bytes.
    pub expected: usize,
    /// The length that was given.
    pub actual: usize,
}

impl fmt::Display for KeyLengthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "key must be {} bytes, got {}",
            self.expected, self.actual
        )
    }
}

impl std::error::Error for KeyLengthError {}

macro_rules! secret_key {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop)]
        pub struct $name([u8; KEY_LEN]);

        impl $name {
            /// Wraps existing key bytes. The caller should zeroize its own copy.
            #[must_use]
            pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
                Self(bytes)
            }

            /// Copies a key from a slice.
            ///
            /// # Errors
            /// [`KeyLengthError`] unless `bytes` is exactly 32 bytes long.
            pub fn try_from_slice(bytes: &[u8]) -> Result<Self, KeyLengthError> {
                let arr: [u8; KEY_LEN] = bytes
                    .try_into()
                    .map_err(|_| KeyLengthError { expected: KEY_LEN, actual: bytes.len() })?;
                Ok(Self(arr))
            }

            /// A fresh random key from the operating system's CSPRNG.
            ///
            /// # Errors
            /// [`RngError`] if the operating system cannot provide randomness.
            pub fn generate() -> Result<Self, RngError> {
                let mut k = Self([0u8; KEY_LEN]);
                primitives::fill_random(&mut k.0)?;
                Ok(k)
            }

            /// The raw key bytes. Every call site is a place where key material leaves the type: keep them
            /// few and pass the result straight to a primitive.
            #[must_use]
            pub fn expose_secret(&self) -> &[u8; KEY_LEN] {
                &self.0
            }

            /// Constant-time equality.
            #[must_use]
            pub fn ct_eq(&self, other: &Self) -> bool {
                primitives::ct_eq(&self.0, &other.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([REDACTED])"))
            }
        }
    };
}

secret_key! {
    /// A plaintext data key as returned by a KMS (`GenerateDataKey`) or unwrapped from an envelope: the key
    /// an object's content key comes from.
    DataKey
}

secret_key! {
    /// A per-object key: every object stored by the SSE engine gets its own random one, sealed under a
    /// root, KMS or customer-derived key and never used for anything else.
    ObjectKey
}

secret_key! {
    /// An SSE-C customer-provided key, decoded from `x-amz-server-side-encryption-customer-key`. Never
    /// stored, logged or echoed.
    CustomerKey
}

secret_key! {
    /// A key that encrypts other keys (raw AES wrapping keys, KMS backing keys, sealing keys derived from
    /// a root or customer key).
    KeyEncryptionKey
}

secret_key! {
    /// A root of a key hierarchy: an SSE-S3 root-key version, or the local root that wraps stored key
    /// material at rest.
    RootKey
}

secret_key! {
    /// A key derived from another by a KDF for one purpose (for example the S3EC V3 content key, derived
    /// with HKDF-SHA512 from the data key and message id).
    DerivedKey
}

/// Secret bytes of variable length (for example a KMS data key of `NumberOfBytes` 1..=1024, or an access
/// key secret). Zeroized on drop; `Debug` prints the length only.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Takes ownership of `bytes`.
    #[must_use]
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// `len` random bytes from the operating system's CSPRNG.
    ///
    /// # Errors
    /// [`RngError`] if the operating system cannot provide randomness.
    pub fn generate(len: usize) -> Result<Self, RngError> {
        let mut v = Self(vec![0u8; len]);
        primitives::fill_random(&mut v.0)?;
        Ok(v)
    }

    /// The raw bytes.
    #[must_use]
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// The number of bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no bytes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Constant-time equality (lengths are not secret).
    #[must_use]
    pub fn ct_eq(&self, other: &Self) -> bool {
        primitives::ct_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes([REDACTED; {} bytes])", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every rendering of every key type must be free of key bytes, in any common encoding.
    fn assert_redacted(rendered: &str, bytes: &[u8]) {
        use base64::Engine as _;
        assert!(rendered.contains("[REDACTED"), "{rendered}");
        let lower = rendered.to_lowercase();
        assert!(
            !lower.contains(&hex::encode(bytes)),
            "hex key bytes leaked: {rendered}"
        );
        assert!(
            !lower.contains(&hex::encode(&bytes[..4])),
            "hex prefix leaked: {rendered}"
        );
        assert!(
            !rendered.contains(&base64::engine::general_purpose::STANDARD.encode(bytes)),
            "{rendered}"
        );
        let decimal = format!("{:?}", &bytes[..4]);
        assert!(
            !rendered.contains(&decimal[1..decimal.len() - 1]),
            "decimal bytes leaked: {rendered}"
        );
    }

    #[test]
    fn debug_of_every_key_type_contains_no_key_bytes() {
        let bytes: [u8; 32] = core::array::from_fn(|i| 0xA0 ^ (i as u8 * 7));
        let renders = [
            format!("{:?}", DataKey::from_bytes(bytes)),
            format!("{:?}", ObjectKey::from_bytes(bytes)),
            format!("{:?}", CustomerKey::from_bytes(bytes)),
            format!("{:?}", KeyEncryptionKey::from_bytes(bytes)),
            format!("{:?}", RootKey::from_bytes(bytes)),
            format!("{:?}", DerivedKey::from_bytes(bytes)),
            format!("{:?}", SecretBytes::new(bytes.to_vec())),
            format!("{:#?}", DataKey::from_bytes(bytes)),
            format!("{:?}", Some(CustomerKey::from_bytes(bytes))),
            format!("{:?}", vec![RootKey::from_bytes(bytes)]),
        ];
        for r in &renders {
            assert_redacted(r, &bytes);
        }
        assert_eq!(renders[0], "DataKey([REDACTED])");
        assert_eq!(renders[6], "SecretBytes([REDACTED; 32 bytes])");
    }

    #[test]
    fn slice_length_is_checked() {
        assert_eq!(
            DataKey::try_from_slice(&[0u8; 31]).err(),
            Some(KeyLengthError {
                expected: 32,
                actual: 31
            })
        );
        assert!(CustomerKey::try_from_slice(&[0u8; 32]).is_ok());
        assert!(RootKey::try_from_slice(&[0u8; 33]).is_err());
    }

    #[test]
    fn generated_keys_differ_and_compare_in_constant_time() {
        let a = DataKey::generate().expect("rng");
        let b = DataKey::generate().expect("rng");
        assert!(!a.ct_eq(&b));
        assert!(a.ct_eq(&a.clone()));
        assert_eq!(SecretBytes::generate(1024).expect("rng").len(), 1024);
    }

    #[test]
    fn zeroize_clears_the_bytes() {
        let mut k = ObjectKey::from_bytes([0x55; 32]);
        k.zeroize();
        assert_eq!(k.expose_secret(), &[0u8; 32]);
        let mut s = SecretBytes::new(vec![1, 2, 3]);
        s.zeroize();
        assert!(s.is_empty());
    }
}
