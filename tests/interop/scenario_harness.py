"""Shared harness of the `s3crypt serve` interop scenarios (s3_clients.py, versioning_boto3.py,
access_points_boto3.py).

A scenario script imports this module before anything else from boto3 / botocore:

    import scenario_harness as h   # isolates the process from the machine's AWS configuration
    h.resolve_localhost_subdomains()  # only if the script uses `*.localhost` virtual hosts

    class Scenario(h.Scenario):
        tmp_prefix = "name."
        def run(self) -> None:
            self.step("step_name", self.some_step)

    if __name__ == "__main__":
        sys.exit(h.main(Scenario, "description"))

What lives here:

* the environment isolation (done on import): the AWS_* variables that would change boto3's
  behaviour are dropped, the config and credentials files point at /dev/null, instance metadata is
  off, and loopback (with `.localhost`) is added to NO_PROXY / no_proxy;
* `resolve_localhost_subdomains()`: patches `socket.getaddrinfo` so that every `*.localhost` name
  is 127.0.0.1 (RFC 6761; glibc without systemd-resolved does not resolve them);
* error helpers (`err_code`, `err_message`, `http_status`, `describe_exc`, `check`, `expect_error`,
  ...), `SECRETS_USED` and `ssec_args`;
* `Scenario`: the step runner and its output protocol, boto3 client construction, the `s3crypt`
  CLI on the server's home and IAM users;
* `parse_args` / `main`: the common command line and the final summary lines.

Output protocol (stdout, line-buffered), one line per step; the step name is always the second
whitespace-separated token and never contains spaces:
  ok <step>[ (detail)]
  FAIL <step>: <detail>
  skip <step> (<why>)
then one JSON line: {"steps": N, "failed": M, "skipped": K, "ok": ..., "failed_steps": [...], ...}
and one `secrets-used [...]` line (every secret handed to the server), which the Rust side checks
are absent from the server's log.
Exit status: 0 if no step failed, 1 if any did, 2 on bad usage.

Only boto3 / botocore / stdlib are used.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter

# -- isolation from the machine's AWS configuration (see kms_boto3.py) ------------------------

_AWS_VARS = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS",
             "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
             "AWS_DEFAULTS_MODE", "AWS_CA_BUNDLE", "AWS_REQUEST_CHECKSUM_CALCULATION",
             "AWS_RESPONSE_CHECKSUM_VALIDATION", "AWS_S3_ADDRESSING_STYLE", "AWS_ACCESS_KEY_ID",
             "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION", "S3CRYPT_ACCESS_KEY",
             "AWS_PAGER")


def isolate_environment() -> None:
    """Drop the AWS configuration of the machine; loopback (and `*.localhost`) bypasses proxies."""
    for var in _AWS_VARS:
        os.environ.pop(var, None)
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    for var in ("NO_PROXY", "no_proxy"):
        cur = os.environ.get(var, "")
        os.environ[var] = ",".join(x for x in (cur, "127.0.0.1", "localhost", "::1", ".localhost") if x)


isolate_environment()

_getaddrinfo = socket.getaddrinfo


def _loopback_getaddrinfo(host, *args, **kwargs):
    if isinstance(host, str) and host.lower().endswith(".localhost"):
        host = "127.0.0.1"
    return _getaddrinfo(host, *args, **kwargs)


def resolve_localhost_subdomains() -> None:
    """Virtual hosts under `localhost` (`BUCKET.localhost`, `000000000000.localhost`,
    `NAME-000000000000.localhost`): RFC 6761 makes every *.localhost name loopback; glibc without
    systemd-resolved does not resolve them, so map them here (in this process)."""
    socket.getaddrinfo = _loopback_getaddrinfo


import boto3  # noqa: E402
import botocore  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

NO_RETRIES = {"mode": "standard", "total_max_attempts": 1}
ALLOW_SSEC = {"Rules": [{
    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
    "BlockedEncryptionTypes": {"EncryptionType": ["NONE"]},
}]}


# -- errors and assertions ----------------------------------------------------------------------

class StepSkip(Exception):
    """Raised by a step to print `skip <step> (<reason>)`."""


def err_code(e: BaseException) -> str:
    if isinstance(e, ClientError):
        return str((e.response or {}).get("Error", {}).get("Code") or "")
    return type(e).__name__


def err_message(e: ClientError) -> str:
    return str((e.response or {}).get("Error", {}).get("Message") or "")


def http_status(e: ClientError):
    return (e.response or {}).get("ResponseMetadata", {}).get("HTTPStatusCode")


def err_headers(e: ClientError) -> dict:
    return (e.response or {}).get("ResponseMetadata", {}).get("HTTPHeaders", {}) or {}


def describe_exc(e: BaseException) -> str:
    if isinstance(e, ClientError):
        return f"ClientError {err_code(e)} (HTTP {http_status(e)}): {err_message(e)}"
    text = str(e).strip().replace("\n", " ")
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def check(cond: bool, msg: str) -> None:
    if not cond:
        raise AssertionError(msg)


def expect_error(fn, status: int | None, *codes: str, message: str | None = None, what: str = "") -> ClientError:
    """fn() must raise a ClientError with one of `codes` (any if none), HTTP `status` and `message`."""
    label = f"{what}: " if what else ""
    want = f"HTTP {status}" + (f" {'/'.join(codes)}" if codes else "")
    try:
        result = fn()
    except ClientError as e:
        if codes and err_code(e) not in codes:
            raise AssertionError(f"{label}expected {want}, got {describe_exc(e)}") from e
        if status is not None and http_status(e) != status:
            raise AssertionError(f"{label}expected {want}, got {describe_exc(e)}") from e
        if message is not None and err_message(e) != message:
            raise AssertionError(f"{label}expected message {message!r}, got {describe_exc(e)}") from e
        return e
    meta = result.get("ResponseMetadata", {}) if isinstance(result, dict) else {}
    raise AssertionError(f"{label}expected {want}, but the call succeeded (HTTP {meta.get('HTTPStatusCode')})")


def short(text: str, n: int = 300) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= n else text[:n] + "..."


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def status_of(r: dict) -> int:
    return r["ResponseMetadata"]["HTTPStatusCode"]


def headers_of(r: dict) -> dict:
    return r["ResponseMetadata"].get("HTTPHeaders", {})


# Every secret a scenario hands the server (SSE-C keys, IAM users' secret keys, the MFA seed): printed
# at the end on one `secrets-used` line, so the Rust side can check that none reached the server's log.
SECRETS_USED: list[str] = []


def ssec_args(key: bytes, prefix: str = "") -> dict:
    SECRETS_USED.append(b64(key))
    SECRETS_USED.append(key.hex())
    return {
        f"{prefix}SSECustomerAlgorithm": "AES256",
        f"{prefix}SSECustomerKey": b64(key),
        f"{prefix}SSECustomerKeyMD5": b64(hashlib.md5(key).digest()),
    }


# -- the scenario base ----------------------------------------------------------------------------

class Scenario:
    """Step runner, clients and CLI shared by the scenarios. A subclass sets `tmp_prefix` (and
    `fail_detail_chars`, how much of a failure's detail the FAIL line keeps) and defines `run()`."""

    tmp_prefix = "scenario."
    fail_detail_chars = 1200

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.region = args.region
        self.results: list[tuple[str, str, str]] = []
        self.figures: dict[str, object] = {"https": args.https, "http": args.http}
        self.session = boto3.session.Session()
        self.tmp = tempfile.mkdtemp(prefix=self.tmp_prefix)
        self.only = [x for x in (args.only or "").split(",") if x]

    def run(self) -> None:
        raise NotImplementedError

    # -- clients ----------------------------------------------------------------------------

    def make_client(self, service: str, *, endpoint: str, access_key: str | None = None,
                    secret: str | None = None, **config):
        """A boto3 client of `service` at `endpoint`, verifying the server's CA, with the root's key
        unless another is given; `config` goes to botocore's Config (retries, addressing, ...)."""
        cfg = Config(region_name=self.region, connect_timeout=5, read_timeout=60, **config)
        return self.session.client(
            service,
            endpoint_url=endpoint,
            region_name=self.region,
            aws_access_key_id=access_key if access_key is not None else self.args.access_key,
            aws_secret_access_key=secret if secret is not None else self.args.secret,
            verify=self.args.ca,
            config=cfg,
        )

    # -- the s3crypt CLI on the server's home ------------------------------------------------------

    def cli(self, *argv: str, json_out: bool = False) -> str:
        cmd = [self.args.s3crypt, "--home", self.args.home, *(["--json"] if json_out else []), *argv]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise AssertionError(f"`s3crypt {' '.join(argv)}` exit {p.returncode}: "
                                 f"{short((p.stderr or p.stdout).strip(), 500)}")
        return p.stdout

    def create_iam_user(self, user: str, policy: dict) -> dict:
        """`s3crypt iam create-user USER --policy FILE`: the CLI's JSON (AccessKeyId, SecretAccessKey,
        Arn, ...); the secret key is added to SECRETS_USED."""
        pfile = os.path.join(self.tmp, f"policy-{secrets.token_hex(3)}.json")
        with open(pfile, "w") as f:
            json.dump(policy, f)
        out = self.cli("iam", "create-user", user, "--policy", pfile, json_out=True)
        info = json.loads(out.strip().splitlines()[-1])
        SECRETS_USED.append(info["SecretAccessKey"])
        return info

    @staticmethod
    def wait_until_known(s3) -> None:
        """Waits (up to 5 s) until the server knows the key of the S3 client `s3`: it picks new users
        up while running (AccessDenied means it knows the key)."""
        deadline = time.monotonic() + 5
        while True:
            try:
                s3.list_buckets()
                break
            except ClientError as e:
                if err_code(e) != "InvalidAccessKeyId" or time.monotonic() > deadline:
                    break
                time.sleep(0.25)

    # -- steps --------------------------------------------------------------------------------

    def emit(self, status: str, step: str, detail: str = "") -> None:
        self.results.append((status, step, detail))
        if status == "ok":
            print(f"ok {step}" + (f" ({detail})" if detail else ""), flush=True)
        elif status == "skip":
            print(f"skip {step} ({detail})", flush=True)
        else:
            print(f"FAIL {step}: {detail}", flush=True)

    def step(self, name: str, fn) -> None:
        if self.only and not any(o in name for o in self.only):
            return
        t0 = time.monotonic()
        try:
            detail = fn()
        except StepSkip as s:
            self.emit("skip", name, str(s))
        except Exception as e:  # noqa: BLE001 - a step must never kill the run
            detail = str(e) if isinstance(e, AssertionError) else describe_exc(e)
            if self.args.verbose:
                traceback.print_exc(file=sys.stderr)
            self.emit("FAIL", name, short(detail, self.fail_detail_chars))
        else:
            self.emit("ok", name, detail or "")
        self.figures.setdefault("step_seconds", {})[name] = round(time.monotonic() - t0, 2)


# -- command line and summary ---------------------------------------------------------------------

def parse_args(description: str, *, https_help: str = "https://127.0.0.1:PORT",
               home_help: str = "the server's --home (for the s3crypt CLI)") -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--https", required=True, help=https_help)
    ap.add_argument("--http", required=True, help="http://127.0.0.1:PORT (the plain listener)")
    ap.add_argument("--ca", required=True, help="the CA certificate (PEM) the HTTPS listener chains to")
    ap.add_argument("--access-key", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--home", required=True, help=home_help)
    ap.add_argument("--s3crypt", required=True, help="path to the s3crypt binary")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--only", help="run only steps whose name contains one of these comma-separated strings")
    ap.add_argument("--verbose", action="store_true", help="tracebacks of failed steps on stderr")
    ap.add_argument("--vpc-endpoint", action="append", default=[], metavar="vpce-ID=https://ADDR:PORT",
                    help="a VPC endpoint listener of the server (repeatable)")
    args = ap.parse_args()
    args.vpc_endpoints = dict(v.split("=", 1) for v in args.vpc_endpoint)
    return args


def main(scenario_cls: type[Scenario], description: str, **help_texts: str) -> int:
    """Parses the command line, runs the scenario, prints the JSON summary and the `secrets-used`
    line; the exit status (0, or 1 if a step failed)."""
    args = parse_args(description, **help_texts)

    sys.stdout.reconfigure(line_buffering=True)
    sc = scenario_cls(args)
    t0 = time.monotonic()
    try:
        sc.run()
    finally:
        shutil.rmtree(sc.tmp, ignore_errors=True)
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
        **sc.figures,
    }
    print(json.dumps(summary, default=str), flush=True)
    print("secrets-used " + json.dumps(sorted(set(SECRETS_USED))), flush=True)
    return 1 if summary["failed"] else 0
