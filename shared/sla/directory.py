"""People, departments, campaigns and channels as one sweep needs them: loaded in bulk, cached
for the sweep's transaction, so firing 10 000 levels costs a handful of queries, not 10 000."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Text, any_, bindparam, cast, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from shared.calendar import BusinessCalendar
from shared.models import Calendar, Campaign, Channel, ChannelDepartment, Department, User


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    department_id: int | None
    manager_id: int | None
    is_active: bool
    mobile: str | None
    feishu_open_id: str | None
    dingtalk_user_id: str | None
    wecom_user_id: str | None
    locale: str

    def mention(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "mobile": self.mobile,
            "feishu_open_id": self.feishu_open_id,
            "dingtalk_user_id": self.dingtalk_user_id,
            "wecom_user_id": self.wecom_user_id,
            "locale": self.locale,
        }


_PEOPLE = select(
    User.id,
    User.name,
    User.department_id,
    User.manager_id,
    User.is_active,
    User.mobile,
    User.feishu_open_id,
    User.dingtalk_user_id,
    User.wecom_user_id,
    User.locale,
).where(User.id == any_(bindparam("ids", type_=ARRAY(BigInteger))))


class Directory:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._people: dict[int, Person | None] = {}
        self._campaigns: dict[int, tuple[str, int | None] | None] = {}
        self.departments: dict[int, tuple[str, int | None]] = {}
        self.channels: dict[int, Channel] = {}
        self.unscoped_channels: list[int] = []
        self.channels_by_department: dict[int, list[int]] = {}

    async def load_departments(self) -> None:
        """Departments and their heads: enough to resolve role names (shared.org.roles)."""
        self.departments = {d.id: (d.name, d.head_user_id) for d in await self.session.scalars(select(Department))}

    async def load_static(self) -> None:
        """Departments and enabled channels: small tables, read once per sweep."""
        await self.load_departments()
        self.channels = {c.id: c for c in await self.session.scalars(select(Channel).where(Channel.enabled.is_(True)))}
        scoped: set[int] = set()
        for cd in await self.session.scalars(select(ChannelDepartment)):
            scoped.add(cd.channel_id)
            if cd.channel_id in self.channels:
                self.channels_by_department.setdefault(cd.department_id, []).append(cd.channel_id)
        self.unscoped_channels = sorted(c for c in self.channels if c not in scoped)

    async def prefetch_people(self, ids: Iterable[int | None]) -> None:
        missing = {i for i in ids if i is not None and i not in self._people}
        if not missing:
            return
        conn = await self.session.connection()
        for row in await conn.execute(_PEOPLE, {"ids": list(missing)}):
            self._people[row.id] = Person(
                row.id,
                row.name,
                row.department_id,
                row.manager_id,
                row.is_active,
                row.mobile,
                row.feishu_open_id,
                row.dingtalk_user_id,
                row.wecom_user_id,
                str(row.locale),
            )
        for i in missing:
            self._people.setdefault(i, None)

    async def prefetch_chain(self, assignee_ids: Iterable[int | None], campaign_ids: Iterable[int | None]) -> None:
        """Assignees, their managers and directors, department heads and campaign owners."""
        await self.prefetch_people(assignee_ids)
        for _ in range(2):
            await self.prefetch_people(p.manager_id for p in list(self._people.values()) if p)
        await self.prefetch_people(head for _, head in self.departments.values())
        missing = {c for c in campaign_ids if c is not None and c not in self._campaigns}
        if missing:
            for campaign in await self.session.scalars(select(Campaign).where(Campaign.id.in_(missing))):
                self._campaigns[campaign.id] = (campaign.name, campaign.owner_id)
            for campaign_id in missing:
                self._campaigns.setdefault(campaign_id, None)
            await self.prefetch_people(v[1] for v in self._campaigns.values() if v)

    def person(self, user_id: int | None) -> Person | None:
        if user_id is None:
            return None
        p = self._people.get(user_id)
        return p if p is not None and p.is_active else None

    def department_head(self, department_id: int | None) -> Person | None:
        if department_id is None or department_id not in self.departments:
            return None
        return self.person(self.departments[department_id][1])

    def campaign(self, campaign_id: int | None) -> tuple[str, int | None] | None:
        return self._campaigns.get(campaign_id) if campaign_id is not None else None

    # Holders (shared.org.roles): a manager counts through an active person only; heads and owners
    # are returned as recorded, and `person()` decides whether they are still active.
    def manager_of(self, user_id: int | None) -> int | None:
        person = self.person(user_id)
        return person.manager_id if person is not None else None

    def head_of(self, department_id: int | None) -> int | None:
        department = self.departments.get(department_id) if department_id is not None else None
        return department[1] if department is not None else None

    def owner_of(self, campaign_id: int | None) -> int | None:
        campaign = self.campaign(campaign_id)
        return campaign[1] if campaign is not None else None

    def channels_for(self, person: Person) -> list[int]:
        return self.channels_for_department(person.department_id)

    def channels_for_department(self, department_id: int | None) -> list[int]:
        """The department's channels plus the channels that serve every department."""
        return self.unscoped_channels + self.channels_by_department.get(department_id or -1, [])


# Calendars are cached by what they say, not by row id and `updated_at`: a `BusinessCalendar` (its day
# cache and its index of working time) never changes, so a key made of the whole definition can never
# serve a stale one after an edit (PATCH, a schedule import), even within the transaction that made it
# — `updated_at` is that transaction's start and would not tell two of its edits apart.
_calendar_cache: dict[str, BusinessCalendar] = {}
# Each edit adds an entry and the superseded ones linger until the cache is cleared; a calendar's
# index over the whole century is ~0.6 MB, so the bound keeps a process's worst case near 80 MB.
CALENDAR_CACHE_SIZE = 128
DEFAULT_CALENDAR = BusinessCalendar()


def calendar_from_row(row: Calendar) -> BusinessCalendar:
    """Build (and reuse while its definition is unchanged) the calendar of a row: its day cache and
    its index of working time survive requests and sweeps."""
    definition = {
        "timezone": row.timezone,
        "holiday_country": row.holiday_country,
        "weekly_hours": row.weekly_hours,
        "workday_hours": row.workday_hours,
        "overrides": row.overrides,
        "schedule": row.schedule,
    }
    key = json.dumps(definition, sort_keys=True, ensure_ascii=False)
    cal = _calendar_cache.get(key)
    if cal is None:
        cal = BusinessCalendar.from_json(definition)
        if len(_calendar_cache) > CALENDAR_CACHE_SIZE:
            _calendar_cache.clear()
        _calendar_cache[key] = cal
    return cal


# A board page names the calendars its timers need by what they say, hashed by PostgreSQL in the
# page's own query (`calendar_fingerprint`); the calendars come from this process's cache, and only a
# fingerprint not seen before (a new calendar, an edit — even a second edit in one transaction) costs
# a read of the row. One query per page, never a stale calendar.
_by_fingerprint: dict[str, BusinessCalendar] = {}


def calendar_fingerprint(calendar: Any = Calendar) -> ColumnElement[str]:
    """md5 of the columns `calendar_from_row` builds a calendar from (of `calendar`, an alias or the table)."""
    return func.md5(
        func.concat_ws(
            "|",
            calendar.timezone,
            func.coalesce(calendar.holiday_country, ""),
            cast(calendar.weekly_hours, Text),
            cast(calendar.workday_hours, Text),
            cast(calendar.overrides, Text),
            cast(calendar.schedule, Text),
        )
    )


async def calendars_by_fingerprint(session: AsyncSession, wanted: Mapping[str, int]) -> dict[str, BusinessCalendar]:
    """The calendars a query named (fingerprint → calendar id), from the cache; the rows of those
    it has not seen are read once. A calendar edited since the query named it answers as it is now."""
    missing = {calendar_id for fingerprint, calendar_id in wanted.items() if fingerprint not in _by_fingerprint}
    now_by_id: dict[int, BusinessCalendar] = {}
    if missing:
        rows = await session.execute(select(Calendar, calendar_fingerprint()).where(Calendar.id.in_(missing)))
        for row, fingerprint in rows:
            if len(_by_fingerprint) > CALENDAR_CACHE_SIZE:
                _by_fingerprint.clear()
            _by_fingerprint[fingerprint] = now_by_id[row.id] = calendar_from_row(row)
    out: dict[str, BusinessCalendar] = {}
    for fingerprint, calendar_id in wanted.items():
        cal = _by_fingerprint.get(fingerprint) or now_by_id.get(calendar_id)
        if cal is not None:
            out[fingerprint] = cal
    return out


# Built once (an array parameter): one statement whatever the number of calendars asked for.
_CALENDARS = select(Calendar).where(
    (Calendar.id == any_(bindparam("ids", type_=ARRAY(BigInteger)))) | Calendar.is_default
)


async def load_calendars(session: AsyncSession, ids: Iterable[int | None]) -> dict[int | None, BusinessCalendar]:
    """Calendars by id; None maps to the default calendar (or the built-in CN office hours)."""
    wanted = {i for i in ids if i is not None}
    rows = list(await session.scalars(_CALENDARS, {"ids": list(wanted)}))
    out: dict[int | None, BusinessCalendar] = {None: DEFAULT_CALENDAR}
    for row in rows:
        cal = calendar_from_row(row)
        if row.id in wanted:
            out[row.id] = cal
        if row.is_default:
            out[None] = cal
    return out
