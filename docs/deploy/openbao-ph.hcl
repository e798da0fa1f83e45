# OpenBao server configuration for the PH region in docker-compose.yml: the same
# shape as keys/openbao-server.hcl (raft, TLS, bounded cache), PH names.
ui        = false
cache_size = "32768"
cluster_name = "recvault-ph"

storage "raft" {
  path    = "/var/lib/openbao/raft"
  node_id = "bao-ph-1"
}

listener "tcp" {
  address          = "0.0.0.0:8200"
  cluster_address  = "0.0.0.0:8201"
  tls_cert_file    = "/etc/openbao/tls/server.crt"
  tls_key_file     = "/etc/openbao/tls/server.key"
  tls_min_version  = "tls13"
  max_request_size = 1048576
}

api_addr     = "https://bao-ph-1.internal:8200"
cluster_addr = "https://bao-ph-1.internal:8201"
