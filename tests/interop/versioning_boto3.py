#!/usr/bin/env python3
"""Versioning, per-version encryption, MFA Delete and Object Lock: unmodified boto3 against `s3crypt serve`.

Usage:
  versioning_boto3.py --https https://127.0.0.1:PORT --http http://127.0.0.1:PORT --ca CA.pem
                      --access-key ID --secret SECRET --home DIR --s3crypt PATH
                      [--region us-east-1] [--only SUBSTR[,SUBSTR...]] [--verbose]

Expected behaviour: ../shared/reference/S3-FEATURES.md §4 (Versioning), §5 (MFA Delete), §6 (Object
Lock), §12. The steps assert S3's documented behaviour, never the server's where they differ.

Output (stdout, line-buffered), one line per step; the step name is always the second
whitespace-separated token and never contains spaces:
  ok <step>[ (detail)]
  FAIL <step>: <detail>
  skip <step> (<why>)
then one JSON line: {"steps": N, "failed": M, "skipped": K, "ok": ..., "failed_steps": [...], ...}
and one `secrets-used [...]` line (SSE-C keys, IAM users' secret keys, the MFA seed), which the Rust
side checks are absent from the server's log.
Exit status: 0 if no step failed, 1 if any did, 2 on bad usage.

Every step is independent: it makes its own uniquely named bucket(s) and removes them (all versions
and delete markers, the bucket) whatever happens; buckets holding COMPLIANCE-locked versions cannot be
emptied and are left (the test's home is temporary). `--home` and `--s3crypt` are used for the CLI:
IAM users (`iam create-user`), the root's virtual MFA device (`iam create-virtual-mfa-device`,
`iam enable-mfa-device`), and the SSE-S3 root rotation (`sse rotate-root`, `sse reseal BUCKET`), all run
on the server's home while it serves.

MFA codes (TOTP, SHA-1, 6 digits, 30 s): each code is accepted once and its 30 s step must be later
than the last accepted step of the device, within one step of now. Two devices are enabled at the
start with the codes of the two previous steps, so four codes (two per device) are available at once
and the MFA steps, which run last, need no waiting; `Mfa.code()` sleeps only when every device's next
unused step is more than one step ahead.

Only boto3 / botocore / pyotp / stdlib are used.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import re
import secrets
import sys
import time

import scenario_harness as harness  # first: isolates the process from the machine's AWS configuration
import pyotp  # noqa: E402
from scenario_harness import (  # noqa: E402
    ALLOW_SSEC, NO_RETRIES, SECRETS_USED, b64, check, err_code, err_headers, err_message, expect_error,
    headers_of, http_status, short, ssec_args, status_of,
)


LOCK_DENIED = "Access Denied because object protected by object lock."
MFA_REQUIRED = "Mfa Authentication must be used for this request"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Mfa:
    """The root's virtual MFA devices: hands out `SERIAL CODE` headers whose 30 s steps strictly increase
    per device (the server accepts a code once, and only a step later than the device's last accepted
    one, within one step of now). With two devices enabled by the two previous steps' codes, four codes
    are available at once; further ones wait for the next 30 s boundary."""

    def __init__(self) -> None:
        self.devices: list[list] = []  # [serial, pyotp.TOTP, last step used]
        self.waited = 0.0
        self.used = 0

    def add(self, serial: str, seed: str, last_step: int) -> None:
        self.devices.append([serial, pyotp.TOTP(seed), last_step])

    @property
    def serial(self) -> str:
        return self.devices[0][0]

    def _pick(self) -> tuple[list, int]:
        now = int(time.time()) // 30
        dev = min(self.devices, key=lambda d: max(d[2] + 1, now))
        return dev, max(dev[2] + 1, now)

    def code(self) -> str:
        """The next unused code (marked used), sleeping only while every device's next step is more
        than one step ahead of now."""
        dev, step = self._pick()
        pause = (step - 1) * 30 - time.time() + 0.2
        if pause > 0:  # step > now + 1: wait until it is one step ahead
            time.sleep(pause)
            self.waited += pause
        dev[2] = step
        self.used += 1
        return f"{dev[0]} {dev[1].at(step * 30)}"

    def peek(self) -> str:
        """A code of the window (not marked used, no waiting): for requests that must be refused before
        the code is checked (a non-root caller, plain HTTP)."""
        dev, step = self._pick()
        step = min(step, int(time.time()) // 30 + 1)
        return f"{dev[0]} {dev[1].at(step * 30)}"

    def wrong(self) -> str:
        """A well-formed header whose code is none of the window's codes."""
        serial, totp, _ = self.devices[0]
        now = int(time.time()) // 30
        window = {totp.at(s * 30) for s in range(now - 2, now + 3)}
        n = int(totp.at(now * 30))
        while f"{n:06d}" in window:
            n = (n + 1) % 1_000_000
        return f"{serial} {n:06d}"


class Scenario(harness.Scenario):
    tmp_prefix = "versioning_boto3."
    fail_detail_chars = 1200

    def __init__(self, args) -> None:
        super().__init__(args)
        self.s3 = self.client()
        self.http_s3 = self.client(endpoint=args.http)
        self.mfa: Mfa | None = None
        self.mfa_error = ""

    # -- plumbing -----------------------------------------------------------

    def client(self, *, endpoint: str | None = None, access_key: str | None = None,
               secret: str | None = None, retries: dict | None = None):
        return self.make_client("s3", endpoint=endpoint or self.args.https, access_key=access_key, secret=secret,
                                retries=retries or NO_RETRIES, s3={"addressing_style": "path"})

    def iam_user(self, policy: dict):
        """A new IAM user with `policy` as its inline policy, as a boto3 client, once it authenticates."""
        info = self.create_iam_user(f"vers-{secrets.token_hex(3)}", policy)
        u = self.client(access_key=info["AccessKeyId"], secret=info["SecretAccessKey"])
        self.wait_until_known(u)
        return u

    def name(self, tag: str) -> str:
        return f"ver-{tag}-{secrets.token_hex(4)}"[:63]

    @contextlib.contextmanager
    def bucket(self, tag: str, *, versioned: bool = False, lock: bool = False):
        """A fresh bucket, emptied (every version and marker) and deleted afterwards whatever happens."""
        b = self.name(tag)
        if lock:
            self.s3.create_bucket(Bucket=b, ObjectLockEnabledForBucket=True)
        else:
            self.s3.create_bucket(Bucket=b)
        if versioned:
            self.s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
        try:
            yield b
        finally:
            self.nuke(b)

    def nuke(self, b: str) -> None:
        s3 = self.s3
        with contextlib.suppress(Exception):
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=b):
                for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
                    try:
                        s3.delete_object(Bucket=b, Key=v["Key"], VersionId=v["VersionId"], BypassGovernanceRetention=True)
                    except Exception:  # noqa: BLE001 - a legal hold, perhaps
                        with contextlib.suppress(Exception):
                            s3.put_object_legal_hold(Bucket=b, Key=v["Key"], VersionId=v["VersionId"],
                                                     LegalHold={"Status": "OFF"})
                            s3.delete_object(Bucket=b, Key=v["Key"], VersionId=v["VersionId"],
                                             BypassGovernanceRetention=True)
        with contextlib.suppress(Exception):
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=b):
                for o in page.get("Contents", []):
                    with contextlib.suppress(Exception):
                        s3.delete_object(Bucket=b, Key=o["Key"])
        with contextlib.suppress(Exception):
            s3.delete_bucket(Bucket=b)

    def versions(self, b: str, **kw) -> list[tuple[str, str, bool, bool]]:
        """All (key, version id, is latest, is delete marker) in listing order, versions and markers merged
        the way S3 orders them (by key, then newest first)."""
        out = []
        for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=b, **kw):
            rows = [(v["Key"], v["VersionId"], v["IsLatest"], False, v["LastModified"]) for v in page.get("Versions", [])]
            rows += [(m["Key"], m["VersionId"], m["IsLatest"], True, m["LastModified"]) for m in page.get("DeleteMarkers", [])]
            out.extend(rows)
        return [(k, v, latest, dm) for k, v, latest, dm, _ in out]

    # -- the scenario --------------------------------------------------------------------

    def run(self) -> None:
        st = self.step
        # The MFA device first: its enabling codes are the two previous 30 s steps, so by the time
        # the MFA step runs (last), fresh steps are available without waiting.
        st("mfa_delete_device_enabled", self.mfa_device)
        st("versioning_new_bucket_and_three_versions", self.versioning_lifecycle)
        st("versioning_delete_marker", self.versioning_delete_marker)
        st("versioning_delete_version_permanently", self.versioning_delete_version)
        st("versioning_list_paging", self.versioning_list_paging)
        st("versioning_suspended_null_version", self.versioning_suspended)
        st("versioning_copy_from_old_version", self.versioning_copy)
        st("versioning_delete_objects_with_versions", self.versioning_delete_objects)
        st("versioning_bad_version_ids", self.versioning_bad_ids)
        st("versioning_bad_configuration", self.versioning_bad_config)
        st("versioning_iam_version_actions", self.versioning_iam)
        st("encryption_sse_kms_versions", self.encryption_kms)
        st("encryption_sse_c_key_per_version", self.encryption_ssec)
        st("encryption_rotate_root_and_reseal", self.encryption_rotate)
        st("object_lock_configuration_default_retention", self.lock_default_retention)
        st("object_lock_compliance", self.lock_compliance)
        st("object_lock_governance_bypass", self.lock_governance)
        st("object_lock_governance_iam_user_without_bypass_permission", self.lock_governance_user)
        st("object_lock_legal_hold", self.lock_legal_hold)
        st("object_lock_refused_without_lock", self.lock_without_lock)
        st("object_lock_suspend_refused", self.lock_suspend)
        st("object_lock_bad_requests", self.lock_bad_requests)
        st("mfa_delete_enable_and_delete_version", self.mfa_delete)
        st("mfa_delete_refusals", self.mfa_refusals)
        st("mfa_delete_suspend_needs_mfa", self.mfa_suspend)
        if self.mfa:
            self.figures["mfa_waited_s"] = round(self.mfa.waited, 1)
            self.figures["mfa_codes_used"] = self.mfa.used

    # -- 1. versioning ------------------------------------------------------------------

    def versioning_lifecycle(self):
        s3 = self.s3
        with self.bucket("life") as b:
            g = s3.get_bucket_versioning(Bucket=b)
            check("Status" not in g and "MFADelete" not in g, f"new bucket: GetBucketVersioning {g}")
            s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
            g = s3.get_bucket_versioning(Bucket=b)
            check(g.get("Status") == "Enabled", f"after enabling: {g.get('Status')!r}")
            bodies = [b"first version", b"second, longer version", b"3"]
            vids = []
            for body in bodies:
                r = s3.put_object(Bucket=b, Key="doc.txt", Body=body)
                vid = r.get("VersionId")
                check(bool(vid) and vid != "null", f"PUT VersionId {vid!r}")
                check(headers_of(r).get("x-amz-version-id") == vid, "x-amz-version-id header")
                vids.append(vid)
            check(len(set(vids)) == 3, f"three distinct version ids: {vids}")
            for vid, body in zip(vids, bodies):
                g = s3.get_object(Bucket=b, Key="doc.txt", VersionId=vid)
                check(g["Body"].read() == body, f"GET versionId {vid}: wrong bytes")
                check(g.get("VersionId") == vid, f"GET versionId {vid}: response VersionId {g.get('VersionId')!r}")
                h = s3.head_object(Bucket=b, Key="doc.txt", VersionId=vid)
                check(h["ContentLength"] == len(body) and h.get("VersionId") == vid, f"HEAD versionId {vid}: {h.get('ContentLength')}")
            g = s3.get_object(Bucket=b, Key="doc.txt")
            check(g["Body"].read() == bodies[-1] and g.get("VersionId") == vids[-1], "GET without versionId: the newest")
            r = s3.list_object_versions(Bucket=b)
            got = [(v["VersionId"], v["IsLatest"], v["Size"]) for v in r.get("Versions", [])]
            want = [(vids[2], True, len(bodies[2])), (vids[1], False, len(bodies[1])), (vids[0], False, len(bodies[0]))]
            check(got == want, f"ListObjectVersions {got}, want newest first {want}")
            check(not r.get("DeleteMarkers") and r.get("IsTruncated") is False, f"markers/truncated: {r.get('DeleteMarkers')} {r.get('IsTruncated')}")
            lm = [v["LastModified"] for v in r["Versions"]]
            check(lm == sorted(lm, reverse=True), f"LastModified not newest first: {lm}")
            # A new object in a versioned bucket: PUT of another key, listed after doc.txt (key order).
            s3.put_object(Bucket=b, Key="a.txt", Body=b"a")
            keys = [v["Key"] for v in s3.list_object_versions(Bucket=b)["Versions"]]
            check(keys == ["a.txt", "doc.txt", "doc.txt", "doc.txt"], f"key order {keys}")
            return f"no Status, then Enabled; 3 ids e.g. {vids[0]!r}; GET/HEAD per version; newest first"

    def versioning_delete_marker(self):
        s3 = self.s3
        with self.bucket("marker", versioned=True) as b:
            v1 = s3.put_object(Bucket=b, Key="k", Body=b"one")["VersionId"]
            v2 = s3.put_object(Bucket=b, Key="k", Body=b"two")["VersionId"]
            d = s3.delete_object(Bucket=b, Key="k")
            check(status_of(d) == 204, f"DELETE: HTTP {status_of(d)}")
            check(d.get("DeleteMarker") is True, f"DELETE: DeleteMarker {d.get('DeleteMarker')!r}")
            mid = d.get("VersionId")
            check(bool(mid) and mid not in (v1, v2, "null"), f"DELETE: marker VersionId {mid!r}")
            e = expect_error(lambda: s3.get_object(Bucket=b, Key="k"), 404, "NoSuchKey", what="GET current (marker)")
            hdrs = err_headers(e)
            check(hdrs.get("x-amz-delete-marker") == "true", f"GET current: x-amz-delete-marker {hdrs.get('x-amz-delete-marker')!r}")
            e = expect_error(lambda: s3.head_object(Bucket=b, Key="k"), 404, "404", "NoSuchKey", what="HEAD current (marker)")
            check(err_headers(e).get("x-amz-delete-marker") == "true", "HEAD current: x-amz-delete-marker")
            e = expect_error(lambda: s3.get_object(Bucket=b, Key="k", VersionId=mid), 405, "MethodNotAllowed",
                             what="GET ?versionId=marker")
            hdrs = err_headers(e)
            check(hdrs.get("x-amz-delete-marker") == "true", f"GET marker version: x-amz-delete-marker {hdrs.get('x-amz-delete-marker')!r}")
            check("last-modified" in hdrs, f"GET marker version: no Last-Modified ({sorted(hdrs)})")
            e = expect_error(lambda: s3.head_object(Bucket=b, Key="k", VersionId=mid), 405, "405", "MethodNotAllowed",
                             what="HEAD ?versionId=marker")
            check(err_headers(e).get("x-amz-delete-marker") == "true", "HEAD marker version: x-amz-delete-marker")
            check("last-modified" in err_headers(e), "HEAD marker version: no Last-Modified")
            # The listing shows the marker as latest and both versions.
            r = s3.list_object_versions(Bucket=b)
            dms = [(m["VersionId"], m["IsLatest"]) for m in r.get("DeleteMarkers", [])]
            check(dms == [(mid, True)], f"DeleteMarkers {dms}")
            vs = [(v["VersionId"], v["IsLatest"]) for v in r.get("Versions", [])]
            check(vs == [(v2, False), (v1, False)], f"Versions {vs}")
            check(s3.list_objects_v2(Bucket=b).get("KeyCount") == 0, "ListObjectsV2 still shows k")
            # Deleting the marker by version brings the object back.
            d = s3.delete_object(Bucket=b, Key="k", VersionId=mid)
            check(status_of(d) == 204 and d.get("DeleteMarker") is True and d.get("VersionId") == mid,
                  f"DELETE marker: HTTP {status_of(d)} DeleteMarker {d.get('DeleteMarker')!r} VersionId {d.get('VersionId')!r}")
            g = s3.get_object(Bucket=b, Key="k")
            check(g["Body"].read() == b"two" and g.get("VersionId") == v2, "object back after removing the marker")
            # A DELETE of a real version does not say DeleteMarker.
            d = s3.delete_object(Bucket=b, Key="k", VersionId=v1)
            check("x-amz-delete-marker" not in headers_of(d), f"DELETE version: x-amz-delete-marker {headers_of(d).get('x-amz-delete-marker')!r}")
            return f"marker {mid!r}: GET/HEAD 404 + x-amz-delete-marker, by its id 405; removed -> object back"

    def versioning_delete_version(self):
        s3 = self.s3
        with self.bucket("delver", versioned=True) as b:
            v1 = s3.put_object(Bucket=b, Key="k", Body=b"one")["VersionId"]
            v2 = s3.put_object(Bucket=b, Key="k", Body=b"two")["VersionId"]
            v3 = s3.put_object(Bucket=b, Key="k", Body=b"three")["VersionId"]
            d = s3.delete_object(Bucket=b, Key="k", VersionId=v2)
            check(status_of(d) == 204 and d.get("VersionId") == v2, f"DELETE v2: HTTP {status_of(d)} VersionId {d.get('VersionId')!r}")
            expect_error(lambda: s3.get_object(Bucket=b, Key="k", VersionId=v2), 404, "NoSuchVersion", what="GET deleted v2")
            vs = [v["VersionId"] for v in s3.list_object_versions(Bucket=b)["Versions"]]
            check(vs == [v3, v1], f"after deleting v2: {vs}")
            # Deleting the current version makes the previous one current (no marker).
            s3.delete_object(Bucket=b, Key="k", VersionId=v3)
            g = s3.get_object(Bucket=b, Key="k")
            check(g["Body"].read() == b"one" and g.get("VersionId") == v1, "v1 current after deleting v3")
            r = s3.list_object_versions(Bucket=b)
            check([(v["VersionId"], v["IsLatest"]) for v in r["Versions"]] == [(v1, True)] and not r.get("DeleteMarkers"),
                  f"listing {r.get('Versions')} {r.get('DeleteMarkers')}")
            # Deleting the last version removes the key.
            s3.delete_object(Bucket=b, Key="k", VersionId=v1)
            expect_error(lambda: s3.get_object(Bucket=b, Key="k"), 404, "NoSuchKey", what="GET after the last version")
            r = s3.list_object_versions(Bucket=b)
            check(not r.get("Versions") and not r.get("DeleteMarkers"), "versions left")
            return "middle, current, last version: permanent, previous becomes current, no marker"

    def versioning_list_paging(self):
        s3 = self.s3
        with self.bucket("list", versioned=True) as b:
            layout = {"a/1": 3, "a/2": 1, "b/x/1": 2, "b/y": 1, "c": 4, "d%20e f": 2}
            ids: dict[str, list[str]] = {}
            for key, n in layout.items():
                for i in range(n):
                    ids.setdefault(key, []).append(s3.put_object(Bucket=b, Key=key, Body=f"{key}#{i}".encode())["VersionId"])
            mk = s3.delete_object(Bucket=b, Key="b/y")["VersionId"]
            full = s3.list_object_versions(Bucket=b)
            check(full.get("IsTruncated") is False, "full listing truncated")
            # Expected order: by key, newest first within a key (the marker of b/y is its newest).
            want = []
            for key in sorted(layout):
                if key == "b/y":
                    want.append((key, mk, True, True))
                want += [(key, vid, (i == 0 and key != "b/y"), False) for i, vid in enumerate(reversed(ids[key]))]
            got = self.versions(b)
            # The service returns Versions and DeleteMarkers as separate lists: compare as sets per kind
            # and the order within each kind.
            check(sorted(got) == sorted(want), f"full listing\n got {got}\nwant {want}")
            got_v = [r for r in got if not r[3]]
            check(got_v == [r for r in want if not r[3]], f"version order\n got {got_v}")
            # The paginator with MaxKeys=2 (KeyMarker/VersionIdMarker paging) gives the same entries.
            paged, pages = [], 0
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=b, PaginationConfig={"PageSize": 2}):
                pages += 1
                n = len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
                check(n <= 2, f"page of {n} entries with MaxKeys=2")
                check(page.get("MaxKeys") == 2, f"MaxKeys {page.get('MaxKeys')}")
                if page.get("IsTruncated"):
                    check(page.get("NextKeyMarker") and page.get("NextVersionIdMarker"),
                          f"truncated page without NextKeyMarker/NextVersionIdMarker: {page.get('NextKeyMarker')!r} {page.get('NextVersionIdMarker')!r}")
                paged += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
                paged += [(m["Key"], m["VersionId"]) for m in page.get("DeleteMarkers", [])]
            check(sorted(paged) == sorted((k, v) for k, v, _, _ in want) and len(paged) == len(want),
                  f"paged ({pages} pages) {paged}")
            check(pages >= len(want) // 2, f"only {pages} pages for {len(want)} entries")
            # Manual markers: start after the second-newest version of c.
            c_new = list(reversed(ids["c"]))
            r = s3.list_object_versions(Bucket=b, KeyMarker="c", VersionIdMarker=c_new[1], MaxKeys=3)
            got = [(v["Key"], v["VersionId"]) for v in r.get("Versions", [])]
            check(got == [("c", c_new[2]), ("c", c_new[3]), ("d%20e f", ids["d%20e f"][1])],
                  f"KeyMarker=c VersionIdMarker=<c's 2nd>: {got}")
            check(r.get("IsTruncated") is True and r.get("KeyMarker") == "c" and r.get("VersionIdMarker") == c_new[1],
                  f"echoed markers / truncation: {r.get('IsTruncated')} {r.get('KeyMarker')!r} {r.get('VersionIdMarker')!r}")
            # KeyMarker alone: keys after it.
            r = s3.list_object_versions(Bucket=b, KeyMarker="b/y")
            check(sorted({v["Key"] for v in r.get("Versions", [])}) == ["c", "d%20e f"] and not r.get("DeleteMarkers"),
                  f"KeyMarker=b/y: {[v['Key'] for v in r.get('Versions', [])]}")
            # Prefix and delimiter.
            r = s3.list_object_versions(Bucket=b, Delimiter="/")
            cps = [p["Prefix"] for p in r.get("CommonPrefixes", [])]
            check(cps == ["a/", "b/"], f"Delimiter=/: CommonPrefixes {cps}")
            check(sorted({v["Key"] for v in r.get("Versions", [])}) == ["c", "d%20e f"], "Delimiter=/: top-level keys")
            r = s3.list_object_versions(Bucket=b, Prefix="b/", Delimiter="/")
            check([p["Prefix"] for p in r.get("CommonPrefixes", [])] == ["b/x/"], f"Prefix=b/: {r.get('CommonPrefixes')}")
            check([m["Key"] for m in r.get("DeleteMarkers", [])] == ["b/y"] and [v["Key"] for v in r.get("Versions", [])] == ["b/y"],
                  f"Prefix=b/: {r.get('Versions')} {r.get('DeleteMarkers')}")
            r = s3.list_object_versions(Bucket=b, Prefix="a/")
            check([v["Key"] for v in r["Versions"]] == ["a/1"] * 3 + ["a/2"], f"Prefix=a/ {[v['Key'] for v in r['Versions']]}")
            # botocore sends encoding-type=url on its own and decodes the keys (every listing above);
            # given explicitly, it leaves them encoded.
            r = s3.list_object_versions(Bucket=b, Prefix="d", EncodingType="url")
            check([v["Key"] for v in r.get("Versions", [])] == ["d%2520e%20f"] * 2 and r.get("EncodingType") == "url",
                  f"explicit EncodingType=url keys {[v['Key'] for v in r.get('Versions', [])]} {r.get('EncodingType')!r}")
            return f"{len(want)} entries; MaxKeys=2 -> {pages} pages equal to the full list; markers, prefix, delimiter, url encoding"

    def versioning_suspended(self):
        s3 = self.s3
        with self.bucket("susp") as b:
            r = s3.put_object(Bucket=b, Key="old", Body=b"before versioning")
            pre = r.get("VersionId")
            s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
            vs = [(v["Key"], v["VersionId"]) for v in s3.list_object_versions(Bucket=b)["Versions"]]
            check(vs == [("old", "null")], f"an object from before versioning: {vs}")
            h = s3.head_object(Bucket=b, Key="old", VersionId="null")
            check(h["ContentLength"] == len(b"before versioning"), "HEAD versionId=null")
            v1 = s3.put_object(Bucket=b, Key="k", Body=b"enabled one")["VersionId"]
            s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
            check(s3.get_bucket_versioning(Bucket=b).get("Status") == "Suspended", "Status Suspended")
            r = s3.put_object(Bucket=b, Key="k", Body=b"suspended one")
            hdr = headers_of(r).get("x-amz-version-id")
            check(hdr in (None, "null"), f"PUT while suspended: x-amz-version-id {hdr!r}")
            seen = "absent" if hdr is None else f"{hdr!r}"
            r = s3.put_object(Bucket=b, Key="k", Body=b"suspended two")
            rows = [(v["VersionId"], v["IsLatest"]) for v in s3.list_object_versions(Bucket=b, Prefix="k")["Versions"]]
            check(rows == [("null", True), (v1, False)], f"the null version overwritten: {rows}")
            g = s3.get_object(Bucket=b, Key="k", VersionId="null")
            check(g["Body"].read() == b"suspended two", "GET versionId=null: the second suspended PUT")
            check(s3.get_object(Bucket=b, Key="k", VersionId=v1)["Body"].read() == b"enabled one", "v1 untouched")
            # DELETE while suspended: removes the null version and adds a null marker.
            d = s3.delete_object(Bucket=b, Key="k")
            check(d.get("DeleteMarker") is True and d.get("VersionId") == "null",
                  f"DELETE while suspended: DeleteMarker {d.get('DeleteMarker')!r} VersionId {d.get('VersionId')!r}")
            r = s3.list_object_versions(Bucket=b, Prefix="k")
            check([(v["VersionId"]) for v in r.get("Versions", [])] == [v1], f"versions after DELETE: {r.get('Versions')}")
            check([(m["VersionId"], m["IsLatest"]) for m in r.get("DeleteMarkers", [])] == [("null", True)],
                  f"markers after DELETE: {r.get('DeleteMarkers')}")
            # Re-enabling keeps the null marker; a new PUT gets a real id.
            s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
            v3 = s3.put_object(Bucket=b, Key="k", Body=b"enabled again")["VersionId"]
            check(v3 and v3 != "null", f"PUT after re-enabling: {v3!r}")
            return f"pre-versioning id {pre!r} -> null; suspended PUT x-amz-version-id {seen}; null overwritten; null marker"

    def versioning_copy(self):
        s3 = self.s3
        with self.bucket("copy", versioned=True) as b:
            v1 = s3.put_object(Bucket=b, Key="src", Body=b"old bytes")["VersionId"]
            s3.put_object(Bucket=b, Key="src", Body=b"new bytes")
            r = s3.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src", "VersionId": v1})
            check(r.get("CopySourceVersionId") == v1, f"CopySourceVersionId {r.get('CopySourceVersionId')!r}")
            dv = r.get("VersionId")
            check(dv and dv != "null" and dv != v1, f"copy VersionId {dv!r}")
            g = s3.get_object(Bucket=b, Key="dst")
            check(g["Body"].read() == b"old bytes" and g.get("VersionId") == dv, "copy of the old version")
            # Restoring an old version over the current one (copy onto itself by version).
            r = s3.copy_object(Bucket=b, Key="src", CopySource={"Bucket": b, "Key": "src", "VersionId": v1})
            check(r.get("CopySourceVersionId") == v1, "restore copy: CopySourceVersionId")
            check(s3.get_object(Bucket=b, Key="src")["Body"].read() == b"old bytes", "restored by copy")
            check(len(s3.list_object_versions(Bucket=b, Prefix="src")["Versions"]) == 3, "restore adds a version")
            # A copy source naming a delete marker by version id: "Amazon S3 returns an HTTP 400 Bad Request
            # error, because you are not allowed to specify a delete marker as a version for the
            # x-amz-copy-source" (M-s3 CopyObject CopySource; moto: InvalidRequest).
            mid = s3.delete_object(Bucket=b, Key="src")["VersionId"]
            # Without a version the source is the marker: 404 NoSuchKey.
            expect_error(lambda: s3.copy_object(Bucket=b, Key="x", CopySource={"Bucket": b, "Key": "src"}), 404, "NoSuchKey",
                         what="copy when the current version is a marker")
            e = expect_error(lambda: s3.copy_object(Bucket=b, Key="x", CopySource={"Bucket": b, "Key": "src", "VersionId": mid}),
                             400, what="copy from a delete marker's version id")
            return f"CopySourceVersionId {v1!r}; copy from a marker's id -> {http_status(e)} {err_code(e)}"

    def versioning_delete_objects(self):
        s3 = self.s3
        with self.bucket("delobjs", versioned=True) as b:
            a1 = s3.put_object(Bucket=b, Key="a", Body=b"a1")["VersionId"]
            a2 = s3.put_object(Bucket=b, Key="a", Body=b"a2")["VersionId"]
            s3.put_object(Bucket=b, Key="c", Body=b"c1")
            bm = s3.delete_object(Bucket=b, Key="c")["VersionId"]
            r = s3.delete_objects(Bucket=b, Delete={"Objects": [
                {"Key": "a", "VersionId": a1},
                {"Key": "c", "VersionId": bm},
                {"Key": "new"},  # no version: adds a marker
                {"Key": "a", "VersionId": "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY"},  # unknown: deleting nothing is success
            ]})
            check(not r.get("Errors"), f"Errors {r.get('Errors')}")
            got = {(d["Key"], d.get("VersionId"), d.get("DeleteMarker"), d.get("DeleteMarkerVersionId")) for d in r.get("Deleted", [])}
            check(("a", a1, None, None) in got, f"Deleted a@a1: {got}")
            check(("c", bm, True, bm) in got, f"Deleted c@marker (DeleteMarker true, DeleteMarkerVersionId): {got}")
            new = [d for d in r["Deleted"] if d["Key"] == "new"]
            check(len(new) == 1 and new[0].get("DeleteMarker") is True and new[0].get("DeleteMarkerVersionId"),
                  f"Deleted new (marker): {new}")
            vs = self.versions(b)
            check(("a", a2, True, False) in vs and all(v != a1 for _, v, _, _ in vs), f"a: {vs}")
            check(s3.get_object(Bucket=b, Key="c")["Body"].read() == b"c1", "c back after deleting its marker")
            # Malformed version id inside DeleteObjects.
            r = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "a", "VersionId": "not a version id!"}]})
            errs = r.get("Errors", [])
            note = f"{errs[0].get('Code')}" if errs else "no per-key error"
            check(errs and errs[0].get("Code") in ("NoSuchVersion", "InvalidArgument"), f"malformed id in DeleteObjects: {r}")
            return f"version, marker and plain entries in one request; malformed id -> per-key {note}"

    def versioning_bad_ids(self):
        s3 = self.s3
        with self.bucket("badid", versioned=True) as b:
            vid = s3.put_object(Bucket=b, Key="k", Body=b"x")["VersionId"]
            bad = "not a version id!"
            for what, fn in [("GET", lambda: s3.get_object(Bucket=b, Key="k", VersionId=bad)),
                             ("DELETE", lambda: s3.delete_object(Bucket=b, Key="k", VersionId=bad))]:
                e = expect_error(fn, 400, "InvalidArgument", message="Invalid version id specified", what=f"{what} malformed id")
                arg = e.response.get("Error", {}).get("ArgumentName")
                check(arg in (None, "versionId"), f"{what}: ArgumentName {arg!r}")
            expect_error(lambda: s3.head_object(Bucket=b, Key="k", VersionId=bad), 400, "400", "InvalidArgument", what="HEAD malformed id")
            # Well-formed, unknown: a real id with its last character changed, and an S3-shaped id.
            other = vid[:-1] + ("A" if vid[-1] != "A" else "B")
            for unknown in (other, "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY"):
                expect_error(lambda: s3.get_object(Bucket=b, Key="k", VersionId=unknown), 404, "NoSuchVersion",
                             what=f"GET unknown id {unknown!r}")
                expect_error(lambda: s3.head_object(Bucket=b, Key="k", VersionId=unknown), 404, "404", "NoSuchVersion",
                             what=f"HEAD unknown id {unknown!r}")
            # The id of one key is unknown for another.
            s3.put_object(Bucket=b, Key="other", Body=b"y")
            expect_error(lambda: s3.get_object(Bucket=b, Key="other", VersionId=vid), 404, "NoSuchVersion", what="another key's id")
            # DELETE of an unknown well-formed id deletes nothing and succeeds.
            d = s3.delete_object(Bucket=b, Key="k", VersionId=other)
            check(status_of(d) == 204, f"DELETE unknown id: HTTP {status_of(d)}")
            return "malformed -> 400 InvalidArgument; unknown -> 404 NoSuchVersion; DELETE unknown -> 204"

    def versioning_bad_config(self):
        s3 = self.s3
        with self.bucket("badcfg") as b:
            expect_error(lambda: s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "On"}),
                         400, "IllegalVersioningConfigurationException", what="Status On")
            check("Status" not in s3.get_bucket_versioning(Bucket=b), "the refused configuration changed the state")
            s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
            check(s3.get_bucket_versioning(Bucket=b).get("Status") == "Suspended", "unversioned -> Suspended")
            return "Status On -> 400 IllegalVersioningConfigurationException; unversioned -> Suspended allowed"

    def versioning_iam(self):
        s3 = self.s3
        with self.bucket("iamver", versioned=True) as b:
            v1 = s3.put_object(Bucket=b, Key="k", Body=b"one")["VersionId"]
            s3.put_object(Bucket=b, Key="k", Body=b"two")
            # Object and bucket actions without the *Version ones (S3-FEATURES §4: s3:DeleteObjectVersion,
            # s3:ListBucketVersions; GET/HEAD of a version is s3:GetObjectVersion).
            u = self.iam_user({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], "Resource": f"arn:aws:s3:::{b}/*"},
                {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketVersioning"], "Resource": f"arn:aws:s3:::{b}"}]})
            check(u.get_object(Bucket=b, Key="k")["Body"].read() == b"two", "user GET current")
            check(u.get_bucket_versioning(Bucket=b).get("Status") == "Enabled", "user GetBucketVersioning")
            expect_error(lambda: u.get_object(Bucket=b, Key="k", VersionId=v1), 403, "AccessDenied",
                         what="GET ?versionId without s3:GetObjectVersion")
            expect_error(lambda: u.head_object(Bucket=b, Key="k", VersionId=v1), 403, "403", "AccessDenied",
                         what="HEAD ?versionId without s3:GetObjectVersion")
            expect_error(lambda: u.list_object_versions(Bucket=b), 403, "AccessDenied",
                         what="ListObjectVersions without s3:ListBucketVersions")
            expect_error(lambda: u.delete_object(Bucket=b, Key="k", VersionId=v1), 403, "AccessDenied",
                         what="DELETE ?versionId without s3:DeleteObjectVersion")
            expect_error(lambda: u.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"}), 403, "AccessDenied",
                         what="PutBucketVersioning without s3:PutBucketVersioning")
            d = u.delete_object(Bucket=b, Key="k")
            check(d.get("DeleteMarker") is True, "user plain DELETE (s3:DeleteObject) adds a marker")
            check(s3.get_object(Bucket=b, Key="k", VersionId=v1)["Body"].read() == b"one", "v1 still there")
            return "GetObjectVersion, ListBucketVersions, DeleteObjectVersion, PutBucketVersioning each needed"

    # -- 2. encryption per version ---------------------------------------------------------------

    def encryption_kms(self):
        s3 = self.s3
        with self.bucket("kmsv", versioned=True) as b:
            s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={"Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})
            v1 = s3.put_object(Bucket=b, Key="k", Body=b"kms by default")
            v2 = s3.put_object(Bucket=b, Key="k", Body=b"kms explicit", ServerSideEncryption="aws:kms")
            v3 = s3.put_object(Bucket=b, Key="k", Body=b"sse-s3 explicit", ServerSideEncryption="AES256")
            check(v1.get("ServerSideEncryption") == "aws:kms" and v2.get("ServerSideEncryption") == "aws:kms",
                  f"PUT SSE {v1.get('ServerSideEncryption')} {v2.get('ServerSideEncryption')}")
            check(v3.get("ServerSideEncryption") == "AES256", f"PUT AES256: {v3.get('ServerSideEncryption')}")
            for r, body, alg in ((v1, b"kms by default", "aws:kms"), (v2, b"kms explicit", "aws:kms"), (v3, b"sse-s3 explicit", "AES256")):
                g = s3.get_object(Bucket=b, Key="k", VersionId=r["VersionId"])
                check(g["Body"].read() == body and g.get("ServerSideEncryption") == alg, f"GET {r['VersionId']}: {g.get('ServerSideEncryption')}")
                h = s3.head_object(Bucket=b, Key="k", VersionId=r["VersionId"])
                check(h.get("ServerSideEncryption") == alg, f"HEAD {r['VersionId']}: {h.get('ServerSideEncryption')}")
                if alg == "aws:kms":
                    check((h.get("SSEKMSKeyId") or "").startswith("arn:aws:kms:"), f"HEAD SSEKMSKeyId {h.get('SSEKMSKeyId')!r}")
            return "default aws:kms, explicit aws:kms, explicit AES256 versions of one key, each read back"

    def encryption_ssec(self):
        s3 = self.s3
        with self.bucket("ssecv", versioned=True) as b:
            s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=ALLOW_SSEC)
            keys = [secrets.token_bytes(32) for _ in range(3)]
            bodies = [secrets.token_bytes(1000 + 70_000 * i) for i in range(3)]
            vids = []
            for key, body in zip(keys, bodies):
                r = s3.put_object(Bucket=b, Key="k", Body=body, **ssec_args(key))
                check(r.get("SSECustomerKeyMD5") == b64(hashlib.md5(key).digest()), "PUT SSECustomerKeyMD5")
                vids.append(r["VersionId"])
            for i, (vid, body) in enumerate(zip(vids, bodies)):
                g = s3.get_object(Bucket=b, Key="k", VersionId=vid, **ssec_args(keys[i]))
                check(g["Body"].read() == body, f"version {i} with its key")
                h = s3.head_object(Bucket=b, Key="k", VersionId=vid, **ssec_args(keys[i]))
                check(h["ContentLength"] == len(body), f"HEAD version {i}")
                wrong = keys[(i + 1) % 3]
                expect_error(lambda: s3.get_object(Bucket=b, Key="k", VersionId=vid, **ssec_args(wrong)), 403, "AccessDenied",
                             what=f"GET version {i} with another version's key")
                expect_error(lambda: s3.head_object(Bucket=b, Key="k", VersionId=vid, **ssec_args(wrong)), 403, "403", "AccessDenied",
                             what=f"HEAD version {i} with another version's key")
                expect_error(lambda: s3.get_object(Bucket=b, Key="k", VersionId=vid), 400, "InvalidRequest",
                             what=f"GET version {i} without a key")
            # Copy an old SSE-C version to a new key with a new key.
            nk = secrets.token_bytes(32)
            r = s3.copy_object(Bucket=b, Key="copy", CopySource={"Bucket": b, "Key": "k", "VersionId": vids[0]},
                               **ssec_args(nk), **ssec_args(keys[0], "CopySource"))
            check(r.get("CopySourceVersionId") == vids[0], "copy: CopySourceVersionId")
            check(s3.get_object(Bucket=b, Key="copy", **ssec_args(nk))["Body"].read() == bodies[0], "copy re-keyed")
            expect_error(lambda: s3.copy_object(Bucket=b, Key="copy2", CopySource={"Bucket": b, "Key": "k", "VersionId": vids[0]},
                                                **ssec_args(nk), **ssec_args(keys[1], "CopySource")),
                         403, "AccessDenied", what="copy of version 0 with version 1's key")
            return "3 versions, 3 keys: own key 200, other key 403, none 400; copy of an old version re-keyed"

    def encryption_rotate(self):
        s3 = self.s3
        with self.bucket("rot", versioned=True) as b:
            s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={"Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                 "BlockedEncryptionTypes": {"EncryptionType": ["NONE"]}}]})
            plan = []  # (key, version id, body, extra GET args)
            for i in range(3):
                body = f"sse-s3 version {i} ".encode() * (1 + 5000 * i)
                plan.append(("s3obj", s3.put_object(Bucket=b, Key="s3obj", Body=body)["VersionId"], body, {}))
            for i in range(2):
                body = f"kms version {i}".encode()
                plan.append(("kmsobj", s3.put_object(Bucket=b, Key="kmsobj", Body=body, ServerSideEncryption="aws:kms")["VersionId"], body, {}))
            for i in range(2):
                key, body = secrets.token_bytes(32), secrets.token_bytes(5000 + i)
                plan.append(("cobj", s3.put_object(Bucket=b, Key="cobj", Body=body, **ssec_args(key))["VersionId"], body, ssec_args(key)))
            s3.delete_object(Bucket=b, Key="s3obj")  # a marker among the versions

            def read_all(when: str) -> None:
                for key, vid, body, extra in plan:
                    g = s3.get_object(Bucket=b, Key=key, VersionId=vid, **extra)
                    check(g["Body"].read() == body, f"{when}: {key}@{vid} differs")
            read_all("before rotation")
            self.cli("sse", "rotate-root")
            read_all("after rotate-root")
            after_rot = s3.put_object(Bucket=b, Key="s3obj", Body=b"written after rotation")["VersionId"]
            plan.append(("s3obj", after_rot, b"written after rotation", {}))
            def reseal() -> int:
                out = json.loads(self.cli("sse", "reseal", b, json_out=True))
                return int(out["headers"]["x-s3crypt-resealed-objects"])
            # Every SSE-S3 version written before the rotation, not only the current one (a marker).
            resealed = reseal()
            check(resealed == 3, f"reseal after the first rotation: {resealed} objects, want the 3 older SSE-S3 versions")
            read_all("after reseal")
            self.cli("sse", "rotate-root")
            resealed2 = reseal()
            check(resealed2 == 4, f"reseal after the second rotation: {resealed2} objects, want 4 SSE-S3 versions")
            read_all("after a second rotate-root and reseal")
            check(reseal() == 0, "a third reseal found objects to move")
            vs = [v for v in s3.list_object_versions(Bucket=b)["Versions"]]
            check(len(vs) == len(plan), f"{len(vs)} versions listed, {len(plan)} written")
            return f"{len(plan)} versions (SSE-S3, SSE-KMS, SSE-C) read back after rotate-root + reseal ({resealed}, then {resealed2} resealed)"

    # -- 4. Object Lock ---------------------------------------------------------------------

    def lock_default_retention(self):
        s3 = self.s3
        with self.bucket("lockcfg", lock=True) as b:
            check(s3.get_bucket_versioning(Bucket=b).get("Status") == "Enabled", "a lock bucket is versioned")
            c = s3.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"]
            check(c.get("ObjectLockEnabled") == "Enabled" and "Rule" not in c, f"initial configuration {c}")
            s3.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
            c = s3.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"]
            check(c.get("Rule", {}).get("DefaultRetention") == {"Mode": "GOVERNANCE", "Days": 1}, f"configuration {c}")
            t0 = utcnow()
            vid = s3.put_object(Bucket=b, Key="k", Body=b"defaulted")["VersionId"]
            h = s3.head_object(Bucket=b, Key="k")
            check(h.get("ObjectLockMode") == "GOVERNANCE", f"HEAD ObjectLockMode {h.get('ObjectLockMode')!r}")
            until = h.get("ObjectLockRetainUntilDate")
            check(isinstance(until, dt.datetime), f"HEAD ObjectLockRetainUntilDate {until!r}")
            delta = (until - t0).total_seconds()
            check(86400 - 120 <= delta <= 86400 + 120, f"retain-until {until} is {delta:.0f} s after the PUT, not 1 day")
            g = s3.get_object(Bucket=b, Key="k", VersionId=vid)
            check(g.get("ObjectLockMode") == "GOVERNANCE" and g.get("ObjectLockRetainUntilDate") == until, "GET lock headers")
            ret = s3.get_object_retention(Bucket=b, Key="k", VersionId=vid)["Retention"]
            check(ret.get("Mode") == "GOVERNANCE" and ret.get("RetainUntilDate") == until, f"GetObjectRetention {ret}")
            # Years instead of Days; an explicit mode/date on the write overrides the default.
            s3.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Years": 1}}})
            c = s3.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"]
            check(c["Rule"]["DefaultRetention"] == {"Mode": "GOVERNANCE", "Years": 1}, f"Years: {c}")
            # The default change does not touch the existing version.
            h2 = s3.head_object(Bucket=b, Key="k", VersionId=vid)
            check(h2.get("ObjectLockRetainUntilDate") == until, "existing version's retention changed with the default")
            explicit = (utcnow() + dt.timedelta(hours=2)).replace(microsecond=0)
            s3.put_object(Bucket=b, Key="k2", Body=b"x", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=explicit)
            h = s3.head_object(Bucket=b, Key="k2")
            check(h.get("ObjectLockRetainUntilDate") == explicit, f"explicit date {h.get('ObjectLockRetainUntilDate')} != {explicit}")
            # Days and Years both -> MalformedXML.
            expect_error(lambda: s3.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1, "Years": 1}}}),
                400, "MalformedXML", what="Days and Years")
            return f"Enabled; default GOVERNANCE 1 day -> HEAD retain-until +{delta:.0f} s; Years; explicit overrides"

    def lock_compliance(self):
        s3 = self.s3
        b = self.name("lockcomp")
        s3.create_bucket(Bucket=b, ObjectLockEnabledForBucket=True)
        # Not nuked: the COMPLIANCE version cannot be deleted for a day (the home is temporary).
        until = (utcnow() + dt.timedelta(days=1)).replace(microsecond=0)
        vid = s3.put_object(Bucket=b, Key="k", Body=b"compliant", ObjectLockMode="COMPLIANCE",
                            ObjectLockRetainUntilDate=until)["VersionId"]
        h = s3.head_object(Bucket=b, Key="k")
        check(h.get("ObjectLockMode") == "COMPLIANCE" and h.get("ObjectLockRetainUntilDate") == until,
              f"HEAD {h.get('ObjectLockMode')} {h.get('ObjectLockRetainUntilDate')}")
        expect_error(lambda: s3.delete_object(Bucket=b, Key="k", VersionId=vid), 403, "AccessDenied", message=LOCK_DENIED,
                     what="root deletes a COMPLIANCE version")
        expect_error(lambda: s3.delete_object(Bucket=b, Key="k", VersionId=vid, BypassGovernanceRetention=True),
                     403, "AccessDenied", message=LOCK_DENIED, what="root deletes a COMPLIANCE version with the bypass")
        r = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "k", "VersionId": vid}]}, BypassGovernanceRetention=True)
        errs = r.get("Errors", [])
        check(len(errs) == 1 and errs[0].get("Code") == "AccessDenied" and errs[0].get("Message") == LOCK_DENIED,
              f"DeleteObjects of the COMPLIANCE version: {r.get('Errors')} {r.get('Deleted')}")
        d = s3.delete_object(Bucket=b, Key="k")
        check(d.get("DeleteMarker") is True, "plain DELETE adds a marker")
        check(s3.get_object(Bucket=b, Key="k", VersionId=vid)["Body"].read() == b"compliant", "the locked version survives")
        shorter = until - dt.timedelta(hours=12)
        expect_error(lambda: s3.put_object_retention(Bucket=b, Key="k", VersionId=vid, Retention={
            "Mode": "COMPLIANCE", "RetainUntilDate": shorter}), 403, "AccessDenied", what="shorten COMPLIANCE retention")
        expect_error(lambda: s3.put_object_retention(Bucket=b, Key="k", VersionId=vid, BypassGovernanceRetention=True, Retention={
            "Mode": "COMPLIANCE", "RetainUntilDate": shorter}), 403, "AccessDenied", what="shorten COMPLIANCE retention with bypass")
        longer = until + dt.timedelta(days=1)
        s3.put_object_retention(Bucket=b, Key="k", VersionId=vid, Retention={"Mode": "COMPLIANCE", "RetainUntilDate": longer})
        ret = s3.get_object_retention(Bucket=b, Key="k", VersionId=vid)["Retention"]
        check(ret == {"Mode": "COMPLIANCE", "RetainUntilDate": longer}, f"after extending: {ret}")
        expect_error(lambda: s3.put_object_retention(Bucket=b, Key="k", VersionId=vid, Retention={
            "Mode": "GOVERNANCE", "RetainUntilDate": longer}), 403, "AccessDenied", what="COMPLIANCE -> GOVERNANCE")
        expect_error(lambda: s3.put_object_retention(Bucket=b, Key="k", VersionId=vid, BypassGovernanceRetention=True, Retention={
            "Mode": "GOVERNANCE", "RetainUntilDate": longer}), 403, "AccessDenied", what="COMPLIANCE -> GOVERNANCE with bypass")
        # Overwriting the key is a new version: allowed.
        s3.put_object(Bucket=b, Key="k", Body=b"new version on top")
        return "root 403 with and without bypass (also in DeleteObjects); marker ok; shorten/mode change 403; extend ok"

    def lock_governance(self):
        s3 = self.s3
        with self.bucket("lockgov", lock=True) as b:
            until = (utcnow() + dt.timedelta(days=1)).replace(microsecond=0)
            vid = s3.put_object(Bucket=b, Key="k", Body=b"governed", ObjectLockMode="GOVERNANCE",
                                ObjectLockRetainUntilDate=until)["VersionId"]
            expect_error(lambda: s3.delete_object(Bucket=b, Key="k", VersionId=vid), 403, "AccessDenied", message=LOCK_DENIED,
                         what="delete a GOVERNANCE version without the bypass header")
            # Shortening without the bypass is refused, with it allowed; GOVERNANCE -> COMPLIANCE needs it too.
            shorter = until - dt.timedelta(hours=6)
            expect_error(lambda: s3.put_object_retention(Bucket=b, Key="k", VersionId=vid, Retention={
                "Mode": "GOVERNANCE", "RetainUntilDate": shorter}), 403, "AccessDenied", what="shorten GOVERNANCE without bypass")
            s3.put_object_retention(Bucket=b, Key="k", VersionId=vid, BypassGovernanceRetention=True, Retention={
                "Mode": "GOVERNANCE", "RetainUntilDate": shorter})
            check(s3.get_object_retention(Bucket=b, Key="k", VersionId=vid)["Retention"]["RetainUntilDate"] == shorter,
                  "shortened with bypass")
            s3.put_object_retention(Bucket=b, Key="k", VersionId=vid, Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until})
            r = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "k", "VersionId": vid}]})
            errs = r.get("Errors", [])
            check(len(errs) == 1 and errs[0].get("Code") == "AccessDenied", f"DeleteObjects without bypass: {r.get('Errors')} {r.get('Deleted')}")
            d = s3.delete_object(Bucket=b, Key="k", VersionId=vid, BypassGovernanceRetention=True)
            check(status_of(d) == 204, f"root with bypass: HTTP {status_of(d)}")
            expect_error(lambda: s3.head_object(Bucket=b, Key="k", VersionId=vid), 404, "404", "NoSuchVersion", what="deleted version")
            # DeleteObjects with the bypass header.
            v2 = s3.put_object(Bucket=b, Key="k2", Body=b"x", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until)["VersionId"]
            r = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "k2", "VersionId": v2}]}, BypassGovernanceRetention=True)
            check(not r.get("Errors") and [d["VersionId"] for d in r.get("Deleted", [])] == [v2], f"DeleteObjects with bypass: {r}")
            return "no header 403 (lock message); shorten needs bypass; root + header 204; DeleteObjects likewise"

    def lock_governance_user(self):
        s3 = self.s3
        with self.bucket("lockusr", lock=True) as b:
            until = (utcnow() + dt.timedelta(days=1)).replace(microsecond=0)
            vid = s3.put_object(Bucket=b, Key="k", Body=b"governed", ObjectLockMode="GOVERNANCE",
                                ObjectLockRetainUntilDate=until)["VersionId"]
            u = self.iam_user({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:*", "Resource": [f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*"]},
                {"Effect": "Deny", "Action": "s3:BypassGovernanceRetention", "Resource": f"arn:aws:s3:::{b}/*"}]})
            check(u.get_object(Bucket=b, Key="k", VersionId=vid)["Body"].read() == b"governed", "the user can read")
            expect_error(lambda: u.delete_object(Bucket=b, Key="k", VersionId=vid, BypassGovernanceRetention=True),
                         403, "AccessDenied", what="user without s3:BypassGovernanceRetention, with the header")
            expect_error(lambda: u.put_object_retention(Bucket=b, Key="k", VersionId=vid, BypassGovernanceRetention=True,
                                                        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until - dt.timedelta(hours=1)}),
                         403, "AccessDenied", what="user shortens without s3:BypassGovernanceRetention")
            # Extending needs only s3:PutObjectRetention.
            u.put_object_retention(Bucket=b, Key="k", VersionId=vid, Retention={
                "Mode": "GOVERNANCE", "RetainUntilDate": until + dt.timedelta(hours=1)})
            # A user granted the bypass (Allow s3:* without the Deny) may delete with the header.
            u2 = self.iam_user({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:*", "Resource": [f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*"]}]})
            expect_error(lambda: u2.delete_object(Bucket=b, Key="k", VersionId=vid), 403, "AccessDenied",
                         what="user with the permission, without the header")
            d = u2.delete_object(Bucket=b, Key="k", VersionId=vid, BypassGovernanceRetention=True)
            check(status_of(d) == 204, f"user with the permission and the header: HTTP {status_of(d)}")
            return "Deny s3:BypassGovernanceRetention: 403 with the header; with the permission: header needed, then 204"

    def lock_legal_hold(self):
        s3 = self.s3
        with self.bucket("lockhold", lock=True) as b:
            vid = s3.put_object(Bucket=b, Key="k", Body=b"held")["VersionId"]
            expect_error(lambda: s3.get_object_retention(Bucket=b, Key="k", VersionId=vid), 404, "NoSuchObjectLockConfiguration",
                         what="GetObjectRetention without retention")
            lm = s3.head_object(Bucket=b, Key="k", VersionId=vid)["LastModified"]
            time.sleep(1.1)  # Last-Modified has 1 s resolution
            s3.put_object_legal_hold(Bucket=b, Key="k", VersionId=vid, LegalHold={"Status": "ON"})
            check(s3.get_object_legal_hold(Bucket=b, Key="k", VersionId=vid)["LegalHold"] == {"Status": "ON"}, "GetObjectLegalHold ON")
            h = s3.head_object(Bucket=b, Key="k", VersionId=vid)
            check(h.get("ObjectLockLegalHoldStatus") == "ON", f"HEAD ObjectLockLegalHoldStatus {h.get('ObjectLockLegalHoldStatus')!r}")
            check(h.get("VersionId") == vid and len(s3.list_object_versions(Bucket=b)["Versions"]) == 1,
                  "setting the legal hold created a version")
            check(h["LastModified"] == lm, f"setting the legal hold changed Last-Modified: {lm} -> {h['LastModified']}")
            expect_error(lambda: s3.delete_object(Bucket=b, Key="k", VersionId=vid), 403, "AccessDenied", message=LOCK_DENIED,
                         what="delete a held version")
            expect_error(lambda: s3.delete_object(Bucket=b, Key="k", VersionId=vid, BypassGovernanceRetention=True),
                         403, "AccessDenied", message=LOCK_DENIED, what="delete a held version with the bypass")
            # A legal hold set on the write.
            v2 = s3.put_object(Bucket=b, Key="k2", Body=b"x", ObjectLockLegalHoldStatus="ON")["VersionId"]
            check(s3.head_object(Bucket=b, Key="k2").get("ObjectLockLegalHoldStatus") == "ON", "legal hold from the PUT header")
            s3.put_object_legal_hold(Bucket=b, Key="k", VersionId=vid, LegalHold={"Status": "OFF"})
            check(s3.get_object_legal_hold(Bucket=b, Key="k", VersionId=vid)["LegalHold"] == {"Status": "OFF"}, "OFF")
            d = s3.delete_object(Bucket=b, Key="k", VersionId=vid)
            check(status_of(d) == 204, f"delete after OFF: HTTP {status_of(d)}")
            s3.put_object_legal_hold(Bucket=b, Key="k2", VersionId=v2, LegalHold={"Status": "OFF"})
            return "no retention -> 404 NoSuchObjectLockConfiguration; hold ON blocks delete even with bypass; OFF -> 204"

    def lock_without_lock(self):
        s3 = self.s3
        with self.bucket("nolock") as b:
            e = expect_error(lambda: s3.get_object_lock_configuration(Bucket=b), 404, "ObjectLockConfigurationNotFoundError",
                             what="GetObjectLockConfiguration on a plain bucket")
            expect_error(lambda: s3.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}),
                         409, "InvalidBucketState", what="PutObjectLockConfiguration on an unversioned bucket")
            until = utcnow() + dt.timedelta(days=1)
            expect_error(lambda: s3.put_object(Bucket=b, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until),
                         400, "InvalidRequest", what="PUT with lock headers on a bucket without Object Lock")
            expect_error(lambda: s3.put_object(Bucket=b, Key="k", Body=b"x", ObjectLockLegalHoldStatus="ON"),
                         400, "InvalidRequest", what="PUT with a legal-hold header on a bucket without Object Lock")
            s3.put_object(Bucket=b, Key="k", Body=b"x")
            expect_error(lambda: s3.put_object_retention(Bucket=b, Key="k", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until}),
                         400, "InvalidRequest", what="PutObjectRetention on a bucket without Object Lock")
            expect_error(lambda: s3.put_object_legal_hold(Bucket=b, Key="k", LegalHold={"Status": "ON"}),
                         400, "InvalidRequest", what="PutObjectLegalHold on a bucket without Object Lock")
            s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
            expect_error(lambda: s3.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}),
                         409, "InvalidBucketState", what="PutObjectLockConfiguration on a suspended bucket")
            # Enabled versioning: Object Lock can be turned on for an existing bucket (S3-FEATURES §6.1, §12.4).
            s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
            s3.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
            c = s3.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"]
            check(c.get("ObjectLockEnabled") == "Enabled", f"after enabling on an existing bucket: {c}")
            return f"{err_message(e)!r}; unversioned/suspended 409; lock headers 400; existing Enabled bucket -> lock ok"

    def lock_suspend(self):
        s3 = self.s3
        with self.bucket("locksusp", lock=True) as b:
            e = expect_error(lambda: s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"}),
                             409, "InvalidBucketState", what="suspend versioning of a lock bucket")
            check(s3.get_bucket_versioning(Bucket=b).get("Status") == "Enabled", "still Enabled")
            # Lock headers without Content-MD5 or a checksum: botocore always adds a checksum, so only a
            # check that the normal path works here.
            return f"409 InvalidBucketState: {err_message(e)!r}"

    def lock_bad_requests(self):
        s3 = self.s3
        with self.bucket("lockbad", lock=True) as b:
            until = utcnow() + dt.timedelta(days=1)
            expect_error(lambda: s3.put_object(Bucket=b, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE"), 400, "InvalidArgument",
                         what="mode without retain-until")
            expect_error(lambda: s3.put_object(Bucket=b, Key="k", Body=b"x", ObjectLockRetainUntilDate=until), 400, "InvalidArgument",
                         what="retain-until without mode")
            expect_error(lambda: s3.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "governance", "Days": 1}}}),
                400, "MalformedXML", what="lowercase mode in the configuration")
            expect_error(lambda: s3.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE"}}}),
                400, "MalformedXML", what="a default retention without Days or Years")
            check(s3.list_object_versions(Bucket=b).get("Versions") is None, "a refused PUT stored a version")
            return "one of mode/retain-until -> 400 InvalidArgument; lowercase mode, no period -> 400 MalformedXML"

    # -- 3. MFA Delete ---------------------------------------------------------------------

    def mfa_device(self):
        mfa = Mfa()
        for _ in range(2):
            out = self.cli("iam", "create-virtual-mfa-device", f"root-{secrets.token_hex(3)}", json_out=True)
            try:
                dev = json.loads(out)
            except ValueError:
                dev = json.loads(out.strip().splitlines()[-1])
            dev = dev.get("VirtualMFADevice", dev)  # IAM's CreateVirtualMFADevice shape
            serial, seed = dev["SerialNumber"], dev["Base32StringSeed"]
            SECRETS_USED.append(seed)
            check(re.match(r"^arn:aws:iam::\d{12}:mfa/root-[0-9a-f]{6}$", serial), f"SerialNumber {serial!r}")
            totp = pyotp.TOTP(seed)
            # Two consecutive codes, the second within one step of now: the two previous steps, so the
            # current and next steps stay free. Not within 3 s of a boundary (now-1 must stay in the window).
            if time.time() % 30 > 27:
                time.sleep(30.2 - time.time() % 30)
            now = int(time.time()) // 30
            self.cli("iam", "enable-mfa-device", "--serial-number", serial,
                     "--authentication-code1", totp.at((now - 2) * 30), "--authentication-code2", totp.at((now - 1) * 30))
            mfa.add(serial, seed, now - 1)
        listed = self.cli("iam", "list-virtual-mfa-devices", "--assignment-status", "Assigned", json_out=True)
        for serial, _, _ in mfa.devices:
            check(serial in listed, f"{serial} not in list-virtual-mfa-devices --assignment-status Assigned: {short(listed)}")
        self.mfa = mfa
        return f"2 devices, e.g. serial {mfa.serial}"

    def need_mfa(self) -> Mfa:
        if self.mfa is None:
            raise AssertionError("no MFA device (mfa_delete_device_enabled failed)")
        return self.mfa

    def mfa_bucket(self, tag: str) -> str:
        """A versioned bucket with MFA Delete on (one code)."""
        mfa = self.need_mfa()
        b = self.name(tag)
        self.s3.create_bucket(Bucket=b)
        # Enabling versioning does not need MFA before MFA Delete is on.
        self.s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
        r = self.s3.put_bucket_versioning(Bucket=b, MFA=mfa.code(),
                                          VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"})
        check(status_of(r) == 200, f"PutBucketVersioning with MFA: HTTP {status_of(r)}")
        return b

    def mfa_off_and_nuke(self, b: str) -> None:
        with contextlib.suppress(Exception):
            if self.s3.get_bucket_versioning(Bucket=b).get("MFADelete") == "Enabled":
                self.s3.put_bucket_versioning(Bucket=b, MFA=self.need_mfa().code(),
                                              VersioningConfiguration={"Status": "Enabled", "MFADelete": "Disabled"})
        self.nuke(b)

    def mfa_delete(self):
        s3 = self.s3
        mfa = self.need_mfa()
        b = self.mfa_bucket("mfa")
        self.mfa_state = {"b": b}
        g = s3.get_bucket_versioning(Bucket=b)
        check(g.get("Status") == "Enabled" and g.get("MFADelete") == "Enabled", f"GetBucketVersioning {g}")
        v1 = s3.put_object(Bucket=b, Key="k", Body=b"one")["VersionId"]
        v2 = s3.put_object(Bucket=b, Key="k", Body=b"two")["VersionId"]
        e = expect_error(lambda: s3.delete_object(Bucket=b, Key="k", VersionId=v1), 403, "AccessDenied", message=MFA_REQUIRED,
                         what="DELETE ?versionId without x-amz-mfa")
        code = mfa.code()
        d = s3.delete_object(Bucket=b, Key="k", VersionId=v1, MFA=code)
        check(status_of(d) == 204, f"DELETE ?versionId with a valid code: HTTP {status_of(d)}")
        expect_error(lambda: s3.get_object(Bucket=b, Key="k", VersionId=v1), 404, "NoSuchVersion", what="v1 after the MFA delete")
        self.mfa_state = {"b": b, "v2": v2, "used": code}
        return f"GetBucketVersioning MfaDelete Enabled; no header 403 {err_message(e)!r}; valid code 204"

    def mfa_refusals(self):
        s3 = self.s3
        mfa = self.need_mfa()
        st = getattr(self, "mfa_state", None)
        if not st:
            raise AssertionError("mfa_delete_enable_and_delete_version did not leave a bucket")
        if "v2" not in st:
            raise AssertionError("mfa_delete_enable_and_delete_version failed before its versions")
        b, v2, used = st["b"], st["v2"], st["used"]
        notes = []
        e = expect_error(lambda: s3.delete_object(Bucket=b, Key="k", VersionId=v2, MFA=used), 403, "AccessDenied",
                         what="the same code again")
        notes.append(f"reused code 403 {err_message(e)!r}")
        e = expect_error(lambda: s3.delete_object(Bucket=b, Key="k", VersionId=v2, MFA=mfa.wrong()), 403, "AccessDenied",
                         what="a wrong code")
        notes.append(f"wrong code 403 {err_message(e)!r}")
        # An IAM user allowed s3:* with a valid header: only the owner's root may.
        u = self.iam_user({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": [f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*"]}]})
        e = expect_error(lambda: u.delete_object(Bucket=b, Key="k", VersionId=v2, MFA=mfa.peek()), 403, "AccessDenied",
                         what="IAM user with a valid code")
        notes.append(f"IAM user 403 {err_message(e)!r}")
        expect_error(lambda: u.delete_object(Bucket=b, Key="k", VersionId=v2), 403, "AccessDenied", message=MFA_REQUIRED,
                     what="IAM user without the header")
        # Over the plain HTTP listener: a request with x-amz-mfa is refused.
        e = expect_error(lambda: self.http_s3.delete_object(Bucket=b, Key="k", VersionId=v2, MFA=mfa.peek()), 400, "InvalidRequest",
                         what="x-amz-mfa over plain HTTP")
        notes.append(f"HTTP 400 {err_message(e)!r}")
        # Malformed header.
        e = expect_error(lambda: s3.delete_object(Bucket=b, Key="k", VersionId=v2, MFA="123456"), 400, "InvalidArgument",
                         what="malformed x-amz-mfa")
        # Not needed: PUT, GET, list, plain DELETE (adds a marker), GET by version.
        v3 = s3.put_object(Bucket=b, Key="k", Body=b"three")["VersionId"]
        check(s3.get_object(Bucket=b, Key="k")["Body"].read() == b"three", "GET")
        check(len(s3.list_object_versions(Bucket=b)["Versions"]) == 2, "ListObjectVersions")
        d = s3.delete_object(Bucket=b, Key="k")
        check(d.get("DeleteMarker") is True, "plain DELETE adds a marker without MFA")
        check(s3.get_object(Bucket=b, Key="k", VersionId=v3)["Body"].read() == b"three", "GET by version")
        # Removing the marker is a version delete: MFA needed.
        expect_error(lambda: s3.delete_object(Bucket=b, Key="k", VersionId=d["VersionId"]), 403, "AccessDenied",
                     message=MFA_REQUIRED, what="DELETE of a marker by version without MFA")
        # DeleteObjects naming a version without MFA: the whole request fails, also the plain entry.
        s3.put_object(Bucket=b, Key="plain", Body=b"p")
        e = expect_error(lambda: s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "k", "VersionId": v2}, {"Key": "plain"}]}),
                         403, "AccessDenied", what="DeleteObjects with a version, no MFA")
        check(s3.get_object(Bucket=b, Key="plain")["Body"].read() == b"p", "the refused request deleted the plain entry")
        check(s3.head_object(Bucket=b, Key="k", VersionId=v2)["ContentLength"] == 3, "the refused request deleted v2")
        # DeleteObjects without versions needs no MFA.
        r = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "plain"}]})
        check(not r.get("Errors") and r["Deleted"][0].get("DeleteMarker") is True, f"DeleteObjects without versions: {r}")
        # Changing the versioning state without MFA.
        e = expect_error(lambda: s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"}),
                         403, "AccessDenied", message=MFA_REQUIRED, what="suspend without MFA")
        expect_error(lambda: s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled", "MFADelete": "Disabled"}),
                     403, "AccessDenied", message=MFA_REQUIRED, what="disable MFA Delete without MFA")
        return "; ".join(notes) + "; PUT/GET/list/plain DELETE free; DeleteObjects with a version 403 whole"

    def mfa_suspend(self):
        s3 = self.s3
        mfa = self.need_mfa()
        st = getattr(self, "mfa_state", None)
        if not st:
            raise AssertionError("mfa_delete_enable_and_delete_version did not leave a bucket")
        b = st["b"]
        try:
            # DeleteObjects with a valid code deletes versions.
            v = s3.put_object(Bucket=b, Key="dobj", Body=b"d")["VersionId"]
            r = s3.delete_objects(Bucket=b, MFA=mfa.code(), Delete={"Objects": [{"Key": "dobj", "VersionId": v}]})
            check(not r.get("Errors") and [d["VersionId"] for d in r.get("Deleted", [])] == [v], f"DeleteObjects with MFA: {r}")
            # Suspend and turn MFA Delete off with MFA.
            r = s3.put_bucket_versioning(Bucket=b, MFA=mfa.code(),
                                         VersioningConfiguration={"Status": "Suspended", "MFADelete": "Disabled"})
            check(status_of(r) == 200, f"suspend with MFA: HTTP {status_of(r)}")
            g = s3.get_bucket_versioning(Bucket=b)
            check(g.get("Status") == "Suspended" and g.get("MFADelete") == "Disabled", f"after: {g}")
            # MFA Delete off: version deletes need no code any more.
            vs = s3.list_object_versions(Bucket=b).get("Versions", [])
            check(vs, "no versions left to delete")
            d = s3.delete_object(Bucket=b, Key=vs[0]["Key"], VersionId=vs[0]["VersionId"])
            check(status_of(d) == 204, "version delete after MFA Delete is off")
            return f"DeleteObjects with MFA ok; Suspended + MfaDelete Disabled with MFA ok (waited {mfa.waited:.0f} s for codes)"
        finally:
            self.mfa_off_and_nuke(b)


if __name__ == "__main__":
    sys.exit(harness.main(Scenario, "Versioning, MFA Delete and Object Lock with boto3 against `s3crypt serve`."))
