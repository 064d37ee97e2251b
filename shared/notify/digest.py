"""Digests instead of floods: when a bot's queue holds more than its rate limit lets out now, the
waiting messages go as one message — counts, the most severe items first, a link to the rest."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

from shared.notify.adapters.base import Envelope
from shared.notify.delivery import Claimed
from shared.notify.render import DEFAULT_LOCALE, SEVERITY_RANK, TEXTS, Mention, Message, render_safely

DIGEST_EVENT = "notification.digest"
# Items per digest: what fits the vendor's size limit with every item on its own line.
ITEMS_PER_DIGEST = {"wecom": 15}
DEFAULT_ITEMS = 50
MAX_MENTIONS = 30


def digest_id(items: list[Claimed]) -> uuid.UUID:
    """The same members make the same digest id, so a retried digest keeps its `webhook-id`."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "closeloop:digest:" + ",".join(sorted(c.envelope.message_id for c in items)))


def items_per_digest(kind: str) -> int:
    return ITEMS_PER_DIGEST.get(kind, DEFAULT_ITEMS)


def build(
    items: list[Claimed], *, digest_id: uuid.UUID, tz: ZoneInfo, now: datetime, public_url: str
) -> tuple[Message, Envelope]:
    """One message for many: the chat text (in the most common locale among them) and the
    generic-webhook envelope carrying every item's own event."""
    locales = Counter(c.locale or DEFAULT_LOCALE for c in items)
    loc = locales.most_common(1)[0][0] if locales else DEFAULT_LOCALE
    t = TEXTS.get(loc, TEXTS[DEFAULT_LOCALE])
    rendered = [
        (c, render_safely(c.envelope.event_type, c.envelope.data, locale=loc, tz=tz, sent_at=now)) for c in items
    ]
    rendered.sort(key=lambda cm: (SEVERITY_RANK.get(cm[1].severity, 3), cm[0].envelope.occurred_at))
    severity = rendered[0][1].severity if rendered else "info"
    critical = sum(1 for _, m in rendered if m.severity == "critical")
    kinds = Counter(c.envelope.event_type for c in items)
    title = t["digest.title"].format(n=len(items)) + (t["digest.critical"].format(n=critical) if critical else "")
    fields = [(_kind_label(kind, t), f"{n}{t['digest.count']}") for kind, n in kinds.most_common()]
    lines = []
    for _, m in rendered:
        detail = "，".join(v for _, v in m.fields[1:4]) if loc == "zh-CN" else ", ".join(v for _, v in m.fields[1:4])
        lines.append(f"• {m.title}" + (f" — {detail}" if detail else ""))
    mentions: list[Mention] = []
    seen: set[tuple[str | None, ...]] = set()
    for _, m in rendered:
        for p in m.mentions:
            key = (p.name, p.mobile, p.feishu_open_id, p.dingtalk_user_id, p.wecom_user_id)
            if key not in seen and len(mentions) < MAX_MENTIONS:
                seen.add(key)
                mentions.append(p)
    url = f"{public_url}/api/v1/notifications?digest_id={digest_id}"
    message = Message(
        title=title,
        severity=severity,
        fields=fields,
        body="\n".join(lines),
        url=url,
        url_label=t["digest.open"],
        mentions=mentions,
    )
    envelope = Envelope(
        message_id=str(digest_id),
        event_type=DIGEST_EVENT,
        occurred_at=now,
        data={
            "count": len(items),
            "counts": dict(kinds),
            "url": url,
            "items": [c.envelope.as_json() for c, _ in rendered],
        },
    )
    return message, envelope


def _kind_label(event_type: str, t: dict[str, str]) -> str:
    title = t.get(f"{event_type}.title")
    if title is None:
        return event_type
    return title.split("：")[0].split(":")[0]
