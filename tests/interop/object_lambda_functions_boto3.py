#!/usr/bin/env python3
"""S3 Object Lambda with real functions: unmodified boto3 (s3, s3control), aws-cli and awslambdaric
against `s3crypt serve`.

Usage: as tests/interop/access_points_boto3.py (--https, --http, --ca, --access-key, --secret, --home,
--s3crypt, [--only], [--verbose]). With S3CRYPT_OLAP_BENCH=N in the environment it also measures the
latency an Object Lambda GET of 1 MiB adds over a direct GET (N requests each, interleaved; medians and
p99 in the summary line's `bench_1mib`).

Functions are registered with `s3crypt lambda create-function` on the server's home while it serves:
the test handlers of tests/object_lambda/behaviors.py and the handlers of examples/object_lambda/.
The server runs them with awslambdaric (Lambda's Runtime API), with execution-role credentials and
`AWS_ENDPOINT_URL_S3` pointing at itself, so their `boto3.client("s3").write_get_object_response`
reaches it unmodified.

Expected behaviour: ../shared/reference/S3-FEATURES.md §3. Output as the other scenarios: one
`ok|FAIL|skip <step>` line per step, then a JSON summary line and a `secrets-used` line.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import secrets
import ssl
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

import scenario_harness as harness  # first: isolates the process from the machine's AWS configuration

harness.resolve_localhost_subdomains()

from botocore.exceptions import ClientError  # noqa: E402
from scenario_harness import NO_RETRIES, check, expect_error, status_of  # noqa: E402

ACCOUNT = "000000000000"
REGION = "us-east-1"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BEHAVIORS = os.path.join(ROOT, "tests", "object_lambda")
EXAMPLES = os.path.join(ROOT, "examples", "object_lambda")


def fn_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def ap_arn(name: str) -> str:
    return f"arn:aws:s3:{REGION}:{ACCOUNT}:accesspoint/{name}"


def olap_arn(name: str) -> str:
    return f"arn:aws:s3-object-lambda:{REGION}:{ACCOUNT}:accesspoint/{name}"


class Scenario(harness.Scenario):
    tmp_prefix = "object_lambda_functions."
    fail_detail_chars = 2000

    def __init__(self, args) -> None:
        super().__init__(args)
        self.endpoint = re.sub(r"^https://127\.0\.0\.1:", "https://localhost:", args.https)
        self.s3 = self.client()
        self.control = self.make_client("s3control", endpoint=self.endpoint, retries=NO_RETRIES)
        self.functions: set[str] = set()
        self.ssl = ssl.create_default_context(cafile=args.ca)
        # S3CRYPT_OLAP_BENCH=N: also measure N direct and N Object Lambda GETs of 1 MiB.
        self.bench_n = int(os.environ.get("S3CRYPT_OLAP_BENCH", "0") or 0)

    def client(self, *, access_key=None, secret=None, addressing="path"):
        return self.make_client("s3", endpoint=self.endpoint, access_key=access_key, secret=secret,
                                retries=NO_RETRIES, s3={"addressing_style": addressing})

    def name(self, tag: str) -> str:
        return f"{tag}-{secrets.token_hex(4)}"

    # -- setup -----------------------------------------------------------------------------------

    def function(self, name: str, handler: str, code: str, *, timeout: int = 20,
                 role_policy: dict | None = None) -> str:
        """Registers a Python function once; returns its ARN."""
        if name not in self.functions:
            argv = ["lambda", "create-function", name, "--runtime", "python", "--handler", handler,
                    "--code", code, "--timeout", str(timeout)]
            if role_policy is not None:
                path = os.path.join(self.tmp, f"role-{name}.json")
                with open(path, "w") as f:
                    json.dump(role_policy, f)
                argv += ["--role-policy", path]
            self.cli(*argv)
            self.functions.add(name)
        return fn_arn(name)

    @contextlib.contextmanager
    def setup(self, tag: str, function: str, *, actions=("GetObject",), payload: str = "",
              sse: dict | None = None, allowed_features=()):
        """A bucket (delegating to its access points), a supporting access point and an Object Lambda
        access point transforming `actions` with `function`; yields their names, ARNs and aliases.
        `sse`: the bucket's default encryption rule."""
        b = self.name(f"ol-{tag}")
        ap, ol = self.name(f"ap-{tag}"), self.name(f"ol-{tag}")
        self.s3.create_bucket(Bucket=b)
        try:
            self.s3.put_bucket_policy(Bucket=b, Policy=json.dumps({
                "Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "*",
                    "Resource": [f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*"],
                    "Condition": {"StringEquals": {"s3:DataAccessPointAccount": ACCOUNT}}}]}))
            if sse:
                self.s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": sse}]})
            r = self.control.create_access_point(AccountId=ACCOUNT, Name=ap, Bucket=b)
            ap_alias = r["Alias"]
            cfg = {
                "SupportingAccessPoint": ap_arn(ap),
                "TransformationConfigurations": [{
                    "Actions": list(actions),
                    "ContentTransformation": {"AwsLambda": {
                        "FunctionArn": function, **({"FunctionPayload": payload} if payload else {})}},
                }],
            }
            if allowed_features:
                cfg["AllowedFeatures"] = list(allowed_features)
            r = self.control.create_access_point_for_object_lambda(
                AccountId=ACCOUNT, Name=ol, Configuration=cfg)
            check(r["ObjectLambdaAccessPointArn"] == olap_arn(ol), f"OLAP ARN {r}")
            yield {"bucket": b, "ap": ap, "ap_alias": ap_alias, "ol": ol,
                   "ol_alias": r["Alias"]["Value"], "ol_arn": olap_arn(ol)}
        finally:
            with contextlib.suppress(Exception):
                self.control.delete_access_point_for_object_lambda(AccountId=ACCOUNT, Name=ol)
            with contextlib.suppress(Exception):
                self.control.delete_access_point(AccountId=ACCOUNT, Name=ap)
            with contextlib.suppress(Exception):
                for o in self.s3.list_objects_v2(Bucket=b).get("Contents", []):
                    self.s3.delete_object(Bucket=b, Key=o["Key"])
            with contextlib.suppress(Exception):
                self.s3.delete_bucket(Bucket=b)

    def caller(self, tag: str, env: dict, function: str, *, invoke: bool = True) -> dict:
        """An IAM user allowed through the Object Lambda access point (and, with `invoke`, to invoke
        its function); its own policy also allows reading through the supporting access point."""
        statements = [
            {"Effect": "Allow", "Action": "s3-object-lambda:*",
             "Resource": [env["ol_arn"], env["ol_arn"] + "/*"]},
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
             "Resource": [ap_arn(env["ap"]), ap_arn(env["ap"]) + "/object/*"]},
        ]
        if invoke:
            statements.append({"Effect": "Allow", "Action": "lambda:InvokeFunction",
                               "Resource": [function, function + ":*"]})
        user = f"{tag}-{secrets.token_hex(3)}"
        info = self.create_iam_user(user, {"Version": "2012-10-17", "Statement": statements})
        c = {"name": user, "arn": info.get("Arn") or f"arn:aws:iam::{ACCOUNT}:user/{user}",
             "s3": self.client(access_key=info["AccessKeyId"], secret=info["SecretAccessKey"]),
             "key": info["AccessKeyId"], "secret": info["SecretAccessKey"]}
        self.wait_until_known(c["s3"])
        return c

    def get(self, s3, bucket: str, key: str, **kw) -> tuple[bytes, dict]:
        r = s3.get_object(Bucket=bucket, Key=key, **kw)
        return r["Body"].read(), r

    def fetch(self, url: str) -> int:
        try:
            with urllib.request.urlopen(url, timeout=15, context=self.ssl) as r:
                r.read()
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    # -- the scenario --------------------------------------------------------------------------------

    def run(self) -> None:
        st = self.step
        st("get_transformed_sse_s3_by_alias_and_arn", self.get_sse_s3)
        st("get_head_list_transformed_sse_s3_and_sse_kms", self.get_head_list_kms)
        st("event_shape_and_input_url_dies_with_the_invocation", self.event_and_input_url)
        st("output_token_is_single_use", self.token_single_use)
        st("caller_without_invoke_permission_refused", self.no_invoke)
        st("function_reading_the_bucket_directly_denied", self.direct_read)
        st("function_silent_error_crash_timeout_surface_as_errors", self.failures)
        st("head_and_list_invalid_answers_refused", self.invalid_answers)
        st("aws_cli_get_object_through_object_lambda", self.aws_cli)
        st("audit_server_access_log_names_the_object_lambda_access_point", self.audit_access_log)
        st("example_redact_pii", self.example_redact)
        st("example_xml_to_json", self.example_xml)
        st("example_watermark_per_caller", self.example_watermark)
        st("example_s3ec_reencrypt_for_the_caller", self.example_s3ec)
        if self.bench_n:
            st("bench_object_lambda_get_1mib", self.bench)

    def get_sse_s3(self):
        f = self.function("ol-upper", "behaviors.upper", BEHAVIORS)
        with self.setup("sse3", f, payload="p1", sse={"SSEAlgorithm": "AES256"}) as env:
            self.s3.put_object(Bucket=env["bucket"], Key="doc.txt", Body=b"hello object lambda",
                               ContentType="text/plain")
            u = self.caller("reader", env, f)
            body, r = self.get(u["s3"], env["ol_alias"], "doc.txt")
            check(body == b"HELLO OBJECT LAMBDA", f"transformed body {body!r}")
            check(r["Metadata"].get("caller") == u["name"], f"caller metadata {r['Metadata']}")
            check(r["Metadata"].get("payload") == "p1", f"payload {r['Metadata']}")
            check(r["ContentType"] == "text/plain", f"content type {r['ContentType']}")
            # The stored object is unchanged, read directly.
            body, _ = self.get(self.s3, env["bucket"], "doc.txt")
            check(body == b"hello object lambda", "the stored object is untouched")
            # By ARN (boto3 sends it to NAME-ACCOUNT.s3-object-lambda… / signs s3-object-lambda).
            arn_client = self.make_client(
                "s3", endpoint=self.endpoint, access_key=u["key"], secret=u["secret"],
                retries=NO_RETRIES, s3={"addressing_style": "virtual"})
            body, _ = self.get(arn_client, env["ol_arn"], "doc.txt")
            check(body == b"HELLO OBJECT LAMBDA", f"by ARN: {body!r}")
            expect_error(lambda: u["s3"].get_object(Bucket=env["ol_alias"], Key="missing"), 404,
                         "NoSuchKey", what="a missing key forwarded by the function")

    def get_head_list_kms(self):
        up = self.function("ol-upper", "behaviors.upper", BEHAVIORS)
        head = self.function("ol-head", "behaviors.head", BEHAVIORS)
        lv2 = self.function("ol-listv2", "behaviors.list_v2", BEHAVIORS)
        lv1 = self.function("ol-listv1", "behaviors.list_v1", BEHAVIORS)
        b = self.name("olkms")
        ap, ol = self.name("ap-kms"), self.name("ol-kms")
        self.s3.create_bucket(Bucket=b)
        try:
            self.control.create_access_point(AccountId=ACCOUNT, Name=ap, Bucket=b)
            transforms = [
                (["GetObject"], up), (["HeadObject"], head), (["ListObjectsV2"], lv2),
                (["ListObjects"], lv1)]
            r = self.control.create_access_point_for_object_lambda(
                AccountId=ACCOUNT, Name=ol, Configuration={
                    "SupportingAccessPoint": ap_arn(ap),
                    "TransformationConfigurations": [
                        {"Actions": a, "ContentTransformation": {"AwsLambda": {"FunctionArn": f}}}
                        for a, f in transforms]})
            alias = r["Alias"]["Value"]
            self.s3.put_object(Bucket=b, Key="k/one.txt", Body=b"kms secret text",
                               ServerSideEncryption="aws:kms")
            self.s3.put_object(Bucket=b, Key="k/two.txt", Body=b"two", ServerSideEncryption="aws:kms")
            self.s3.put_object(Bucket=b, Key="k/three.txt", Body=b"sse-s3 text",
                               ServerSideEncryption="AES256")
            for key, plain, sse in (("k/one.txt", b"kms secret text", "aws:kms"),
                                    ("k/three.txt", b"sse-s3 text", "AES256")):
                check(self.s3.head_object(Bucket=b, Key=key)["ServerSideEncryption"] == sse,
                      f"{key} is stored with {sse}")
                body, _ = self.get(self.s3, alias, key)
                check(body == plain.upper(), f"GET of an {sse} object decrypted then transformed: {body!r}")
                h = self.s3.head_object(Bucket=alias, Key=key)
                check(h["Metadata"].get("transformed") == "yes", f"HEAD of {sse} transformed: {h}")
                check(h["ContentLength"] == len(plain), f"HEAD length {h['ContentLength']}")
            expect_error(lambda: self.s3.head_object(Bucket=alias, Key="nope"), 404, "404",
                         what="HEAD refused by the function")
            keys = [o["Key"] for o in self.s3.list_objects_v2(Bucket=alias, Prefix="k/")["Contents"]]
            want = ["K/ONE.TXT", "K/THREE.TXT", "K/TWO.TXT"]
            check(keys == want, f"ListObjectsV2 transformed: {keys}")
            keys = [o["Key"] for o in self.s3.list_objects(Bucket=alias, Prefix="k/")["Contents"]]
            check(keys == want, f"ListObjects transformed: {keys}")
        finally:
            with contextlib.suppress(Exception):
                self.control.delete_access_point_for_object_lambda(AccountId=ACCOUNT, Name=ol)
            with contextlib.suppress(Exception):
                self.control.delete_access_point(AccountId=ACCOUNT, Name=ap)
            for k in ("k/one.txt", "k/two.txt", "k/three.txt"):
                with contextlib.suppress(Exception):
                    self.s3.delete_object(Bucket=b, Key=k)
            with contextlib.suppress(Exception):
                self.s3.delete_bucket(Bucket=b)

    def event_and_input_url(self):
        f = self.function("ol-tell", "behaviors.tell", BEHAVIORS)
        with self.setup("tell", f, payload='{"x": 1}') as env:
            self.s3.put_object(Bucket=env["bucket"], Key="a b+c.txt", Body=b"abc")
            u = self.caller("teller", env, f)
            body, _ = self.get(u["s3"], env["ol_alias"], "a b+c.txt", VersionId="null")
            told = json.loads(body)
            ev = told["event"]
            check(ev["protocolVersion"] == "1.00", f"protocolVersion {ev}")
            check(ev["configuration"] == {"accessPointArn": env["ol_arn"],
                                          "supportingAccessPointArn": ap_arn(env["ap"]),
                                          "payload": '{"x": 1}'}, f"configuration {ev['configuration']}")
            ident = ev["userIdentity"]
            check(ident["type"] == "IAMUser" and ident["arn"] == u["arn"]
                  and ident["accessKeyId"] == u["key"] and ident["userName"] == u["name"],
                  f"userIdentity {ident}")
            check(ident["principalId"].startswith("AIDA"), f"principalId {ident}")
            hdrs = {k.lower() for k in ev["userRequest"]["headers"]}
            check("authorization" not in hdrs and "host" in hdrs, f"userRequest.headers {hdrs}")
            check("X-Amz-Signature" not in ev["userRequest"]["url"], ev["userRequest"]["url"])
            url = told["inputS3Url"]
            check(env["ap_alias"] in url and "X-Amz-Security-Token=" in url and "versionId=null" in url,
                  f"inputS3Url goes through the supporting access point as the caller: {url}")
            check("X-Amz-Expires=61" in url, f"inputS3Url lives 61 s: {url}")
            status = self.fetch(url)
            check(status in (400, 403), f"inputS3Url after its invocation ended: {status}")

    def token_single_use(self):
        f = self.function("ol-tell", "behaviors.tell", BEHAVIORS)
        with self.setup("once", f) as env:
            self.s3.put_object(Bucket=env["bucket"], Key="k", Body=b"x")
            body, _ = self.get(self.s3, env["ol_alias"], "k")
            told = json.loads(body)
            wgor = self.make_client("s3", endpoint=self.endpoint, retries=NO_RETRIES)
            wgor.meta.config.inject_host_prefix = False
            expect_error(lambda: wgor.write_get_object_response(
                RequestRoute=told["outputRoute"], RequestToken=told["outputToken"], Body=b"again"),
                400, what="a second WriteGetObjectResponse with the same route and token")

    def no_invoke(self):
        f = self.function("ol-upper", "behaviors.upper", BEHAVIORS)
        with self.setup("noinv", f) as env:
            self.s3.put_object(Bucket=env["bucket"], Key="k", Body=b"x")
            u = self.caller("noinvoke", env, f, invoke=False)
            expect_error(lambda: u["s3"].get_object(Bucket=env["ol_alias"], Key="k"), 403,
                         "AccessDenied", what="GetObject without lambda:InvokeFunction")

    def direct_read(self):
        f = self.function("ol-direct", "behaviors.direct", BEHAVIORS)
        b = self.name("oldirect")
        with self.setup("direct", f, payload=json.dumps({"bucket": b})) as env:
            # The payload names another bucket than the environment's: make that bucket, owned by
            # the root, with an object the function's role (WriteGetObjectResponse only) cannot read.
            self.s3.create_bucket(Bucket=b)
            try:
                self.s3.put_object(Bucket=b, Key="k", Body=b"secret")
                self.s3.put_object(Bucket=env["bucket"], Key="k", Body=b"x")
                expect_error(lambda: self.s3.get_object(Bucket=env["ol_alias"], Key="k"), 403,
                             "AccessDenied", what="the function's direct read of the bucket")
            finally:
                with contextlib.suppress(Exception):
                    self.s3.delete_object(Bucket=b, Key="k")
                with contextlib.suppress(Exception):
                    self.s3.delete_bucket(Bucket=b)

    def failures(self):
        cases = [("ol-silent", "behaviors.silent", 20), ("ol-fail", "behaviors.fail", 20),
                 ("ol-crash", "behaviors.crash", 20), ("ol-slow", "behaviors.slow", 2)]
        for name, handler, timeout in cases:
            f = self.function(name, handler, BEHAVIORS, timeout=timeout)
            with self.setup(name[3:], f) as env:
                self.s3.put_object(Bucket=env["bucket"], Key="k", Body=b"x")
                t0 = time.monotonic()
                e = expect_error(lambda: self.s3.get_object(Bucket=env["ol_alias"], Key="k"), 500,
                                 "LambdaResponseNotReceived", what=f"{name}")
                took = time.monotonic() - t0
                check(took < timeout + 15, f"{name}: the error came after {took:.1f} s")
                del e

    def invalid_answers(self):
        f = self.function("ol-bad", "behaviors.bad_answer", BEHAVIORS)
        with self.setup("bad", f, actions=("HeadObject", "ListObjectsV2")) as env:
            self.s3.put_object(Bucket=env["bucket"], Key="k", Body=b"x")
            expect_error(lambda: self.s3.head_object(Bucket=env["ol_alias"], Key="k"), 400, "400",
                         what="HEAD with an invalid answer")
            expect_error(lambda: self.s3.list_objects_v2(Bucket=env["ol_alias"]), 400,
                         "LambdaInvalidResponse", what="List with an invalid answer")

    def aws_cli(self):
        f = self.function("ol-upper", "behaviors.upper", BEHAVIORS)
        with self.setup("cli", f) as env:
            self.s3.put_object(Bucket=env["bucket"], Key="c.txt", Body=b"through the cli")
            out = os.path.join(self.tmp, "cli-out.txt")
            env_vars = dict(os.environ, AWS_ACCESS_KEY_ID=self.args.access_key,
                            AWS_SECRET_ACCESS_KEY=self.args.secret, AWS_DEFAULT_REGION=REGION,
                            AWS_CA_BUNDLE=self.args.ca)
            p = subprocess.run(
                [sys.executable, "-m", "awscli", "s3api", "get-object", "--endpoint-url",
                 self.endpoint, "--bucket", env["ol_alias"], "--key", "c.txt", out],
                capture_output=True, text=True, timeout=120, env=env_vars)
            check(p.returncode == 0, f"aws s3api get-object: {p.stderr[-800:]}")
            with open(out, "rb") as fh:
                check(fh.read() == b"THROUGH THE CLI", "aws-cli got the transformed object")

    def audit_access_log(self):
        f = self.function("ol-upper", "behaviors.upper", BEHAVIORS)
        target = self.name("ol-logs")
        self.s3.create_bucket(Bucket=target)
        try:
            with self.setup("audit", f) as env:
                src = env["bucket"]
                self.s3.put_bucket_policy(Bucket=target, Policy=json.dumps({
                    "Version": "2012-10-17", "Statement": [{
                        "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
                        "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{target}/access/*",
                        "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{src}"},
                                      "StringEquals": {"aws:SourceAccount": ACCOUNT}}}]}))
                self.s3.put_bucket_logging(Bucket=src, BucketLoggingStatus={"LoggingEnabled": {
                    "TargetBucket": target, "TargetPrefix": "access/"}})
                self.s3.put_object(Bucket=src, Key="audited.txt", Body=b"audit me")
                body, _ = self.get(self.s3, env["ol_alias"], "audited.txt")
                check(body == b"AUDIT ME", f"transformed {body!r}")
                # The server delivers access log batches every --access-log-interval seconds (1 here).
                deadline, records = time.monotonic() + 20, ""
                while time.monotonic() < deadline:
                    records = "".join(
                        self.s3.get_object(Bucket=target, Key=o["Key"])["Body"].read().decode()
                        for o in self.s3.list_objects_v2(Bucket=target, Prefix="access/").get("Contents", []))
                    if env["ol_arn"] in records:
                        break
                    time.sleep(0.5)
                lines = [l for l in records.splitlines() if env["ol_arn"] in l]
                check(any("REST.GET.OBJECT audited.txt" in l for l in lines),
                      f"a server access log record of the Object Lambda GET names {env['ol_arn']}: {records[-1500:]!r}")
                with contextlib.suppress(Exception):
                    self.s3.put_bucket_logging(Bucket=src, BucketLoggingStatus={})
                return f"{len(lines)} record(s) name the Object Lambda access point"
        finally:
            with contextlib.suppress(Exception):
                for o in self.s3.list_objects_v2(Bucket=target).get("Contents", []):
                    self.s3.delete_object(Bucket=target, Key=o["Key"])
            with contextlib.suppress(Exception):
                self.s3.delete_bucket(Bucket=target)

    def example_redact(self):
        f = self.function("ex-redact", "lambda_function.lambda_handler",
                          os.path.join(EXAMPLES, "redact_pii"))
        with self.setup("pii", f, payload=json.dumps({"columns": ["name"]})) as env:
            csv_text = ("name,email,phone,city\n"
                        "Ana Lopez,ana@example.com,555-123-4567,Lisbon\n"
                        "Bo Chen,bo@example.org,+1 (555) 987-6543,Oslo\n")
            self.s3.put_object(Bucket=env["bucket"], Key="people.csv", Body=csv_text.encode(),
                               ContentType="text/csv")
            self.s3.put_object(Bucket=env["bucket"], Key="people.json", Body=json.dumps(
                [{"name": "Ana", "contact": {"email": "ana@example.com"}, "ssn": "123-45-6789",
                  "age": 31}]).encode(), ContentType="application/json")
            u = self.caller("analyst", env, f)
            body, _ = self.get(u["s3"], env["ol_alias"], "people.csv")
            text = body.decode()
            check("@" not in text and "555" not in text and "Ana" not in text, f"redacted CSV:\n{text}")
            check("Lisbon" in text and "Oslo" in text, f"other columns kept:\n{text}")
            body, _ = self.get(u["s3"], env["ol_alias"], "people.json")
            doc = json.loads(body)
            check(doc[0]["contact"]["email"] == "[REDACTED]" and doc[0]["ssn"] == "[REDACTED]"
                  and doc[0]["age"] == 31 and doc[0]["name"] == "[REDACTED]", f"redacted JSON {doc}")

    def example_xml(self):
        f = self.function("ex-xml", "lambda_function.lambda_handler",
                          os.path.join(EXAMPLES, "xml_to_json"))
        with self.setup("xml", f) as env:
            self.s3.put_object(Bucket=env["bucket"], Key="order.xml",
                               Body=b'<order id="7"><item>a</item><item>b</item></order>')
            self.s3.put_object(Bucket=env["bucket"], Key="bad.xml", Body=b"<order><item></order>")
            body, r = self.get(self.s3, env["ol_alias"], "order.xml")
            check(json.loads(body) == {"order": {"@id": "7", "item": ["a", "b"]}}, f"JSON {body!r}")
            check(r["ContentType"] == "application/json", r["ContentType"])
            expect_error(lambda: self.s3.get_object(Bucket=env["ol_alias"], Key="bad.xml"), 400,
                         "InvalidObjectState", what="malformed XML")

    def example_watermark(self):
        try:
            from PIL import Image
        except ImportError as e:
            raise AssertionError(f"Pillow is not installed in the venv: {e}") from e
        f = self.function("ex-watermark", "lambda_function.lambda_handler",
                          os.path.join(EXAMPLES, "watermark"))
        with self.setup("img", f, payload="") as env:
            small = self.caller("thumbs", env, f)
            payload = json.dumps({"default_width": 300, "widths": {small["arn"]: 64}})
            self.control.put_access_point_configuration_for_object_lambda(
                AccountId=ACCOUNT, Name=env["ol"], Configuration={
                    "SupportingAccessPoint": ap_arn(env["ap"]),
                    "TransformationConfigurations": [{"Actions": ["GetObject"], "ContentTransformation": {
                        "AwsLambda": {"FunctionArn": f, "FunctionPayload": payload}}}]})
            buf = io.BytesIO()
            Image.new("RGB", (640, 480), (250, 250, 250)).save(buf, "PNG")
            self.s3.put_object(Bucket=env["bucket"], Key="photo.png", Body=buf.getvalue(),
                               ContentType="image/png")
            big = self.caller("viewer", env, f)
            for user, width in ((small, 64), (big, 300)):
                body, r = self.get(user["s3"], env["ol_alias"], "photo.png")
                img = Image.open(io.BytesIO(body))
                check(img.format == "PNG" and img.width == width, f"{user['name']}: {img.format} {img.size}")
                check(r["ContentType"] == "image/png", r["ContentType"])
            self.s3.put_object(Bucket=env["bucket"], Key="not-an-image.png", Body=b"text")
            expect_error(lambda: self.s3.get_object(Bucket=env["ol_alias"], Key="not-an-image.png"),
                         400, "InvalidObjectState", what="not an image")

    def example_s3ec(self):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        code = os.path.join(self.tmp, "s3ec_reencrypt")
        os.makedirs(code, exist_ok=True)
        with open(os.path.join(EXAMPLES, "s3ec_reencrypt", "lambda_function.py")) as src, \
                open(os.path.join(code, "lambda_function.py"), "w") as dst:
            dst.write(src.read())
        storage_key, caller_key = os.urandom(32), os.urandom(32)
        f = self.function("ex-s3ec", "lambda_function.lambda_handler", code)
        with self.setup("s3ec", f) as env:
            u = self.caller("s3ecuser", env, f)
            other = self.caller("nokey", env, f)
            keys = {"storage_key": base64.b64encode(storage_key).decode(),
                    "callers": {u["arn"]: base64.b64encode(caller_key).decode()}}
            fd = os.open(os.path.join(code, "keys.json"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(keys, fh)
            # The object as the S3 Encryption Client (V2, raw AES keyring "AES/GCM") stores it.
            plaintext = os.urandom(100_000)
            data_key, iv, wrap_iv = os.urandom(32), os.urandom(12), os.urandom(12)
            edk = wrap_iv + AESGCM(storage_key).encrypt(wrap_iv, data_key, b"AES/GCM/NoPadding")
            stored = AESGCM(data_key).encrypt(iv, plaintext, None)
            self.s3.put_object(Bucket=env["bucket"], Key="secret.bin", Body=stored, Metadata={
                "x-amz-key-v2": base64.b64encode(edk).decode(), "x-amz-iv": base64.b64encode(iv).decode(),
                "x-amz-cek-alg": "AES/GCM/NoPadding", "x-amz-wrap-alg": "AES/GCM",
                "x-amz-tag-len": "128", "x-amz-matdesc": "{}"})
            body, r = self.get(u["s3"], env["ol_alias"], "secret.bin")
            md = r["Metadata"]
            check(md.get("x-amz-wrap-alg") == "AES/GCM" and md.get("x-amz-cek-alg") == "AES/GCM/NoPadding",
                  f"S3EC V2 metadata for the caller: {md}")
            edk2 = base64.b64decode(md["x-amz-key-v2"])
            dk2 = AESGCM(caller_key).decrypt(edk2[:12], edk2[12:], b"AES/GCM/NoPadding")
            got = AESGCM(dk2).decrypt(base64.b64decode(md["x-amz-iv"]), body, None)
            check(got == plaintext, "the caller decrypts the re-encrypted object with its own key")
            check(body != stored and dk2 != data_key, "a fresh data key for the caller")
            expect_error(lambda: other["s3"].get_object(Bucket=env["ol_alias"], Key="secret.bin"), 403,
                         "AccessDenied", what="a caller the function holds no key for")
            tampered = bytearray(stored)
            tampered[10] ^= 1
            self.s3.put_object(Bucket=env["bucket"], Key="tampered.bin", Body=bytes(tampered),
                               Metadata=self.s3.head_object(Bucket=env["bucket"], Key="secret.bin")["Metadata"])
            expect_error(lambda: u["s3"].get_object(Bucket=env["ol_alias"], Key="tampered.bin"), 400,
                         "InvalidObjectState", what="a tampered object")

    def bench(self):
        f = self.function("ol-identity", "behaviors.upper", BEHAVIORS)
        n = self.bench_n
        with self.setup("bench", f) as env:
            body = bytes(range(97, 123)) * (1024 * 1024 // 26) + b"a" * (1024 * 1024 % 26)
            self.s3.put_object(Bucket=env["bucket"], Key="mib", Body=body)
            direct, olap = [], []
            self.get(self.s3, env["ol_alias"], "mib")  # warm the function's process
            deadline = time.monotonic() + 240
            for _ in range(n):
                if time.monotonic() > deadline:
                    break
                t0 = time.perf_counter()
                got, _ = self.get(self.s3, env["ap_alias"], "mib")
                direct.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                got2, _ = self.get(self.s3, env["ol_alias"], "mib")
                olap.append(time.perf_counter() - t0)
                check(len(got) == len(got2) == len(body), "1 MiB both ways")

            def p(xs, q):
                xs = sorted(xs)
                return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] * 1000

            fig = {"n": len(direct),
                   "direct_ms": {"median": round(statistics.median(direct) * 1000, 2), "p99": round(p(direct, 0.99), 2)},
                   "object_lambda_ms": {"median": round(statistics.median(olap) * 1000, 2), "p99": round(p(olap, 0.99), 2)}}
            fig["added_ms"] = {"median": round(fig["object_lambda_ms"]["median"] - fig["direct_ms"]["median"], 2),
                               "p99": round(fig["object_lambda_ms"]["p99"] - fig["direct_ms"]["p99"], 2)}
            self.figures["bench_1mib"] = fig
            return json.dumps(fig)


if __name__ == "__main__":
    sys.exit(harness.main(Scenario, __doc__.splitlines()[0]))
