#!/bin/sh
# Demo TLS for the compose shape, made once: per region a private CA and a server
# certificate for bao-<region>-1.internal. Production: certificates from your PKI,
# server key readable by the OpenBao user only.
set -eu
apk add --no-cache openssl >/dev/null
for region in jp ph; do
  dir="/tls/$region"
  if [ -f "$dir/server.crt" ]; then continue; fi
  work="$(mktemp -d)"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
    -subj "/CN=recvault $region OpenBao CA" -keyout "$work/ca.key" -out "$dir/ca.crt"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=bao-$region-1.internal" -keyout "$dir/server.key" -out "$work/server.csr"
  printf 'subjectAltName=DNS:bao-%s-1.internal,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' \
    "$region" > "$work/ext"
  openssl x509 -req -in "$work/server.csr" -CA "$dir/ca.crt" -CAkey "$work/ca.key" \
    -CAcreateserial -days 825 -extfile "$work/ext" -out "$dir/server.crt"
  # The volume is mounted only into this region's OpenBao, whose user differs from root.
  chmod 0644 "$dir/ca.crt" "$dir/server.crt" "$dir/server.key"
  rm -rf "$work"   # the CA key is not kept: new certificates mean a new CA
done
