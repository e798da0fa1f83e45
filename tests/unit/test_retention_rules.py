"""Pure rules: retain_until arithmetic and disposal decisions (no server needed)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vault.durations import Duration, require_aware
from vault.errors import InvalidInput
from vault.retention.rules import BlockKind, HoldFacts, RecordFacts, decide_record, decide_subject

JST = timezone(timedelta(hours=9))
PHT = timezone(timedelta(hours=8))
TEN_YEARS = Duration.parse("P10Y")


def test_leap_day_plus_ten_years_is_28_february():
    assert TEN_YEARS.after(datetime(2024, 2, 29, 10, 0, tzinfo=UTC)) == datetime(
        2034, 2, 28, 10, 0, tzinfo=UTC
    )


def test_leap_day_plus_four_years_stays_29_february():
    assert Duration.parse("P4Y").after(datetime(2024, 2, 29, tzinfo=UTC)) == datetime(
        2028, 2, 29, tzinfo=UTC
    )


def test_month_end_clamps():
    assert Duration.parse("P1M").after(datetime(2025, 1, 31, tzinfo=UTC)) == datetime(
        2025, 2, 28, tzinfo=UTC
    )


def test_zone_is_kept_and_instant_is_exact():
    # 2025-12-31 23:30 in Tokyo is still 2025-12-31 in UTC; the calendar step happens
    # in the zone the time was given in, and the instant compares correctly in UTC.
    start = datetime(2025, 12, 31, 23, 30, tzinfo=JST)
    end = TEN_YEARS.after(start)
    assert end == datetime(2035, 12, 31, 23, 30, tzinfo=JST)
    assert end.astimezone(UTC) == datetime(2035, 12, 31, 14, 30, tzinfo=UTC)


def test_naive_time_is_refused():
    with pytest.raises(InvalidInput):
        TEN_YEARS.after(datetime(2025, 1, 1))
    with pytest.raises(InvalidInput):
        require_aware(datetime(2025, 1, 1))


@pytest.mark.parametrize("text", ["P", "PT", "10Y", "P1.5Y", "", "P-1D", "PT3"])
def test_bad_durations_refused(text):
    with pytest.raises(InvalidInput):
        Duration.parse(text)


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("PT3S", timedelta(seconds=3)),
        ("P30D", timedelta(days=30)),
        ("P2W", timedelta(days=14)),
        ("PT1H30M", timedelta(minutes=90)),
    ],
)
def test_exact_durations(text, delta):
    start = datetime(2026, 3, 1, tzinfo=UTC)
    assert Duration.parse(text).after(start) - start == delta


@given(
    st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
    st.integers(min_value=0, max_value=30),
)
def test_retention_never_ends_before_start_and_is_monotonic(start, years):
    end = Duration(years=years).after(start)
    later = Duration(years=years).after(start + timedelta(days=1))
    assert end >= start
    assert later >= end
    assert (end.month, end.year) == (start.month, start.year + years)


NOW = datetime(2036, 6, 1, tzinfo=UTC)
OLD = RecordFacts("r-old", datetime(2036, 1, 1, tzinfo=UTC))
YOUNG = RecordFacts("r-young", datetime(2040, 1, 1, tzinfo=UTC))


def test_record_past_retention_without_holds_is_disposable():
    assert decide_record(OLD, [], "s1", False, NOW).disposable


def test_retention_block_names_the_date():
    decision = decide_record(YOUNG, [], "s1", False, NOW)
    assert not decision.disposable
    assert decision.blocks[0].kind is BlockKind.RETENTION
    assert decision.earliest == YOUNG.retain_until


def test_subject_hold_blocks_every_record_and_names_case():
    hold = HoldFacts("h1", "subject", "s1", "CASE-42")
    decision = decide_record(OLD, [hold], "s1", False, NOW)
    assert not decision.disposable
    assert decision.blocks[0].case_ref == "CASE-42"
    assert "CASE-42" in decision.blocks[0].describe()


def test_record_hold_covers_only_its_record():
    hold = HoldFacts("h2", "record", "r-other", "CASE-7")
    assert decide_record(OLD, [hold], "s1", False, NOW).disposable
    hold_on_old = HoldFacts("h3", "record", "r-old", "CASE-8")
    assert not decide_record(OLD, [hold_on_old], "s1", False, NOW).disposable


def test_hold_of_another_subject_does_not_block():
    hold = HoldFacts("h1", "subject", "s2", "CASE-1")
    assert decide_subject("s1", [OLD], [hold], False, NOW).disposable


def test_restriction_blocks_disposal():
    decision = decide_subject("s1", [OLD], [], True, NOW)
    assert not decision.disposable
    assert [b.kind for b in decision.blocks] == [BlockKind.RESTRICTION]


def test_subject_lists_every_reason():
    holds = [HoldFacts("h1", "record", "r-old", "CASE-1"), HoldFacts("h2", "subject", "s1", "C2")]
    decision = decide_subject("s1", [OLD, YOUNG], holds, True, NOW)
    kinds = sorted(b.kind.value for b in decision.blocks)
    assert kinds.count("legal_hold") == 2
    assert "retention" in kinds and "restriction" in kinds
    assert decision.earliest == YOUNG.retain_until


def test_subject_without_records_is_disposable():
    assert decide_subject("s1", [], [], False, NOW).disposable


def test_naive_now_refused():
    with pytest.raises(InvalidInput):
        decide_record(OLD, [], "s1", False, datetime(2036, 1, 1))


def test_a_retention_reason_names_the_day_once():
    from vault.retention.rules import Block

    until = datetime(2036, 12, 4, 21, 28, 27, 964758, tzinfo=UTC)
    # people read it beside the exact instant (``until``): the day, no clock or offset
    assert Block(BlockKind.RETENTION, until=until).describe() == "retained until 2036-12-04"
