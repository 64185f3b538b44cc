#!/usr/bin/env python3
"""Generate test-vectors/openssl/openssl_kat.json: OpenSSL cross-check vectors.

Runs in the repo venv (scripts/venv.sh) and uses only `cryptography` (which
bundles OpenSSL) plus the standard library.  Fully deterministic: no
randomness, keys/IVs/counters are SHA-256 of fixed labels, buffers are the
pattern() below.  Re-running with the same pinned `cryptography` version must
reproduce the file byte for byte.

    scripts/venv.sh && .venv/bin/python test-vectors/openssl/generate.py
    .venv/bin/python test-vectors/openssl/generate.py --check   # compare, don't write

Sections (all hex lowercase):
  gcm            AES-256-GCM, 12-byte IV, 16-byte tag, pt/aad = pattern(len, seed)
  ctr            AES-256-CTR (OpenSSL EVP_aes_256_ctr), full 16-byte initial counter block
  gcm_ctr_range  ranged decryption of a GCM ciphertext with plain CTR
  hkdf           HKDF (RFC 5869) with SHA-256 / SHA-512
Every value is cross-checked before writing (GCM round trip, CTR against an
ECB-keystream reference, ranges against the plaintext, HKDF against a stdlib
hmac implementation of RFC 5869).
"""
import hashlib
import hmac
import json
import os
import sys

import cryptography
from cryptography.hazmat.backends.openssl.backend import backend as _ossl
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "openssl_kat.json")

CT_INLINE_MAX = 64  # "ct" is included only when pt_len <= 64

SIZES = list(range(0, 65)) + [
    127, 128, 129,
    255, 256, 257,
    511, 512, 513,
    1023, 1024, 1025,
    4095, 4096, 4097,
    16383, 16384, 16385,
    65535, 65536, 65537,
    65539,
]


def pattern(length, seed):
    """Byte i is (seed + 13*i) % 251."""
    return bytes((seed + 13 * i) % 251 for i in range(length))


def derive(label, n):
    """Deterministic 32 bytes for a labelled case (no randomness)."""
    return hashlib.sha256(("s3crypt-kat|%s|%d" % (label, n)).encode()).digest()


def sha256_hex(b):
    return hashlib.sha256(b).hexdigest()


# ---------------------------------------------------------------------------
# AES primitives via OpenSSL (cryptography) plus an independent CTR reference
# ---------------------------------------------------------------------------

def ctr_openssl(key, counter, data):
    enc = Cipher(algorithms.AES(key), modes.CTR(counter)).encryptor()
    return enc.update(data) + enc.finalize()


def ctr_reference(key, counter, data):
    """CTR built from raw AES-ECB blocks; counter = full 128-bit BE int, mod 2^128."""
    ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    c0 = int.from_bytes(counter, "big")
    nblocks = (len(data) + 15) // 16
    blocks = b"".join(((c0 + i) % (1 << 128)).to_bytes(16, "big") for i in range(nblocks))
    ks = ecb.update(blocks) + ecb.finalize()
    return bytes(a ^ b for a, b in zip(data, ks))


# ---------------------------------------------------------------------------
# GCM
# ---------------------------------------------------------------------------

def gcm_case(n, pt_len, pt_seed, aad_len, aad_seed):
    key = derive("gcm/key", n)
    iv = derive("gcm/iv", n)[:12]
    pt = pattern(pt_len, pt_seed)
    aad = pattern(aad_len, aad_seed)
    out = AESGCM(key).encrypt(iv, pt, aad)
    ct, tag = out[:-16], out[-16:]
    assert len(ct) == pt_len and len(tag) == 16
    assert AESGCM(key).decrypt(iv, out, aad) == pt
    # GCM's payload keystream is CTR starting at iv || BE32(2).
    assert ctr_reference(key, iv + (2).to_bytes(4, "big"), pt) == ct
    case = {
        "key": key.hex(),
        "iv": iv.hex(),
        "aad_len": aad_len,
        "aad_seed": aad_seed,
        "pt_len": pt_len,
        "pt_seed": pt_seed,
        "ct_sha256": sha256_hex(ct),
    }
    if pt_len <= CT_INLINE_MAX:
        case["ct"] = ct.hex()
    case["tag"] = tag.hex()
    return case


def gen_gcm():
    cases = []
    n = 0
    # Every size with empty AAD.
    for pt_len in SIZES:
        cases.append(gcm_case(n, pt_len, (7 * n + 1) % 251, 0, 0))
        n += 1
    # Non-empty AAD: AAD-only (empty PT) and AAD + PT of assorted sizes.
    aad_lens = [1, 13, 16, 17, 64, 65, 255]
    pt_with_aad = [1, 15, 16, 33, 64, 129, 4097]
    for aad_len, pt_len in zip(aad_lens, pt_with_aad):
        cases.append(gcm_case(n, 0, 0, aad_len, (11 * n + 5) % 251))
        n += 1
        cases.append(gcm_case(n, pt_len, (7 * n + 1) % 251, aad_len, (11 * n + 5) % 251))
        n += 1
    for aad_len, pt_len in [(13, 65537), (255, 16385), (17, 65539)]:
        cases.append(gcm_case(n, pt_len, (7 * n + 1) % 251, aad_len, (11 * n + 5) % 251))
        n += 1
    return cases


# ---------------------------------------------------------------------------
# CTR
# ---------------------------------------------------------------------------

def counter_blocks():
    """Named initial counter blocks, incl. ones wrapping the low 32/64 bits and 2^128."""
    p = derive("ctr/prefix", 0)
    return [
        ("random", derive("ctr/counter", 0)[:16]),
        ("zero", bytes(16)),
        ("gcm_style_j0+1", derive("ctr/iv", 0)[:12] + (2).to_bytes(4, "big")),
        ("low32_wrap_ffffffff", p[:12] + b"\xff\xff\xff\xff"),
        ("low32_wrap_fffffffe", p[:12] + b"\xff\xff\xff\xfe"),
        ("low32_wrap_fffffff0", p[:12] + b"\xff\xff\xff\xf0"),
        ("low64_wrap_ffffffffffffffff", p[:8] + b"\xff" * 8),
        ("low64_wrap_fffffffffffffffd", p[:8] + b"\xff" * 7 + b"\xfd"),
        ("full128_wrap_all_ff", b"\xff" * 16),
        ("full128_wrap_ff..fe", b"\xff" * 15 + b"\xfe"),
        ("full128_wrap_ff..f0", b"\xff" * 15 + b"\xf0"),
    ]


def ctr_case(n, counter, pt_len, pt_seed):
    key = derive("ctr/key", n)
    pt = pattern(pt_len, pt_seed)
    ct = ctr_openssl(key, counter, pt)
    ref = ctr_reference(key, counter, pt)
    if ct != ref:
        raise SystemExit("OpenSSL CTR differs from 128-bit big-endian reference: counter=%s len=%d"
                         % (counter.hex(), pt_len))
    case = {
        "key": key.hex(),
        "counter": counter.hex(),
        "pt_len": pt_len,
        "pt_seed": pt_seed,
        "ct_sha256": sha256_hex(ct),
    }
    if pt_len <= CT_INLINE_MAX:
        case["ct"] = ct.hex()
    return case


def gen_ctr():
    cbs = counter_blocks()
    cases = []
    n = 0
    # Every size, rotating through the counter blocks.
    for i, pt_len in enumerate(SIZES):
        _, cb = cbs[i % len(cbs)]
        cases.append(ctr_case(n, cb, pt_len, (5 * n + 3) % 251))
        n += 1
    # Every wrap counter against sizes that do / don't cross the boundary.
    wrap_sizes = [1, 16, 17, 32, 33, 48, 64, 255, 4097, 65539]
    for name, cb in cbs:
        if "wrap" not in name:
            continue
        for pt_len in wrap_sizes:
            cases.append(ctr_case(n, cb, pt_len, (5 * n + 3) % 251))
            n += 1
    return cases


# ---------------------------------------------------------------------------
# GCM ranged decryption with CTR
# ---------------------------------------------------------------------------

def gen_gcm_ctr_range():
    cases = []
    ranges = [
        (0, 16), (1, 1), (15, 2), (16, 16), (17, 100), (31, 33), (0, 1),
        (4095, 3), (4096, 16), (4090, 20), (16383, 2), (32768, 1000),
        (65520, 19), (65535, 4),
    ]
    for n, pt_len in enumerate((5000, 65539)):
        key = derive("gcm_ctr_range/key", n)
        iv = derive("gcm_ctr_range/iv", n)[:12]
        pt_seed = (17 * n + 9) % 251
        pt = pattern(pt_len, pt_seed)
        ct = AESGCM(key).encrypt(iv, pt, b"")[:-16]
        rs = [(o, l) for (o, l) in ranges if o + l <= pt_len]
        rs += [(pt_len - 1, 1), (pt_len - 10, 10), (pt_len - 17, 17), ((pt_len // 16) * 16, pt_len % 16 or 16)]
        seen = set()
        for off, length in rs:
            if (off, length) in seen or length <= 0 or off + length > pt_len:
                continue
            seen.add((off, length))
            block = off // 16
            skip = off % 16
            counter = iv + (2 + block).to_bytes(4, "big")
            # Decrypt ct from the start of the containing block, drop `skip` bytes.
            got = ctr_openssl(key, counter, ct[block * 16: off + length])[skip:]
            assert got == pt[off: off + length], (pt_len, off, length)
            assert ctr_reference(key, counter, ct[block * 16: off + length])[skip:] == got
            cases.append({
                "key": key.hex(),
                "iv": iv.hex(),
                "pt_len": pt_len,
                "pt_seed": pt_seed,
                "offset": off,
                "length": length,
                "counter": counter.hex(),
                "skip": skip,
                "ct_range": ct[off: off + length].hex(),
                "pt_range": pt[off: off + length].hex(),
            })
    return cases


# ---------------------------------------------------------------------------
# HKDF
# ---------------------------------------------------------------------------

def hkdf_reference(hname, ikm, salt, info, length):
    h = getattr(hashlib, hname)
    hlen = h().digest_size
    if salt is None:
        salt = b"\x00" * hlen
    prk = hmac.new(salt, ikm, h).digest()
    okm, t, i = b"", b"", 1
    while len(okm) < length:
        t = hmac.new(prk, t + info + bytes([i]), h).digest()
        okm += t
        i += 1
    return okm[:length]


def gen_hkdf():
    cases = []
    ikm_lens = [0, 1, 22, 32, 80]
    salt_lens = [None, 0, 13, 64, 200]
    info_lens = [0, 10, 255]
    for hname, halg, hlen in (("sha256", hashes.SHA256, 32), ("sha512", hashes.SHA512, 64)):
        out_lens = [1, 32, 42, 64, 82, 255 * hlen]
        for j in range(20):
            ikm_len = ikm_lens[j % 5]
            salt_len = salt_lens[(j + j // 5) % 5]
            info_len = info_lens[j % 3]
            length = out_lens[j % 6]
            seed = j + (0 if hname == "sha256" else 100)
            ikm = pattern(ikm_len, (seed + 1) % 251)
            salt = None if salt_len is None else pattern(salt_len, (seed + 50) % 251)
            info = pattern(info_len, (seed + 150) % 251)
            try:
                okm = HKDF(halg(), length, salt, info).derive(ikm)
            except ValueError:
                continue  # e.g. a version rejecting empty IKM: skip
            assert okm == hkdf_reference(hname, ikm, salt, info, length)
            cases.append({
                "hash": hname,
                "ikm": ikm.hex(),
                "salt": None if salt is None else salt.hex(),
                "info": info.hex(),
                "length": length,
                "okm": okm.hex(),
            })
    return cases


# ---------------------------------------------------------------------------

def main():
    doc = {
        "generator": "test-vectors/openssl/generate.py",
        "cryptography_version": cryptography.__version__,
        "openssl_version": _ossl.openssl_version_text(),
        "pattern": "byte i of a pattern(len, seed) buffer is (seed + 13*i) % 251",
        "notes": {
            "hex": "all byte strings are lowercase hex",
            "keys": "keys/IVs/counters are deterministic: SHA-256 of fixed labels (see generate.py); no randomness",
            "ct": "'ct' is present only when pt_len <= 64; 'ct_sha256' is always SHA-256 of the ciphertext (GCM: without the tag)",
            "gcm": "AES-256-GCM, 96-bit IV, 128-bit tag; aad = pattern(aad_len, aad_seed), pt = pattern(pt_len, pt_seed)",
            "ctr": "AES-256-CTR as OpenSSL EVP_aes_256_ctr: 'counter' is the full 16-byte initial counter block and is incremented as a 128-bit big-endian integer modulo 2^128 (NOT a 32-bit or 64-bit counter): ...ffffffff carries into byte 11, ...ffffffffffffffff carries into byte 7, and ff*16 wraps to 00*16. Verified in the generator against an AES-ECB keystream reference.",
            "gcm_ctr_range": "ranged decrypt of GCM ct (empty AAD): counter = iv || BE32(2 + offset//16); CTR-decrypt ct[offset-skip : offset+length] from 'counter' and drop the first skip = offset%16 bytes; equals pt[offset:offset+length]. Asserted in the generator. (GCM itself only increments the low 32 bits; no case here gets near that wrap.)",
            "hkdf": "RFC 5869 extract+expand; salt null = no salt (HashLen zero bytes, which gives the same OKM as an empty salt); length up to 255*HashLen",
        },
        "gcm": gen_gcm(),
        "ctr": gen_ctr(),
        "gcm_ctr_range": gen_gcm_ctr_range(),
        "hkdf": gen_hkdf(),
    }
    # One array element per line: diffable and still plain JSON.
    parts = ["{"]
    keys = list(doc.keys())
    for ki, k in enumerate(keys):
        comma = "," if ki < len(keys) - 1 else ""
        v = doc[k]
        if isinstance(v, list):
            parts.append(" %s: [" % json.dumps(k))
            for i, item in enumerate(v):
                parts.append("  " + json.dumps(item, separators=(", ", ": ")) + ("," if i < len(v) - 1 else ""))
            parts.append(" ]" + comma)
        else:
            parts.append(" %s: %s%s" % (json.dumps(k), json.dumps(v, indent=None), comma))
    parts.append("}")
    text = "\n".join(parts) + "\n"
    assert json.loads(text) == doc
    if "--check" in sys.argv[1:]:
        with open(OUT) as f:
            same = f.read() == text
        print("%s: %s" % (os.path.relpath(OUT), "up to date" if same else "DIFFERS from a fresh run"))
        return 0 if same else 1
    with open(OUT, "w") as f:
        f.write(text)
    for k in ("gcm", "ctr", "gcm_ctr_range", "hkdf"):
        print("%-14s %d cases" % (k, len(doc[k])))
    print("wrote %s (%d bytes)" % (os.path.relpath(OUT), len(text.encode())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
