#!/bin/sh
# Create one region's bucket with Object Lock (versioning comes with it) and the
# user recvault writes with. Idempotent. Env: MINIO_URL, MINIO_ROOT_USER,
# MINIO_ROOT_PASSWORD, BUCKET, REGION, S3_ACCESS_KEY, S3_SECRET_KEY.
set -eu
tries=0
until mc alias set region "$MINIO_URL" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null 2>&1; do
  tries=$((tries + 1)); [ "$tries" -le 60 ] || { echo "MinIO at $MINIO_URL is not answering"; exit 1; }
  sleep 1
done
mc mb --ignore-existing --with-lock --region "$REGION" "region/$BUCKET"
mc admin user add region "$S3_ACCESS_KEY" "$S3_SECRET_KEY"
mc admin policy attach region readwrite --user "$S3_ACCESS_KEY" 2>/dev/null || true
echo "bucket $BUCKET in $REGION: Object Lock on"
