# recvault key-admin policy for one Transit mount ({mount} is filled in by keys.bootstrap).
# Everything the service policy allows, plus the subject-key lifecycle: create,
# rotate, minimum versions, trim and destroy, each with exactly the parameters
# keys/transit/provider.py sends. No export, backup, restore, import, soft
# delete, certificate or mount-settings path is granted, so they are all denied.
#
# Why "+" and not "subj-*" on key paths (checked on OpenBao 2.7, tests/keys/test_policies.py):
# a glob ("*") is only special at the end of a path, so "keys/subj-*/config" is a
# literal name that matches nothing, and "keys/subj-*" also matches every sub-path
# (keys/subj-x/config, /trim, /soft-delete, /import, ...). When both "keys/subj-*"
# and "keys/+/config" match, the rule whose first wildcard comes later wins, that
# is "keys/subj-*": its creation parameters would then govern config and trim.
# "+" is one whole path segment, so each rule below covers one endpoint and
# nothing under it. The price: on this mount the lifecycle rules cover any key
# name, not only subj-*; recvault's mounts hold nothing but subject keys.

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

# Create (ensure_key), read (describe) and delete (destroy) of one key. A key can
# only be created non-exportable, without plaintext backup, as aes256-gcm96; any
# other parameter (derived, convergent_encryption, auto_rotate_period, ...) is refused.
# Values are matched with their JSON type: the string "false" is refused too.
path "{mount}/keys/+" {
  capabilities = ["create", "read", "update", "delete"]
  allowed_parameters = {
    "type"                   = ["aes256-gcm96"]
    "exportable"             = [false]
    "allow_plaintext_backup" = [false]
  }
}

# rotate takes no parameter from recvault. An empty allowed_parameters map is
# read as "no restriction", so every parameter is denied instead.
path "{mount}/keys/+/rotate" {
  capabilities = ["update"]
  denied_parameters = {
    "*" = []
  }
}

# Minimum versions (rotation, per-record erasure) and deletion_allowed=true
# (destroy). exportable and allow_plaintext_backup are irreversible once true,
# and are not in the list.
path "{mount}/keys/+/config" {
  capabilities = ["update"]
  allowed_parameters = {
    "deletion_allowed"       = [true]
    "min_decryption_version" = []
    "min_encryption_version" = []
  }
}

path "{mount}/keys/+/trim" {
  capabilities = ["update"]
  allowed_parameters = {
    "min_available_version" = []
  }
}
