"""Report schedules (CRUD, audited), producing a report exactly once per schedule and period, and
its chat card through the outbox (routing, rate limits, retries and dead letters apply).

Exactly once: the report row is inserted with ON CONFLICT DO NOTHING on `(schedule_id, period_key)`
and its card is written to the outbox in the same transaction, only when the row is new — a second
worker, a loop running twice or `POST /report-schedules/{id}/run` find the row and send nothing.
After downtime the latest due period is produced (see `shared.reports.schedule` for why a missed
stand-up is skipped once its day is over)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared import archive, crud
from shared.actor import Actor
from shared.archive import Disposal
from shared.calendar.core import BusinessCalendar
from shared.campaigns.sla import CampaignItem
from shared.errors import FieldError, InvalidInput
from shared.links import signed_path
from shared.models import Calendar, Campaign, Channel, Department
from shared.notify.outbox import OutboxItem, add_to_outbox
from shared.reports.builder import Scope, Window, build_periodic, build_standup, headline
from shared.reports.models import Report, ReportKind, ReportSchedule, ReportScope
from shared.reports.schedule import Period, is_stale, latest_due, parse_send_at, period_of
from shared.reports.schemas import ReportScheduleCreate, ReportScheduleUpdate
from shared.sla.directory import load_calendars

SCHEDULE = "report_schedule"  # the audit log's entity type
REPORT = "report"  # the outbox's subject type (not a timed subject)
READY = "report.ready"
KIND_LABELS = {
    "zh-CN": {
        "daily_standup": "站会日报",
        "weekly": "周报",
        "monthly": "月报",
        "quarterly": "季报",
        "annual": "年报",
        "company": "全公司",
    },
    "en-US": {
        "daily_standup": "Daily stand-up",
        "weekly": "Weekly report",
        "monthly": "Monthly report",
        "quarterly": "Quarterly report",
        "annual": "Annual report",
        "company": "company",
    },
}


@dataclass(frozen=True)
class LinkSigner:
    """How the chat card's button is signed (the server's key) and how long it opens the page."""

    secret: str
    ttl: timedelta

    def path(self, report_id: int, now: datetime) -> str:
        return signed_path(page_path(report_id), expires_at=now + self.ttl, secret=self.secret)


def page_path(report_id: int) -> str:
    return f"/api/v1/reports/{report_id}.html"


# ---- schedules -----------------------------------------------------------------------------------
async def _validate(session: AsyncSession, values: dict[str, Any]) -> None:
    """Every bad field at once, each named: scope ids, channels, time of day, calendar."""
    errors: list[FieldError] = []
    scope = values["scope"]
    for field, model, needed in (
        ("department_id", Department, scope == ReportScope.department),
        ("campaign_id", Campaign, scope == ReportScope.campaign),
    ):
        ref = values.get(field)
        if needed and ref is None:
            errors.append(FieldError(field, f"required when scope is {scope.value}", "missing"))
        elif not needed and ref is not None:
            errors.append(FieldError(field, f"not taken when scope is {scope.value}", "invalid"))
        elif ref is not None and await session.get(model, ref) is None:
            errors.append(FieldError(field, f"{model.__name__.lower()} {ref} does not exist", "reference"))
    missing = await crud.missing_ids(session, Channel, values["channel_ids"])
    for i, channel_id in enumerate(values["channel_ids"]):
        if channel_id in missing:
            errors.append(FieldError(f"channel_ids.{i}", f"channel {channel_id} does not exist", "reference"))
    try:
        parse_send_at(values["send_at"])
    except ValueError as exc:
        errors.append(FieldError("send_at", str(exc), "invalid"))
    calendar_id = values.get("calendar_id")
    if calendar_id is not None and await session.get(Calendar, calendar_id) is None:
        errors.append(FieldError("calendar_id", f"calendar {calendar_id} does not exist", "reference"))
    if errors:
        raise InvalidInput.for_fields(errors)


async def create_schedule(
    session: AsyncSession, *, actor: Actor, data: ReportScheduleCreate, now: datetime
) -> ReportSchedule:
    """A new schedule; its first report is the first period due after now (no back-fill)."""
    values = data.model_dump()
    await _validate(session, values)
    schedule = ReportSchedule(**values, active_from=now, created_by=actor.user_id)
    return await crud.create(session, actor=actor, obj=schedule, entity_type=SCHEDULE)


async def update_schedule(
    session: AsyncSession, *, actor: Actor, schedule_id: int, changes: ReportScheduleUpdate
) -> ReportSchedule:
    """Change a schedule (audited); validated like a new one."""
    schedule = await crud.get_or_404(session, ReportSchedule, schedule_id, for_update=True)
    archive.require_live(schedule, SCHEDULE)
    values = changes.model_dump(exclude_unset=True)
    current = {
        "scope": schedule.scope,
        "department_id": schedule.department_id,
        "campaign_id": schedule.campaign_id,
        "channel_ids": schedule.channel_ids,
        "send_at": schedule.send_at,
        "calendar_id": schedule.calendar_id,
    }
    await _validate(session, {**current, **values})
    return await crud.update(session, actor=actor, obj=schedule, changes=values, entity_type=SCHEDULE)


async def delete_schedule(session: AsyncSession, *, actor: Actor, schedule_id: int, now: datetime) -> Disposal:
    """Delete a schedule that produced nothing; one that produced reports is archived and disabled
    (it produces no more; its reports still name it) — `shared.archive`."""
    schedule = await crud.get_or_404(session, ReportSchedule, schedule_id, for_update=True)
    return await archive.remove(session, actor=actor, obj=schedule, entity_type=SCHEDULE, now=now)


# ---- producing -----------------------------------------------------------------------------------
async def _calendar(session: AsyncSession, calendar_id: int | None) -> BusinessCalendar:
    cals = await load_calendars(session, [calendar_id])
    return cals.get(calendar_id, cals[None])


async def _scope_name(session: AsyncSession, schedule: ReportSchedule, locale: str) -> str:
    if schedule.scope == ReportScope.department and schedule.department_id is not None:
        dept = await session.get(Department, schedule.department_id)
        return dept.name if dept else "—"
    if schedule.scope == ReportScope.campaign and schedule.campaign_id is not None:
        campaign = await session.get(Campaign, schedule.campaign_id)
        return campaign.name if campaign else "—"
    return KIND_LABELS.get(locale, KIND_LABELS["zh-CN"])["company"]


async def build_snapshot(
    session: AsyncSession, schedule: ReportSchedule, cal: BusinessCalendar, period: Period, *, now: datetime
) -> dict[str, Any]:
    """The report as stored: title, scope, period, headline numbers and its sections."""
    scope = Scope(schedule.scope, schedule.department_id, schedule.campaign_id)
    labels = KIND_LABELS.get(schedule.locale, KIND_LABELS["zh-CN"])
    scope_name = await _scope_name(session, schedule, schedule.locale)
    if schedule.kind == ReportKind.daily_standup:
        body = {
            "standup": await build_standup(session, scope, cal, period, at=parse_send_at(schedule.send_at), now=now)
        }
        heads = headline(schedule.kind, body["standup"])
    else:
        body = await build_periodic(session, scope, Window.of(cal, period, now=now))
        heads = headline(schedule.kind, body)
    return {
        "title": f"{labels[schedule.kind.value]} {period.key} · {scope_name}",
        "kind": schedule.kind.value,
        "scope": {"scope": schedule.scope.value, "id": scope.department_id or scope.campaign_id, "name": scope_name},
        "period": {"key": period.key, "start": period.start.isoformat(), "end": period.end.isoformat()},
        "previous_period": period.previous().key,
        "generated_at": now.isoformat(),
        "timezone": cal.timezone,
        "locale": schedule.locale,
        "headline": heads,
        **body,
    }


async def produce(
    session: AsyncSession, schedule: ReportSchedule, period: Period, *, now: datetime, links: LinkSigner | None
) -> tuple[Report, bool]:
    """This period's report of the schedule, built, stored and sent once; (report, created)."""
    existing = await _existing(session, schedule.id, period.key)
    if existing is not None:
        return existing, False
    cal = await _calendar(session, schedule.calendar_id)
    snapshot = await build_snapshot(session, schedule, cal, period, now=now)
    table = cast(Table, Report.__table__)
    stmt = (
        insert(table)
        .values(
            schedule_id=schedule.id,
            kind=schedule.kind.value,
            scope=schedule.scope.value,
            department_id=schedule.department_id,
            campaign_id=schedule.campaign_id,
            period_key=period.key,
            period_start=period.start,
            period_end=period.end,
            produced_at=now,
            snapshot=snapshot,
        )
        .on_conflict_do_nothing(index_elements=[table.c.schedule_id, table.c.period_key])
        .returning(table.c.id)
    )
    report_id = (await session.execute(stmt)).scalar_one_or_none()
    if report_id is None:  # another worker (or a run) stored it a moment ago: it sent the card
        found = await _existing(session, schedule.id, period.key)
        assert found is not None
        return found, False
    if schedule.channel_ids:
        if links is None:
            raise ValueError("a report sent to chat needs a link signer")
        await _send_card(session, schedule, report_id, snapshot, now=now, links=links)
    report = await session.get(Report, report_id)
    assert report is not None
    return report, True


async def _existing(session: AsyncSession, schedule_id: int, period_key: str) -> Report | None:
    return cast(
        Report | None,
        await session.scalar(select(Report).where(Report.schedule_id == schedule_id, Report.period_key == period_key)),
    )


async def _send_card(
    session: AsyncSession,
    schedule: ReportSchedule,
    report_id: int,
    snapshot: dict[str, Any],
    *,
    now: datetime,
    links: LinkSigner,
) -> list[int]:
    payload = {
        "subject": {"type": REPORT, "id": report_id, "title": snapshot["title"], "path": links.path(report_id, now)},
        "report": {
            "kind": schedule.kind.value,
            "period": snapshot["period"]["key"],
            "scope": snapshot["scope"]["name"],
        },
        "headline": snapshot["headline"],
        "locale": schedule.locale,
    }
    items = [
        OutboxItem(
            dedupe_key=f"report:{report_id}:ch{channel_id}",
            event_type=READY,
            subject_type=REPORT,
            subject_id=report_id,
            channel_id=channel_id,
            payload=payload,
        )
        for channel_id in schedule.channel_ids
    ]
    return await add_to_outbox(session, items, now=now)


async def run_now(
    session: AsyncSession, *, schedule_id: int, now: datetime, links: LinkSigner | None
) -> tuple[Report, bool]:
    """Produce the schedule's current period now (the period containing today); idempotent by the
    same key the worker uses, so the worker will not send it again."""
    schedule = await crud.get_or_404(session, ReportSchedule, schedule_id)
    if schedule.campaign_id is not None:  # an archived campaign's report would be about nothing on the boards
        archive.require_live(await crud.get_or_404(session, Campaign, schedule.campaign_id), CampaignItem.campaign)
    cal = await _calendar(session, schedule.calendar_id)
    return await produce(session, schedule, period_of(schedule.kind, cal.local_date(now)), now=now, links=links)


@dataclass(frozen=True)
class Due:
    schedule: ReportSchedule
    period: Period


async def due_reports(session: AsyncSession, *, now: datetime) -> list[Due]:
    """Enabled schedules whose latest due period (sent at or after `active_from`, not stale) has
    no report yet: one query for the schedules, one for the reports they already have. A
    campaign's schedule waits while the campaign is archived (restored, it goes on)."""
    archived = select(Campaign.id).where(Campaign.archived_at.is_not(None))
    schedules = list(
        await session.scalars(
            select(ReportSchedule)
            .where(
                ReportSchedule.enabled.is_(True),
                or_(ReportSchedule.campaign_id.is_(None), ReportSchedule.campaign_id.not_in(archived)),
            )
            .order_by(ReportSchedule.id)
        )
    )
    cals = await load_calendars(session, {s.calendar_id for s in schedules})
    candidates: list[Due] = []
    for s in schedules:
        cal = cals.get(s.calendar_id, cals[None])
        found = latest_due(cal, s.kind, parse_send_at(s.send_at), now)
        if found is None:
            continue
        period, instant = found
        if instant < s.active_from or is_stale(cal, period, now):
            continue
        candidates.append(Due(s, period))
    if not candidates:
        return []
    done = set(
        (
            await session.execute(
                select(Report.schedule_id, Report.period_key).where(
                    tuple_(Report.schedule_id, Report.period_key).in_(
                        [(d.schedule.id, d.period.key) for d in candidates]
                    )
                )
            )
        ).all()
    )
    return [d for d in candidates if (d.schedule.id, d.period.key) not in done]


async def produce_due_reports(
    session: AsyncSession, *, now: datetime, links: LinkSigner, batch_size: int = 20
) -> list[int]:
    """The worker's step: every due report built, stored and its card written to the outbox.
    Returns the channel ids that got a card (to ring after the commit)."""
    channel_ids: list[int] = []
    for due in (await due_reports(session, now=now))[:batch_size]:
        _, created = await produce(session, due.schedule, due.period, now=now, links=links)
        if created:
            channel_ids.extend(due.schedule.channel_ids)
    return channel_ids
