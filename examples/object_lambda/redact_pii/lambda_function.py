"""S3 Object Lambda handler: redacts personal data from CSV and JSON objects.

For an analytics Object Lambda access point: analysts read the same objects as everyone else, but
e-mail addresses, phone numbers, US social security numbers and payment card numbers leave storage
as `[REDACTED]`. The stored object never changes.

An unmodified AWS handler: it fetches the object from `getObjectContext.inputS3Url` (a presigned
GET through the supporting access point, signed for the caller) and answers with
`write_get_object_response`. It runs the same on AWS Lambda and under `s3crypt serve`.

`configuration.payload` (the access point's FunctionPayload) may be a JSON object
`{"columns": ["name", ...]}` naming further CSV columns or JSON keys to blank whatever they hold.
"""

import csv
import io
import json
import re
import urllib.error
import urllib.request

import boto3

PATTERNS = [
    re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"),  # e-mail
    re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),  # US SSN
    re.compile(r"\b(?:\d[ -]?){13,16}\b"),  # payment card
    re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}\b"),  # phone
]
REDACTED = "[REDACTED]"

s3 = boto3.client("s3")


def redact_text(value: str) -> str:
    for pattern in PATTERNS:
        value = pattern.sub(REDACTED, value)
    return value


def redact_json(value, columns):
    if isinstance(value, dict):
        return {
            k: (REDACTED if k in columns else redact_json(v, columns)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact_json(v, columns) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_csv(text: str, columns) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return text
    header = rows[0]
    blank = {i for i, name in enumerate(header) if name in columns}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows[1:]:
        writer.writerow(
            [REDACTED if i in blank else redact_text(cell) for i, cell in enumerate(row)]
        )
    return out.getvalue()


def columns_of(event) -> set:
    payload = event.get("configuration", {}).get("payload") or ""
    try:
        return set(json.loads(payload).get("columns", []))
    except (ValueError, AttributeError):
        return set()


def lambda_handler(event, context):
    ctx = event["getObjectContext"]
    route, token = ctx["outputRoute"], ctx["outputToken"]
    try:
        with urllib.request.urlopen(ctx["inputS3Url"], timeout=30) as response:
            body = response.read()
            content_type = response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        # Forward S3's refusal (404 NoSuchKey, 403 AccessDenied...) to the caller as it was.
        code = re.search(rb"<Code>([A-Za-z]+)</Code>", e.read() or b"")
        s3.write_get_object_response(
            RequestRoute=route,
            RequestToken=token,
            StatusCode=e.code,
            ErrorCode=code.group(1).decode() if code else "InternalError",
            ErrorMessage="The supporting access point refused the request.",
        )
        return {"status_code": e.code}

    columns = columns_of(event)
    key = event["userRequest"]["url"].split("?")[0]
    text = body.decode("utf-8", errors="replace")
    if key.endswith(".json") or content_type.startswith("application/json"):
        out = json.dumps(redact_json(json.loads(text), columns), indent=2).encode()
        content_type = "application/json"
    elif key.endswith(".csv") or content_type.startswith("text/csv"):
        out = redact_csv(text, columns).encode()
        content_type = "text/csv"
    else:
        out = redact_text(text).encode()
    s3.write_get_object_response(
        RequestRoute=route, RequestToken=token, Body=out, ContentType=content_type or "text/plain"
    )
    return {"status_code": 200}
