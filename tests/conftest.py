"""Shared fixtures: real OpenBao, moto S3 (in-process and HTTP), SQLite and PostgreSQL."""

pytest_plugins = [
    "tests.fixtures.bao",
    "tests.fixtures.s3",
    "tests.fixtures.db",
    "tests.fixtures.clock",
]
