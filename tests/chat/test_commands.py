"""What the bot understands after its @-mention, and what a button's value may say: values and
texts come from outside, so anything else is refused (with the help text for a command)."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.approvals.sla import ApprovalSubject
from shared.chat.actions import (
    HELP,
    ChatAction,
    Command,
    CommandError,
    Source,
    Target,
    Verb,
    buttons_for,
    parse_command,
)
from shared.collaboration.sla import CollaborationSubject
from shared.notify.work import WorkEvent
from shared.rectifications.sla import RectificationSubject
from shared.reviews.sla import ReviewSubject
from shared.tasks.sla import TaskSubject

TASK, APPROVAL, REVIEW = TaskSubject.task, ApprovalSubject.approval, ReviewSubject.request


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("完成 T123", Command(Verb.done, Target(TASK, 123))),
        ("done t123", Command(Verb.done, Target(TASK, 123))),
        ("完成　Ｔ１２３", Command(Verb.done, Target(TASK, 123))),  # full-width, as IMEs type it
        ("@Closeloop  完成 T#123 ", Command(Verb.done, Target(TASK, 123))),
        ("完成 C8", Command(Verb.done, Target(CollaborationSubject.occurrence, 8))),
        ("完成 Z9", Command(Verb.done, Target(RectificationSubject.rectification, 9))),
        ("认领 T123", Command(Verb.acknowledge, Target(TASK, 123))),
        ("ack T123", Command(Verb.acknowledge, Target(TASK, 123))),
        ("延期 T123 2d 素材未到", Command(Verb.extend, Target(TASK, 123), reason="素材未到", extend_by="2d")),
        ("延期 T123 2天 素材 未到", Command(Verb.extend, Target(TASK, 123), reason="素材 未到", extend_by="2d")),
        ("extend T123 1d4h waiting", Command(Verb.extend, Target(TASK, 123), reason="waiting", extend_by="1d4h")),
        (
            "延期 T123 2026-12-10 理由",
            Command(Verb.extend, Target(TASK, 123), reason="理由", extend_to=datetime(2026, 12, 10, 23, 59, 59)),
        ),
        ("延期 T123 4h", Command(Verb.extend, Target(TASK, 123), extend_by="4h")),  # the reason is asked for
        ("同意 A45 理由", Command(Verb.approve, Target(APPROVAL, 45), reason="理由")),
        ("approve A45", Command(Verb.approve, Target(APPROVAL, 45))),
        ("驳回 A45 预算超标", Command(Verb.reject, Target(APPROVAL, 45), reason="预算超标")),
        ("通过 R7", Command(Verb.review_approve, Target(REVIEW, 7))),
        ("修改 R7 标题太小", Command(Verb.review_changes, Target(REVIEW, 7), reason="标题太小")),
        ("驳回 R7 不合规", Command(Verb.review_reject, Target(REVIEW, 7), reason="不合规")),
        ("reject r7 no", Command(Verb.review_reject, Target(REVIEW, 7), reason="no")),
    ],
)
def test_commands(text, expected):
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "完成",
        "hello T123",
        "完成 123",
        "完成 X123",
        "完成 A45",  # an approval is approved or rejected, not completed
        "修改 A45 x",
        "同意 T123",
        "延期 T123 素材未到",  # neither a new date nor an amount
        "延期 T123 2026-13-40 理由",
    ],
)
def test_anything_else_answers_with_the_help(text):
    with pytest.raises(CommandError) as raised:
        parse_command(text)
    assert str(raised.value) == HELP
    assert "完成 T123" in HELP and "同意 A45" in HELP and "延期 T123 2d" in HELP


@given(st.text(max_size=60))
def test_no_text_makes_the_parser_fail_otherwise(text):
    try:
        command = parse_command(text)
    except CommandError:
        return
    assert command.target.id >= 0 and command.verb in Verb


@given(st.sampled_from(["完成", "done", "认领", "ack"]), st.integers(0, 10**12), st.sampled_from([" ", "　", "  "]))
def test_any_spacing_and_number(word, number, space):
    command = parse_command(f"{space}{word}{space}T{number}{space}")
    assert command.target == Target(TASK, number)


def alert(**extra) -> dict:
    return {
        "subject": {"type": TASK, "id": 5, "title": "海报", "url": "http://closeloop.test/api/v1/tasks/5"} | extra,
        "timer": {"id": 11},
        "level": 1,
    }


def test_an_sla_alert_carries_acknowledge_done_extend_and_a_link():
    buttons = buttons_for("sla.breach", alert(page_url="https://app.example.com/tasks/5"), locale="zh-CN")
    assert [(b.label, b.verb, b.needs_reason, b.url) for b in buttons] == [
        ("认领", Verb.acknowledge, False, None),
        ("完成", Verb.done, False, None),
        ("申请延期", Verb.extend, True, None),
        ("查看详情", None, False, "https://app.example.com/tasks/5"),
    ]
    assert buttons[0].value == {"v": "acknowledge", "t": TASK, "id": 5, "timer": 11, "level": 1}
    action = ChatAction.from_value(buttons[0].value, source=Source.feishu, chat_user_id="ou_x", event_id="e1")
    assert action == ChatAction(Verb.acknowledge, Target(TASK, 5, 11, "1"), Source.feishu, "ou_x", event_id="e1")


def test_a_type_that_cannot_be_completed_has_no_done_button_and_resolved_only_a_link():
    approval = alert() | {"subject": {"type": ApprovalSubject.assignment, "id": 3, "url": "http://x/3"}}
    assert [b.label for b in buttons_for("sla.warning", approval, locale="en-US")] == [
        "Acknowledge",
        "Ask for more time",
        "Open",
    ]
    assert [b.label for b in buttons_for("sla.resolved", alert(), locale="en-US")] == ["Open"]
    assert buttons_for(WorkEvent.decision_made, {"subject": {"type": "gadget", "id": 1}}, locale=None) == []


def test_extension_text_from_the_card_input_is_split_into_terms():
    value = {"v": "extend", "t": TASK, "id": 5}
    action = ChatAction.from_value(value, source=Source.feishu, chat_user_id="ou_x", reason=" 2d 素材未到 ")
    assert (action.extend_by, action.extend_to, action.reason) == ("2d", None, "素材未到")


@pytest.mark.parametrize(
    "value",
    [
        {},
        {"v": "explode", "t": TASK, "id": 5},
        {"v": "done", "t": "gadget", "id": 5},
        {"v": "done", "t": TASK, "id": -1},
        {"v": "done", "t": TASK, "id": True},
        {"v": "done", "t": TASK, "id": "5; drop"},
        {"v": "done", "t": TASK, "id": 5, "sql": 1},
        {"v": "acknowledge", "t": TASK, "id": 5, "timer": 1, "level": 1.5},
        ["done", TASK, 5],
    ],
)
def test_a_value_that_is_not_a_button_is_refused(value):
    with pytest.raises(ValueError):
        ChatAction.from_value(value, source=Source.feishu, chat_user_id="ou_x")
