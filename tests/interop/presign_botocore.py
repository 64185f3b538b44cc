"""Prints botocore's presigned URLs for the fixed cases of tests/presign.rs, one per line.

The clock is pinned to 2013-05-24T00:00:00Z (the S3 documentation example) as FORMATS.md §7 describes;
botocore makes no network call. Run with any Python that has botocore; tests/presign.rs skips the live
comparison when none is found (its golden URLs come from botocore 1.43.11 and are always checked).
"""

import datetime
from unittest import mock

import botocore.session
from botocore.config import Config

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SSEC_KEY = "0123456789012345678901234567890a"


def client(region, akid, token=None, style="virtual", endpoint=None):
    return botocore.session.get_session().create_client(
        "s3",
        region_name=region,
        aws_access_key_id=akid,
        aws_secret_access_key=SECRET,
        aws_session_token=token,
        endpoint_url=endpoint,
        config=Config(signature_version="s3v4", s3={"addressing_style": style}),
    )


def main():
    doc = client("us-east-1", "AKIAIOSFODNN7EXAMPLE")
    temp = client(
        "eu-west-1",
        "ASIATEMPEXAMPLE",
        token="FQoGZXIvYXdzEXAMPLE/token+=",
        style="path",
        endpoint="http://127.0.0.1:9000",
    )
    pinned = datetime.datetime(2013, 5, 24, 0, 0, 0)
    with mock.patch("botocore.auth.get_current_datetime", return_value=pinned):
        print(doc.generate_presigned_url(
            "get_object", Params={"Bucket": "examplebucket", "Key": "test.txt"}, ExpiresIn=86400))
        print(doc.generate_presigned_url(
            "get_object",
            Params={"Bucket": "examplebucket", "Key": "dir/a b+c~.txt", "VersionId": "v1",
                    "ResponseContentType": "text/plain"},
            ExpiresIn=3600))
        print(doc.generate_presigned_url(
            "get_object",
            Params={"Bucket": "examplebucket", "Key": "k", "SSECustomerAlgorithm": "AES256",
                    "SSECustomerKey": SSEC_KEY},
            ExpiresIn=60))
        print(temp.generate_presigned_url(
            "put_object", Params={"Bucket": "b", "Key": "x/y.bin"}, ExpiresIn=604800))


if __name__ == "__main__":
    main()
