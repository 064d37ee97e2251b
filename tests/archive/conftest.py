"""The approvals tests' org (marketing and finance, a leadership group, the seeded defaults)."""

from tests.approvals.conftest import org  # noqa: F401
