"""Shared fixtures: real OpenBao, moto S3 (in-process and HTTP), SQLite and PostgreSQL."""

import os
import tempfile

pytest_plugins = [
    "tests.fixtures.bao",
    "tests.fixtures.s3",
    "tests.fixtures.db",
    "tests.fixtures.clock",
]

# `recvault login` keeps tokens in the user's config directory, which the CLI reads
# when no token is given: the tests get an empty one of their own, never the user's.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="recvault-test-config-")
