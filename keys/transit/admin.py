"""Root-token calls to OpenBao / Vault for ``keys.bootstrap``: ``TransitAdmin``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from keys.base import KeyError_
from keys.transit.auth import GivenToken, VaultAuth
from keys.vault_transit import Transport


class TransitAdmin:
    """Root-token calls for ``keys.bootstrap``: mounts, Transit settings, policies, tokens.

    It returns no secret except the token that ``create_token`` is asked for.
    """

    def __init__(
        self,
        addr: str,
        token: str,
        *,
        verify: bool | str = True,
        client_cert: tuple[str, str] | None = None,
        namespace: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._transport = Transport(
            addr,
            auth=VaultAuth(GivenToken(token, look_up=False)),
            namespace=namespace,
            verify=verify,
            client_cert=client_cert,
            timeout=timeout,
            on_call=None,
        )

    def mounts(self) -> set[str]:
        data = self._transport.request("sys.mounts", "get", "/v1/sys/mounts")
        table = data.get("data") or data
        return {path.strip("/") for path in table if isinstance(table.get(path), dict)}

    def enable_transit(self, mount: str) -> bool:
        """Enable Transit at ``mount``; False when something is already mounted there."""
        if mount in self.mounts():
            return False
        self._transport.request("sys.mount", "post", f"/v1/sys/mounts/{mount}", {"type": "transit"})
        return True

    def configure_transit(self, mount: str, *, cache_size: int) -> None:
        self._transport.request(
            "keys.settings", "post", f"/v1/{mount}/config/keys", {"disable_upsert": True}
        )
        self._transport.request(
            "cache.settings", "post", f"/v1/{mount}/cache-config", {"size": cache_size}
        )

    def transit_settings(self, mount: str) -> dict[str, Any]:
        keys = (
            self._transport.request("keys.settings", "get", f"/v1/{mount}/config/keys").get("data")
            or {}
        )
        cache = (
            self._transport.request("cache.settings", "get", f"/v1/{mount}/cache-config").get(
                "data"
            )
            or {}
        )
        return {
            "disable_upsert": bool(keys.get("disable_upsert")),
            "cache_size": int(cache.get("size", 0)),
        }

    def write_policy(self, name: str, hcl: str) -> None:
        self._transport.request(
            "sys.policy", "post", f"/v1/sys/policies/acl/{name}", {"policy": hcl}
        )

    def read_policy(self, name: str) -> str:
        data = (
            self._transport.request("sys.policy", "get", f"/v1/sys/policies/acl/{name}").get("data")
            or {}
        )
        return str(data.get("policy", ""))

    def create_token(self, policies: Sequence[str], *, ttl: str = "24h") -> str:
        payload = {"policies": list(policies), "ttl": ttl, "no_default_policy": False}
        auth = self._transport.request(
            "auth.token.create", "post", "/v1/auth/token/create", payload
        ).get("auth")
        if not auth or "client_token" not in auth:
            raise KeyError_("key service issued no token")
        return str(auth["client_token"])
