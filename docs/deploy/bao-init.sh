#!/bin/sh
# Initialise (once) and unseal one region's OpenBao, then issue recvault's
# key-admin token. Compose shape only: one unseal key kept in a volume.
# Production: auto-unseal (KMS/HSM) and AppRole for recvault (docs/operations.md).
# Env: BAO_ADDR, BAO_CACERT; volumes /bao-root (init output) and /bao-token.
set -eu
umask 077
tries=0
until bao operator init -status >/dev/null 2>&1 || [ $? -eq 2 ]; do
  tries=$((tries + 1)); [ "$tries" -le 120 ] || { echo "OpenBao at $BAO_ADDR is not answering"; exit 1; }
  sleep 1
done
if ! bao operator init -status >/dev/null 2>&1; then
  bao operator init -key-shares=1 -key-threshold=1 > /bao-root/init.txt
fi
key="$(awk '/Unseal Key 1:/ {print $4}' /bao-root/init.txt)"
root="$(awk '/Initial Root Token:/ {print $4}' /bao-root/init.txt)"
printf '%s' "$root" > /bao-root/root-token
bao status >/dev/null 2>&1 || bao operator unseal "$key" >/dev/null
tries=0
until BAO_TOKEN="$root" bao token lookup >/dev/null 2>&1; do
  tries=$((tries + 1)); [ "$tries" -le 60 ] || { echo "OpenBao did not become active"; exit 1; }
  sleep 1
done
# The policy is written by `recvault keys bootstrap` (recvault-init); a token may
# name it before it exists.
BAO_TOKEN="$root" bao token create -orphan -policy=recvault-key-admin -ttl=720h \
  -display-name=recvault -field=token > /bao-token/token
chmod 0644 /bao-token/token   # read by the recvault user of the API and worker containers
echo "OpenBao at $BAO_ADDR: unsealed, recvault token issued"
