#!/usr/bin/env python3
"""Reference Cobblestone (c2sp.org/chunked-encryption) decryptor, checked
against test-vectors/wycheproof/c2sp_chunked_encryption_aes_256_gcm_test.json.

Documents, in runnable form, how the Wycheproof chunked set is meant to be
read (the Rust parser/tests should follow the same steps):

  ct        = zlib.decompress(bytes.fromhex(test["ct"]))        # ct is zlib'd, then hex'd
  salt      = ct[0:24]; commitment = ct[24:56]                   # 56-byte header
  info      = b"c2sp.org/chunked-encryption@v1+" + aead_name + b"\\x00" + salt + ctx
  k||n||c   = HKDF-Expand(SHA-512, prk=input key, info, 32+12+32)   (no Extract step)
  chunk i   = AES-256-GCM(k, nonce = n XOR BE96(i), aad = b"") over 16384-byte
              plaintext chunks; each encrypted chunk is 16384+16 bytes except the
              final one, which MUST be shorter (16..16399 bytes, may hold 0 bytes of pt)

Run: .venv/bin/python scripts/python/check_wycheproof_chunked.py
"""
import hashlib
import json
import os
import sys
import zlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PATH = os.path.join(ROOT, "test-vectors/wycheproof/c2sp_chunked_encryption_aes_256_gcm_test.json")
CHUNK = 16384
TAG = 16
SALT = 24
COMMIT = 32
HEADER = SALT + COMMIT


def derive(aead_name, key, salt, ctx):
    info = b"c2sp.org/chunked-encryption@v1+" + aead_name.encode() + b"\x00" + salt + ctx
    out = HKDFExpand(hashes.SHA512(), 32 + 12 + 32, info).derive(key)
    return out[:32], out[32:44], out[44:]


def decrypt_raw(k, n, body):
    """Raw mode: body is ct without the 56-byte header."""
    out = bytearray()
    pos = 0
    i = 0
    base = int.from_bytes(n, "big")
    while True:
        rem = len(body) - pos
        if rem == CHUNK + TAG:
            raise ValueError("truncated: final chunk is full-size")
        take = min(rem, CHUNK + TAG)
        if take < TAG:
            raise ValueError("truncated: final chunk shorter than a tag")
        nonce = (base ^ i).to_bytes(12, "big")
        out += AESGCM(k).decrypt(nonce, body[pos:pos + take], b"")
        pos += take
        i += 1
        if take < CHUNK + TAG:
            if pos != len(body):
                raise ValueError("trailing data")
            return bytes(out)


def decrypt(aead_name, key, ctx, ct):
    if len(key) != 32:
        raise ValueError("invalid key size")
    if len(ct) < HEADER:
        raise ValueError("truncated header")
    k, n, c = derive(aead_name, key, ct[:SALT], ctx)
    if c != ct[SALT:HEADER]:
        raise ValueError("commitment mismatch")
    return decrypt_raw(k, n, ct[HEADER:])


def main():
    d = json.load(open(PATH))
    bad = 0
    total = 0
    for g in d["testGroups"]:
        assert g["aead"] == "AEAD_AES_256_GCM" and g["sha"] == "SHA-512"
        for t in g["tests"]:
            total += 1
            ct = zlib.decompress(bytes.fromhex(t["ct"]))
            key, ctx = bytes.fromhex(t["key"]), bytes.fromhex(t["ctx"])
            try:
                m = decrypt(g["aead"], key, ctx, ct)
                ok = (t["result"] == "valid" and len(m) == t["msgLength"]
                      and hashlib.sha512(m).hexdigest() == t["msgSha512"])
            except Exception:
                ok = t["result"] == "invalid"
            if "aeadKey" in t:  # header is fine: check derivation and raw mode too
                k, n, _ = derive(g["aead"], key, ct[:SALT], ctx)
                ok = ok and k.hex() == t["aeadKey"] and n.hex() == t["baseNonce"]
                try:
                    decrypt_raw(k, n, ct[HEADER:])
                    ok = ok and t["result"] == "valid"
                except Exception:
                    ok = ok and t["result"] == "invalid"
            if not ok:
                bad += 1
                print("MISMATCH tcId %d %s" % (t["tcId"], t["comment"]))
    print("%d passed, %d failed" % (total - bad, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
