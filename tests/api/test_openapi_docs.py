"""The OpenAPI document says what the server does: every refusal it gives is documented.

For each operation the server is made to refuse (no token, a role that may not
call it, an unknown id, a malformed id or body, a conflict, an erased subject,
a bad range, ...); each answer's status and content type must be documented
for that operation, and its body must validate against the documented schema.
The cases come from a table and from the document itself, not one assert per route.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.permissions import MATRIX
from tests.api.conftest import ApiEnv, api_settings
from tests.fixtures.clock import FakeClock
from vault import RecordVault
from vault.domain import Role
from vault.metadata.migrate import upgrade

SHORT = {"retention": {"default": "PT3S"}, "destruction": {"waiting_period": "PT2S"}}
UNKNOWN = "0" * 32
METHODS = ("get", "post", "put", "delete", "patch")


@dataclass
class Call:
    """One request: a route's path template with ids filled in, and what to send."""

    method: str
    template: str
    params: dict[str, str] = field(default_factory=dict)
    query: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.template.format(**self.params) + self.query


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for template, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield template, method, item[method]


def validator(spec: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({**schema, "components": spec["components"]})


def check_documented(spec: dict[str, Any], call: Call, response: Any) -> None:
    """The answer's status, content type and body are what the document says."""
    operation = spec["paths"][call.template][call.method]
    status = str(response.status_code)
    where = f"{call.method.upper()} {call.template} -> {status}: {response.text[:300]}"
    assert status in operation["responses"], f"undocumented status: {where}"
    documented = operation["responses"][status].get("content", {})
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    if not documented:
        assert not response.content, f"undocumented body: {where}"
        return
    media_type = media_type if media_type in documented else "*/*"
    assert media_type in documented, f"undocumented content type {media_type}: {where}"
    schema = documented[media_type].get("schema")
    if schema and media_type.endswith("json"):
        errors = list(validator(spec, schema).iter_errors(response.json()))
        assert not errors, f"{where}: {[e.message for e in errors]}"


@dataclass
class World:
    """A vault with a live subject, record, hold and destruction, and an erased subject."""

    api: ApiEnv
    spec: dict[str, Any]
    ids: dict[str, str]
    erased: dict[str, str]

    def call(self, call: Call, role: str | None = "all") -> Any:
        headers = dict(call.kwargs.pop("headers", {}))
        if role == "all":
            headers.update(self.api.auth("operator-all"))
        elif role is not None:
            headers.update(self.api.auth(f"only-{role}", [role]))
        return self.api.client.request(
            call.method.upper(), call.url, headers=headers, **call.kwargs
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("openapi-docs")
    clock = FakeClock()
    settings = api_settings(home, f"sqlite:///{home / 'meta.db'}", **SHORT)
    upgrade(settings.database.url)
    vault = RecordVault.from_settings(settings, clock=clock)
    app = create_app(vault)
    api = ApiEnv(vault, app, TestClient(app, raise_server_exceptions=False), clock)
    h = api.auth("operator-all")
    c = api.client

    def subject(ref: str) -> str:
        return str(
            c.post("/v1/subjects", json={"external_ref": ref, "region": "JP"}, headers=h).json()[
                "id"
            ]
        )

    def record(subject_id: str) -> str:
        url = f"/v1/subjects/{subject_id}/records?category=photo"
        return str(c.post(url, content=b"scan", headers=h).json()["id"])

    # an erased subject (with its record and executed destruction)
    gone = subject("erased-1")
    gone_record = record(gone)
    clock.advance(seconds=4)
    scheduled = c.post(f"/v1/subjects/{gone}/erasure", headers=h).json()
    clock.advance(seconds=3)
    assert c.post("/v1/retention/sweep", headers=h).json()["destructions_executed"] == 1
    # live ones, made after the sweep so that they stay
    live = subject("live-1")
    live_record = record(live)
    hold = c.post(
        "/v1/holds",
        json={"scope": "subject", "target_id": live, "case_ref": "C-1", "reason": "r"},
        headers=h,
    ).json()["id"]
    pending = subject("pending-1")
    record(pending)
    clock.advance(seconds=4)
    destruction = c.post(f"/v1/subjects/{pending}/erasure", headers=h).json()["destruction_id"]
    ids = {"subject_id": live, "record_id": live_record, "hold_id": hold, "region": "JP"}
    ids["destruction_id"] = destruction
    erased = {"subject_id": gone, "record_id": gone_record, "region": "JP"}
    erased["destruction_id"] = scheduled["destruction_id"]
    spec = c.get("/openapi.json").json()
    try:
        yield World(api, spec, ids, erased)
    finally:
        api.client.close()
        vault.close()


def body_for(operation: dict[str, Any]) -> dict[str, Any]:
    """A valid request for the operation: its documented example, or a small upload."""
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        return {"json": {}}
    if "application/octet-stream" in content:
        return {"content": b"scan"}
    return {}


def name_of(operation: dict[str, Any]) -> str:
    """The route name (``subjects.create``) from FastAPI's operation id."""
    return str(operation["operationId"].split("_v1_")[0].replace("_", ".", 1))


def forbidden_role(name: str) -> Role:
    rule = MATRIX[name]
    return next(r for r in Role if not rule.allows([r]))


def generic_cases(world: World) -> Iterator[tuple[str, Call, str | None]]:
    """Refusals every /v1 operation can be driven to, from the document itself."""
    for template, method, operation in operations(world.spec):
        if not template.startswith("/v1"):
            continue
        names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
        live = {n: world.ids[n] for n in names}
        query = "?category=photo" if template.endswith("/records") and method == "post" else ""
        body = _valid(world, operation)
        role = forbidden_role(name_of(operation)).value
        yield "401", Call(method, template, live, query, dict(body)), None
        yield "403", Call(method, template, live, query, dict(body)), role
        if names:
            unknown = {n: "XX" if n == "region" else UNKNOWN for n in names}
            yield "404", Call(method, template, unknown, query, _valid(world, operation)), "all"
            bad = dict.fromkeys(names, "not-an-id")
            yield "404", Call(method, template, bad, query, dict(body)), "all"
        queries = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
        if "cursor" in queries:  # a paged list: a cursor it did not hand out
            yield "400", Call(method, template, live, "?cursor=bm90LWEtY3Vyc29y", {}), "all"
        if "json" in body:
            unreadable = {"content": b"\x80", "headers": _json}
            yield "400", Call(method, template, live, query, unreadable), "all"
            big = {"content": b"[" + b"0," * 40_000 + b"0]", "headers": _json}
            yield "413", Call(method, template, live, query, big), "all"
            yield "422", Call(method, template, live, query, {"json": {"unexpected": 1}}), "all"


_json = {"Content-Type": "application/json"}


def _valid(world: World, operation: dict[str, Any]) -> dict[str, Any]:
    """A body that passes the schema, so that the id is what the server refuses."""
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        schema = content["application/json"]["schema"]
        ref = schema.get("$ref", "")
        example = world.spec["components"]["schemas"][ref.rsplit("/", 1)[-1]].get("examples")
        return {"json": example[0] if example else {}}
    return body_for(operation)


#: refusals particular to a route: (status, method, template, ids, query, request)
SPECIFIC: list[tuple[str, str, str, str, str, dict[str, Any]]] = [
    (
        "400",
        "post",
        "/v1/subjects/{subject_id}/records",
        "live",
        "?category=photo",
        {"content": b""},
    ),
    ("400", "post", "/v1/subjects", "live", "", {"json": {"external_ref": "r", "region": "XX"}}),
    ("400", "get", "/v1/audit", "live", "?since=yesterday", {}),
    ("400", "get", "/v1/retention/plan", "live", "?as_of=2026-01-01T00:00:00", {}),
    ("409", "get", "/v1/keys/destructions/{destruction_id}/certificate", "live", "", {}),
    (
        "404",
        "post",
        "/v1/holds",
        "live",
        "",
        {"json": {"scope": "subject", "target_id": UNKNOWN, "case_ref": "C", "reason": "r"}},
    ),
    (
        "409",
        "post",
        "/v1/subjects/{subject_id}/transfer",
        "live",
        "",
        {"json": {"to_region": "JP", "legal_basis": "consent", "evidence_ref": "form 1"}},
    ),
    ("200", "get", "/v1/subjects/{subject_id}/erasure", "erased", "", {}),
    ("200", "get", "/v1/subjects/{subject_id}/erasure", "live", "", {}),  # status "none"
    ("410", "delete", "/v1/subjects/{subject_id}/restriction", "erased", "", {}),
    ("410", "post", "/v1/keys/rotate", "erased", "", {"json": {"subject_id": "{subject_id}"}}),
    (
        "410",
        "post",
        "/v1/subjects/{subject_id}/transfer",
        "erased",
        "",
        {"json": {"to_region": "PH", "legal_basis": "consent", "evidence_ref": "form 1"}},
    ),
    (
        "409",
        "post",
        "/v1/holds",
        "erased",
        "",
        {"json": {"scope": "subject", "target_id": "{subject_id}", "case_ref": "C", "reason": "r"}},
    ),
    ("410", "get", "/v1/records/{record_id}/content", "erased", "", {}),
    ("410", "put", "/v1/records/{record_id}/content", "erased", "", {"content": b"x"}),
    (
        "410",
        "post",
        "/v1/subjects/{subject_id}/records",
        "erased",
        "?category=photo",
        {"content": b"x"},
    ),
    ("410", "post", "/v1/subjects/{subject_id}/erasure", "erased", "", {}),
    ("410", "post", "/v1/subjects/{subject_id}/restriction", "erased", "", {}),
    ("410", "get", "/v1/subjects/{subject_id}/export", "erased", "", {}),
    (
        "411",
        "post",
        "/v1/subjects/{subject_id}/records",
        "live",
        "?category=photo",
        {"content": iter([b"chunked"])},
    ),
    (
        "416",
        "get",
        "/v1/records/{record_id}/content",
        "live",
        "",
        {"headers": {"Range": "bytes=100-200"}},
    ),
    ("422", "get", "/v1/audit", "live", "?limit=0", {}),
    (
        "422",
        "post",
        "/v1/subjects/{subject_id}/records",
        "live",
        "?category=scan",
        {"content": b"x"},
    ),
]


def specific_cases(world: World) -> Iterator[tuple[str, Call, str | None]]:
    for status, method, template, which, query, request in SPECIFIC:
        ids = world.ids if which == "live" else world.erased
        names = [n.strip("{}") for n in template.split("/") if n.startswith("{")]
        params = {n: ids[n] for n in names}
        if "json" in request:  # ids in a body
            body = {
                k: v.format(**ids) if isinstance(v, str) else v for k, v in request["json"].items()
            }
            request = {"json": body}
        yield status, Call(method, template, params, query, dict(request)), "all"


def test_every_refusal_is_documented_with_its_schema(world):
    provoked: dict[tuple[str, str], set[str]] = {}
    cases: list[Callable[[World], Iterator[tuple[str, Call, str | None]]]] = [
        generic_cases,
        specific_cases,
    ]
    for source in cases:
        for expected, call, role in source(world):
            response = world.call(call, role)
            label = f"{call.method.upper()} {call.url}"
            assert str(response.status_code) == expected, f"{label}: {response.text[:300]}"
            check_documented(world.spec, call, response)
            provoked.setdefault((call.method, call.template), set()).add(expected)
    # a conflict: the hold released a second time
    for expected in (200, 409):
        release = Call("post", "/v1/holds/{hold_id}/release", dict(world.ids))
        release.kwargs = {"json": {"reason": "closed"}}
        response = world.call(release, "admin")
        assert response.status_code == expected, response.text
        check_documented(world.spec, release, response)
    v1 = {(m, t) for t, m, _ in operations(world.spec) if t.startswith("/v1")}
    assert set(provoked) == v1
    assert all({"401", "403"} <= seen for seen in provoked.values())


def test_every_operation_is_described_with_examples(world):
    spec = world.spec
    for template, method, operation in operations(spec):
        where = f"{method.upper()} {template}"
        summary = operation.get("summary", "")
        assert " " in summary and "." not in summary, f"{where}: summary {summary!r}"
        assert len(operation.get("description", "")) > 20, where
        for name, example in _request_examples(spec, operation):
            assert example is not None, f"{where}: no example of the {name} request"
        for status, response in operation["responses"].items():
            assert status != "500", f"{where} documents a 500"
            for media_type, content in response.get("content", {}).items():
                if int(status) >= 400 and template.startswith("/v1"):
                    assert media_type == "application/problem+json", f"{where} {status}"
                if "json" not in media_type and "example" not in content:
                    continue
                assert "example" in content, f"{where} {status} {media_type}: no example"
                schema = content.get("schema")
                if schema:
                    errors = list(validator(spec, schema).iter_errors(content["example"]))
                    assert not errors, f"{where} {status}: {[e.message for e in errors]}"


def _request_examples(spec: dict[str, Any], operation: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for param in operation.get("parameters", []):
        if param["in"] == "path":
            yield param["name"], (param.get("examples") or param.get("schema", {}).get("examples"))
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        ref = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        examples = spec["components"]["schemas"][ref].get("examples")
        yield "body", examples
        if examples:
            schema = {"$ref": f"#/components/schemas/{ref}"}
            for example in examples:
                assert not list(validator(spec, schema).iter_errors(example)), ref


def test_region_fields_list_the_configured_regions(world):
    schemas = world.spec["components"]["schemas"]
    assert schemas["SubjectCreate"]["properties"]["region"]["enum"] == ["JP", "PH"]
    assert schemas["TransferRequest"]["properties"]["to_region"]["enum"] == ["JP", "PH"]
    assert "HTTPValidationError" not in schemas
