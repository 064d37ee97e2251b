"""Which years of a country's statutory data are official, and which are the `holidays` package's guess.

China announces each year's holidays and weekend make-up workdays (调休) in the autumn before. The
`holidays` package ships them as a table of substituted days per year
(`ChinaStaticHolidays.special_public_holidays`); a year missing from that table is computed from
rules alone — the festivals on their lunar dates plus "observed" days — with no make-up workdays,
and no label says so (the package's "（推定）" label only marks lunar dates outside its tables).
So for China the years in that table are official and every other year is estimated: a signal
read from the installed package, which moves forward by itself when a release adds the next year
(tests/calendar/test_statutory.py pins 2026 official and 2027 estimated for the version in use).

Countries whose holidays are fixed by standing rules, not announced year by year, are official
for every year.
"""

from __future__ import annotations

import enum
from functools import lru_cache

from holidays.countries.china import ChinaStaticHolidays

# Countries whose schedule is announced yearly → the years the installed package has as announced.
_ANNOUNCED_YEARLY: dict[str, frozenset[int]] = {
    "CN": frozenset(ChinaStaticHolidays.special_public_holidays),
}


class DataQuality(enum.StrEnum):
    official = "official"
    estimated = "estimated"


class WarningCode(enum.StrEnum):
    """What deadlines and timers warn about."""

    estimated_holidays = "estimated_holidays"  # the span crosses a year whose statutory data is a guess


@lru_cache(maxsize=1024)
def package_quality(country: str, year: int) -> DataQuality:
    """How good the installed `holidays` package's data for one country and year is."""
    announced = _ANNOUNCED_YEARLY.get(country.upper())
    if announced is None or year in announced:
        return DataQuality.official
    return DataQuality.estimated
