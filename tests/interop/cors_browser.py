#!/usr/bin/env python3
"""Real-browser CORS checks: headless Chromium runs fetch() from page origins.

The browser half of the S3 bucket CORS test. A caller (the Rust test) starts
the server under test, and this script makes real cross-origin fetch() calls
to it from pages served on other origins, then reports what each page could
see. Chromium itself applies CORS (preflights, response filtering), so the
results show what a real web app would get.

Modes (see tests/interop/README.md for the full description):

  cors_browser.py [FILE]             one document {"pages": ..., "cases": [...]}
                                     from FILE or stdin; prints one result line.
  cors_browser.py --serve-pages site,other
                                     two-phase: starts the page servers, prints
                                     {"pages": {...}} on one line, then reads
                                     {"cases": [...]} from stdin and prints the
                                     result line.
  cors_browser.py --selftest         runs the harness against a mock S3 with
                                     CORS; prints "selftest ok" or what failed.

Exit status: 0 when every case ran (a blocked fetch is a result, not a
failure), 1 when the selftest fails, 2 on bad input or usage, 3 when the
harness itself fails (browser, driver, page servers).

Needs Debian's chromium and chromium-driver (scripts/chromium.sh) and
selenium (scripts/python/requirements.txt). Selenium never downloads
anything: the driver and browser paths are fixed and Selenium Manager is
disabled outright.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
DEFAULT_TIMEOUT_S = 15.0
# The empty page every page server returns. The data: favicon stops Chromium
# from requesting /favicon.ico, which would only add noise to the console log.
PAGE_HTML = (
    b"<!doctype html><html><head><meta charset=\"utf-8\">"
    b"<link rel=\"icon\" href=\"data:,\"><title>cors page</title></head>"
    b"<body></body></html>"
)

# Selenium Manager (a bundled binary) would try to download drivers and
# browsers. We always pass explicit paths, which skips it; SE_OFFLINE is a
# second guard, and _forbid_selenium_manager() a third.
os.environ.setdefault("SE_OFFLINE", "true")
os.environ.setdefault("SE_AVOID_STATS", "true")


class HarnessError(Exception):
    """The harness itself failed (exit 3)."""


class UsageError(Exception):
    """Bad command line or input document (exit 2)."""


def log(msg: str) -> None:
    print(f"cors_browser: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Page servers


class _PageHandler(BaseHTTPRequestHandler):
    server_version = "cors-page/1"

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE_HTML)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(PAGE_HTML)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def _start_server(handler: type[BaseHTTPRequestHandler], port: int) -> ThreadingHTTPServer:
    srv = ThreadingHTTPServer(("127.0.0.1", port), handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return srv


class PageServers:
    """One tiny HTTP server per page name, each on its own 127.0.0.1 port."""

    def __init__(self) -> None:
        self.servers: dict[str, ThreadingHTTPServer] = {}

    def start(self, pages: dict[str, int]) -> dict[str, str]:
        for name, port in pages.items():
            try:
                self.servers[name] = _start_server(_PageHandler, port)
            except OSError as e:
                raise HarnessError(f"page server {name!r} on 127.0.0.1:{port}: {e}") from e
        return self.origins()

    def origins(self) -> dict[str, str]:
        return {n: f"http://127.0.0.1:{s.server_address[1]}" for n, s in self.servers.items()}

    def close(self) -> None:
        for srv in self.servers.values():
            srv.shutdown()
            srv.server_close()
        self.servers.clear()


# --------------------------------------------------------------------------
# Browser

# Runs in the page. arguments: url, method, headers, body, timeout_ms, done.
# cache: "no-store" keeps Chromium's HTTP cache out of the picture (every GET
# reaches the server). In Chromium 148 it also bypasses the CORS preflight
# cache (a preflight is sent every time, even after Access-Control-Max-Age:
# 600); Runner.run clears that cache between cases as well, in case a later
# Chromium stops doing so.
FETCH_JS = r"""
const [url, method, headers, body, timeoutMs, done] = arguments;
const init = {method, headers, mode: "cors", credentials: "omit", cache: "no-store",
              signal: AbortSignal.timeout(timeoutMs)};
if (body !== null && body !== undefined) init.body = body;
fetch(url, init).then(async (r) => {
  const h = {};
  r.headers.forEach((v, k) => { h[k] = v; });
  let text = null;
  try { text = await r.text(); } catch (e) { text = null; }
  done({ok: true, status: r.status, body: text, headers: h, error: null, error_name: null});
}).catch((e) => {
  done({ok: false, status: null, body: null, headers: {},
        error: String((e && e.message) || e), error_name: (e && e.name) || null});
});
"""


def _forbid_selenium_manager() -> None:
    from selenium.webdriver.common.selenium_manager import SeleniumManager

    def refuse(self: Any, args: list[str]) -> dict[str, str]:
        raise HarnessError(f"Selenium Manager must not run (asked for {args})")

    SeleniumManager.binary_paths = refuse  # type: ignore[method-assign]


class Browser:
    """One headless Chromium (via Debian's chromedriver) reused for all cases."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.driver: Any = None
        self.pgid: int | None = None  # chromedriver's process group (chromium joins it)

    def start(self) -> None:
        for path in (CHROMIUM, CHROMEDRIVER):
            if not os.access(path, os.X_OK):
                raise HarnessError(f"{path} missing: run scripts/chromium.sh")
        try:
            from selenium import webdriver
            from selenium.webdriver.chrome.service import Service
        except ImportError as e:
            raise HarnessError(f"selenium not importable ({e}): use .venv/bin/python") from e
        _forbid_selenium_manager()
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for flag in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--metrics-recording-only",
            "--password-store=basic",
        ):
            opts.add_argument(flag)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        # A session of its own for chromedriver, so quit() can find and reap
        # every chromium process it started (they outlive driver.quit()).
        service = Service(executable_path=CHROMEDRIVER, log_output=os.devnull,
                          popen_kw={"start_new_session": True})
        try:
            self.driver = webdriver.Chrome(service=service, options=opts)
        except Exception as e:  # selenium raises many types here
            proc = getattr(service, "process", None)
            self.pgid = proc.pid if proc is not None else None
            self.quit()
            raise HarnessError(f"cannot start chromium: {type(e).__name__}: {e}") from e
        self.pgid = service.process.pid
        self.driver.set_page_load_timeout(self.timeout_s)
        # The in-page AbortSignal fires 1 s before selenium gives up.
        self.driver.set_script_timeout(self.timeout_s + 1.0)

    def version(self) -> str:
        caps = self.driver.capabilities if self.driver else {}
        return str(caps.get("browserVersion", "?"))

    def clear_preflight_cache(self) -> None:
        """Chromium caches preflight results (5 s by default, up to 2 h with
        Access-Control-Max-Age) across navigations when fetch uses the
        default cache mode; Network.clearBrowserCache drops that cache."""
        self.driver.execute_cdp_cmd("Network.clearBrowserCache", {})

    def console(self) -> list[str]:
        try:
            entries = self.driver.get_log("browser")
        except Exception:  # best effort: not every driver supports it
            return []
        return [f"{e.get('level', '?')}: {e.get('message', '')}" for e in entries]

    def quit(self) -> None:
        try:
            if self.driver is not None:
                self.driver.quit()
        except Exception as e:  # still reap the processes below
            log(f"driver.quit failed: {type(e).__name__}: {e}")
        finally:
            self.driver = None
            if self.pgid is not None:
                _reap_group(self.pgid, grace_s=3.0)
                self.pgid = None


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group pgid, from /proc."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            out.append(int(d))
    return out


def _reap_group(pgid: int, grace_s: float) -> None:
    """Chromium shuts down asynchronously after driver.quit(): give it
    grace_s to exit by itself, then SIGKILL whatever is left."""
    deadline = time.monotonic() + grace_s
    while _group_members(pgid):
        if time.monotonic() >= deadline:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return
        time.sleep(0.05)


# --------------------------------------------------------------------------
# Cases


@dataclass
class Case:
    name: str
    page: str
    method: str
    url: str
    headers: dict[str, str]
    body: str | None

    @staticmethod
    def parse(raw: Any, pages: dict[str, str]) -> Case:
        if not isinstance(raw, dict):
            raise UsageError(f"case is not an object: {raw!r}")
        name = raw.get("name")
        page = raw.get("page")
        url = raw.get("url")
        method = raw.get("method", "GET")
        headers = raw.get("headers") or {}
        body = raw.get("body")
        if not isinstance(name, str) or not isinstance(url, str) or not isinstance(method, str):
            raise UsageError(f"case needs string name, url (and method): {raw!r}")
        if page not in pages:
            raise UsageError(f"case {name!r}: page {page!r} is not one of {sorted(pages)}")
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise UsageError(f"case {name!r}: headers must map strings to strings")
        if body is not None and not isinstance(body, str):
            raise UsageError(f"case {name!r}: body must be a string or null")
        return Case(name, page, method, url, headers, body)


class Runner:
    def __init__(self, browser: Browser, pages: dict[str, str],
                 clear_preflight_cache: bool = True) -> None:
        self.browser = browser
        self.pages = pages
        self.clear_preflight_cache = clear_preflight_cache

    def run(self, case: Case) -> dict[str, Any]:
        drv = self.browser.driver
        if self.clear_preflight_cache:
            self.browser.clear_preflight_cache()
        drv.get(self.pages[case.page] + "/")
        self.browser.console()  # drop whatever the navigation logged
        timeout_ms = int(self.browser.timeout_s * 1000)
        try:
            res = drv.execute_async_script(
                FETCH_JS, case.url, case.method, case.headers, case.body, timeout_ms
            )
        except Exception as e:  # script timeout or a dead page: report, go on
            res = {"ok": False, "status": None, "body": None, "headers": {},
                   "error": f"harness: {type(e).__name__}: {e}".strip(), "error_name": None}
        console = self.browser.console()
        if not res.get("ok") and not console:
            # The CORS message may reach the log a moment after the rejection.
            deadline = time.monotonic() + 0.5
            while not console and time.monotonic() < deadline:
                time.sleep(0.05)
                console = self.browser.console()
        return {"name": case.name, "ok": bool(res.get("ok")), "status": res.get("status"),
                "body": res.get("body"), "headers": res.get("headers") or {},
                "error": res.get("error"), "error_name": res.get("error_name"),
                "console": console}

    def run_all(self, raw_cases: Any) -> list[dict[str, Any]]:
        if not isinstance(raw_cases, list):
            raise UsageError("\"cases\" must be a list")
        cases = [Case.parse(c, self.pages) for c in raw_cases]
        return [self.run(c) for c in cases]


def parse_pages(raw: Any) -> dict[str, int]:
    if not isinstance(raw, dict) or not raw:
        raise UsageError("\"pages\" must be a non-empty object name -> port (0 = free)")
    out: dict[str, int] = {}
    for name, port in raw.items():
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port < 65536:
            raise UsageError(f"page {name!r}: port must be an integer 0..65535")
        out[name] = port
    return out


def parse_pages_arg(spec: str) -> dict[str, int]:
    """'site,other' or 'site=8001,other=0'."""
    out: dict[str, int] = {}
    for item in spec.split(","):
        name, _, port = item.strip().partition("=")
        if not name:
            raise UsageError(f"bad --serve-pages item {item!r}")
        try:
            out[name] = int(port) if port else 0
        except ValueError as e:
            raise UsageError(f"bad port in --serve-pages item {item!r}") from e
    return parse_pages(out)


def read_json_doc(stream: Any) -> Any:
    """Reads lines until they form one complete JSON document (so a caller may
    send it on one line and keep stdin open, or pretty-printed and close)."""
    buf = ""
    dec = json.JSONDecoder()
    while True:
        line = stream.readline()
        buf += line
        if buf.strip():
            try:
                doc, _ = dec.raw_decode(buf.strip())
                return doc
            except json.JSONDecodeError as e:
                if not line:
                    raise UsageError(f"input is not JSON: {e}") from e
        elif not line:
            raise UsageError("no JSON document on input (EOF)")


def emit(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def run_document(doc: Any, timeout_s: float) -> None:
    if not isinstance(doc, dict):
        raise UsageError("input must be a JSON object")
    pages_req = parse_pages(doc.get("pages"))
    servers = PageServers()
    browser = Browser(timeout_s)
    try:
        pages = servers.start(pages_req)
        browser.start()
        results = Runner(browser, pages).run_all(doc.get("cases", []))
        emit({"pages": pages, "results": results})
    finally:
        browser.quit()
        servers.close()


def run_serve_pages(spec: str, timeout_s: float) -> None:
    pages_req = parse_pages_arg(spec)
    servers = PageServers()
    browser = Browser(timeout_s)
    try:
        pages = servers.start(pages_req)
        emit({"pages": pages})
        browser.start()  # overlaps with the caller writing its CORS rules
        doc = read_json_doc(sys.stdin)
        if not isinstance(doc, dict):
            raise UsageError("cases input must be a JSON object {\"cases\": [...]}")
        results = Runner(browser, pages).run_all(doc.get("cases", []))
        emit({"pages": pages, "results": results})
    finally:
        browser.quit()
        servers.close()


# --------------------------------------------------------------------------
# Selftest: a mock "S3" with CORS for one origin


@dataclass
class MockRequest:
    method: str
    path: str
    origin: str | None
    acr_method: str | None
    acr_headers: str | None
    status: int


class MockS3:
    """Answers /b/<key>: GET, PUT (stores the body), OPTIONS preflights.
    CORS: one allowed origin; methods GET, PUT, HEAD; request header
    x-amz-meta-color (plus content-type); exposes ETag."""

    ALLOWED_METHODS = ("GET", "PUT", "HEAD")
    ALLOWED_HEADERS = ("x-amz-meta-color", "content-type")

    def __init__(self, allowed_origin: str) -> None:
        self.allowed_origin = allowed_origin
        self.max_age: int | None = None  # Access-Control-Max-Age on preflights
        self.log: list[MockRequest] = []
        self.objects: dict[str, bytes] = {"/b/k": b"hello from mock"}
        self.lock = threading.Lock()
        self.srv: ThreadingHTTPServer | None = None

    def start(self) -> str:
        mock = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "mock-s3/1"
            protocol_version = "HTTP/1.1"

            def _record(self, status: int) -> None:
                with mock.lock:
                    mock.log.append(MockRequest(
                        self.command, self.path, self.headers.get("Origin"),
                        self.headers.get("Access-Control-Request-Method"),
                        self.headers.get("Access-Control-Request-Headers"), status))

            def _reply(self, status: int, body: bytes = b"",
                       extra: dict[str, str] | None = None) -> None:
                self._record(status)
                self.send_response(status)
                origin = self.headers.get("Origin")
                if origin == mock.allowed_origin:
                    self.send_header("Access-Control-Allow-Origin", origin)
                    self.send_header("Access-Control-Expose-Headers", "ETag")
                self.send_header("Vary", "Origin")
                self.send_header("x-amz-request-id", "MOCKREQUESTID")
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_OPTIONS(self) -> None:  # noqa: N802
                origin = self.headers.get("Origin")
                method = self.headers.get("Access-Control-Request-Method", "")
                req = self.headers.get("Access-Control-Request-Headers", "")
                wanted = [h.strip().lower() for h in req.split(",") if h.strip()]
                if (origin == mock.allowed_origin and method in mock.ALLOWED_METHODS
                        and all(h in mock.ALLOWED_HEADERS for h in wanted)):
                    self._record(200)
                    self.send_response(200)
                    self.send_header("Access-Control-Allow-Origin", origin)
                    self.send_header("Access-Control-Allow-Methods", ", ".join(mock.ALLOWED_METHODS))
                    if wanted:
                        self.send_header("Access-Control-Allow-Headers", ", ".join(wanted))
                    if mock.max_age is not None:
                        self.send_header("Access-Control-Max-Age", str(mock.max_age))
                    self.send_header("Vary", "Origin, Access-Control-Request-Headers, "
                                     "Access-Control-Request-Method")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    body = b"<Error><Code>AccessForbidden</Code></Error>"
                    self._record(403)
                    self.send_response(403)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                with mock.lock:
                    data = mock.objects.get(self.path)
                if data is None:
                    self._reply(404, b"<Error><Code>NoSuchKey</Code></Error>")
                else:
                    self._reply(200, data, {"ETag": '"etag-' + str(len(data)) + '"',
                                            "Content-Type": "text/plain"})

            def do_PUT(self) -> None:  # noqa: N802
                n = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(n)
                with mock.lock:
                    mock.objects[self.path] = data
                self._reply(200, b"", {"ETag": '"etag-' + str(len(data)) + '"'})

            def do_DELETE(self) -> None:  # noqa: N802
                with mock.lock:
                    mock.objects.pop(self.path, None)
                self._reply(204)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.srv = _start_server(Handler, 0)
        return f"http://localhost:{self.srv.server_address[1]}"

    def requests_for(self, path: str) -> list[MockRequest]:
        with self.lock:
            return [r for r in self.log if r.path == path]

    def close(self) -> None:
        if self.srv is not None:
            self.srv.shutdown()
            self.srv.server_close()
            self.srv = None


def selftest(timeout_s: float, verbose: bool) -> int:
    t0 = time.monotonic()
    servers = PageServers()
    browser = Browser(timeout_s)
    mock: MockS3 | None = None
    version = "?"
    failures: list[str] = []

    def check(cond: bool, what: str) -> None:
        if not cond:
            failures.append(what)

    try:
        pages = servers.start({"site": 0, "other": 0})
        mock = MockS3(pages["site"])
        base = mock.start()
        browser.start()
        version = browser.version()
        runner = Runner(browser, pages, clear_preflight_cache=True)
        cases = [
            {"name": "get allowed", "page": "site", "method": "GET", "url": f"{base}/b/k"},
            {"name": "get other origin", "page": "other", "method": "GET", "url": f"{base}/b/k"},
            {"name": "put custom header", "page": "site", "method": "PUT",
             "url": f"{base}/b/put-ok", "headers": {"x-amz-meta-color": "blue"},
             "body": "painted"},
            {"name": "put again", "page": "site", "method": "PUT",
             "url": f"{base}/b/put-ok", "headers": {"x-amz-meta-color": "red"},
             "body": "painted twice"},
            {"name": "put disallowed header", "page": "site", "method": "PUT",
             "url": f"{base}/b/put-bad", "headers": {"x-amz-meta-size": "big"}, "body": "nope"},
            {"name": "delete not allowed", "page": "site", "method": "DELETE",
             "url": f"{base}/b/k"},
        ]
        results = {r["name"]: r for r in runner.run_all(cases)}
        if verbose:
            log(json.dumps({"pages": pages, "mock": base, "results": list(results.values())},
                           indent=1))

        r = results["get allowed"]
        check(r["ok"] and r["status"] == 200, f"get allowed: not ok/200: {r}")
        check(r["body"] == "hello from mock", f"get allowed: body {r['body']!r}")
        check(r["headers"].get("etag") == '"etag-15"', f"get allowed: etag {r['headers']}")
        check("x-amz-request-id" not in r["headers"],
              f"get allowed: non-exposed header visible: {r['headers']}")

        r = results["get other origin"]
        check(not r["ok"] and r["status"] is None, f"get other origin: not blocked: {r}")
        check(r["error"] == "Failed to fetch", f"get other origin: error {r['error']!r}")
        check(any("CORS policy" in c for c in r["console"]),
              f"get other origin: no CORS console message: {r['console']}")
        gets = [q for q in mock.requests_for("/b/k") if q.method == "GET"]
        check(any(q.origin == pages["other"] for q in gets),
              "get other origin: the (simple) GET should reach the server")

        for name in ("put custom header", "put again"):
            r = results[name]
            check(r["ok"] and r["status"] == 200, f"{name}: not ok/200: {r}")
        check(results["put custom header"]["headers"].get("etag") == '"etag-7"',
              f"put custom header: etag {results['put custom header']['headers']}")
        seq = [(q.method, q.status) for q in mock.requests_for("/b/put-ok")]
        # Two PUTs, each preceded by its own preflight: the harness clears
        # Chromium's preflight cache between cases.
        check(seq == [("OPTIONS", 200), ("PUT", 200)] * 2,
              f"put custom header: mock saw {seq}, want OPTIONS, PUT twice")
        pre = mock.requests_for("/b/put-ok")[0]
        check(pre.acr_method == "PUT" and (pre.acr_headers or "") == "x-amz-meta-color",
              f"put custom header: preflight asked {pre.acr_method} / {pre.acr_headers}")
        check(mock.objects.get("/b/put-ok") == b"painted twice", "put: stored body differs")

        r = results["put disallowed header"]
        check(not r["ok"] and r["error"] == "Failed to fetch",
              f"put disallowed header: not blocked: {r}")
        seq = [(q.method, q.status) for q in mock.requests_for("/b/put-bad")]
        check(seq == [("OPTIONS", 403)], f"put disallowed header: mock saw {seq}")

        r = results["delete not allowed"]
        check(not r["ok"] and r["error"] == "Failed to fetch", f"delete: not blocked: {r}")
        dels = [q for q in mock.requests_for("/b/k") if q.method in ("OPTIONS", "DELETE")]
        check([(q.method, q.status) for q in dels] == [("OPTIONS", 403)],
              f"delete: mock saw {[(q.method, q.status) for q in dels]}")
        check("/b/k" in mock.objects, "delete: object was deleted")
    finally:
        browser.quit()
        servers.close()
        if mock is not None:
            mock.close()

    took = time.monotonic() - t0
    if failures:
        for f in failures:
            print(f"FAIL {f}", flush=True)
        print(f"selftest failed ({len(failures)} checks, {took:.1f} s)", flush=True)
        return 1
    print(f"selftest ok ({len(cases)} cases, chromium {version}, "
          f"{took:.1f} s)", flush=True)
    return 0


# --------------------------------------------------------------------------


def _on_term(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input", nargs="?", help="JSON document (default: stdin)")
    ap.add_argument("--serve-pages", metavar="NAME[=PORT],...",
                    help="two-phase mode: start these pages, print their origins, "
                         "then read {\"cases\": [...]} from stdin")
    ap.add_argument("--selftest", action="store_true", help="check the harness on a mock S3")
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                    help="per-case fetch timeout in seconds (default 15)")
    ap.add_argument("--verbose", action="store_true", help="selftest: dump results to stderr")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, _on_term)
    try:
        if args.selftest:
            return selftest(args.timeout, args.verbose)
        if args.serve_pages:
            run_serve_pages(args.serve_pages, args.timeout)
            return 0
        if args.input and args.input != "-":
            with open(args.input, encoding="utf-8") as f:
                doc = read_json_doc(f)
        else:
            doc = read_json_doc(sys.stdin)
        run_document(doc, args.timeout)
        return 0
    except UsageError as e:
        log(f"usage: {e}")
        return 2
    except HarnessError as e:
        log(f"harness failure: {e}")
        return 3
    except Exception as e:  # OSError, selenium's WebDriverException, ...
        log(f"harness failure: {type(e).__name__}: {e}")
        return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
