"""ISO 8601 durations with calendar arithmetic (``P10Y``, ``P30D``, ``PT3S``).

Years and months move the calendar date and clamp to the month's last day
(29 February + 10 years = 28 February); days and times are exact. Only
timezone-aware datetimes are accepted: a time without a zone is refused.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from vault.errors import InvalidInput

_PATTERN = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


@dataclass(frozen=True)
class Duration:
    years: int = 0
    months: int = 0
    days: int = 0
    seconds: float = 0.0
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> Duration:
        match = _PATTERN.match(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise InvalidInput(f"not an ISO 8601 duration: {text!r} (e.g. P10Y, P30D, PT3S)")
        parts = {k: v for k, v in match.groupdict().items() if v is not None}
        seconds = (
            float(parts.get("hours", 0)) * 3600
            + float(parts.get("minutes", 0)) * 60
            + float(parts.get("seconds", 0))
        )
        return cls(
            years=int(parts.get("years", 0)),
            months=int(parts.get("months", 0)),
            days=int(parts.get("weeks", 0)) * 7 + int(parts.get("days", 0)),
            seconds=seconds,
            text=text.strip(),
        )

    def __str__(self) -> str:
        return self.text or self._render()

    def _render(self) -> str:
        date = "".join(
            f"{n}{u}" for n, u in ((self.years, "Y"), (self.months, "M"), (self.days, "D")) if n
        )
        time = f"T{self.seconds:g}S" if self.seconds else ""
        return "P" + (date + time or "0D")

    def after(self, start: datetime) -> datetime:
        """``start`` moved forward by this duration on the calendar."""
        require_aware(start)
        try:
            total_months = start.month - 1 + self.months + 12 * self.years
            year, month = start.year + total_months // 12, total_months % 12 + 1
            day = min(start.day, calendar.monthrange(year, month)[1])
            moved = start.replace(year=year, month=month, day=day)
            return moved + timedelta(days=self.days, seconds=self.seconds)
        except (OverflowError, ValueError):
            # Past year 9999 (or before year 1) there is no date to compute.
            raise InvalidInput(f"{start.date()} + {self} is outside the supported dates") from None

    def approx_timedelta(self) -> timedelta:
        """An approximate length (365-day years, 30-day months) for display and caches."""
        return timedelta(days=self.years * 365 + self.months * 30 + self.days, seconds=self.seconds)


def require_aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(
            "a date and time must carry a time zone (e.g. 2026-01-31T09:00:00+09:00)"
        )
    return moment
