"""Authorization over HTTP: every /v1 endpoint x every role, no token, bad and disabled tokens.

Zero unauthorized successes: a call is 401/403 exactly where the matrix (and
authentication) says so, and never 401/403 where it allows the call.
"""

from __future__ import annotations

from api.permissions import MATRIX, allowed
from tests.api.conftest import problem
from vault.domain import Role

NOBODY = "0" * 32
ROLE_SETS = {
    "service": [Role.SERVICE],
    "admin": [Role.ADMIN],
    "security": [Role.SECURITY],
    "compliance": [Role.COMPLIANCE],
    "dpo": [Role.DPO],
    "admin-compliance": [Role.ADMIN, Role.COMPLIANCE],
}


def endpoints(subject_id: str, record_id: str) -> list[tuple[str, str, str, dict]]:
    """(route name, method, path, request kwargs). Mutations target unknown ids (404)."""
    hold = {"scope": "subject", "target_id": NOBODY, "case_ref": "C-1", "reason": "r"}
    transfer = {"to_region": "PH", "legal_basis": "consent", "evidence_ref": "E-1"}
    raw = {"content": b"x", "headers": {"Content-Type": "text/plain"}}
    return [
        (
            "subjects.create",
            "POST",
            "/v1/subjects",
            {"json": {"external_ref": "m-1", "region": "JP"}},
        ),
        ("subjects.get", "GET", f"/v1/subjects/{subject_id}", {}),
        ("records.create", "POST", f"/v1/subjects/{subject_id}/records?category=photo", raw),
        ("records.list", "GET", f"/v1/subjects/{subject_id}/records", {}),
        ("records.get", "GET", f"/v1/records/{record_id}", {}),
        ("records.content", "GET", f"/v1/records/{record_id}/content", {}),
        ("records.update", "PUT", f"/v1/records/{record_id}/content", raw),
        ("holds.place", "POST", "/v1/holds", {"json": hold}),
        ("holds.release", "POST", f"/v1/holds/{NOBODY}/release", {"json": {"reason": "r"}}),
        ("holds.list", "GET", "/v1/holds", {}),
        ("erasure.request", "POST", f"/v1/subjects/{NOBODY}/erasure", {}),
        ("erasure.status", "GET", f"/v1/subjects/{subject_id}/erasure", {}),
        ("restriction.set", "POST", f"/v1/subjects/{NOBODY}/restriction", {}),
        ("restriction.clear", "DELETE", f"/v1/subjects/{NOBODY}/restriction", {}),
        ("subjects.export", "GET", f"/v1/subjects/{subject_id}/export", {}),
        ("subjects.transfer", "POST", f"/v1/subjects/{NOBODY}/transfer", {"json": transfer}),
        ("keys.rotate", "POST", "/v1/keys/rotate", {"json": {"region": "JP"}}),
        ("keys.status", "GET", "/v1/keys/status", {}),
        ("destructions.list", "GET", "/v1/keys/destructions", {}),
        ("destructions.cancel", "POST", f"/v1/keys/destructions/{NOBODY}/cancel", {}),
        ("destructions.certificate", "GET", f"/v1/keys/destructions/{NOBODY}/certificate", {}),
        ("retention.plan", "GET", "/v1/retention/plan", {}),
        ("retention.approve", "POST", "/v1/retention/approvals", {"json": {"ids": [NOBODY]}}),
        ("retention.sweep", "POST", "/v1/retention/sweep", {}),
        ("residency.report", "GET", "/v1/residency/report", {}),
        ("residency.objects", "GET", "/v1/residency/regions/JP/objects", {}),
        ("residency.keys", "GET", "/v1/residency/regions/JP/keys", {}),
        ("audit.query", "GET", "/v1/audit?limit=5", {}),
        ("audit.verify", "GET", "/v1/audit/verify", {}),
    ]


def call(api, method: str, path: str, kwargs: dict, headers: dict[str, str]):
    merged = {**kwargs.get("headers", {}), **headers}
    rest = {k: v for k, v in kwargs.items() if k != "headers"}
    return api.client.request(method, path, headers=merged, **rest)


def seed(api) -> tuple[str, str]:
    owner = api.auth("owner")
    subject = api.client.post(
        "/v1/subjects", json={"external_ref": "p-1", "region": "JP"}, headers=owner
    ).json()
    record = api.client.post(
        f"/v1/subjects/{subject['id']}/records?category=xray", content=b"scan", headers=owner
    ).json()
    return subject["id"], record["id"]


def test_every_v1_operation_is_in_the_matrix_and_in_this_test(api):
    spec = api.app.openapi()["paths"]
    operations = {
        (method.upper(), path)
        for path, ops in spec.items()
        if path.startswith("/v1")
        for method in ops
    }
    listed = {(m, p.split("?")[0]) for _, m, p, _ in endpoints("{subject_id}", "{record_id}")}
    covered = set()
    for method, path in listed:
        for op_method, op_path in operations:
            parts, want = op_path.split("/"), path.split("/")
            if (
                op_method == method
                and len(parts) == len(want)
                and all(a == b or a.startswith("{") for a, b in zip(parts, want, strict=True))
            ):
                covered.add((op_method, op_path))
    assert covered == operations, operations - covered
    assert {name for name, *_ in endpoints("s", "r")} == set(MATRIX)
    # and every operation carries the bearer requirement in the OpenAPI document
    for path, ops in spec.items():
        if path.startswith("/v1"):
            assert all(op.get("security") for op in ops.values()), path


def test_matrix_every_endpoint_every_role(api):
    from tests.api.conftest import OPERATOR

    subject_id, record_id = seed(api)
    gone = api.token("gone", [r.value for r in Role])
    api.vault.principals.disable("gone", OPERATOR)
    unauthenticated = {
        "no token": {},
        "bad token": {"Authorization": "Bearer rvt_not-a-real-token"},
        "not bearer": {"Authorization": f"Basic {gone}"},
        "disabled": {"Authorization": f"Bearer {gone}"},
    }
    failures: list[str] = []
    calls = 0
    for name, method, path, kwargs in endpoints(subject_id, record_id):
        for label, headers in unauthenticated.items():
            response = call(api, method, path, kwargs, headers)
            calls += 1
            if response.status_code != 401:
                failures.append(f"{label} {name}: {response.status_code}")
            else:
                assert problem(response)["code"] == "unauthenticated"
                assert response.headers["www-authenticate"].startswith("Bearer")
        for label, roles in ROLE_SETS.items():
            response = call(api, method, path, kwargs, api.auth(label, [r.value for r in roles]))
            calls += 1
            code = response.status_code
            if allowed(name, roles):
                server_error = code >= 500
                if code in (401, 403) or server_error:
                    failures.append(f"{label} {name}: allowed but {code} {response.text[:200]}")
            elif code != 403:
                failures.append(f"{label} {name}: denied but {code}")
            else:
                assert problem(response)["code"] == "forbidden"
    assert calls == len(MATRIX) * (len(unauthenticated) + len(ROLE_SETS))
    assert failures == []


def test_transfer_needs_admin_and_compliance_on_one_principal():
    assert not allowed("subjects.transfer", [Role.ADMIN])
    assert not allowed("subjects.transfer", [Role.COMPLIANCE])
    assert allowed("subjects.transfer", [Role.ADMIN, Role.COMPLIANCE])
    assert not allowed("no.such.route", list(Role))


def test_role_denial_is_audited(api):
    _, record_id = seed(api)
    response = api.client.get(
        f"/v1/records/{record_id}/content", headers=api.auth("auditor", ["compliance"])
    )
    assert response.status_code == 403
    events = list(api.vault.audit_events(principal="auditor"))
    assert [(e.action, e.target, e.outcome) for e in events] == [
        ("api.records.content", record_id, "refused:forbidden")
    ]
    assert api.vault.verify_audit().ok


def test_region_grant_refused_and_audited(api):
    subject_id, record_id = seed(api)
    ph = api.auth("ph-service", ["service"], regions=["PH"])
    for path in (
        f"/v1/subjects/{subject_id}",
        f"/v1/subjects/{subject_id}/records",
        f"/v1/records/{record_id}",
        f"/v1/records/{record_id}/content",
    ):
        response = api.client.get(path, headers=ph)
        assert response.status_code == 403, path
        assert problem(response)["code"] == "region-not-granted"
    upload = api.client.post(
        f"/v1/subjects/{subject_id}/records?category=photo", content=b"x", headers=ph
    )
    assert upload.status_code == 403
    created = api.client.post(
        "/v1/subjects", json={"external_ref": "p-2", "region": "JP"}, headers=ph
    )
    assert created.status_code == 403
    outcomes = [e.outcome for e in api.vault.audit_events(principal="ph-service")]
    assert len(outcomes) == 6
    assert set(outcomes) == {"refused:region-not-granted"}
    # the same principal works in its own region
    own = api.client.post("/v1/subjects", json={"external_ref": "p-3", "region": "PH"}, headers=ph)
    assert own.status_code == 201
