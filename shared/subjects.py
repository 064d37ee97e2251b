"""The one list of domains with timed items: importing this module registers every SLA subject
type and trail item (see `shared.sla.registry`). Adding a type: its domain package declares it in
its own `sla.py`, and one line here imports that package's service (which imports its `sla.py`
and registers what is cancelled with a campaign)."""

from shared.approvals import service as _approvals  # noqa: F401
from shared.budget import service as _budget  # noqa: F401 — expense approvals decided, campaign cascade
from shared.campaigns import sla as _campaigns  # noqa: F401 — the "campaign" trail item
from shared.collaboration import service as _collaboration  # noqa: F401
from shared.feedback import service as _feedback  # noqa: F401
from shared.goals import service as _goals  # noqa: F401 — the "goal" trail item; decides goal approvals
from shared.kpis import service as _kpis  # noqa: F401
from shared.rectifications import service as _rectifications  # noqa: F401
from shared.reports import models as _reports  # noqa: F401 — not timed: its tables join Base.metadata here
from shared.reviews import service as _reviews  # noqa: F401
from shared.risks import service as _risks  # noqa: F401 — risk reviews, the "risk" trail item
from shared.roi import service as _roi  # noqa: F401
from shared.sla import extensions as _extensions  # noqa: F401 — decides extension approvals (申请延期)
from shared.sla.registry import subject_types
from shared.tasks import service as _tasks  # noqa: F401
from shared.workflow import stages as _stages  # noqa: F401

__all__ = ["subject_types"]
