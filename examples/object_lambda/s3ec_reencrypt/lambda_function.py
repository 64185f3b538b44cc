"""S3 Object Lambda handler: re-encrypts a client-side encrypted object for its caller.

The object was written with the Amazon S3 Encryption Client (format V2: AES-256-GCM content, data key
wrapped by a raw AES key with `AES/GCM`, metadata in `x-amz-meta-x-amz-*`). S3 hands it to the
function as stored: ciphertext. This function holds the storage key and one key per caller; it
unwraps the data key, decrypts and authenticates the whole object, then encrypts it again under a
fresh data key wrapped with the caller's key, in the same V2 format, so the caller decrypts it with
its own S3 Encryption Client and never learns the storage key.

Keys: `keys.json` beside this file (owner-only; on AWS it would come from Secrets Manager or KMS):
`{"storage_key": "<base64 AES-256>", "callers": {"<caller ARN>": "<base64 AES-256>"}}`.
A caller without a key gets 403 AccessDenied; an object that fails authentication gets 400 and no
plaintext or ciphertext at all.
"""

import base64
import json
import os
import urllib.error
import urllib.request

import boto3
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

s3 = boto3.client("s3")

CEK_ALG = "AES/GCM/NoPadding"
WRAP_ALG = "AES/GCM"
META = "x-amz-meta-"


def load_keys():
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "keys.json")) as f:
        doc = json.load(f)
    return base64.b64decode(doc["storage_key"]), {
        arn: base64.b64decode(k) for arn, k in doc.get("callers", {}).items()
    }


def unwrap(wrapping_key: bytes, edk: bytes) -> bytes:
    # Raw AES keyring, V2: IV(12) || AES-GCM(data key) || tag(16), AAD = the content algorithm.
    if len(edk) != 60:
        raise ValueError("the wrapped data key is not 60 bytes")
    return AESGCM(wrapping_key).decrypt(edk[:12], edk[12:], CEK_ALG.encode())


def decrypt(storage_key: bytes, headers, body: bytes) -> bytes:
    meta = {k.lower()[len(META):]: v for k, v in headers.items() if k.lower().startswith(META)}
    if meta.get("x-amz-cek-alg") != CEK_ALG or meta.get("x-amz-wrap-alg") != WRAP_ALG:
        raise ValueError("not an S3 Encryption Client V2 object with an AES/GCM wrapped key")
    if meta.get("x-amz-tag-len", "128") != "128":
        raise ValueError("unsupported tag length")
    data_key = unwrap(storage_key, base64.b64decode(meta["x-amz-key-v2"]))
    iv = base64.b64decode(meta["x-amz-iv"])
    return AESGCM(data_key).decrypt(iv, body, None)


def encrypt_for(caller_key: bytes, plaintext: bytes) -> tuple[bytes, dict]:
    data_key = AESGCM.generate_key(bit_length=256)
    iv, wrap_iv = os.urandom(12), os.urandom(12)
    edk = wrap_iv + AESGCM(caller_key).encrypt(wrap_iv, data_key, CEK_ALG.encode())
    metadata = {
        "x-amz-key-v2": base64.b64encode(edk).decode(),
        "x-amz-iv": base64.b64encode(iv).decode(),
        "x-amz-cek-alg": CEK_ALG,
        "x-amz-wrap-alg": WRAP_ALG,
        "x-amz-tag-len": "128",
        "x-amz-matdesc": "{}",
        "x-amz-unencrypted-content-length": str(len(plaintext)),
    }
    return AESGCM(data_key).encrypt(iv, plaintext, None), metadata


def refuse(route, token, status, code, message):
    s3.write_get_object_response(
        RequestRoute=route, RequestToken=token, StatusCode=status, ErrorCode=code,
        ErrorMessage=message,
    )
    return {"status_code": status}


def lambda_handler(event, context):
    ctx = event["getObjectContext"]
    route, token = ctx["outputRoute"], ctx["outputToken"]
    storage_key, callers = load_keys()
    caller_key = callers.get((event.get("userIdentity") or {}).get("arn", ""))
    if caller_key is None:
        return refuse(route, token, 403, "AccessDenied", "No key is held for this caller.")
    try:
        with urllib.request.urlopen(ctx["inputS3Url"], timeout=30) as response:
            body, headers = response.read(), dict(response.headers.items())
    except urllib.error.HTTPError as e:
        return refuse(route, token, e.code, "AccessDenied" if e.code == 403 else "NoSuchKey",
                      "The supporting access point refused the request.")
    try:
        plaintext = decrypt(storage_key, headers, body)
    except (InvalidTag, KeyError, ValueError):
        return refuse(route, token, 400, "InvalidObjectState",
                      "The stored object failed client-side decryption.")
    ciphertext, metadata = encrypt_for(caller_key, plaintext)
    s3.write_get_object_response(
        RequestRoute=route, RequestToken=token, Body=ciphertext, Metadata=metadata,
        ContentType="application/octet-stream",
    )
    return {"status_code": 200}
