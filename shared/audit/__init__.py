"""Audit trail: every write records actor, action, entity, before and after."""

from shared.audit.service import record, snapshot

__all__ = ["record", "snapshot"]
