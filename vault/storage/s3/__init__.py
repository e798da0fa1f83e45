"""The S3 adapter: ``S3Store`` and the only imports of boto3 and botocore in recvault."""

from vault.storage.s3.store import MAX_PART_SIZE, MIN_PART_SIZE, S3Store

__all__ = ["MAX_PART_SIZE", "MIN_PART_SIZE", "S3Store"]
