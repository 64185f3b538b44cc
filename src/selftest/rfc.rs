//! RFC 5869 (HKDF-SHA256), RFC 1321 (MD5), NIST SP 800-38A and RFC 3686 (AES-256-CTR).

use super::records::{self, Record};
use super::{SelftestError, Tally, array, hex_field, mismatch, parse_err};
use crate::primitives::{Aes256Ctr, hash, kdf};

fn field(suite: &'static str, r: &Record, names: &[&str]) -> Result<Vec<u8>, SelftestError> {
    let id = r.id();
    let (name, v) = names
        .iter()
        .find_map(|n| r.get(n).map(|v| (*n, v)))
        .ok_or_else(|| parse_err(suite, format!("case {id}: missing {}", names.join("/"))))?;
    hex_field(suite, &id, name, v)
}

fn number(suite: &'static str, r: &Record, name: &str) -> Result<usize, SelftestError> {
    r.get(name).and_then(|v| v.parse().ok()).ok_or_else(|| {
        parse_err(
            suite,
            format!("case {}: {name} is missing or not a number", r.id()),
        )
    })
}

pub(super) fn hkdf_sha256(text: &str) -> Result<Tally, SelftestError> {
    const S: &str = "RFC 5869 HKDF-SHA256";
    let mut t = Tally::default();
    for r in records::parse(text) {
        if r.get("Hash") != Some("SHA-256") {
            t.skipped += 1;
            continue;
        }
        let okm_expected = field(S, &r, &["OKM"])?;
        let mut okm = vec![0u8; number(S, &r, "L")?];
        let salt = field(S, &r, &["salt"])?;
        kdf::hkdf_sha256(
            Some(&salt),
            &field(S, &r, &["IKM"])?,
            &field(S, &r, &["info"])?,
            &mut okm,
        )
        .map_err(|e| mismatch(S, r.id(), e.to_string()))?;
        if okm != okm_expected {
            return Err(mismatch(S, r.id(), "OKM differs"));
        }
        t.pass();
    }
    Ok(t)
}

pub(super) fn md5(text: &str) -> Result<Tally, SelftestError> {
    const S: &str = "RFC 1321 MD5";
    let mut t = Tally::default();
    for r in records::parse(text) {
        let bits = number(S, &r, "Len")?;
        if bits % 8 != 0 {
            t.skipped += 1;
            continue;
        }
        let msg = field(S, &r, &["Msg"])?;
        let msg = msg
            .get(..bits / 8)
            .ok_or_else(|| parse_err(S, format!("case {}: Msg shorter than Len", r.id())))?;
        if hash::md5(msg).as_slice() != field(S, &r, &["MD"])? {
            return Err(mismatch(S, r.id(), "digest differs"));
        }
        t.pass();
    }
    Ok(t)
}

/// SP 800-38A (`COUNTER`) and RFC 3686 (`IV` = the full initial counter block) share this runner. In the
/// `DECRYPT` section the keystream is applied to the ciphertext.
pub(super) fn ctr(text: &str) -> Result<Tally, SelftestError> {
    const S: &str = "AES-256-CTR";
    let mut t = Tally::default();
    for r in records::parse(text) {
        let id = r.id();
        let key: [u8; 32] = array(S, &id, "KEY", &field(S, &r, &["KEY"])?)?;
        let counter: [u8; 16] = array(S, &id, "COUNTER", &field(S, &r, &["COUNTER", "IV"])?)?;
        let (input, expected) = if r.section.contains_key("DECRYPT") {
            (
                field(S, &r, &["CIPHERTEXT"])?,
                field(S, &r, &["PLAINTEXT"])?,
            )
        } else {
            (
                field(S, &r, &["PLAINTEXT"])?,
                field(S, &r, &["CIPHERTEXT"])?,
            )
        };
        let ctr = Aes256Ctr::new(&key);
        let mut buf = input.clone();
        ctr.apply_keystream(&counter, 0, &mut buf);
        if buf != expected {
            return Err(mismatch(S, &id, "output differs"));
        }
        // Every block offset must give the matching suffix of the keystream.
        for off in (16..input.len()).step_by(16) {
            let mut part = input[off..].to_vec();
            ctr.apply_keystream(&counter, off as u64, &mut part);
            if part != expected[off..] {
                return Err(mismatch(S, &id, format!("output at offset {off} differs")));
            }
        }
        t.pass();
    }
    Ok(t)
}
