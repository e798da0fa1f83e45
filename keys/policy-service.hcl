# recvault service policy for one Transit mount ({mount} is filled in by keys.bootstrap).
# Read path only: wrap, unwrap and rewrap DEKs with existing subject keys.
# No create or update on key paths (so encrypt can never re-create a destroyed
# key), no config, no export, no backup, no delete.

path "{mount}/encrypt/subj-*" {
  capabilities = ["update"]
}

path "{mount}/decrypt/subj-*" {
  capabilities = ["update"]
}

path "{mount}/rewrap/subj-*" {
  capabilities = ["update"]
}

path "{mount}/keys/subj-*" {
  capabilities = ["read"]
}

path "{mount}/keys" {
  capabilities = ["list"]
}
