"""Calendar dates written in any common format, read into ISO form (``2002-11-22``).

Date answers (BIG-bench date understanding and the like) agree when they name the same day, however
each response wrote it.
"""

from __future__ import annotations

import datetime as _dt
import re

_MONTHS = {
    name: i + 1
    for i, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        )
    )
    for name in names
}
_MONTH = r"(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4})"
_DATE_PATTERNS = (
    # 2002-11-22, 2002/11/22, 2002.11.22
    re.compile(r"(?<![\d/.-])(?P<year>\d{4})([-/.])(?P<a>\d{1,2})\2(?P<b>\d{1,2})(?![\d/-]|\.\d)"),
    # 11/22/2002, 22/11/2002, 11-22-2002, 11.22.2002, 11/22/02
    re.compile(r"(?<![\d/.-])(?P<a>\d{1,2})([-/.])(?P<b>\d{1,2})\2(?P<year>\d{4}|\d{2})(?![\d/-]|\.\d)"),
    # Nov 22, 2002 / November 22nd 2002
    re.compile(rf"(?i)\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b"),
    # 22 November 2002 / 22nd of Nov. 2002 / 22 Nov, 2002
    re.compile(rf"(?i)\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}\b"),
)


def _iso(year: int, month: int, day: int) -> str | None:
    try:
        return _dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def _date_from_match(m: re.Match[str]) -> str | None:
    groups = m.groupdict()
    year = int(groups["year"])
    if len(groups["year"]) == 2:
        year += 2000 if year < 50 else 1900
    if groups.get("mon"):
        return _iso(year, _MONTHS[groups["mon"].lower()], int(groups["day"]))
    a, b = int(groups["a"]), int(groups["b"])
    if m.re is _DATE_PATTERNS[0]:
        return _iso(year, a, b)
    # Numeric day/month order: US month-first unless the first field cannot be a month (> 12).
    return _iso(year, b, a) if a > 12 else _iso(year, a, b)


def find_dates(text: str) -> list[tuple[int, int, str]]:
    """Every calendar date written in ``text`` as ``(start, end, ISO date)``, in text order.

    Formats: ``2002-11-22`` (also ``/`` or ``.``), ``11/22/2002`` (also ``-`` or ``.``, two-digit
    years meaning 2000-2049 / 1950-1999), ``Nov 22, 2002``, ``November 22nd 2002``,
    ``22 November 2002``, ``22nd of Nov. 2002``. Numeric ``a/b/yyyy`` is month-first (US) unless
    ``a`` > 12, in which case it is day-first (``22/11/2002`` is 22 November). Impossible dates
    (``02/30/2002``) are skipped.
    """
    found: list[tuple[int, int, str]] = []
    taken: list[tuple[int, int]] = []
    for pat in _DATE_PATTERNS:
        for m in pat.finditer(text):
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue
            iso = _date_from_match(m)
            if iso:
                found.append((m.start(), m.end(), iso))
                taken.append((m.start(), m.end()))
    return sorted(found)


def canonical_date(text: str) -> str | None:
    """``text`` is one date (up to punctuation and a weekday): its ISO form, else ``None``."""
    s = re.sub(r"^(?i:(?:mon|tues|wednes|thurs|fri|satur|sun)day),?\s*", "", text.strip().strip("*$`.,;:!()[]"))
    dates = find_dates(s)
    if len(dates) == 1 and dates[0][0] == 0 and dates[0][1] >= len(s.rstrip(".")):
        return dates[0][2]
    return None
