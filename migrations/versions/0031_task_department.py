"""task departments kept on the row: the department board served by an index; request ids on the outbox

A task belongs to a department through its campaign (the campaign's department) or its assignee
(the assignee's department); visibility reads "its campaign's, a standalone task's its
reporter's". Both were subqueries over users and campaigns, so `/tasks?department_id=` walked the
primary key and threw away thousands of rows per page. Now:

- `tasks.department_id` — the campaign's department, for a standalone task its reporter's — and
  `tasks.assignee_department_id`, each with an index in the board's order (`ix_tasks_board`,
  `ix_tasks_assignee_department`), backfilled here;
- kept by triggers, not by the services: a task's row is written by the task service, by foreign
  keys (a deleted user's tasks lose their assignee or reporter: `ON DELETE SET NULL`), by the
  benchmarks' COPY and by whatever raw SQL comes next, and the departments it copies change on
  `users` and `campaigns` rows (a person or a campaign moving department, a department deleted).
  One trigger per table catches every one of those writers; a service-side rule would have to be
  repeated in each and would miss the foreign-key actions. The derived columns cannot be written
  by hand either: the tasks trigger recomputes them on any change to them;
- `notifications.request_id`: the API request that wrote an outbox row, so the notifier's log
  lines about its delivery carry the same id as the request's.

Revision ID: 0031
Revises: 0026
Create Date: 2026-12-03 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TASK_FUNCTION = """
CREATE FUNCTION tasks_departments() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.assignee_department_id := (SELECT department_id FROM users WHERE id = NEW.assignee_id);
    IF NEW.campaign_id IS NOT NULL THEN
        NEW.department_id := (SELECT department_id FROM campaigns WHERE id = NEW.campaign_id);
    ELSE
        NEW.department_id := (SELECT department_id FROM users WHERE id = NEW.reporter_id);
    END IF;
    RETURN NEW;
END
$$
"""

USER_FUNCTION = """
CREATE FUNCTION users_task_departments() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tasks SET assignee_department_id = NEW.department_id
    WHERE assignee_id = NEW.id AND assignee_department_id IS DISTINCT FROM NEW.department_id;
    UPDATE tasks SET department_id = NEW.department_id
    WHERE reporter_id = NEW.id AND campaign_id IS NULL AND department_id IS DISTINCT FROM NEW.department_id;
    RETURN NULL;
END
$$
"""

CAMPAIGN_FUNCTION = """
CREATE FUNCTION campaigns_task_departments() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tasks SET department_id = NEW.department_id
    WHERE campaign_id = NEW.id AND department_id IS DISTINCT FROM NEW.department_id;
    RETURN NULL;
END
$$
"""

BACKFILL = (
    "UPDATE tasks AS t SET assignee_department_id = u.department_id FROM users AS u WHERE u.id = t.assignee_id",
    "UPDATE tasks AS t SET department_id = c.department_id FROM campaigns AS c WHERE c.id = t.campaign_id",
    "UPDATE tasks AS t SET department_id = u.department_id FROM users AS u "
    "WHERE t.campaign_id IS NULL AND u.id = t.reporter_id",
)


def upgrade() -> None:
    op.add_column("tasks", sa.Column("department_id", sa.BigInteger(), nullable=True))
    op.add_column("tasks", sa.Column("assignee_department_id", sa.BigInteger(), nullable=True))
    for statement in BACKFILL:
        op.execute(statement)
    op.create_index("ix_tasks_board", "tasks", ["department_id", "id"])
    op.create_index("ix_tasks_assignee_department", "tasks", ["assignee_department_id", "id"])
    op.execute(TASK_FUNCTION)
    op.execute(
        "CREATE TRIGGER tasks_departments BEFORE INSERT OR UPDATE OF "
        "assignee_id, campaign_id, reporter_id, department_id, assignee_department_id ON tasks "
        "FOR EACH ROW EXECUTE FUNCTION tasks_departments()"
    )
    op.execute(USER_FUNCTION)
    op.execute(
        "CREATE TRIGGER users_task_departments AFTER UPDATE OF department_id ON users FOR EACH ROW "
        "WHEN (OLD.department_id IS DISTINCT FROM NEW.department_id) EXECUTE FUNCTION users_task_departments()"
    )
    op.execute(CAMPAIGN_FUNCTION)
    op.execute(
        "CREATE TRIGGER campaigns_task_departments AFTER UPDATE OF department_id ON campaigns FOR EACH ROW "
        "WHEN (OLD.department_id IS DISTINCT FROM NEW.department_id) EXECUTE FUNCTION campaigns_task_departments()"
    )
    op.add_column("notifications", sa.Column("request_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("notifications", "request_id")
    op.execute("DROP TRIGGER campaigns_task_departments ON campaigns")
    op.execute("DROP FUNCTION campaigns_task_departments()")
    op.execute("DROP TRIGGER users_task_departments ON users")
    op.execute("DROP FUNCTION users_task_departments()")
    op.execute("DROP TRIGGER tasks_departments ON tasks")
    op.execute("DROP FUNCTION tasks_departments()")
    op.drop_index("ix_tasks_assignee_department", table_name="tasks")
    op.drop_index("ix_tasks_board", table_name="tasks")
    op.drop_column("tasks", "assignee_department_id")
    op.drop_column("tasks", "department_id")
