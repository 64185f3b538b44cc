#!/usr/bin/env python3
"""S3 Object Lambda access points: unmodified boto3 (s3control and s3) against `s3crypt serve`.

Usage:
  object_lambda_boto3.py --https https://127.0.0.1:PORT --http http://127.0.0.1:PORT --ca CA.pem
                         --access-key ID --secret SECRET --home DIR --s3crypt PATH
                         [--vpc-endpoint vpce-ID=https://ADDR:PORT] [--only SUBSTR[,...]] [--verbose]

Expected behaviour: ../shared/reference/S3-FEATURES.md §3 (S3 Object Lambda) and §2 (access points).
The control plane uses S3 Control's `…ForObjectLambda` operations; the data plane addresses an Object
Lambda access point (OLAP) by its alias (`…--ol-s3`, path style, signed for `s3`) and by its ARN
(botocore sends `arn:aws:s3-object-lambda:…` as Bucket to the virtual host `NAME-ACCOUNT.localhost:PORT`,
signed for `s3-object-lambda`). Codes S3 does not document (bad name, unknown OLAP, SSE-C through an
OLAP) are the server's documented choices.

A transformed request (an action listed in the OLAP's TransformationConfigurations) that passes every
check reaches the Lambda runtime; this scenario registers no function, so it ends there with 404
LambdaNotFound (tests/interop/object_lambda_functions_boto3.py runs real functions).

Output: as the other scenarios (`ok` / `FAIL` / `skip` lines, a JSON summary, `secrets-used`).
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import sys

import scenario_harness as harness  # first: isolates the process from the machine's AWS configuration

harness.resolve_localhost_subdomains()

from botocore import UNSIGNED  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402
from scenario_harness import (  # noqa: E402
    ALLOW_SSEC, NO_RETRIES, check, describe_exc, err_message, expect_error, ssec_args, status_of,
)

ACCOUNT = "000000000000"
REGION = "us-east-1"
ALIAS_RE = re.compile(r"^[0-9a-z-]{3,63}$")
NOT_WIRED = "The requested lambda resource does not exist."
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:redact"


def policy_doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def olap_arn(name: str) -> str:
    return f"arn:aws:s3-object-lambda:{REGION}:{ACCOUNT}:accesspoint/{name}"


def configuration(ap_arn: str, actions: list[str], *, features: list[str] | None = None,
                  function: str = FUNCTION, payload: str | None = None) -> dict:
    lam = {"FunctionArn": function}
    if payload is not None:
        lam["FunctionPayload"] = payload
    c = {
        "SupportingAccessPoint": ap_arn,
        "TransformationConfigurations": [{"Actions": actions, "ContentTransformation": {"AwsLambda": lam}}],
    }
    if features is not None:
        c["AllowedFeatures"] = features
    return c


def allowed(fn, what: str):
    try:
        return fn()
    except ClientError as e:
        raise AssertionError(f"{what}: expected success, got {describe_exc(e)}") from e


class Scenario(harness.Scenario):
    tmp_prefix = "object_lambda_boto3."
    fail_detail_chars = 1500

    def __init__(self, args) -> None:
        super().__init__(args)
        self.endpoint = re.sub(r"^https://127\.0\.0\.1:", "https://localhost:", args.https)
        self.http_endpoint = args.http
        self.figures["https"] = self.endpoint
        self.s3 = self.client()
        self.s3v = self.client(addressing="virtual")
        self.control = self.make_client("s3control", endpoint=self.endpoint, retries=NO_RETRIES,
                                        parameter_validation=False)

    # -- plumbing ----------------------------------------------------------------------------

    def client(self, *, endpoint: str | None = None, access_key: str | None = None, secret: str | None = None,
               addressing: str = "path", unsigned: bool = False):
        return self.make_client(
            "s3", endpoint=endpoint or self.endpoint, access_key=access_key, secret=secret,
            retries=NO_RETRIES, s3={"addressing_style": addressing},
            **({"signature_version": UNSIGNED} if unsigned else {}),
        )

    def name(self, tag: str) -> str:
        return f"{tag}-{secrets.token_hex(4)}"

    def iam_user(self, tag: str, *statements: dict) -> dict:
        user = f"{tag}-{secrets.token_hex(3)}"
        info = self.create_iam_user(user, {"Version": "2012-10-17", "Statement": list(statements)})
        key, sec = info["AccessKeyId"], info["SecretAccessKey"]
        u = {"name": user, "arn": info.get("Arn") or f"arn:aws:iam::{ACCOUNT}:user/{user}",
             "key": key, "secret": sec, "s3": self.client(access_key=key, secret=sec)}
        self.wait_until_known(u["s3"])
        return u

    @contextlib.contextmanager
    def setup(self, tag: str, *, ssec: bool = False):
        """A bucket with one object `k`, an access point on it and a registry of OLAPs to delete."""
        b = self.name(f"ol-{tag}")
        self.s3.create_bucket(Bucket=b)
        if ssec:
            self.s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=ALLOW_SSEC)
        ap = self.name(f"ap-{tag}")
        olaps: list[str] = []
        try:
            r = self.control.create_access_point(AccountId=ACCOUNT, Name=ap, Bucket=b)
            self.s3.put_object(Bucket=b, Key="k", Body=b"original")
            yield {"bucket": b, "ap": ap, "ap_arn": r["AccessPointArn"], "ap_alias": r["Alias"], "olaps": olaps}
        finally:
            for n in olaps:
                with contextlib.suppress(Exception):
                    self.control.delete_access_point_for_object_lambda(AccountId=ACCOUNT, Name=n)
            with contextlib.suppress(Exception):
                self.control.delete_access_point(AccountId=ACCOUNT, Name=ap)
            with contextlib.suppress(Exception):
                for o in self.s3.list_objects_v2(Bucket=b).get("Contents", []):
                    self.s3.delete_object(Bucket=b, Key=o["Key"])
            with contextlib.suppress(Exception):
                self.s3.delete_bucket(Bucket=b)

    def create_olap(self, env: dict, tag: str, actions: list[str], **kw) -> dict:
        n = self.name(tag)
        r = self.control.create_access_point_for_object_lambda(
            AccountId=ACCOUNT, Name=n, Configuration=configuration(env["ap_arn"], actions, **kw))
        env["olaps"].append(n)
        check(r.get("ObjectLambdaAccessPointArn") == olap_arn(n), f"Create: ObjectLambdaAccessPointArn {r}")
        alias = (r.get("Alias") or {}).get("Value", "")
        check(alias.endswith("--ol-s3") and ALIAS_RE.match(alias) is not None, f"Create: Alias {r.get('Alias')}")
        check((r.get("Alias") or {}).get("Status") in ("READY", "PROVISIONING"), f"Alias Status {r.get('Alias')}")
        return {"name": n, "arn": olap_arn(n), "alias": alias}

    def not_wired(self, fn, what: str) -> None:
        """The request passed every check and reached the Lambda runtime, which knows no such function.
        HEAD answers carry no body: botocore reports the status as the code."""
        e = expect_error(fn, 404, "LambdaNotFound", "404", what=what)
        if e.operation_name != "HeadObject":
            check(err_message(e) == NOT_WIRED, f"{what}: message {err_message(e)!r}")

    # -- the scenario ----------------------------------------------------------------------------

    def run(self) -> None:
        st = self.step
        st("control_create_get_list_configuration_delete", self.control_lifecycle)
        st("control_policy_put_get_status_delete", self.control_policy)
        st("control_errors", self.control_errors)
        st("data_delegated_put_get_list_through_alias_and_arn", self.data_delegated)
        st("data_virtual_host_s3_object_lambda_localhost", self.data_olap_host)
        st("data_transformed_get_reaches_the_lambda_runtime", self.data_transformed)
        st("data_range_without_allowed_feature_is_501", self.data_range)
        st("data_copy_and_bucket_configuration_refused", self.data_refused_ops)
        st("security_anonymous_refused", self.security_anonymous)
        st("security_plain_http_refused", self.security_http)
        st("security_missing_lambda_invoke_function", self.security_lambda)
        st("security_missing_object_lambda_permission", self.security_olap_permission)
        st("security_called_via_condition", self.security_called_via)
        st("security_sse_c_get_head_refused", self.security_ssec)
        if self.args.vpc_endpoints:
            st("security_vpc_endpoint_refused", self.security_vpc)

    # -- control plane ---------------------------------------------------------------------------

    def control_lifecycle(self):
        c = self.control
        with self.setup("life") as env:
            o = self.create_olap(env, "life", ["GetObject", "HeadObject"], features=["GetObject-Range"], payload="{\"x\":1}")
            g = c.get_access_point_for_object_lambda(AccountId=ACCOUNT, Name=o["name"])
            check(g.get("Name") == o["name"], f"Get: Name {g.get('Name')!r}")
            check("CreationDate" in g, f"Get: no CreationDate in {sorted(g)}")
            check(g.get("Alias", {}).get("Value") == o["alias"], f"Get: Alias {g.get('Alias')}")
            pab = g.get("PublicAccessBlockConfiguration", {})
            check(all(pab.get(k) is True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                                                   "RestrictPublicBuckets")), f"Get: PublicAccessBlockConfiguration {pab}")
            listed = c.list_access_points_for_object_lambda(AccountId=ACCOUNT).get("ObjectLambdaAccessPointList", [])
            mine = [x for x in listed if x.get("Name") == o["name"]]
            check(len(mine) == 1 and mine[0].get("ObjectLambdaAccessPointArn") == o["arn"]
                  and mine[0].get("Alias", {}).get("Value") == o["alias"], f"List: {listed}")
            cfg = c.get_access_point_configuration_for_object_lambda(AccountId=ACCOUNT, Name=o["name"])["Configuration"]
            check(cfg.get("SupportingAccessPoint") == env["ap_arn"], f"GetConfiguration: {cfg}")
            check(cfg.get("AllowedFeatures") == ["GetObject-Range"], f"GetConfiguration AllowedFeatures {cfg}")
            t = cfg.get("TransformationConfigurations", [{}])[0]
            check(t.get("Actions") == ["GetObject", "HeadObject"], f"GetConfiguration Actions {t}")
            check(t.get("ContentTransformation", {}).get("AwsLambda") == {"FunctionArn": FUNCTION, "FunctionPayload": "{\"x\":1}"},
                  f"GetConfiguration AwsLambda {t}")
            c.put_access_point_configuration_for_object_lambda(
                AccountId=ACCOUNT, Name=o["name"], Configuration=configuration(env["ap_arn"], ["ListObjectsV2"]))
            cfg = c.get_access_point_configuration_for_object_lambda(AccountId=ACCOUNT, Name=o["name"])["Configuration"]
            check(cfg["TransformationConfigurations"][0]["Actions"] == ["ListObjectsV2"] and not cfg.get("AllowedFeatures"),
                  f"after PutConfiguration: {cfg}")
            # Paging.
            o2 = self.create_olap(env, "life2", ["GetObject"])
            seen, token = [], None
            for _ in range(50):
                r = c.list_access_points_for_object_lambda(AccountId=ACCOUNT, MaxResults=1, **({"NextToken": token} if token else {}))
                page = r.get("ObjectLambdaAccessPointList", [])
                check(len(page) <= 1, f"MaxResults=1 gave {page}")
                seen += [x["Name"] for x in page]
                token = r.get("NextToken")
                if not token:
                    break
            check(o["name"] in seen and o2["name"] in seen, f"paged listing {seen}")
            d = c.delete_access_point_for_object_lambda(AccountId=ACCOUNT, Name=o["name"])
            check(status_of(d) in (200, 204), f"Delete HTTP {status_of(d)}")
            env["olaps"].remove(o["name"])
            expect_error(lambda: c.get_access_point_for_object_lambda(AccountId=ACCOUNT, Name=o["name"]), 404,
                         "NoSuchAccessPoint", what="Get after delete")
            expect_error(lambda: self.s3.get_object(Bucket=o["alias"], Key="k"), None, what="GET through a deleted OLAP's alias")
            return f"alias {o['alias']}"

    def control_policy(self):
        c = self.control
        with self.setup("pol") as env:
            o = self.create_olap(env, "pol", ["GetObject"])
            expect_error(lambda: c.get_access_point_policy_for_object_lambda(AccountId=ACCOUNT, Name=o["name"]), 404,
                         "NoSuchAccessPointPolicy", what="no policy yet")
            doc = policy_doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                              "Action": "s3-object-lambda:Get*", "Resource": o["arn"]})
            c.put_access_point_policy_for_object_lambda(AccountId=ACCOUNT, Name=o["name"], Policy=doc)
            got = c.get_access_point_policy_for_object_lambda(AccountId=ACCOUNT, Name=o["name"])["Policy"]
            check(json.loads(got) == json.loads(doc), f"policy round trip {got}")
            s = c.get_access_point_policy_status_for_object_lambda(AccountId=ACCOUNT, Name=o["name"])
            check(s.get("PolicyStatus", {}).get("IsPublic") is False, f"policy status {s}")
            public = policy_doc({"Effect": "Allow", "Principal": "*", "Action": "s3-object-lambda:GetObject", "Resource": o["arn"]})
            expect_error(lambda: c.put_access_point_policy_for_object_lambda(AccountId=ACCOUNT, Name=o["name"], Policy=public),
                         403, "AccessDenied", what="public OLAP policy")
            expect_error(lambda: c.put_access_point_policy_for_object_lambda(AccountId=ACCOUNT, Name=o["name"], Policy="{nope"),
                         400, "MalformedPolicy", what="malformed policy")
            big = policy_doc(*[{"Sid": f"s{i}", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                "Action": "s3-object-lambda:GetObject", "Resource": o["arn"]} for i in range(200)])
            check(len(big) > 20 * 1024, "the big policy is over 20 KB")
            expect_error(lambda: c.put_access_point_policy_for_object_lambda(AccountId=ACCOUNT, Name=o["name"], Policy=big),
                         400, what="policy over 20 KB")
            c.delete_access_point_policy_for_object_lambda(AccountId=ACCOUNT, Name=o["name"])
            expect_error(lambda: c.get_access_point_policy_for_object_lambda(AccountId=ACCOUNT, Name=o["name"]), 404,
                         "NoSuchAccessPointPolicy", what="after delete")
            return "put/get/status/delete"

    def control_errors(self):
        c = self.control
        with self.setup("err") as env:
            o = self.create_olap(env, "err", ["GetObject"])
            cfg = configuration(env["ap_arn"], ["GetObject"])
            expect_error(lambda: c.create_access_point_for_object_lambda(AccountId=ACCOUNT, Name=o["name"], Configuration=cfg),
                         409, "AccessPointAlreadyOwnedByYou", what="duplicate")
            for bad in ("Upper-Case", "ab", "-lead", "a" * 46, "under_score"):
                try:
                    expect_error(lambda: c.create_access_point_for_object_lambda(AccountId=ACCOUNT, Name=bad, Configuration=cfg),
                                 400, "InvalidRequest", what=f"bad name {bad!r}")
                except AssertionError:
                    env["olaps"].append(bad)
                    raise
            n = self.name("orphan")
            missing = f"arn:aws:s3:{REGION}:{ACCOUNT}:accesspoint/{self.name('nope')}"
            other = f"arn:aws:s3:{REGION}:111122223333:accesspoint/{env['ap']}"
            for sap, what in ((missing, "missing supporting access point"), (other, "another account's access point")):
                try:
                    expect_error(lambda: c.create_access_point_for_object_lambda(
                        AccountId=ACCOUNT, Name=n, Configuration=configuration(sap, ["GetObject"])), 404, "NoSuchAccessPoint", what=what)
                except AssertionError:
                    env["olaps"].append(n)
                    raise
            for bad_cfg, what in (
                (configuration(env["ap_arn"], ["PutObject"]), "unknown action"),
                (configuration(env["ap_arn"], ["GetObject"], features=["PutObject-Range"]), "unknown feature"),
                (configuration("arn:aws:s3:::bucket", ["GetObject"]), "a bucket ARN as supporting access point"),
                (configuration(env["ap_arn"], ["GetObject"], function="arn:aws:lambda:eu-west-1:111122223333:function:f"),
                 "a function of another account"),
            ):
                try:
                    expect_error(lambda: c.create_access_point_for_object_lambda(AccountId=ACCOUNT, Name=n, Configuration=bad_cfg),
                                 400, "InvalidArgument", "InvalidRequest", what=what)
                except AssertionError:
                    env["olaps"].append(n)
                    raise
            expect_error(lambda: c.get_access_point_for_object_lambda(AccountId=ACCOUNT, Name=self.name("unknown")), 404,
                         "NoSuchAccessPoint", what="unknown")
            user = self.iam_user("olnoctl", {"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"})
            uc = self.make_client("s3control", endpoint=self.endpoint, retries=NO_RETRIES,
                                  access_key=user["key"], secret=user["secret"])
            expect_error(lambda: uc.create_access_point_for_object_lambda(AccountId=ACCOUNT, Name=n, Configuration=cfg),
                         403, "AccessDenied", what="IAM user without s3:CreateAccessPointForObjectLambda")
            allowed(lambda: uc.get_access_point_for_object_lambda(AccountId=ACCOUNT, Name=o["name"]), "Get with s3:Get*")
            return "409, 400, 404, 403"

    # -- data plane ----------------------------------------------------------------------------

    def data_delegated(self):
        with self.setup("del") as env:
            # Only ListObjects (V1) is transformed: PUT, GET, HEAD and ListObjectsV2 go to the supporting AP.
            o = self.create_olap(env, "del", ["ListObjects"])
            r = allowed(lambda: self.s3.put_object(Bucket=o["alias"], Key="put-by-alias", Body=b"via olap"), "PUT by alias")
            check(status_of(r) == 200, "PUT by alias")
            check(self.s3.get_object(Bucket=env["bucket"], Key="put-by-alias")["Body"].read() == b"via olap",
                  "the delegated PUT landed in the bucket")
            got = allowed(lambda: self.s3.get_object(Bucket=o["alias"], Key="k"), "GET by alias")["Body"].read()
            check(got == b"original", f"GET by alias {got!r}")
            h = allowed(lambda: self.s3.head_object(Bucket=o["alias"], Key="k"), "HEAD by alias")
            check(h["ContentLength"] == 8, f"HEAD {h['ContentLength']}")
            keys = [x["Key"] for x in allowed(lambda: self.s3.list_objects_v2(Bucket=o["alias"]), "ListObjectsV2 by alias").get("Contents", [])]
            check(sorted(keys) == ["k", "put-by-alias"], f"ListObjectsV2 by alias {keys}")
            got = allowed(lambda: self.s3.get_object(Bucket=o["arn"], Key="k"), "GET by ARN")["Body"].read()
            check(got == b"original", f"GET by ARN {got!r}")
            allowed(lambda: self.s3.put_object(Bucket=o["arn"], Key="put-by-arn", Body=b"arn"), "PUT by ARN")
            allowed(lambda: self.s3.delete_object(Bucket=o["arn"], Key="put-by-arn"), "DELETE by ARN")
            self.not_wired(lambda: self.s3.list_objects(Bucket=o["alias"]), "transformed ListObjects by alias")
            return "PUT/GET/HEAD/LIST/DELETE delegated"

    def data_olap_host(self):
        # https://NAME-ACCOUNT.s3-object-lambda.localhost:PORT: the endpoint `s3-object-lambda.localhost`
        # with virtual-host addressing and `NAME-ACCOUNT` as the bucket.
        host = re.sub(r"^https://localhost:", "https://s3-object-lambda.localhost:", self.endpoint)
        v = self.client(endpoint=host, addressing="virtual")
        with self.setup("vh") as env:
            o = self.create_olap(env, "vh", ["HeadObject"])
            got = allowed(lambda: v.get_object(Bucket=f"{o['name']}-{ACCOUNT}", Key="k"), "GET by OLAP host")["Body"].read()
            check(got == b"original", f"GET by OLAP host {got!r}")
            self.not_wired(lambda: v.head_object(Bucket=f"{o['name']}-{ACCOUNT}", Key="k"), "transformed HEAD by OLAP host")
            expect_error(lambda: v.get_object(Bucket=f"no-such-olap-{ACCOUNT}", Key="k"), 404, what="unknown OLAP host")
            return host

    def data_transformed(self):
        with self.setup("tr") as env:
            o = self.create_olap(env, "tr", ["GetObject", "HeadObject"], payload="redact")
            self.not_wired(lambda: self.s3.get_object(Bucket=o["alias"], Key="k"), "transformed GET by alias")
            self.not_wired(lambda: self.s3.get_object(Bucket=o["arn"], Key="k"), "transformed GET by ARN")
            self.not_wired(lambda: self.s3v.get_object(Bucket=o["alias"], Key="k"), "transformed GET by alias, virtual host")
            self.not_wired(lambda: self.s3.head_object(Bucket=o["alias"], Key="k"), "transformed HEAD")
            allowed(lambda: self.s3.list_objects_v2(Bucket=o["alias"]), "non-transformed ListObjectsV2")
            allowed(lambda: self.s3.put_object(Bucket=o["alias"], Key="k2", Body=b"x"), "PutObject is never transformed")
            return "404 LambdaNotFound at the runtime"

    def data_range(self):
        with self.setup("rng") as env:
            o = self.create_olap(env, "rng", ["GetObject"])
            e = expect_error(lambda: self.s3.get_object(Bucket=o["alias"], Key="k", Range="bytes=0-1"), 501, "NotImplemented",
                             what="Range without GetObject-Range")
            check("GetObject-Range" in err_message(e), f"message {err_message(e)!r}")
            e = expect_error(lambda: self.s3.get_object(Bucket=o["alias"], Key="k", PartNumber=1), 501, "NotImplemented",
                             what="partNumber without GetObject-PartNumber")
            check("GetObject-PartNumber" in err_message(e), f"message {err_message(e)!r}")
            o2 = self.create_olap(env, "rng2", ["GetObject"], features=["GetObject-Range"])
            self.not_wired(lambda: self.s3.get_object(Bucket=o2["alias"], Key="k", Range="bytes=0-1"), "Range allowed")
            return "501 without the feature"

    def data_refused_ops(self):
        with self.setup("ref") as env:
            o = self.create_olap(env, "ref", ["GetObject"])
            expect_error(lambda: self.s3.copy_object(Bucket=env["bucket"], Key="copy", CopySource={"Bucket": o["alias"], "Key": "k"}),
                         501, "NotImplemented", what="CopyObject from an OLAP")
            expect_error(lambda: self.s3.get_bucket_policy(Bucket=o["alias"]), 400, "InvalidRequest", what="GetBucketPolicy")
            expect_error(lambda: self.s3.put_bucket_versioning(Bucket=o["alias"], VersioningConfiguration={"Status": "Enabled"}),
                         400, "InvalidRequest", what="PutBucketVersioning")
            return "copy 501, bucket configuration 400"

    # -- security ------------------------------------------------------------------------------

    def security_anonymous(self):
        with self.setup("anon") as env:
            o = self.create_olap(env, "anon", ["ListObjects"])
            anon = self.client(unsigned=True)
            expect_error(lambda: anon.get_object(Bucket=o["alias"], Key="k"), 403, "AccessDenied", what="anonymous GET by alias")
            expect_error(lambda: anon.put_object(Bucket=o["alias"], Key="a", Body=b"x"), 403, "AccessDenied", what="anonymous PUT")
            return "403"

    def security_http(self):
        with self.setup("http") as env:
            o = self.create_olap(env, "http", ["GetObject"])
            h = self.client(endpoint=self.http_endpoint)
            expect_error(lambda: h.get_object(Bucket=o["alias"], Key="k"), 403, "AccessDenied", what="plain HTTP GET")
            expect_error(lambda: h.put_object(Bucket=o["alias"], Key="h", Body=b"x"), 403, "AccessDenied", what="plain HTTP PUT")
            expect_error(lambda: self.s3.head_object(Bucket=env["bucket"], Key="h"), 404, what="the refused PUT stored nothing")
            return "403"

    def security_vpc(self):
        with self.setup("vpc") as env:
            o = self.create_olap(env, "vpc", ["ListObjects"])
            url = next(iter(self.args.vpc_endpoints.values()))
            v = self.client(endpoint=url)
            allowed(lambda: v.get_object(Bucket=env["ap_alias"], Key="k"), "the supporting AP through the endpoint")
            expect_error(lambda: v.get_object(Bucket=o["alias"], Key="k"), 403, "AccessDenied", what="GET through a VPC endpoint")
            return "403 through the endpoint"

    def security_lambda(self):
        with self.setup("lam") as env:
            o = self.create_olap(env, "lam", ["GetObject"])
            base = [{"Effect": "Allow", "Action": ["s3:*", "s3-object-lambda:*"], "Resource": "*"}]
            without = self.iam_user("olnolam", *base)
            expect_error(lambda: without["s3"].get_object(Bucket=o["alias"], Key="k"), 403, "AccessDenied",
                         what="transformed GET without lambda:InvokeFunction")
            allowed(lambda: without["s3"].put_object(Bucket=o["alias"], Key="p", Body=b"x"),
                    "a delegated PUT needs no lambda:InvokeFunction")
            other_fn = self.iam_user("olotherfn", *base, {"Effect": "Allow", "Action": "lambda:InvokeFunction",
                                                           "Resource": FUNCTION + "-other"})
            expect_error(lambda: other_fn["s3"].get_object(Bucket=o["alias"], Key="k"), 403, "AccessDenied",
                         what="lambda:InvokeFunction on another function")
            for res in (FUNCTION, FUNCTION + ":$LATEST"):
                ok = self.iam_user("ollam", *base, {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": res})
                self.not_wired(lambda: ok["s3"].get_object(Bucket=o["alias"], Key="k"), f"with lambda:InvokeFunction on {res}")
            return "403 without, the runtime with"

    def security_olap_permission(self):
        with self.setup("perm") as env:
            o = self.create_olap(env, "perm", ["GetObject"])
            lam = {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": FUNCTION}
            u = self.iam_user("olnoperm", {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, lam)
            expect_error(lambda: u["s3"].get_object(Bucket=o["alias"], Key="k"), 403, "AccessDenied",
                         what="GET without s3-object-lambda:GetObject")
            expect_error(lambda: u["s3"].put_object(Bucket=o["alias"], Key="x", Body=b"x"), 403, "AccessDenied",
                         what="PUT without s3-object-lambda:PutObject")
            allowed(lambda: u["s3"].get_object(Bucket=env["ap_alias"], Key="k"), "the supporting AP directly")
            # The OLAP policy grants the user (same account: either side suffices).
            self.control.put_access_point_policy_for_object_lambda(AccountId=ACCOUNT, Name=o["name"], Policy=policy_doc(
                {"Effect": "Allow", "Principal": {"AWS": u["arn"]}, "Action": "s3-object-lambda:GetObject", "Resource": o["arn"]}))
            self.not_wired(lambda: u["s3"].get_object(Bucket=o["alias"], Key="k"), "GET allowed by the OLAP policy")
            expect_error(lambda: u["s3"].put_object(Bucket=o["alias"], Key="x", Body=b"x"), 403, "AccessDenied",
                         what="PUT still not allowed")
            # An explicit Deny in the OLAP policy wins over the identity policy.
            v = self.iam_user("oldeny", {"Effect": "Allow", "Action": ["s3:*", "s3-object-lambda:*"], "Resource": "*"}, lam)
            self.control.put_access_point_policy_for_object_lambda(AccountId=ACCOUNT, Name=o["name"], Policy=policy_doc(
                {"Effect": "Deny", "Principal": {"AWS": v["arn"]}, "Action": "s3-object-lambda:*", "Resource": o["arn"]}))
            expect_error(lambda: v["s3"].get_object(Bucket=o["alias"], Key="k"), 403, "AccessDenied", what="explicit Deny")
            return "403 without s3-object-lambda:*"

    def security_called_via(self):
        with self.setup("cv") as env:
            o = self.create_olap(env, "cv", ["ListObjects"])
            u = self.iam_user("olcv", {"Effect": "Allow", "Action": "s3-object-lambda:*", "Resource": "*"},
                              {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                               "Condition": {"ForAnyValue:StringEquals": {"aws:CalledVia": ["s3-object-lambda.amazonaws.com"]}}})
            got = allowed(lambda: u["s3"].get_object(Bucket=o["alias"], Key="k"), "GET through the OLAP (CalledVia)")["Body"].read()
            check(got == b"original", "body")
            expect_error(lambda: u["s3"].get_object(Bucket=env["ap_alias"], Key="k"), 403, "AccessDenied",
                         what="the supporting AP directly (no CalledVia)")
            return "aws:CalledVia = s3-object-lambda.amazonaws.com"

    def security_ssec(self):
        with self.setup("ssec", ssec=True) as env:
            key = secrets.token_bytes(32)
            self.s3.put_object(Bucket=env["bucket"], Key="secret", Body=b"sse-c body", **ssec_args(key))
            got = allowed(lambda: self.s3.get_object(Bucket=env["ap_alias"], Key="secret", **ssec_args(key)),
                          "SSE-C GET through the supporting AP")["Body"].read()
            check(got == b"sse-c body", "SSE-C body")
            for actions in (["ListObjects"], ["GetObject", "HeadObject"]):
                o = self.create_olap(env, "ssec", actions)
                expect_error(lambda: self.s3.get_object(Bucket=o["alias"], Key="secret", **ssec_args(key)), 400, "InvalidRequest",
                             what=f"SSE-C GET through an OLAP transforming {actions}")
                expect_error(lambda: self.s3.head_object(Bucket=o["alias"], Key="secret", **ssec_args(key)), 400,
                             what=f"SSE-C HEAD through an OLAP transforming {actions}")
            return "400 InvalidRequest"


if __name__ == "__main__":
    sys.exit(harness.main(Scenario, "S3 Object Lambda access points with boto3 against `s3crypt serve`.",
                          https_help="https://127.0.0.1:PORT (used as https://localhost:PORT)"))
