#!/usr/bin/env python3
"""Run moto's KMS server on a free loopback port, for s3crypt's interop tests.

moto (https://github.com/getmoto/moto) is an independent Python implementation
of the AWS APIs; its KMS speaks the same JSON 1.1 protocol as `s3crypt kms
serve`, so the interop scenarios (kms_boto3.py, and the Rust SigV4 client) are
first proven against it.

The same port also serves moto's S3 (and every other moto service): moto picks
the service from the SigV4 credential scope (`.../us-east-1/s3/aws4_request`),
so an S3 client with `endpoint_url=<this URL>` and path-style addressing works
unchanged.  s3ec_interop.py uses it as the S3 for the official S3 Encryption
Client.  The --throttle-rps quota only ever counts KMS calls.

Protocol with the parent process (a Rust test, or a person):

  * stdout gets exactly ONE line, then nothing else:
        listening on http://127.0.0.1:PORT   (https:// with --cert/--key)
    (flushed immediately; everything else this process says goes to stderr).
  * The server runs until stdin reaches EOF (the parent closes its end of the
    pipe, or dies), or until SIGTERM / SIGINT; then it shuts down cleanly and
    exits 0.  With --no-stdin, stdin is ignored and only signals stop it
    (use that when stdin is /dev/null, e.g. under CI or `nohup`).

Options:
  --host H              address to bind (default 127.0.0.1; loopback only, on purpose)
  --port N              port to bind (default 0 = a free port chosen by the OS)
  --throttle-rps R      emulate KMS request quotas: a token bucket of R requests/s
                        (burst --throttle-burst, default R) in front of moto; requests
                        over it get HTTP 400 {"__type": "ThrottlingException", ...}
                        exactly as `s3crypt kms serve` answers them.  moto has no
                        quotas of its own, so this is how kms_boto3.py's
                        --expect-throttling path is proven against moto.
  --throttle-burst B    bucket size for --throttle-rps (default: R, i.e. one second)
  --log-requests        let werkzeug log every request to stderr (off by default:
                        a parent that pipes stderr but never reads it would
                        otherwise block the server once the pipe buffer fills)
  --no-stdin            do not watch stdin; stop only on SIGTERM / SIGINT
  --s3-versioning-root  answer GetBucketVersioning with AWS's <VersioningConfiguration> root
                        instead of moto's <GetBucketVersioningResponse> (aws-sdk-s3 rejects
                        moto's; tests/serve_gateway.rs)
  --cert PEM --key PEM  serve HTTPS with this certificate chain and private key
                        (werkzeug's ssl_context); the line on stdout then says
                        https://.  benches/serve.rs uses an `s3crypt serve` home's
                        tls/server.pem and tls/server.key (they cover 127.0.0.1),
                        so moto and s3crypt are measured over the same transport.

moto's defaults apply: any access key / secret is accepted (moto does not
verify SigV4), the account is 123456789012, the region comes from the
request's SigV4 credential scope.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
import uuid

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

THROTTLING_MESSAGE = (
    "You have exceeded the rate at which you may call KMS. "
    "Reduce the frequency of your calls."
)


class TokenBucket:
    """Thread-safe token bucket: `rate` tokens/s, at most `burst` stored."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = float(rate)
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = time.monotonic()
        self.lock = threading.Lock()
        self.accepted = 0
        self.throttled = 0

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                self.accepted += 1
                return True
            self.throttled += 1
            return False


class ThrottlingMiddleware:
    """WSGI middleware answering KMS-style ThrottlingException over the quota.

    Only KMS JSON calls (X-Amz-Target: TrentService.*) count against the quota,
    so moto's own /moto-api/ endpoints stay usable.
    """

    def __init__(self, app, bucket: TokenBucket) -> None:
        self.app = app
        self.bucket = bucket

    def __call__(self, environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("TrentService.") and not self.bucket.take():
            # Consume the request body so a keep-alive connection stays in sync.
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > 0:
                environ["wsgi.input"].read(length)
            body = json.dumps(
                {"__type": "ThrottlingException", "message": THROTTLING_MESSAGE}
            ).encode()
            start_response(
                "400 Bad Request",
                [
                    ("Content-Type", "application/x-amz-json-1.1"),
                    ("Content-Length", str(len(body))),
                    ("x-amzn-RequestId", str(uuid.uuid4())),
                ],
            )
            return [body]
        return self.app(environ, start_response)


class VersioningXmlMiddleware:
    """WSGI middleware renaming the root of moto's GetBucketVersioning answer.

    moto 5.2.5 answers `GET /BUCKET?versioning` with a `<GetBucketVersioningResponse>` root; AWS S3
    (and its API model) uses `<VersioningConfiguration>`. boto3 ignores the root, aws-sdk-s3 (Rust)
    rejects the answer. With --s3-versioning-root, the root is AWS's (tests/serve_gateway.rs, whose
    gateway reads the upstream's versioning with aws-sdk-s3).
    """

    OLD = b"GetBucketVersioningResponse"
    NEW = b"VersioningConfiguration"

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        query = environ.get("QUERY_STRING", "")
        if environ.get("REQUEST_METHOD") != "GET" or "versioning" not in query.split("&"):
            return self.app(environ, start_response)
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None

        chunks = self.app(environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        body = body.replace(self.OLD, self.NEW)
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        start_response(captured["status"], headers)
        return [body]


class KmsMotoServer(ThreadedMotoServer):
    """ThreadedMotoServer with an optional quota in front of the moto app.

    Overrides ThreadedMotoServer._server_entry (moto 5.2.x; moto is pinned in
    scripts/python/requirements.txt) only to wrap the WSGI app; everything else
    (port 0 support, start/stop, get_host_and_port) is moto's own.
    """

    def __init__(
        self,
        ip_address: str,
        port: int,
        bucket: TokenBucket | None,
        ssl_context: tuple[str, str] | None = None,
        versioning_root: bool = False,
    ) -> None:
        super().__init__(ip_address=ip_address, port=port, verbose=False)
        self._bucket = bucket
        self._ssl_context = ssl_context
        self._versioning_root = versioning_root

    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        if self._bucket is not None:
            app = ThrottlingMiddleware(app, self._bucket)
        if self._versioning_root:
            app = VersioningXmlMiddleware(app)
        self._server = make_server(
            self._ip_address,
            self._port,
            app,
            True,  # threaded
            request_handler=MotoRequestHandler,
            ssl_context=self._ssl_context,
        )
        self._server_ready_event.set()
        self._server.serve_forever()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--throttle-rps", type=float, default=None)
    ap.add_argument("--throttle-burst", type=float, default=None)
    ap.add_argument("--log-requests", action="store_true")
    ap.add_argument("--no-stdin", action="store_true")
    ap.add_argument("--cert", default=None)
    ap.add_argument("--key", default=None)
    ap.add_argument("--s3-versioning-root", action="store_true")
    args = ap.parse_args()
    if (args.cert is None) != (args.key is None):
        ap.error("--cert and --key go together")
    ssl_context = (args.cert, args.key) if args.cert is not None else None

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(
        logging.INFO if args.log_requests else logging.ERROR
    )

    bucket = None
    if args.throttle_rps is not None:
        if args.throttle_rps <= 0:
            ap.error("--throttle-rps must be > 0")
        burst = args.throttle_burst if args.throttle_burst is not None else args.throttle_rps
        bucket = TokenBucket(args.throttle_rps, max(1.0, burst))

    stop = threading.Event()

    def on_signal(signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    server = KmsMotoServer(args.host, args.port, bucket, ssl_context, args.s3_versioning_root)
    server.start()
    host, port = server.get_host_and_port()
    url_host = f"[{host}]" if ":" in host else host
    scheme = "https" if ssl_context is not None else "http"
    sys.stdout.write(f"listening on {scheme}://{url_host}:{port}\n")
    sys.stdout.flush()

    if not args.no_stdin:

        def watch_stdin() -> None:
            # Raw os.read on fd 0, not sys.stdin: a daemon thread still blocked
            # in a *buffered* read holds its lock and aborts interpreter
            # shutdown ("could not acquire lock for <stdin>") after SIGTERM.
            try:
                while os.read(0, 65536):
                    pass  # anything written to stdin is ignored; only EOF matters
            except OSError:
                pass
            stop.set()

        threading.Thread(target=watch_stdin, name="stdin-eof", daemon=True).start()

    # Wake up periodically so signal handlers run promptly on every platform.
    while not stop.wait(0.2):
        pass

    server.stop()
    if bucket is not None:
        print(
            f"moto_server: quota {bucket.rate:g} rps burst {bucket.burst:g}: "
            f"accepted {bucket.accepted}, throttled {bucket.throttled}",
            file=sys.stderr,
        )
    print("moto_server: stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
