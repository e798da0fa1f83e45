from tests.core.conftest import make_vault  # noqa: F401  (shared fixture)
