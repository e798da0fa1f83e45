"""Safe responses: nothing under /v1 is cached, record content is an attachment that no
browser runs as a page of recvault, and no page of recvault loads anything from a CDN."""

from __future__ import annotations

from api.headers import CONTENT_CSP, attachment_name


def _subject(api) -> str:
    response = api.client.post(
        "/v1/subjects", json={"external_ref": "p-1", "region": "JP"}, headers=api.auth("svc")
    )
    return str(response.json()["id"])


def test_v1_answers_are_never_cached(api):
    h = api.auth("svc")
    subject_id = _subject(api)
    for response in (
        api.client.get(f"/v1/subjects/{subject_id}", headers=h),
        api.client.get(f"/v1/subjects/{subject_id}/records", headers=h),
        api.client.get("/v1/subjects/" + "0" * 32, headers=h),  # 404
        api.client.get(f"/v1/subjects/{subject_id}"),  # 401
    ):
        assert response.headers["cache-control"] == "no-store", response.status_code
        assert response.headers["x-content-type-options"] == "nosniff"


def test_html_content_is_an_attachment_in_a_sandbox(api):
    h = api.auth("svc")
    subject_id = _subject(api)
    page = b"<html><script>fetch('/v1/holds')</script></html>"
    created = api.client.post(
        f"/v1/subjects/{subject_id}/records?category=photo&filename=tanaka.html",
        content=page,
        headers={**h, "Content-Type": "text/html"},
    )
    record_id = created.json()["id"]
    for extra in ({}, {"Range": "bytes=0-5"}):
        got = api.client.get(f"/v1/records/{record_id}/content", headers={**h, **extra})
        assert got.status_code in (200, 206)
        assert got.headers["content-disposition"] == f'attachment; filename="{record_id}.html"'
        assert got.headers["content-security-policy"] == CONTENT_CSP
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["cache-control"] == "no-store"
        assert "tanaka" not in str(got.headers)


def test_scan_gets_its_extension():
    assert attachment_name("r1", "model/stl") == "r1.stl"
    assert attachment_name("r1", "image/png") == "r1.png"
    assert attachment_name("r1", "application/dicom") == "r1.dcm"
    assert attachment_name("r1", "application/x-unknown") == "r1.bin"
    assert attachment_name("r1", 'text/plain; charset="x"') == "r1.txt"


def test_reference_pages_load_nothing_from_another_host(api):
    assert api.client.get("/openapi.json").json()["info"]["title"] == "recvault"
    for path in ("/docs", "/redoc"):
        page = api.client.get(path)
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        assert policy.startswith("default-src 'none'") and "frame-ancestors 'none'" in policy
        assert "http" not in policy and "*" not in policy
        assert page.headers["x-frame-options"] == "DENY"


def test_html_pages_get_a_strict_csp_and_no_framing(api):
    from fastapi.responses import HTMLResponse

    @api.app.get("/probe-page", include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse("<p>hello</p>")

    got = api.client.get("/probe-page")
    assert got.headers["x-frame-options"] == "DENY"
    csp = got.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "cache-control" not in got.headers


def test_no_answer_sends_a_referrer(api, monkeypatch):
    """Addresses of recvault (a subject's id in a console page's path) never reach
    another site in a Referer: every answer says ``Referrer-Policy: no-referrer``."""
    h = api.auth("svc")
    subject_id = _subject(api)

    def explode(**_: object) -> None:
        raise RuntimeError("unexpected")

    monkeypatch.setattr(api.vault, "holds_page", explode)
    answers = {
        "api": api.client.get(f"/v1/subjects/{subject_id}", headers=h),
        "api 404 problem": api.client.get("/v1/subjects/" + "0" * 32, headers=h),
        "api 401 problem": api.client.get(f"/v1/subjects/{subject_id}"),
        "api 405 problem": api.client.get("/v1/subjects/", headers=h),
        "api 500 problem": api.client.get("/v1/holds", headers=api.auth("adm", ["admin"])),
        "unknown path": api.client.get("/nowhere"),
        "console page": api.client.get("/console/sign-in"),
        "console redirect": api.client.get("/console/holds", follow_redirects=False),
        "console static": api.client.get("/console/static/console.css"),
        "docs page": api.client.get("/docs"),
        "docs asset": api.client.get("/docs/assets/swagger-ui.css"),
        "openapi": api.client.get("/openapi.json"),
        "health": api.client.get("/healthz"),
    }
    statuses = {name: got.status_code for name, got in answers.items()}
    assert statuses == {
        "api": 200,
        "api 404 problem": 404,
        "api 401 problem": 401,
        "api 405 problem": 405,
        "api 500 problem": 500,
        "unknown path": 404,
        "console page": 200,
        "console redirect": 303,
        "console static": 200,
        "docs page": 200,
        "docs asset": 200,
        "openapi": 200,
        "health": 200,
    }
    policies = {name: got.headers.get("referrer-policy") for name, got in answers.items()}
    assert policies == dict.fromkeys(answers, "no-referrer")
