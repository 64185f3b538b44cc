#!/usr/bin/env python3
"""KMS interop scenario driven by boto3's KMS client against an endpoint.

Usage:
  kms_boto3.py --endpoint http://127.0.0.1:PORT --access-key AKID --secret SECRET
               [--region us-east-1] [--target s3crypt|moto] [--expect-throttling]
               [--quota-rps 50] [--throttle-seconds 3] [--throttle-threads 8]
               [--throttle-warmup 1.0] [--throttle-tolerance 0.30] [--verbose]

Output (stdout, line-buffered), one line per step, the step name is always the
second whitespace-separated token and never contains spaces:
  ok <step>[ (detail)]
  FAIL <step>: <detail>
  skip <step> (<why>)
then one JSON line:
  {"steps": N, "failed": M, "skipped": K, "ok": ..., "target": ..., ...figures}
Exit status: 0 if no step failed, 1 if any did, 2 on bad usage.

--target selects what a *known* gap of the server may excuse:
  s3crypt  everything is asserted (the default; used by the Rust tests).
  moto     steps moto is known not to implement (SigV4 verification, key-state
           enforcement) still run, but if they fail the line is
           `skip <step> (moto: <gap>; observed: <what happened>)`; if moto
           happens to pass them the line is a plain `ok`.

Only boto3 / botocore / requests / stdlib are used.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import secrets
import sys
import threading
import time
import traceback
import uuid
from collections import Counter

# Isolate from whatever AWS configuration the machine has: explicit keys,
# region, endpoint and Config are passed below, but a profile / config file /
# env var could still change retry mode or max attempts, and a proxy could
# swallow loopback traffic.
for _var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS",
             "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS", "AWS_SESSION_TOKEN",
             "AWS_SECURITY_TOKEN", "AWS_DEFAULTS_MODE"):
    os.environ.pop(_var, None)
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
for _var in ("NO_PROXY", "no_proxy"):
    _cur = os.environ.get(_var, "")
    os.environ[_var] = ",".join(x for x in (_cur, "127.0.0.1", "localhost", "::1") if x)

import boto3  # noqa: E402
import botocore  # noqa: E402
import requests  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError, ParamValidationError  # noqa: E402

THROTTLING_MESSAGE = (
    "You have exceeded the rate at which you may call KMS. "
    "Reduce the frequency of your calls."
)
# One attempt, no retry.  NOT {"max_attempts": 1}: that means one *retry*.
NO_RETRIES = {"mode": "standard", "total_max_attempts": 1}
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

# Gaps of moto 5.2.x's KMS (see tests/interop/README.md).
MOTO_NO_SIGV4 = "moto does not verify SigV4 (any or no signature is accepted)"
MOTO_NO_KEY_STATE = "moto does not enforce key state on cryptographic operations"


class StepSkip(Exception):
    """Raised by a step to print `skip <step> (<reason>)`."""


class PrereqMissing(AssertionError):
    """A step needs state from an earlier step that failed: always a FAIL."""


def err_code(e: BaseException) -> str:
    """The AWS error code of a botocore ClientError, without namespace.

    botocore copies the JSON body's `__type` into e.response["Error"]["Code"];
    it normally strips a `com.amazonaws.kms#` prefix and a `:http://...`
    suffix itself, but do it again so any spelling the server uses compares
    equal.  Falls back to the exception class name for non-ClientErrors.
    """
    if isinstance(e, ClientError):
        code = str((e.response or {}).get("Error", {}).get("Code") or "")
        code = code.rsplit("#", 1)[-1]
        code = code.split(":", 1)[0]
        return code.strip()
    return type(e).__name__


def describe_exc(e: BaseException) -> str:
    if isinstance(e, ClientError):
        md = e.response.get("ResponseMetadata", {})
        msg = e.response.get("Error", {}).get("Message", "")
        return (f"ClientError {err_code(e)} (HTTP {md.get('HTTPStatusCode')}, "
                f"retries {md.get('RetryAttempts')}): {msg}")
    text = str(e).strip().replace("\n", " ")
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def check(cond: bool, msg: str) -> None:
    if not cond:
        raise AssertionError(msg)


def expect_error(fn, *codes: str) -> ClientError:
    """Call fn(); it must raise a ClientError whose code is one of `codes`."""
    try:
        result = fn()
    except ClientError as e:
        if err_code(e) not in codes:
            raise AssertionError(f"expected {'/'.join(codes)}, got {describe_exc(e)}") from e
        return e
    meta = result.get("ResponseMetadata", {}) if isinstance(result, dict) else {}
    raise AssertionError(
        f"expected {'/'.join(codes)}, but the call succeeded (HTTP {meta.get('HTTPStatusCode')})"
    )


class Scenario:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.target = args.target
        self.region = args.region
        self.results: list[tuple[str, str, str]] = []  # (status, step, detail)
        self.state: dict[str, object] = {}
        self.figures: dict[str, object] = {"target": args.target, "endpoint": args.endpoint}
        self.session = boto3.session.Session()
        self.first_request: dict[str, object] | None = None
        self.kms = self.client()
        self.kms.meta.events.register("before-send.kms", self._capture_request)

    # -- plumbing -----------------------------------------------------------

    def client(self, *, access_key: str | None = None, secret: str | None = None,
               retries: dict | None = None, pool: int = 32):
        # NB: in a botocore Config, retries["max_attempts"] counts RETRIES
        # (total attempts = max_attempts + 1); "total_max_attempts" counts
        # attempts.  (AWS_MAX_ATTEMPTS / the config file's max_attempts count
        # attempts too.)
        cfg = Config(
            region_name=self.region,
            retries=retries or {"mode": "standard", "total_max_attempts": 5},
            connect_timeout=5,
            read_timeout=30,
            max_pool_connections=pool,
        )
        return self.session.client(
            "kms",
            endpoint_url=self.args.endpoint,
            region_name=self.region,
            aws_access_key_id=access_key if access_key is not None else self.args.access_key,
            aws_secret_access_key=secret if secret is not None else self.args.secret,
            config=cfg,
        )

    def _capture_request(self, request, **_kwargs):
        if self.first_request is None:
            auth = request.headers.get("Authorization", b"")
            if isinstance(auth, bytes):
                auth = auth.decode()
            m = re.search(r"SignedHeaders=([^,\s]+)", auth)
            self.first_request = {
                "method": request.method,
                "url": request.url,
                "headers": sorted(request.headers.keys()),
                "content_type": _s(request.headers.get("Content-Type")),
                "x_amz_target": _s(request.headers.get("X-Amz-Target")),
                "signed_headers": m.group(1) if m else None,
                "auth_scheme": auth.split(" ", 1)[0] if auth else None,
                "credential_scope": (re.search(r"Credential=[^/]+/([^,\s]+)", auth) or [None, None])[1],
                "payload_hash_header": _s(request.headers.get("X-Amz-Content-SHA256")),
            }
        return None

    def need(self, *names: str):
        missing = [n for n in names if n not in self.state]
        if missing:
            raise PrereqMissing(f"needs {', '.join(missing)} from an earlier step, which failed")
        vals = [self.state[n] for n in names]
        return vals[0] if len(vals) == 1 else vals

    def emit(self, status: str, step: str, detail: str = "") -> None:
        self.results.append((status, step, detail))
        if status == "ok":
            print(f"ok {step}" + (f" ({detail})" if detail else ""), flush=True)
        elif status == "skip":
            print(f"skip {step} ({detail})", flush=True)
        else:
            print(f"FAIL {step}: {detail}", flush=True)

    def step(self, name: str, fn, moto_gap: str | None = None) -> None:
        try:
            detail = fn()
        except StepSkip as s:
            self.emit("skip", name, str(s))
        except Exception as e:  # noqa: BLE001 - a step must never kill the run
            detail = describe_exc(e) if not isinstance(e, AssertionError) else str(e)
            if self.args.verbose:
                traceback.print_exc(file=sys.stderr)
            if self.target == "moto" and moto_gap and not isinstance(e, PrereqMissing):
                self.emit("skip", name, f"moto: {moto_gap}; observed: {detail}")
            else:
                self.emit("FAIL", name, detail)
        else:
            self.emit("ok", name, detail or "")

    # -- helpers over the main client ---------------------------------------

    def describe(self, key_id: str) -> dict:
        return self.kms.describe_key(KeyId=key_id)["KeyMetadata"]

    def new_key(self, description: str) -> dict:
        """create_key with every parameter left at its default but Description."""
        md = self.kms.create_key(Description=description)["KeyMetadata"]
        arn_re = rf"^arn:aws:kms:{re.escape(self.region)}:\d{{12}}:key/({UUID_RE})$"
        m = re.match(arn_re, md.get("Arn", ""))
        check(m is not None, f"KeyMetadata.Arn {md.get('Arn')!r} does not match {arn_re}")
        check(md.get("KeyId") == m.group(1), f"KeyId {md.get('KeyId')!r} != uuid in ARN {m.group(1)!r}")
        check(md.get("KeyState") == "Enabled", f"KeyState {md.get('KeyState')!r}, want Enabled")
        check(md.get("Enabled") is True, f"Enabled {md.get('Enabled')!r}, want True")
        check(md.get("Description") == description, f"Description {md.get('Description')!r}, want {description!r}")
        return md

    # -- the scenario -------------------------------------------------------

    def run(self) -> None:
        a = self.args
        ctx = {"purpose": "interop", "tenant": "t1"}
        self.state["ctx"] = ctx

        def create_key():
            md = self.new_key("s3crypt interop key A")
            self.state["key_a"] = md
            return md["Arn"]

        self.step("create_key", create_key)

        def create_key_defaults():
            md = self.need("key_a")
            want = {"KeyUsage": "ENCRYPT_DECRYPT", "KeySpec": "SYMMETRIC_DEFAULT",
                    "Origin": "AWS_KMS", "KeyManager": "CUSTOMER"}
            bad = {k: md.get(k) for k, v in want.items() if md.get(k) != v}
            check(not bad, f"KeyMetadata {bad}, want {want}")
            algs = md.get("EncryptionAlgorithms") or []
            check("SYMMETRIC_DEFAULT" in algs, f"EncryptionAlgorithms {algs!r} lacks SYMMETRIC_DEFAULT")
            return "KeyUsage ENCRYPT_DECRYPT, KeySpec SYMMETRIC_DEFAULT"

        self.step("create_key_defaults", create_key_defaults,
                  moto_gap="moto leaves KeyMetadata.KeyUsage null when CreateKey does not give it")

        def create_alias():
            key = self.need("key_a")
            alias = f"alias/s3crypt-interop-{secrets.token_hex(6)}"
            self.kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
            self.state["alias"] = alias
            # The alias ARN: the key ARN's "key/<uuid>" replaced by the alias name.
            self.state["alias_arn"] = key["Arn"].rsplit(":", 1)[0] + ":" + alias
            return alias

        self.step("create_alias", create_alias)

        def list_aliases():
            key, alias, alias_arn = self.need("key_a", "alias", "alias_arn")
            found = []
            for page in self.kms.get_paginator("list_aliases").paginate():
                found += [x for x in page.get("Aliases", []) if x.get("AliasName") == alias]
            check(len(found) == 1, f"{alias} listed {len(found)} times")
            got = found[0]
            check(got.get("TargetKeyId") == key["KeyId"],
                  f"TargetKeyId {got.get('TargetKeyId')!r} != {key['KeyId']!r}")
            check(got.get("AliasArn") == alias_arn, f"AliasArn {got.get('AliasArn')!r} != {alias_arn!r}")
            return alias_arn

        self.step("list_aliases", list_aliases)

        def describe_key_by_alias():
            key, alias, alias_arn = self.need("key_a", "alias", "alias_arn")
            by_name = self.describe(alias)["Arn"]
            by_arn = self.describe(alias_arn)["Arn"]
            check(by_name == key["Arn"], f"by alias name: {by_name!r} != {key['Arn']!r}")
            check(by_arn == key["Arn"], f"by alias ARN: {by_arn!r} != {key['Arn']!r}")
            return "alias name and alias ARN"

        self.step("describe_key_by_alias", describe_key_by_alias)

        def generate_data_key_aes256():
            key, alias = self.need("key_a", "alias")
            r = self.kms.generate_data_key(KeyId=alias, KeySpec="AES_256", EncryptionContext=ctx)
            pt, blob = r.get("Plaintext"), r.get("CiphertextBlob")
            check(isinstance(pt, bytes) and len(pt) == 32, f"Plaintext length {len(pt or b'')}, want 32")
            check(isinstance(blob, bytes) and len(blob) > 32, f"CiphertextBlob length {len(blob or b'')}")
            check(r.get("KeyId") == key["Arn"], f"KeyId {r.get('KeyId')!r} != key ARN {key['Arn']!r}")
            check(pt not in blob, "the plaintext data key appears verbatim in CiphertextBlob")
            self.state["dk"] = r
            return f"CiphertextBlob {len(blob)} bytes"

        self.step("generate_data_key_aes256", generate_data_key_aes256)

        def generate_data_key_64_bytes():
            key = self.need("key_a")
            r = self.kms.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=64, EncryptionContext=ctx)
            check(len(r.get("Plaintext", b"")) == 64, f"Plaintext length {len(r.get('Plaintext', b''))}, want 64")
            back = self.kms.decrypt(CiphertextBlob=r["CiphertextBlob"], EncryptionContext=ctx)
            check(back["Plaintext"] == r["Plaintext"], "decrypt of the 64-byte data key differs")
            return f"CiphertextBlob {len(r['CiphertextBlob'])} bytes"

        self.step("generate_data_key_64_bytes", generate_data_key_64_bytes)

        def generate_data_key_keyspec_and_bytes():
            key = self.need("key_a")
            e = expect_error(lambda: self.kms.generate_data_key(
                KeyId=key["KeyId"], KeySpec="AES_256", NumberOfBytes=32), "ValidationException")
            return f"ValidationException, HTTP {e.response['ResponseMetadata'].get('HTTPStatusCode')}"

        # The brief expected moto might accept this; moto 5.2.5 does reject it.
        self.step("generate_data_key_keyspec_and_bytes_rejected", generate_data_key_keyspec_and_bytes,
                  moto_gap="moto may not reject KeySpec together with NumberOfBytes")

        def decrypt():
            key, dk = self.need("key_a", "dk")
            r = self.kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=ctx, KeyId=key["Arn"])
            check(r.get("Plaintext") == dk["Plaintext"], "Plaintext differs from generate_data_key's")
            check(r.get("KeyId") == key["Arn"], f"KeyId {r.get('KeyId')!r} != {key['Arn']!r}")
            return "with KeyId = key ARN"

        self.step("decrypt", decrypt)

        def decrypt_without_key_id():
            key, dk = self.need("key_a", "dk")
            r = self.kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=ctx)
            check(r.get("Plaintext") == dk["Plaintext"], "Plaintext differs from generate_data_key's")
            check(r.get("KeyId") == key["Arn"], f"KeyId {r.get('KeyId')!r} != {key['Arn']!r}")
            return None

        self.step("decrypt_without_key_id", decrypt_without_key_id)

        def decrypt_wrong_context():
            dk = self.need("dk")
            wrong = dict(ctx, tenant="t2")
            expect_error(lambda: self.kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=wrong),
                         "InvalidCiphertextException")
            expect_error(lambda: self.kms.decrypt(CiphertextBlob=dk["CiphertextBlob"]),
                         "InvalidCiphertextException")
            return "tenant t2, and no context at all"

        self.step("decrypt_wrong_context", decrypt_wrong_context)

        def decrypt_tampered_blob():
            dk = self.need("dk")
            blob = bytearray(dk["CiphertextBlob"])
            i = len(blob) // 2
            blob[i] ^= 0x01
            expect_error(lambda: self.kms.decrypt(CiphertextBlob=bytes(blob), EncryptionContext=ctx),
                         "InvalidCiphertextException")
            return f"flipped byte {i} of {len(blob)}"

        self.step("decrypt_tampered_blob", decrypt_tampered_blob)

        def encrypt_4096():
            key = self.need("key_a")
            pt = b"x" * 4096
            r = self.kms.encrypt(KeyId=key["KeyId"], Plaintext=pt, EncryptionContext=ctx)
            check(r.get("KeyId") == key["Arn"], f"KeyId {r.get('KeyId')!r} != {key['Arn']!r}")
            back = self.kms.decrypt(CiphertextBlob=r["CiphertextBlob"], EncryptionContext=ctx)
            check(back["Plaintext"] == pt, "decrypt of the 4096-byte ciphertext differs")
            return f"CiphertextBlob {len(r['CiphertextBlob'])} bytes, round trip ok"

        self.step("encrypt_4096", encrypt_4096)

        def encrypt_4097_rejected():
            key = self.need("key_a")
            try:
                self.kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x" * 4097)
            except ParamValidationError as e:
                self.figures["encrypt_4097_rejected_by"] = "client (botocore ParamValidationError)"
                return f"rejected client-side by botocore: {str(e).splitlines()[-1]}"
            except ClientError as e:
                check(err_code(e) == "ValidationException", f"expected ValidationException, got {describe_exc(e)}")
                self.figures["encrypt_4097_rejected_by"] = "server (ValidationException)"
                return f"rejected by the server: ValidationException, HTTP {e.response['ResponseMetadata'].get('HTTPStatusCode')}"
            raise AssertionError("encrypt of 4097 bytes succeeded")

        self.step("encrypt_4097_rejected", encrypt_4097_rejected)

        def re_encrypt():
            key_a = self.need("key_a")
            key_b = self.new_key("s3crypt interop key B")
            self.state["key_b"] = key_b
            pt = b"re-encrypt me " + secrets.token_bytes(16)
            c = self.kms.encrypt(KeyId=key_a["KeyId"], Plaintext=pt, EncryptionContext=ctx)["CiphertextBlob"]
            ctx2 = dict(ctx, stage="re-encrypted")
            r = self.kms.re_encrypt(CiphertextBlob=c, SourceEncryptionContext=ctx,
                                    DestinationKeyId=key_b["KeyId"], DestinationEncryptionContext=ctx2)
            check(r.get("KeyId") == key_b["Arn"], f"KeyId {r.get('KeyId')!r} != key B {key_b['Arn']!r}")
            check(r.get("SourceKeyId") == key_a["Arn"], f"SourceKeyId {r.get('SourceKeyId')!r} != key A {key_a['Arn']!r}")
            back = self.kms.decrypt(CiphertextBlob=r["CiphertextBlob"], EncryptionContext=ctx2)
            check(back["Plaintext"] == pt, "decrypt of the re-encrypted blob differs")
            check(back["KeyId"] == key_b["Arn"], f"decrypt KeyId {back['KeyId']!r} != key B")
            return "key A -> key B, new context"

        self.step("re_encrypt", re_encrypt)

        def disable_key():
            key = self.need("key_a")
            self.kms.disable_key(KeyId=key["KeyId"])
            md = self.describe(key["KeyId"])
            check(md.get("KeyState") == "Disabled", f"KeyState {md.get('KeyState')!r}, want Disabled")
            check(md.get("Enabled") is False, f"Enabled {md.get('Enabled')!r}, want False")
            self.state["key_a_disabled"] = True
            return None

        self.step("disable_key", disable_key)

        def disabled_key_rejected():
            key, _ = self.need("key_a", "key_a_disabled")
            expect_error(lambda: self.kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256"),
                         "DisabledException")
            return "generate_data_key -> DisabledException"

        self.step("disabled_key_rejected", disabled_key_rejected, moto_gap=MOTO_NO_KEY_STATE)

        def enable_key():
            key = self.need("key_a")
            self.kms.enable_key(KeyId=key["KeyId"])
            md = self.describe(key["KeyId"])
            check(md.get("KeyState") == "Enabled", f"KeyState {md.get('KeyState')!r}, want Enabled")
            r = self.kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
            check(len(r["Plaintext"]) == 32, "generate_data_key after enable_key")
            return "generate_data_key works again"

        self.step("enable_key", enable_key)

        def schedule_key_deletion():
            key_c = self.new_key("s3crypt interop key C (scheduled for deletion)")
            self.state["key_c"] = key_c
            r = self.kms.schedule_key_deletion(KeyId=key_c["KeyId"], PendingWindowInDays=7)
            check("DeletionDate" in r, "response has no DeletionDate")
            md = self.describe(key_c["KeyId"])
            check(md.get("KeyState") == "PendingDeletion", f"KeyState {md.get('KeyState')!r}, want PendingDeletion")
            check("DeletionDate" in md, "KeyMetadata has no DeletionDate")
            days = (md["DeletionDate"].timestamp() - time.time()) / 86400
            # AWS may round DeletionDate to a day boundary: accept 7 days +/- 1.
            check(6.0 < days <= 8.0, f"DeletionDate is {days:.2f} days away, want about 7")
            self.state["key_c_pending"] = True
            return f"DeletionDate in {days:.2f} days"

        self.step("schedule_key_deletion", schedule_key_deletion)

        def pending_deletion_rejected():
            key_c, _ = self.need("key_c", "key_c_pending")
            expect_error(lambda: self.kms.generate_data_key(KeyId=key_c["KeyId"], KeySpec="AES_256"),
                         "KMSInvalidStateException")
            return "generate_data_key -> KMSInvalidStateException"

        self.step("pending_deletion_rejected", pending_deletion_rejected, moto_gap=MOTO_NO_KEY_STATE)

        def cancel_key_deletion():
            key_c = self.need("key_c")
            self.kms.cancel_key_deletion(KeyId=key_c["KeyId"])
            md = self.describe(key_c["KeyId"])
            check(md.get("KeyState") == "Disabled",
                  f"KeyState after cancel {md.get('KeyState')!r}, want Disabled (AWS behaviour)")
            check("DeletionDate" not in md, "DeletionDate still present after cancel")
            return "KeyState Disabled"

        self.step("cancel_key_deletion", cancel_key_deletion)

        def enable_after_cancel():
            key_c = self.need("key_c")
            self.kms.enable_key(KeyId=key_c["KeyId"])
            md = self.describe(key_c["KeyId"])
            check(md.get("KeyState") == "Enabled", f"KeyState {md.get('KeyState')!r}, want Enabled")
            r = self.kms.generate_data_key(KeyId=key_c["KeyId"], KeySpec="AES_256", EncryptionContext=ctx)
            back = self.kms.decrypt(CiphertextBlob=r["CiphertextBlob"], EncryptionContext=ctx)
            check(back["Plaintext"] == r["Plaintext"], "round trip under the re-enabled key")
            return "usable again"

        self.step("enable_after_cancel", enable_after_cancel)

        def describe_unknown_key():
            e = expect_error(lambda: self.kms.describe_key(KeyId=str(uuid.uuid4())), "NotFoundException")
            return f"HTTP {e.response['ResponseMetadata'].get('HTTPStatusCode')}"

        self.step("describe_unknown_key", describe_unknown_key)

        # -- authentication -------------------------------------------------

        def unsigned_request():
            key = self.need("key_a")
            session = requests.Session()
            session.trust_env = False  # no proxies, no netrc
            resp = session.post(
                a.endpoint.rstrip("/") + "/",
                headers={
                    "Content-Type": "application/x-amz-json-1.1",
                    "X-Amz-Target": "TrentService.DescribeKey",
                },
                data=json.dumps({"KeyId": key["KeyId"]}),
                timeout=10,
            )
            body = resp.text[:200].replace("\n", " ")
            check(resp.status_code == 400, f"HTTP {resp.status_code}, want 400; body {body!r}")
            try:
                typ = str(resp.json().get("__type", ""))
            except ValueError:
                raise AssertionError(f"HTTP 400 but body is not JSON: {body!r}") from None
            typ = typ.rsplit("#", 1)[-1].split(":", 1)[0]
            check(typ == "MissingAuthenticationTokenException",
                  f"__type {typ!r}, want MissingAuthenticationTokenException")
            return "HTTP 400 MissingAuthenticationTokenException"

        self.step("unsigned_request", unsigned_request, moto_gap=MOTO_NO_SIGV4)

        def wrong_secret():
            key = self.need("key_a")
            bad = self.client(secret=a.secret + "-wrong", retries=NO_RETRIES)
            e = expect_error(lambda: bad.describe_key(KeyId=key["KeyId"]), "InvalidSignatureException")
            status = e.response["ResponseMetadata"].get("HTTPStatusCode")
            check(status == 400, f"InvalidSignatureException with HTTP {status}, want 400")
            return "HTTP 400 InvalidSignatureException"

        self.step("wrong_secret", wrong_secret, moto_gap=MOTO_NO_SIGV4)

        def unknown_access_key():
            key = self.need("key_a")
            bad = self.client(access_key="AKIAS3CRYPTUNKNOWN00", retries=NO_RETRIES)
            e = expect_error(lambda: bad.describe_key(KeyId=key["KeyId"]), "UnrecognizedClientException")
            status = e.response["ResponseMetadata"].get("HTTPStatusCode")
            check(status == 400, f"UnrecognizedClientException with HTTP {status}, want 400")
            return "HTTP 400 UnrecognizedClientException"

        self.step("unknown_access_key", unknown_access_key, moto_gap=MOTO_NO_SIGV4)

        # -- throttling ----------------------------------------------------

        if a.expect_throttling:
            self.step("throttling_under_load", self.throttling_under_load)
            self.step("throttled_response_is_http_400", self.throttled_response_is_http_400)
        else:
            for name in ("throttling_under_load", "throttled_response_is_http_400"):
                self.emit("skip", name, "no --expect-throttling")

    def throttling_under_load(self):
        a = self.args
        key = self.need("key_a")
        nthreads = a.throttle_threads or default_threads(a.quota_rps)
        # As specified: standard mode, max_attempts 3 (= 3 retries, 4 attempts).
        client = self.client(retries={"mode": "standard", "max_attempts": 3}, pool=nthreads + 4)
        client.describe_key(KeyId=key["KeyId"])  # open a connection, resolve the endpoint
        barrier = threading.Barrier(nthreads + 1)
        records: list[tuple] = []
        lock = threading.Lock()
        box = {}

        def worker():
            local = []
            barrier.wait()
            stop_at = box["t0"] + a.throttle_seconds
            while time.monotonic() < stop_at:
                try:
                    r = client.generate_data_key(KeyId=key["Arn"], KeySpec="AES_256")
                    md = r["ResponseMetadata"]
                    local.append((time.monotonic(), "ok", md.get("RetryAttempts", 0), None, False, False))
                except ClientError as e:
                    md = e.response.get("ResponseMetadata", {})
                    local.append((time.monotonic(), err_code(e), md.get("RetryAttempts", 0),
                                  md.get("HTTPStatusCode"), bool(md.get("MaxAttemptsReached")),
                                  bool(md.get("RetryQuotaReached"))))
                except Exception as e:  # noqa: BLE001 - connection errors etc. are counted
                    local.append((time.monotonic(), type(e).__name__, 0, None, False, False))
            with lock:
                records.extend(local)

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(nthreads)]
        for t in threads:
            t.start()
        box["t0"] = t0 = time.monotonic()
        barrier.wait()
        for t in threads:
            t.join(a.throttle_seconds + 60)
        t_end = t0 + a.throttle_seconds
        drained = time.monotonic() - t0

        ok = [r for r in records if r[1] == "ok"]
        throttled = [r for r in records if r[1] == "ThrottlingException"]
        other = Counter(r[1] for r in records if r[1] not in ("ok", "ThrottlingException"))
        in_window = [r for r in ok if r[0] <= t_end]
        steady_from = t0 + a.throttle_warmup
        steady = [r for r in ok if steady_from <= r[0] <= t_end]
        raw_rps = len(in_window) / a.throttle_seconds
        steady_rps = len(steady) / (t_end - steady_from)
        retries_ok = sum(r[2] for r in ok)
        retries_err = sum(r[2] for r in throttled)
        fig = {
            "quota_rps": a.quota_rps,
            "threads": nthreads,
            "window_s": a.throttle_seconds,
            "warmup_s": a.throttle_warmup,
            "calls": len(records),
            "successes": len(ok),
            "successes_in_window": len(in_window),
            "successes_after_window": len(ok) - len(in_window),
            "throttled_errors": len(throttled),
            "other_errors": dict(other),
            "throttled_http_status": sorted({r[3] for r in throttled}),
            "max_attempts_reached": sum(1 for r in throttled if r[4]),
            "retry_quota_reached": sum(1 for r in throttled if r[5]),
            "retry_attempts_on_success": retries_ok,
            "retry_attempts_on_error": retries_err,
            "successes_after_retry": sum(1 for r in ok if r[2] > 0),
            "accepted_rps_window": round(raw_rps, 1),
            "accepted_rps_steady": round(steady_rps, 1),
            "drained_s": round(drained, 2),
        }
        self.figures["throttling"] = fig
        print(f"kms_boto3: throttling figures: {json.dumps(fig)}", file=sys.stderr, flush=True)
        check(not other, f"unexpected errors under load: {dict(other)}")
        check(len(throttled) >= 1, "no ThrottlingException surfaced after botocore's retries")
        check(fig["throttled_http_status"] == [400],
              f"throttled HTTP status {fig['throttled_http_status']}, want [400]")
        check(retries_ok + retries_err > 0, "botocore made no retries: ThrottlingException not seen as retryable")
        lo, hi = a.quota_rps * (1 - a.throttle_tolerance), a.quota_rps * (1 + a.throttle_tolerance)
        check(lo <= steady_rps <= hi,
              f"accepted {steady_rps:.1f} calls/s over [{a.throttle_warmup:g}s, {a.throttle_seconds:g}s], "
              f"want {a.quota_rps:g} +/- {a.throttle_tolerance:.0%} ({lo:.1f}..{hi:.1f})")
        return (f"{len(ok)} ok, {len(throttled)} throttled ({fig['max_attempts_reached']} after 4 attempts, "
                f"{fig['retry_quota_reached']} on botocore's retry quota), {retries_ok + retries_err} retries, "
                f"{steady_rps:.1f} calls/s steady ({raw_rps:.1f} over the whole window) vs quota {a.quota_rps:g}")

    def throttled_response_is_http_400(self):
        key = self.need("key_a")
        once = self.client(retries=NO_RETRIES)
        deadline = time.monotonic() + 10
        n = 0
        while time.monotonic() < deadline and n < 2000:
            n += 1
            try:
                once.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
            except ClientError as e:
                code = err_code(e)
                check(code == "ThrottlingException", f"expected ThrottlingException, got {describe_exc(e)}")
                md = e.response["ResponseMetadata"]
                check(md.get("HTTPStatusCode") == 400, f"HTTP {md.get('HTTPStatusCode')}, want 400")
                check(md.get("RetryAttempts", 0) == 0, f"RetryAttempts {md.get('RetryAttempts')} with total_max_attempts 1")
                msg = e.response.get("Error", {}).get("Message", "")
                check(msg == THROTTLING_MESSAGE, f"message {msg!r}, want {THROTTLING_MESSAGE!r}")
                self.figures["throttled_raw"] = {
                    "calls_until_throttled": n,
                    "http_status": md.get("HTTPStatusCode"),
                    "request_id": md.get("RequestId"),
                    "content_type": md.get("HTTPHeaders", {}).get("content-type"),
                }
                return f"HTTP 400 after {n} sequential calls, RetryAttempts 0"
        raise AssertionError(f"no ThrottlingException in {n} sequential calls")


def default_threads(quota_rps: float) -> int:
    """Load-phase threads when --throttle-threads is 0.

    All threads share ONE client (as an application would), so they share
    botocore's standard-mode retry quota: 500 units, 5 per throttled retry,
    refunded on success.  A ThrottlingException reaches the caller only when
    4 attempts in a row are throttled (rare: the jittered 1 s / 2 s / 4 s
    backoff lets tokens pile up) or when that retry quota runs dry.  With 8
    threads at 50 rps neither happens in 3 s (about 1 run in 300 sees one, by
    simulation and by runs against moto); from about 48 threads at 50 rps the
    retry quota runs dry within the window every time.
    """
    return max(64, math.ceil(0.75 * quota_rps))


def _s(v):
    return v.decode() if isinstance(v, bytes) else v


def main() -> int:
    ap = argparse.ArgumentParser(description="KMS interop scenario driven by boto3.")
    ap.add_argument("--endpoint", required=True, help="http://127.0.0.1:PORT")
    ap.add_argument("--access-key", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--target", choices=("s3crypt", "moto"), default="s3crypt")
    ap.add_argument("--expect-throttling", action="store_true")
    ap.add_argument("--quota-rps", type=float, default=50.0,
                    help="the server's request quota, calls/s (default 50)")
    ap.add_argument("--throttle-seconds", type=float, default=3.0)
    ap.add_argument("--throttle-threads", type=int, default=0,
                    help="client threads of the load phase; 0 (default) = max(64, 0.75 x quota): "
                         "see README, with 8 threads botocore's backoff almost never lets a "
                         "ThrottlingException through its 3 retries")
    ap.add_argument("--throttle-warmup", type=float, default=1.0,
                    help="seconds at the start of the window left out of the rate "
                         "(the quota's initial burst), default 1.0")
    ap.add_argument("--throttle-tolerance", type=float, default=0.30)
    ap.add_argument("--verbose", action="store_true", help="tracebacks of failed steps on stderr")
    args = ap.parse_args()
    if not 0 <= args.throttle_warmup < args.throttle_seconds:
        ap.error("--throttle-warmup must be >= 0 and < --throttle-seconds")

    sys.stdout.reconfigure(line_buffering=True)
    sc = Scenario(args)
    t0 = time.monotonic()
    sc.run()
    counts = Counter(s for s, _, _ in sc.results)
    summary = {
        "steps": len(sc.results),
        "failed": counts.get("FAIL", 0),
        "skipped": counts.get("skip", 0),
        "ok": counts.get("ok", 0),
        "failed_steps": [n for s, n, _ in sc.results if s == "FAIL"],
        "skipped_steps": [n for s, n, _ in sc.results if s == "skip"],
        "elapsed_s": round(time.monotonic() - t0, 2),
        "boto3": boto3.__version__,
        "botocore": botocore.__version__,
        "first_request": sc.first_request,
        **sc.figures,
    }
    print(json.dumps(summary, default=str), flush=True)
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
