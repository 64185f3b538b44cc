#!/usr/bin/env python3
"""Generate legacy S3 Encryption Client V1 objects (AES/CBC/PKCS5Padding content) with Python
`cryptography` only, as an independent implementation of the V1 format (FORMATS.md §1.1-§1.3):

  x-amz-key      base64(wrapped CEK)   wrapped with AESWrap (RFC 3394) or, for the oldest objects,
                                        AES/ECB/PKCS5Padding under the raw wrapping key (no x-amz-wrap-alg)
  x-amz-iv       base64(16-byte IV)
  x-amz-matdesc  "{}"
  x-amz-wrap-alg "AESWrap" (absent for the ECB-wrapped variant)
  x-amz-unencrypted-content-length  decimal plaintext length
  body           AES-256-CBC(CEK, IV, PKCS#7-padded plaintext)

Deterministic (keys, IVs and plaintexts are SHA-256 of fixed labels). Writes v1_vectors.json next to it.
    .venv/bin/python test-vectors/s3ec-v1/generate.py [--check]
"""
import base64, hashlib, json, os, sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.keywrap import aes_key_wrap
from cryptography.hazmat.primitives import padding

def h(label, n):
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{label}/{i}".encode()).digest()
        i += 1
    return out[:n]

KEK = h("s3crypt v1 wrapping key", 32)
cases = []
for wrap in ("AESWrap", "AES"):
    for size in (0, 1, 15, 16, 17, 4095, 4096, 65537):
        cek = h(f"cek {wrap} {size}", 32)
        iv = h(f"iv {wrap} {size}", 16)
        pt = h(f"pt {wrap} {size}", size)
        padder = padding.PKCS7(128).padder()
        padded = padder.update(pt) + padder.finalize()
        enc = Cipher(algorithms.AES(cek), modes.CBC(iv)).encryptor()
        body = enc.update(padded) + enc.finalize()
        if wrap == "AESWrap":
            wrapped = aes_key_wrap(KEK, cek)
        else:
            p2 = padding.PKCS7(128).padder()
            e2 = Cipher(algorithms.AES(KEK), modes.ECB()).encryptor()
            wrapped = e2.update(p2.update(cek) + p2.finalize()) + e2.finalize()
        md = {"x-amz-key": base64.b64encode(wrapped).decode(), "x-amz-iv": base64.b64encode(iv).decode(),
              "x-amz-matdesc": "{}", "x-amz-unencrypted-content-length": str(size)}
        if wrap == "AESWrap":
            md["x-amz-wrap-alg"] = "AESWrap"
        cases.append({"wrap": wrap, "size": size, "metadata": md, "body": body.hex(), "cek": cek.hex(),
                      "plaintext_sha256": hashlib.sha256(pt).hexdigest()})
doc = {"generator": "test-vectors/s3ec-v1/generate.py", "wrapping_key": KEK.hex(), "cases": cases}
text = json.dumps(doc, indent=1) + "\n"
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "v1_vectors.json")
if "--check" in sys.argv:
    sys.exit(0 if open(path).read() == text else 1)
open(path, "w").write(text)
print(f"{len(cases)} V1 cases written to {path}")
