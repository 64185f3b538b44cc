#!/usr/bin/env python3
"""Interop with the official Amazon S3 Encryption Client for Python (S3EC 4.0.0).

s3crypt writes and reads objects that must be byte-compatible with the AWS S3
Encryption Client. This script drives the official client
(`amazon-s3-encryption-client-python`, import name `s3_encryption`) against an
S3 endpoint (moto's S3 on loopback) and a KMS endpoint (`s3crypt kms serve`, or
moto's KMS), and exchanges raw objects with s3crypt through a directory.

Subcommands:

  write     The official client encrypts objects (V3 and/or V2, put_object and
            multipart upload_file). The raw stored objects are saved to --out:
              <name>.body           exact stored body bytes
              <name>.metadata.json  the object's user metadata, mapkey -> value
                                    (no x-amz-meta- prefix), as boto3 returns it
              manifest.json         [{"name", "format", "size", "multipart",
                                      "plaintext_sha256", "context", ...}, ...]
            Every object is also decrypted by the official client
            (`write <name>`) and, independently, with `cryptography` and a
            plain KMS Decrypt, following FORMATS.md §1.3-§1.5
            (`independent_decrypt <name>`).

  read      The same layout, produced by s3crypt, is uploaded raw (plain boto3
            put_object with Metadata=<metadata.json>) and decrypted by the
            official client (`read <name>`); then negative steps: a flipped
            body byte, a truncated body, a wrong encryption context, a broken
            key commitment, and a V2 object under the default commitment policy
            must all be refused.

  selfcheck Starts tests/interop/moto_server.py (moto serves S3 and KMS on one
            port), creates a KMS key + alias there, and runs `write` and then
            `read` on the same directory: a round trip through the official
            client only, proving this script without s3crypt.

Output (stdout, line-buffered), one line per step:
  ok <phase> [<object>][ (detail)]
  FAIL <phase> [<object>]: <detail>
  skip <phase> [<object>] (<why>)
then one JSON line {"steps", "failed", "skipped", "ok", "failed_steps", ...}.
<phase> and <object> never contain spaces, colons or parentheses.
Exit status: 0 if no step failed, 1 if any did, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

# Isolate from the machine's AWS configuration (same as kms_boto3.py): explicit
# keys, region and endpoints are passed below.
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
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402
from cryptography.hazmat.primitives.hashes import SHA512  # noqa: E402
from cryptography.hazmat.primitives.kdf.hkdf import HKDF  # noqa: E402

try:
    import importlib.metadata as _md

    import s3_encryption  # noqa: F401
    from s3_encryption import S3EncryptionClient, S3EncryptionClientConfig
    from s3_encryption.materials.kms_keyring import KmsKeyring
    from s3_encryption.materials.materials import AlgorithmSuite, CommitmentPolicy

    S3EC_VERSION = _md.version("amazon-s3-encryption-client-python")
except ImportError as _e:  # pragma: no cover - reported as a usage error
    print(f"s3ec_interop: cannot import the S3 Encryption Client ({_e}); "
          "run scripts/venv.sh and use .venv/bin/python", file=sys.stderr)
    sys.exit(2)

HERE = Path(__file__).resolve().parent
DEFAULT_SIZES = "0,1,15,16,17,4095,65536,5242881"
DEFAULT_MULTIPART_SIZE = 5242881
PART_SIZE = 5 * 1024 * 1024  # S3's minimum for non-final parts, and the S3EC's minimum chunk
RESERVED_EC_KEY = "aws:x-amz-cek-alg"
V3_SUITE_ID = b"\x00\x73"
V3_IV = b"\x01" * 12
# Exact mapkey sets the Python client writes (checked by independent_decrypt).
V3_KEYS = {"x-amz-c", "x-amz-3", "x-amz-w", "x-amz-t", "x-amz-d", "x-amz-i"}
V2_KEYS = {"x-amz-key-v2", "x-amz-wrap-alg", "x-amz-cek-alg", "x-amz-iv", "x-amz-tag-len", "x-amz-matdesc"}
NAME_RE = re.compile(r"^[A-Za-z0-9._-]+$")


def plaintext_for(size: int) -> bytes:
    """Deterministic plaintext: byte i = (i*7 + size) % 256."""
    pattern = bytes((i * 7 + size) % 256 for i in range(256))
    # (i*7 + size) % 256 repeats every 256 bytes.
    reps, rest = divmod(size, 256)
    return pattern * reps + pattern[:rest]


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def b64d(s: str) -> bytes:
    return base64.b64decode(s, validate=True)


def check(cond: bool, msg: str) -> None:
    if not cond:
        raise AssertionError(msg)


def describe_exc(e: BaseException) -> str:
    if isinstance(e, ClientError):
        md = e.response.get("ResponseMetadata", {})
        err = e.response.get("Error", {})
        return f"ClientError {err.get('Code')} (HTTP {md.get('HTTPStatusCode')}): {err.get('Message', '')}"
    text = str(e).strip().replace("\n", " ")
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def root_cause(e: BaseException) -> BaseException:
    seen = set()
    while e.__cause__ is not None and id(e) not in seen:
        seen.add(id(e))
        e = e.__cause__
    return e


def parse_context(items: list[str] | None) -> dict[str, str] | None:
    if items is None:
        return None
    ctx: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise argparse.ArgumentTypeError(f"--context wants k=v, got {item!r}")
        k, v = item.split("=", 1)
        if not k:
            raise argparse.ArgumentTypeError(f"--context key is empty in {item!r}")
        ctx[k] = v
    return ctx


def summarize_params(params: dict) -> dict:
    """A JSON-safe copy of API params: blobs become {"bytes": n}."""
    out = {}
    for k, v in params.items():
        if isinstance(v, (bytes, bytearray)):
            out[k] = {"bytes": len(v)}
        elif hasattr(v, "read"):
            out[k] = {"stream": type(v).__name__}
        elif isinstance(v, dict):
            out[k] = summarize_params(v)
        else:
            out[k] = copy.deepcopy(v)
    return out


class Runner:
    """Step bookkeeping shared by the subcommands (conventions of kms_boto3.py)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.results: list[tuple[str, str, str]] = []
        self.figures: dict[str, object] = {}

    def emit(self, status: str, step: str, detail: str = "") -> None:
        self.results.append((status, step, detail))
        if status == "ok":
            print(f"ok {step}" + (f" ({detail})" if detail else ""), flush=True)
        elif status == "skip":
            print(f"skip {step} ({detail})", flush=True)
        else:
            print(f"FAIL {step}: {detail}", flush=True)

    def step(self, name: str, fn) -> object:
        """Run fn(); it returns (detail, value) or detail. Returns value or None."""
        try:
            out = fn()
        except Exception as e:  # noqa: BLE001 - a step must never kill the run
            detail = str(e) if isinstance(e, AssertionError) else describe_exc(e)
            if getattr(self.args, "verbose", False):
                traceback.print_exc(file=sys.stderr)
            self.emit("FAIL", name, detail)
            return None
        detail, value = out if isinstance(out, tuple) else (out, True)
        self.emit("ok", name, detail or "")
        return value

    def summary(self, t0: float) -> dict:
        counts = Counter(s for s, _, _ in self.results)
        return {
            "steps": len(self.results),
            "failed": counts.get("FAIL", 0),
            "skipped": counts.get("skip", 0),
            "ok": counts.get("ok", 0),
            "failed_steps": [n for s, n, _ in self.results if s == "FAIL"],
            "skipped_steps": [n for s, n, _ in self.results if s == "skip"],
            "elapsed_s": round(time.monotonic() - t0, 2),
            "s3ec": S3EC_VERSION,
            "boto3": boto3.__version__,
            "botocore": botocore.__version__,
            "cryptography": cryptography.__version__,
            **self.figures,
        }


class Clients:
    """boto3 clients. The S3 client wrapped by the S3EC is never used directly:
    the S3EC registers decrypting/encrypting event handlers on it."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.session = boto3.session.Session()
        self.kms_calls: list[dict] = []
        self.s3_calls: list[dict] = []
        self.s3_put_headers: list[dict] = []
        # KMS client for the official client's keyring, with a call recorder.
        self.kms_ec = self._client("kms", args.kms_endpoint)
        self.kms_ec.meta.events.register("provide-client-params.kms", self._record_kms)
        # A separate KMS client for the independent decryption.
        self.kms_plain = self._client("kms", args.kms_endpoint)
        # Plain S3 (raw bodies / metadata), and the S3 client the S3EC wraps.
        self.s3_plain = self._client("s3", args.s3_endpoint)
        self._ec_cache: dict[tuple, object] = {}

    def _client(self, service: str, endpoint: str):
        cfg = Config(
            region_name=self.args.region,
            retries={"mode": "standard", "total_max_attempts": 3},
            connect_timeout=5,
            read_timeout=60,
            s3={"addressing_style": "path"},
        )
        return self.session.client(
            service,
            endpoint_url=endpoint,
            region_name=self.args.region,
            aws_access_key_id=self.args.access_key,
            aws_secret_access_key=self.args.secret,
            config=cfg,
        )

    def _record_kms(self, params, model, **_kw):
        self.kms_calls.append({"op": model.name, "params": summarize_params(params)})

    def _record_s3(self, params, model, **_kw):
        self.s3_calls.append({"op": model.name, "params": summarize_params(params)})

    def _record_put_headers(self, request, **_kw):
        if request.method == "PUT" and len(self.s3_put_headers) < 4:
            hdrs = {}
            for k, v in request.headers.items():
                v = v.decode() if isinstance(v, bytes) else v
                if k.lower() == "authorization":
                    m = re.search(r"SignedHeaders=([^,\s]+)", v)
                    hdrs["Authorization(SignedHeaders)"] = m.group(1) if m else "?"
                    continue
                hdrs[k] = v
            self.s3_put_headers.append({"url": request.url, "headers": hdrs})

    def s3ec(self, fmt: str, key_id: str, policy: CommitmentPolicy | None = None):
        """The official client for format v3 / v2 (encryption algorithm), and a
        commitment policy (default: the client's default for v3; for v2 the only
        policy allowed with a non-committing suite, FORBID_ENCRYPT_ALLOW_DECRYPT)."""
        cache_key = (fmt, key_id, policy)
        if cache_key in self._ec_cache:
            return self._ec_cache[cache_key]
        keyring = KmsKeyring(kms_client=self.kms_ec, kms_key_id=key_id)
        kw = {"keyring": keyring}
        if fmt == "v2":
            kw["encryption_algorithm"] = AlgorithmSuite.ALG_AES_256_GCM_IV12_TAG16_NO_KDF
            kw["commitment_policy"] = policy or CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT
        elif policy is not None:
            kw["commitment_policy"] = policy
        cfg = S3EncryptionClientConfig(**kw)
        wrapped = self._client("s3", self.args.s3_endpoint)
        wrapped.meta.events.register("provide-client-params.s3", self._record_s3)
        wrapped.meta.events.register("before-send.s3", self._record_put_headers)
        ec = S3EncryptionClient(wrapped_s3_client=wrapped, config=cfg)
        self._ec_cache[cache_key] = ec
        return ec

    def ensure_bucket(self, bucket: str) -> str:
        try:
            self.s3_plain.create_bucket(Bucket=bucket)
            return "created"
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code")
            if code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                return "exists"
            raise

    def get_raw(self, bucket: str, key: str) -> tuple[bytes, dict, dict]:
        r = self.s3_plain.get_object(Bucket=bucket, Key=key)
        body = r["Body"].read()
        return body, dict(r.get("Metadata") or {}), r


def ec_kwargs(ctx: dict[str, str]) -> dict:
    return {"EncryptionContext": dict(ctx)} if ctx else {}


def detect_format(md: dict) -> str:
    if "x-amz-key-v2" in md:
        return "v2"
    if "x-amz-3" in md or "x-amz-c" in md:
        return "v3"
    if "x-amz-key" in md:
        return "v1"
    return "unknown"


# ---------------------------------------------------------------------------
# independent decryption (FORMATS.md §1.3-§1.5), cryptography + KMS Decrypt only
# ---------------------------------------------------------------------------

def independent_decrypt(clients: Clients, fmt: str, md: dict, body: bytes, size: int,
                        ctx: dict[str, str], want: bytes) -> str:
    keys = set(md)
    if fmt == "v3":
        check(keys == V3_KEYS, f"V3 mapkeys {sorted(keys)} != {sorted(V3_KEYS)}")
        check(md["x-amz-c"] == "115", f"x-amz-c {md['x-amz-c']!r}, want '115'")
        check(md["x-amz-w"] == "12", f"x-amz-w {md['x-amz-w']!r}, want '12' (kms+context)")
        stored = json.loads(md["x-amz-t"])
        want_ec = dict(ctx, **{RESERVED_EC_KEY: "115"})
        check(stored == want_ec, f"x-amz-t {stored!r} != {want_ec!r}")
        edk = b64d(md["x-amz-3"])
        commitment = b64d(md["x-amz-d"])
        message_id = b64d(md["x-amz-i"])
        check(len(commitment) == 28, f"x-amz-d decodes to {len(commitment)} bytes, want 28")
        check(len(message_id) == 28, f"x-amz-i decodes to {len(message_id)} bytes, want 28")
        check(message_id != b"\x00" * 28, "x-amz-i is all zero")
    elif fmt == "v2":
        check(keys == V2_KEYS, f"V2 mapkeys {sorted(keys)} != {sorted(V2_KEYS)}")
        check(md["x-amz-wrap-alg"] == "kms+context", f"x-amz-wrap-alg {md['x-amz-wrap-alg']!r}")
        check(md["x-amz-cek-alg"] == "AES/GCM/NoPadding", f"x-amz-cek-alg {md['x-amz-cek-alg']!r}")
        check(md["x-amz-tag-len"] == "128", f"x-amz-tag-len {md['x-amz-tag-len']!r}, want '128'")
        stored = json.loads(md["x-amz-matdesc"])
        want_ec = dict(ctx, **{RESERVED_EC_KEY: "AES/GCM/NoPadding"})
        check(stored == want_ec, f"x-amz-matdesc {stored!r} != {want_ec!r}")
        edk = b64d(md["x-amz-key-v2"])
        iv = b64d(md["x-amz-iv"])
        check(len(iv) == 12, f"x-amz-iv decodes to {len(iv)} bytes, want 12")
    else:
        raise AssertionError(f"unknown format {fmt!r}")

    check(len(body) == size + 16, f"body {len(body)} bytes, want plaintext {size} + 16")
    r = clients.kms_plain.decrypt(CiphertextBlob=edk, EncryptionContext=stored)
    dk = r["Plaintext"]
    check(len(dk) == 32, f"KMS Decrypt returned a {len(dk)}-byte data key, want 32")

    if fmt == "v3":
        # HKDF-SHA512: salt = message id, IKM = data key; two expands.
        dek = HKDF(SHA512(), 32, salt=message_id, info=V3_SUITE_ID + b"DERIVEKEY").derive(dk)
        ck = HKDF(SHA512(), 28, salt=message_id, info=V3_SUITE_ID + b"COMMITKEY").derive(dk)
        check(ck == commitment, "derived commitment key != x-amz-d")
        pt = AESGCM(dek).decrypt(V3_IV, body, V3_SUITE_ID)
        how = "HKDF-SHA512(salt=x-amz-i) DEK/COMMITKEY, commitment == x-amz-d, GCM iv=01*12 aad=0073"
    else:
        pt = AESGCM(dk).decrypt(iv, body, None)
        how = "GCM key=data key, iv=x-amz-iv, no AAD"
    check(pt == want, f"plaintext differs (sha256 {sha256(pt)} != {sha256(want)})")
    return f"{how}; KMS Decrypt with the stored context, data key {len(dk)} bytes"


# ---------------------------------------------------------------------------
# write
# ---------------------------------------------------------------------------

def cmd_write(args: argparse.Namespace) -> int:
    run = Runner(args)
    t0 = time.monotonic()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = parse_context(args.context) or {}
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    for f in formats:
        if f not in ("v3", "v2"):
            print(f"s3ec_interop: unknown format {f!r} (want v3 and/or v2)", file=sys.stderr)
            return 2
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()] if args.sizes else []
    clients = Clients(args)
    bucket = args.bucket
    manifest: list[dict] = []
    examples: dict[str, object] = {}
    kms_by_format: dict[str, dict] = {}
    multipart_fig: dict[str, object] = {}

    ok_bucket = run.step(f"bucket {bucket}", lambda: (clients.ensure_bucket(bucket), True))
    if not ok_bucket:
        print(json.dumps(run.summary(t0), default=str), flush=True)
        return 1

    jobs = []
    for fmt in formats:
        for size in sizes:
            jobs.append((fmt, size, False))
        if args.multipart_size and args.multipart_size > 0:
            jobs.append((fmt, args.multipart_size, True))

    tmpdir = tempfile.TemporaryDirectory(prefix="s3ec-write-")
    for fmt, size, multipart in jobs:
        name = f"{fmt}-{'multipart' if multipart else 'size'}-{size}"
        pt = plaintext_for(size)
        state: dict[str, object] = {}

        def do_write(fmt=fmt, size=size, multipart=multipart, name=name, pt=pt, state=state):
            ec = clients.s3ec(fmt, args.key_id)
            k0, s0 = len(clients.kms_calls), len(clients.s3_calls)
            if multipart:
                path = Path(tmpdir.name) / f"{name}.plain"
                path.write_bytes(pt)
                # S3EC 4.0.0's own upload_file (not boto3's TransferConfig):
                # multipart when size >= multipart_threshold, parts of
                # multipart_chunksize (>= 5 MiB), tag appended to the last part.
                ec.upload_file(str(path), bucket, name,
                               multipart_threshold=max(1, min(args.part_size, size)),
                               multipart_chunksize=args.part_size, **ec_kwargs(ctx))
                path.unlink()
            else:
                ec.put_object(Bucket=bucket, Key=name, Body=pt, **ec_kwargs(ctx))
            put_kms = clients.kms_calls[k0:]
            put_s3 = clients.s3_calls[s0:]
            body, md, raw = clients.get_raw(bucket, name)
            state.update(body=body, md=md)
            (out / f"{name}.body").write_bytes(body)
            (out / f"{name}.metadata.json").write_text(json.dumps(md, indent=2, sort_keys=True) + "\n")
            # The official client decrypts its own object.
            k1 = len(clients.kms_calls)
            got = ec.get_object(Bucket=bucket, Key=name, **ec_kwargs(ctx))["Body"].read()
            get_kms = clients.kms_calls[k1:]
            check(got == pt, f"official get_object plaintext differs (sha256 {sha256(got)} != {sha256(pt)})")
            check(detect_format(md) == fmt, f"stored metadata looks like {detect_format(md)}, want {fmt}")
            entry = {
                "name": name, "format": fmt, "size": size, "multipart": multipart,
                "plaintext_sha256": sha256(pt), "context": dict(ctx),
                "key_id": args.key_id, "body_sha256": sha256(body), "body_size": len(body),
            }
            detail = f"body {len(body)} bytes, {len(md)} mapkeys"
            if multipart:
                parts = [c["params"]["Body"]["bytes"] for c in put_s3 if c["op"] == "UploadPart"
                         and isinstance(c["params"].get("Body"), dict) and "bytes" in c["params"]["Body"]]
                ops = [c["op"] for c in put_s3]
                check("CreateMultipartUpload" in ops and "CompleteMultipartUpload" in ops,
                      f"multipart path not taken: S3 calls {ops}")
                check(sum(parts) == len(body), f"uploaded parts {parts} do not add up to the body {len(body)}")
                etag = str(raw.get("ETag", "")).strip('"')
                entry["parts"] = parts
                multipart_fig[fmt] = {"s3_calls": ops, "ciphertext_part_sizes": parts,
                                      "plaintext_part_size": args.part_size, "etag": etag,
                                      "create_multipart_upload_metadata_keys":
                                          sorted((next((c["params"].get("Metadata") for c in put_s3
                                                        if c["op"] == "CreateMultipartUpload"), {}) or {}).keys())}
                detail += f", parts {parts}, ETag {etag}"
            manifest.append(entry)
            if fmt not in kms_by_format:
                kms_by_format[fmt] = {"put_object": put_kms, "get_object": get_kms}
            if fmt not in examples and not multipart:
                examples[fmt] = md
            return detail, True

        if run.step(f"write {name}", do_write):
            run.step(f"independent_decrypt {name}",
                     lambda fmt=fmt, size=size, pt=pt, state=state:
                     independent_decrypt(clients, fmt, state["md"], state["body"], size, ctx, pt))
    tmpdir.cleanup()

    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    run.figures.update({
        "bucket": bucket, "out": str(out), "objects": len(manifest), "context": ctx,
        "key_id": args.key_id, "metadata_examples": examples, "kms_calls": kms_by_format,
        "multipart": multipart_fig, "s3_put_headers": clients.s3_put_headers[:2],
    })
    summary = run.summary(t0)
    print(json.dumps(summary, default=str), flush=True)
    return 1 if summary["failed"] else 0


# ---------------------------------------------------------------------------
# read
# ---------------------------------------------------------------------------

def load_manifest(d: Path) -> list[dict]:
    data = json.loads((d / "manifest.json").read_text())
    if isinstance(data, dict):
        data = data.get("objects", [])
    if not isinstance(data, list):
        raise ValueError("manifest.json is neither a list nor {\"objects\": [...]}")
    return data


def cmd_read(args: argparse.Namespace) -> int:
    run = Runner(args)
    t0 = time.monotonic()
    d = Path(args.in_dir)
    cli_ctx = parse_context(args.context)
    try:
        manifest = load_manifest(d)
    except Exception as e:  # noqa: BLE001
        print(f"s3ec_interop: cannot read {d / 'manifest.json'}: {e}", file=sys.stderr)
        return 2
    clients = Clients(args)
    bucket = args.bucket
    if not run.step(f"bucket {bucket}", lambda: (clients.ensure_bucket(bucket), True)):
        print(json.dumps(run.summary(t0), default=str), flush=True)
        return 1

    loaded: list[dict] = []  # entries that uploaded and decrypted, for the negative steps
    kms_by_format: dict[str, list] = {}

    def key_id_for(entry: dict) -> str:
        kid = args.key_id or entry.get("key_id")
        check(bool(kid), "no KMS key id: pass --key-id (the S3EC's KmsKeyring sends it as Decrypt's KeyId)")
        return kid

    def ctx_for(entry: dict) -> dict:
        return cli_ctx if cli_ctx is not None else dict(entry.get("context") or {})

    def reader(fmt: str, kid: str, policy: CommitmentPolicy | None = None):
        if fmt == "v2":
            # The default policy (REQUIRE_ENCRYPT_REQUIRE_DECRYPT) refuses V2.
            return clients.s3ec("v3", kid, policy or CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT)
        return clients.s3ec("v3", kid, policy)

    for entry in manifest:
        name = str(entry.get("name", ""))

        def do_read(entry=entry, name=name):
            check(bool(NAME_RE.match(name)), f"bad object name {name!r}")
            body = (d / f"{name}.body").read_bytes()
            md = json.loads((d / f"{name}.metadata.json").read_text())
            check(isinstance(md, dict) and all(isinstance(v, str) for v in md.values()),
                  "metadata.json is not an object of strings")
            fmt = entry.get("format") or detect_format(md)
            kid = key_id_for(entry)
            ctx = ctx_for(entry)
            clients.s3_plain.put_object(Bucket=bucket, Key=name, Body=body, Metadata=md)
            # The raw object must come back exactly as uploaded.
            rb, rmd, _ = clients.get_raw(bucket, name)
            check(rb == body and rmd == md, "moto did not store the raw object verbatim")
            k0 = len(clients.kms_calls)
            got = reader(fmt, kid).get_object(Bucket=bucket, Key=name, **ec_kwargs(ctx))["Body"].read()
            calls = clients.kms_calls[k0:]
            kms_by_format.setdefault(fmt, calls)
            want = str(entry.get("plaintext_sha256", "")).lower()
            check(sha256(got) == want, f"plaintext sha256 {sha256(got)} != manifest {want} ({len(got)} bytes)")
            if "size" in entry:
                check(len(got) == int(entry["size"]), f"plaintext {len(got)} bytes, manifest size {entry['size']}")
            loaded.append({"name": name, "format": fmt, "body": body, "md": md, "kid": kid, "ctx": ctx,
                           "multipart": bool(entry.get("multipart"))})
            return f"{fmt}, body {len(body)} bytes -> plaintext {len(got)} bytes", True

        run.step(f"read {name or '?'}", do_read)

    # -- negative steps -------------------------------------------------------

    def pick(fmt: str | None = None, min_body: int = 0) -> dict | None:
        cands = [x for x in loaded if (fmt is None or x["format"] == fmt) and len(x["body"]) >= min_body]
        cands.sort(key=lambda x: (x["multipart"], len(x["body"]) > 1 << 20, -len(x["body"])))
        return cands[0] if cands else None

    def expect_refused(obj: dict, key: str, body: bytes, md: dict, *, ctx: dict | None = None,
                       policy: CommitmentPolicy | None = None) -> str:
        clients.s3_plain.put_object(Bucket=bucket, Key=key, Body=body, Metadata=md)
        ec = reader(obj["format"], obj["kid"], policy)
        k0 = len(clients.kms_calls)
        try:
            got = ec.get_object(Bucket=bucket, Key=key,
                                **ec_kwargs(obj["ctx"] if ctx is None else ctx))["Body"].read()
        except Exception as e:  # noqa: BLE001 - any refusal counts; the class is reported
            rc = root_cause(e)
            msg = describe_exc(e)
            if rc is not e:
                msg += f" <- {describe_exc(rc)}"
            # Whether the client refused before or after asking KMS for the data key.
            kms = [c["op"] for c in clients.kms_calls[k0:]]
            return f"{msg[:300]} [KMS calls: {', '.join(kms) or 'none'}]"
        raise AssertionError(f"the official client accepted it and returned {len(got)} bytes")

    def each_format(fn, min_body=0, formats=("v3", "v2")):
        done = []
        for fmt in formats:
            obj = pick(fmt, min_body)
            if obj is not None:
                done.append(f"{obj['name']}: {fn(obj)}")
        if not done:
            raise AssertionError("no object was read successfully to derive it from")
        return "; ".join(done)

    def tampered(obj):
        body = bytearray(obj["body"])
        i = len(body) // 2
        body[i] ^= 0x01
        return f"byte {i} of {len(body)} flipped -> " + expect_refused(obj, obj["name"] + ".tampered", bytes(body), obj["md"])

    run.step("read_tampered_refused", lambda: each_format(tampered, min_body=17))

    def truncated(obj):
        return "body cut to 15 bytes -> " + expect_refused(obj, obj["name"] + ".truncated", obj["body"][:15], obj["md"])

    run.step("read_truncated_refused", lambda: each_format(truncated, min_body=16))

    def wrong_context(obj):
        ctx = dict(obj["ctx"], s3crypt_wrong="1")
        return f"context {ctx} -> " + expect_refused(obj, obj["name"] + ".wrongctx", obj["body"], obj["md"], ctx=ctx)

    run.step("read_wrong_context_refused", lambda: each_format(wrong_context))

    def bad_commitment(obj):
        md = dict(obj["md"])
        c = bytearray(b64d(md["x-amz-d"]))
        c[0] ^= 0x01
        md["x-amz-d"] = base64.b64encode(bytes(c)).decode()
        return "x-amz-d bit flipped -> " + expect_refused(obj, obj["name"] + ".badcommit", obj["body"], md)

    if pick("v3") is not None:
        run.step("read_bad_commitment_refused", lambda: each_format(bad_commitment, formats=("v3",)))
    else:
        run.emit("skip", "read_bad_commitment_refused", "no V3 object was read")

    def v2_default_policy(obj):
        return "default policy -> " + expect_refused(
            obj, obj["name"] + ".defaultpolicy", obj["body"], obj["md"],
            policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)

    if pick("v2") is not None:
        run.step("read_v2_refused_by_default", lambda: each_format(v2_default_policy, formats=("v2",)))
    else:
        run.emit("skip", "read_v2_refused_by_default", "no V2 object was read")

    run.figures.update({"bucket": bucket, "in": str(d), "objects": len(manifest), "read": len(loaded),
                        "kms_calls": kms_by_format})
    summary = run.summary(t0)
    print(json.dumps(summary, default=str), flush=True)
    return 1 if summary["failed"] else 0


# ---------------------------------------------------------------------------
# forge: objects made from FORMATS.md alone (a stand-in for s3crypt)
# ---------------------------------------------------------------------------

def cmd_forge(args: argparse.Namespace) -> int:
    """Write the `read` layout without the official client: KMS GenerateDataKey
    + `cryptography`, following FORMATS.md §1.3-§1.5, with compact (Java-style)
    JSON and the reserved key first, i.e. not byte-identical to what the Python
    client writes. `read` on this directory shows the official client accepts
    objects that only follow the documented format."""
    run = Runner(args)
    t0 = time.monotonic()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = parse_context(args.context) or {}
    clients = Clients(args)
    manifest = []
    for fmt in [f.strip() for f in args.formats.split(",") if f.strip()]:
        for size in [int(x) for x in args.sizes.split(",") if x.strip()]:
            name = f"{fmt}-forged-{size}"

            def forge_one(fmt=fmt, size=size, name=name):
                pt = plaintext_for(size)
                alg = "115" if fmt == "v3" else "AES/GCM/NoPadding"
                ec = {RESERVED_EC_KEY: alg, **ctx}
                r = clients.kms_plain.generate_data_key(KeyId=args.key_id, KeySpec="AES_256",
                                                        EncryptionContext=ec)
                dk, edk = r["Plaintext"], r["CiphertextBlob"]
                ec_json = json.dumps(ec, separators=(",", ":"))
                b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
                if fmt == "v3":
                    mid = os.urandom(28)
                    dek = HKDF(SHA512(), 32, salt=mid, info=V3_SUITE_ID + b"DERIVEKEY").derive(dk)
                    ck = HKDF(SHA512(), 28, salt=mid, info=V3_SUITE_ID + b"COMMITKEY").derive(dk)
                    body = AESGCM(dek).encrypt(V3_IV, pt, V3_SUITE_ID)
                    md = {"x-amz-c": "115", "x-amz-3": b64(edk), "x-amz-w": "12", "x-amz-t": ec_json,
                          "x-amz-d": b64(ck), "x-amz-i": b64(mid)}
                elif fmt == "v2":
                    iv = os.urandom(12)
                    body = AESGCM(dk).encrypt(iv, pt, None)
                    md = {"x-amz-key-v2": b64(edk), "x-amz-wrap-alg": "kms+context",
                          "x-amz-cek-alg": "AES/GCM/NoPadding", "x-amz-iv": b64(iv),
                          "x-amz-tag-len": "128", "x-amz-matdesc": ec_json}
                else:
                    raise AssertionError(f"unknown format {fmt!r}")
                (out / f"{name}.body").write_bytes(body)
                (out / f"{name}.metadata.json").write_text(json.dumps(md, indent=2) + "\n")
                manifest.append({"name": name, "format": fmt, "size": size, "multipart": False,
                                 "plaintext_sha256": sha256(pt), "context": dict(ctx),
                                 "key_id": args.key_id})
                return f"body {len(body)} bytes, x-amz-{'t' if fmt == 'v3' else 'matdesc'} {ec_json}"

            run.step(f"forge {name}", forge_one)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    summary = run.summary(t0)
    print(json.dumps(summary, default=str), flush=True)
    return 1 if summary["failed"] else 0


# ---------------------------------------------------------------------------
# selfcheck: moto (S3 + KMS) only
# ---------------------------------------------------------------------------

def cmd_selfcheck(args: argparse.Namespace) -> int:
    run = Runner(args)
    t0 = time.monotonic()
    py = sys.executable
    moto = subprocess.Popen([py, str(HERE / "moto_server.py")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    children: dict[str, object] = {}
    try:
        line = moto.stdout.readline().strip()
        if not line.startswith("listening on "):
            run.emit("FAIL", "selfcheck_moto", f"moto_server.py said {line!r}")
            print(json.dumps(run.summary(t0), default=str), flush=True)
            return 1
        ep = line[len("listening on "):]
        run.emit("ok", "selfcheck_moto", ep)
        args.s3_endpoint = args.kms_endpoint = ep
        args.access_key, args.secret = "AKIDS3CRYPTSELFCHECK", "selfcheck-secret"

        def create_key():
            kms = Clients(args).kms_plain
            md = kms.create_key(Description="s3crypt s3ec selfcheck")["KeyMetadata"]
            alias = f"alias/s3crypt-s3ec-{secrets.token_hex(4)}"
            kms.create_alias(AliasName=alias, TargetKeyId=md["KeyId"])
            return f"{md['Arn']}, {alias}", (md["Arn"], alias)

        got = run.step("selfcheck_create_key", create_key)
        if not got:
            print(json.dumps(run.summary(t0), default=str), flush=True)
            return 1
        arn, alias = got
        base = [py, str(Path(__file__).resolve())]
        common = ["--s3-endpoint", ep, "--kms-endpoint", ep, "--access-key", args.access_key,
                  "--secret", args.secret]
        keep = Path(args.keep) if args.keep else None
        with tempfile.TemporaryDirectory(prefix="s3ec-selfcheck-") as tmp:
            root = keep or Path(tmp)
            # Round 1: a context, every size, V3 + V2, multipart; written with the
            # alias, read back with the key ARN (both are legal KeyIds for Decrypt).
            # Round 2: no context at all (x-amz-t / x-amz-matdesc hold only the
            # reserved key), a few sizes.
            rounds = [
                ("ctx", ["--key-id", alias, "--context", "tenant=t1", "purpose=interop"]
                 + (["--sizes", args.sizes] if args.sizes else []), ["--key-id", arn]),
                ("noctx", ["--key-id", arn, "--sizes", "0,17", "--multipart-size", "0"], []),
                # Round 3: objects forged from FORMATS.md alone (compact JSON,
                # reserved key first), as s3crypt will write them.
                ("forged", ["--key-id", arn, "--sizes", "0,1,16,17,4095", "--context", "tenant=t1"], []),
            ]
            for tag, wextra, rextra in rounds:
                d = root / tag
                wsub = "forge" if tag == "forged" else "write"
                for sub, extra in ((wsub, ["--out", str(d)]
                                    + ([] if wsub == "forge" else ["--bucket", f"s3ec-selfcheck-{tag}-w"]) + wextra),
                                   ("read", ["--in", str(d), "--bucket", f"s3ec-selfcheck-{tag}-r"] + rextra)):
                    cmd = base + [sub] + common + extra + (["--verbose"] if args.verbose else [])
                    t1 = time.monotonic()
                    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
                    lines = p.stdout.splitlines()
                    for ln in lines[:-1]:
                        print(f"  {tag} {ln}", flush=True)
                    try:
                        child = json.loads(lines[-1]) if lines else {}
                    except ValueError:
                        child = {"unparsed": lines[-1]}
                    children[f"{tag}_{sub}"] = {k: child.get(k) for k in
                                                ("steps", "failed", "ok", "failed_steps", "elapsed_s")}
                    children[f"{tag}_{sub}"]["exit"] = p.returncode
                    if sub == "write":
                        for k in ("metadata_examples", "kms_calls", "multipart", "s3_put_headers"):
                            if k in child:
                                run.figures.setdefault(f"{tag}_{k}", child[k])
                    step = f"selfcheck_{tag}_{sub}"
                    detail = (f"exit {p.returncode}, {child.get('ok')}/{child.get('steps')} steps ok, "
                              f"{time.monotonic() - t1:.1f}s")
                    if p.returncode == 0 and child.get("failed") == 0 and child.get("steps"):
                        run.emit("ok", step, detail)
                    else:
                        run.emit("FAIL", step, f"{detail}; failed {child.get('failed_steps')}")
    finally:
        try:
            moto.stdin.close()
            moto.wait(timeout=15)
        except Exception:  # noqa: BLE001
            moto.kill()
    run.figures["children"] = children
    summary = run.summary(t0)
    print(json.dumps(summary, default=str), flush=True)
    return 1 if summary["failed"] else 0


def main() -> int:
    ap = argparse.ArgumentParser(description="Interop with the official AWS S3 Encryption Client (Python).")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p, endpoints=True):
        if endpoints:
            p.add_argument("--s3-endpoint", required=True, help="http://127.0.0.1:PORT (moto)")
            p.add_argument("--kms-endpoint", required=True, help="http://127.0.0.1:PORT")
            p.add_argument("--access-key", required=True)
            p.add_argument("--secret", required=True)
        p.add_argument("--region", default="us-east-1")
        p.add_argument("--verbose", action="store_true", help="tracebacks of failed steps on stderr")

    w = sub.add_parser("write", help="the official client encrypts; raw objects saved to --out")
    common(w)
    w.add_argument("--key-id", required=True, help="KMS key ARN, id or alias for the KmsKeyring")
    w.add_argument("--out", required=True)
    w.add_argument("--formats", default="v3,v2")
    w.add_argument("--sizes", default=DEFAULT_SIZES)
    w.add_argument("--context", nargs="+", action="extend", metavar="K=V")
    w.add_argument("--multipart-size", type=int, default=DEFAULT_MULTIPART_SIZE,
                   help="plaintext size of the multipart object per format; 0 = none")
    w.add_argument("--part-size", type=int, default=PART_SIZE,
                   help="plaintext part size (>= 5 MiB, the S3EC's minimum)")
    w.add_argument("--bucket", default="s3crypt-s3ec-write")

    r = sub.add_parser("read", help="raw objects from --in are uploaded; the official client decrypts")
    common(r)
    r.add_argument("--in", dest="in_dir", required=True)
    r.add_argument("--key-id", default=None,
                   help="KMS key for the KmsKeyring (sent as Decrypt's KeyId); default: the manifest entry's key_id")
    r.add_argument("--context", nargs="+", action="extend", metavar="K=V",
                   help="encryption context for every object; default: each manifest entry's context")
    r.add_argument("--bucket", default="s3crypt-s3ec-read")

    f = sub.add_parser("forge", help="write the read layout from FORMATS.md alone (no official client)")
    f.add_argument("--kms-endpoint", required=True)
    f.add_argument("--access-key", required=True)
    f.add_argument("--secret", required=True)
    f.add_argument("--s3-endpoint", default="http://127.0.0.1:9", help=argparse.SUPPRESS)
    f.add_argument("--key-id", required=True)
    f.add_argument("--out", required=True)
    f.add_argument("--formats", default="v3,v2")
    f.add_argument("--sizes", default="0,1,15,16,17,4095,65536")
    f.add_argument("--context", nargs="+", action="extend", metavar="K=V")
    common(f, endpoints=False)

    s = sub.add_parser("selfcheck", help="write + read through moto (S3 and KMS) only")
    common(s, endpoints=False)
    s.add_argument("--sizes", default=None, help=f"sizes of round 1 (default {DEFAULT_SIZES})")
    s.add_argument("--keep", default=None, help="keep the written directories under this path")

    args = ap.parse_args()
    try:
        if getattr(args, "context", None):
            parse_context(args.context)
    except argparse.ArgumentTypeError as e:
        ap.error(str(e))
    if args.cmd == "write" and args.multipart_size and args.part_size < PART_SIZE:
        ap.error(f"--part-size must be >= {PART_SIZE}")
    sys.stdout.reconfigure(line_buffering=True)
    return {"write": cmd_write, "read": cmd_read, "forge": cmd_forge,
            "selfcheck": cmd_selfcheck}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
