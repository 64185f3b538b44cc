"""Glacier vaults and Vault Lock against `s3crypt serve` with boto3's unmodified `glacier` client.

Usage: glacier_boto3.py ENDPOINT ACCESS_KEY_ID SECRET MARKER
MARKER is a text the uploaded archives contain (the Rust side then checks the home never holds it).
Prints `OK ...` lines; a failed check prints `FAIL ...`; exits 1 if any check failed.
"""

import io
import json
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.utils import calculate_tree_hash


def main():
    endpoint, akid, secret, marker = sys.argv[1:5]

    def client(secret_key):
        return boto3.client(
            "glacier",
            region_name="us-east-1",
            endpoint_url=endpoint,
            aws_access_key_id=akid,
            aws_secret_access_key=secret_key,
            config=Config(retries={"max_attempts": 1, "mode": "standard"}),
        )

    g = client(secret)
    failed = False

    def check(ok, what):
        nonlocal failed
        print(("OK " if ok else "FAIL ") + what, flush=True)
        failed = failed or not ok

    def refused(what, code, status, fn, **kwargs):
        try:
            fn(**kwargs)
        except ClientError as e:
            got = (e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
            check(got == (code, status), f"{what}: {got} (want {(code, status)}) {e}")
            return
        check(False, f"{what}: succeeded, want {code}")

    # Vaults.
    r = g.create_vault(vaultName="gv1")
    check(r["location"].endswith("/vaults/gv1"), f"create_vault location {r['location']}")
    check(r["ResponseMetadata"]["HTTPStatusCode"] == 201, "create_vault is 201")
    d = g.describe_vault(vaultName="gv1")
    check(
        d["VaultName"] == "gv1"
        and d["NumberOfArchives"] == 0
        and d["VaultARN"].startswith("arn:aws:glacier:us-east-1:")
        and d["VaultARN"].endswith(":vaults/gv1"),
        f"describe_vault {d['VaultARN']}",
    )
    names = [v["VaultName"] for v in g.list_vaults()["VaultList"]]
    check("gv1" in names, f"list_vaults {names}")
    refused("describe a missing vault", "ResourceNotFoundException", 404,
            g.describe_vault, vaultName="missing")

    # Archives with tree hashes.
    body = (marker + " ").encode() * 40000  # > 1 MiB: a two-leaf tree hash
    a = g.upload_archive(vaultName="gv1", body=body, archiveDescription="first")
    check(a["checksum"] == calculate_tree_hash(io.BytesIO(body)), "upload_archive tree hash")
    check(a["ResponseMetadata"]["HTTPStatusCode"] == 201 and a["archiveId"], "upload_archive 201")
    check(a["location"].endswith("/vaults/gv1/archives/" + a["archiveId"]), "archive location")
    refused("upload with a wrong tree hash", "InvalidParameterValueException", 400,
            g.upload_archive, vaultName="gv1", body=b"data", checksum="00" * 32)
    d = g.describe_vault(vaultName="gv1")
    check(d["NumberOfArchives"] == 1 and d["SizeInBytes"] == len(body),
          f"one archive of {len(body)} bytes: {d['NumberOfArchives']} {d['SizeInBytes']}")
    refused("delete a vault with archives", "InvalidParameterValueException", 400,
            g.delete_vault, vaultName="gv1")
    r = g.delete_archive(vaultName="gv1", archiveId=a["archiveId"])
    check(r["ResponseMetadata"]["HTTPStatusCode"] == 204, "delete_archive 204")
    refused("delete the archive again", "ResourceNotFoundException", 404,
            g.delete_archive, vaultName="gv1", archiveId=a["archiveId"])
    g.delete_vault(vaultName="gv1")
    refused("describe a deleted vault", "ResourceNotFoundException", 404,
            g.describe_vault, vaultName="gv1")

    # Vault access policy.
    g.create_vault(vaultName="gv2")
    arn = g.describe_vault(vaultName="gv2")["VaultARN"]
    account = arn.split(":")[4]
    access = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "read", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
        "Action": "glacier:DescribeVault", "Resource": arn}]})
    g.set_vault_access_policy(vaultName="gv2", policy={"Policy": access})
    got = g.get_vault_access_policy(vaultName="gv2")["policy"]["Policy"]
    check(got == access, "get_vault_access_policy returns the policy")
    refused("a malformed access policy", "InvalidParameterValueException", 400,
            g.set_vault_access_policy, vaultName="gv2", policy={"Policy": "{not json"})
    g.delete_vault_access_policy(vaultName="gv2")
    refused("get a deleted access policy", "ResourceNotFoundException", 404,
            g.get_vault_access_policy, vaultName="gv2")

    # Vault Lock: initiate, abort.
    lock_policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "keep-a-year", "Effect": "Deny", "Principal": "*",
        "Action": "glacier:DeleteArchive", "Resource": arn,
        "Condition": {"NumericLessThan": {"glacier:ArchiveAgeInDays": "365"}}}]})
    r = g.initiate_vault_lock(vaultName="gv2", policy={"Policy": lock_policy})
    check(r["ResponseMetadata"]["HTTPStatusCode"] == 201 and r["lockId"], "initiate_vault_lock 201")
    lk = g.get_vault_lock(vaultName="gv2")
    check(lk["State"] == "InProgress" and lk["Policy"] == lock_policy
          and lk.get("ExpirationDate") and lk.get("CreationDate"),
          f"get_vault_lock InProgress {lk.get('ExpirationDate')}")
    r = g.abort_vault_lock(vaultName="gv2")
    check(r["ResponseMetadata"]["HTTPStatusCode"] == 204, "abort_vault_lock 204")
    refused("get an aborted lock", "ResourceNotFoundException", 404,
            g.get_vault_lock, vaultName="gv2")
    g.abort_vault_lock(vaultName="gv2")
    check(True, "abort_vault_lock is idempotent")

    # Vault Lock: initiate, complete, locked for good.
    lock_id = g.initiate_vault_lock(vaultName="gv2", policy={"Policy": lock_policy})["lockId"]
    refused("a second initiate while in progress", "AccessDeniedException", 403,
            g.initiate_vault_lock, vaultName="gv2", policy={"Policy": lock_policy})
    refused("complete with a wrong lock id", "InvalidParameterValueException", 400,
            g.complete_vault_lock, vaultName="gv2", lockId="wrong" + lock_id)
    r = g.complete_vault_lock(vaultName="gv2", lockId=lock_id)
    check(r["ResponseMetadata"]["HTTPStatusCode"] == 204, "complete_vault_lock 204")
    lk = g.get_vault_lock(vaultName="gv2")
    check(lk["State"] == "Locked" and lk["Policy"] == lock_policy, f"Locked: {lk['State']}")
    g.complete_vault_lock(vaultName="gv2", lockId=lock_id)
    check(True, "complete_vault_lock is idempotent with the right id")
    refused("complete a locked vault with a wrong lock id", "AccessDeniedException", 403,
            g.complete_vault_lock, vaultName="gv2", lockId="wrong")
    refused("abort a locked vault", "AccessDeniedException", 403,
            g.abort_vault_lock, vaultName="gv2")
    other = lock_policy.replace("365", "1")
    refused("change a locked policy", "AccessDeniedException", 403,
            g.initiate_vault_lock, vaultName="gv2", policy={"Policy": other})
    refused("initiate the same policy again", "AccessDeniedException", 403,
            g.initiate_vault_lock, vaultName="gv2", policy={"Policy": lock_policy})
    check(g.get_vault_lock(vaultName="gv2")["Policy"] == lock_policy, "the locked policy is unchanged")

    # The locked policy keeps young archives, even from the account root.
    young = g.upload_archive(vaultName="gv2", body=(marker + " young").encode())
    refused("delete a young archive of a locked vault", "AccessDeniedException", 403,
            g.delete_archive, vaultName="gv2", archiveId=young["archiveId"])
    check(g.describe_vault(vaultName="gv2")["NumberOfArchives"] == 1, "the young archive stays")

    # Authentication and what is not implemented.
    refused("a wrong secret", "InvalidSignatureException", 403,
            client(secret + "x").list_vaults)
    refused("jobs are not implemented", "NotImplemented", 501,
            g.initiate_job, vaultName="gv2", jobParameters={"Type": "inventory-retrieval"})
    refused("multipart uploads are not implemented", "NotImplemented", 501,
            g.initiate_multipart_upload, vaultName="gv2", partSize=str(1024 * 1024))
    print(json.dumps({"account": account, "young_archive": young["archiveId"]}), flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
