"""The lists a frontend builds boards from: filters that filter, several statuses at once, text
search, unknown parameters refused, one `{items, next_cursor}` envelope everywhere, and the stage
a campaign is in."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text

from shared.approvals.service import approval_filter
from shared.db import unit_of_work
from shared.models import Approval, ReviewRequest, Role, SlaTimer, Task, TaskStatus, TimerState
from shared.reviews.service import review_filter
from shared.sla.read import timer_filter
from shared.tasks.service import task_filter
from shared.workflow.templates import ensure_workflow_defaults
from tests.factories import auth, make_department, make_task, make_user


async def ids(client, headers, path, **params) -> list[int]:
    r = await client.get(path, headers=headers, params=params)
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["items"]]


async def make_campaign(client, headers, **body) -> dict:
    r = await client.post("/api/v1/campaigns", headers=headers, json={"name": "双十一", **body})
    assert r.status_code == 201, r.text
    return r.json()


# ---- tasks -----------------------------------------------------------------------------------------
async def test_task_department_is_the_assignees_or_the_campaigns(client, sessions):
    member = await auth(sessions, Role.director)
    marketing = await make_department(sessions, name="市场部")
    sales = await make_department(sessions, name="销售部")
    marketer = await make_user(sessions, department_id=marketing.id)
    seller = await make_user(sessions, department_id=sales.id)
    campaign = await make_campaign(client, member, department_id=marketing.id)
    mine = await make_task(sessions, title="海报", assignee_id=marketer.id)
    lent = await make_task(sessions, title="渠道", assignee_id=seller.id, campaign_id=campaign["id"])
    sales_only = await make_task(sessions, title="报价", assignee_id=seller.id)
    await make_task(sessions, title="无人")

    assert await ids(client, member, "/api/v1/tasks", department_id=marketing.id) == [mine.id, lent.id]
    assert await ids(client, member, "/api/v1/tasks", department_id=sales.id) == [lent.id, sales_only.id]
    assert await ids(client, member, "/api/v1/tasks", department_id=sales.id, campaign_id=campaign["id"]) == [lent.id]


async def test_several_statuses_comma_separated_or_repeated_and_nothing_else(client, sessions):
    member = await auth(sessions, Role.director)
    made = {s: await make_task(sessions, title=s.value, status=s) for s in TaskStatus}
    wanted = [made[TaskStatus.todo].id, made[TaskStatus.in_progress].id]

    assert await ids(client, member, "/api/v1/tasks", status="todo,in_progress") == wanted
    r = await client.get("/api/v1/tasks?status=todo&status=in_progress", headers=member)
    assert [t["id"] for t in r.json()["items"]] == wanted
    assert await ids(client, member, "/api/v1/tasks", status="done") == [made[TaskStatus.done].id]

    r = await client.get("/api/v1/tasks", headers=member, params={"status": "todo,finished"})
    assert r.status_code == 422
    (error,) = r.json()["errors"]
    assert error["field"].startswith("query.status")
    assert error["message"] == "must be one of: todo, in_progress, blocked, done, cancelled"


async def test_q_matches_task_titles_in_any_case_and_wildcards_literally(client, sessions):
    member = await auth(sessions, Role.director)
    poster = await make_task(sessions, title="Design the KV poster")
    await make_task(sessions, title="Book the venue")
    percent = await make_task(sessions, title="Discount 50% off")
    assert await ids(client, member, "/api/v1/tasks", q="kv POSTER") == [poster.id]
    assert await ids(client, member, "/api/v1/tasks", q="50%") == [percent.id]
    assert await ids(client, member, "/api/v1/tasks", q="%") == [percent.id]  # not "anything"
    assert len(await ids(client, member, "/api/v1/tasks", q="")) == 3  # an empty search box filters nothing


# ---- the other boards --------------------------------------------------------------------------------
async def test_feedback_board_takes_several_statuses_and_text(client, sessions):
    member = await auth(sessions, Role.director)
    made = []
    for content in ("包装破损", "快递太慢", "包装很好"):
        r = await client.post(
            "/api/v1/feedback", headers=member, json={"kind": "feedback", "channel": "web", "content": content}
        )
        assert r.status_code == 201, r.text
        made.append(r.json()["id"])
    r = await client.post(f"/api/v1/feedback/{made[0]}/responses", headers=member, json={"message": "已补发"})
    assert r.status_code in (200, 201), r.text
    assert await ids(client, member, "/api/v1/feedback", q="包装") == [made[0], made[2]]
    assert await ids(client, member, "/api/v1/feedback", status="new") == [made[1], made[2]]
    assert await ids(client, member, "/api/v1/feedback", status="new,responded", q="包装") == [made[0], made[2]]


async def test_rectification_board_filters_by_department_and_text(client, sessions):
    member = await auth(sessions, Role.director)
    marketing = await make_department(sessions, name="市场部")
    marketer = await make_user(sessions, department_id=marketing.id)
    other = await make_user(sessions)
    made = []
    for title, owner in (("补充竞品分析", marketer), ("补充预算明细", other)):
        r = await client.post("/api/v1/rectifications", headers=member, json={"title": title, "owner_id": owner.id})
        assert r.status_code == 201, r.text
        made.append(r.json()["id"])
    assert await ids(client, member, "/api/v1/rectifications", department_id=marketing.id) == [made[0]]
    assert await ids(client, member, "/api/v1/rectifications", q="预算") == [made[1]]
    assert await ids(client, member, "/api/v1/rectifications", status="open,done") == made


async def test_collaboration_board_department_is_initiating_or_collaborating(client, sessions):
    member = await auth(sessions, Role.director)
    marketing, sales, product = [await make_department(sessions, name=n) for n in ("市场部", "销售部", "产品部")]
    owner = await make_user(sessions, department_id=sales.id)
    made = []
    for matter, initiating, collaborating in (("方案评审", marketing, [sales]), ("选品", product, [marketing])):
        body = {
            "matter": matter,
            "initiating_department_id": initiating.id,
            "collaborating_department_ids": [d.id for d in collaborating],
            "owner_id": owner.id,
            "deadline": {"kind": "calendar", "value": "PT24H"},
        }
        r = await client.post("/api/v1/collaboration-requests", headers=member, json=body)
        assert r.status_code == 201, r.text
        made.append(r.json()["id"])
    assert await ids(client, member, "/api/v1/collaboration-requests", department_id=marketing.id) == made
    assert await ids(client, member, "/api/v1/collaboration-requests", department_id=sales.id) == [made[0]]
    assert await ids(client, member, "/api/v1/collaboration-requests", q="选品", status="open,closed") == [made[1]]


async def test_campaign_board_takes_several_statuses(client, sessions):
    member = await auth(sessions, Role.director)
    active = await make_campaign(client, member, name="双十一", status="active")
    held = await make_campaign(client, member, name="618", status="on_hold")
    await make_campaign(client, member, name="春节", status="draft")
    assert await ids(client, member, "/api/v1/campaigns", status="active,on_hold") == [active["id"], held["id"]]


# ---- unknown parameters ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "params", "unknown"),
    [
        ("/api/v1/tasks", {"department": "1", "status": "todo"}, ["department"]),  # a typo of department_id
        ("/api/v1/reviews", {"foo": "1", "bar": "2", "limit": "5"}, ["bar", "foo"]),
        ("/api/v1/campaigns/1/stages", {"limit": "5"}, ["limit"]),  # one page: no pagination here
        ("/api/v1/workflow-templates", {"all_version": "true"}, ["all_version"]),
        ("/api/v1/sla/timers", {"subjet_type": "task"}, ["subjet_type"]),
        ("/api/v1/me", {"verbose": "1"}, ["verbose"]),
    ],
)
async def test_an_unknown_query_parameter_is_422_naming_it(client, sessions, path, params, unknown):
    member = await auth(sessions, Role.director)
    r = await client.get(path, headers=member, params=params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"] == [
        {"field": f"query.{name}", "message": "unknown parameter", "type": "unknown_parameter"} for name in unknown
    ]


async def test_known_parameters_of_every_list_are_still_accepted(client, sessions):
    member = await auth(sessions, Role.director)
    for path in ("/api/v1/tasks", "/api/v1/reviews", "/api/v1/approvals", "/api/v1/feedback", "/api/v1/campaigns"):
        r = await client.get(path, headers=member, params={"limit": 5, "department_id": 1, "overdue": "false"})
        assert r.status_code == 200, (path, r.text)


# ---- one envelope, and the stage a campaign is in ------------------------------------------------------
@pytest.fixture
async def workflow(sessions):
    async with unit_of_work(sessions) as s:
        await ensure_workflow_defaults(s)


async def test_templates_and_stages_lists_have_the_page_envelope(client, sessions, workflow):
    manager = await auth(sessions, Role.manager)
    r = await client.get("/api/v1/workflow-templates", headers=manager)
    assert r.status_code == 200 and r.json()["next_cursor"] is None
    assert [t["key"] for t in r.json()["items"]] == ["campaign_default"]
    r = await client.put("/api/v1/workflow-templates/campaign_default", headers=manager, json={"name": "新版"})
    assert r.status_code == 200, r.text
    first = (await client.get("/api/v1/workflow-templates?all_versions=true&limit=1", headers=manager)).json()
    assert [t["version"] for t in first["items"]] == [1] and first["next_cursor"]
    params = {"all_versions": "true", "limit": 1, "cursor": first["next_cursor"]}
    second = (await client.get("/api/v1/workflow-templates", headers=manager, params=params)).json()
    assert [t["version"] for t in second["items"]] == [2] and second["next_cursor"] is None

    campaign = await make_campaign(client, manager, template_key="campaign_default")
    r = await client.get(f"/api/v1/campaigns/{campaign['id']}/stages", headers=manager)
    assert r.status_code == 200 and r.json()["next_cursor"] is None
    assert [s["key"] for s in r.json()["items"]][:2] == ["research", "plan"]


async def test_a_campaign_says_which_stage_it_is_in(client, sessions, workflow):
    member = await auth(sessions, Role.director)
    running = await make_campaign(client, member, template_key="campaign_default")
    assert running["current_stage"]["key"] == "research" and running["current_stage"]["name"]
    plain = await make_campaign(client, member, name="无流程")
    assert plain["current_stage"] is None
    listed = (await client.get("/api/v1/campaigns", headers=member)).json()["items"]
    assert [c["current_stage"] and c["current_stage"]["key"] for c in listed] == ["research", None]
    r = await client.post(f"/api/v1/campaigns/{running['id']}/cancel", headers=member)
    assert r.status_code == 200, r.text
    after = (await client.get(f"/api/v1/campaigns/{running['id']}", headers=member)).json()
    assert after["current_stage"] is None


async def test_a_campaign_whose_stage_is_past_its_time_limit_is_overdue(client, sessions, clock, workflow):
    member = await auth(sessions, Role.director)
    late = await make_campaign(client, member, template_key="campaign_default")  # research: 3 working days
    plain = await make_campaign(client, member, name="无流程")
    assert await ids(client, member, "/api/v1/campaigns", overdue="true") == []
    clock.advance(timedelta(days=10))
    assert await ids(client, member, "/api/v1/campaigns", overdue="true") == [late["id"]]
    assert await ids(client, member, "/api/v1/campaigns", overdue="false") == [plain["id"]]


# ---- indexes -------------------------------------------------------------------------------------
BOARD_INDEXES = {
    # /sla/timers?department_id=…&state=…: the page in id order from the index
    "ix_sla_timers_board": "ON public.sla_timers USING btree (department_id, state, id)",
    # /tasks?assignee_id=…: the assignee's tasks in id order
    "ix_tasks_assignee": "ON public.tasks USING btree (assignee_id, id)",
    # /tasks?department_id=…: through the campaign, through the assignee, each in id order
    "ix_tasks_board": "ON public.tasks USING btree (department_id, id)",
    "ix_tasks_assignee_department": "ON public.tasks USING btree (assignee_department_id, id)",
    # /reviews?overdue=…: the pending reviewers only
    "ix_review_responses_status": "ON public.review_responses USING btree (status, review_id)",
    # /approvals?overdue=…, ?approver_id=…: the pending approvers only, in id order
    "ix_approval_assignments_status": "ON public.approval_assignments USING btree (status, id)",
}


async def test_board_filters_on_growing_tables_have_their_indexes(engine):
    async with engine.connect() as conn:
        found = dict(
            (await conn.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"))).all()
        )
    for name, definition in BOARD_INDEXES.items():
        assert definition in found.get(name, ""), name
    # The indexes they replace are gone (the new ones start with the same column).
    assert "ix_sla_timers_department_id" not in found and "ix_tasks_assignee_id" not in found

    # The board queries filter on those columns (equality on the index's leading columns).
    now = datetime.now().astimezone()
    timers = str(
        timer_filter(
            select(SlaTimer),
            state=TimerState.running,
            department_id=1,
            breached=True,
            subject_type=None,
            subject_id=None,
            policy_id=None,
            now=now,
        ).compile()
    )
    assert "sla_timers.state = :state_1" in timers and "sla_timers.department_id = :department_id_1" in timers
    assert "tasks.assignee_id = :assignee_id_1" in str(task_filter(select(Task), assignee_id=1, now=now).compile())
    reviews = str(review_filter(select(ReviewRequest), overdue=True, now=now).compile())
    assert "review_responses.status = :status_1" in reviews
    approvals = str(approval_filter(select(Approval), overdue=True, now=now).compile())
    assert "approval_assignments.status = :status_1" in approvals
