"""Goal periods as text — "2026", "2026-Q3", "2026-08" — and which period lies inside which."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.goals.models import GoalPeriodKind

_YEAR = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

# The level below each kind: annual → quarterly → monthly.
CHILD_KIND = {GoalPeriodKind.year: GoalPeriodKind.quarter, GoalPeriodKind.quarter: GoalPeriodKind.month}


class BadPeriod(ValueError):
    pass


@dataclass(frozen=True)
class Period:
    kind: GoalPeriodKind
    year: int
    quarter: int | None = None
    month: int | None = None

    @classmethod
    def parse(cls, text: str) -> Period:
        if m := _YEAR.match(text):
            return cls(GoalPeriodKind.year, int(m.group(1)))
        if m := _QUARTER.match(text):
            return cls(GoalPeriodKind.quarter, int(m.group(1)), quarter=int(m.group(2)))
        if m := _MONTH.match(text):
            month = int(m.group(2))
            return cls(GoalPeriodKind.month, int(m.group(1)), quarter=(month - 1) // 3 + 1, month=month)
        raise BadPeriod("must be a year (2026), a quarter (2026-Q3) or a month (2026-08)")

    def __str__(self) -> str:
        if self.kind == GoalPeriodKind.year:
            return f"{self.year}"
        if self.kind == GoalPeriodKind.quarter:
            return f"{self.year}-Q{self.quarter}"
        return f"{self.year}-{self.month:02d}"

    def within(self, parent: Period) -> bool:
        """A child period is the next level down and lies inside its parent's period."""
        if CHILD_KIND.get(parent.kind) != self.kind or self.year != parent.year:
            return False
        return parent.kind == GoalPeriodKind.year or self.quarter == parent.quarter
