"""What happens when an approval of a kind is decided: the domain that owns the kind registers it."""

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import Approval, ApprovalKind

Decided = Callable[[AsyncSession, Approval, datetime], Awaitable[None]]
_HOOKS: dict[str, Decided] = {}


def on_approval_decided(kind: ApprovalKind) -> Callable[[Decided], Decided]:
    def decorate(fn: Decided) -> Decided:
        _HOOKS[str(kind)] = fn
        return fn

    return decorate


async def run_decided_hooks(session: AsyncSession, approval: Approval, now: datetime) -> None:
    hook = _HOOKS.get(str(approval.kind))
    if hook is not None:
        await hook(session, approval, now)
