"""Object Lambda test handlers (tests/interop/object_lambda_functions_boto3.py registers each one as
a function with `s3crypt lambda create-function NAME --handler behaviors.<name> --code tests/object_lambda`).

Unmodified-AWS style: boto3 clients from the environment (AWS_ENDPOINT_URL_S3, the execution role's
credentials, AWS_CA_BUNDLE), the object fetched from `inputS3Url` with the standard library.
"""

import json
import os
import re
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

import boto3
from botocore.exceptions import ClientError

S3NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"

s3 = boto3.client("s3")


def fetch(url: str, method: str = "GET"):
    req = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, dict(r.headers.items()), r.read()


def upper(event, context):
    """GetObject: the object upper-cased, with the caller's user name in a metadata header."""
    ctx = event["getObjectContext"]
    try:
        _, headers, body = fetch(ctx["inputS3Url"])
    except urllib.error.HTTPError as e:
        s3.write_get_object_response(
            RequestRoute=ctx["outputRoute"], RequestToken=ctx["outputToken"], StatusCode=e.code,
            ErrorCode="AccessDenied" if e.code == 403 else "NoSuchKey", ErrorMessage="refused",
        )
        return
    s3.write_get_object_response(
        RequestRoute=ctx["outputRoute"], RequestToken=ctx["outputToken"], Body=body.upper(),
        ContentType=headers.get("Content-Type", "text/plain"),
        Metadata={"caller": event["userIdentity"].get("userName", ""),
                  "payload": event["configuration"]["payload"]},
    )


def tell(event, context):
    """GetObject: answers with the event's inputS3Url, route and token (so that the test can try to
    reuse them once the invocation is over). Prints the event, as handlers often do: the server must
    keep the caller's session token and the URL's signature out of its log."""
    print(json.dumps(event))
    ctx = event["getObjectContext"]
    s3.write_get_object_response(
        RequestRoute=ctx["outputRoute"], RequestToken=ctx["outputToken"],
        Body=json.dumps({"inputS3Url": ctx["inputS3Url"], "outputRoute": ctx["outputRoute"],
                         "outputToken": ctx["outputToken"], "event": {
                             k: v for k, v in event.items() if k != "getObjectContext"}}).encode(),
        ContentType="application/json",
    )


def direct(event, context):
    """GetObject: ignores inputS3Url and reads the bucket directly with its own role (a confused
    deputy); forwards what S3 said."""
    ctx = event["getObjectContext"]
    bucket = json.loads(event["configuration"]["payload"])["bucket"]
    key = event["userRequest"]["url"].split("?")[0].rsplit("/", 1)[-1]
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as e:
        s3.write_get_object_response(
            RequestRoute=ctx["outputRoute"], RequestToken=ctx["outputToken"],
            StatusCode=e.response["ResponseMetadata"]["HTTPStatusCode"],
            ErrorCode=e.response["Error"]["Code"], ErrorMessage="the function's own read failed",
        )
        return
    s3.write_get_object_response(RequestRoute=ctx["outputRoute"], RequestToken=ctx["outputToken"],
                                 Body=body)


def silent(event, context):
    """GetObject: returns without calling WriteGetObjectResponse."""
    return {"statusCode": 200}


def fail(event, context):
    """Raises."""
    raise RuntimeError("the handler failed on purpose")


def crash(event, context):
    """Kills its own process mid-invocation."""
    os._exit(3)


def slow(event, context):
    """Sleeps past any short timeout."""
    time.sleep(30)


def head(event, context):
    """HeadObject: the object's own headers from inputS3Url (a presigned HEAD), plus one metadata
    header; 404 forwarded as the function's statusCode."""
    url = event["headObjectContext"]["inputS3Url"]
    try:
        status, headers, _ = fetch(url, "HEAD")
    except urllib.error.HTTPError as e:
        return {"statusCode": e.code, "errorCode": "NoSuchKey", "errorMessage": "not there"}
    keep = {k: v for k, v in headers.items()
            if k.lower() in ("content-length", "content-type", "etag", "last-modified")}
    keep["x-amz-meta-transformed"] = "yes"
    return {"statusCode": status, "headers": keep}


def list_v2(event, context):
    """ListObjectsV2: the supporting access point's listing with every key upper-cased, as a typed
    listBucketResult."""
    url = event["listObjectsV2Context"]["inputS3Url"]
    _, _, body = fetch(url)
    root = ET.fromstring(body)
    contents = [
        {"key": c.findtext(f"{S3NS}Key").upper(), "size": int(c.findtext(f"{S3NS}Size")),
         "eTag": c.findtext(f"{S3NS}ETag"), "lastModified": c.findtext(f"{S3NS}LastModified")}
        for c in root.findall(f"{S3NS}Contents")
    ]
    return {"statusCode": 200, "listBucketResult": {
        "name": root.findtext(f"{S3NS}Name"), "prefix": root.findtext(f"{S3NS}Prefix") or "",
        "keyCount": len(contents), "maxKeys": int(root.findtext(f"{S3NS}MaxKeys")),
        "isTruncated": False, "contents": contents}}


def list_v1(event, context):
    """ListObjects (V1): the listing XML from inputS3Url with keys upper-cased, as listResultXml."""
    url = event["listObjectsContext"]["inputS3Url"]
    _, _, body = fetch(url)
    text = re.sub(r"<Key>([^<]*)</Key>", lambda m: f"<Key>{m.group(1).upper()}</Key>",
                  body.decode())
    return {"statusCode": 200, "listResultXml": text}


def bad_answer(event, context):
    """HeadObject/List: an answer S3 cannot use."""
    return {"headers": "not even a status"}
