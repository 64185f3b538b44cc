"""S3 Object Lambda handler: serves XML objects as JSON.

Element names become keys, attributes become `@name` keys, text becomes `#text` (or the value itself
when an element has nothing else), and repeated child elements become lists. Objects that are not
well-formed XML are refused with 400 `InvalidObjectState`, never passed through half-converted.

An unmodified AWS handler (Python standard library and boto3 only). DTDs and entity declarations
are refused, so an object cannot make the converter expand entities.
"""

import json
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

import boto3

s3 = boto3.client("s3")


def element_to_json(element):
    value = {f"@{k}": v for k, v in element.attrib.items()}
    for child in element:
        converted = element_to_json(child)
        tag = child.tag
        if tag in value:
            if not isinstance(value[tag], list):
                value[tag] = [value[tag]]
            value[tag].append(converted)
        else:
            value[tag] = converted
    text = (element.text or "").strip()
    if text:
        if not value:
            return text
        value["#text"] = text
    return value or None


def convert(body: bytes) -> bytes:
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise ValueError("DTDs are not accepted")
    root = ET.fromstring(body)
    return json.dumps({root.tag: element_to_json(root)}, indent=2).encode()


def lambda_handler(event, context):
    ctx = event["getObjectContext"]
    route, token = ctx["outputRoute"], ctx["outputToken"]
    try:
        with urllib.request.urlopen(ctx["inputS3Url"], timeout=30) as response:
            body = response.read()
    except urllib.error.HTTPError as e:
        s3.write_get_object_response(
            RequestRoute=route,
            RequestToken=token,
            StatusCode=e.code,
            ErrorCode="AccessDenied" if e.code == 403 else "NoSuchKey",
            ErrorMessage="The supporting access point refused the request.",
        )
        return {"status_code": e.code}
    try:
        out = convert(body)
    except (ET.ParseError, ValueError) as e:
        s3.write_get_object_response(
            RequestRoute=route,
            RequestToken=token,
            StatusCode=400,
            ErrorCode="InvalidObjectState",
            ErrorMessage=f"The object is not well-formed XML: {e}",
        )
        return {"status_code": 400}
    s3.write_get_object_response(
        RequestRoute=route, RequestToken=token, Body=out, ContentType="application/json"
    )
    return {"status_code": 200}
