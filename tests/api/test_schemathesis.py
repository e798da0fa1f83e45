"""Property-based requests generated from the app's own OpenAPI document: never a 5xx.

A real vault (SQLite + the local key provider) with a principal holding every
role, so requests get past authorization into the handlers; half the cases
use ids that exist.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.api.conftest import ApiEnv


def run_schemathesis(api: ApiEnv, per_operation: int) -> tuple[int, list[str]]:
    auth = api.auth("fuzzer")
    subject = api.client.post(
        "/v1/subjects", json={"external_ref": "f-1", "region": "JP"}, headers=auth
    ).json()
    record = api.client.post(
        f"/v1/subjects/{subject['id']}/records?category=photo", content=b"seed", headers=auth
    ).json()
    hold = api.client.post(
        "/v1/holds",
        json={"scope": "subject", "target_id": subject["id"], "case_ref": "C", "reason": "r"},
        headers=auth,
    ).json()
    real = {"subject_id": subject["id"], "record_id": record["id"], "hold_id": hold["id"]}

    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    calls = 0
    server_errors: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        names = {p.name for p in operation.path_parameters}
        strategies = [
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        ]
        if names:
            fixed = {n: real[n] for n in names if n in real}
            if fixed:
                strategies.append(
                    operation.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed)
                )

        @settings(
            max_examples=per_operation,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=st.one_of(strategies))
        def exercise(case) -> None:
            nonlocal calls
            response = case.call(headers=auth)
            calls += 1
            if response.status_code >= 500:
                server_errors.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code} "
                    f"{response.text[:200]}"
                )

        exercise()
    return calls, server_errors


def test_schemathesis_no_server_errors(api):
    calls, server_errors = run_schemathesis(api, per_operation=12)
    assert server_errors == []
    print(f"schemathesis: {calls} cases")
    assert calls >= 200


@pytest.mark.slow
def test_schemathesis_no_server_errors_thorough(api):
    calls, server_errors = run_schemathesis(api, per_operation=60)
    assert server_errors == []
    print(f"schemathesis: {calls} cases")
    assert calls >= 1000
