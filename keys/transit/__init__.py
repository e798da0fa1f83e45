"""Subject keys in OpenBao / Vault Transit.

- ``keys.vault_transit``, the only module of recvault that imports hvac: the hvac
  client, call counting and timing (``Transport``) and ``map_transit_error``, where
  every key-service failure becomes a recvault error;
- ``keys.transit.provider``: ``TransitKeyProvider``, the record path (wrap, unwrap,
  rewrap in batches) and the key lifecycle (create, rotate, minimums, trim, destroy);
- ``keys.transit.auth``: where the token comes from (given, token file, AppRole) and
  ``VaultAuth``, which renews it, logs in again and replaces a revoked one;
- ``keys.transit.admin``: ``TransitAdmin``, the few root-token calls that
  ``keys.bootstrap`` needs.
"""

from keys.transit.admin import TransitAdmin
from keys.transit.provider import TransitKeyProvider
from keys.vault_transit import CallObserver, map_transit_error

__all__ = [
    "CallObserver",
    "TransitAdmin",
    "TransitKeyProvider",
    "map_transit_error",
]
