"""JWT access tokens of a real OpenID provider at the API, beside recvault's rvt_ tokens.

Tokens come from the provider (client credentials) or are forged here with
PyJWT the way an attacker would: another issuer, expired, another audience, an
unknown kid, ``alg: none``, HS256 keyed with the provider's public key, a
stranger's key under the provider's kid. Every forgery is 401 problem+json
with its reason, and the audit log holds the refusal.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from tests.api.conftest import OPERATOR, problem
from tests.oidc.conftest import AUDIENCE, Provider, b64, bearer, unsigned
from vault.cli.devbao import free_port
from vault.errors import InvalidInput

PH_SUBJECT = {"external_ref": "ref-1", "region": "PH"}


def refusals(api, reason: str | None) -> list:
    events = api.vault.audit_events(action="auth.token")
    return [e for e in events if reason is None or e.outcome == reason]


def test_client_credentials_token_works_and_is_audited_by_its_name(sso_api, oidc) -> None:
    api = sso_api()
    token = oidc.service_token("svc-ph")
    created = api.client.post("/v1/subjects", json=PH_SUBJECT, headers=bearer(token))
    assert created.status_code == 201, created.text
    subject_id = created.json()["id"]
    # the region limit of the token's claims holds
    jp = api.client.post(
        "/v1/subjects", json={"external_ref": "r", "region": "JP"}, headers=bearer(token)
    )
    assert jp.status_code == 403 and problem(jp)["code"] == "region-not-granted"
    events = list(api.vault.audit_events(principal="oidc:svc-ph"))
    assert any(e.action == "subject.create" and e.subject_id == subject_id for e in events)
    # recvault's own tokens keep working beside the provider's
    static = api.client.get(f"/v1/subjects/{subject_id}", headers=api.auth("operator"))
    assert static.status_code == 200


def test_a_role_the_token_lacks_is_forbidden(sso_api, oidc) -> None:
    api = sso_api()
    token = oidc.service_token("svc-ph")  # service only
    answer = api.client.get("/v1/audit/verify", headers=bearer(token))
    assert answer.status_code == 403 and problem(answer)["code"] == "forbidden"


def _hs256_with_public_key(oidc: Provider) -> str:
    rsa = oidc.signing_key("rsa")
    now = int(time.time())
    claims = {"iss": oidc.issuer, "aud": AUDIENCE, "sub": "x", "exp": now + 300,
              "roles": ["dpo"], "regions": ["PH"]}  # fmt: skip
    signing_input = unsigned({"alg": "HS256", "kid": rsa["jwk"]["kid"]}, claims)
    mac = hmac.new(rsa["pem"].encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def _alg_none(oidc: Provider) -> str:
    kid = oidc.signing_key()["jwk"]["kid"]
    now = int(time.time())
    claims = {"iss": oidc.issuer, "aud": AUDIENCE, "sub": "x", "exp": now + 300,
              "roles": ["dpo"], "regions": ["PH"]}  # fmt: skip
    return unsigned({"alg": "none", "kid": kid}, claims) + "."


FORGERIES = {
    "another issuer": (lambda o: o.forge(iss="http://127.0.0.1:1/other"), "issuer"),
    "expired": (lambda o: o.forge(exp=int(time.time()) - 3600), "expired"),
    "not yet valid": (lambda o: o.forge(nbf=int(time.time()) + 3600), "not-yet-valid"),
    "wrong audience": (lambda o: o.forge(aud="someone-else"), "audience"),
    "unknown kid": (lambda o: o.forge(kid="no-such-key"), "unknown-key"),
    "alg none": (_alg_none, "algorithm"),
    "HS256 keyed with the public key": (_hs256_with_public_key, "algorithm"),
    "a stranger's key under the provider's kid": (
        lambda o: o.forge(key=o.admin("keys")["stranger"], kid=o.signing_key("rsa")["jwk"]["kid"]),
        "signature",
    ),
    "RS256 claimed for the EC key": (
        lambda o: o.forge(key=o.admin("keys")["stranger"], kid=o.signing_key("ec")["jwk"]["kid"]),
        "algorithm",
    ),
    "no expiry": (lambda o: o.forge(exp=None), "claims"),
    "an unknown role": (lambda o: o.forge({"roles": ["root"]}), "claims"),
    "an unknown region": (lambda o: o.forge({"regions": ["EU"]}), "claims"),
    "no region": (lambda o: o.forge({"regions": []}), "claims"),
}


def test_forged_tokens_are_refused_and_audited(sso_api, oidc) -> None:
    api = sso_api()
    failures = []
    for label, (make, reason) in FORGERIES.items():
        before = len(refusals(api, f"refused:{reason}"))
        answer = api.client.get("/v1/holds", headers=bearer(make(oidc)))
        body = problem(answer) if answer.status_code == 401 else {}
        if answer.status_code != 401:
            failures.append(f"{label}: {answer.status_code} {answer.text[:200]}")
        elif not answer.headers["content-type"].startswith("application/problem+json"):
            failures.append(f"{label}: {answer.headers['content-type']}")
        elif body["code"] != "unauthenticated" or not body["detail"].startswith(
            "access token refused: "
        ):
            failures.append(f"{label}: {body}")
        elif len(refusals(api, f"refused:{reason}")) != before + 1:
            failures.append(f"{label}: no refused:{reason} audit event ({body['detail']})")
    assert failures == []
    assert len(refusals(api, None)) == len(FORGERIES)


def test_the_providers_own_token_passes_the_same_checks(sso_api, oidc) -> None:
    """The forgeries differ from a good token only in what they break."""
    api = sso_api()
    answer = api.client.get(
        f"/v1/subjects/{'0' * 32}", headers=bearer(oidc.forge({"roles": ["dpo"]}))
    )
    assert answer.status_code == 404, answer.text


def test_a_static_principal_cannot_take_an_sso_name(sso_api) -> None:
    api = sso_api()
    with pytest.raises(InvalidInput, match="oidc:"):
        api.vault.principals.add("oidc:svc-ph", ["service"], None, OPERATOR)


def test_key_rotation_at_the_provider_is_picked_up_without_a_restart(sso_api, oidc) -> None:
    api = sso_api()
    before = oidc.service_token("svc-ph")
    assert api.client.get("/v1/holds", headers=bearer(before)).status_code == 403  # service: no
    assert api.client.post("/v1/subjects", json=PH_SUBJECT, headers=bearer(before)).is_success
    oidc.admin("rotate", "POST")
    after = oidc.service_token("svc-ph")
    answer = api.client.post("/v1/subjects", json=PH_SUBJECT, headers=bearer(after))
    assert answer.status_code == 200, answer.text  # the same reference: found again
    # the retired key is gone from the provider's set: tokens it signed are refused
    stale = api.client.post("/v1/subjects", json=PH_SUBJECT, headers=bearer(before))
    assert stale.status_code == 401 and "key" in problem(stale)["detail"]


def test_unknown_kids_refresh_the_key_set_at_most_once_per_interval(sso_api, oidc) -> None:
    api = sso_api(jwks_min_refresh="PT1H")
    start = oidc.admin("stats")["jwks_fetches"]
    good = oidc.service_token("svc-ph")
    assert api.client.post("/v1/subjects", json=PH_SUBJECT, headers=bearer(good)).is_success
    for n in range(5):
        forged = oidc.forge(kid=f"unknown-{n}")
        assert api.client.get("/v1/holds", headers=bearer(forged)).status_code == 401
    assert oidc.admin("stats")["jwks_fetches"] - start == 1


def test_provider_down_static_tokens_work_and_jwts_get_503(make_api, sqlite_url, oidc) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    settings = {"oidc": {"issuer": down, "audience": AUDIENCE, "timeout": 2}}
    api = make_api(sqlite_url, use_clock=False, auth=settings)
    static = api.client.post("/v1/subjects", json=PH_SUBJECT, headers=api.auth("svc"))
    assert static.status_code == 201
    token = oidc.forge(iss=down)
    answer = api.client.post("/v1/subjects", json=PH_SUBJECT, headers=bearer(token))
    assert answer.status_code == 503, answer.text
    assert problem(answer)["code"] == "unavailable"
    assert "identity provider" in problem(answer)["detail"]
    assert int(answer.headers["Retry-After"]) >= 1


def test_without_oidc_a_jwt_is_just_an_unknown_token(make_api, sqlite_url, oidc) -> None:
    api = make_api(sqlite_url, use_clock=False)
    answer = api.client.get("/v1/holds", headers=bearer(oidc.service_token()))
    assert answer.status_code == 401
    assert api.client.get("/auth/oidc").status_code == 404


def test_groups_map_to_roles_and_regions(sso_api, oidc) -> None:
    """Entra-style: the roles claim holds the provider's app roles, mapped by [auth.oidc.groups]."""
    groups = {"compliance.PH": {"roles": ["compliance"], "regions": ["PH"]}}
    api = sso_api(roles_claim="", regions_claim="", groups_claim="roles", groups=groups)
    jp = api.client.post(
        "/v1/subjects", json={"external_ref": "jp-1", "region": "JP"}, headers=api.auth("owner")
    ).json()
    mapped = oidc.forge({"roles": ["compliance.PH", "Everyone"], "regions": None})
    report = api.client.get("/v1/residency/report", headers=bearer(mapped))
    assert report.status_code == 200, report.text
    assert jp["id"] not in report.text and '"JP"' not in report.text
    unmapped = oidc.forge({"roles": ["Everyone"], "regions": None})
    refused = api.client.get("/v1/residency/report", headers=bearer(unmapped))
    assert refused.status_code == 401 and "no recvault role" in problem(refused)["detail"]
