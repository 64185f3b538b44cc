#!/usr/bin/env python3
"""The official Amazon S3 Encryption Client for Python (4.0.0) on one side of an S3 bucket, s3crypt on
the other: tests/envelope_s3.rs runs `s3crypt encrypt FILE s3://...` / `s3crypt decrypt s3://... FILE`
and this script, against moto's S3 and KMS on loopback (tests/interop/moto_server.py).

Subcommands (all take --endpoint URL --access-key ID --secret S [--region R]):

  put   --bucket B --key K --size N --key-id KMSKEY [--format v3|v2] [--multipart --part-size P]
        [--context K=V ...]
        The official client writes plaintext_for(N) (byte i = (i*7 + N) % 256) to s3://B/K, with
        put_object, or with its own multipart upload_file (--multipart; parts of --part-size plaintext
        bytes, S3's minimum 5 MiB). Creates the bucket if needed.
  get   --bucket B --key K --key-id KMSKEY --expect-sha256 H [--allow-v2] [--context K=V ...]
        The official client reads s3://B/K (object metadata or its KEY.instruction file) and compares
        the plaintext's SHA-256 with H.
  refuse --bucket B --key K --key-id KMSKEY [--allow-v2] [--context K=V ...]
        The official client must refuse s3://B/K (a tampered object).

Output: one JSON line on stdout ({"ok": true, ...} or {"ok": false, "error": ...}); exit status 0 when
ok, 1 otherwise, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

# Isolate from the machine's AWS configuration: explicit keys, region and endpoints are passed below.
for _var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS",
             "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_var, None)
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

try:
    from s3_encryption import S3EncryptionClient, S3EncryptionClientConfig
    from s3_encryption.materials.kms_keyring import KmsKeyring
    from s3_encryption.materials.materials import AlgorithmSuite, CommitmentPolicy
except ImportError as _e:  # pragma: no cover - reported as a usage error
    print(f"s3ec_s3_moto: cannot import the S3 Encryption Client ({_e}); run scripts/venv.sh",
          file=sys.stderr)
    sys.exit(2)

PART_SIZE = 5 * 1024 * 1024


def plaintext_for(size: int) -> bytes:
    pattern = bytes((i * 7 + size) % 256 for i in range(256))
    reps, rest = divmod(size, 256)
    return pattern * reps + pattern[:rest]


def client(args, service: str):
    cfg = Config(region_name=args.region, retries={"mode": "standard", "total_max_attempts": 3},
                 s3={"addressing_style": "path"})
    return boto3.session.Session().client(
        service, endpoint_url=args.endpoint, region_name=args.region,
        aws_access_key_id=args.access_key, aws_secret_access_key=args.secret, config=cfg)


def official(args, fmt: str = "v3", allow_v2: bool = False) -> S3EncryptionClient:
    kw = {"keyring": KmsKeyring(kms_client=client(args, "kms"), kms_key_id=args.key_id)}
    if fmt == "v2":
        kw["encryption_algorithm"] = AlgorithmSuite.ALG_AES_256_GCM_IV12_TAG16_NO_KDF
        kw["commitment_policy"] = CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT
    elif allow_v2:
        kw["commitment_policy"] = CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT
    return S3EncryptionClient(wrapped_s3_client=client(args, "s3"), config=S3EncryptionClientConfig(**kw))


def context(args) -> dict:
    out = {}
    for item in args.context or []:
        k, _, v = item.partition("=")
        out[k] = v
    return {"EncryptionContext": out} if out else {}


def cmd_put(args) -> dict:
    s3 = client(args, "s3")
    try:
        s3.create_bucket(Bucket=args.bucket)
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    pt = plaintext_for(args.size)
    ec = official(args, args.format)
    if args.multipart:
        with tempfile.TemporaryDirectory(prefix="s3ec-s3-moto-") as d:
            path = Path(d) / "plain"
            path.write_bytes(pt)
            ec.upload_file(str(path), args.bucket, args.key,
                           multipart_threshold=max(1, min(args.part_size, args.size)),
                           multipart_chunksize=args.part_size, **context(args))
    else:
        ec.put_object(Bucket=args.bucket, Key=args.key, Body=pt, **context(args))
    head = s3.head_object(Bucket=args.bucket, Key=args.key)
    return {"ok": True, "sha256": hashlib.sha256(pt).hexdigest(), "size": args.size,
            "body_size": head["ContentLength"], "etag": head["ETag"],
            "metadata_keys": sorted(head.get("Metadata", {}))}


def cmd_get(args) -> dict:
    got = official(args, allow_v2=args.allow_v2).get_object(
        Bucket=args.bucket, Key=args.key, **context(args))["Body"].read()
    h = hashlib.sha256(got).hexdigest()
    if h != args.expect_sha256:
        return {"ok": False, "error": f"plaintext sha256 {h} != {args.expect_sha256}", "size": len(got)}
    return {"ok": True, "size": len(got), "sha256": h}


def cmd_refuse(args) -> dict:
    try:
        got = official(args, allow_v2=args.allow_v2).get_object(
            Bucket=args.bucket, Key=args.key, **context(args))["Body"].read()
    except Exception as e:  # noqa: BLE001 - any refusal is what is wanted
        return {"ok": True, "refused": f"{type(e).__name__}: {str(e)[:200]}"}
    return {"ok": False, "error": f"the official client accepted it ({len(got)} bytes)"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    parsers = {name: sub.add_parser(name) for name in ("put", "get", "refuse")}
    for p in parsers.values():
        p.add_argument("--endpoint", required=True)
        p.add_argument("--access-key", required=True)
        p.add_argument("--secret", required=True)
        p.add_argument("--region", default="us-east-1")
        p.add_argument("--bucket", required=True)
        p.add_argument("--key", required=True)
        p.add_argument("--key-id", required=True, help="KMS key for the KmsKeyring")
        p.add_argument("--context", nargs="+", action="extend", metavar="K=V")
    put = parsers["put"]
    put.add_argument("--size", type=int, required=True)
    put.add_argument("--format", choices=("v3", "v2"), default="v3")
    put.add_argument("--multipart", action="store_true")
    put.add_argument("--part-size", type=int, default=PART_SIZE)
    parsers["get"].add_argument("--expect-sha256", required=True)
    for name in ("get", "refuse"):
        parsers[name].add_argument("--allow-v2", action="store_true")
    args = ap.parse_args()
    if args.cmd == "put" and args.part_size < PART_SIZE:
        ap.error(f"--part-size must be >= {PART_SIZE}")
    try:
        out = {"put": cmd_put, "get": cmd_get, "refuse": cmd_refuse}[args.cmd](args)
    except Exception as e:  # noqa: BLE001 - reported as one JSON line
        out = {"ok": False, "error": f"{type(e).__name__}: {str(e)[:500]}"}
    print(json.dumps(out), flush=True)
    return 0 if out.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
