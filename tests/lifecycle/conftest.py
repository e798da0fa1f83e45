from tests.core.conftest import FakeClock, clock, make_vault  # noqa: F401  (shared fixtures)
