"""Region isolation through HTTP: every /v1 route x every role, granted only PH, data in JP and PH.

JP and PH each hold a subject with a record, a legal hold with a case
reference, and a subject whose key destruction is scheduled. A principal
granted only PH, in each role, calls every route against JP targets and
against PH targets. Outcomes: no call on a JP target succeeds; no answer to
the PH principal carries a JP id, case reference or key name; the same calls
on PH targets are not refused for the region (so the matrix can fail).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from api.permissions import MATRIX, allowed
from tests.api.conftest import ApiEnv, problem
from tests.api.test_authorization import ROLE_SETS
from vault.domain import Role

ALL = [r.value for r in Role]


@dataclass
class RegionData:
    """What one region holds, and every string that identifies it."""

    region: str = ""
    subject_id: str = ""
    record_id: str = ""
    hold_id: str = ""
    doomed_subject: str = ""
    destruction_id: str = ""
    secrets: set[str] = field(default_factory=set)


def _seed_region(api: ApiEnv, region: str) -> RegionData:
    owner = api.auth("owner")
    data = RegionData(region=region)
    subject = api.client.post(
        "/v1/subjects", json={"external_ref": f"ref-{region}", "region": region}, headers=owner
    ).json()
    data.subject_id = subject["id"]
    record = api.client.post(
        f"/v1/subjects/{data.subject_id}/records?category=xray", content=b"scan", headers=owner
    ).json()
    data.record_id = record["id"]
    case_ref = f"CASE-{region}-7731"
    hold = api.client.post(
        "/v1/holds",
        json={
            "scope": "subject",
            "target_id": data.subject_id,
            "case_ref": case_ref,
            "reason": "litigation",
        },
        headers=owner,
    ).json()
    data.hold_id = hold["id"]
    # A second subject with nothing kept: its erasure schedules a key destruction.
    doomed = api.client.post(
        "/v1/subjects", json={"external_ref": f"gone-{region}", "region": region}, headers=owner
    ).json()
    data.doomed_subject = doomed["id"]
    erasure = api.client.post(f"/v1/subjects/{data.doomed_subject}/erasure", headers=owner)
    assert erasure.status_code == 202, erasure.text
    data.destruction_id = erasure.json()["destruction_id"]
    assert data.destruction_id, erasure.text
    data.secrets = {
        data.subject_id,
        data.record_id,
        data.hold_id,
        data.doomed_subject,
        data.destruction_id,
        case_ref,
        subject["key_name"],
        doomed["key_name"],
    }
    return data


@pytest.fixture
def api(make_api, db_url) -> ApiEnv:
    """The matrix runs on SQLite and on PostgreSQL."""
    return make_api(db_url)


@pytest.fixture
def seeded(api: ApiEnv) -> dict[str, RegionData]:
    return {region: _seed_region(api, region) for region in ("JP", "PH")}


def targeted(data: RegionData) -> list[tuple[str, str, str, dict]]:
    """Routes that act on one region's objects: (route name, method, path, kwargs)."""
    raw = {"content": b"x", "headers": {"Content-Type": "text/plain"}}
    hold = {"scope": "subject", "target_id": data.subject_id, "case_ref": "C-9", "reason": "r"}
    transfer = {"to_region": "PH", "legal_basis": "consent", "evidence_ref": "E-1"}
    s, r = data.subject_id, data.record_id
    return [
        ("subjects.get", "GET", f"/v1/subjects/{s}", {}),
        ("records.create", "POST", f"/v1/subjects/{s}/records?category=photo", raw),
        ("records.list", "GET", f"/v1/subjects/{s}/records", {}),
        ("records.get", "GET", f"/v1/records/{r}", {}),
        ("records.content", "GET", f"/v1/records/{r}/content", {}),
        ("records.update", "PUT", f"/v1/records/{r}/content", raw),
        ("holds.place", "POST", "/v1/holds", {"json": hold}),
        ("holds.release", "POST", f"/v1/holds/{data.hold_id}/release", {"json": {"reason": "r"}}),
        ("erasure.request", "POST", f"/v1/subjects/{s}/erasure", {}),
        ("erasure.status", "GET", f"/v1/subjects/{data.doomed_subject}/erasure", {}),
        ("restriction.set", "POST", f"/v1/subjects/{s}/restriction", {}),
        ("restriction.clear", "DELETE", f"/v1/subjects/{s}/restriction", {}),
        ("subjects.export", "GET", f"/v1/subjects/{s}/export", {}),
        ("subjects.transfer", "POST", f"/v1/subjects/{s}/transfer", {"json": transfer}),
        ("keys.rotate", "POST", "/v1/keys/rotate", {"json": {"subject_id": s}}),
        ("residency.objects", "GET", f"/v1/residency/regions/{data.region}/objects", {}),
        ("residency.keys", "GET", f"/v1/residency/regions/{data.region}/keys", {}),
        (
            "destructions.cancel",
            "POST",
            f"/v1/keys/destructions/{data.destruction_id}/cancel",
            {},
        ),
        (
            "destructions.certificate",
            "GET",
            f"/v1/keys/destructions/{data.destruction_id}/certificate",
            {},
        ),
    ]


#: routes that answer about every region the caller may see (lists, reports, actions by region)
OVERVIEWS: list[tuple[str, str, str, dict]] = [
    (
        "subjects.create",
        "POST",
        "/v1/subjects",
        {"json": {"external_ref": "ref-JP", "region": "PH"}},
    ),
    ("holds.list", "GET", "/v1/holds", {}),
    ("keys.status", "GET", "/v1/keys/status", {}),
    ("keys.rotate", "POST", "/v1/keys/rotate", {"json": {}}),
    ("destructions.list", "GET", "/v1/keys/destructions", {}),
    ("retention.plan", "GET", "/v1/retention/plan", {}),
    ("retention.approve", "POST", "/v1/retention/approvals", {"json": {}}),
    ("retention.sweep", "POST", "/v1/retention/sweep", {}),
    ("residency.report", "GET", "/v1/residency/report", {}),
    ("audit.query", "GET", "/v1/audit?limit=1000", {}),
    ("audit.verify", "GET", "/v1/audit/verify", {}),
]


def _call(api: ApiEnv, method: str, path: str, kwargs: dict, headers: dict[str, str]):
    merged = {**kwargs.get("headers", {}), **headers}
    rest = {k: v for k, v in kwargs.items() if k != "headers"}
    return api.client.request(method, path, headers=merged, **rest)


def _leaks(body: str, secrets: set[str]) -> list[str]:
    return sorted(s for s in secrets if s in body)


def test_every_route_of_the_matrix_is_tried_here() -> None:
    names = {n for n, *_ in targeted(RegionData())} | {n for n, *_ in OVERVIEWS}
    assert names == set(MATRIX)


def test_a_ph_principal_of_any_role_reaches_nothing_in_jp(
    api: ApiEnv, seeded: dict[str, RegionData]
) -> None:
    jp, ph = seeded["JP"], seeded["PH"]
    failures: list[str] = []
    own_region_ok = 0
    for label, roles in ROLE_SETS.items():
        headers = api.auth(f"ph-{label}", [r.value for r in roles], regions=["PH"])
        for name, method, path, kwargs in targeted(jp):
            response = _call(api, method, path, kwargs, headers)
            if response.status_code < 400:
                failures.append(f"{label} {name} on JP: {response.status_code}")
            elif response.status_code == 403:
                code = problem(response)["code"]
                expected = "region-not-granted" if allowed(name, roles) else "forbidden"
                if code != expected:
                    failures.append(f"{label} {name} on JP: {code}, wanted {expected}")
            leaked = _leaks(response.text, jp.secrets - {jp.subject_id, jp.record_id})
            if leaked:
                failures.append(f"{label} {name} on JP leaked {leaked}")
        for name, method, path, kwargs in OVERVIEWS:
            response = _call(api, method, path, kwargs, headers)
            if allowed(name, roles) and response.status_code >= 500:
                failures.append(f"{label} {name}: {response.status_code}")
            leaked = _leaks(response.text, jp.secrets)
            if leaked:
                failures.append(f"{label} {name} leaked JP {leaked}")
        for name, method, path, kwargs in targeted(ph):
            if name in {"subjects.transfer", "erasure.request", "restriction.set"}:
                continue  # they change the PH data the next role's calls need
            if not allowed(name, roles):
                continue
            response = _call(api, method, path, kwargs, headers)
            if response.status_code == 403:
                failures.append(f"{label} {name} on PH refused: {response.text[:200]}")
            elif response.status_code < 400:
                own_region_ok += 1
    assert failures == []
    assert own_region_ok >= 10  # the PH principal did reach its own region's data


def test_jp_is_untouched_after_the_ph_principals_tried(
    api: ApiEnv, seeded: dict[str, RegionData]
) -> None:
    jp = seeded["JP"]
    headers = api.auth("ph-all", ALL, regions=["PH"])
    for _, method, path, kwargs in targeted(jp):
        _call(api, method, path, kwargs, headers)
    for _, method, path, kwargs in OVERVIEWS:
        _call(api, method, path, kwargs, headers)
    owner = api.auth("owner")
    [destruction] = [
        d
        for d in api.client.get("/v1/keys/destructions", headers=owner).json()["items"]
        if d["id"] == jp.destruction_id
    ]
    assert destruction["state"] == "scheduled" and destruction["cancelled_by"] is None
    holds = {h["id"]: h for h in api.client.get("/v1/holds", headers=owner).json()["items"]}
    assert holds[jp.hold_id]["active"] is True
    content = api.client.get(f"/v1/records/{jp.record_id}/content", headers=owner)
    assert content.status_code == 200 and content.content == b"scan"
    record = api.client.get(f"/v1/records/{jp.record_id}", headers=owner).json()
    assert record["version"] == 1 and record["state"] == "active"
    subject = api.client.get(f"/v1/subjects/{jp.subject_id}", headers=owner).json()
    assert subject["restricted"] is False and subject["region"] == "JP"
    status = api.client.get("/v1/keys/status", headers=owner).json()
    assert status["regions"]["JP"]["versions_in_use"] == {"1": 1}  # no JP key was rotated


def test_a_reference_held_in_jp_is_not_confirmed_to_ph(
    api: ApiEnv, seeded: dict[str, RegionData]
) -> None:
    headers = api.auth("ph-service", ["service"], regions=["PH"])
    response = api.client.post(
        "/v1/subjects", json={"external_ref": "ref-JP", "region": "PH"}, headers=headers
    )
    # References are scoped by region (ADR 0005): PH gets its own subject, answered as
    # any new reference is, so nothing confirms that JP uses the same string.
    assert response.status_code == 201, response.text
    body = json.dumps(response.json())
    assert response.json()["region"] == "PH"
    assert not _leaks(body, seeded["JP"].secrets)


def test_lists_for_an_all_region_principal_still_cover_both(
    api: ApiEnv, seeded: dict[str, RegionData]
) -> None:
    owner = api.auth("owner")
    holds = {h["id"] for h in api.client.get("/v1/holds", headers=owner).json()["items"]}
    assert {seeded["JP"].hold_id, seeded["PH"].hold_id} <= holds
    status = api.client.get("/v1/keys/status", headers=owner).json()
    assert set(status["regions"]) == {"JP", "PH"}
    ph_only = api.client.get(
        "/v1/keys/status", headers=api.auth("ph-sec", ["security"], regions=["PH"])
    ).json()
    assert set(ph_only["regions"]) == {"PH"}


#: the paged lists that answer about every region the caller may see, and the role they need
PAGED = [
    ("/v1/holds", "admin"),
    ("/v1/keys/destructions", "security"),
    ("/v1/retention/plan", "compliance"),
    ("/v1/audit", "compliance"),
]


def _walk(api: ApiEnv, path: str, headers: dict[str, str]) -> list[str]:
    """Every page of ``path`` one item at a time; the answers' bodies, page by page."""
    bodies, cursor = [], None
    for _ in range(500):
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        response = api.client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        bodies.append(response.text)
        cursor = response.json()["next"]
        if cursor is None:
            return bodies
    raise AssertionError(f"{path}: the cursors do not come to an end")


def test_every_page_of_a_ph_principal_is_filtered_by_region(
    api: ApiEnv, seeded: dict[str, RegionData]
) -> None:
    jp, ph = seeded["JP"], seeded["PH"]
    for path, role in PAGED:
        headers = api.auth(f"ph-pager-{role}", [role], regions=["PH"])
        pages = _walk(api, path, headers)
        leaked = [_leaks(body, jp.secrets) for body in pages]
        assert not any(leaked), (path, leaked)
        whole = api.client.get(path, params={"limit": 1000}, headers=headers).json()
        walked = [item for body in pages for item in json.loads(body)["items"]]
        if path != "/v1/audit":  # the audit log grows with each query of it
            assert walked == whole["items"]
    ph_holds = {h["id"] for h in whole_of(api, "/v1/holds", api.auth("ph-pager-admin"))}
    assert ph_holds == {ph.hold_id}


def whole_of(api: ApiEnv, path: str, headers: dict[str, str]) -> list[dict]:
    items: list[dict] = api.client.get(path, params={"limit": 1000}, headers=headers).json()[
        "items"
    ]
    return items


def test_a_cursor_from_a_jp_listing_reveals_nothing_to_a_ph_principal(
    api: ApiEnv, seeded: dict[str, RegionData]
) -> None:
    jp, ph = seeded["JP"], seeded["PH"]
    # more JP rows, so that an all-region principal's first page ends on a JP row
    owner = api.auth("owner")
    for n in range(3):
        body = {
            "scope": "subject",
            "target_id": jp.subject_id,
            "case_ref": f"JP-{n}",
            "reason": "r",
        }
        assert api.client.post("/v1/holds", json=body, headers=owner).status_code == 201
        api.client.post(
            f"/v1/subjects/{jp.subject_id}/records?category=photo", content=b"j", headers=owner
        )
    cursors = {}
    for path, _ in PAGED:
        cursors[path] = api.client.get(path, params={"limit": 1}, headers=owner).json()["next"]
    records = f"/v1/subjects/{jp.subject_id}/records"
    cursors[records] = api.client.get(records, params={"limit": 1}, headers=owner).json()["next"]
    assert all(cursors.values())
    for path, role in PAGED:
        headers = api.auth(f"ph-replay-{role}", [role], regions=["PH"])
        response = api.client.get(path, params={"cursor": cursors[path]}, headers=headers)
        assert response.status_code == 400 and problem(response)["code"] == "invalid-cursor"
        assert not _leaks(response.text, jp.secrets)
    service = api.auth("ph-replay-service", ["service"], regions=["PH"])
    on_jp = api.client.get(records, params={"cursor": cursors[records]}, headers=service)
    assert on_jp.status_code == 403 and not _leaks(on_jp.text, jp.secrets - {jp.subject_id})
    on_ph = api.client.get(
        f"/v1/subjects/{ph.subject_id}/records",
        params={"cursor": cursors[records]},
        headers=service,
    )
    assert on_ph.status_code == 400 and problem(on_ph)["code"] == "invalid-cursor"
    assert not _leaks(on_ph.text, jp.secrets)


def test_every_refusal_on_a_target_is_audited(api: ApiEnv, seeded: dict[str, RegionData]) -> None:
    """docs/records.md: every operation, allowed or refused, appends an event. A JP-only
    principal refused on a PH target (region) or on an unknown one (not found) leaves one
    event per call, naming the action and the refusal."""
    ph = seeded["PH"]
    nobody = RegionData(
        region="PH",
        subject_id="0" * 32,
        record_id="0" * 32,
        hold_id="0" * 32,
        doomed_subject="0" * 32,
        destruction_id="0" * 32,
    )
    rotate_ph = ("keys.rotate", "POST", "/v1/keys/rotate", {"json": {"region": "PH"}})
    unaudited: list[str] = []
    for label, data in {"PH target": ph, "unknown id": nobody}.items():
        calls = targeted(data) + ([rotate_ph] if data is ph else [])
        for n, (name, method, path, kwargs) in enumerate(calls):
            principal = f"jp-{label[:2]}-{n}"
            headers = api.auth(principal, ALL, regions=["JP"])
            response = _call(api, method, path, kwargs, headers)
            assert response.status_code in (403, 404), (label, name, response.text)
            code = problem(response)["code"]
            outcomes = [e.outcome for e in api.vault.audit_events(principal=principal)]
            if outcomes != [f"refused:{code}"]:
                unaudited.append(f"{label} {name}: {response.status_code} {code}, {outcomes}")
    assert unaudited == [], "\n".join(unaudited)
