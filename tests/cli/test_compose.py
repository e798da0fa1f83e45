"""docker-compose.yml renders with docker-compose (no engine needed) and has the production shape.

``make test`` installs Debian's docker-compose when it is missing; this test
fails, never skips, without it.
"""

from __future__ import annotations

import shutil
import subprocess

import yaml

from tests.cli.conftest import ROOT

SECRETS = {
    name: "x" * 64
    for name in (
        "POSTGRES_PASSWORD",
        "RECVAULT_OWNER_DB_PASSWORD",
        "RECVAULT_APP_DB_PASSWORD",
        "MINIO_JP_ROOT_PASSWORD",
        "MINIO_PH_ROOT_PASSWORD",
        "RECVAULT_S3_SECRET_KEY",
        "RECVAULT_NAME_SECRET",
        "RECVAULT_SIGNING_KEY",
    )
}


def compose_command() -> list[str] | None:
    """docker-compose (v1 package), else the v2 plugin when ``docker compose`` answers."""
    binary = shutil.which("docker-compose")
    if binary:
        return [binary]
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    return None  # a docker CLI without the compose plugin does not count


def compose(*args: str, secrets: bool = True) -> subprocess.CompletedProcess[str]:
    command = compose_command()
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp"}
    if secrets:
        env.update(SECRETS)
    assert command, "docker-compose is not installed (make test installs it)"
    return subprocess.run(
        [*command, "-f", str(ROOT / "docker-compose.yml"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_compose_file_is_valid():
    done = compose("config", "-q")
    assert done.returncode == 0, done.stderr


def test_compose_refuses_to_render_without_secrets():
    done = compose("config", "-q", secrets=False)
    assert done.returncode != 0 and "POSTGRES_PASSWORD" in done.stderr + done.stdout


def test_compose_has_the_production_shape():
    done = compose("config")
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    assert {
        "postgres",
        "minio-jp",
        "minio-ph",
        "openbao-jp",
        "openbao-ph",
        "recvault-init",
        "db-grants",
        "api",
        "sweep-worker",
    } <= set(services)
    assert services["minio-jp"]["environment"]["MINIO_SITE_REGION"] == "ap-northeast-1"
    assert services["minio-ph"]["environment"]["MINIO_SITE_REGION"] == "ph-manila-1"
    for region in ("jp", "ph"):
        assert "mc" in services[f"minio-{region}-init"]["image"]
    bao_mounts = " ".join(str(v) for v in services["openbao-jp"]["volumes"])
    assert "keys/openbao-server.hcl" in bao_mounts
    init = " ".join(services["recvault-init"]["entrypoint"])
    assert "recvault db upgrade" in init and "recvault keys bootstrap" in init
    assert services["api"]["command"][0] == "serve"
    assert services["sweep-worker"]["command"][0] == "worker"
    assert "recvault_app" in services["api"]["environment"]["RECVAULT_DATABASE__URL"]
    for script in (
        "minio-init.sh",
        "bao-init.sh",
        "bao-tls.sh",
        "postgres-init.sh",
        "postgres-grants.sql",
        "recvault.toml",
        "openbao-ph.hcl",
    ):
        assert (ROOT / "docs" / "deploy" / script).exists(), script
    grants = (ROOT / "docs" / "deploy" / "postgres-grants.sql").read_text()
    assert "REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM recvault_app" in grants


def test_compose_recvault_config_is_valid_settings():
    from vault.settings import Settings

    settings = Settings.load(ROOT / "docs" / "deploy" / "recvault.toml")
    assert set(settings.regions) == {"JP", "PH"}
    assert all(r.store.kind == "s3" and r.store.object_lock for r in settings.regions.values())
