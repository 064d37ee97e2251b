"""Who acts from the chat: the user linked to the chat id, as the API would see them; an unknown
(or deactivated) chat user is told how to link their account, and nothing happens."""

from __future__ import annotations

from sqlalchemy import func, select

from shared.actor import Actor
from shared.chat.actions import ChatAction, Source, Target, Verb, identify
from shared.db import unit_of_work
from shared.models import AuditLog, Role, Task, TaskStatus, User
from shared.tasks.sla import TaskSubject
from tests.chat.conftest import OU_STRANGER, OU_ZHANG, act, make_task
from tests.factories import auth, make_user


async def audit_count(sessions) -> int:
    async with unit_of_work(sessions) as s:
        return int(await s.scalar(select(func.count()).select_from(AuditLog)) or 0)


async def test_a_chat_id_is_the_same_actor_the_api_builds(sessions, org):
    async with unit_of_work(sessions) as s:
        assert await identify(s, Source.feishu, OU_ZHANG) == Actor.user(
            org.zhang.id, Role.member, org.marketing.id, source="feishu"
        )
        li = await identify(s, Source.dingtalk, "ding_li")
        assert li is not None and (li.user_id, li.on_behalf, li.token_id) == (org.li.id, False, None)
        assert await identify(s, Source.feishu, "ding_li") is None  # each chat has its own column


async def test_an_unknown_chat_user_is_told_how_to_link_and_nothing_happens(sessions, clock, client, org):
    task = await make_task(sessions, clock, org)
    before = await audit_count(sessions)
    action = ChatAction(Verb.done, Target(TaskSubject.task, task.id), Source.feishu, OU_STRANGER)
    outcome = await act(sessions, clock, action)
    assert (outcome.ok, outcome.unknown_user, outcome.card) == (False, True, None)
    assert OU_STRANGER in outcome.message
    assert f'PATCH /api/v1/users/<你的用户 id>，{{"feishu_open_id": "{OU_STRANGER}"}}' in outcome.message
    assert await audit_count(sessions) == before
    async with unit_of_work(sessions) as s:
        assert (await s.get_one(Task, task.id)).status == TaskStatus.todo

    # Doing what the message says links the account: the same click now acts.
    stranger = await make_user(sessions, name="新同事", department_id=org.marketing.id)
    r = await client.patch(
        f"/api/v1/users/{stranger.id}", headers=await auth(sessions), json={"feishu_open_id": OU_STRANGER}
    )
    assert r.status_code == 200, r.text
    assert (await act(sessions, clock, action)).ok


async def test_a_deactivated_or_doubly_linked_chat_id_acts_as_nobody(sessions, clock, org):
    task = await make_task(sessions, clock, org)
    async with unit_of_work(sessions) as s:
        (await s.get_one(User, org.zhang.id)).is_active = False
    done = ChatAction(Verb.done, Target(TaskSubject.task, task.id), Source.feishu, OU_ZHANG)
    assert (await act(sessions, clock, done)).unknown_user

    await make_user(sessions, name="李四二号", department_id=org.marketing.id, dingtalk_user_id="ding_li")
    twice = ChatAction(Verb.done, Target(TaskSubject.task, task.id), Source.dingtalk, "ding_li")
    outcome = await act(sessions, clock, twice)
    assert outcome.unknown_user and "ding_li" in outcome.message and "dingtalk_user_id" in outcome.message
    async with unit_of_work(sessions) as s:
        assert (await s.get_one(Task, task.id)).status == TaskStatus.todo
