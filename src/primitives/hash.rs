//! Message digests: SHA-256 and MD5.
//!
//! MD5 is broken for collision resistance. s3crypt uses it only where the S3 protocol mandates it: the
//! `x-amz-server-side-encryption-customer-key-MD5` header of SSE-C (an integrity check of the transmitted
//! key, not a security mechanism) and ETags.

use md5::Digest as _;

/// SHA-256 digest length in bytes.
pub const SHA256_LEN: usize = 32;
/// MD5 digest length in bytes.
pub const MD5_LEN: usize = 16;

/// SHA-256 of `data`.
#[must_use]
pub fn sha256(data: &[u8]) -> [u8; SHA256_LEN] {
    sha2::Sha256::digest(data).into()
}

/// SHA-512 of `data`.
#[must_use]
pub fn sha512(data: &[u8]) -> [u8; 64] {
    sha2::Sha512::digest(data).into()
}

/// MD5 of `data`. Only for the SSE-C key digest and ETags.
#[must_use]
pub fn md5(data: &[u8]) -> [u8; MD5_LEN] {
    md5::Md5::digest(data).into()
}

/// An incremental SHA-256.
#[derive(Clone, Debug, Default)]
pub struct Sha256(sha2::Sha256);

impl Sha256 {
    /// A fresh hash.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Absorbs `data`.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The digest of everything absorbed.
    #[must_use]
    pub fn finalize(self) -> [u8; SHA256_LEN] {
        self.0.finalize().into()
    }
}

/// An incremental MD5 (for ETags of large objects).
#[derive(Clone, Debug, Default)]
pub struct Md5(md5::Md5);

impl Md5 {
    /// A fresh hash.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Absorbs `data`.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The digest of everything absorbed.
    #[must_use]
    pub fn finalize(self) -> [u8; MD5_LEN] {
        self.0.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incremental_matches_one_shot() {
        let data: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let mut s = Sha256::new();
        let mut m = Md5::new();
        for c in data.chunks(77) {
            s.update(c);
            m.update(c);
        }
        assert_eq!(s.finalize(), sha256(&data));
        assert_eq!(m.finalize(), md5(&data));
    }

    #[test]
    fn sha256_abc() {
        assert_eq!(
            sha256(b"abc"),
            hex_literal::hex!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
    }
}
