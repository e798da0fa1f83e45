"""Console sessions: idle and absolute timeouts on an injected clock, hashed cookies, CSRF."""

from __future__ import annotations

from datetime import timedelta

import pytest

from api.console.charts import bar_chart
from api.console.pages.destructions import countdown
from api.console.sessions import Expired, SessionStore, session_ref, start_session
from tests.fixtures.clock import FakeClock
from vault.domain import Actor, Role

DPO = Actor("dpo-1", frozenset({Role.DPO}), frozenset({"PH"}))


def store(clock: FakeClock) -> SessionStore:
    return SessionStore(clock, idle=timedelta(minutes=15), absolute=timedelta(hours=8))


def test_a_session_carries_its_actor_and_outlives_activity_within_the_idle_timeout() -> None:
    clock = FakeClock()
    sessions = store(clock)
    cookie = start_session(sessions, DPO, "oidc")
    for _ in range(4):
        clock.advance(minutes=14)
        found = sessions.get(cookie)
        assert found is not None and found.actor == DPO and found.method == "oidc"
    assert sessions.get("another-cookie") is None
    assert cookie not in str(sessions._sessions)  # only a hash of the cookie is kept


def test_idle_and_absolute_timeouts_end_a_session() -> None:
    clock = FakeClock()
    sessions = store(clock)
    idle = start_session(sessions, DPO)
    clock.advance(minutes=15)
    with pytest.raises(Expired):
        sessions.get(idle)
    assert sessions.get(idle) is None  # gone, not expired twice
    busy = start_session(sessions, DPO)
    for _ in range(34):  # 34 x 14 min = 7 h 56 min: used often enough, inside 8 h
        clock.advance(minutes=14)
        assert sessions.get(busy) is not None
    clock.advance(minutes=14)
    with pytest.raises(Expired):
        sessions.get(busy)


def test_sign_out_ends_the_session_and_csrf_must_match() -> None:
    sessions = store(FakeClock())
    cookie = start_session(sessions, DPO)
    found = sessions.get(cookie)
    assert found is not None
    assert found.csrf_ok(found.csrf)
    assert not found.csrf_ok(None) and not found.csrf_ok("") and not found.csrf_ok("x")
    assert sessions.end(cookie) is not None
    assert sessions.get(cookie) is None


def test_a_sign_in_ends_the_sessions_it_replaces_and_reports_only_live_ones() -> None:
    clock = FakeClock()
    sessions = store(clock)
    stale = start_session(sessions, Actor("stale", frozenset({Role.DPO})))
    clock.advance(minutes=15)  # past the idle timeout, not yet dropped
    live = start_session(sessions, DPO)
    assert session_ref(None) == session_ref("") == ""
    ended = sessions.end_replaced([session_ref(live), session_ref(stale), "", "unknown"])
    assert [s.actor for s in ended] == [DPO]
    assert sessions.get(live) is None and sessions.get(stale) is None
    assert len(sessions) == 0


def test_countdown_and_chart_geometry() -> None:
    clock = FakeClock()
    assert countdown(clock.now + timedelta(days=12, hours=3), clock.now) == "12 days 3 h left"
    assert countdown(clock.now + timedelta(minutes=90), clock.now) == "1 h 30 min left"
    assert countdown(clock.now, clock.now) == "due now"
    chart = bar_chart(
        "c",
        "t",
        "c",
        [("a", [("x", 10, "ok"), ("y", 5, "refused")]), ("b", [("x", 0, "ok")])],
        limit=20,
    )
    first, second = chart.bars
    assert first.total_label == "15" and second.total_label == "0"
    assert first.parts[0].h == pytest.approx(2 * first.parts[1].h, abs=0.2)
    assert chart.limit_y is not None and chart.limit_y < first.top  # the limit is above 15


def test_the_console_settings_in_the_operations_guide_load() -> None:
    import re
    import tomllib
    from pathlib import Path

    from vault.settings import ConsoleConfig

    guide = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    [block] = [b for b in re.findall(r"```toml\n(.*?)```", guide, re.DOTALL) if "[console]" in b]
    config = ConsoleConfig(**tomllib.loads(block)["console"])
    assert config.idle_timeout.approx_timedelta() == timedelta(minutes=15)
    assert config.absolute_timeout.approx_timedelta() == timedelta(hours=8)
