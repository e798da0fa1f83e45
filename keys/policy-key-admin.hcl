# recvault key-admin policy for one Transit mount ({mount} is filled in by keys.bootstrap).
# Everything the service policy allows, plus the subject-key lifecycle: create,
# rotate, minimum versions, trim and destroy. Still no export, no backup and no
# change to the mount's own settings.

path "{mount}/encrypt/subj-*" {
  capabilities = ["update"]
}

path "{mount}/decrypt/subj-*" {
  capabilities = ["update"]
}

path "{mount}/rewrap/subj-*" {
  capabilities = ["update"]
}

path "{mount}/keys" {
  capabilities = ["list"]
}

# The trailing glob also covers keys/subj-<hex>/rotate, /config and /trim (all "update").
path "{mount}/keys/subj-*" {
  capabilities = ["create", "read", "update", "delete"]
}
