"""The subject-type registry is the only list of timed item types: the events schema, the OpenAPI
document, the trail, the labels in messages and the seeded defaults all derive from it, and no
module outside a type's own domain spells the type's name."""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from shared import subjects
from shared.notify import events
from shared.notify.render import render, render_safely
from shared.sla import registry
from shared.trail import service as trail

ROOT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")
# Where a registered name may appear as a literal for another meaning: a database table, an
# enum of feedback kinds, OpenAPI tag names, a schema example.
ALLOWED = {
    ("shared/models/feedback.py", "feedback"),  # FeedbackKind.feedback and the table's name
    ("services/api/app.py", "collaboration"),  # OpenAPI tag
    ("services/api/app.py", "feedback"),  # OpenAPI tag
    ("services/api/routers/collaboration.py", "collaboration"),  # router tag
    ("services/api/routers/feedback.py", "feedback"),  # router tag
    ("shared/notify/events.py", "task"),  # the schema's example value
    # RectificationSource values (a stored VARCHAR + CHECK enum of where an item came from); equal to
    # the subject type's name on purpose, so (source, source_id) names that subject.
    ("shared/rectifications/models.py", "kpi_variance"),
    ("shared/rectifications/models.py", "feedback"),
}


def _declaring_file(spec: registry.SubjectSpec) -> str:
    module = type(spec.type).__module__
    return module.replace(".", "/") + ".py"


def _sla_payload(subject_type: str, tags: list[str]) -> dict:
    now = datetime(2026, 3, 2, 9, tzinfo=UTC).isoformat()
    return {
        "kind": "breach",
        "subject": {"type": subject_type, "id": 1, "title": "t", "status": "x", "tags": tags, "path": "/x"},
        "timer": {"id": 1, "policy_id": 1, "started_at": now, "due_at": now, "target": {"kind": "calendar"}},
        "level": 0,
        "repeat": 0,
        "recipients": [],
        "mentions": [],
    }


def test_every_domain_with_timed_items_is_registered():
    assert subjects.subject_types() == registry.subject_types()
    assert set(registry.names()) >= {
        "task",
        "campaign_stage",
        "review_request",
        "review_response",
        "approval_assignment",
        "collaboration",
        "feedback",
        "rectification",
    }


def test_events_schema_lists_exactly_the_registered_types():
    schema = events.EventSubject.model_json_schema()
    assert sorted(schema["properties"]["type"]["enum"]) == sorted(registry.names())


def test_committed_openapi_lists_exactly_the_registered_types_and_trail_items():
    doc = json.loads((ROOT / "docs" / "openapi.json").read_text())
    subject = doc["components"]["schemas"]["EventSubject"]["properties"]["type"]
    assert sorted(subject["enum"]) == sorted(registry.names())
    trail_param = next(
        p for p in doc["paths"]["/api/v1/trail/{subject_type}/{subject_id}"]["get"]["parameters"] if p["in"] == "path"
    )
    assert sorted(trail_param["schema"]["enum"]) == sorted(n for i in registry.trail_items() for n in i.names)


def test_the_trail_answers_to_the_names_of_the_routes_a_frontend_knows():
    """`/reviews/{id}` → `/trail/review/{id}`: every item's route name reaches that item, and its
    registered name still does."""
    routes = {
        "task": "task",
        "review": "review_request",
        "approval": "approval",
        "collaboration-request": "collaboration_request",
        "feedback": "feedback",
        "campaign": "campaign",
        "stage": "campaign_stage",
        "rectification": "rectification",
    }
    assert {route: trail.item_name(route) for route in routes} == routes
    assert {trail.item_name(name) for name in routes.values()} == set(routes.values())
    assert set(trail.item_names()) == {n for i in registry.trail_items() for n in i.names}


def test_a_trail_alias_cannot_name_two_items():
    taken = registry.trail_item("review")
    with pytest.raises(ValueError, match="already names"):
        registry.register_item(registry.TrailItem("gadget", taken.id_column, aliases=("review",)))


def test_every_trail_link_names_a_registered_item():
    items = set(trail.item_names())
    for spec in registry.subject_types():
        assert spec.trail, spec.name
        assert {link.item for link in spec.trail} <= items


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_messages_name_each_type_with_its_registered_label(locale):
    for spec in registry.subject_types():
        message = render("sla.breach", _sla_payload(spec.name, []), locale=locale, tz=TZ, sent_at=datetime.now(UTC))
        assert message.fields[0][1].startswith(f"{spec.labels[locale]} #1"), spec.name
        for tag, labels in spec.tag_labels.items():
            message = render(
                "sla.breach", _sla_payload(spec.name, [tag]), locale=locale, tz=TZ, sent_at=datetime.now(UTC)
            )
            assert message.fields[0][1].startswith(f"{labels[locale]} #1")


def test_an_unknown_type_is_an_error_not_a_guess():
    with pytest.raises(registry.UnknownSubjectType):
        registry.get("gadget")
    with pytest.raises(registry.UnknownSubjectType):
        render("sla.breach", _sla_payload("gadget", []), locale="en-US", tz=TZ, sent_at=datetime.now(UTC))
    # …and the alert still goes out, plain, rather than being lost.
    plain = render_safely("sla.breach", _sla_payload("gadget", []), locale="en-US", tz=TZ, sent_at=datetime.now(UTC))
    assert plain.title == "Closeloop: sla.breach"


def test_every_type_declares_default_policies_within_its_own_statuses():
    for spec in registry.subject_types():
        assert spec.default_policies, spec.name
        assert set(spec.default_start) <= set(spec.statuses)
        for _escalation, policy in spec.default_policies:
            assert "subject_type" not in policy  # the registry supplies it
            for key in ("start_statuses", "pause_statuses", "stop_statuses", "cancel_statuses"):
                assert set(policy.get(key, [])) <= set(spec.statuses), (spec.name, key)


def test_no_module_outside_its_domain_spells_a_subject_type():
    declared = {spec.name: _declaring_file(spec) for spec in registry.subject_types()}
    found = []
    for path in sorted([*ROOT.glob("shared/**/*.py"), *ROOT.glob("services/**/*.py")]):
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            spelled = isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in declared
            if spelled and rel != declared[node.value] and (rel, node.value) not in ALLOWED:
                found.append(f"{rel}:{node.lineno} {node.value!r}")
    assert found == [], "use the domain's enum member instead: " + ", ".join(found)


def test_audit_and_timer_calls_name_items_through_their_enums():
    """`entity_type=` / `subject_type=` arguments naming a registered item are the domain's enum member,
    never a literal that could drift from the registry."""
    names = set(registry.names()) | {n for i in registry.trail_items() for n in i.names}
    found = []
    for path in sorted([*ROOT.glob("shared/**/*.py"), *ROOT.glob("services/**/*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg in ("entity_type", "subject_type"):
                value = node.value
                if isinstance(value, ast.Constant) and value.value in names:
                    found.append(f"{path.relative_to(ROOT)}:{node.value.lineno} {value.value!r}")
    assert found == [], ", ".join(found)
