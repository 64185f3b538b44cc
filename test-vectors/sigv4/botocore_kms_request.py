#!/usr/bin/env python3
"""Records what botocore's SigV4 signer sends for KMS GenerateDataKey, for tests/sigv4.rs.

Runs the real botocore client pipeline offline: the request is caught at the `before-send` event (after
signing, just before the HTTP layer) and answered with a canned `{}`; nothing goes on the network. The
clock is frozen with `mock.patch("botocore.auth.get_current_datetime")` and the SDK invocation id with
`mock.patch("botocore.endpoint.uuid.uuid4")`.

    python3 -m venv /tmp/sigvenv && /tmp/sigvenv/bin/pip install botocore==1.44.5
    /tmp/sigvenv/bin/python test-vectors/sigv4/botocore_kms_request.py > test-vectors/sigv4/botocore_kms_request.json
    /tmp/sigvenv/bin/python test-vectors/sigv4/botocore_kms_request.py --check test-vectors/sigv4/botocore_kms_request.json

`--check FILE` recomputes and compares every signed field (the User-Agent header differs between
machines and is not signed, so it is left out of the comparison); it exits 1 on a difference.
"""

import datetime
import json
import logging
import platform
import sys
import uuid
from unittest import mock

import botocore
import botocore.auth
import botocore.session
from botocore.awsrequest import AWSResponse

ENDPOINT = "http://127.0.0.1:4566"
REGION = "us-east-1"
ACCESS_KEY_ID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
FROZEN = datetime.datetime(2015, 8, 30, 12, 36, 0)
INVOCATION_ID = uuid.UUID("00000000-0000-4000-8000-000000000000")

CASES = [
    {
        "name": "generate-data-key",
        "session_token": None,
        "params": {
            "KeyId": "alias/s3crypt-test",
            "KeySpec": "AES_256",
            "EncryptionContext": {"bucket": "b", "key": "k"},
        },
    },
    {
        "name": "generate-data-key-session-token",
        "session_token": "FQoGZXIvYXdzEXAMPLE//////////wEaDEXAMPLETOKEN+/=",
        "params": {"KeyId": "alias/s3crypt-test", "NumberOfBytes": 64},
    },
]


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.values = {}

    def emit(self, record):
        if record.msg in ("CanonicalRequest:\n%s", "StringToSign:\n%s"):
            self.values[record.msg.split(":")[0]] = record.args[0]


def _text(v):
    return v.decode() if isinstance(v, bytes) else v


def record(case):
    out = {}

    def before_sign(request, **kwargs):
        out["headers_at_signing"] = [[k, _text(v)] for k, v in request.headers.items()]

    def before_send(request, **kwargs):
        out["method"] = request.method
        out["url"] = request.url
        out["headers_sent"] = [[k, _text(v)] for k, v in request.headers.items()]
        out["body"] = _text(request.body)

        class Raw:
            def stream(self, *args, **kw):
                yield b"{}"

        return AWSResponse(request.url, 200, {}, Raw())

    session = botocore.session.get_session()
    client = session.create_client(
        "kms",
        region_name=REGION,
        endpoint_url=ENDPOINT,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET,
        aws_session_token=case["session_token"],
    )
    client.meta.events.register("before-sign", before_sign)
    client.meta.events.register("before-send", before_send)
    capture = _Capture()
    auth_logger = logging.getLogger("botocore.auth")
    auth_logger.addHandler(capture)
    auth_logger.setLevel(logging.DEBUG)
    try:
        with mock.patch("botocore.auth.get_current_datetime", return_value=FROZEN), mock.patch(
            "botocore.endpoint.uuid.uuid4", return_value=INVOCATION_ID
        ):
            client.generate_data_key(**case["params"])
    finally:
        auth_logger.removeHandler(capture)

    sent = dict((k.lower(), v) for k, v in out["headers_sent"])
    host = botocore.auth._host_from_url(out["url"])
    return {
        "name": case["name"],
        "operation": "GenerateDataKey",
        "endpoint_url": ENDPOINT,
        "region": REGION,
        "service": "kms",
        "timestamp": FROZEN.strftime("%Y%m%dT%H%M%SZ"),
        "access_key_id": ACCESS_KEY_ID,
        "secret_access_key": SECRET,
        "session_token": case["session_token"],
        "method": out["method"],
        "uri": "/" + out["url"].split("/", 3)[3],
        "host": host,
        "headers_at_signing": out["headers_at_signing"],
        # urllib3 adds Host (the value botocore signed) when it writes the request line.
        "headers_as_sent": out["headers_sent"] + [["Host", host]],
        "body": out["body"],
        "canonical_request": capture.values["CanonicalRequest"],
        "string_to_sign": capture.values["StringToSign"],
        "authorization": sent["authorization"],
    }


def main():
    doc = {
        "generator": "test-vectors/sigv4/botocore_kms_request.py",
        "botocore_version": botocore.__version__,
        "python_version": platform.python_version(),
        "notes": [
            "headers_at_signing: the request headers when botocore's SigV4Auth.add_auth ran (it then adds "
            "X-Amz-Date, X-Amz-Security-Token for temporary credentials, and Authorization; Host is taken "
            "from the URL). headers_as_sent: the headers at the before-send event plus Host as urllib3 "
            "writes it; amz-sdk-invocation-id, amz-sdk-request and Content-Length are added after signing "
            "and are not signed; User-Agent is never signed.",
            "botocore sends no x-amz-content-sha256 to KMS: the payload hash is SHA-256 of the body.",
        ],
        "cases": [record(c) for c in CASES],
    }
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        with open(sys.argv[2], encoding="utf-8") as f:
            committed = json.load(f)
        ok = True
        for new, old in zip(doc["cases"], committed["cases"], strict=True):
            for key in new:
                a, b = new[key], old.get(key)
                if key.startswith("headers_"):
                    a = [h for h in a if h[0].lower() != "user-agent"]
                    b = [h for h in b if h[0].lower() != "user-agent"]
                if a != b:
                    print(f"{new['name']}: {key} differs:\n  now:       {a!r}\n  committed: {b!r}")
                    ok = False
        print("botocore_kms_request.json is up to date" if ok else "botocore_kms_request.json differs")
        sys.exit(0 if ok else 1)
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
