//! Wycheproof (C2SP/wycheproof) JSON vector files.

use std::io::Read as _;

use serde_json::Value;

use super::{SelftestError, Tally, array, hex_field, mismatch, parse_err};
use crate::primitives::chunked::{self, ChunkKey, ChunkedError, HEADER_LEN};
use crate::primitives::{Aes256Gcm, hash, kdf};

/// `(group, test, tcId, expects_valid)` for every test of every group.
fn tests(
    suite: &'static str,
    text: &str,
) -> Result<Vec<(Value, Value, String, bool)>, SelftestError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| parse_err(suite, e.to_string()))?;
    let groups = doc
        .get("testGroups")
        .and_then(Value::as_array)
        .ok_or_else(|| parse_err(suite, "no testGroups"))?;
    let declared = doc.get("numberOfTests").and_then(Value::as_u64);
    let mut out = Vec::new();
    for g in groups {
        let ts = g
            .get("tests")
            .and_then(Value::as_array)
            .ok_or_else(|| parse_err(suite, "group without tests"))?;
        for t in ts {
            let id = t
                .get("tcId")
                .map(Value::to_string)
                .unwrap_or_else(|| "?".into());
            let valid = match t.get("result").and_then(Value::as_str) {
                // "acceptable" cases are legal but weak inputs; s3crypt must handle them like valid ones.
                Some("valid" | "acceptable") => true,
                Some("invalid") => false,
                other => {
                    return Err(parse_err(
                        suite,
                        format!("tcId {id}: unknown result {other:?}"),
                    ));
                }
            };
            out.push((g.clone(), t.clone(), id, valid));
        }
    }
    if let Some(n) = declared
        && n != out.len() as u64
    {
        return Err(parse_err(
            suite,
            format!("numberOfTests says {n}, file holds {}", out.len()),
        ));
    }
    Ok(out)
}

fn hexv(suite: &'static str, t: &Value, id: &str, name: &str) -> Result<Vec<u8>, SelftestError> {
    let v = t
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| parse_err(suite, format!("tcId {id}: missing {name}")))?;
    hex_field(suite, id, name, v)
}

fn bits(g: &Value, name: &str) -> Option<u64> {
    g.get(name).and_then(Value::as_u64)
}

pub(super) fn aes_gcm(text: &str) -> Result<Tally, SelftestError> {
    const S: &str = "Wycheproof AES-GCM";
    let mut tally = Tally::default();
    for (g, t, id, valid) in tests(S, text)? {
        // s3crypt implements AES-256-GCM with 96-bit nonces and 128-bit tags only.
        if bits(&g, "keySize") != Some(256)
            || bits(&g, "ivSize") != Some(96)
            || bits(&g, "tagSize") != Some(128)
        {
            tally.skipped += 1;
            continue;
        }
        let key = array::<32>(S, &id, "key", &hexv(S, &t, &id, "key")?)?;
        let iv = array::<12>(S, &id, "iv", &hexv(S, &t, &id, "iv")?)?;
        let aad = hexv(S, &t, &id, "aad")?;
        let msg = hexv(S, &t, &id, "msg")?;
        let ct = hexv(S, &t, &id, "ct")?;
        let tag = array::<16>(S, &id, "tag", &hexv(S, &t, &id, "tag")?)?;
        let gcm = Aes256Gcm::new(&key);
        let mut buf = ct.clone();
        let opened = gcm.open_in_place_detached(&iv, &aad, &mut buf, &tag);
        if valid {
            let mut sealed = msg.clone();
            let my_tag = gcm
                .seal_in_place_detached(&iv, &aad, &mut sealed)
                .map_err(|e| mismatch(S, &id, e.to_string()))?;
            if sealed != ct || my_tag != tag {
                return Err(mismatch(S, &id, "encryption differs"));
            }
            if opened.is_err() || buf != msg {
                return Err(mismatch(S, &id, "valid ciphertext not opened to msg"));
            }
            tally.pass();
        } else {
            if opened.is_ok() {
                return Err(mismatch(S, &id, "invalid ciphertext accepted"));
            }
            tally.reject();
        }
    }
    Ok(tally)
}

pub(super) fn hkdf_sha256(text: &str) -> Result<Tally, SelftestError> {
    const S: &str = "Wycheproof HKDF-SHA256";
    let mut tally = Tally::default();
    for (_, t, id, valid) in tests(S, text)? {
        let size = t
            .get("size")
            .and_then(Value::as_u64)
            .and_then(|s| usize::try_from(s).ok())
            .ok_or_else(|| parse_err(S, format!("tcId {id}: missing size")))?;
        let mut okm = vec![0u8; size];
        let salt = hexv(S, &t, &id, "salt")?;
        let res = kdf::hkdf_sha256(
            Some(&salt),
            &hexv(S, &t, &id, "ikm")?,
            &hexv(S, &t, &id, "info")?,
            &mut okm,
        );
        match (valid, res) {
            (true, Ok(())) if okm == hexv(S, &t, &id, "okm")? => tally.pass(),
            (true, _) => return Err(mismatch(S, &id, "OKM differs")),
            (false, Err(_)) => tally.reject(),
            (false, Ok(())) => return Err(mismatch(S, &id, "invalid case accepted")),
        }
    }
    Ok(tally)
}

pub(super) fn hmac_sha256(text: &str) -> Result<Tally, SelftestError> {
    const S: &str = "Wycheproof HMAC-SHA256";
    let mut tally = Tally::default();
    for (g, t, id, valid) in tests(S, text)? {
        let tag_len = bits(&g, "tagSize")
            .map(|b| (b / 8) as usize)
            .ok_or_else(|| parse_err(S, "group without tagSize"))?;
        let key = hexv(S, &t, &id, "key")?;
        let msg = hexv(S, &t, &id, "msg")?;
        let tag = hexv(S, &t, &id, "tag")?;
        let verifies = tag.len() == tag_len && kdf::hmac_sha256_verify(&key, &[&msg], &tag);
        match (valid, verifies) {
            (true, true) => {
                if kdf::hmac_sha256(&key, &[&msg])[..tag_len] != tag[..] {
                    return Err(mismatch(S, &id, "MAC differs"));
                }
                tally.pass();
            }
            (true, false) => return Err(mismatch(S, &id, "valid tag rejected")),
            (false, false) => tally.reject(),
            (false, true) => return Err(mismatch(S, &id, "invalid tag accepted")),
        }
    }
    Ok(tally)
}

/// C2SP chunked encryption (Cobblestone-256). `ct` is hex of a zlib stream.
///
/// Every case is opened through the full construction; cases without `HeaderFailure` are also opened in
/// raw mode, and valid ones are re-encrypted (with the vector's salt) and must match byte for byte.
pub(super) fn chunked(text: &str) -> Result<Tally, SelftestError> {
    const S: &str = "Wycheproof C2SP chunked AES-256-GCM";
    let mut tally = Tally::default();
    for (_, t, id, valid) in tests(S, text)? {
        let mut ct = Vec::new();
        flate2::read::ZlibDecoder::new(hexv(S, &t, &id, "ct")?.as_slice())
            .read_to_end(&mut ct)
            .map_err(|e| parse_err(S, format!("tcId {id}: ct is not zlib: {e}")))?;
        let key = hexv(S, &t, &id, "key")?;
        let ctx = hexv(S, &t, &id, "ctx")?;
        let flags: Vec<&str> = t
            .get("flags")
            .and_then(Value::as_array)
            .map(|f| f.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let full = chunked::open(&key, &ctx, &ct);
        let raw = if flags.contains(&"HeaderFailure") {
            None
        } else {
            let k = array::<32>(S, &id, "aeadKey", &hexv(S, &t, &id, "aeadKey")?)?;
            let n = array::<12>(S, &id, "baseNonce", &hexv(S, &t, &id, "baseNonce")?)?;
            Some(ChunkKey::from_raw(&k, &n).open_body(ct.get(HEADER_LEN..).unwrap_or_default()))
        };
        if valid {
            let msg = full.map_err(|e| mismatch(S, &id, format!("valid message rejected: {e}")))?;
            let len = t.get("msgLength").and_then(Value::as_u64);
            if Some(msg.len() as u64) != len
                || hash::sha512(&msg).as_slice() != hexv(S, &t, &id, "msgSha512")?
            {
                return Err(mismatch(S, &id, "message length or SHA-512 differs"));
            }
            match raw {
                Some(Ok(m)) if m == msg => {}
                _ => return Err(mismatch(S, &id, "raw mode disagrees")),
            }
            let key32 = array::<32>(S, &id, "key", &key)?;
            let salt = array::<24>(S, &id, "salt", ct.get(..24).unwrap_or_default())?;
            let again = chunked::seal_with_salt(&key32, &salt, &ctx, &msg)
                .map_err(|e| mismatch(S, &id, e.to_string()))?;
            if again != ct {
                return Err(mismatch(S, &id, "re-encryption differs"));
            }
            tally.pass();
        } else {
            if full.is_ok() || matches!(raw, Some(Ok(_))) {
                return Err(mismatch(S, &id, "invalid message accepted"));
            }
            if flags.contains(&"InvalidKeySize") && full != Err(ChunkedError::InvalidKeyLength) {
                return Err(mismatch(S, &id, "wrong key size not reported as such"));
            }
            tally.reject();
        }
    }
    Ok(tally)
}
