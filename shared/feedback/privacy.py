"""The customer's personal data in feedback (PIPL): the name and contact are read raw only by those
who handle the item — its department, its owner, managers and above — and masked for everyone
else; chat titles and the audit log never hold them raw (`shared.feedback.sla`,
`shared.audit.service.PERSONAL_COLUMNS`); settled feedback past its retention is anonymised."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import audit
from shared.actor import Actor
from shared.feedback.schemas import FeedbackRead
from shared.feedback.sla import FeedbackSubject
from shared.models import Feedback, FeedbackStatus, Role
from shared.redact import mask_contact, mask_name, scrub_contacts

F = TypeVar("F", bound=FeedbackRead)

# Settled: nobody is waiting on the customer any more, so retention runs from then.
SETTLED = (FeedbackStatus.resolved, FeedbackStatus.closed)
# Free text the customer (or the answer to them) may have put a phone number or email into.
FREE_TEXT = ("content", "first_response")


def may_read_customer(actor: Actor, *, owner_id: int | None, department_id: int | None) -> bool:
    """Managers and above, the item's owner, and members of its department read the customer raw
    (the reader's department comes with the actor: `authenticate` reads it with the token)."""
    if actor.at_least(Role.manager):
        return True
    if actor.user_id is not None and actor.user_id == owner_id:
        return True
    return actor.department_id is not None and actor.department_id == department_id


async def readable_clause(session: AsyncSession, actor: Actor) -> ColumnElement[bool] | None:
    """`may_read_customer` as SQL over `feedback` (None: every row, for managers and above)."""
    if actor.at_least(Role.manager):
        return None
    dept = actor.department_id
    return or_(
        Feedback.owner_id == actor.user_id if actor.user_id is not None else false(),
        Feedback.department_id == dept if dept is not None else false(),
    )


async def shown_to(session: AsyncSession, actor: Actor, items: list[F]) -> list[F]:
    """The items as `actor` may read them: the customer's name and contact masked unless
    `may_read_customer`."""
    if actor.at_least(Role.manager) or not items:
        return items
    out = []
    for item in items:
        if may_read_customer(actor, owner_id=item.owner_id, department_id=item.department_id):
            out.append(item)
            continue
        out.append(
            item.model_copy(
                update={
                    "customer_name": mask_name(item.customer_name) if item.customer_name else item.customer_name,
                    "customer_contact": (
                        mask_contact(item.customer_contact) if item.customer_contact else item.customer_contact
                    ),
                }
            )
        )
    return out


@dataclass(frozen=True)
class Anonymised:
    """One item the purge anonymised (or, in a dry run, would)."""

    feedback_id: int
    kind: str
    status: str
    settled_on: datetime
    cleared: tuple[str, ...]  # the fields that held customer data


async def purge(
    session: AsyncSession, *, actor: Actor, now: datetime, retention_days: int, dry_run: bool = False
) -> list[Anonymised]:
    """Anonymise settled (resolved or closed) feedback settled more than `retention_days` ago:
    the customer's name and contact cleared, contact-like strings in its texts masked, the item
    marked `anonymised_at` (so a second run finds nothing) and each one audited as `anonymise`.
    `dry_run` says what it would do and writes nothing."""
    settled_on = func.coalesce(Feedback.resolved_at, Feedback.received_at)
    rows = await session.scalars(
        select(Feedback)
        .where(
            Feedback.status.in_(SETTLED),
            Feedback.anonymised_at.is_(None),
            settled_on < now - timedelta(days=retention_days),
        )
        .order_by(Feedback.id)
        .with_for_update(skip_locked=True)
    )
    done = []
    for item in rows:
        changes: dict[str, str | None] = {
            field: None for field in ("customer_name", "customer_contact") if getattr(item, field)
        }
        for field in FREE_TEXT:
            text = getattr(item, field)
            if text and scrub_contacts(text) != text:
                changes[field] = scrub_contacts(text)
        done.append(
            Anonymised(
                feedback_id=item.id,
                kind=item.kind.value,
                status=item.status.value,
                settled_on=item.resolved_at or item.received_at,
                cleared=tuple(changes),
            )
        )
        if dry_run:
            continue
        before = audit.snapshot(item)
        for field, value in changes.items():
            setattr(item, field, value)
        item.anonymised_at = now
        await session.flush()
        await audit.record(
            session,
            actor=actor,
            action="anonymise",
            entity_type=FeedbackSubject.feedback,
            entity_id=item.id,
            before=before,
            after=audit.snapshot(item),
        )
    return done
