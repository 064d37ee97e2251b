"""What a person can do from a chat card or command, vendor-neutral.

The transports (Feishu card callbacks, DingTalk @-commands) verify the request the vendor's way,
turn it into a `ChatAction` and call `perform`; they render the `Outcome` back natively (a toast
plus the card updated in place on Feishu, a reply in the group on DingTalk). Buttons carry
`Button.value` (a small JSON object) and come back as it: `ChatAction.from_value` reads it.

CONTRACT (session 20): the signatures below are fixed. Transports depend only on these names.

`perform` acts as the person the chat id is linked to (`users.feishu_open_id` / `dingtalk_user_id`
/ `wecom_user_id`), with the same permission checks and domain functions as the API routes, inside a
savepoint: a refusal leaves nothing half-written and comes back as an `Outcome`, never an exception.
Each change is audited with the chat as its `source`, so the item's trail says where it came from.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import subjects  # noqa: F401 — every subject type and its completion are registered
from shared.access import policy
from shared.access.subjects import item_of
from shared.actor import Actor
from shared.approvals import service as approvals
from shared.approvals.schemas import ApprovalDecision, Verdict
from shared.approvals.sla import ApprovalSubject
from shared.clock import Clock
from shared.collaboration.sla import CollaborationSubject
from shared.errors import AppError, Conflict, Forbidden, InvalidInput, NotFound
from shared.models import (
    Approval,
    ApprovalAssignment,
    ApprovalStatus,
    AssignmentStatus,
    Notification,
    ResponseStatus,
    ReviewDecision,
    ReviewRequest,
    ReviewResponse,
    ReviewStatus,
    SlaTimer,
    User,
)
from shared.notify.render import render_safely
from shared.notify.work import WorkEvent
from shared.pages.links import PageLinks
from shared.rectifications.sla import RectificationSubject
from shared.reviews import service as reviews
from shared.reviews.schemas import ReviewAnswer
from shared.reviews.sla import ReviewSubject
from shared.sla import acknowledgements as acks
from shared.sla import registry
from shared.sla.directory import load_calendars
from shared.tasks.sla import TaskSubject


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


# The user column holding each chat's id of a person.
CHAT_ID_COLUMNS = {
    Source.feishu: User.feishu_open_id,
    Source.dingtalk: User.dingtalk_user_id,
    Source.wecom: User.wecom_user_id,
}
CHAT_ID_FIELDS = {source: column.key for source, column in CHAT_ID_COLUMNS.items()}


@dataclass(frozen=True)
class Target:
    """What the action is about: a subject type of the registry (`task`, `review_request`, …) or
    `approval`, with its id; `timer_id`/`level` name the alert a card came from (acknowledge)."""

    type: str
    id: int
    timer_id: int | None = None
    level: str | None = None  # the level's index as text ("0", "1" …)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{name} must be a whole number")
    if isinstance(value, str):
        if not value.isascii() or not value.isdigit() or len(value) > 18:
            raise ValueError(f"{name} must be a whole number")
        value = int(value)
    if not 0 <= value < 2**63:
        raise ValueError(f"{name} is out of range")
    return value


def _known_type(name: Any) -> str:
    """A subject type or trail item the chat can act on (values come from outside: checked)."""
    if not isinstance(name, str) or (registry.find(name) is None and name not in registry.trail_item_names()):
        raise ValueError(f"unknown item type {name!r}")
    return name if registry.find(name) is not None else registry.trail_item(name).name


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


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
        """The action a button's `value` (see `Button.value`) stands for; ValueError if it is not one.
        For `extend`, the typed text may start with the amount or date (`2d 素材未到`)."""
        if not isinstance(value, dict):
            raise ValueError("a button value is an object")
        unknown = set(value) - {"v", "t", "id", "timer", "level"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}")
        if not isinstance(value.get("v"), str) or value["v"] not in Verb.__members__.values():
            raise ValueError(f"unknown verb {value.get('v')!r}")
        verb = Verb(value["v"])
        timer = value.get("timer")
        level = value.get("level")
        target = Target(
            type=_known_type(value.get("t")),
            id=_positive_int(value.get("id"), "id"),
            timer_id=_positive_int(timer, "timer") if timer is not None else None,
            level=str(_positive_int(level, "level")) if level is not None else None,
        )
        if not isinstance(chat_user_id, str) or not chat_user_id.strip():
            raise ValueError("the chat user id is missing")
        extend_to, extend_by, text = None, None, _text(reason)
        if verb == Verb.extend and text:
            extend_to, extend_by, text = extension_terms(text)
        return cls(verb, target, Source(source), chat_user_id.strip(), text, extend_to, extend_by, event_id)


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


# ---- words -----------------------------------------------------------------------------------------
DEFAULT_LOCALE = "zh-CN"
TEXTS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "verb.acknowledge": "认领",
        "verb.done": "完成",
        "verb.extend": "申请延期",
        "verb.approve": "同意",
        "verb.reject": "驳回",
        "verb.review_approve": "通过",
        "verb.review_changes": "要求修改",
        "verb.review_reject": "驳回",
        "verb.cancelled": "撤回",
        "open": "查看详情",
        "source.feishu": "飞书",
        "source.dingtalk": "钉钉",
        "source.wecom": "企业微信",
        "source.api": "API",
        "did": "✅ {who} 已{verb} · {at}{via}",
        "stale": "已由 {who} 于 {at} {verb}",
        "stale.nobody": "已于 {at} {verb}",
        "ok": "已{verb}：{item}",
        "ok.extend": "已提交延期申请（审批 #{id}），等待审批",
        "unknown_user": "你的{chat}账号（{id}）尚未关联 Closeloop 用户，本次未执行任何操作。"
        '请管理员设置：PATCH /api/v1/users/<你的用户 id>，{{"{field}": "{id}"}}。',
        "not_found": "找不到{item}，或你无权查看。",
        "forbidden": "无权操作：{detail}",
        "conflict": "未执行：{detail}",
        "invalid": "输入有误：{detail}",
        "cannot_complete": "{item}不能在聊天中完成，请在系统中处理。",
        "cannot": "{item}不能在聊天中{verb}。",
        "nothing_to_ack": "{item}目前没有需要认领的提醒。",
        "reason_required": "{verb}需要填写理由。",
        "extension_terms": "延期需要新的截止时间（如 2026-12-10）或工作时长（如 2d、4h），以及理由。",
        "not_asked": "你不是本轮的评审人。",
        "review_over": "评审已结束（{status}），无需再处理。",
        "timer_over": "{item}的提醒已结束，无需认领。",
        "item": "{label} #{id}",
        "review.approved": "已通过",
        "review.rejected": "已驳回",
        "review.changes_requested": "待修改后重新提交",
        "review.cancelled": "已撤回",
    },
    "en-US": {
        "verb.acknowledge": "acknowledged",
        "verb.done": "completed",
        "verb.extend": "asked for more time",
        "verb.approve": "approved",
        "verb.reject": "rejected",
        "verb.review_approve": "approved",
        "verb.review_changes": "requested changes",
        "verb.review_reject": "rejected",
        "verb.cancelled": "withdrawn",
        "open": "Open",
        "source.feishu": "Feishu",
        "source.dingtalk": "DingTalk",
        "source.wecom": "WeCom",
        "source.api": "API",
        "did": "✅ {who} {verb} · {at}{via}",
        "stale": "Already {verb} by {who} at {at}",
        "stale.nobody": "Already {verb} at {at}",
        "ok": "Done: {item} {verb}",
        "ok.extend": "Extension requested (approval #{id}), waiting for approval",
        "unknown_user": "Your {chat} account ({id}) is not linked to a Closeloop user, so nothing was done. "
        'Ask an admin to set it: PATCH /api/v1/users/<your user id> with {{"{field}": "{id}"}}.',
        "not_found": "{item} was not found, or you may not see it.",
        "forbidden": "Not allowed: {detail}",
        "conflict": "Nothing done: {detail}",
        "invalid": "Invalid input: {detail}",
        "cannot_complete": "{item} cannot be completed from the chat; please use Closeloop.",
        "cannot": "{item}: cannot be {verb} from the chat.",
        "nothing_to_ack": "{item} has no alert to acknowledge.",
        "reason_required": "Please give a reason to {verb_base}.",
        "extension_terms": "An extension needs a new due date (e.g. 2026-12-10) or a working-time amount "
        "(e.g. 2d, 4h), and a reason.",
        "not_asked": "You are not a reviewer in this round.",
        "review_over": "The review is over ({status}); nothing to do.",
        "timer_over": "The alerts of {item} are over; nothing to acknowledge.",
        "item": "{label} #{id}",
        "review.approved": "approved",
        "review.rejected": "rejected",
        "review.changes_requested": "changes requested, waiting for a new round",
        "review.cancelled": "withdrawn",
    },
}
# Button labels (the imperative), per verb.
LABELS: dict[str, dict[Verb, str]] = {
    "zh-CN": {
        Verb.acknowledge: "认领",
        Verb.done: "完成",
        Verb.extend: "申请延期",
        Verb.approve: "同意",
        Verb.reject: "驳回",
        Verb.review_approve: "通过",
        Verb.review_changes: "需修改",
        Verb.review_reject: "驳回",
    },
    "en-US": {
        Verb.acknowledge: "Acknowledge",
        Verb.done: "Done",
        Verb.extend: "Ask for more time",
        Verb.approve: "Approve",
        Verb.reject: "Reject",
        Verb.review_approve: "Approve",
        Verb.review_changes: "Request changes",
        Verb.review_reject: "Reject",
    },
}


def _texts(locale: str | None) -> dict[str, str]:
    return TEXTS.get(locale or DEFAULT_LOCALE, TEXTS[DEFAULT_LOCALE])


def _loc(locale: str | None) -> str:
    return locale if locale in TEXTS else DEFAULT_LOCALE


# ---- buttons ---------------------------------------------------------------------------------------
SLA_ALERTS = frozenset({"sla.warning", "sla.breach", "sla.escalation"})


def _button(verb: Verb, loc: str, value: dict[str, Any], **kw: Any) -> Button:
    return Button(label=LABELS[loc][verb], verb=verb, value={"v": verb.value, **value}, **kw)


def _link(subject: dict[str, Any], loc: str, url: str | None = None) -> list[Button]:
    url = url or subject.get("page_url") or subject.get("url")
    return [Button(label=TEXTS[loc]["open"], url=url)] if url else []


def alert_buttons(
    subject_type: str, subject_id: int, *, timer_id: int | None, level: int | None, loc: str, acked: bool = False
) -> list[Button]:
    """An SLA alert's action buttons: acknowledge (until someone did), done where the type can be
    completed from the chat, ask for more time."""
    value: dict[str, Any] = {"t": subject_type, "id": subject_id}
    out = []
    if not acked and timer_id is not None and level is not None:
        out.append(_button(Verb.acknowledge, loc, value | {"timer": timer_id, "level": level}, style="primary"))
    if registry.completion(subject_type) is not None:
        out.append(_button(Verb.done, loc, value))
    out.append(_button(Verb.extend, loc, value, needs_reason=True))
    return out


def buttons_for(event_type: str, payload: dict[str, Any], *, locale: str | None) -> list[Button]:
    """The buttons an outbox message of `event_type` carries on a vendor that can call back
    (an SLA alert: acknowledge, done where the type allows it, extend, and a link; a waiting
    approval: approve / reject; a review request: approve / request changes / reject)."""
    loc = _loc(locale)
    subject = payload.get("subject")
    if not isinstance(subject, dict) or registry.find(str(subject.get("type"))) is None:
        return []
    value = {"t": subject["type"], "id": subject["id"]}
    if event_type in SLA_ALERTS:
        timer = payload.get("timer") or {}
        actions = alert_buttons(
            subject["type"], subject["id"], timer_id=timer.get("id"), level=payload.get("level"), loc=loc
        )
    elif event_type == WorkEvent.approval_waiting:
        actions = [
            _button(Verb.approve, loc, value, style="primary"),
            _button(Verb.reject, loc, value, needs_reason=True, style="danger"),
        ]
    elif event_type == WorkEvent.review_requested:
        actions = [
            _button(Verb.review_approve, loc, value, style="primary"),
            _button(Verb.review_changes, loc, value, needs_reason=True),
            _button(Verb.review_reject, loc, value, needs_reason=True, style="danger"),
        ]
    else:
        actions = []
    return actions + _link(subject, loc)


# ---- performing ------------------------------------------------------------------------------------
@dataclass
class _Ctx:
    session: AsyncSession
    clock: Clock
    now: datetime
    actor: Actor
    user: User
    loc: str
    tz: ZoneInfo
    action: ChatAction
    links: PageLinks | None

    @property
    def t(self) -> dict[str, str]:
        return TEXTS[self.loc]

    def when(self, at: datetime | None) -> str:
        return at.astimezone(self.tz).strftime("%m-%d %H:%M") if at is not None else "—"

    def item(self, subject_type: str, subject_id: int) -> str:
        """`任务 #5`: the type's label and the id — never the title (it may not be theirs to see)."""
        if subject_type == ApprovalSubject.approval:
            subject_type = ApprovalSubject.assignment  # labelled 审批 / Approval
        spec = registry.find(subject_type)
        return self.t["item"].format(label=spec.label(self.loc) if spec else subject_type, id=subject_id)

    def did_line(self, verb: Verb) -> str:
        via = f" ({self.t['source.' + self.action.source.value]})"
        return self.t["did"].format(
            who=self.user.name, verb=self.t[f"verb.{verb.value}"], at=self.when(self.now), via=via
        )

    async def stale(self, verb: str, by: int | None, at: datetime | None, card: CardView | None = None) -> Outcome:
        name = await self.session.scalar(select(User.name).where(User.id == by)) if by is not None else None
        words = self.t[f"verb.{verb}"]
        message = (
            self.t["stale"].format(who=name, at=self.when(at), verb=words)
            if name
            else self.t["stale.nobody"].format(at=self.when(at), verb=words)
        )
        return Outcome(ok=False, message=message, card=card, stale=True)

    def refuse(self, message: str) -> Outcome:
        return Outcome(ok=False, message=message)

    def link(self, subject_type: str, subject_id: int) -> str | None:
        if self.links is None or registry.find(subject_type) is None:
            return None
        return self.links.url(subject_type, subject_id, now=self.now)


async def _linked_user(session: AsyncSession, source: Source, chat_user_id: str) -> User | None:
    """The one active user whose id in this chat is `chat_user_id` (two would be ambiguous: none)."""
    column = CHAT_ID_COLUMNS[source]
    found = list(await session.scalars(select(User).where(column == chat_user_id, User.is_active.is_(True)).limit(2)))
    return found[0] if len(found) == 1 else None


def actor_for(user: User, source: Source) -> Actor:
    """The same actor the API builds for this user (their role, their department), acting from `source`."""
    return Actor.user(user.id, user.role, user.department_id, source=source.value)


async def identify(session: AsyncSession, source: Source, chat_user_id: str) -> Actor | None:
    """The actor a chat user id stands for, or None when it is linked to nobody (or to a deactivated user)."""
    user = await _linked_user(session, source, chat_user_id)
    return actor_for(user, source) if user is not None else None


def _unknown_user(action: ChatAction) -> Outcome:
    t = TEXTS[DEFAULT_LOCALE]
    en = TEXTS["en-US"]
    words = {"id": action.chat_user_id, "field": CHAT_ID_FIELDS[action.source]}
    message = (
        t["unknown_user"].format(chat=t[f"source.{action.source.value}"], **words)
        + "\n"
        + en["unknown_user"].format(chat=en[f"source.{action.source.value}"], **words)
    )
    return Outcome(ok=False, message=message, unknown_user=True)


async def _team_tz(session: AsyncSession) -> ZoneInfo:
    return (await load_calendars(session, ()))[None].tz


async def perform(
    session: AsyncSession, clock: Clock, action: ChatAction, *, links: PageLinks | None = None
) -> Outcome:
    """Identify the person by their chat id, apply the same permission checks as the API, take the
    action (audited with `action.source`), and say what happened. Commits nothing: the caller's
    transaction does. Never raises for a refusal (permission, stale card, bad input): the Outcome
    says why. Replays (same `event_id`) are the transport's to deduplicate. `links` (the
    deployment's `page_links`) gives the updated card its link button."""
    user = await _linked_user(session, action.source, action.chat_user_id)
    if user is None:
        return _unknown_user(action)
    ctx = _Ctx(
        session=session,
        clock=clock,
        now=clock.now(),
        actor=actor_for(user, action.source),
        user=user,
        loc=_loc(user.locale.value if user.locale else None),
        tz=await _team_tz(session),
        action=action,
        links=links,
    )
    handler = _HANDLERS[action.verb]
    try:
        async with session.begin_nested():  # a refusal half-way leaves nothing written
            return await handler(ctx, action.target)
    except NotFound:
        return ctx.refuse(ctx.t["not_found"].format(item=ctx.item(action.target.type, action.target.id)))
    except registry.UnknownSubjectType:
        return ctx.refuse(ctx.t["not_found"].format(item=ctx.item(action.target.type, action.target.id)))
    except Forbidden as exc:
        return ctx.refuse(ctx.t["forbidden"].format(detail=exc.detail))
    except Conflict as exc:
        return ctx.refuse(ctx.t["conflict"].format(detail=exc.detail))
    except InvalidInput as exc:
        return ctx.refuse(ctx.t["invalid"].format(detail=exc.detail))
    except AppError as exc:
        return ctx.refuse(exc.detail)
    except ValidationError as exc:
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return ctx.refuse(ctx.t["invalid"].format(detail=detail))


async def _require_subject(ctx: _Ctx, target: Target) -> tuple[str, int]:
    """The item a timed subject belongs to, checked as the API checks a write to it (404 unseen)."""
    if registry.find(target.type) is None:
        raise NotFound(f"{target.type} {target.id} does not exist")
    item = await item_of(ctx.session, target.type, target.id)
    if item is None:
        raise NotFound(f"{target.type} {target.id} does not exist")
    await policy.require_write(ctx.session, ctx.actor, *item)
    return item


# ---- cards -----------------------------------------------------------------------------------------
async def _original(ctx: _Ctx, subject_type: str, subject_id: int, *events: str, key: str | None = None) -> Any:
    """The newest notification of these events about the subject (the card being updated)."""
    stmt = select(Notification).where(
        Notification.subject_type == subject_type,
        Notification.subject_id == subject_id,
        Notification.event_type.in_(events),
    )
    if key is not None:
        stmt = stmt.where(Notification.dedupe_key.like(f"{key}%"))
    return (await ctx.session.scalars(stmt.order_by(Notification.id.desc()).limit(1))).first()


async def _card(
    ctx: _Ctx,
    subject_type: str,
    subject_id: int,
    events: tuple[str, ...],
    *,
    line: str,
    buttons: list[Button],
    key: str | None = None,
) -> CardView:
    """The card as it was sent (rendered again from its notification), a line saying what
    happened, and the buttons still valid (plus the link to the item)."""
    sent = await _original(ctx, subject_type, subject_id, *events, key=key)
    if sent is not None:
        message = render_safely(sent.event_type, sent.payload, locale=ctx.loc, tz=ctx.tz, sent_at=sent.created_at)
        title, severity = message.title, message.severity
        lines = [f"{k}: {v}" for k, v in message.fields] if message.fields else [message.body or ""]
    else:
        contexts = await registry.get(subject_type).load(ctx.session, [subject_id])
        found = contexts.get(subject_id)
        title = found.title if found is not None else ctx.item(subject_type, subject_id)
        severity, lines = "info", [ctx.item(subject_type, subject_id)]
    url = ctx.link(subject_type, subject_id)
    link = [Button(label=ctx.t["open"], url=url)] if url else []
    return CardView(title=title, severity=severity, lines=[*lines, line], buttons=[*buttons, *link])


# ---- acknowledge -----------------------------------------------------------------------------------
async def _level_to_acknowledge(ctx: _Ctx, target: Target) -> tuple[int, int] | Outcome:
    """The (timer, level) the card or command names, or the answer when there is none to take."""
    what = ctx.item(target.type, target.id)
    if target.timer_id is None:  # a command: the item's highest fired level nobody took yet
        wanted = await acks.open_level(ctx.session, target.type, target.id)
        if wanted is not None:
            return wanted
        last = await acks.latest(ctx.session, target.type, target.id)
        if last is not None:
            return await ctx.stale(Verb.acknowledge, last.user_id, last.at)
        return ctx.refuse(ctx.t["nothing_to_ack"].format(item=what))
    timer = await ctx.session.get(SlaTimer, target.timer_id)
    if timer is None or (timer.subject_type, timer.subject_id) != (target.type, target.id):
        raise NotFound(f"timer {target.timer_id} does not exist")
    if target.level is not None:
        level = int(target.level)
    elif left := acks.fired_levels(timer) - set(timer.acked_levels or ()):
        level = max(left)
    else:
        return ctx.refuse(ctx.t["nothing_to_ack"].format(item=what))
    if timer.state not in acks.OPEN_STATES:
        found = await acks.find(ctx.session, timer.id, level)
        if found is not None:
            return await ctx.stale(Verb.acknowledge, found.user_id, found.at)
        return ctx.refuse(ctx.t["timer_over"].format(item=what))
    return timer.id, level


async def _acknowledge(ctx: _Ctx, target: Target) -> Outcome:
    item = await _require_subject(ctx, target)
    what = ctx.item(target.type, target.id)
    wanted = await _level_to_acknowledge(ctx, target)
    if isinstance(wanted, Outcome):
        return wanted
    timer_id, level = wanted
    ack, new = await acks.acknowledge(
        ctx.session,
        actor=ctx.actor,
        timer_id=timer_id,
        level=level,
        source=ctx.action.source.value,
        now=ctx.now,
        entity=item,
    )
    buttons = alert_buttons(target.type, target.id, timer_id=timer_id, level=level, loc=ctx.loc, acked=True)
    if not new:
        line = ctx.t["did"].format(
            who=ack.user_name or "—",
            verb=ctx.t["verb.acknowledge"],
            at=ctx.when(ack.at),
            via=f" ({ctx.t.get('source.' + ack.source, ack.source)})",
        )
        card = await _card(
            ctx, target.type, target.id, tuple(SLA_ALERTS), line=line, buttons=buttons, key=f"sla:{timer_id}:{level}:"
        )
        return await ctx.stale(Verb.acknowledge, ack.user_id, ack.at, card)
    card = await _card(
        ctx,
        target.type,
        target.id,
        tuple(SLA_ALERTS),
        line=ctx.did_line(Verb.acknowledge),
        buttons=buttons,
        key=f"sla:{timer_id}:{level}:",
    )
    return Outcome(ok=True, message=ctx.t["ok"].format(verb=ctx.t["verb.acknowledge"], item=what), card=card)


# ---- done ------------------------------------------------------------------------------------------
async def _done(ctx: _Ctx, target: Target) -> Outcome:
    what = ctx.item(target.type, target.id)
    completion = registry.completion(target.type)
    if completion is None:
        if registry.find(target.type) is not None:
            await _require_subject(ctx, target)  # an item they may not see reads as missing, as ever
        return ctx.refuse(ctx.t["cannot_complete"].format(item=what))
    await _require_subject(ctx, target)
    done = await completion.completed(ctx.session, target.id)
    if done is None:
        await completion.complete(ctx.session, ctx.actor, target.id, ctx.now)
        line, ok = ctx.did_line(Verb.done), True
    else:
        name = await ctx.session.scalar(select(User.name).where(User.id == done.by)) if done.by else None
        line, ok = (
            ctx.t["did"].format(who=name or "—", verb=ctx.t["verb.done"], at=ctx.when(done.at), via=""),
            False,
        )
    card = await _card(ctx, target.type, target.id, tuple(SLA_ALERTS), line=line, buttons=[])
    if not ok:
        return await ctx.stale(Verb.done, done.by if done else None, done.at if done else None, card)
    return Outcome(ok=True, message=ctx.t["ok"].format(verb=ctx.t["verb.done"], item=what), card=card)


# ---- extend ----------------------------------------------------------------------------------------
async def _extend(ctx: _Ctx, target: Target) -> Outcome:
    action = ctx.action
    await _require_subject(ctx, target)
    if not action.reason:
        return ctx.refuse(_reason_required(ctx, Verb.extend))
    if action.extend_to is None and action.extend_by is None:
        return ctx.refuse(ctx.t["extension_terms"])
    from shared.sla.extensions import request_extension  # here: extensions import the approvals this module drives

    extend_to = action.extend_to
    if extend_to is not None and extend_to.tzinfo is None:
        extend_to = extend_to.replace(tzinfo=ctx.tz)  # a date typed in the chat is the team's local time
    approval = await request_extension(
        ctx.session,
        ctx.clock,
        ctx.actor,
        subject_type=target.type,
        subject_id=target.id,
        extend_to=extend_to,
        extend_by=action.extend_by,
        reason=action.reason,
        source=action.source.value,
    )
    buttons = [b for b in alert_buttons(target.type, target.id, timer_id=None, level=None, loc=ctx.loc)]
    buttons = [b for b in buttons if b.verb != Verb.extend]
    card = await _card(ctx, target.type, target.id, tuple(SLA_ALERTS), line=ctx.did_line(Verb.extend), buttons=buttons)
    return Outcome(ok=True, message=ctx.t["ok.extend"].format(id=approval.id), card=card)


# ---- approvals -------------------------------------------------------------------------------------
def _reason_required(ctx: _Ctx, verb: Verb) -> str:
    return ctx.t["reason_required"].format(verb=LABELS[ctx.loc][verb], verb_base=LABELS[ctx.loc][verb].lower())


async def _approval_id(ctx: _Ctx, target: Target) -> int:
    if target.type == ApprovalSubject.approval:
        return target.id
    if target.type == ApprovalSubject.assignment:
        found = await ctx.session.scalar(
            select(ApprovalAssignment.approval_id).where(ApprovalAssignment.id == target.id)
        )
        if found is None:
            raise NotFound(f"approval assignment {target.id} does not exist")
        return int(found)
    raise InvalidInput.for_field("type", f"{target.type} is not an approval")


async def _approval_decided(ctx: _Ctx, approval: Approval) -> Outcome | None:
    """The stale answer when this approval (or the actor's step of it) was decided already."""
    rows = list(
        await ctx.session.scalars(
            select(ApprovalAssignment)
            .where(ApprovalAssignment.approval_id == approval.id)
            .order_by(ApprovalAssignment.decided_at.desc().nulls_last(), ApprovalAssignment.id.desc())
        )
    )
    decisive = [a for a in rows if a.status in (AssignmentStatus.approved, AssignmentStatus.rejected)]
    if approval.status == ApprovalStatus.cancelled:
        return await ctx.stale("cancelled", approval.requester_id, approval.decided_at)
    if approval.status != ApprovalStatus.pending:
        last = decisive[0] if decisive else None
        verb = Verb.approve if approval.status == ApprovalStatus.approved else Verb.reject
        return await ctx.stale(
            verb, last.approver_id if last else None, last.decided_at if last else approval.decided_at
        )
    mine = [a for a in rows if a.approver_id == ctx.actor.user_id]
    if not mine or any(a.status == AssignmentStatus.pending for a in mine):
        return None
    # Pending still, but the actor's step was decided (by them, or by another of an "any of" step).
    steps = {a.step_id for a in mine}
    last = next((a for a in decisive if a.step_id in steps), None)
    if last is None:
        return None
    verb = Verb.approve if last.status == AssignmentStatus.approved else Verb.reject
    return await ctx.stale(verb, last.approver_id, last.decided_at)


async def _decide(ctx: _Ctx, target: Target, verdict: Verdict) -> Outcome:
    verb = Verb.approve if verdict == Verdict.approve else Verb.reject
    approval_id = await _approval_id(ctx, target)
    await policy.require_write(ctx.session, ctx.actor, ApprovalSubject.approval, approval_id)
    approval = await approvals.get(ctx.session, approval_id)
    mine = await ctx.session.scalar(
        select(ApprovalAssignment.id)
        .where(ApprovalAssignment.approval_id == approval_id, ApprovalAssignment.approver_id == ctx.actor.user_id)
        .order_by(ApprovalAssignment.id.desc())
        .limit(1)
    )
    waiting = (WorkEvent.approval_waiting.value,)

    async def card(line: str) -> CardView | None:
        """The approver's waiting card, decided: no buttons left."""
        if mine is None:
            return None
        return await _card(ctx, ApprovalSubject.assignment, mine, waiting, line=line, buttons=[])

    stale = await _approval_decided(ctx, approval)
    if stale is not None:
        return replace(stale, card=await card(stale.message))
    reason = ctx.action.reason
    if verdict == Verdict.reject and not reason:
        return ctx.refuse(_reason_required(ctx, verb))
    approval = await approvals.decide(
        ctx.session,
        actor=ctx.actor,
        approval_id=approval_id,
        data=ApprovalDecision(decision=verdict, reason=reason),
        now=ctx.now,
    )
    item = f"{ctx.item(ApprovalSubject.approval, approval.id)} {approval.title}"
    message = ctx.t["ok"].format(verb=ctx.t[f"verb.{verb.value}"], item=item)
    return Outcome(ok=True, message=message, card=await card(ctx.did_line(verb)))


async def _approve(ctx: _Ctx, target: Target) -> Outcome:
    return await _decide(ctx, target, Verdict.approve)


async def _reject(ctx: _Ctx, target: Target) -> Outcome:
    return await _decide(ctx, target, Verdict.reject)


# ---- reviews ---------------------------------------------------------------------------------------
REVIEW_VERBS = {
    Verb.review_approve: ReviewDecision.approve,
    Verb.review_changes: ReviewDecision.request_changes,
    Verb.review_reject: ReviewDecision.reject,
}
VERB_OF_DECISION = {decision: verb for verb, decision in REVIEW_VERBS.items()}


async def _review_answer(ctx: _Ctx, target: Target, verb: Verb) -> Outcome:
    decision = REVIEW_VERBS[verb]
    if target.type == ReviewSubject.response:
        response = await ctx.session.get(ReviewResponse, target.id)
        if response is None:
            raise NotFound(f"review response {target.id} does not exist")
        review_id = response.review_id
    elif target.type == ReviewSubject.request:
        review_id, response = target.id, None
    else:
        raise InvalidInput.for_field("type", f"{target.type} is not a review")
    await policy.require_write(ctx.session, ctx.actor, ReviewSubject.request, review_id)
    review = await ctx.session.get(ReviewRequest, review_id)
    if review is None:
        raise NotFound(f"review {review_id} does not exist")
    if response is None:
        response = await reviews.my_response(ctx.session, ctx.actor, review)
        if response is None:
            return ctx.refuse(ctx.t["not_asked"])
    events = (WorkEvent.review_requested.value,)
    if response.status == ResponseStatus.answered:
        done = VERB_OF_DECISION[response.decision] if response.decision else verb
        stale = await ctx.stale(done, response.answered_by, response.answered_at)
        card = await _card(ctx, ReviewSubject.response, response.id, events, line=stale.message, buttons=[])
        return replace(stale, card=card)
    if response.status == ResponseStatus.cancelled or review.status != ReviewStatus.in_review:
        status = ctx.t.get(f"review.{review.status.value}", review.status.value)
        return Outcome(ok=False, message=ctx.t["review_over"].format(status=status), stale=True)
    comment = ctx.action.reason
    if decision != ReviewDecision.approve and not comment:
        return ctx.refuse(_reason_required(ctx, verb))
    await reviews.answer(
        ctx.session,
        actor=ctx.actor,
        review_id=review.id,
        response_id=response.id,
        data=ReviewAnswer(decision=decision, comment=comment),
        now=ctx.now,
    )
    card = await _card(ctx, ReviewSubject.response, response.id, events, line=ctx.did_line(verb), buttons=[])
    item = f"{ctx.item(ReviewSubject.request, review.id)} {review.title}"
    return Outcome(ok=True, message=ctx.t["ok"].format(verb=ctx.t[f"verb.{verb.value}"], item=item), card=card)


async def _review_approve(ctx: _Ctx, target: Target) -> Outcome:
    return await _review_answer(ctx, target, Verb.review_approve)


async def _review_changes(ctx: _Ctx, target: Target) -> Outcome:
    return await _review_answer(ctx, target, Verb.review_changes)


async def _review_reject(ctx: _Ctx, target: Target) -> Outcome:
    return await _review_answer(ctx, target, Verb.review_reject)


_HANDLERS: dict[Verb, Callable[[_Ctx, Target], Awaitable[Outcome]]] = {
    Verb.acknowledge: _acknowledge,
    Verb.done: _done,
    Verb.extend: _extend,
    Verb.approve: _approve,
    Verb.reject: _reject,
    Verb.review_approve: _review_approve,
    Verb.review_changes: _review_changes,
    Verb.review_reject: _review_reject,
}


# ---- commands --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Command:
    """A DingTalk/WeCom text command: `完成 T123`, `延期 T123 2d 素材未到`, `认领 T123`, `同意 A45 理由`."""

    verb: Verb
    target: Target
    reason: str | None = None
    extend_by: str | None = None
    extend_to: datetime | None = None

    def action(self, *, source: Source, chat_user_id: str, event_id: str | None = None) -> ChatAction:
        """The action this command asks for, by this chat user."""
        return ChatAction(
            self.verb,
            self.target,
            source,
            chat_user_id,
            reason=self.reason,
            extend_to=self.extend_to,
            extend_by=self.extend_by,
            event_id=event_id,
        )


class CommandError(ValueError):
    """The text is not a command: the message (localized) says what the bot understands."""


# The letter before an item's number in a command, and the type it names.
PREFIXES: dict[str, str] = {
    "T": TaskSubject.task,
    "C": CollaborationSubject.occurrence,
    "Z": RectificationSubject.rectification,
    "A": ApprovalSubject.approval,
    "R": ReviewSubject.request,
}
# What each word asks for; approve / reject mean the review's answers on a review (R).
WORDS: dict[str, Verb] = {
    "完成": Verb.done,
    "done": Verb.done,
    "finish": Verb.done,
    "认领": Verb.acknowledge,
    "ack": Verb.acknowledge,
    "acknowledge": Verb.acknowledge,
    "延期": Verb.extend,
    "extend": Verb.extend,
    "同意": Verb.approve,
    "通过": Verb.approve,
    "approve": Verb.approve,
    "驳回": Verb.reject,
    "拒绝": Verb.reject,
    "reject": Verb.reject,
    "修改": Verb.review_changes,
    "需修改": Verb.review_changes,
    "changes": Verb.review_changes,
}
ON_REVIEWS = {Verb.approve: Verb.review_approve, Verb.reject: Verb.review_reject}
# Which item types each verb takes in a command.
TIMED = (TaskSubject.task, CollaborationSubject.occurrence, RectificationSubject.rectification, ReviewSubject.request)
TAKES: dict[Verb, tuple[str, ...]] = {
    Verb.done: (TaskSubject.task, CollaborationSubject.occurrence, RectificationSubject.rectification),
    Verb.acknowledge: TIMED,
    Verb.extend: TIMED,
    Verb.approve: (ApprovalSubject.approval,),
    Verb.reject: (ApprovalSubject.approval,),
    Verb.review_approve: (ReviewSubject.request,),
    Verb.review_changes: (ReviewSubject.request,),
    Verb.review_reject: (ReviewSubject.request,),
}
HELP = """我能听懂这些命令 / Commands I understand:
  完成 T123                  done T123 — 完成任务 T、协作 C、整改 Z
  认领 T123                  ack T123 — 认领最新的超时提醒（停止重复提醒）
  延期 T123 2d 素材未到       extend T123 2d <reason> — 或 延期 T123 2026-12-10 理由
  同意 A45 [理由]             approve A45 — 审批 A
  驳回 A45 理由               reject A45 <reason>
  通过 R7 / 修改 R7 意见 / 驳回 R7 意见   approve R7 / changes R7 <comment> / reject R7 <comment> — 评审 R
编号 / ids: T 任务 task · C 协作 collaboration · Z 整改 rectification · A 审批 approval · R 评审 review"""

_REF = re.compile(r"^([A-Za-z])#?(\d{1,18})$")
_AMOUNT = re.compile(r"^(?:\d+(?:\.\d+)?[dhm])+$")
_UNITS = (("小时", "h"), ("分钟", "m"), ("天", "d"), ("时", "h"), ("分", "m"))
_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


def _amount(token: str) -> str | None:
    text = token.lower()
    for word, unit in _UNITS:
        text = text.replace(word, unit)
    return text if _AMOUNT.match(text) else None


def _moment(token: str) -> datetime | None:
    """`2026-12-10` (by the end of that day) or `2026-12-10T18:00` (naive: the team's local time
    unless it says otherwise)."""
    if m := _DATE.match(token):
        try:
            day = datetime(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            return None
        return datetime.combine(day.date(), time(23, 59, 59))
    if "T" in token and token[:4].isdigit():
        try:
            return datetime.fromisoformat(token)
        except ValueError:
            return None
    return None


def extension_terms(text: str) -> tuple[datetime | None, str | None, str | None]:
    """An extension's terms from typed text: a new due moment or a working-time amount first,
    then the reason (`2d 素材未到`, `2026-12-10 理由`); text without either is all reason."""
    text = unicodedata.normalize("NFKC", text).strip()
    first, _, rest = text.partition(" ")
    if (by := _amount(first)) is not None:
        return None, by, _text(rest)
    if (to := _moment(first)) is not None:
        return to, None, _text(rest)
    return None, None, _text(text)


def parse_command(text: str) -> Command:
    """Parse the text after the bot's @-mention. Raises CommandError with a help text."""
    normal = unicodedata.normalize("NFKC", text or "").strip()
    words = [w for w in normal.split() if not w.startswith("@")]
    if len(words) < 2:
        raise CommandError(HELP)
    verb = WORDS.get(words[0].lower())
    ref = _REF.match(words[1])
    if verb is None or ref is None or ref[1].upper() not in PREFIXES:
        raise CommandError(HELP)
    subject_type = PREFIXES[ref[1].upper()]
    if subject_type == ReviewSubject.request:
        verb = ON_REVIEWS.get(verb, verb)
    if subject_type not in TAKES[verb]:
        raise CommandError(HELP)
    target = Target(type=subject_type, id=int(ref[2]))
    rest = " ".join(words[2:])
    if verb == Verb.extend:
        extend_to, extend_by, reason = extension_terms(rest)
        if extend_to is None and extend_by is None:
            raise CommandError(HELP)
        return Command(verb, target, reason=reason, extend_by=extend_by, extend_to=extend_to)
    return Command(verb, target, reason=_text(rest))


__all__ = [
    "HELP",
    "Button",
    "CardView",
    "ChatAction",
    "Command",
    "CommandError",
    "Outcome",
    "Source",
    "Target",
    "Verb",
    "actor_for",
    "alert_buttons",
    "buttons_for",
    "extension_terms",
    "identify",
    "parse_command",
    "perform",
]
