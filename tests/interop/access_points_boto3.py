#!/usr/bin/env python3
"""Access points: unmodified boto3 (s3 and s3control) against `s3crypt serve`.

Usage:
  access_points_boto3.py --https https://127.0.0.1:PORT --http http://127.0.0.1:PORT --ca CA.pem
                         --access-key ID --secret SECRET --home DIR --s3crypt PATH
                         [--region us-east-1] [--only SUBSTR[,SUBSTR...]] [--verbose]

Expected behaviour: ../shared/reference/S3-FEATURES.md §2 (Access points), §10 (Block Public Access
on new buckets) and §11 (authorization logic), §12 item 9. The steps assert S3's documented behaviour,
never the server's where they differ. Error codes S3 does not document for S3 Control (bad name,
duplicate name, unknown access point) are the ones moto uses, as listed in S3-FEATURES §2.2.

The endpoint is `https://localhost:PORT` (the server's certificate covers `localhost` and
`*.localhost`): botocore's s3control client puts the account id in front of the host
(`000000000000.localhost:PORT`), and an access point ARN used as Bucket becomes the virtual host
`NAME-000000000000.localhost:PORT`. `socket.getaddrinfo` is patched so every `*.localhost` name is
127.0.0.1 (RFC 6761; glibc without systemd-resolved does not resolve them).

Output (stdout, line-buffered), one line per step; the step name is always the second
whitespace-separated token and never contains spaces:
  ok <step>[ (detail)]
  FAIL <step>: <detail>
  skip <step> (<why>)
then one JSON line: {"steps": N, "failed": M, "skipped": K, "ok": ..., "failed_steps": [...], ...}
and one `secrets-used [...]` line (IAM users' secret keys), which the Rust side checks are absent from
the server's log.
Exit status: 0 if no step failed, 1 if any did, 2 on bad usage.

Every step is independent: it makes its own uniquely named bucket(s) and access points and removes
them whatever happens. `--home` and `--s3crypt` are used for the CLI (`iam create-user`), run on the
server's home while it serves. The aws CLI step runs `awscli` (v1, installed by scripts/venv.sh) in
this interpreter, with the same getaddrinfo patch; it is skipped when awscli is not installed.

Only boto3 / botocore / awscli / stdlib are used.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import subprocess
import sys
import time

import scenario_harness as harness  # first: isolates the process from the machine's AWS configuration

# Virtual hosts under `localhost` (`000000000000.localhost`, `NAME-000000000000.localhost`).
harness.resolve_localhost_subdomains()

from botocore import UNSIGNED  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402
from scenario_harness import (  # noqa: E402
    NO_RETRIES, StepSkip, check, describe_exc, expect_error, http_status, short, status_of,
)


ACCOUNT = "000000000000"
OTHER_ACCOUNT = "111122223333"
AP_ARN_PREFIX = f"arn:aws:s3:us-east-1:{ACCOUNT}:accesspoint/"
ALIAS_RE = re.compile(r"^[0-9a-z-]{1,63}$")

# Run by the aws CLI step: the CLI in this interpreter, with `*.localhost` resolving to 127.0.0.1.
AWS_CLI_SHIM = """
import socket, sys
_g = socket.getaddrinfo
def _l(host, *a, **k):
    if isinstance(host, str) and host.lower().endswith('.localhost'):
        host = '127.0.0.1'
    return _g(host, *a, **k)
socket.getaddrinfo = _l
from awscli.clidriver import main
sys.exit(main())
"""


def allowed(fn, what: str):
    """fn() must succeed; a ClientError becomes an AssertionError naming `what`."""
    try:
        return fn()
    except ClientError as e:
        raise AssertionError(f"{what}: expected success, got {describe_exc(e)}") from e


def ap_arn(name: str) -> str:
    return AP_ARN_PREFIX + name


def policy_doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


class Scenario(harness.Scenario):
    tmp_prefix = "access_points_boto3."
    fail_detail_chars = 1500

    def __init__(self, args) -> None:
        super().__init__(args)
        # https://localhost:PORT: the s3control host prefix and ARN virtual hosts live under it.
        self.endpoint = re.sub(r"^https://127\.0\.0\.1:", "https://localhost:", args.https)
        self.http_endpoint = args.http
        self.figures["https"] = self.endpoint
        self.s3 = self.client()
        self.s3v = self.client(addressing="virtual")
        self.control = self.control_client()

    # -- plumbing -----------------------------------------------------------

    def client(self, *, endpoint: str | None = None, access_key: str | None = None,
               secret: str | None = None, addressing: str = "path", unsigned: bool = False,
               signature: str | None = None):
        """An S3 client. Path style for bucket names and aliases; `addressing="virtual"` for access point
        ARNs as Bucket (botocore refuses ARNs with path style and sends them to NAME-ACCOUNT.HOST)."""
        return self.make_client(
            "s3", endpoint=endpoint or self.endpoint, access_key=access_key, secret=secret,
            retries=NO_RETRIES, s3={"addressing_style": addressing},
            **({"signature_version": UNSIGNED} if unsigned else {"signature_version": signature} if signature else {}),
        )

    def control_client(self, *, access_key: str | None = None, secret: str | None = None):
        """An S3 Control client; parameter validation off so that invalid names reach the server."""
        return self.make_client("s3control", endpoint=self.endpoint, access_key=access_key, secret=secret,
                                retries=NO_RETRIES, parameter_validation=False)

    def iam_user(self, tag: str, policy: dict) -> dict:
        """A new IAM user with `policy` as its inline policy: {"name", "arn", "s3", "s3v", "control"},
        once the server knows its key."""
        user = f"{tag}-{secrets.token_hex(3)}"
        info = self.create_iam_user(user, policy)
        key, sec = info["AccessKeyId"], info["SecretAccessKey"]
        u = {
            "name": user,
            "arn": info.get("Arn") or f"arn:aws:iam::{ACCOUNT}:user/{user}",
            "s3": self.client(access_key=key, secret=sec),
            "s3v": self.client(access_key=key, secret=sec, addressing="virtual"),
            "control": self.control_client(access_key=key, secret=sec),
        }
        self.wait_until_known(u["s3"])
        return u

    def name(self, tag: str) -> str:
        return f"{tag}-{secrets.token_hex(4)}"[:50]

    @contextlib.contextmanager
    def bucket(self, tag: str):
        """A fresh bucket (Block Public Access on, as every new bucket), emptied and deleted afterwards."""
        b = self.name(f"ap-{tag}")
        self.s3.create_bucket(Bucket=b)
        try:
            yield b
        finally:
            self.nuke(b)

    def nuke(self, b: str) -> None:
        s3 = self.s3
        with contextlib.suppress(Exception):
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=b):
                for o in page.get("Contents", []):
                    with contextlib.suppress(Exception):
                        s3.delete_object(Bucket=b, Key=o["Key"])
        with contextlib.suppress(Exception):
            s3.delete_bucket(Bucket=b)

    @contextlib.contextmanager
    def access_points(self):
        """Collects access point names to delete afterwards, whatever happens."""
        made: list[str] = []
        try:
            yield made
        finally:
            for n in made:
                with contextlib.suppress(Exception):
                    self.control.delete_access_point(AccountId=ACCOUNT, Name=n)

    def create_ap(self, made: list[str], tag: str, bucket: str, **kw) -> dict:
        n = self.name(tag)
        r = self.control.create_access_point(AccountId=ACCOUNT, Name=n, Bucket=bucket, **kw)
        made.append(n)
        check(r.get("AccessPointArn") == ap_arn(n), f"CreateAccessPoint {n}: AccessPointArn {r.get('AccessPointArn')!r}")
        alias = r.get("Alias") or ""
        check(alias.endswith("-s3alias") and len(alias) <= 63 and ALIAS_RE.match(alias),
              f"CreateAccessPoint {n}: Alias {alias!r} (want [0-9a-z-], <=63, ending -s3alias)")
        return {"name": n, "arn": r["AccessPointArn"], "alias": alias}

    def all_ap_names(self, **kw) -> list[str]:
        names, token = [], None
        for _ in range(1000):
            args = dict(kw)
            if token:
                args["NextToken"] = token
            r = self.control.list_access_points(AccountId=ACCOUNT, **args)
            names += [a["Name"] for a in r.get("AccessPointList", [])]
            token = r.get("NextToken")
            if not token:
                return names
        raise AssertionError("ListAccessPoints never ended")

    # -- the scenario --------------------------------------------------------------------

    def run(self) -> None:
        st = self.step
        st("control_create_get_list_delete", self.control_lifecycle)
        st("control_list_paging", self.control_paging)
        st("control_errors", self.control_errors)
        st("control_access_point_policy_and_status", self.control_policy)
        st("control_public_policy_blocked", self.control_public_policy)
        st("control_iam_user_without_create_permission", self.control_iam)
        st("control_other_account_refused", self.control_other_account)
        st("control_aws_cli_list_access_points", self.control_aws_cli)
        st("policy_delegation_bucket_policy_not_public_under_bpa", self.policy_delegation_not_public)
        st("policy_finance_sales_analytics", self.policy_finance_sales_analytics)
        st("policy_root_without_access_point_policy", self.policy_root)
        st("policy_data_access_point_arn_condition", self.policy_ap_arn_condition)
        st("policy_copy_source_access_point_object_arn", self.policy_copy_source_arn)
        st("policy_both_gates_required", self.policy_both_gates)
        st("policy_identity_policy_naming_access_point_arns", self.policy_identity_on_ap)
        st("policy_delegation_to_another_account_does_not_open_bucket", self.policy_delegation_other)
        st("policy_explicit_deny_wins", self.policy_explicit_deny)
        st("policy_multipart_batch_delete_and_odd_keys_through_access_point", self.policy_multipart)
        st("transport_plain_http_through_alias_refused", self.transport_http)
        st("transport_anonymous_through_alias_refused", self.transport_anonymous)
        st("transport_presigned_url_through_alias", self.transport_presigned)
        st("transport_bucket_configuration_through_alias_refused", self.transport_bucket_config)
        st("transport_bucket_reads_through_alias", self.transport_bucket_reads_through_alias)
        st("transport_vpc_access_point_refused", self.transport_vpc)
        if self.args.vpc_endpoints:
            st("vpc_access_point_only_through_an_endpoint_of_its_vpc", self.vpc_reachability)
            st("vpc_endpoint_policy_must_allow_bucket_and_access_point", self.vpc_endpoint_policy)
            st("vpc_source_vpce_and_source_vpc_conditions", self.vpc_conditions)
            st("vpc_aws_cli_through_the_endpoint", self.vpc_aws_cli)

    # -- 1. control plane ------------------------------------------------------------------

    def control_lifecycle(self):
        c = self.control
        with self.bucket("shared") as b, self.access_points() as made:
            aps = [self.create_ap(made, t, b) for t in ("finance", "sales", "analytics")]
            check(len({a["alias"] for a in aps}) == 3, f"three distinct aliases: {[a['alias'] for a in aps]}")
            for a in aps:
                g = c.get_access_point(AccountId=ACCOUNT, Name=a["name"])
                check(g.get("Name") == a["name"], f"GetAccessPoint Name {g.get('Name')!r}")
                check(g.get("Bucket") == b, f"GetAccessPoint Bucket {g.get('Bucket')!r}, want {b}")
                check(g.get("NetworkOrigin") == "Internet", f"GetAccessPoint NetworkOrigin {g.get('NetworkOrigin')!r}")
                check(g.get("Alias") == a["alias"], f"GetAccessPoint Alias {g.get('Alias')!r}, created {a['alias']!r}")
                check(g.get("AccessPointArn") == a["arn"], f"GetAccessPoint AccessPointArn {g.get('AccessPointArn')!r}")
                check("CreationDate" in g, f"GetAccessPoint has no CreationDate: {sorted(g)}")
                # All four Block Public Access settings are on by default (UG access-points-bpa-settings).
                pab = g.get("PublicAccessBlockConfiguration", {})
                check(all(pab.get(k) is True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                                                       "RestrictPublicBuckets")),
                      f"GetAccessPoint default PublicAccessBlockConfiguration {pab}")
                check("VpcConfiguration" not in g or not g["VpcConfiguration"].get("VpcId"),
                      f"Internet access point with a VpcConfiguration: {g.get('VpcConfiguration')}")
            every = self.all_ap_names()
            check(all(a["name"] in every for a in aps), f"ListAccessPoints (all) lacks some of {[a['name'] for a in aps]}: {every}")
            r = c.list_access_points(AccountId=ACCOUNT, Bucket=b)
            listed = r.get("AccessPointList", [])
            check(sorted(x["Name"] for x in listed) == sorted(a["name"] for a in aps),
                  f"ListAccessPoints(Bucket={b}): {[x['Name'] for x in listed]}")
            for x in listed:
                a = next(a for a in aps if a["name"] == x["Name"])
                check(x.get("Bucket") == b and x.get("NetworkOrigin") == "Internet"
                      and x.get("AccessPointArn") == a["arn"] and x.get("Alias") == a["alias"],
                      f"ListAccessPoints entry {x}")
            with self.bucket("other") as b2:
                check(self.all_ap_names(Bucket=b2) == [], f"ListAccessPoints for a bucket without access points: {self.all_ap_names(Bucket=b2)}")
            gone = aps[0]["name"]
            d = c.delete_access_point(AccountId=ACCOUNT, Name=gone)
            check(status_of(d) in (200, 204), f"DeleteAccessPoint HTTP {status_of(d)}")
            made.remove(gone)
            expect_error(lambda: c.get_access_point(AccountId=ACCOUNT, Name=gone), 404, "NoSuchAccessPoint",
                         what="GetAccessPoint after delete")
            expect_error(lambda: self.s3.get_object(Bucket=aps[0]["alias"], Key="x"), None,
                         what="GET through the alias of a deleted access point")
            left = sorted(self.all_ap_names(Bucket=b))
            check(left == sorted(a["name"] for a in aps[1:]), f"ListAccessPoints after delete: {left}")
            return f"3 access points on {b}; aliases like {aps[0]['alias']}"

    def control_paging(self):
        c = self.control
        with self.bucket("paging") as b, self.access_points() as made:
            names = sorted(self.create_ap(made, t, b)["name"] for t in ("finance", "sales", "analytics"))
            seen, token, pages = [], None, 0
            while True:
                kw = {"NextToken": token} if token else {}
                r = c.list_access_points(AccountId=ACCOUNT, Bucket=b, MaxResults=1, **kw)
                pages += 1
                page = [x["Name"] for x in r.get("AccessPointList", [])]
                check(len(page) <= 1, f"MaxResults=1 returned {page}")
                seen += page
                token = r.get("NextToken")
                if not token or pages > 10:
                    break
            check(sorted(seen) == names and len(seen) == 3, f"paged listing {seen}, want {names}")
            check(pages in (3, 4), f"{pages} pages for 3 access points with MaxResults=1")
            r = c.list_access_points(AccountId=ACCOUNT, Bucket=b, MaxResults=2)
            check(len(r.get("AccessPointList", [])) == 2 and r.get("NextToken"),
                  f"MaxResults=2 of 3: {len(r.get('AccessPointList', []))} entries, NextToken {r.get('NextToken')!r}")
            return f"{pages} pages"

    def control_errors(self):
        c = self.control
        with self.bucket("errors") as b, self.access_points() as made:
            a = self.create_ap(made, "dup", b)
            expect_error(lambda: c.create_access_point(AccountId=ACCOUNT, Name=a["name"], Bucket=b),
                         409, "AccessPointAlreadyOwnedByYou", what="duplicate name")
            for bad in ("Finance-Upper", "ab", "reports-s3alias", "-leading", "under_score", "a" * 51):
                try:
                    expect_error(lambda: c.create_access_point(AccountId=ACCOUNT, Name=bad, Bucket=b),
                                 400, "InvalidRequest", what=f"bad name {bad!r}")
                except AssertionError:
                    with contextlib.suppress(Exception):
                        c.delete_access_point(AccountId=ACCOUNT, Name=bad)
                    raise
            missing = self.name("no-such-bucket")
            n = self.name("orphan")
            try:
                expect_error(lambda: c.create_access_point(AccountId=ACCOUNT, Name=n, Bucket=missing),
                             404, "NoSuchBucket", what="missing bucket")
            except AssertionError:
                made.append(n)
                raise
            unknown = self.name("unknown")
            expect_error(lambda: c.get_access_point(AccountId=ACCOUNT, Name=unknown), 404, "NoSuchAccessPoint",
                         what="GetAccessPoint unknown")
            expect_error(lambda: c.delete_access_point(AccountId=ACCOUNT, Name=unknown), 404, "NoSuchAccessPoint",
                         what="DeleteAccessPoint unknown")
            expect_error(lambda: c.get_access_point_policy(AccountId=ACCOUNT, Name=unknown), 404, "NoSuchAccessPoint",
                         what="GetAccessPointPolicy of an unknown access point")
            expect_error(lambda: c.get_access_point_policy(AccountId=ACCOUNT, Name=a["name"]), 404,
                         "NoSuchAccessPointPolicy", what="GetAccessPointPolicy when none is set")
            return "409 duplicate, 400 bad names, 404 bucket/access point/policy"

    def control_policy(self):
        c = self.control
        with self.bucket("policy") as b, self.access_points() as made:
            a = self.create_ap(made, "finance", b)
            pol = policy_doc({
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": ["s3:GetObject"],
                "Resource": f"{a['arn']}/object/*",
            })
            r = c.put_access_point_policy(AccountId=ACCOUNT, Name=a["name"], Policy=pol)
            check(status_of(r) in (200, 204), f"PutAccessPointPolicy HTTP {status_of(r)}")
            got = c.get_access_point_policy(AccountId=ACCOUNT, Name=a["name"]).get("Policy")
            check(got is not None and json.loads(got) == json.loads(pol), f"GetAccessPointPolicy {got!r}")
            s = c.get_access_point_policy_status(AccountId=ACCOUNT, Name=a["name"])
            check(s.get("PolicyStatus", {}).get("IsPublic") is False, f"account-scoped policy status {s.get('PolicyStatus')}")
            # Put replaces.
            pol2 = policy_doc({
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": f"{a['arn']}/object/finance/*",
            })
            c.put_access_point_policy(AccountId=ACCOUNT, Name=a["name"], Policy=pol2)
            got = c.get_access_point_policy(AccountId=ACCOUNT, Name=a["name"]).get("Policy")
            check(json.loads(got) == json.loads(pol2), f"GetAccessPointPolicy after replacing {got!r}")
            r = c.delete_access_point_policy(AccountId=ACCOUNT, Name=a["name"])
            check(status_of(r) in (200, 204), f"DeleteAccessPointPolicy HTTP {status_of(r)}")
            expect_error(lambda: c.get_access_point_policy(AccountId=ACCOUNT, Name=a["name"]), 404,
                         "NoSuchAccessPointPolicy", what="GetAccessPointPolicy after delete")
            return "put/get/replace/delete; IsPublic false"

    def control_public_policy(self):
        c = self.control
        with self.bucket("public") as b, self.access_points() as made:
            blocked = self.create_ap(made, "blocked", b, PublicAccessBlockConfiguration={
                "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True})
            g = c.get_access_point(AccountId=ACCOUNT, Name=blocked["name"])
            check(g.get("PublicAccessBlockConfiguration", {}).get("BlockPublicPolicy") is True,
                  f"GetAccessPoint PublicAccessBlockConfiguration {g.get('PublicAccessBlockConfiguration')}")
            public = policy_doc({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                 "Resource": f"{blocked['arn']}/object/*"})
            expect_error(lambda: c.put_access_point_policy(AccountId=ACCOUNT, Name=blocked["name"], Policy=public),
                         403, "AccessDenied", what="public policy while BlockPublicPolicy")
            expect_error(lambda: c.get_access_point_policy(AccountId=ACCOUNT, Name=blocked["name"]), 404,
                         "NoSuchAccessPointPolicy", what="the refused policy was not stored")
            # The same policy on an access point without BlockPublicPolicy is stored and reported public.
            openap = self.create_ap(made, "open", b, PublicAccessBlockConfiguration={
                "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False,
                "RestrictPublicBuckets": False})
            public2 = policy_doc({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                  "Resource": f"{openap['arn']}/object/*"})
            # The bucket's BlockPublicPolicy (on for new buckets, §10) also refuses public policies of
            # its same-account access points (UG access-control-block-public-access, BlockPublicPolicy).
            expect_error(lambda: c.put_access_point_policy(AccountId=ACCOUNT, Name=openap["name"], Policy=public2),
                         403, "AccessDenied", what="public policy on an open access point of a BPA bucket")
            self.s3.delete_public_access_block(Bucket=b)
            c.put_access_point_policy(AccountId=ACCOUNT, Name=openap["name"], Policy=public2)
            s = c.get_access_point_policy_status(AccountId=ACCOUNT, Name=openap["name"])
            check(s.get("PolicyStatus", {}).get("IsPublic") is True, f"public policy status {s.get('PolicyStatus')}")
            return "403 with the access point's or the bucket's BlockPublicPolicy; IsPublic true without both"

    def control_iam(self):
        with self.bucket("iam") as b, self.access_points() as made:
            a = self.create_ap(made, "finance", b)
            u = self.iam_user("ap-reader", {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": ["s3:GetAccessPoint", "s3:ListAccessPoints"],
                "Resource": "*"}]})
            uc = u["control"]
            n = self.name("denied")
            try:
                expect_error(lambda: uc.create_access_point(AccountId=ACCOUNT, Name=n, Bucket=b), 403,
                             "AccessDenied", what="CreateAccessPoint without s3:CreateAccessPoint")
            except AssertionError:
                made.append(n)
                raise
            g = uc.get_access_point(AccountId=ACCOUNT, Name=a["name"])
            check(g.get("Name") == a["name"], f"GetAccessPoint with s3:GetAccessPoint: {g.get('Name')!r}")
            expect_error(lambda: uc.delete_access_point(AccountId=ACCOUNT, Name=a["name"]), 403, "AccessDenied",
                         what="DeleteAccessPoint without s3:DeleteAccessPoint")
            expect_error(lambda: uc.put_access_point_policy(
                AccountId=ACCOUNT, Name=a["name"],
                Policy=policy_doc({"Effect": "Allow", "Principal": {"AWS": u["arn"]}, "Action": "s3:*",
                                   "Resource": f"{a['arn']}/object/*"})),
                403, "AccessDenied", what="PutAccessPointPolicy without s3:PutAccessPointPolicy")
            # A user allowed to create only one named access point.
            n2 = self.name("mine")
            w = self.iam_user("ap-writer", {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "s3:CreateAccessPoint", "Resource": ap_arn(n2)}]})
            try:
                r = w["control"].create_access_point(AccountId=ACCOUNT, Name=n2, Bucket=b)
            finally:
                made.append(n2)
            check(r.get("AccessPointArn") == ap_arn(n2), f"CreateAccessPoint by the allowed user: {r.get('AccessPointArn')!r}")
            n3 = self.name("notmine")
            try:
                expect_error(lambda: w["control"].create_access_point(AccountId=ACCOUNT, Name=n3, Bucket=b), 403,
                             "AccessDenied", what="CreateAccessPoint of a name the policy does not cover")
            except AssertionError:
                made.append(n3)
                raise
            return "403 without the action; allowed per access point ARN"

    def control_other_account(self):
        with self.bucket("acct") as b:
            n = self.name("foreign")
            try:
                expect_error(lambda: self.control.create_access_point(AccountId=OTHER_ACCOUNT, Name=n, Bucket=b),
                             403, "AccessDenied", what=f"CreateAccessPoint with AccountId {OTHER_ACCOUNT}")
            except AssertionError:
                with contextlib.suppress(Exception):
                    self.control.delete_access_point(AccountId=OTHER_ACCOUNT, Name=n)
                raise
            expect_error(lambda: self.control.list_access_points(AccountId=OTHER_ACCOUNT), 403, "AccessDenied",
                         what=f"ListAccessPoints with AccountId {OTHER_ACCOUNT}")
            return "403"

    def control_aws_cli(self):
        try:
            import awscli  # noqa: F401
        except ImportError:
            raise StepSkip("awscli is not installed in this interpreter")
        with self.bucket("cli") as b, self.access_points() as made:
            a = self.create_ap(made, "cli", b)
            env = dict(os.environ)
            env.update({"AWS_ACCESS_KEY_ID": self.args.access_key, "AWS_SECRET_ACCESS_KEY": self.args.secret,
                        "AWS_DEFAULT_REGION": self.region, "AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1"})
            p = subprocess.run(
                [sys.executable, "-c", AWS_CLI_SHIM, "s3control", "list-access-points",
                 "--account-id", ACCOUNT, "--bucket", b, "--endpoint-url", self.endpoint,
                 "--ca-bundle", self.args.ca, "--output", "json"],
                capture_output=True, text=True, timeout=120, env=env)
            check(p.returncode == 0, f"aws s3control list-access-points exit {p.returncode}: {short(p.stderr, 600)}")
            out = json.loads(p.stdout)
            names = [x["Name"] for x in out.get("AccessPointList", [])]
            check(names == [a["name"]], f"aws s3control list-access-points: {names}")
            p = subprocess.run(
                [sys.executable, "-c", AWS_CLI_SHIM, "s3control", "get-access-point",
                 "--account-id", ACCOUNT, "--name", a["name"], "--endpoint-url", self.endpoint,
                 "--ca-bundle", self.args.ca, "--output", "json"],
                capture_output=True, text=True, timeout=120, env=env)
            check(p.returncode == 0, f"aws s3control get-access-point exit {p.returncode}: {short(p.stderr, 600)}")
            got = json.loads(p.stdout)
            check(got.get("Alias") == a["alias"] and got.get("Bucket") == b, f"aws s3control get-access-point: {got}")
            import awscli
            return f"awscli {awscli.__version__}"

    # -- 2. policies: the finance/sales/analytics scenario ----------------------------------

    @staticmethod
    def delegation_policy(b: str) -> str:
        return policy_doc({
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "*",
            "Resource": [f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*"],
            "Condition": {"StringEquals": {"s3:DataAccessPointAccount": ACCOUNT}},
        })

    def policy_delegation_not_public(self):
        # A Principal "*" policy whose Condition fixes s3:DataAccessPointAccount is not public (S3's
        # "meaning of public"), so Block Public Access (on for new buckets, §10) does not refuse it.
        with self.bucket("bpa") as b:
            pab = self.s3.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"]
            check(pab.get("BlockPublicPolicy") is True, f"new bucket PublicAccessBlock {pab}")
            self.s3.put_bucket_policy(Bucket=b, Policy=self.delegation_policy(b))
            st = self.s3.get_bucket_policy_status(Bucket=b)["PolicyStatus"]
            check(st.get("IsPublic") is False, f"GetBucketPolicyStatus of the delegation policy {st}")
            return "accepted with BlockPublicPolicy on; IsPublic false"

    def policy_finance_sales_analytics(self):
        s3, c = self.s3, self.control
        with self.bucket("shared") as b, self.access_points() as made:
            # The delegation policy: the bucket defers to the account's access points.
            with contextlib.suppress(ClientError):
                s3.delete_public_access_block(Bucket=b)
            s3.put_bucket_policy(Bucket=b, Policy=self.delegation_policy(b))
            s3.put_object(Bucket=b, Key="finance/q1.csv", Body=b"finance q1")
            s3.put_object(Bucket=b, Key="sales/q1.csv", Body=b"sales q1")
            s3.put_object(Bucket=b, Key="hr/salaries.csv", Body=b"hr")
            fin = self.create_ap(made, "finance", b)
            sal = self.create_ap(made, "sales", b)
            ana = self.create_ap(made, "analytics", b)
            # Identity policies name no bucket or object: the access point policies do the granting
            # (same account: a resource-policy Allow is enough, §11.1). The analyst's names only the
            # analytics access point's ARNs.
            nothing = {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}
            fu = self.iam_user("finance-user", nothing)
            su = self.iam_user("sales-user", nothing)
            an = self.iam_user("analyst", {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": [ana["arn"], f"{ana['arn']}/object/*"]}]})

            def rw_prefix(ap: dict, user: dict, prefix: str) -> str:
                return policy_doc(
                    {"Effect": "Allow", "Principal": {"AWS": user["arn"]},
                     "Action": ["s3:GetObject", "s3:PutObject"],
                     "Resource": f"{ap['arn']}/object/{prefix}/*"},
                    {"Effect": "Allow", "Principal": {"AWS": user["arn"]}, "Action": "s3:ListBucket",
                     "Resource": ap["arn"], "Condition": {"StringLike": {"s3:prefix": f"{prefix}/*"}}},
                )
            c.put_access_point_policy(AccountId=ACCOUNT, Name=fin["name"], Policy=rw_prefix(fin, fu, "finance"))
            c.put_access_point_policy(AccountId=ACCOUNT, Name=sal["name"], Policy=rw_prefix(sal, su, "sales"))
            c.put_access_point_policy(AccountId=ACCOUNT, Name=ana["name"], Policy=policy_doc(
                {"Effect": "Allow", "Principal": {"AWS": an["arn"]}, "Action": "s3:GetObject",
                 "Resource": f"{ana['arn']}/object/*"},
                {"Effect": "Allow", "Principal": {"AWS": an["arn"]}, "Action": "s3:ListBucket",
                 "Resource": ana["arn"]}))

            def denied(fn, what):
                expect_error(fn, 403, "AccessDenied", what=what)

            # finance-user: read/write finance/ through the finance access point, by alias and by ARN.
            f3, f3v = fu["s3"], fu["s3v"]
            body = f3.get_object(Bucket=fin["alias"], Key="finance/q1.csv")["Body"].read()
            check(body == b"finance q1", f"finance-user GET finance/q1.csv by alias: {body!r}")
            body = f3v.get_object(Bucket=fin["arn"], Key="finance/q1.csv")["Body"].read()
            check(body == b"finance q1", f"finance-user GET finance/q1.csv by ARN: {body!r}")
            f3.put_object(Bucket=fin["alias"], Key="finance/q2.csv", Body=b"finance q2")
            f3v.put_object(Bucket=fin["arn"], Key="finance/q3.csv", Body=b"finance q3")
            check(s3.get_object(Bucket=b, Key="finance/q2.csv")["Body"].read() == b"finance q2",
                  "the object written through the alias is in the bucket")
            check(s3.get_object(Bucket=b, Key="finance/q3.csv")["Body"].read() == b"finance q3",
                  "the object written through the ARN is in the bucket")
            h = f3.head_object(Bucket=fin["alias"], Key="finance/q2.csv")
            check(h.get("ContentLength") == len(b"finance q2"), f"HEAD through the alias: {h.get('ContentLength')}")
            lst = f3.list_objects_v2(Bucket=fin["alias"], Prefix="finance/")
            keys = sorted(o["Key"] for o in lst.get("Contents", []))
            check(keys == ["finance/q1.csv", "finance/q2.csv", "finance/q3.csv"], f"finance-user list finance/ by alias: {keys}")
            lst = f3v.list_objects_v2(Bucket=fin["arn"], Prefix="finance/")
            keys = sorted(o["Key"] for o in lst.get("Contents", []))
            check(len(keys) == 3, f"finance-user list finance/ by ARN: {keys}")
            # ... denied across prefixes through the finance access point, and through the sales one.
            denied(lambda: f3.get_object(Bucket=fin["alias"], Key="sales/q1.csv"), "finance-user GET sales/ via finance AP")
            denied(lambda: f3.put_object(Bucket=fin["alias"], Key="sales/x.csv", Body=b"x"), "finance-user PUT sales/ via finance AP")
            denied(lambda: f3.list_objects_v2(Bucket=fin["alias"], Prefix="sales/"), "finance-user LIST sales/ via finance AP")
            denied(lambda: f3.list_objects_v2(Bucket=fin["alias"]), "finance-user LIST without prefix via finance AP")
            denied(lambda: f3.get_object(Bucket=sal["alias"], Key="sales/q1.csv"), "finance-user GET sales/ via sales AP")
            denied(lambda: f3.get_object(Bucket=sal["alias"], Key="finance/q1.csv"), "finance-user GET finance/ via sales AP")
            denied(lambda: f3v.get_object(Bucket=sal["arn"], Key="sales/q1.csv"), "finance-user GET sales/ via sales AP ARN")
            denied(lambda: f3.get_object(Bucket=ana["alias"], Key="finance/q1.csv"), "finance-user GET via analytics AP")
            # ... and directly: the bucket policy only delegates to access points.
            denied(lambda: f3.get_object(Bucket=b, Key="finance/q1.csv"), "finance-user GET directly from the bucket")
            denied(lambda: f3.put_object(Bucket=b, Key="finance/d.csv", Body=b"d"), "finance-user PUT directly to the bucket")
            # sales-user: the mirror image.
            s3u = su["s3"]
            check(s3u.get_object(Bucket=sal["alias"], Key="sales/q1.csv")["Body"].read() == b"sales q1", "sales-user GET sales/")
            s3u.put_object(Bucket=sal["alias"], Key="sales/q2.csv", Body=b"sales q2")
            denied(lambda: s3u.get_object(Bucket=sal["alias"], Key="finance/q1.csv"), "sales-user GET finance/ via sales AP")
            denied(lambda: s3u.get_object(Bucket=fin["alias"], Key="finance/q1.csv"), "sales-user GET via finance AP")
            denied(lambda: s3u.get_object(Bucket=b, Key="sales/q1.csv"), "sales-user GET directly from the bucket")
            # analyst: reads everything through analytics, writes nothing.
            a3, a3v = an["s3"], an["s3v"]
            for k, want in (("finance/q1.csv", b"finance q1"), ("sales/q2.csv", b"sales q2"), ("hr/salaries.csv", b"hr")):
                check(a3.get_object(Bucket=ana["alias"], Key=k)["Body"].read() == want, f"analyst GET {k} via analytics alias")
            check(a3v.get_object(Bucket=ana["arn"], Key="hr/salaries.csv")["Body"].read() == b"hr", "analyst GET via analytics ARN")
            keys = sorted(o["Key"] for o in a3.list_objects_v2(Bucket=ana["alias"]).get("Contents", []))
            check(len(keys) == 6, f"analyst list via analytics: {keys}")
            denied(lambda: a3.put_object(Bucket=ana["alias"], Key="finance/a.csv", Body=b"a"), "analyst PUT via analytics")
            denied(lambda: a3.delete_object(Bucket=ana["alias"], Key="finance/q1.csv"), "analyst DELETE via analytics")
            denied(lambda: a3.get_object(Bucket=fin["alias"], Key="finance/q1.csv"), "analyst GET via finance AP")
            denied(lambda: a3.get_object(Bucket=b, Key="finance/q1.csv"), "analyst GET directly (identity names only AP ARNs)")
            denied(lambda: a3.list_objects_v2(Bucket=b), "analyst LIST directly")
            check(s3.get_object(Bucket=b, Key="finance/q1.csv")["Body"].read() == b"finance q1", "finance/q1.csv intact")
            return "finance/sales read-write per prefix, analytics read-only, cross-prefix and direct access denied"

    def policy_root(self):
        with self.bucket("root") as b, self.access_points() as made:
            a = self.create_ap(made, "root", b)
            self.s3.put_object(Bucket=b, Key="k", Body=b"root data")
            check(self.s3.get_object(Bucket=a["alias"], Key="k")["Body"].read() == b"root data", "root GET by alias")
            check(self.s3v.get_object(Bucket=a["arn"], Key="k")["Body"].read() == b"root data", "root GET by ARN")
            self.s3.put_object(Bucket=a["alias"], Key="k2", Body=b"via alias")
            self.s3v.copy_object(Bucket=a["arn"], Key="k3", CopySource={"Bucket": b, "Key": "k2"})
            check(self.s3.get_object(Bucket=b, Key="k3")["Body"].read() == b"via alias", "copy through the ARN")
            keys = sorted(o["Key"] for o in self.s3.list_objects_v2(Bucket=a["alias"]).get("Contents", []))
            check(keys == ["k", "k2", "k3"], f"root list by alias: {keys}")
            self.s3.delete_object(Bucket=a["alias"], Key="k2")
            expect_error(lambda: self.s3.head_object(Bucket=b, Key="k2"), 404, what="deleted through the alias")
            return "root allowed with no access point policy (same account)"

    def policy_copy_source_arn(self):
        # CopySource naming the object as accessed through an access point: the URL encoding of
        # "arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME/object/KEY" (M-s3 CopyObject / UploadPartCopy
        # CopySource). botocore URL-encodes a string CopySource.
        s3 = self.s3
        with self.bucket("copysrc") as b, self.access_points() as made:
            a = self.create_ap(made, "copysrc", b)
            s3.put_object(Bucket=b, Key="src/k", Body=b"copy me")
            allowed(lambda: s3.copy_object(Bucket=a["alias"], Key="dst/k", CopySource=f"{a['arn']}/object/src/k"),
                    "CopyObject (to the alias) with CopySource = the access point object ARN")
            check(s3.get_object(Bucket=b, Key="dst/k")["Body"].read() == b"copy me", "copied")
            allowed(lambda: s3.copy_object(Bucket=b, Key="dst/k2", CopySource=f"{a['arn']}/object/src/k"),
                    "CopyObject (to the bucket) with CopySource = the access point object ARN")
            check(s3.get_object(Bucket=b, Key="dst/k2")["Body"].read() == b"copy me", "copied")
            return "CopySource as access point object ARN"

    def policy_ap_arn_condition(self):
        # A bucket policy that grants one IAM user reads only through one named access point
        # (s3:DataAccessPointArn); the access point policy also allows the user.
        s3, c = self.s3, self.control
        with self.bucket("arncond") as b, self.access_points() as made:
            good = self.create_ap(made, "good", b)
            other = self.create_ap(made, "other", b)
            u = self.iam_user("reader", {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]})
            s3.put_bucket_policy(Bucket=b, Policy=policy_doc({
                "Effect": "Allow", "Principal": {"AWS": u["arn"]}, "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{b}/*",
                "Condition": {"StringEquals": {"s3:DataAccessPointArn": good["arn"]}}}))
            for ap in (good, other):
                c.put_access_point_policy(AccountId=ACCOUNT, Name=ap["name"], Policy=policy_doc({
                    "Effect": "Allow", "Principal": {"AWS": u["arn"]}, "Action": "s3:GetObject",
                    "Resource": f"{ap['arn']}/object/*"}))
            s3.put_object(Bucket=b, Key="k", Body=b"v")
            check(u["s3"].get_object(Bucket=good["alias"], Key="k")["Body"].read() == b"v", "GET via the named access point")
            expect_error(lambda: u["s3"].get_object(Bucket=other["alias"], Key="k"), 403, "AccessDenied",
                         what="GET via another access point (bucket policy names only the first)")
            expect_error(lambda: u["s3"].get_object(Bucket=b, Key="k"), 403, "AccessDenied",
                         what="GET directly (no access point: the condition key is absent)")
            return "s3:DataAccessPointArn honoured"

    def policy_both_gates(self):
        # A request through an access point needs the access point gate AND the bucket gate (§2.3, §11.1).
        s3, c = self.s3, self.control
        with self.bucket("gates") as b, self.access_points() as made:
            a = self.create_ap(made, "gates", b)
            s3.put_object(Bucket=b, Key="k", Body=b"v")
            # 1. The access point policy allows, the bucket does not (no bucket policy; the identity
            #    policy names nothing): denied.
            u1 = self.iam_user("ap-only", {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]})
            # 2. The identity policy allows the bucket's objects, no access point policy names the user:
            #    allowed directly, denied through the access point.
            u2 = self.iam_user("bucket-only", {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{b}/*"}]})
            # 3. The identity policy allows both the bucket's objects and the access point's objects
            #    (same account: identity alone opens both gates).
            u3 = self.iam_user("both", {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "s3:GetObject",
                "Resource": [f"arn:aws:s3:::{b}/*", f"{a['arn']}/object/*"]}]})
            c.put_access_point_policy(AccountId=ACCOUNT, Name=a["name"], Policy=policy_doc({
                "Effect": "Allow", "Principal": {"AWS": u1["arn"]}, "Action": "s3:GetObject",
                "Resource": f"{a['arn']}/object/*"}))
            expect_error(lambda: u1["s3"].get_object(Bucket=a["alias"], Key="k"), 403, "AccessDenied",
                         what="access point policy allows, bucket does not")
            expect_error(lambda: u1["s3"].get_object(Bucket=b, Key="k"), 403, "AccessDenied",
                         what="access-point-only user directly")
            check(u2["s3"].get_object(Bucket=b, Key="k")["Body"].read() == b"v", "bucket-only user directly")
            check(u3["s3"].get_object(Bucket=a["alias"], Key="k")["Body"].read() == b"v",
                  "identity policy naming bucket and access point objects, through the alias")
            check(u3["s3v"].get_object(Bucket=a["arn"], Key="k")["Body"].read() == b"v",
                  "identity policy naming bucket and access point objects, through the ARN")
            # Adding the delegation bucket policy opens the bucket gate for user 1.
            s3.put_bucket_policy(Bucket=b, Policy=self.delegation_policy(b))
            got = allowed(lambda: u1["s3"].get_object(Bucket=a["alias"], Key="k"),
                          "access point policy + delegation bucket policy")
            check(got["Body"].read() == b"v", "body")
            # Last (so the checks above still run if it fails): the bucket allows user 2 (identity policy,
            # and now the delegation too), but neither the access point policy nor user 2's identity
            # policy names the access point: the access point gate stays closed.
            expect_error(lambda: u2["s3"].get_object(Bucket=a["alias"], Key="k"), 403, "AccessDenied",
                         what="bucket allows, access point gate closed (identity names only arn:aws:s3:::bucket/*, "
                              "AP policy names another user)")
            return "AP-only denied, bucket-only denied through AP, both allowed"

    def policy_identity_on_ap(self):
        # Same account (§11.1): the identity policy's Allow on the access point ARN opens the access
        # point gate without an access point policy; the delegation bucket policy opens the bucket gate.
        # An identity Deny naming the access point's objects applies to requests through it.
        s3 = self.s3
        with self.bucket("idap") as b, self.access_points() as made:
            a = self.create_ap(made, "idap", b)
            s3.put_bucket_policy(Bucket=b, Policy=self.delegation_policy(b))
            s3.put_object(Bucket=b, Key="open/k", Body=b"o")
            s3.put_object(Bucket=b, Key="closed/k", Body=b"c")
            u = self.iam_user("ap-identity", {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": f"{a['arn']}/object/*"},
                {"Effect": "Deny", "Action": "s3:GetObject", "Resource": f"{a['arn']}/object/closed/*"}]})
            expect_error(lambda: u["s3"].get_object(Bucket=b, Key="open/k"), 403, "AccessDenied",
                         what="directly (identity names only the access point)")
            expect_error(lambda: u["s3"].get_object(Bucket=a["alias"], Key="closed/k"), 403, "AccessDenied",
                         what="identity Deny on the access point's closed/ objects, via alias")
            what = "GET via alias: identity Allow on the AP ARN (no AP policy) + delegation bucket policy"
            got = allowed(lambda: u["s3"].get_object(Bucket=a["alias"], Key="open/k"), what)["Body"].read()
            check(got == b"o", f"{what}: {got!r}")
            allowed(lambda: u["s3v"].put_object(Bucket=a["arn"], Key="open/new", Body=b"n"),
                    "PUT via ARN: identity Allow on the AP ARN (no AP policy) + delegation bucket policy")
            check(s3.get_object(Bucket=b, Key="open/new")["Body"].read() == b"n", "PUT via ARN stored")
            return "identity Allow/Deny on access point ARNs honoured"

    def policy_delegation_other(self):
        # The delegation statement names the access points' account: with another account's id it
        # does not cover this account's access points (§2.3).
        s3, c = self.s3, self.control
        with self.bucket("deleg") as b, self.access_points() as made:
            a = self.create_ap(made, "deleg", b)
            s3.put_object(Bucket=b, Key="k", Body=b"v")
            u = self.iam_user("deleg", {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]})
            c.put_access_point_policy(AccountId=ACCOUNT, Name=a["name"], Policy=policy_doc({
                "Effect": "Allow", "Principal": {"AWS": u["arn"]}, "Action": "s3:GetObject",
                "Resource": f"{a['arn']}/object/*"}))
            s3.put_bucket_policy(Bucket=b, Policy=policy_doc({
                "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "*",
                "Resource": [f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*"],
                "Condition": {"StringEquals": {"s3:DataAccessPointAccount": OTHER_ACCOUNT}}}))
            expect_error(lambda: u["s3"].get_object(Bucket=a["alias"], Key="k"), 403, "AccessDenied",
                         what=f"delegation to {OTHER_ACCOUNT}'s access points, request via {ACCOUNT}'s")
            s3.put_bucket_policy(Bucket=b, Policy=self.delegation_policy(b))
            got = allowed(lambda: u["s3"].get_object(Bucket=a["alias"], Key="k"), "delegation to the own account")
            check(got["Body"].read() == b"v", "body")
            return "403 for another account's delegation, 200 for the own"

    def policy_explicit_deny(self):
        s3, c = self.s3, self.control
        with self.bucket("deny") as b, self.access_points() as made:
            a = self.create_ap(made, "deny", b)
            s3.put_object(Bucket=b, Key="public/k", Body=b"p")
            s3.put_object(Bucket=b, Key="secret/k", Body=b"s")
            u = self.iam_user("denied", {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "s3:GetObject",
                "Resource": [f"arn:aws:s3:::{b}/*", f"{a['arn']}/object/*"]}]})
            # An explicit Deny in the access point policy beats the identity policy's Allow.
            c.put_access_point_policy(AccountId=ACCOUNT, Name=a["name"], Policy=policy_doc({
                "Effect": "Deny", "Principal": {"AWS": u["arn"]}, "Action": "s3:GetObject",
                "Resource": f"{a['arn']}/object/secret/*"}))
            check(u["s3"].get_object(Bucket=a["alias"], Key="public/k")["Body"].read() == b"p", "public/ via AP")
            expect_error(lambda: u["s3"].get_object(Bucket=a["alias"], Key="secret/k"), 403, "AccessDenied",
                         what="secret/ via AP with an AP-policy Deny")
            check(u["s3"].get_object(Bucket=b, Key="secret/k")["Body"].read() == b"s",
                  "secret/ directly (the AP policy does not apply to direct requests)")
            # An explicit Deny in the bucket policy on requests through Internet access points.
            s3.put_bucket_policy(Bucket=b, Policy=policy_doc({
                "Effect": "Deny", "Principal": {"AWS": u["arn"]}, "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{b}/public/*",
                "Condition": {"StringEquals": {"s3:AccessPointNetworkOrigin": "Internet"}}}))
            expect_error(lambda: u["s3"].get_object(Bucket=a["alias"], Key="public/k"), 403, "AccessDenied",
                         what="bucket-policy Deny on s3:AccessPointNetworkOrigin Internet, via AP")
            check(u["s3"].get_object(Bucket=b, Key="public/k")["Body"].read() == b"p",
                  "directly: no access point, the condition key is absent, the Deny does not apply")
            return "AP Deny and bucket Deny on AccessPointNetworkOrigin"

    def policy_multipart(self):
        s3, s3v = self.s3, self.s3v
        with self.bucket("mpu") as b, self.access_points() as made:
            a = self.create_ap(made, "mpu", b)
            part = os.urandom(5 * 1024 * 1024)
            m = s3.create_multipart_upload(Bucket=a["alias"], Key="big/obj")
            p1 = s3.upload_part(Bucket=a["alias"], Key="big/obj", UploadId=m["UploadId"], PartNumber=1, Body=part)
            p2 = s3.upload_part(Bucket=a["alias"], Key="big/obj", UploadId=m["UploadId"], PartNumber=2, Body=b"tail")
            ups = s3.list_multipart_uploads(Bucket=a["alias"]).get("Uploads", [])
            check(any(u["UploadId"] == m["UploadId"] for u in ups), f"ListMultipartUploads via alias: {ups}")
            s3.complete_multipart_upload(Bucket=a["alias"], Key="big/obj", UploadId=m["UploadId"], MultipartUpload={
                "Parts": [{"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]})
            got = s3.get_object(Bucket=b, Key="big/obj")["Body"].read()
            check(got == part + b"tail", f"multipart through the alias: {len(got)} bytes")
            got = s3v.get_object(Bucket=a["arn"], Key="big/obj", Range="bytes=-4")["Body"].read()
            check(got == b"tail", f"ranged GET by ARN: {got!r}")
            odd = ["dir/a b+c%20d.txt", "dir/ünï/çödé", "dir/semi;colon=eq&amp"]
            for k in odd:
                s3v.put_object(Bucket=a["arn"], Key=k, Body=k.encode())
                check(s3.get_object(Bucket=a["alias"], Key=k)["Body"].read() == k.encode(), f"odd key {k!r}")
            r = s3.delete_objects(Bucket=a["alias"], Delete={"Objects": [{"Key": k} for k in odd]})
            check(len(r.get("Deleted", [])) == 3 and not r.get("Errors"), f"DeleteObjects via alias: {r.get('Errors')}")
            keys = [o["Key"] for o in s3.list_objects(Bucket=a["alias"]).get("Contents", [])]
            check(keys == ["big/obj"], f"ListObjects (v1) via alias after DeleteObjects: {keys}")
            return "multipart, ranged GET, odd keys, DeleteObjects, ListObjects v1"

    # -- 3. transport and origin refusals -----------------------------------------------------

    def transport_http(self):
        with self.bucket("http") as b, self.access_points() as made:
            a = self.create_ap(made, "http", b)
            self.s3.put_object(Bucket=b, Key="k", Body=b"v")
            check(self.s3.get_object(Bucket=a["alias"], Key="k")["Body"].read() == b"v", "HTTPS GET by alias")
            h = self.client(endpoint=self.http_endpoint)
            expect_error(lambda: h.get_object(Bucket=a["alias"], Key="k"), 403, what="plain HTTP GET by alias")
            expect_error(lambda: h.put_object(Bucket=a["alias"], Key="k2", Body=b"x"), 403, what="plain HTTP PUT by alias")
            expect_error(lambda: h.list_objects_v2(Bucket=a["alias"]), 403, what="plain HTTP LIST by alias")
            expect_error(lambda: self.s3.head_object(Bucket=b, Key="k2"), 404, what="the refused PUT stored nothing")
            return "403"

    def transport_presigned(self):
        # A presigned URL is a signed request (SigV4 query authentication): accepted through an alias
        # over HTTPS, refused over plain HTTP (§2.1 transport).
        import ssl
        import urllib.error
        import urllib.request
        with self.bucket("presign") as b, self.access_points() as made:
            a = self.create_ap(made, "presign", b)
            self.s3.put_object(Bucket=b, Key="k", Body=b"presigned")
            ctx = ssl.create_default_context(cafile=self.args.ca)
            # SigV4 query authentication (botocore presigns path-style S3 URLs with SigV2 by default).
            url = self.client(signature="s3v4").generate_presigned_url(
                "get_object", Params={"Bucket": a["alias"], "Key": "k"}, ExpiresIn=300)
            try:
                with urllib.request.urlopen(url, context=ctx, timeout=30) as r:
                    body = r.read()
                    check(r.status == 200 and body == b"presigned", f"presigned GET via alias over HTTPS: {r.status} {body[:200]!r}")
            except urllib.error.HTTPError as e:
                raise AssertionError(f"presigned GET via alias over HTTPS ({url.split('?')[0]}): HTTP {e.code}: "
                                     f"{short(e.read().decode(errors='replace'), 400)}") from e
            h = self.client(endpoint=self.http_endpoint, signature="s3v4")
            url = h.generate_presigned_url("get_object", Params={"Bucket": a["alias"], "Key": "k"}, ExpiresIn=300)
            try:
                with urllib.request.urlopen(url, timeout=30) as r:
                    raise AssertionError(f"presigned GET via alias over plain HTTP: HTTP {r.status}, want 403")
            except urllib.error.HTTPError as e:
                check(e.code == 403, f"presigned GET via alias over plain HTTP: HTTP {e.code}, want 403")
            return "HTTPS 200, HTTP 403"

    def transport_anonymous(self):
        with self.bucket("anon") as b, self.access_points() as made:
            a = self.create_ap(made, "anon", b)
            self.s3.put_object(Bucket=b, Key="k", Body=b"v")
            anon = self.client(unsigned=True)
            expect_error(lambda: anon.get_object(Bucket=a["alias"], Key="k"), 403, "AccessDenied", what="anonymous GET by alias")
            expect_error(lambda: anon.list_objects_v2(Bucket=a["alias"]), 403, "AccessDenied", what="anonymous LIST by alias")
            expect_error(lambda: anon.put_object(Bucket=a["alias"], Key="k2", Body=b"x"), 403, "AccessDenied",
                         what="anonymous PUT by alias")
            return "403"

    def transport_bucket_config(self):
        # Bucket configuration writes are not among the operations an access point accepts (UG
        # access-points-service-api-support; S3-FEATURES §2.1 "alias use": data plane only): refused,
        # without effect. S3 documents no error code for this; the server's 400 InvalidRequest is not
        # asserted beyond "a 4xx refusal".
        s3 = self.s3
        with self.bucket("config") as b, self.access_points() as made:
            a = self.create_ap(made, "config", b)
            s3.put_object(Bucket=b, Key="k", Body=b"v")

            def refused(fn, what):
                e = expect_error(fn, None, what=what)
                check(400 <= (http_status(e) or 0) < 500, f"{what}: {describe_exc(e)}")
            refused(lambda: s3.put_bucket_policy(Bucket=a["alias"], Policy=self.delegation_policy(b)),
                    "PutBucketPolicy with the alias")
            refused(lambda: s3.delete_bucket_policy(Bucket=a["alias"]), "DeleteBucketPolicy with the alias")
            refused(lambda: s3.put_bucket_versioning(Bucket=a["alias"], VersioningConfiguration={"Status": "Enabled"}),
                    "PutBucketVersioning with the alias")
            refused(lambda: s3.delete_public_access_block(Bucket=a["alias"]), "DeletePublicAccessBlock with the alias")
            refused(lambda: s3.delete_bucket(Bucket=a["alias"]), "DeleteBucket with the alias")
            check(s3.get_object(Bucket=b, Key="k")["Body"].read() == b"v", "the bucket survived")
            check("Status" not in s3.get_bucket_versioning(Bucket=b), "versioning unchanged")
            expect_error(lambda: s3.get_bucket_policy(Bucket=b), 404, "NoSuchBucketPolicy", what="no policy stored")
            check(s3.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"].get("BlockPublicPolicy") is True,
                  "the public access block is still there")
            return "PutBucketPolicy/DeleteBucketPolicy/PutBucketVersioning/DeletePublicAccessBlock/DeleteBucket refused"

    def transport_bucket_reads_through_alias(self):
        # Operations the access point compatibility table lists (UG access-points-service-api-support):
        # HeadBucket, GetBucketLocation, and GetBucketPolicy, whose API reference says "When you use this
        # API operation with an access point, provide the alias of the access point in place of the
        # bucket name" (API:GetBucketPolicy). Not covered by S3-FEATURES.md.
        s3 = self.s3
        with self.bucket("reads") as b, self.access_points() as made:
            a = self.create_ap(made, "reads", b)
            allowed(lambda: s3.head_bucket(Bucket=a["alias"]), "HeadBucket with the alias")
            allowed(lambda: s3.get_bucket_location(Bucket=a["alias"]), "GetBucketLocation with the alias")
            pol = policy_doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                              "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{b}/*"})
            s3.put_bucket_policy(Bucket=b, Policy=pol)
            got = allowed(lambda: s3.get_bucket_policy(Bucket=a["alias"]), "GetBucketPolicy with the alias")
            check(json.loads(got["Policy"]) == json.loads(pol), f"GetBucketPolicy with the alias: {got.get('Policy')!r}")
            return "HeadBucket, GetBucketLocation, GetBucketPolicy"

    def transport_vpc(self):
        c = self.control
        with self.bucket("vpc") as b, self.access_points() as made:
            a = self.create_ap(made, "vpc", b, VpcConfiguration={"VpcId": "vpc-1234"})
            g = c.get_access_point(AccountId=ACCOUNT, Name=a["name"])
            check(g.get("NetworkOrigin") == "VPC", f"GetAccessPoint NetworkOrigin {g.get('NetworkOrigin')!r}")
            check(g.get("VpcConfiguration", {}).get("VpcId") == "vpc-1234", f"VpcConfiguration {g.get('VpcConfiguration')}")
            lst = [x for x in c.list_access_points(AccountId=ACCOUNT, Bucket=b).get("AccessPointList", [])]
            check(len(lst) == 1 and lst[0].get("NetworkOrigin") == "VPC", f"ListAccessPoints {lst}")
            self.s3.put_object(Bucket=b, Key="k", Body=b"v")
            expect_error(lambda: self.s3.get_object(Bucket=a["alias"], Key="k"), 403, what="GET through a VPC access point from outside the VPC")
            expect_error(lambda: self.s3v.get_object(Bucket=a["arn"], Key="k"), 403, what="GET by ARN through a VPC access point")
            return "NetworkOrigin VPC; 403 from outside"


    # -- 4. VPC endpoints (`serve --vpc-endpoint`) ------------------------------------------

    def vpce_client(self, vpce: str, **kw):
        """A path-style client whose endpoint is the listener of VPC endpoint `vpce` (an IP address:
        access points are addressed there by alias)."""
        return self.client(endpoint=self.args.vpc_endpoints[vpce], **kw)

    def set_endpoint_policy(self, vpce: str, *statements: dict) -> None:
        pfile = os.path.join(self.tmp, f"vpce-{secrets.token_hex(3)}.json")
        with open(pfile, "w") as f:
            f.write(policy_doc(*statements))
        self.cli("vpc-endpoint", "put-policy", vpce, pfile)

    @staticmethod
    def eventually(fn, what: str, seconds: float = 6.0):
        """fn() until it does not raise (a server rereads an endpoint policy within 2 s)."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                return fn()
            except (AssertionError, ClientError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.25)

    def vpc_reachability(self):
        inside, other = "vpce-1a2b3c4d", "vpce-0e0f"
        with self.bucket("vpcin") as b, self.access_points() as made:
            vpc_ap = self.create_ap(made, "vpcin", b, VpcConfiguration={"VpcId": "vpc-1a2b3c4d"})
            net_ap = self.create_ap(made, "net", b)
            self.s3.put_object(Bucket=b, Key="k", Body=b"inside")
            s3_in, s3_other = self.vpce_client(inside), self.vpce_client(other)
            got = allowed(lambda: s3_in.get_object(Bucket=vpc_ap["alias"], Key="k"), "GET through the VPC access point from its endpoint")
            check(got["Body"].read() == b"inside", "body through the VPC endpoint")
            allowed(lambda: s3_in.put_object(Bucket=vpc_ap["alias"], Key="w", Body=b"w"), "PUT through the VPC access point from its endpoint")
            expect_error(lambda: self.s3.get_object(Bucket=vpc_ap["alias"], Key="k"), 403, "AccessDenied",
                         what="the VPC access point from the Internet listener")
            expect_error(lambda: s3_other.get_object(Bucket=vpc_ap["alias"], Key="k"), 403, "AccessDenied",
                         what="the VPC access point through an endpoint of another VPC")
            # An Internet-origin access point and the bucket itself are reachable through an endpoint too.
            allowed(lambda: s3_other.get_object(Bucket=net_ap["alias"], Key="k"), "an Internet access point through an endpoint")
            allowed(lambda: s3_in.get_object(Bucket=b, Key="w"), "the bucket through an endpoint")
            # Copy with the VPC access point's object ARN as source: only from inside its VPC.
            src = f"{vpc_ap['arn']}/object/k"
            allowed(lambda: s3_in.copy_object(Bucket=b, Key="c", CopySource=src), "CopyObject from the VPC access point ARN inside")
            expect_error(lambda: self.s3.copy_object(Bucket=b, Key="c2", CopySource=src), 403, "AccessDenied",
                         what="CopyObject from the VPC access point ARN outside")
            return "reachable only through vpce-1a2b3c4d"

    def vpc_endpoint_policy(self):
        vpce = "vpce-1a2b3c4d"
        s3_in = self.vpce_client(vpce)
        with self.bucket("vpcpol") as b, self.access_points() as made:
            ap = self.create_ap(made, "vpcpol", b, VpcConfiguration={"VpcId": "vpc-1a2b3c4d"})
            self.s3.put_object(Bucket=b, Key="k", Body=b"v")
            try:
                # Allows the bucket but not the access point: the access point is refused.
                self.set_endpoint_policy(vpce, {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                                "Resource": f"arn:aws:s3:::{b}/*"})
                self.eventually(lambda: expect_error(lambda: s3_in.get_object(Bucket=ap["alias"], Key="k"), 403, "AccessDenied",
                                                     what="endpoint policy without the access point ARN"), "policy applied")
                allowed(lambda: s3_in.get_object(Bucket=b, Key="k"), "the bucket the endpoint policy allows")
                expect_error(lambda: s3_in.put_object(Bucket=b, Key="p", Body=b"p"), 403, "AccessDenied",
                             what="PUT that the endpoint policy does not allow")
                # The Internet listener does not see the endpoint policy.
                allowed(lambda: self.s3.put_object(Bucket=b, Key="p", Body=b"p"), "PUT outside the endpoint")
                # Both ARNs: allowed.
                self.set_endpoint_policy(vpce, {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                                "Resource": [f"arn:aws:s3:::{b}/*", f"{ap['arn']}/object/*"]})
                self.eventually(lambda: allowed(lambda: s3_in.get_object(Bucket=ap["alias"], Key="k"), "both ARNs allowed"),
                                "policy applied")
                # An explicit Deny in the endpoint policy wins, even for the account root.
                self.set_endpoint_policy(vpce,
                                         {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
                                         {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                                          "Resource": f"arn:aws:s3:::{b}/k"})
                self.eventually(lambda: expect_error(lambda: s3_in.get_object(Bucket=b, Key="k"), 403, "AccessDenied",
                                                     what="Deny in the endpoint policy"), "policy applied")
                allowed(lambda: s3_in.get_object(Bucket=b, Key="p"), "another key under the same endpoint policy")
            finally:
                self.cli("vpc-endpoint", "delete-policy", vpce)
            self.eventually(lambda: allowed(lambda: s3_in.get_object(Bucket=b, Key="k"), "no endpoint policy: allowed"),
                            "policy removed")
            out = json.loads(self.cli("vpc-endpoint", "get-policy", vpce, json_out=True))
            check(out.get("PolicyDocument") is None, f"get-policy after delete: {out}")
            return "bucket + access point ARNs both needed; Deny wins; removal restores access"

    def vpc_conditions(self):
        with self.bucket("vpccond") as b:
            self.s3.put_object(Bucket=b, Key="k", Body=b"v")
            u = self.iam_user("vpcuser", {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
            self.s3.put_bucket_policy(Bucket=b, Policy=policy_doc(
                {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{b}/*",
                 "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}},
                {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{b}/*",
                 "Condition": {"StringNotEquals": {"aws:SourceVpc": "vpc-other"}}},
            ))
            creds = u["s3"]._request_signer._credentials
            key, sec = creds.access_key, creds.secret_key
            in_ = self.vpce_client("vpce-1a2b3c4d", access_key=key, secret=sec)
            other = self.vpce_client("vpce-0e0f", access_key=key, secret=sec)
            allowed(lambda: in_.get_object(Bucket=b, Key="k"), "GET from vpce-1a2b3c4d")
            expect_error(lambda: u["s3"].get_object(Bucket=b, Key="k"), 403, "AccessDenied", what="GET from the Internet")
            expect_error(lambda: other.get_object(Bucket=b, Key="k"), 403, "AccessDenied", what="GET from vpce-0e0f")
            allowed(lambda: other.put_object(Bucket=b, Key="n", Body=b"n"), "PUT from vpc-other")
            expect_error(lambda: in_.put_object(Bucket=b, Key="n", Body=b"n"), 403, "AccessDenied", what="PUT from vpc-1a2b3c4d")
            expect_error(lambda: u["s3"].put_object(Bucket=b, Key="n", Body=b"n"), 403, "AccessDenied", what="PUT from the Internet")
            self.s3.delete_bucket_policy(Bucket=b)
            return "aws:SourceVpce and aws:SourceVpc decide"

    def vpc_aws_cli(self):
        try:
            import awscli  # noqa: F401
        except ImportError:
            raise StepSkip("awscli is not installed in this interpreter")
        with self.bucket("vpccli") as b, self.access_points() as made:
            ap = self.create_ap(made, "vpccli", b, VpcConfiguration={"VpcId": "vpc-1a2b3c4d"})
            self.s3.put_object(Bucket=b, Key="k", Body=b"cli")
            env = dict(os.environ)
            env.update({"AWS_ACCESS_KEY_ID": self.args.access_key, "AWS_SECRET_ACCESS_KEY": self.args.secret,
                        "AWS_DEFAULT_REGION": self.region, "AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1"})
            out = os.path.join(self.tmp, "vpc-cli.out")
            def get(endpoint: str) -> subprocess.CompletedProcess:
                return subprocess.run(
                    [sys.executable, "-c", AWS_CLI_SHIM, "s3api", "get-object", "--bucket", ap["alias"], "--key", "k",
                     out, "--endpoint-url", endpoint, "--ca-bundle", self.args.ca, "--output", "json"],
                    capture_output=True, text=True, timeout=120, env=env)
            p = get(self.args.vpc_endpoints["vpce-1a2b3c4d"])
            check(p.returncode == 0, f"aws s3api get-object through the endpoint: exit {p.returncode}: {short(p.stderr, 600)}")
            with open(out, "rb") as f:
                check(f.read() == b"cli", "aws-cli body")
            p = get(self.endpoint)
            check(p.returncode != 0 and "AccessDenied" in p.stderr, f"aws-cli outside the VPC: exit {p.returncode}: {short(p.stderr, 300)}")
            return "aws s3api get-object by alias through https://127.0.0.2"


if __name__ == "__main__":
    sys.exit(harness.main(Scenario, "Access points with boto3 against `s3crypt serve`.",
                          https_help="https://127.0.0.1:PORT (used as https://localhost:PORT)"))
