"""Fixtures for API tests: a real vault (migrated DB, stores, key providers) behind the app.

``make_api`` builds a vault and its app and hands out tokens for principals;
``serve`` runs an app under uvicorn on a free loopback port (for streaming).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.metrics import ApiMetrics
from tests.fixtures.bao import free_port
from tests.fixtures.clock import FakeClock
from tests.fixtures.settings import TOKEN_ENV, region_configs, vault_settings
from vault import RecordVault, Settings
from vault.domain import Actor, Role
from vault.metadata.migrate import upgrade

OPERATOR = Actor("operator", frozenset(Role))
ALL_ROLES = [r.value for r in Role]


def api_settings(
    tmp_path: Path,
    db_url: str,
    *,
    keys: str = "local",
    bao_addr: str | None = None,
    key_timeout: float = 5.0,
    **extra: Any,
) -> Settings:
    regions = region_configs(tmp_path, keys=keys, bao_addr=bao_addr, key_timeout=key_timeout)
    return vault_settings(db_url, regions, **extra)


@dataclass
class ApiEnv:
    vault: RecordVault
    app: FastAPI
    client: TestClient
    clock: FakeClock
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, name: str, roles: list[str], regions: list[str] | None = None) -> str:
        if name not in self.tokens:
            _, self.tokens[name] = self.vault.principals.add(name, roles, regions, OPERATOR)
        return self.tokens[name]

    def auth(self, name: str, roles: list[str] | None = None, **kw: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(name, roles or ALL_ROLES, **kw)}"}


@pytest.fixture
def make_api(tmp_path, clock, monkeypatch) -> Iterator[Callable[..., ApiEnv]]:
    built: list[ApiEnv] = []

    def factory(
        db_url: str, *, keys: str = "local", bao: Any = None, use_clock: bool = True, **kw: Any
    ) -> ApiEnv:
        if bao is not None:
            monkeypatch.setenv(TOKEN_ENV, bao.root_token)
        settings = api_settings(
            tmp_path, db_url, keys=keys, bao_addr=bao.addr if bao else None, **kw
        )
        upgrade(settings.database.url)
        metrics = ApiMetrics()
        vault = RecordVault.from_settings(
            settings, clock=clock if use_clock else None, key_observer=metrics.observe_key_call
        )
        app = create_app(vault, metrics)
        env = ApiEnv(vault, app, TestClient(app, raise_server_exceptions=False), clock)
        built.append(env)
        return env

    yield factory
    for env in built:
        env.client.close()
        env.vault.close()


@pytest.fixture
def api(make_api, sqlite_url) -> ApiEnv:
    return make_api(sqlite_url)


class Served:
    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


@pytest.fixture
def serve() -> Iterator[Callable[[FastAPI], Served]]:
    started: list[Served] = []

    def run(app: FastAPI) -> Served:
        served = Served(app)
        served.start()
        started.append(served)
        return served

    yield run
    for served in started:
        served.stop()


def problem(response) -> dict[str, Any]:
    """Assert the answer is a problem document and return it."""
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    body = response.json()
    assert set(body) >= {"type", "title", "status", "detail", "code"}
    assert body["status"] == response.status_code
    assert body["type"].startswith("urn:recvault:problem:")
    return body
