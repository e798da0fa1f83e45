"""Two ``recvault serve`` and two ``recvault worker`` on one PostgreSQL, moto's S3 server and
OpenBao, with concurrent uploads, reads, sweeps, rotations, erasures and a transfer (ADR 0014).

Afterwards every acknowledged record reads back by SHA-256 or was erased by the
rules (its subject's erasure was requested, or its category's retention ran
out), no subject key was deleted twice in Transit (counted in OpenBao's own
audit log), each erased subject was destroyed once, the audit chain verifies
and the residency report is clean.

Both are ``slow``: starting four processes alone takes some 30 s on two cores.
The first has a few seconds of load, the second a minute. The default run
covers the same coordination in one process, deterministically
(``test_coordination.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from keys.bootstrap import bootstrap_transit, create_token
from tests.fixtures.settings import ROOT, secret_env, server_env, wait_ready
from vault import RecordVault, Settings
from vault.cli.devbao import bao_binary, free_port, stop_process
from vault.domain import Actor, Role, SubjectState
from vault.errors import Erased, NotFound
from vault.metadata.migrate import upgrade

TOKEN_ENV = "RECVAULT_TEST_FLEET_TOKEN"
#: the category whose retention runs out during the run: its records are erased by sweeps
SHORT = "contact"


@dataclass
class Bao:
    """An OpenBao dev server with a file audit device (declared in its config)."""

    addr: str
    root_token: str
    audit_log: Path
    process: subprocess.Popen[bytes]

    def deletes(self) -> Counter[str]:
        """Transit key deletions OpenBao was asked for, by key name."""
        counted: Counter[str] = Counter()
        for line in self.audit_log.read_text().splitlines():
            entry = json.loads(line)
            request = entry.get("request", {})
            if entry.get("type") != "request" or request.get("operation") != "delete":
                continue
            found = re.fullmatch(r"transit-[a-z]+/keys/(subj-[0-9a-f]+)", request.get("path", ""))
            if found:
                counted[found.group(1)] += 1
        return counted


@pytest.fixture
def audited_bao(tmp_path: Path) -> Iterator[Bao]:
    audit_log = tmp_path / "bao-audit.log"
    config = tmp_path / "bao-audit.hcl"
    config.write_text(
        f'audit "file" "recvault-test" {{\n  options {{\n    file_path = "{audit_log}"\n  }}\n}}\n'
    )
    token = secrets.token_hex(16)
    for _attempt in range(5):
        port = free_port()
        with (tmp_path / "bao.log").open("ab") as log:
            process = subprocess.Popen(
                [
                    bao_binary(),
                    "server",
                    "-dev",
                    f"-dev-root-token-id={token}",
                    f"-dev-listen-address=127.0.0.1:{port}",
                    f"-config={config}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        addr = f"http://127.0.0.1:{port}"
        if _healthy(addr, process):
            break
        stop_process(process, 5)
    else:
        raise RuntimeError("OpenBao did not start")
    try:
        yield Bao(addr, token, audit_log, process)
    finally:
        stop_process(process, 10)


def _healthy(addr: str, process: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{addr}/v1/sys/health", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


@dataclass
class Acked:
    """A record the API acknowledged (201), with the SHA-256 of every acknowledged version."""

    subject_id: str
    category: str
    versions: dict[int, str] = field(default_factory=dict)


@dataclass
class Fleet:
    apis: list[str]
    tokens: dict[str, str]
    acked: dict[str, Acked] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    errors: list[str] = field(default_factory=list)
    #: writes not acknowledged, and why (a subject being transferred: 409)
    refusals: list[str] = field(default_factory=list)

    def call(self, role: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        api = random.choice(self.apis)
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        answer = httpx.request(method, f"{api}{path}", headers=headers, timeout=60, **kwargs)
        with self.lock:
            self.statuses[f"{role} {method} {answer.status_code}"] += 1
            if answer.status_code >= 500:
                self.errors.append(f"{method} {path}: {answer.status_code} {answer.text[:200]}")
        return answer

    def put(self, subject_id: str, category: str, content: bytes) -> str | None:
        answer = self.call(
            "service",
            "POST",
            f"/v1/subjects/{subject_id}/records",
            params={"category": category},
            content=content,
        )
        if answer.status_code != 201:
            with self.lock:
                self.refusals.append(f"put {answer.status_code} {answer.text[:200]}")
            return None
        info = answer.json()
        with self.lock:
            record = self.acked.setdefault(info["id"], Acked(subject_id, category))
            record.versions[info["version"]] = hashlib.sha256(content).hexdigest()
        return str(info["id"])

    def update(self, record_id: str, content: bytes) -> None:
        answer = self.call("service", "PUT", f"/v1/records/{record_id}/content", content=content)
        if answer.status_code == 201 or answer.status_code == 200:
            info = answer.json()
            with self.lock:
                self.acked[record_id].versions[info["version"]] = hashlib.sha256(
                    content
                ).hexdigest()

    def read(self, record_id: str) -> None:
        answer = self.call("service", "GET", f"/v1/records/{record_id}/content")
        if answer.status_code == 200:
            digest = hashlib.sha256(answer.content).hexdigest()
            with self.lock:
                known = set(self.acked[record_id].versions.values())
            if digest not in known:
                self.errors.append(f"record {record_id} read back bytes never acknowledged")

    def loop(self, every: float, step: Callable[[], None]) -> threading.Thread:
        def run() -> None:
            while not self.stop.is_set():
                try:
                    step()
                except Exception as exc:  # surfaced by the test, never swallowed
                    self.errors.append(f"{step.__name__}: {exc!r}")
                self.stop.wait(every)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread


def content(size: int) -> bytes:
    return os.urandom(size)


def write_config(home: Path, db_url: str, endpoint: str, buckets: dict[str, str], bao: Bao) -> Path:
    regions = []
    for name, location in (("JP", "ap-northeast-1"), ("PH", "ap-southeast-1")):
        regions.append(
            f'[regions.{name}]\nlocation = "{location}"\n'
            f'[regions.{name}.store]\nkind = "s3"\nendpoint_url = "{endpoint}"\n'
            f'bucket = "{buckets[name]}"\nregion_name = "{location}"\n'
            f'[regions.{name}.keys]\nkind = "vault"\naddr = "{bao.addr}"\n'
            f'mount = "transit-{name.lower()}"\ntoken_env = "{TOKEN_ENV}"\n'
        )
    path = home / "recvault.toml"
    path.write_text(
        f'[database]\nurl = "{db_url}"\n\n'
        + "\n".join(regions)
        + f'\n[retention]\ndefault = "P10Y"\n[retention.categories]\n{SHORT} = "PT3S"\n'
        '[destruction]\nwaiting_period = "PT2S"\n'
        '[rotation]\nmax_age = "PT4S"\n'
    )
    return path


def run_fleet(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
    endpoint: str,
    buckets: dict[str, str],
    bao: Bao,
    *,
    subjects_per_region: int,
    seconds: float,
) -> None:
    bootstrap_transit(bao.addr, bao.root_token, ["transit-jp", "transit-ph"])
    admin_token = create_token(bao.addr, bao.root_token, ["recvault-key-admin"])
    config = write_config(tmp_path, db_url, endpoint, buckets, bao)
    secrets_env = secret_env()
    env = {**server_env(config, secrets_env), TOKEN_ENV: admin_token}
    own = {**secrets_env, "RECVAULT_CONFIG": str(config), TOKEN_ENV: admin_token}
    for name, value in own.items():
        monkeypatch.setenv(name, value)
    settings = Settings.load(config)
    upgrade(settings.database.url)
    vault = RecordVault.from_settings(settings)
    roles = {
        "service": [Role.SERVICE],
        "security": [Role.SECURITY],
        "dpo": [Role.DPO],
        "compliance": [Role.COMPLIANCE],
        "mover": [Role.ADMIN, Role.COMPLIANCE],
    }
    operator = Actor("operator", frozenset(Role))
    tokens = {
        name: vault.principals.add(f"fleet-{name}", [x.value for x in r], None, operator)[1]
        for name, r in roles.items()
    }

    processes: list[subprocess.Popen[bytes]] = []
    apis: list[str] = []
    try:
        # All four start at once; each API is waited for until it answers /readyz.
        for n in range(2):
            port = free_port()
            with (tmp_path / f"api-{n}.log").open("ab") as log:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "vault.cli", "serve", "--port", str(port)],
                        env=env,
                        cwd=ROOT,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
            apis.append(f"http://127.0.0.1:{port}")
        for n in range(2):
            with (tmp_path / f"worker-{n}.log").open("ab") as log:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "vault.cli", "worker", "--interval", "PT1S"],
                        env=env,
                        cwd=ROOT,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        for addr, process in zip(apis, processes, strict=False):
            wait_ready(addr, process, 90)
        fleet = Fleet(apis, tokens)
        subjects = {
            region: [
                vault.create_subject(f"{region}-{n}", region).id for n in range(subjects_per_region)
            ]
            for region in ("JP", "PH")
        }
        everyone = subjects["JP"] + subjects["PH"]
        moving = subjects["JP"][0]
        erased = {subjects["JP"][1], subjects["PH"][0]}
        # Subjects to erase hold short-retention records only: their erasure is not
        # deferred for ten years. Nothing more is written to them.
        living = [s for s in everyone if s not in erased]
        # Long-retention records first: a subject whose records have all passed
        # retention is erased by the sweeps, and the short ones pass in seconds.
        photos = [(s, "photo", content(random.randint(1, 64) * 1024)) for s in living]
        photos.append((moving, "xray", content(1024 * 1024 + 5)))  # two segments
        shorts = [(s, SHORT, content(2048)) for s in everyone]
        with ThreadPoolExecutor(4) as pool:
            for batch in (photos, shorts):
                made = list(pool.map(lambda job: fleet.put(*job), batch))
                assert all(made), (fleet.refusals, fleet.errors)

        def upload() -> None:
            subject_id = random.choice(living)
            category = random.choice(["photo", "impression", SHORT])
            fleet.put(subject_id, category, content(random.randint(1, 32) * 1024))

        def revise() -> None:
            with fleet.lock:
                photos = [r for r, a in fleet.acked.items() if a.category == "photo"]
            fleet.update(random.choice(photos), content(random.randint(1, 16) * 1024))

        def read() -> None:
            with fleet.lock:
                record_ids = list(fleet.acked)
            fleet.read(random.choice(record_ids))

        def rotate() -> None:
            region = random.choice(["JP", "PH"])
            fleet.call("security", "POST", "/v1/keys/rotate", json={"region": region})

        def sweep() -> None:
            fleet.call("compliance", "POST", "/v1/retention/sweep")

        started = time.monotonic()
        threads = [
            fleet.loop(0.05, upload),
            fleet.loop(0.1, revise),
            fleet.loop(0.02, read),
            fleet.loop(0.02, read),
            fleet.loop(0.5, rotate),
            fleet.loop(1.0, sweep),
        ]
        time.sleep(seconds / 4)
        transfers: list[httpx.Response] = []

        def transfer() -> None:
            transfers.append(
                fleet.call(
                    "mover",
                    "POST",
                    f"/v1/subjects/{moving}/transfer",
                    json={"to_region": "PH", "legal_basis": "consent", "evidence_ref": "form 17"},
                )
            )

        movers = [threading.Thread(target=transfer) for _ in range(2)]  # the same move, twice
        for thread in movers:
            thread.start()
        time.sleep(seconds / 8)
        for subject_id in erased:
            answer = fleet.call("dpo", "POST", f"/v1/subjects/{subject_id}/erasure")
            # 410: the sweeps were quicker, every record of it having passed retention
            assert answer.status_code in (200, 201, 202, 410), answer.text
        time.sleep(max(0.0, seconds - (time.monotonic() - started)))
        for thread in movers:
            thread.join(120)
        fleet.stop.set()
        for thread in threads:
            thread.join(120)

        # Both calls either did the move or were told another process was doing it.
        # (or, arriving after it, that the subject is already there: 400)
        outcomes = sorted(t.status_code for t in transfers)
        assert outcomes in ([200, 200], [200, 409], [200, 400]), [
            (t.status_code, t.text[:200]) for t in transfers
        ]
        assert vault.get_subject(moving).region == "PH"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            states = {vault.get_subject(s).state for s in erased}
            if states == {SubjectState.DESTROYED}:
                break
            time.sleep(0.5)
        assert states == {SubjectState.DESTROYED}
        time.sleep(4)  # the last short-retention records pass; the workers sweep once more
    finally:
        for process in processes:
            stop_process(process, 20)

    assert fleet.errors == [], fleet.errors
    assert not any(key.endswith((" 500", " 502", " 503")) for key in fleet.statuses), fleet.statuses
    assert fleet.statuses["service POST 201"] > len(everyone) * 2
    assert fleet.statuses["service GET 200"] > 0

    transferred = [t for t in vault.audit_events(action="subject.transfer") if t.outcome == "ok"]
    assert [t.subject_id for t in transferred] == [moving]
    for record_id, record in fleet.acked.items():
        latest = record.versions[max(record.versions)]
        try:
            with vault.open_record(record_id, purpose="verification") as stream:
                digest = hashlib.sha256(stream.read()).hexdigest()
        except (Erased, NotFound):
            assert record.subject_id in erased or record.category == SHORT, record_id
            continue
        assert record.subject_id not in erased, record_id
        assert digest == latest, record_id

    deletes = bao.deletes()
    assert deletes and max(deletes.values()) == 1, deletes  # no key deleted twice
    destroyed = Counter(e.subject_id for e in vault.audit_events(action="subject.destroy"))
    assert destroyed == Counter({s: 1 for s in erased})
    assert len(deletes) == len(erased) + 1  # and the moved subject's old key
    rotations = [e for e in vault.audit_events(action="key.rotate") if e.outcome == "ok"]
    assert rotations
    assert vault.verify_audit().ok
    report = vault.residency_report()
    assert report.ok, report.violations
    vault.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_two_servers_two_workers(
    tmp_path, monkeypatch, pg_url, moto_server, server_bucket, audited_bao
):
    buckets = {"JP": server_bucket("ap-northeast-1"), "PH": server_bucket("ap-southeast-1")}
    run_fleet(
        tmp_path,
        monkeypatch,
        pg_url,
        moto_server,
        buckets,
        audited_bao,
        subjects_per_region=4,
        seconds=8,
    )


@pytest.mark.slow
@pytest.mark.postgres
def test_two_servers_two_workers_for_a_minute(
    tmp_path, monkeypatch, pg_url, moto_server, server_bucket, audited_bao
):
    buckets = {"JP": server_bucket("ap-northeast-1"), "PH": server_bucket("ap-southeast-1")}
    run_fleet(
        tmp_path,
        monkeypatch,
        pg_url,
        moto_server,
        buckets,
        audited_bao,
        subjects_per_region=20,
        seconds=60,
    )
