//! GHASH, GCM's universal hash (SP 800-38D §6.4), for authenticate-then-decrypt over streams.

use std::fmt;

use ghash::universal_hash::UniversalHash;

use super::backend::{Backend, active_backend};

/// GHASH block length in bytes.
pub const GHASH_BLOCK_LEN: usize = 16;

/// An incremental GHASH under hash key `H`. The key and state are zeroized on drop.
///
/// Data is absorbed in 16-byte blocks; [`Ghash::update_padded`] zero-pads a final partial block, which is
/// how GCM absorbs the associated data and the ciphertext.
#[derive(Clone)]
pub struct Ghash {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    RustCrypto(Box<ghash::GHash>),
}

impl fmt::Debug for Ghash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ghash").finish_non_exhaustive()
    }
}

impl Ghash {
    /// Starts a GHASH with hash key `h` (in GCM, `H = AES_K(0^128)`).
    #[must_use]
    pub fn new(h: &[u8; GHASH_BLOCK_LEN]) -> Self {
        match active_backend() {
            Backend::RustCrypto => Self {
                inner: Inner::RustCrypto(Box::new(ghash::GHash::new(&(*h).into()))),
            },
        }
    }

    /// Absorbs `data`, zero-padding it to a multiple of 16 bytes.
    pub fn update_padded(&mut self, data: &[u8]) {
        match &mut self.inner {
            Inner::RustCrypto(g) => g.update_padded(data),
        }
    }

    /// Returns the hash of everything absorbed so far.
    #[must_use]
    pub fn finalize(self) -> [u8; GHASH_BLOCK_LEN] {
        match self.inner {
            Inner::RustCrypto(g) => g.finalize().into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::{Aes256Ctr, Aes256Gcm};

    /// Recomputes a GCM tag from GHASH and the CTR keystream, which proves the two building blocks agree
    /// with the AEAD: tag = GHASH_H(A, C, len) XOR AES_K(J0).
    #[test]
    fn gcm_tag_from_parts() {
        let key = [0x42u8; 32];
        let iv = [0x24u8; 12];
        let aad = b"associated data that is not a multiple of 16";
        let pt = vec![0x5au8; 77];
        let sealed = Aes256Gcm::new(&key).seal(&iv, aad, &pt).expect("seal");
        let (ct, tag) = sealed.split_at(pt.len());

        let ctr = Aes256Ctr::new(&key);
        let mut h = [0u8; 16];
        ctr.apply_keystream(&[0u8; 16], 0, &mut h); // H = AES_K(0)
        let mut g = Ghash::new(&h);
        g.update_padded(aad);
        g.update_padded(ct);
        let mut lens = [0u8; 16];
        lens[..8].copy_from_slice(&((aad.len() as u64) * 8).to_be_bytes());
        lens[8..].copy_from_slice(&((ct.len() as u64) * 8).to_be_bytes());
        g.update_padded(&lens);
        let mut s = g.finalize();
        let mut j0 = [0u8; 16];
        j0[..12].copy_from_slice(&iv);
        j0[15] = 1;
        ctr.apply_keystream(&j0, 0, &mut s);
        assert_eq!(&s, tag);
    }
}
