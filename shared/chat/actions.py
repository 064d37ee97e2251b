"""What a person can do from a chat card or command, vendor-neutral.

The transports (Feishu card callbacks, DingTalk @-commands) verify the request the vendor's way,
turn it into a `ChatAction` and call `perform`; they render the `Outcome` back natively (a toast
plus the card updated in place on Feishu, a reply in the group on DingTalk). Buttons carry
`Button.value` (a small JSON object) and come back as it: `ChatAction.from_value` reads it.

CONTRACT (session 20): the signatures below are fixed; the bodies are filled in by the chat-core
work. Transports depend only on these names.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import Clock


class Verb(enum.StrEnum):
    acknowledge = "acknowledge"  # 认领: stops the repeat reminders of that level, says who took it
    done = "done"  # 完成: meets the item (task, collaboration occurrence, rectification item)
    extend = "extend"  # 申请延期: an extension request → an approval of kind `extension`
    approve = "approve"  # 同意 an approval (four-eyes rules as in the API)
    reject = "reject"  # 驳回 an approval, with a reason
    review_approve = "review_approve"  # a reviewer's answers
    review_changes = "review_changes"
    review_reject = "review_reject"


class Source(enum.StrEnum):
    """Where an action came from: recorded in the audit log and shown in the trail."""

    feishu = "feishu"
    dingtalk = "dingtalk"
    wecom = "wecom"


@dataclass(frozen=True)
class Target:
    """What the action is about: a subject type of the registry (`task`, `review_request`, …) or
    `approval`, with its id; `timer_id`/`level` name the alert a card came from (acknowledge)."""

    type: str
    id: int
    timer_id: int | None = None
    level: str | None = None


@dataclass(frozen=True)
class ChatAction:
    verb: Verb
    target: Target
    source: Source
    chat_user_id: str  # feishu open_id / dingtalk userId / wecom userid of the person acting
    reason: str | None = None  # typed in the card's input or after the command
    extend_to: datetime | None = None  # extension: a new due moment …
    extend_by: str | None = None  # … or a working-time amount ("2d", "4h")
    event_id: str | None = None  # the vendor's event id (replays are deduplicated on it)

    @classmethod
    def from_value(
        cls,
        value: dict[str, Any],
        *,
        source: Source,
        chat_user_id: str,
        reason: str | None = None,
        event_id: str | None = None,
    ) -> ChatAction:
        """The action a button's `value` (see `Button.value`) stands for; ValueError if it is not one."""
        raise NotImplementedError


@dataclass(frozen=True)
class Button:
    label: str  # localized, e.g. 认领 / Acknowledge
    verb: Verb | None = None  # None: a link button
    url: str | None = None  # link buttons only
    value: dict[str, Any] = field(default_factory=dict)  # what comes back on the click
    needs_reason: bool = False  # reject / request changes / extension: the card shows an input
    style: str = "default"  # default | primary | danger


@dataclass(frozen=True)
class CardView:
    """A card's state after an action, rendered natively by the transport: the original message's
    title and lines, a line saying who did what and when, and the buttons still valid."""

    title: str
    severity: str  # info | warning | critical (the header colour)
    lines: list[str]
    buttons: list[Button]


@dataclass(frozen=True)
class Outcome:
    ok: bool  # the action was taken now
    message: str  # the toast (Feishu) or the reply (DingTalk): what happened, or why nothing did
    card: CardView | None = None  # the card updated in place (None: leave it as it is)
    stale: bool = False  # the action had already been taken (by whom, when: in `message`)
    unknown_user: bool = False  # the chat user is linked to nobody: `message` says how to link


async def perform(session: AsyncSession, clock: Clock, action: ChatAction) -> Outcome:
    """Identify the person by their chat id, apply the same permission checks as the API, take the
    action (audited with `action.source`), and say what happened. Commits nothing: the caller's
    transaction does. Never raises for a refusal (permission, stale card, bad input): the Outcome
    says why. Replays (same `event_id`) are the transport's to deduplicate."""
    raise NotImplementedError


def buttons_for(event_type: str, payload: dict[str, Any], *, locale: str | None) -> list[Button]:
    """The buttons an outbox message of `event_type` carries on a vendor that can call back
    (an SLA alert: acknowledge, done where the type allows it, extend, and a link; a waiting
    approval: approve / reject; a review request: approve / request changes / reject)."""
    raise NotImplementedError


@dataclass(frozen=True)
class Command:
    """A DingTalk/WeCom text command: `完成 T123`, `延期 T123 2d 素材未到`, `认领 T123`, `同意 A45 理由`."""

    verb: Verb
    target: Target
    reason: str | None = None
    extend_by: str | None = None
    extend_to: datetime | None = None


class CommandError(ValueError):
    """The text is not a command: the message (localized) says what the bot understands."""


def parse_command(text: str) -> Command:
    """Parse the text after the bot's @-mention. Raises CommandError with a help text."""
    raise NotImplementedError
