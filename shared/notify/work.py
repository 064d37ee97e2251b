"""Work-arrival event kinds: people are told when work reaches them, not only when it is late.

One spelling for each kind: the outbox's `event_type`, the generic webhook's `type`, and the
`event` of a subscription (`/api/v1/notification-subscriptions`)."""

from __future__ import annotations

from enum import StrEnum


class WorkEvent(StrEnum):
    review_requested = "work.review_requested"
    approval_waiting = "work.approval_waiting"
    collaboration_received = "work.collaboration_received"
    complaint_received = "work.complaint_received"
    stage_advanced = "work.stage_advanced"
    campaign_completed = "work.campaign_completed"
    decision_made = "work.decision_made"

    @property
    def kind(self) -> str:
        """The kind without its `work.` prefix (the event's `data.kind`)."""
        return self.value.removeprefix("work.")


DESCRIPTIONS: dict[WorkEvent, str] = {
    WorkEvent.review_requested: "a review round opened: each reviewer (a named person, or the reviewing department's "
    "head) in their department's group, @mentioned",
    WorkEvent.approval_waiting: "an approval step became active: each approver on it, in their department's group",
    WorkEvent.collaboration_received: "a collaboration request was created: each collaborating department's group, "
    "its head @mentioned",
    WorkEvent.complaint_received: "customer feedback of kind complaint was recorded: the owning department's group at "
    "once, the owner (else the head) @mentioned",
    WorkEvent.stage_advanced: "a campaign left a stage through its gate: the campaign's department, the next stage's "
    "owner @mentioned",
    WorkEvent.campaign_completed: "a campaign left its last stage: the campaign's department, its owner @mentioned",
    WorkEvent.decision_made: "an approval was decided or a review concluded (approved, rejected, changes requested): "
    "the requester, in their department's group",
}
# Every kind is on unless a subscription switches it off: work that arrives unannounced is the
# problem this solves, and a team that finds one kind noisy switches it off for its group.
DEFAULT_ENABLED: dict[WorkEvent, bool] = dict.fromkeys(WorkEvent, True)
