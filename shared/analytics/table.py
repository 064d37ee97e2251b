"""A result table — its columns, rows and the definitions of its numbers — and its CSV form."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

BOM = "\ufeff"  # Excel reads a UTF-8 CSV as the local code page unless it starts with one


def _plain(value: Any) -> Any:
    """JSON- and CSV-friendly cell values: numbers rounded to four places, dates in ISO form."""
    if isinstance(value, Decimal | float):
        return round(float(value), 4)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


@dataclass
class Table:
    """One analytics answer. `name` names the CSV file; rows map every column to a value."""

    name: str
    columns: tuple[str, ...]
    definitions: dict[str, str]
    rows: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_rows(
        cls, name: str, columns: tuple[str, ...], definitions: dict[str, str], rows: Sequence[Mapping[Any, Any]]
    ) -> Table:
        return cls(name, columns, definitions, [{c: _plain(row[c]) for c in columns} for row in rows])

    def to_csv(self) -> str:
        """UTF-8 CSV text with a BOM, a header row of the column names, empty cells for nulls."""
        out = io.StringIO()
        out.write(BOM)
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.columns)
        for row in self.rows:
            writer.writerow(["" if row[c] is None else row[c] for c in self.columns])
        return out.getvalue()
