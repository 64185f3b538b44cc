//! Incremental, parallel AES-256-GCM over one message of any length (up to 2^36 − 32 bytes).
//!
//! [`super::Aes256Gcm`] seals a buffer in one call. Objects of the S3 Encryption Client are *one* GCM
//! message over the whole object, so encrypting or decrypting them with bounded memory needs GCM in
//! pieces: the CTR keystream at any offset ([`super::Aes256Ctr::apply_gcm_keystream`]) and GHASH over the
//! ciphertext, both fed incrementally. [`GcmStream`] does that, and spreads large updates over all cores
//! with rayon: each chunk gets its keystream and a partial GHASH from zero, and the partial hashes are
//! combined with powers of the hash key, since GHASH is linear:
//!
//! ```text
//! GHASH(X_1 … X_n) = Σ X_i · H^(n−i+1)
//! Y_after = Y_before · H^m ⊕ Σ_j P_j · H^(m − end_j)      (m blocks in the update, chunk j ends at end_j)
//! ```
//!
//! The output is byte-identical to the one-shot [`super::Aes256Gcm`] (tested at every boundary).
//!
//! Decryption through [`GcmStream::decrypt_unauthenticated`] releases plaintext *before* the tag is
//! checked: callers must not expose it until [`GcmStream::verify`] succeeds (the envelope layer writes to
//! a temporary file and renames only after verification, or authenticates a seekable input first with
//! [`GcmStream::absorb_ciphertext`]).

use rayon::prelude::*;

use super::aead::{AeadError, GCM_MAX_PLAINTEXT, KEY_LEN, NONCE_LEN, TAG_LEN};
#[cfg(target_arch = "x86_64")]
use super::backend::active_backend;
use super::ctr::Aes256Ctr;
use super::ghash::{Ghash, gf128_mul, gf128_pow};
#[cfg(target_arch = "x86_64")]
use super::simd::{self, AesKernel, HashKey, InOut};

/// Updates at least this long are split over rayon workers.
pub const PARALLEL_THRESHOLD: usize = 1 << 20;
/// The chunk each worker processes (a multiple of 16).
const PAR_CHUNK: usize = 256 * 1024;

/// An AES-256-GCM message being encrypted or decrypted piece by piece.
#[derive(Clone)]
pub struct GcmStream {
    ctr: Aes256Ctr,
    iv: [u8; NONCE_LEN],
    h: [u8; 16],
    y: u128,
    /// Ciphertext bytes of an incomplete block, not yet hashed.
    pending: [u8; 16],
    pending_len: usize,
    aad_len: u64,
    len: u64,
    parallel: bool,
    /// The stitched kernel, when the active backend has one: block-aligned updates then run AES and GHASH
    /// in one pass per chunk instead of a CTR pass and a GHASH pass.
    #[cfg(target_arch = "x86_64")]
    fused: Option<Box<(AesKernel, HashKey)>>,
}

impl std::fmt::Debug for GcmStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcmStream")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl GcmStream {
    /// Starts a message under `key` and `iv` with associated data `aad`.
    #[must_use]
    pub fn new(key: &[u8; KEY_LEN], iv: &[u8; NONCE_LEN], aad: &[u8]) -> Self {
        let ctr = Aes256Ctr::new(key);
        let mut h = [0u8; 16];
        ctr.apply_keystream(&[0u8; 16], 0, &mut h);
        let mut s = Self {
            ctr,
            iv: *iv,
            h,
            y: 0,
            pending: [0; 16],
            pending_len: 0,
            aad_len: aad.len() as u64,
            len: 0,
            parallel: true,
            #[cfg(target_arch = "x86_64")]
            fused: active_backend()
                .tier()
                .and_then(|t| AesKernel::new(t, key))
                .map(|k| {
                    let hk = k.hash_key();
                    Box::new((k, hk))
                }),
        };
        if !aad.is_empty() {
            let mut g = Ghash::new(&s.h);
            g.update_padded(aad);
            s.y = u128::from_be_bytes(g.finalize());
        }
        s
    }

    /// Whether large updates use the current rayon pool (default) or stay on the calling thread. Run
    /// inside `ThreadPool::install` to choose the number of threads.
    #[must_use]
    pub fn parallel(mut self, parallel: bool) -> Self {
        self.parallel = parallel;
        self
    }

    /// As [`GcmStream::parallel`], in place.
    pub fn set_parallel(&mut self, parallel: bool) {
        self.parallel = parallel;
    }

    /// Bytes processed so far.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing has been processed yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Encrypts `buf` in place as the next part of the message.
    ///
    /// # Errors
    /// [`AeadError::PlaintextTooLong`] past GCM's limit; nothing is changed then.
    pub fn encrypt(&mut self, buf: &mut [u8]) -> Result<(), AeadError> {
        self.check(buf.len())
            .map_err(|()| AeadError::PlaintextTooLong)?;
        self.process(buf, true);
        Ok(())
    }

    /// Decrypts `buf` in place as the next part of the message. **The output is unauthenticated until
    /// [`GcmStream::verify`] succeeds.**
    ///
    /// # Errors
    /// [`AeadError::Authentication`] past GCM's limit (no valid message is that long).
    pub fn decrypt_unauthenticated(&mut self, buf: &mut [u8]) -> Result<(), AeadError> {
        self.check(buf.len())
            .map_err(|()| AeadError::Authentication)?;
        self.process(buf, false);
        Ok(())
    }

    /// Hashes ciphertext without decrypting it (the first pass of authenticate-then-decrypt).
    ///
    /// # Errors
    /// [`AeadError::Authentication`] past GCM's limit.
    pub fn absorb_ciphertext(&mut self, ct: &[u8]) -> Result<(), AeadError> {
        self.check(ct.len())
            .map_err(|()| AeadError::Authentication)?;
        self.absorb(ct);
        self.len += ct.len() as u64;
        Ok(())
    }

    /// The tag of the message processed so far.
    #[must_use]
    pub fn tag(&self) -> [u8; TAG_LEN] {
        let mut y = self.y;
        if self.pending_len > 0 {
            let mut block = [0u8; 16];
            block[..self.pending_len].copy_from_slice(&self.pending[..self.pending_len]);
            y = gf128_mul(y ^ u128::from_be_bytes(block), u128::from_be_bytes(self.h));
        }
        let lens = (u128::from(self.aad_len * 8) << 64) | u128::from(self.len * 8);
        y = gf128_mul(y ^ lens, u128::from_be_bytes(self.h));
        let mut s = y.to_be_bytes();
        let mut j0 = [0u8; 16];
        j0[..NONCE_LEN].copy_from_slice(&self.iv);
        j0[15] = 1;
        self.ctr.apply_keystream(&j0, 0, &mut s);
        s
    }

    /// Checks `tag` against the message processed so far, in constant time.
    ///
    /// # Errors
    /// [`AeadError::Authentication`] if it does not match.
    pub fn verify(&self, tag: &[u8; TAG_LEN]) -> Result<(), AeadError> {
        if super::ct_eq(&self.tag(), tag) {
            Ok(())
        } else {
            Err(AeadError::Authentication)
        }
    }

    fn check(&self, n: usize) -> Result<(), ()> {
        match self.len.checked_add(n as u64) {
            Some(total) if total <= GCM_MAX_PLAINTEXT => Ok(()),
            _ => Err(()),
        }
    }

    fn process(&mut self, buf: &mut [u8], encrypt: bool) {
        #[cfg(target_arch = "x86_64")]
        if self.pending_len == 0 && self.fused.is_some() {
            let whole = buf.len() - buf.len() % 16;
            let (blocks, rest) = buf.split_at_mut(whole);
            self.process_fused(blocks, encrypt);
            if rest.is_empty() {
                return;
            }
            return self.process_split(rest, encrypt);
        }
        self.process_split(buf, encrypt);
    }

    /// Whole blocks at a block-aligned position, on the stitched kernel: each chunk is encrypted and hashed
    /// in one pass. The first chunk continues the running hash; every later chunk hashes from zero and is
    /// folded in by Horner's rule, `Y ← Y·H^(blocks in chunk) ⊕ P_chunk`.
    #[cfg(target_arch = "x86_64")]
    fn process_fused(&mut self, blocks: &mut [u8], encrypt: bool) {
        let Some(fused) = self.fused.as_deref() else {
            return;
        };
        let (aes, hk) = fused;
        let offset = self.len;
        let counter = |at: u64| {
            let mut c = [0u8; 16];
            c[..NONCE_LEN].copy_from_slice(&self.iv);
            // Checked against GCM's limit, so the block index fits the 32-bit counter.
            c[NONCE_LEN..].copy_from_slice(&((2 + at / 16) as u32).to_be_bytes());
            c
        };
        let y0 = self.y.to_be_bytes();
        if blocks.len() < PARALLEL_THRESHOLD || !self.parallel {
            let mut y = y0;
            aes.gcm(
                hk,
                &counter(offset),
                &mut y,
                InOut::InPlace(blocks),
                encrypt,
            );
            self.y = u128::from_be_bytes(y);
        } else {
            let partials: Vec<(u64, u128)> = blocks
                .par_chunks_mut(PAR_CHUNK)
                .enumerate()
                .map(|(i, c)| {
                    let mut y = if i == 0 { y0 } else { [0u8; 16] };
                    let at = offset + (i * PAR_CHUNK) as u64;
                    aes.gcm(hk, &counter(at), &mut y, InOut::InPlace(c), encrypt);
                    ((c.len() / 16) as u64, u128::from_be_bytes(y))
                })
                .collect();
            let tier = aes.tier();
            let mul = |a, b| simd::gf128_mul(tier, a, b);
            let pow = |mut n: u64| {
                let (mut r, mut base) = (1u128 << 127, u128::from_be_bytes(self.h));
                while n > 0 {
                    if n & 1 == 1 {
                        r = mul(r, base);
                    }
                    base = mul(base, base);
                    n >>= 1;
                }
                r
            };
            let step = pow((PAR_CHUNK / 16) as u64);
            let mut acc = partials[0].1;
            for (n, p) in &partials[1..] {
                let mult = if *n == (PAR_CHUNK / 16) as u64 {
                    step
                } else {
                    pow(*n)
                };
                acc = mul(acc, mult) ^ p;
            }
            self.y = acc;
        }
        self.len += blocks.len() as u64;
    }

    fn process_split(&mut self, buf: &mut [u8], encrypt: bool) {
        let offset = self.len;
        let parallel = buf.len() >= PARALLEL_THRESHOLD && self.parallel;
        if !parallel {
            if !encrypt {
                self.absorb(buf);
            }
            // The length was checked against GCM's limit, which is inside the keystream.
            let _ = self.ctr.apply_gcm_keystream(&self.iv, offset, buf);
            if encrypt {
                self.absorb(buf);
            }
            self.len += buf.len() as u64;
            return;
        }
        // Keystream in parallel chunks (offset-aligned so each chunk is independent).
        if !encrypt {
            self.absorb(buf);
        }
        let (ctr, iv) = (&self.ctr, &self.iv);
        buf.par_chunks_mut(PAR_CHUNK)
            .enumerate()
            .for_each(|(i, c)| {
                let _ = ctr.apply_gcm_keystream(iv, offset + (i * PAR_CHUNK) as u64, c);
            });
        if encrypt {
            self.absorb(buf);
        }
        self.len += buf.len() as u64;
    }

    /// Hashes ciphertext `data` into the running state, completing a pending block first.
    fn absorb(&mut self, mut data: &[u8]) {
        let h = u128::from_be_bytes(self.h);
        if self.pending_len > 0 {
            let take = (16 - self.pending_len).min(data.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&data[..take]);
            self.pending_len += take;
            data = &data[take..];
            if self.pending_len < 16 {
                return;
            }
            self.y = gf128_mul(self.y ^ u128::from_be_bytes(self.pending), h);
            self.pending_len = 0;
        }
        let whole = data.len() - data.len() % 16;
        let (blocks, rest) = data.split_at(whole);
        if !blocks.is_empty() {
            let m = (blocks.len() / 16) as u64;
            let partial = if blocks.len() >= PARALLEL_THRESHOLD && self.parallel {
                let hh = self.h;
                let partials: Vec<(u64, u128)> = blocks
                    .par_chunks(PAR_CHUNK)
                    .map(|c| {
                        let mut g = Ghash::new(&hh);
                        g.update_padded(c);
                        ((c.len() / 16) as u64, u128::from_be_bytes(g.finalize()))
                    })
                    .collect();
                // Σ_j P_j · H^(blocks after chunk j), walking from the last chunk backwards. All chunks but
                // the last have PAR_CHUNK bytes, so one precomputed power serves them.
                let step = gf128_pow(h, (PAR_CHUNK / 16) as u64);
                let mut acc = 0u128;
                let mut mult: Option<u128> = None;
                for (n, p) in partials.iter().rev() {
                    acc ^= mult.map_or(*p, |mm| gf128_mul(*p, mm));
                    let this = if *n == (PAR_CHUNK / 16) as u64 {
                        step
                    } else {
                        gf128_pow(h, *n)
                    };
                    mult = Some(mult.map_or(this, |mm| gf128_mul(mm, this)));
                }
                acc
            } else {
                let mut g = Ghash::new(&self.h);
                g.update_padded(blocks);
                u128::from_be_bytes(g.finalize())
            };
            self.y = gf128_mul(self.y, gf128_pow(h, m)) ^ partial;
        }
        self.pending[..rest.len()].copy_from_slice(rest);
        self.pending_len = rest.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::Aes256Gcm;

    const KEY: [u8; 32] = [0x5c; 32];
    const IV: [u8; 12] = [0xa1; 12];

    fn msg(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 131 % 251) as u8).collect()
    }

    /// Every split of the input, sequential or parallel, gives the one-shot GCM output.
    #[test]
    fn pieces_equal_one_shot() {
        let gcm = Aes256Gcm::new(&KEY);
        for (len, aad) in [
            (0usize, &b""[..]),
            (1, b"a"),
            (15, b""),
            (16, b"sixteen bytes!!!"),
            (17, b"x"),
            (100, b""),
        ] {
            let pt = msg(len);
            let want = gcm.seal(&IV, aad, &pt).expect("seal");
            for split in 0..=len {
                let mut s = GcmStream::new(&KEY, &IV, aad);
                let mut buf = pt.clone();
                let (a, b) = buf.split_at_mut(split);
                s.encrypt(a).expect("a");
                s.encrypt(b).expect("b");
                assert_eq!(buf, want[..len], "len {len} split {split}");
                assert_eq!(s.tag(), want[len..], "len {len} split {split}");
            }
        }
    }

    #[test]
    fn parallel_large_updates_are_byte_identical() {
        let gcm = Aes256Gcm::new(&KEY);
        for len in [
            PARALLEL_THRESHOLD,
            PARALLEL_THRESHOLD + 17,
            3 * PARALLEL_THRESHOLD + PAR_CHUNK / 2 + 5,
        ] {
            let pt = msg(len);
            let want = gcm.seal(&IV, b"hdr", &pt).expect("seal");
            for parallel in [true, false] {
                let mut s = GcmStream::new(&KEY, &IV, b"hdr").parallel(parallel);
                let mut buf = pt.clone();
                let (a, b) = buf.split_at_mut(7); // misaligned start, then a large update
                s.encrypt(a).expect("a");
                s.encrypt(b).expect("b");
                assert!(
                    buf == want[..len] && s.tag() == want[len..],
                    "len {len} parallel {parallel}"
                );

                let mut d = GcmStream::new(&KEY, &IV, b"hdr").parallel(parallel);
                let mut ct = want[..len].to_vec();
                d.decrypt_unauthenticated(&mut ct).expect("d");
                assert!(ct == pt, "decrypt len {len}");
                let tag: [u8; 16] = want[len..].try_into().expect("tag");
                assert_eq!(d.verify(&tag), Ok(()));
                let mut a = GcmStream::new(&KEY, &IV, b"hdr").parallel(parallel);
                a.absorb_ciphertext(&want[..len]).expect("absorb");
                assert_eq!(a.verify(&tag), Ok(()));
                let mut bad = tag;
                bad[0] ^= 1;
                assert_eq!(a.verify(&bad), Err(AeadError::Authentication));
            }
        }
    }
}
