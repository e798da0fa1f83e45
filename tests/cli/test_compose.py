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
    from vault.settings import Settings

    done = compose("config")
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    assert {
        "postgres",
        "rgw-jp",
        "rgw-ph",
        "rgw-jp-init",
        "rgw-ph-init",
        "openbao-jp",
        "openbao-ph",
        "recvault-init",
        "db-grants",
        "api",
        "sweep-worker",
    } <= set(services)
    settings = Settings.load(ROOT / "docs" / "deploy" / "recvault.toml")
    for region, location in (("jp", "ap-northeast-1"), ("ph", "ph-manila-1")):
        rgw, init = services[f"rgw-{region}"], services[f"rgw-{region}-init"]
        assert rgw["image"].startswith("quay.io/ceph/ceph:")
        assert rgw["environment"]["S3_REGION"] == location
        assert settings.regions[region.upper()].location == location
        # the bucket is made with boto3 from the recvault image, with Object Lock
        assert init["image"] == services["api"]["image"]
        assert init["entrypoint"] == ["python", "/s3-init.py"]
        assert init["environment"]["S3_REGION"] == location
        assert (
            init["environment"]["S3_ENDPOINT"]
            == settings.regions[region.upper()].store.endpoint_url
        )
    bao_mounts = " ".join(str(v) for v in services["openbao-jp"]["volumes"])
    assert "keys/openbao-server.hcl" in bao_mounts
    init = " ".join(services["recvault-init"]["entrypoint"])
    assert "recvault db upgrade" in init and "recvault keys bootstrap" in init
    assert services["api"]["command"][0] == "serve"
    assert services["api"]["command"][-2:] == ["--workers", "2"]  # RECVAULT_API_WORKERS unset
    assert services["sweep-worker"]["command"][0] == "worker"
    assert "recvault_app" in services["api"]["environment"]["RECVAULT_DATABASE__URL"]
    for script in (
        "ceph-rgw.sh",
        "s3-init.py",
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


def test_compose_runs_no_archived_minio():
    """MinIO's community server, mc and KES were archived in April 2026 (ADR 0015)."""
    done = compose("config")
    assert done.returncode == 0, done.stderr
    rendered = done.stdout.lower()
    assert "minio" not in rendered and "kes" not in yaml.safe_load(done.stdout)["services"]
    images = {s.get("image", "") for s in yaml.safe_load(done.stdout)["services"].values()}
    assert not any(i.startswith(("minio/", "quay.io/minio/")) for i in images)
    for path in (ROOT / "docs" / "deploy").iterdir():
        assert "minio" not in path.name.lower(), path
    assert "minio" not in (ROOT / "docs" / "deploy" / "recvault.toml").read_text().lower()


def test_compose_recvault_config_is_valid_settings():
    from vault.settings import Settings

    settings = Settings.load(ROOT / "docs" / "deploy" / "recvault.toml")
    assert set(settings.regions) == {"JP", "PH"}
    assert all(r.store.kind == "s3" and r.store.object_lock for r in settings.regions.values())
