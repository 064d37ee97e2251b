"""User-supplied text cannot speak for the bot: no mention, link, heading, image or tag typed into a
title, a name or a comment is live in Feishu lark_md, DingTalk markdown or WeCom markdown. Only
the recipients the system resolved are mentioned."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from services.notifier.main import drain
from services.worker.main import sweep_once
from shared.db import unit_of_work
from shared.models import ChannelKind, Notification
from shared.notify.adapters import ADAPTERS, Target
from shared.notify.adapters.base import Envelope
from shared.notify.render import Mention, Message
from shared.tasks.schemas import TaskCreate
from shared.tasks.service import create_task
from tests.factories import BREACH_ONLY, SYSTEM, make_channel, make_department, make_policy, make_user
from tests.notify.test_delivery import OPEN_ID

HOSTILE = (
    '<at id=all></at><at user_id="ou_evil"></at>@all @所有人 <@all>[点我](http://evil.example/x)'
    '![i](http://evil.example/i.png)<a href="http://evil.example">a</a><font color="red">红</font>\n'
    "# 大标题\n> 引用 &lt;at id=all&gt; http://evil.example/bare"
)
READABLE = "【重要】《双十一》活动（第1期）：预算 5,000 元；负责人·张三！100% 完成 — 复盘 a > b *备注* #3"
MOBILE, WECOM_ID = "13800000000", "zhangsan"
CLOSELOOP_LINK = re.compile(r"\]\(http://closeloop\.test/api/v1/tasks/\d+\)")


async def hostile_breach(ctx, sessions, clock, botsim) -> dict[str, dict]:
    """A task titled HOSTILE + READABLE, its assignee named with markup too, breached and delivered
    to one bot of each vendor; each vendor's payload as botsim received it."""
    botsim.add_bots({"fs1": {"kind": "feishu"}, "dt1": {"kind": "dingtalk"}, "wc1": {"kind": "wecom"}})
    for kind, bot in ((ChannelKind.feishu, "fs1"), (ChannelKind.dingtalk, "dt1"), (ChannelKind.wecom, "wc1")):
        await make_channel(sessions, kind=kind, url=botsim.url(kind.value, bot))
    dept = await make_department(sessions)
    owner = await make_user(
        sessions,
        department_id=dept.id,
        name="张三<at id=all></at>[x](http://evil.example)",
        feishu_open_id=OPEN_ID,
        mobile=MOBILE,
        wecom_user_id=WECOM_ID,
    )
    await make_policy(sessions, levels=BREACH_ONLY)
    async with unit_of_work(sessions) as s:
        await create_task(
            s,
            actor=SYSTEM,
            now=clock.now(),
            data=TaskCreate(
                title=f"{HOSTILE} {READABLE}", assignee_id=owner.id, due_at=clock.now() - timedelta(minutes=5)
            ),
        )
    await sweep_once(ctx)
    async with unit_of_work(sessions) as s:
        channel_ids = {n.channel_id for n in (await s.scalars(select(Notification))).all()}
    for channel_id in channel_ids:
        await drain(ctx, channel_id)
    return {bot: botsim.messages(bot)[0]["body"] for bot in ("fs1", "dt1", "wc1")}


def assert_inert(text: str) -> None:
    """Nothing of HOSTILE is syntax: no tag, no link or image, no line of its own."""
    assert "<at id=all" not in text and "<at user_id" not in text and "<@all>" not in text and "<a " not in text
    assert '<font color="red">' not in text
    assert "@all" not in text and "@所有人" not in text
    assert "](http://evil" not in text and "http://evil" not in text
    assert not any(line.lstrip().startswith(("# 大标题", "> 引用")) for line in text.splitlines())
    assert "&lt;" not in text  # no entity that a renderer might turn back into a tag


async def test_feishu_card_mentions_only_the_resolved_recipient(ctx, sessions, clock, botsim):
    body = (await hostile_breach(ctx, sessions, clock, botsim))["fs1"]
    text = body["card"]["elements"][0]["text"]["content"]
    assert_inert(text)
    assert re.findall(r"<at [^>]*>", text) == [f"<at id={OPEN_ID}>"]
    assert READABLE in text  # Chinese punctuation, `*`, `#`, `>` inside a line: as typed
    assert "＜at id=all>＜/at>" in text and "［点我］(http：//evil.example/x)" in text  # shown, inert
    assert READABLE in body["card"]["header"]["title"]["content"]  # plain_text: not markdown at all


async def test_dingtalk_markdown_mentions_only_the_resolved_recipient(ctx, sessions, clock, botsim):
    body = (await hostile_breach(ctx, sessions, clock, botsim))["dt1"]
    text = body["markdown"]["text"]
    assert_inert(text)
    assert body["at"] == {"atMobiles": [MOBILE], "atUserIds": [], "isAtAll": False}
    assert re.findall(r"@\S+", text) == [f"@{MOBILE}"]
    assert len(re.findall(r"\]\(", text)) == 1 and CLOSELOOP_LINK.search(text)  # only the item's own link
    assert [line for line in text.splitlines() if line.startswith("#")] == [text.splitlines()[0]]
    assert READABLE in text and READABLE in body["markdown"]["title"]


async def test_wecom_markdown_mentions_only_the_resolved_recipient(ctx, sessions, clock, botsim):
    body = (await hostile_breach(ctx, sessions, clock, botsim))["wc1"]
    text = body["markdown"]["content"]
    assert_inert(text)
    assert re.findall(r"<@[^>]*>", text) == [f"<@{WECOM_ID}>"]
    assert set(re.findall(r"<[^>]*>", text)) == {'<font color="warning">', "</font>", f"<@{WECOM_ID}>"}
    assert len(re.findall(r"\]\(", text)) == 1 and CLOSELOOP_LINK.search(text)
    assert READABLE in text


def test_names_fields_and_comment_bodies_are_inert_in_every_vendor_and_everyone_is_no_one():
    """What a Message carries besides the title (names, customer content, a comment in the body, a
    digest's lines) goes in the same way; a mention id spelling 'all' is never sent."""
    message = Message(
        title="反馈 <at id=all></at>",
        severity="critical",
        fields=[
            ("客户", "李四 @所有人 [官网](http://evil.example)"),
            ("内容", "投诉：![x](http://evil.example/p.png)"),
        ],
        body="• 第一条 <@all>\n• 第二条 # 不是标题",
        mentions=[Mention(name="全员", dingtalk_user_id="all", wecom_user_id="@all")],
    )
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    envelope = Envelope("m1", "sla.breach", now, {})
    markdown = {
        "feishu": lambda body: body["card"]["elements"][0]["text"]["content"],  # the header is plain_text
        "dingtalk": lambda body: body["markdown"]["text"],
        "wecom": lambda body: body["markdown"]["content"],
    }
    for kind, text_of in markdown.items():
        target = Target(id=1, kind=kind, url="https://bot.example/x", secret=None, keywords=[])
        body = json.loads(ADAPTERS[kind].prepare(target, message, envelope, now).body)  # type: ignore[index]
        text = text_of(body)
        assert "<at" not in text and "<@" not in text and "@所有人" not in text and "](" not in text, kind
        assert "http://evil" not in text and "all" not in str(body.get("at", {}).get("atUserIds")), kind
        assert "• 第一条 ＜＠all>\n• 第二条 # 不是标题" in text, kind  # the body's own lines survive, one each
