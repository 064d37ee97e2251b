"""Resolution: a met timer stops, and everyone its levels reached hears it is resolved — in the
same transaction as the change that met it. Also the one shape of an SLA event's payload."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import Escalation, EscalationKind, Notification, SlaTimer, TimerState
from shared.notify.outbox import OutboxItem, add_to_outbox
from shared.sla.directory import Directory, Person
from shared.sla.levels import Due, PastWhenSet
from shared.sla.registry import SubjectContext
from shared.sla.timers import end_pause


class EventPayloads:
    """Builds the SLA events of one sweep batch (or one resolved notice). What the batch's events
    share is made once, not per event: the `fired_at` text, each person's mention, each campaign,
    each subject and each channel's mention list (bench/sweep.py profile: building every payload
    from scratch was a fifth of the sweep's time). The parts are shared between payloads, which are
    only ever serialised, never changed."""

    def __init__(self, d: Directory, now: datetime) -> None:
        self.d = d
        self.now = now
        self._fired_at = now.isoformat()
        self._mentions: dict[int, dict[str, Any]] = {}
        self._campaigns: dict[int | None, dict[str, Any] | None] = {}
        self._subjects: dict[tuple[str, int], dict[str, Any]] = {}
        # Timers of one batch share their instants (a policy's deadlines at 17:00, one start time):
        # each instant's text is made once. Keyed with the zone too: equal instants in two zones
        # read differently.
        self._texts: dict[tuple[datetime, tzinfo | None], str] = {}
        self._targets: dict[tuple[str, str], dict[str, Any]] = {}

    def _text(self, at: datetime) -> str:
        key = (at, at.tzinfo)
        found = self._texts.get(key)
        if found is None:
            found = self._texts[key] = at.isoformat()
        return found

    def _target(self, kind: str, value: str) -> dict[str, Any]:
        found = self._targets.get((kind, value))
        if found is None:
            found = self._targets[(kind, value)] = {"kind": kind, "value": value}
        return found

    def mention(self, person: Person) -> dict[str, Any]:
        found = self._mentions.get(person.id)
        if found is None:
            found = self._mentions[person.id] = person.mention()
        return found

    def mentions(self, people: list[Person]) -> list[dict[str, Any]]:
        return [self.mention(p) for p in people]

    def _campaign(self, campaign_id: int | None) -> dict[str, Any] | None:
        if campaign_id not in self._campaigns:
            campaign = self.d.campaign(campaign_id)
            self._campaigns[campaign_id] = {"id": campaign_id, "name": campaign[0]} if campaign else None
        return self._campaigns[campaign_id]

    def _subject(self, ctx: SubjectContext) -> dict[str, Any]:
        found = self._subjects.get((ctx.type, ctx.id))
        if found is None:
            found = self._subjects[(ctx.type, ctx.id)] = ctx.as_payload()
        return found

    def build(
        self,
        *,
        ctx: SubjectContext,
        timer: Any,
        kind: EscalationKind,
        due: Due | None,
        people: list[Person],
        records: list[dict[str, Any]],
        notes: list[str],
        mentions: list[dict[str, Any]] | None = None,  # `people`'s mentions, when the caller has them
    ) -> dict[str, Any]:
        """The one shape of an SLA event (docs/webhooks.md)."""
        now = self.now
        assignee = self.d.person(ctx.assignee_id)
        locale = (people[0].locale if people else None) or (assignee.locale if assignee else None)
        return {
            "kind": kind.value,
            "subject": self._subject(ctx),
            "timer": {
                "id": timer.id,
                "policy_id": timer.policy_id,
                "started_at": self._text(timer.started_at),
                "due_at": self._text(timer.due_at),
                "target": self._target(timer.target_kind, timer.target_value),
            },
            "level": due.level if due else -1,
            "repeat": due.repeat if due else 0,
            "scheduled_at": self._text((due.at if due else now).astimezone(UTC)),
            "fired_at": self._fired_at,
            "late_by_s": round(due.late_by_s(set_at=timer.created_at, now=now), 3) if due else 0.0,
            "past_when_set": _past_when_set(timer, due),
            "assignee": self.mention(assignee) if assignee else None,
            "campaign": self._campaign(ctx.campaign_id),
            "mentions": self.mentions(people) if mentions is None else mentions,
            "recipients": records,
            "notes": notes,
            "locale": locale,
        }


def _past_when_set(timer: Any, due: Due | None) -> str | None:
    """`created` or `rescheduled` when the level's moment had already passed as its timer was set
    (a re-armed timer keeps the episode's start, so it started before it was set)."""
    if due is None or not due.passed_before(timer.created_at):
        return None
    return PastWhenSet.rescheduled if timer.started_at < timer.created_at else PastWhenSet.created


async def meet(session: AsyncSession, timer: SlaTimer, *, now: datetime, ctx: SubjectContext) -> None:
    """Stop the clock as met; if any level had fired, tell the same audience it is resolved."""
    end_pause(timer, now)
    timer.state = TimerState.met
    timer.met_at = now
    timer.next_fire_at = None
    # The audience is everyone this episode reached: this timer and the ones it superseded when
    # the deadline moved (same subject and policy, same start).
    episode = select(SlaTimer.id).where(
        SlaTimer.subject_type == timer.subject_type,
        SlaTimer.subject_id == timer.subject_id,
        SlaTimer.policy_id == timer.policy_id,
        SlaTimer.started_at == timer.started_at,
    )
    fired = list(
        await session.scalars(
            select(Escalation).where(
                Escalation.timer_id.in_(episode), Escalation.suppressed.is_(False), Escalation.level >= 0
            )
        )
    )
    if not fired:
        return
    timer_ids = sorted({e.timer_id for e in fired})
    channel_ids = list(
        await session.scalars(
            select(Notification.channel_id)
            .distinct()
            .where(or_(*(Notification.dedupe_key.like(f"sla:{tid}:%") for tid in timer_ids)))
        )
    )
    d = Directory(session)
    await d.load_static()
    people_ids = {r["user_id"] for e in fired for r in e.recipients if "user_id" in r}
    await d.prefetch_chain([ctx.assignee_id, *people_ids], [ctx.campaign_id])
    people = [p for p in (d.person(i) for i in sorted(people_ids)) if p]
    records = [{"as": "previously_notified", "user_id": p.id, "name": p.name} for p in people]
    inserted = await session.scalar(
        insert(Escalation)
        .on_conflict_do_nothing(index_elements=["timer_id", "level", "repeat"])
        .values(
            timer_id=timer.id,
            subject_type=timer.subject_type,
            subject_id=timer.subject_id,
            level=-1,
            repeat=0,
            kind=EscalationKind.resolved,
            scheduled_at=now,
            fired_at=now,
            late_by_s=0.0,
            recipients=records,
            notes=[],
            suppressed=False,
            notification_count=len(channel_ids),
        )
        .returning(Escalation.id)
    )
    if inserted is None:
        return
    payload = EventPayloads(d, now).build(
        ctx=ctx, timer=timer, kind=EscalationKind.resolved, due=None, people=people, records=records, notes=[]
    )
    await add_to_outbox(
        session,
        [
            OutboxItem(
                dedupe_key=f"sla:{timer.id}:resolved:ch{c}",
                event_type="sla.resolved",
                subject_type=timer.subject_type,
                subject_id=timer.subject_id,
                channel_id=c,
                payload=payload,
            )
            for c in channel_ids
            if c in d.channels
        ],
        now=now,
    )
