"""POST Object against `s3crypt serve` with boto3's generate_presigned_post and requests.

Usage: post_object_boto3.py ENDPOINT BUCKET ACCESS_KEY_ID SECRET
Prints `OK ...` lines; a failed check prints `FAIL ...` and exits 1.
"""

import sys

import boto3
import requests
from botocore.config import Config


def main():
    endpoint, bucket, akid, secret = sys.argv[1:5]
    s3 = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id=akid,
        aws_secret_access_key=secret,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    failed = False

    def check(ok, what):
        nonlocal failed
        print(("OK " if ok else "FAIL ") + what)
        failed = failed or not ok

    post = s3.generate_presigned_post(
        bucket,
        "forms/${filename}",
        Fields={"Content-Type": "text/plain", "success_action_status": "201"},
        Conditions=[
            {"Content-Type": "text/plain"},
            {"success_action_status": "201"},
            ["content-length-range", 1, 1024],
        ],
        ExpiresIn=600,
    )
    r = requests.post(
        post["url"],
        data=post["fields"],
        files={"file": ("boto.txt", b"uploaded by requests")},
        timeout=30,
    )
    check(r.status_code == 201, f"201 from a presigned POST ({r.status_code} {r.text})")
    check("<Key>forms/boto.txt</Key>" in r.text, "PostResponse names the key")
    got = s3.get_object(Bucket=bucket, Key="forms/boto.txt")
    check(got["Body"].read() == b"uploaded by requests", "the object reads back")
    check(got["ContentType"] == "text/plain", "Content-Type from the form")

    r = requests.post(
        post["url"],
        data=post["fields"],
        files={"file": ("big.txt", b"x" * 2048)},
        timeout=30,
    )
    check(
        r.status_code == 400 and "<Code>EntityTooLarge</Code>" in r.text,
        f"content-length-range refused ({r.status_code})",
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
