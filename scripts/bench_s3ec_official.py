#!/usr/bin/env python3
"""Time the official Amazon S3 Encryption Client for Python (S3EC 4.0.0) on one file.

Used by scripts/bench_envelope.sh to compare s3crypt with the official client on the same bytes. The
official client has no local-file API: it encrypts inside put_object and decrypts inside get_object, so it
needs an S3 (moto's, from tests/interop/moto_server.py) and a KMS (`s3crypt kms serve` or moto's). The
client is built exactly as tests/interop/s3ec_interop.py builds it (default V3 suite, KmsKeyring).

Each repetition does, in this order, on the same in-memory bytes (the file is read once, untimed):

  plain_put   boto3 put_object(Body=data)              to moto (S3 cost only)
  ec_put      S3EncryptionClient.put_object(Body=data) to moto (KMS GenerateDataKey + encrypt + S3)
  plain_get   boto3 get_object of the *encrypted* object, Body.read()  (S3 cost only, same object)
  ec_get      S3EncryptionClient.get_object, Body.read()                (S3 + KMS Decrypt + decrypt)

The decrypted bytes are compared with the input after each ec_get (untimed).

The client's crypto cost is estimated as median(ec_put) - median(plain_put) and median(ec_get) -
median(plain_get) (in-memory S3 round trip subtracted). As a cross-check, the client's own hooks are
timed from inside (monkeypatched wrappers, behaviour unchanged):

  encrypt_in_client  PutEncryptedObjectPipeline.encrypt: KMS GenerateDataKey + HKDF + one-shot AES-GCM
  decrypt_in_client  the AES-GCM decryptor's finalize(): GCM over the already-buffered body + tag check

Subcommands:
  create-key  create a KMS key at --kms-endpoint, print its ARN (one line)
  run         the benchmark; prints one JSON object (one line) on stdout

Progress goes to stderr. Exit status 0 on success, 1 on a failed check, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import sys
import time

# Isolate from the machine's AWS configuration, as tests/interop/*.py do.
for _var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS",
             "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL_S3",
             "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_DEFAULTS_MODE",
             "AWS_REQUEST_CHECKSUM_CALCULATION", "AWS_RESPONSE_CHECKSUM_VALIDATION"):
    os.environ.pop(_var, None)
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
for _var in ("NO_PROXY", "no_proxy"):
    _cur = os.environ.get(_var, "")
    os.environ[_var] = ",".join(x for x in (_cur, "127.0.0.1", "localhost", "::1") if x)

import boto3  # noqa: E402
import botocore  # noqa: E402
import cryptography  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

try:
    import importlib.metadata as _md

    import s3_encryption.decryptor as _s3ec_decryptor
    import s3_encryption.pipelines as _s3ec_pipelines
    from s3_encryption import S3EncryptionClient, S3EncryptionClientConfig
    from s3_encryption.materials.kms_keyring import KmsKeyring

    S3EC_VERSION = _md.version("amazon-s3-encryption-client-python")
except ImportError as _e:  # pragma: no cover
    print(f"bench_s3ec_official: cannot import the S3 Encryption Client ({_e}); "
          "run scripts/venv.sh and use .venv/bin/python", file=sys.stderr)
    sys.exit(2)

from cryptography.hazmat.backends.openssl import backend as _ossl  # noqa: E402

# --------------------------------------------------------------------------- in-client timers
_IN_CLIENT: dict[str, list[float]] = {"encrypt": [], "decrypt": []}


def _timed(kind: str, fn):
    def wrapper(*a, **kw):
        t = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            _IN_CLIENT[kind].append(time.perf_counter() - t)
    wrapper.__wrapped__ = fn
    return wrapper


_s3ec_pipelines.PutEncryptedObjectPipeline.encrypt = _timed(
    "encrypt", _s3ec_pipelines.PutEncryptedObjectPipeline.encrypt)
_s3ec_decryptor.AesGcmDecryptor.finalize = _timed(
    "decrypt", _s3ec_decryptor.AesGcmDecryptor.finalize)


# --------------------------------------------------------------------------- helpers
def log(msg: str) -> None:
    print(f"bench_s3ec_official: {msg}", file=sys.stderr, flush=True)


def client(args, service: str, endpoint: str):
    cfg = Config(
        region_name=args.region,
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=5,
        read_timeout=600,
        s3={"addressing_style": "path"},
    )
    return boto3.session.Session().client(
        service, endpoint_url=endpoint, region_name=args.region,
        aws_access_key_id=args.access_key, aws_secret_access_key=args.secret, config=cfg)


def rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def gbps(n: int, s: float | None) -> float | None:
    return None if not s or s <= 0 else n / s / 1e9


def gibps(n: int, s: float | None) -> float | None:
    return None if not s or s <= 0 else n / s / 2**30


def r6(x):
    return None if x is None else round(x, 6)


# --------------------------------------------------------------------------- subcommands
def cmd_create_key(args) -> int:
    kms = client(args, "kms", args.kms_endpoint)
    print(kms.create_key(Description="s3crypt bench_envelope")["KeyMetadata"]["Arn"], flush=True)
    return 0


def cmd_run(args) -> int:
    rss_before_load = rss_kib()
    with open(args.file, "rb") as f:
        data = f.read()
    n = len(data)
    rss_after_load = rss_kib()
    log(f"{n} bytes loaded from {args.file}; S3EC {S3EC_VERSION}, boto3 {boto3.__version__}, "
        f"cryptography {cryptography.__version__} ({_ossl.openssl_version_text()})")

    s3 = client(args, "s3", args.s3_endpoint)              # plain, never wrapped
    wrapped = client(args, "s3", args.s3_endpoint)         # the S3EC registers handlers on it
    kms = client(args, "kms", args.kms_endpoint)
    ec = S3EncryptionClient(
        wrapped_s3_client=wrapped,
        config=S3EncryptionClientConfig(keyring=KmsKeyring(kms_client=kms, kms_key_id=args.key_id)))
    ctx = {"purpose": "bench"}
    try:
        s3.create_bucket(Bucket=args.bucket)
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise

    # Warm-up (connections, KMS, imports): a small object through both paths.
    warm = os.urandom(4096)
    s3.put_object(Bucket=args.bucket, Key="warm-plain", Body=warm)
    ec.put_object(Bucket=args.bucket, Key="warm-ec", Body=warm, EncryptionContext=ctx)
    s3.get_object(Bucket=args.bucket, Key="warm-ec")["Body"].read()
    if ec.get_object(Bucket=args.bucket, Key="warm-ec", EncryptionContext=ctx)["Body"].read() != warm:
        log("warm-up round trip differs")
        return 1
    for k in _IN_CLIENT:
        _IN_CLIENT[k].clear()

    t = {"plain_put": [], "ec_put": [], "plain_get": [], "ec_get": []}
    stored_body = None
    for rep in range(args.repeat):
        gc.collect()
        t0 = time.perf_counter()
        s3.put_object(Bucket=args.bucket, Key="plain", Body=data)
        t["plain_put"].append(time.perf_counter() - t0)

        gc.collect()
        t0 = time.perf_counter()
        ec.put_object(Bucket=args.bucket, Key="enc", Body=data, EncryptionContext=ctx)
        t["ec_put"].append(time.perf_counter() - t0)

        gc.collect()
        t0 = time.perf_counter()
        raw = s3.get_object(Bucket=args.bucket, Key="enc")["Body"].read()
        t["plain_get"].append(time.perf_counter() - t0)
        stored_body = len(raw)
        del raw

        gc.collect()
        t0 = time.perf_counter()
        pt = ec.get_object(Bucket=args.bucket, Key="enc", EncryptionContext=ctx)["Body"].read()
        t["ec_get"].append(time.perf_counter() - t0)
        if pt != data:
            log(f"rep {rep}: decrypted bytes differ from the input")
            return 1
        del pt
        log(f"rep {rep + 1}/{args.repeat}: " + ", ".join(f"{k} {v[-1]:.3f} s" for k, v in t.items()))

    m = {k: med(v) for k, v in t.items()}
    enc_crypto = m["ec_put"] - m["plain_put"]
    dec_crypto = m["ec_get"] - m["plain_get"]
    enc_in = med(_IN_CLIENT["encrypt"]) if _IN_CLIENT["encrypt"] else None
    dec_in = med(_IN_CLIENT["decrypt"]) if _IN_CLIENT["decrypt"] else None

    def side(op, wall, plain, crypto, inside, in_what, samples_ec, samples_plain):
        return {
            "op": op, "bytes": n, "reps": args.repeat,
            "seconds_wall": r6(wall), "seconds_plain_s3": r6(plain),
            "seconds_crypto": r6(crypto) if crypto > 0 else None,
            "gbps": r6(gbps(n, crypto)) if crypto > 0 else None,
            "gibps": r6(gibps(n, crypto)) if crypto > 0 else None,
            "gbps_wall": r6(gbps(n, wall)), "gibps_wall": r6(gibps(n, wall)),
            "seconds_in_client": r6(inside), "in_client_measures": in_what,
            "gbps_in_client": r6(gbps(n, inside)),
            "samples_wall": [r6(x) for x in samples_ec],
            "samples_plain_s3": [r6(x) for x in samples_plain],
        }

    out = {
        "tool": "amazon-s3-encryption-client-python", "s3ec": S3EC_VERSION,
        "boto3": boto3.__version__, "botocore": botocore.__version__,
        "cryptography": cryptography.__version__, "openssl": _ossl.openssl_version_text(),
        "python": sys.version.split()[0], "file": args.file, "bytes": n, "stored_body_bytes": stored_body,
        "encrypt": side("official-encrypt", m["ec_put"], m["plain_put"], enc_crypto, enc_in,
                        "PutEncryptedObjectPipeline.encrypt (KMS GenerateDataKey + HKDF + AES-GCM)",
                        t["ec_put"], t["plain_put"]),
        "decrypt": side("official-decrypt", m["ec_get"], m["plain_get"], dec_crypto, dec_in,
                        "AesGcmDecryptor.finalize (AES-GCM over the buffered body + tag check)",
                        t["ec_get"], t["plain_get"]),
        "peak_rss_kib": rss_kib(), "rss_kib_before_loading_input": rss_before_load,
        "rss_kib_after_loading_input": rss_after_load,
    }
    print(json.dumps(out), flush=True)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(sp):
        sp.add_argument("--kms-endpoint", required=True)
        sp.add_argument("--access-key", required=True)
        sp.add_argument("--secret", required=True)
        sp.add_argument("--region", default="us-east-1")

    ck = sub.add_parser("create-key", help="create a KMS key, print its ARN")
    common(ck)
    r = sub.add_parser("run", help="time the official client on --file")
    common(r)
    r.add_argument("--file", required=True)
    r.add_argument("--s3-endpoint", required=True)
    r.add_argument("--key-id", required=True)
    r.add_argument("--repeat", type=int, default=3)
    r.add_argument("--bucket", default="s3crypt-bench")
    args = p.parse_args()
    if args.cmd == "run" and args.repeat < 1:
        p.error("--repeat must be >= 1")
    return {"create-key": cmd_create_key, "run": cmd_run}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
