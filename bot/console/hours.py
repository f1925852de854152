"""Support hours: when a person from the store is there to answer.

Written as lines such as "mon-fri 09:00-17:00" or "sat 10:00-14:00" (days
mon..sun, a single day or a range that may wrap, "sat-mon"; 24-hour times,
the end after the start) in one IANA time zone. No lines: always staffed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = {"en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
             "zh": ("周一", "周二", "周三", "周四", "周五", "周六", "周日")}
SHORT_DAYS = {"en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), "zh": DAY_NAMES["zh"]}
TODAY = {"en": "today at {time}", "zh": "今天 {time}"}
TOMORROW = {"en": "tomorrow at {time}", "zh": "明天 {time}"}
_LINE = re.compile(r"^\s*(mon|tue|wed|thu|fri|sat|sun)(?:\s*-\s*(mon|tue|wed|thu|fri|sat|sun))?\s+"
                   r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$", re.IGNORECASE)


class HoursError(ValueError):
    """A support-hours line or time zone that cannot be read."""


@dataclass(frozen=True)
class SupportHours:
    """`windows`: (weekday 0=Monday, opens, closes) in `zone`; empty: always open."""

    windows: tuple[tuple[int, time, time], ...]
    zone: ZoneInfo
    lines: tuple[str, ...] = ()

    @classmethod
    def parse(cls, lines: tuple[str, ...] | list[str], timezone: str = "UTC") -> "SupportHours":
        """Raises HoursError naming the line or zone it cannot read."""
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise HoursError(f"unknown time zone {timezone!r} (use an IANA name such as \"Europe/London\")") from None
        windows = []
        for line in lines:
            match = _LINE.match(line)
            if not match:
                raise HoursError(f"support hours {line!r}: write them like \"mon-fri 09:00-17:00\"")
            first = DAYS.index(match[1].lower())
            last = DAYS.index(match[2].lower()) if match[2] else first
            h1, m1, h2, m2 = (int(match[i]) for i in range(3, 7))
            if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2) or (h2, m2) <= (h1, m1):
                raise HoursError(f"support hours {line!r}: the times must be HH:MM with the end after the start")
            closes = time(23, 59, 59) if h2 == 24 else time(h2, m2)
            for day in range(first, first + (last - first) % 7 + 1):
                windows.append((day % 7, time(h1, m1), closes))
        return cls(tuple(sorted(windows)), zone, tuple(lines))

    @property
    def always(self) -> bool:
        return not self.windows

    def is_open(self, at: datetime | None = None) -> bool:
        """Whether a person is there at `at` (default now; an aware datetime)."""
        if self.always:
            return True
        local = (at or datetime.now(self.zone)).astimezone(self.zone)
        return any(day == local.weekday() and opens <= local.time() < closes for day, opens, closes in self.windows)

    def next_open(self, at: datetime | None = None) -> datetime | None:
        """When a person is next there, in the zone (None when always open; `at` when open now)."""
        if self.always:
            return None
        local = (at or datetime.now(self.zone)).astimezone(self.zone)
        if self.is_open(local):
            return local
        for ahead in range(8):
            day = (local + timedelta(days=ahead)).date()
            for weekday, opens, _ in self.windows:
                start = datetime.combine(day, opens, self.zone)
                if weekday == day.weekday() and start > local:
                    return start
        return None

    def describe(self, lang: str = "en") -> str:
        """The hours for a shopper: "Mon-Fri 09:00-17:00, Sat 10:00-14:00 (Europe/London)" /
        "周一至周五 09:00-17:00，周六 10:00-14:00（Europe/London）"."""
        lang = "zh" if lang == "zh" else "en"
        names, parts = SHORT_DAYS[lang], []
        for line in self.lines:
            match = _LINE.match(line)
            first, last = names[DAYS.index(match[1].lower())], match[2] and names[DAYS.index(match[2].lower())]
            days = (f"{first}至{last}" if lang == "zh" else f"{first}-{last}") if last else first
            parts.append(f"{days} {int(match[3]):02d}:{match[4]}-{int(match[5]):02d}:{match[6]}")
        return f"{'，'.join(parts)}（{self.zone.key}）" if lang == "zh" else f"{', '.join(parts)} ({self.zone.key})"

    def when(self, moment: datetime, lang: str = "en", now: datetime | None = None) -> str:
        """A next opening in words: "today at 09:00", "tomorrow at 09:00", "Monday 09:00"
        (Chinese: "今天 09:00", "明天 09:00", "周一 09:00"), in the zone of the hours."""
        lang = "zh" if lang == "zh" else "en"
        now = (now or datetime.now(self.zone)).astimezone(self.zone)
        days = (moment.date() - now.date()).days
        clock = f"{moment:%H:%M}"
        if days == 0:
            return TODAY[lang].format(time=clock)
        if days == 1:
            return TOMORROW[lang].format(time=clock)
        return f"{DAY_NAMES[lang][moment.weekday()]} {clock}"
