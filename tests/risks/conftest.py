"""The approvals tests' org (planner → manager → marketing director), reused for risks."""

from tests.approvals.conftest import org

__all__ = ["org"]
