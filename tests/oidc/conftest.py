"""A real OpenID provider (the npm package oidc-provider, tests/oidc/provider.js) for the SSO tests.

``oidc`` starts it once per test process on a free loopback port; ``make test``
installs its node_modules (``npm ci`` here), and the fixture does the same when
they are missing. ``sso_api`` builds a vault and its app with ``[auth.oidc]``
pointing at the provider.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.api.conftest import ApiEnv, Served, make_api  # noqa: F401  (fixture)
from vault.cli.devbao import free_port, stop_process

HERE = Path(__file__).parent
AUDIENCE = "recvault"


@dataclass
class Provider:
    issuer: str
    #: the console callback the provider's console client accepts
    callback_port: int
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))

    def admin(self, path: str, method: str = "GET") -> Any:
        response = self.http.request(method, f"{self.issuer}/admin/{path}")
        response.raise_for_status()
        return response.json()

    def service_token(self, client: str = "svc-ph") -> str:
        response = self.http.post(
            f"{self.issuer}/token",
            data={"grant_type": "client_credentials", "scope": "recvault"},
            auth=(client, f"{client}-secret"),
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token

    def signing_key(self, kind: str = "ec") -> dict[str, Any]:
        """A private signing key the provider publishes (``jwk``, ``pem`` of its public half)."""
        keys: list[dict[str, Any]] = self.admin("keys")["keys"]
        return next(k for k in keys if k["jwk"]["kty"] == ("EC" if kind == "ec" else "RSA"))

    def forge(
        self,
        claims: dict[str, Any] | None = None,
        *,
        key: dict[str, Any] | None = None,
        kid: str | None = None,
        **overrides: Any,
    ) -> str:
        """A token signed with ``key`` (default: the provider's own EC key)."""
        chosen = key or self.signing_key()
        jwk = chosen["jwk"]
        now = int(time.time())
        body = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": "forged-user",
            "iat": now,
            "exp": now + 300,
            "roles": ["compliance"],
            "regions": ["PH"],
            **(claims or {}),
        }
        body.update(overrides)
        body = {name: value for name, value in body.items() if value is not None}
        return jwt.encode(
            body,
            jwt.PyJWK(jwk).key,
            algorithm=jwk["alg"],
            headers={"kid": kid or jwk["kid"], "typ": "at+jwt"},
        )


def npm_install() -> None:
    if (HERE / "node_modules" / "oidc-provider").is_dir():
        return
    npm = shutil.which("npm")
    assert npm, "npm is needed for the OpenID provider of the SSO tests (apt-get install npm)"
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, capture_output=True
    )


def start_provider(log_path: Path, host: str = "127.0.0.1") -> tuple[Provider, subprocess.Popen]:
    """provider.js on a free port, ready; its console client's callback on another free port."""
    npm_install()
    node = shutil.which("node")
    assert node, "node is needed for the OpenID provider of the SSO tests"
    for _ in range(3):
        port, callback_port = free_port(), free_port()
        callback = f"http://127.0.0.1:{callback_port}/console/sso/callback"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [node, str(HERE / "provider.js"), str(port), callback, host],
                cwd=HERE,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        issuer = f"http://{host}:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                url = f"http://127.0.0.1:{port}/.well-known/openid-configuration"
                if httpx.get(url, timeout=2).is_success:
                    return Provider(issuer, callback_port), process
            except httpx.HTTPError:
                time.sleep(0.1)
        stop_process(process, 5)
    raise RuntimeError(f"the OpenID provider did not start: {log_path.read_text()}")


@pytest.fixture(scope="session")
def oidc(tmp_path_factory) -> Iterator[Provider]:
    log_path = tmp_path_factory.mktemp("oidc") / "provider.log"
    provider, process = start_provider(log_path)
    try:
        yield provider
    finally:
        provider.http.close()
        stop_process(process, 5)


def oidc_settings(provider: Provider, **overrides: Any) -> dict[str, Any]:
    return {
        "oidc": {
            "issuer": provider.issuer,
            "audience": AUDIENCE,
            "client_id": "recvault-console",
            "cli_client_id": "recvault-cli",
            "scopes": ["openid", "profile"],
            "jwks_min_refresh": "PT0S",
            "clock_skew": "PT5S",
            **overrides,
        }
    }


@pytest.fixture
def sso_api(make_api, sqlite_url, oidc, monkeypatch) -> Callable[..., ApiEnv]:  # noqa: F811
    monkeypatch.setenv("RECVAULT_OIDC_CLIENT_SECRET", "console-secret")

    def factory(**overrides: Any) -> ApiEnv:
        return make_api(sqlite_url, use_clock=False, auth=oidc_settings(oidc, **overrides))

    return factory


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append((found.get("action", ""), {}))
        elif tag == "input" and self.forms and found.get("name"):
            self.forms[-1][1][found["name"]] = found.get("value", "")


def form_of(page: httpx.Response, **filled: str) -> tuple[str, dict[str, str]]:
    """The first form on ``page`` as a browser would submit it: its address and its fields."""
    parser = _Forms()
    parser.feed(page.text)
    assert parser.forms, page.text[:500]
    action, fields = parser.forms[0]
    return str(page.url.join(action or page.url.path)), {**fields, **filled}


def through_provider(browser: httpx.Client, page: httpx.Response, user: str) -> httpx.Response:
    """Submit the provider's pages as a person would (confirm, sign in as ``user``, consent)
    until one without a form: where the provider sent the browser in the end."""
    for _ in range(8):
        if "<form" not in page.text:
            return page
        action, fields = form_of(page)
        if "login" in fields:
            fields.update(login=user, password="pw")
        page = browser.post(action, data=fields)
    raise AssertionError(f"still at the provider's pages: {page.url}")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """The header and claims of a JWT, encoded, with no signature yet."""
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"


__all__ = ["ApiEnv", "Provider", "Served", "bearer", "unsigned"]
