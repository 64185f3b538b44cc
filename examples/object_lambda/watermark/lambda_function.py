"""S3 Object Lambda handler: resizes an image and stamps the caller's name on it.

Each caller gets its own copy: the image is scaled down to fit the width the access point's
FunctionPayload gives the caller (`{"default_width": 512, "widths": {"<caller ARN>": 128}}`), then
watermarked with the caller's user name (from `userIdentity`), so a leaked copy names who fetched
it. PNG, JPEG, GIF and WebP keep their format. Uses Pillow (from PyPI).
"""

import io
import json
import urllib.error
import urllib.request

import boto3
from PIL import Image, ImageDraw

s3 = boto3.client("s3")

FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
# An image bigger than this many pixels is refused (decompression bombs).
Image.MAX_IMAGE_PIXELS = 40_000_000


def caller_of(event) -> tuple[str, str]:
    identity = event.get("userIdentity") or {}
    arn = identity.get("arn", "")
    name = identity.get("userName") or arn.rsplit("/", 1)[-1] or identity.get("principalId", "?")
    return arn, name


def width_for(event, arn: str) -> int:
    try:
        payload = json.loads(event.get("configuration", {}).get("payload") or "{}")
    except ValueError:
        payload = {}
    widths = payload.get("widths", {})
    return int(widths.get(arn, payload.get("default_width", 512)))


def transform(body: bytes, width: int, stamp: str) -> tuple[bytes, str]:
    image = Image.open(io.BytesIO(body))
    fmt = image.format
    if fmt not in FORMATS:
        raise ValueError(f"unsupported image format {fmt}")
    if image.width > width:
        height = max(1, round(image.height * width / image.width))
        image = image.resize((width, height))
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if fmt in ("PNG", "WEBP", "GIF") else "RGB")
    draw = ImageDraw.Draw(image)
    text = f"(c) {stamp}"
    draw.text((5, image.height - 15), text, fill=(255, 255, 255))
    draw.text((4, image.height - 16), text, fill=(0, 0, 0))
    out = io.BytesIO()
    if fmt == "JPEG" and image.mode == "RGBA":
        image = image.convert("RGB")
    image.save(out, format=fmt)
    return out.getvalue(), FORMATS[fmt]


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
    arn, name = caller_of(event)
    try:
        out, content_type = transform(body, width_for(event, arn), name)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        s3.write_get_object_response(
            RequestRoute=route,
            RequestToken=token,
            StatusCode=400,
            ErrorCode="InvalidObjectState",
            ErrorMessage=f"The object is not an image this function can process: {e}",
        )
        return {"status_code": 400}
    s3.write_get_object_response(
        RequestRoute=route, RequestToken=token, Body=out, ContentType=content_type
    )
    return {"status_code": 200}
