"""A custom runtime (the `command` kind) that speaks the Lambda Runtime API itself with the standard
library only, and probes the API's refusals: an unknown request id, an unknown path, a wrong method,
a second answer to one invocation, an init error after init, an oversized response."""

import json
import os
import urllib.error
import urllib.request

BASE = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"


def call(method, path, body=None, headers=None):
    req = urllib.request.Request(BASE + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers
    except OSError as e:
        return -1, str(e).encode(), {}


probes = {
    "unknown_id": call("POST", "/invocation/not-a-request/response", b"{}")[0],
    "unknown_path": call("GET", "/nothing/here")[0],
    "wrong_method": call("POST", "/invocation/next", b"")[0],
}

while True:
    status, body, headers = call("GET", "/invocation/next")
    if status != 200:
        raise SystemExit(f"next: {status}")
    rid = headers.get("Lambda-Runtime-Aws-Request-Id")
    event = json.loads(body)
    if event.get("too_large"):
        call("POST", f"/invocation/{rid}/response", b"x" * (6 * 1024 * 1024 + 1))
        continue
    if event.get("report_error"):
        doc = {"errorType": "Custom.Failure", "errorMessage": "reported by the runtime"}
        call("POST", f"/invocation/{rid}/error", json.dumps(doc).encode(),
             {"Lambda-Runtime-Function-Error-Type": "Custom.Failure"})
        continue
    result = {
        "kind": "command",
        "event": event,
        "requestId": rid,
        "deadlineMs": headers.get("Lambda-Runtime-Deadline-Ms"),
        "functionArn": headers.get("Lambda-Runtime-Invoked-Function-Arn"),
        "traceId": headers.get("Lambda-Runtime-Trace-Id"),
        "pid": os.getpid(),
        "probes": dict(probes),
    }
    call("POST", f"/invocation/{rid}/response", json.dumps(result).encode())
    probes["second_answer"] = call("POST", f"/invocation/{rid}/response", b"{}")[0]
    probes["late_init_error"] = call(
        "POST", "/init/error", b"{}", {"Lambda-Runtime-Function-Error-Type": "X"})[0]
