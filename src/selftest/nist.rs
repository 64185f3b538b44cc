//! NIST CAVP GCM (AES-256, 96-bit IV, 128-bit tag).

use super::records::{self, Record};
use super::{SelftestError, Tally, array, hex_field, mismatch, parse_err};
use crate::primitives::Aes256Gcm;

const ENC: &str = "NIST CAVP GCM-256 encrypt";
const DEC: &str = "NIST CAVP GCM-256 decrypt";

struct Case {
    id: String,
    key: [u8; 32],
    iv: [u8; 12],
    aad: Vec<u8>,
    ct: Vec<u8>,
    tag: [u8; 16],
    pt: Option<Vec<u8>>,
}

fn case(suite: &'static str, r: &Record) -> Result<Option<Case>, SelftestError> {
    // Only the IV96/Tag128 subset is in scope; the files are filtered, but check anyway.
    if r.section.get("IVlen").map(String::as_str) != Some("96")
        || r.section.get("Taglen").map(String::as_str) != Some("128")
    {
        return Ok(None);
    }
    let id = r.id();
    let field = |name: &str| -> Result<Vec<u8>, SelftestError> {
        let v = r
            .get(name)
            .ok_or_else(|| parse_err(suite, format!("case {id}: missing {name}")))?;
        hex_field(suite, &id, name, v)
    };
    let pt = if r.has_flag("FAIL") {
        None
    } else {
        Some(field("PT")?)
    };
    Ok(Some(Case {
        key: array(suite, &id, "Key", &field("Key")?)?,
        iv: array(suite, &id, "IV", &field("IV")?)?,
        aad: field("AAD")?,
        ct: field("CT")?,
        tag: array(suite, &id, "Tag", &field("Tag")?)?,
        pt,
        id,
    }))
}

pub(super) fn gcm_encrypt(text: &str) -> Result<Tally, SelftestError> {
    let mut t = Tally::default();
    for r in records::parse(text) {
        let Some(c) = case(ENC, &r)? else {
            t.skipped += 1;
            continue;
        };
        let pt =
            c.pt.ok_or_else(|| parse_err(ENC, format!("case {}: FAIL in an encrypt file", c.id)))?;
        let gcm = Aes256Gcm::new(&c.key);
        let mut buf = pt.clone();
        let tag = gcm
            .seal_in_place_detached(&c.iv, &c.aad, &mut buf)
            .map_err(|e| mismatch(ENC, &c.id, e.to_string()))?;
        if buf != c.ct || tag != c.tag {
            return Err(mismatch(ENC, &c.id, "ciphertext or tag differs"));
        }
        gcm.open_in_place_detached(&c.iv, &c.aad, &mut buf, &tag)
            .map_err(|_| mismatch(ENC, &c.id, "own output rejected"))?;
        if buf != pt {
            return Err(mismatch(ENC, &c.id, "round trip differs"));
        }
        t.pass();
    }
    Ok(t)
}

pub(super) fn gcm_decrypt(text: &str) -> Result<Tally, SelftestError> {
    let mut t = Tally::default();
    for r in records::parse(text) {
        let Some(c) = case(DEC, &r)? else {
            t.skipped += 1;
            continue;
        };
        let gcm = Aes256Gcm::new(&c.key);
        let mut buf = c.ct.clone();
        let res = gcm.open_in_place_detached(&c.iv, &c.aad, &mut buf, &c.tag);
        match (c.pt, res) {
            (Some(pt), Ok(())) if buf == pt => t.pass(),
            (Some(_), Ok(())) => return Err(mismatch(DEC, &c.id, "plaintext differs")),
            (Some(_), Err(_)) => return Err(mismatch(DEC, &c.id, "valid ciphertext rejected")),
            (None, Err(_)) if buf == c.ct => t.reject(),
            (None, Err(_)) => {
                return Err(mismatch(
                    DEC,
                    &c.id,
                    "rejected, but the buffer was modified",
                ));
            }
            (None, Ok(())) => return Err(mismatch(DEC, &c.id, "FAIL case was accepted")),
        }
    }
    Ok(t)
}
