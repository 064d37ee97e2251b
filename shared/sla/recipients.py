"""Who a level reaches, resolved at fire time; missing people fall back up the chain, and the
record says so — never silently dropped."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.org.roles import Anchor, RoleName, holder
from shared.sla.directory import Directory, Person
from shared.sla.levels import Level
from shared.sla.registry import SubjectContext


@dataclass
class Resolution:
    people: list[tuple[str, Person]] = field(default_factory=list)  # (as, person)
    only_channels: set[int] = field(default_factory=set)  # the level's `channels`: deliver only there
    extra_channels: set[int] = field(default_factory=set)  # `channel:<id>` recipients: a whole channel
    notes: list[str] = field(default_factory=list)
    via: dict[int, str] = field(default_factory=dict)  # person id -> fallback description

    def add(self, role: str, person: Person, via: str | None = None) -> None:
        if all(p.id != person.id for _, p in self.people):
            self.people.append((role, person))
            if via:
                self.via[person.id] = via

    def as_records(self) -> list[dict[str, Any]]:
        return [
            {"as": role, "user_id": p.id, "name": p.name, **({"via": self.via[p.id]} if p.id in self.via else {})}
            for role, p in self.people
        ] + [{"as": "channel", "channel_id": c} for c in sorted(self.extra_channels)]


def _fallback(d: Directory, ctx: SubjectContext, res: Resolution, role: str, why: str, assignee: Person | None) -> None:
    """Up the chain: department head, then the campaign owner; noted either way."""
    department_id = assignee.department_id if assignee and assignee.department_id else ctx.department_id
    head = d.department_head(department_id)
    if head is not None:
        res.add(role, head, via=f"department_head ({why})")
        res.notes.append(f"{role}: {why}; fell back to department head {head.name}")
        return
    campaign = d.campaign(ctx.campaign_id)
    owner = d.person(campaign[1]) if campaign else None
    if owner is not None:
        res.add(role, owner, via=f"campaign_owner ({why})")
        res.notes.append(f"{role}: {why}; no department head; fell back to campaign owner {owner.name}")
        return
    res.notes.append(f"{role}: {why}; no department head or campaign owner to fall back to")


def _why_missing(role: str, assignee: Person | None) -> str:
    if role.startswith("user:"):
        return "user missing or deactivated"
    if assignee is None and role in (RoleName.assignee, RoleName.assignee_manager):
        return "no assignee"
    reasons: dict[str, str] = {
        RoleName.assignee_manager: "no manager",
        RoleName.director: "no manager's manager",
        RoleName.campaign_owner: "no campaign owner",
    }
    return reasons.get(role, "nobody")


def resolve(level: Level, ctx: SubjectContext, d: Directory) -> Resolution:
    """Each recipient of the level as the person holding that role now (shared.org.roles), or a
    documented fallback up the chain."""
    res = Resolution(only_channels=set(level.channels))
    assignee = d.person(ctx.assignee_id)
    anchor = Anchor(
        person_id=assignee.id if assignee else None,
        department_id=assignee.department_id if assignee and assignee.department_id else ctx.department_id,
        campaign_id=ctx.campaign_id,
    )
    for recipient in level.recipients:
        if recipient.startswith("channel:"):
            res.extra_channels.add(int(recipient.split(":")[1]))
            continue
        person = d.person(holder(recipient, anchor, d))
        if person is not None:
            res.add(recipient, person)
        elif recipient == RoleName.department_head:
            # The head is the top of the chain already: only the campaign owner is left.
            owner = d.person(d.owner_of(ctx.campaign_id))
            if owner:
                res.add(recipient, owner, via="campaign_owner (no department head)")
                res.notes.append(f"department_head: none; fell back to campaign owner {owner.name}")
            else:
                res.notes.append("department_head: none, and no campaign owner to fall back to")
        else:
            _fallback(d, ctx, res, recipient, _why_missing(recipient, assignee), assignee)
    return res


def route(res: Resolution, d: Directory, department_id: int | None = None) -> dict[int, list[Person]]:
    """Channel id -> the people to mention there. A level's `channels` replace routing; otherwise
    each person reaches their department's channels plus the channels that serve every department,
    `channel:<id>` recipients add whole channels (mentioning everyone resolved), and the subject's
    own department and the channels serving every department hear it even when nobody could be
    resolved (an unassigned overdue task is still news to its team)."""
    out: dict[int, list[Person]] = {}
    people = [p for _, p in res.people]
    explicit = res.only_channels | res.extra_channels
    for channel_id in sorted(explicit):
        if channel_id in d.channels:
            out[channel_id] = list(people)
        else:
            res.notes.append(f"channel {channel_id} is missing or disabled")
    if not res.only_channels:
        for person in people:
            for channel_id in d.channels_for(person):
                bucket = out.setdefault(channel_id, [])
                if person not in bucket:
                    bucket.append(person)
        for channel_id in d.channels_for_department(department_id):
            out.setdefault(channel_id, [])
    if not out:
        res.notes.append("no enabled channel routes to these recipients")
    return out
