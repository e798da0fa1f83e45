"""Create one region's bucket with Object Lock (versioning comes with it), and check it.

Run once per region by docker-compose.yml (the rgw-*-init services), with the
recvault image's Python and boto3: the same client recvault itself uses, so no
second S3 tool is needed. Idempotent. Exits non-zero, with one line, when the
store does not answer, refuses Object Lock, or reports another location than
S3_REGION (which the residency report would flag later).

Env: S3_ENDPOINT, S3_REGION, BUCKET, S3_ACCESS_KEY, S3_SECRET_KEY.
"""

from __future__ import annotations

import os
import sys
import time

import boto3
import botocore.exceptions
from botocore.config import Config


def main() -> int:
    endpoint, region, bucket = (os.environ[n] for n in ("S3_ENDPOINT", "S3_REGION", "BUCKET"))
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=os.environ["S3_ACCESS_KEY"],
        aws_secret_access_key=os.environ["S3_SECRET_KEY"],
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    for _attempt in range(120):
        try:
            client.list_buckets()
            break
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
            time.sleep(1)
    else:
        print(f"s3-init: the store at {endpoint} is not answering", file=sys.stderr)
        return 1
    try:
        client.create_bucket(
            Bucket=bucket,
            CreateBucketConfiguration={"LocationConstraint": region},
            ObjectLockEnabledForBucket=True,
        )
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    lock = client.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    if lock.get("ObjectLockEnabled") != "Enabled":
        print(f"s3-init: bucket {bucket} has no Object Lock", file=sys.stderr)
        return 1
    location = client.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"
    if location != region:
        print(f"s3-init: bucket {bucket} is in {location}, not {region}", file=sys.stderr)
        return 1
    print(f"s3-init: bucket {bucket} in {region}: Object Lock on")
    return 0


if __name__ == "__main__":
    sys.exit(main())
