"""A principal signed in through the provider and granted only PH reaches nothing in JP.

The same routes as tests/api/test_isolation.py, with the provider's access
tokens (roles and ``regions: ["PH"]`` in the claims) instead of rvt_ tokens.
"""

from __future__ import annotations

from api.permissions import allowed
from tests.api.conftest import problem
from tests.api.test_authorization import ROLE_SETS
from tests.api.test_isolation import OVERVIEWS, _call, _leaks, _seed_region, targeted
from tests.oidc.conftest import bearer


def test_a_ph_token_of_any_role_reaches_nothing_in_jp(sso_api, oidc) -> None:
    api = sso_api()
    jp, ph = _seed_region(api, "JP"), _seed_region(api, "PH")
    failures: list[str] = []
    own_region_ok = 0
    for label, roles in ROLE_SETS.items():
        claims = {"roles": sorted(r.value for r in roles), "regions": ["PH"]}
        headers = bearer(oidc.forge(claims, sub=f"ph-{label}"))
        for name, method, path, kwargs in targeted(jp):
            response = _call(api, method, path, kwargs, headers)
            if response.status_code < 400:
                failures.append(f"{label} {name} on JP: {response.status_code}")
            elif response.status_code == 403:
                code = problem(response)["code"]
                expected = "region-not-granted" if allowed(name, roles) else "forbidden"
                if code != expected:
                    failures.append(f"{label} {name} on JP: {code}, wanted {expected}")
            elif response.status_code == 401:
                failures.append(f"{label} {name}: the token itself was refused")
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
            if allowed(name, roles) and method == "GET":
                response = _call(api, method, path, kwargs, headers)
                if response.status_code in (401, 403):
                    failures.append(f"{label} {name} on PH refused: {response.text[:200]}")
                elif response.status_code < 400:
                    own_region_ok += 1
    assert failures == []
    assert own_region_ok >= 5  # the PH token did reach its own region's data
    refused = [e for e in api.vault.audit_events() if e.actor.startswith("oidc:ph-")]
    assert any(e.outcome.startswith("refused:") for e in refused)
