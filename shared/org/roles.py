"""Role names that stand for a person, resolved when they are needed — one resolver for escalation
recipients (`assignee_manager`, `director` …) and approval chains (`requester_manager`,
`department:<id>` …), so a role means the same person wherever it is named.

Resolution is relative to an *anchor*: the person the item is about (a timed item's assignee, an
approval's requester), the department whose head counts, and the campaign whose owner counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class RoleName(StrEnum):
    assignee = "assignee"  # the anchor person themself
    assignee_manager = "assignee_manager"  # the anchor's manager
    requester_manager = "requester_manager"  # the same, where the anchor is a requester
    director = "director"  # the anchor's manager's manager
    department_head = "department_head"  # the head of the anchor's department
    campaign_owner = "campaign_owner"  # the owner of the anchor's campaign


# A named person or department (whose head is meant): `user:7`, `department:3`.
PERSON_REF = re.compile(r"^(user|department):(\d+)$")


class UnknownRole(ValueError):
    pass


class Holders(Protocol):
    """Who holds what: ids, or None where nobody does (or nobody active, as the caller decides)."""

    def manager_of(self, user_id: int | None) -> int | None: ...

    def head_of(self, department_id: int | None) -> int | None: ...

    def owner_of(self, campaign_id: int | None) -> int | None: ...


@dataclass(frozen=True)
class Anchor:
    person_id: int | None
    department_id: int | None
    campaign_id: int | None


def holder(role: str, anchor: Anchor, holders: Holders) -> int | None:
    """The id of whoever holds `role` relative to `anchor`, or None when nobody does."""
    if role == RoleName.assignee:
        return anchor.person_id
    if role in (RoleName.assignee_manager, RoleName.requester_manager):
        return holders.manager_of(anchor.person_id)
    if role == RoleName.director:
        return holders.manager_of(holders.manager_of(anchor.person_id))
    if role == RoleName.department_head:
        return holders.head_of(anchor.department_id)
    if role == RoleName.campaign_owner:
        return holders.owner_of(anchor.campaign_id)
    if (m := PERSON_REF.match(role)) is not None:
        return int(m.group(2)) if m.group(1) == "user" else holders.head_of(int(m.group(2)))
    raise UnknownRole(role)
