"""Each role signs in, sees only its pages, and does its main task end to end in Chromium.

After each task the test reads the vault itself (the result) and the audit log
(the event naming the principal). Every page visited is checked with axe-core
and saved as a screenshot under tests/artifacts/console/.
"""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from playwright.sync_api import Page, expect

from tests.console.conftest import World, axe_check, events, nav_labels, shoot, sign_in

#: one worker runs the console modules: one server, one browser at a time
pytestmark = pytest.mark.xdist_group("console")


def test_sign_in_page_has_a_token_field_and_loads_only_from_the_server(
    page: Page, world: World
) -> None:
    response = page.goto("/console/")
    assert response is not None
    expect(page).to_have_url(re.compile(r"/console/sign-in$"))
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    expect(page.get_by_label("Token")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert icon is not None  # else the browser asks for /favicon.ico and logs a 404
    answer = page.request.get(icon)
    assert answer.status == 200 and answer.headers["content-type"].startswith("image/svg+xml")
    shoot(page, "sign-in")
    axe_check(page)
    page.get_by_label("Token").fill("rvt_not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid")


def test_service_sees_subjects_only(page: Page, world: World) -> None:
    sign_in(page, world, "svc")
    assert nav_labels(page) == ["Subjects"]
    page.get_by_role("link", name="Subjects").first.click()
    page.get_by_label("Subject id or clinic reference").fill("clinic-jp-1")
    page.get_by_role("button", name="Find").click()
    page.get_by_role("link", name=world.ids["jp_subject"]).click()
    expect(page.get_by_role("table")).to_contain_text(world.ids["jp_record"])
    expect(page.get_by_role("button", name="Restrict processing")).to_have_count(0)
    # a page of another role: refused, readable, audited
    page.goto("/console/holds")
    expect(page.get_by_role("alert")).to_contain_text("may not use this page")
    assert events(world, principal="svc", action="console.holds.list")[-1].outcome.startswith(
        "refused"
    )


def test_dpo_finds_a_subject_restricts_it_and_downloads_its_export(
    page: Page, world: World
) -> None:
    subject = world.ids["jp_subject"]
    sign_in(page, world, "dpo")
    assert nav_labels(page) == ["Subjects"]
    shoot(page, "home-dpo")
    page.get_by_role("link", name="Subjects").first.click()
    page.get_by_label("Subject id or clinic reference").fill("clinic-jp-1")
    page.get_by_role("button", name="Find").click()
    shoot(page, "subjects-search")
    axe_check(page)
    page.get_by_role("link", name=subject).click()
    expect(page.locator("#restriction-state")).to_have_text("not restricted")
    expect(page.get_by_role("table").first).to_contain_text("v1")
    page.get_by_role("button", name="Restrict processing").click()
    expect(page.get_by_role("status")).to_contain_text("now restricted")
    expect(page.locator("#restriction-state")).to_have_text("restricted")
    assert world.vault.get_subject(subject).restricted
    shoot(page, "subject")
    axe_check(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download export (zip)").click()
    archive = zipfile.ZipFile(io.BytesIO(download.value.path().read_bytes()))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["subject_id"] == subject
    page.get_by_role("button", name="Clear restriction").click()
    expect(page.locator("#restriction-state")).to_have_text("not restricted")
    actions = [e.action for e in events(world, principal="dpo", subject_id=subject)]
    assert {"subject.restrict", "subject.unrestrict", "subject.export"} <= set(actions)
    assert "subject.find" in actions
    # a subject whose erasure was requested: the decision, its date and state
    page.goto(f"/console/subjects/{world.ids['jp_erase_subject']}")
    expect(page.locator("#erasure-status")).to_have_text(re.compile("scheduled|cancelled"))


def test_admin_places_a_hold_and_another_admin_releases_it(page: Page, world: World) -> None:
    subject = world.ids["jp_subject"]
    sign_in(page, world, "admin-a")
    assert nav_labels(page) == ["Legal holds"]
    page.get_by_role("link", name="Legal holds").first.click()
    page.get_by_label("Subject or record id").fill(subject)
    page.get_by_label("Case reference").last.fill("CASE-2026-7")
    page.get_by_label("Reason", exact=True).fill("litigation about treatment")
    page.get_by_role("button", name="Place hold").click()
    expect(page.get_by_role("status")).to_contain_text("placed")
    expect(page.get_by_role("table")).to_contain_text("CASE-2026-7")
    shoot(page, "holds")
    axe_check(page)
    [hold] = [h for h in world.vault.list_holds(active_only=True) if h.case_ref == "CASE-2026-7"]
    # the admin who placed it may not release it
    page.get_by_label("Reason for releasing CASE-2026-7").fill("settled")
    page.get_by_role("button", name="Release").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert world.vault.list_holds(active_only=True)[0].id == hold.id
    page.context.clear_cookies()
    sign_in(page, world, "admin-b")
    page.goto("/console/holds?case_ref=CASE-2026")
    page.get_by_label("Reason for releasing CASE-2026-7").fill("case settled")
    page.get_by_role("button", name="Release").click()
    expect(page.get_by_role("status")).to_contain_text("released")
    assert not [h for h in world.vault.list_holds(active_only=True) if h.id == hold.id]
    assert [e for e in events(world, principal="admin-a") if e.action == "hold.place"]
    assert [e for e in events(world, principal="admin-b") if e.action == "hold.release"]


def test_security_cancels_a_destruction_after_confirming(page: Page, world: World) -> None:
    destruction = world.ids["jp_destruction"]
    sign_in(page, world, "sec")
    assert nav_labels(page) == ["Key destructions", "Keys"]
    page.get_by_role("link", name="Key destructions").first.click()
    row = page.get_by_role("row").filter(has_text=destruction)
    expect(row).to_contain_text("days")
    shoot(page, "destructions")
    axe_check(page)
    executed = page.get_by_role("row").filter(has_text=world.ids["jp_executed"])
    with page.expect_download() as download:
        executed.get_by_role("link", name="Certificate").click()
    certificate = json.loads(download.value.path().read_text())
    assert world.ids["jp_executed"] in json.dumps(certificate) and "signature" in certificate
    row.get_by_role("link", name="Cancel…").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Cancel the destruction")
    axe_check(page)
    page.get_by_role("button", name="Yes, cancel the destruction").click()
    expect(page.get_by_role("status")).to_contain_text("cancelled")
    [found] = [d for d in world.vault.list_destructions() if d.id == destruction]
    assert found.state == "cancelled" and found.cancelled_by == "sec"
    assert [e for e in events(world, principal="sec") if e.action.startswith("destruction.cancel")]


def test_security_rotates_a_region_after_confirming(page: Page, world: World) -> None:
    before = world.vault.key_status().regions["JP"].versions_in_use
    sign_in(page, world, "sec")
    page.goto("/console/keys")
    expect(page.get_by_role("img", name="Key ages against the rotation period")).to_be_visible()
    shoot(page, "keys")
    axe_check(page)
    page.get_by_role("link", name="Rotate JP…").click()
    page.get_by_role("button", name="Yes, rotate JP").click()
    expect(page.locator("#rotation-progress")).to_contain_text(
        "Rotation of JP finished", timeout=30000
    )
    after = world.vault.key_status().regions["JP"].versions_in_use
    assert max(after) == max(before) + 1
    assert [e for e in events(world, principal="sec") if e.action.startswith("key.rotate")]


def test_compliance_pages_approve_report_query_and_verify(page: Page, world: World) -> None:
    sign_in(page, world, "comp")
    assert nav_labels(page) == ["Key destructions", "Disposal", "Residency", "Audit"]
    # disposal: approve the batch of what may go
    page.get_by_role("link", name="Disposal").first.click()
    expect(page.get_by_role("img", name="Records reaching retain-until per year")).to_be_visible()
    shoot(page, "disposal")
    axe_check(page)
    due = world.ids["jp_due"]
    page.get_by_label(f"Approve subject {due}").check()
    page.get_by_role("button", name="Approve the ticked items").click()
    expect(page.get_by_role("status")).to_contain_text("1 item(s) approved")
    plan = world.vault.plan_disposal()
    assert [i.approved for i in plan.items if i.id == due] == [True]
    assert [e for e in events(world, principal="comp") if e.action == "disposal.approve"]
    # residency: run the report, download the signed one
    page.get_by_role("link", name="Residency").first.click()
    page.get_by_role("button", name="Run the report").click()
    expect(page.locator("#residency-verdict")).to_contain_text("No violation")
    expect(page.locator("#residency-regions")).to_contain_text("ap-northeast-1")
    shoot(page, "residency")
    axe_check(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download a signed report (JSON)").click()
    signed = json.loads(download.value.path().read_text())
    assert {"document", "signature"} <= set(signed)
    assert [e for e in events(world, principal="comp") if e.action == "residency.report"]
    # audit: query by principal and action, then verify the chain
    page.get_by_role("link", name="Audit").first.click()
    expect(page.get_by_role("img", name="Audit events per day")).to_be_visible()
    page.get_by_label("Principal").fill("comp")
    page.get_by_label("Action (e.g. record.read)").fill("disposal.approve")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#audit-events")).to_contain_text(due)
    shoot(page, "audit")
    axe_check(page)
    page.get_by_role("link", name="Verify the chain").click()
    expect(page.locator("#verify-result")).to_contain_text("intact")
    expect(page.locator("#checkpoint-status")).not_to_be_empty()
    shoot(page, "audit-verify")
    axe_check(page)
    queried = [e for e in events(world, principal="comp") if e.action == "audit.query"]
    assert any("principal=comp" in e.target for e in queried)
    assert [e for e in events(world, principal="comp") if e.action.startswith("audit.verify")]
