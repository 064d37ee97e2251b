"""Who a level reaches, resolved at fire time; missing people fall back up the chain, and the
record says so — never silently dropped."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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


def resolve(level: Level, ctx: SubjectContext, d: Directory) -> Resolution:
    res = Resolution(only_channels=set(level.channels))
    assignee = d.person(ctx.assignee_id)
    for recipient in level.recipients:
        if recipient.startswith("channel:"):
            res.extra_channels.add(int(recipient.split(":")[1]))
        elif recipient.startswith("user:"):
            user = d.person(int(recipient.split(":")[1]))
            if user:
                res.add(recipient, user)
            else:
                _fallback(d, ctx, res, recipient, "user missing or deactivated", assignee)
        elif recipient == "assignee":
            if assignee:
                res.add("assignee", assignee)
            else:
                _fallback(d, ctx, res, "assignee", "no assignee", assignee)
        elif recipient == "assignee_manager":
            manager = d.person(assignee.manager_id) if assignee else None
            if manager:
                res.add("assignee_manager", manager)
            else:
                _fallback(d, ctx, res, "assignee_manager", "no manager" if assignee else "no assignee", assignee)
        elif recipient == "director":
            manager = d.person(assignee.manager_id) if assignee else None
            director = d.person(manager.manager_id) if manager else None
            if director:
                res.add("director", director)
            else:
                _fallback(d, ctx, res, "director", "no manager's manager", assignee)
        elif recipient == "department_head":
            department_id = assignee.department_id if assignee and assignee.department_id else ctx.department_id
            head = d.department_head(department_id)
            if head:
                res.add("department_head", head)
            else:
                campaign = d.campaign(ctx.campaign_id)
                owner = d.person(campaign[1]) if campaign else None
                if owner:
                    res.add("department_head", owner, via="campaign_owner (no department head)")
                    res.notes.append(f"department_head: none; fell back to campaign owner {owner.name}")
                else:
                    res.notes.append("department_head: none, and no campaign owner to fall back to")
        elif recipient == "campaign_owner":
            campaign = d.campaign(ctx.campaign_id)
            owner = d.person(campaign[1]) if campaign else None
            if owner:
                res.add("campaign_owner", owner)
            else:
                _fallback(d, ctx, res, "campaign_owner", "no campaign owner", assignee)
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
