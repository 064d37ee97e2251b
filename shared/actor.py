"""Who is acting: a user through a token, the CLI, or a background process."""

from __future__ import annotations

from dataclasses import dataclass

from shared.models.org import Role

API = "api"  # the audit log's `source` of a change made through the API


@dataclass(frozen=True)
class Actor:
    label: str  # "user:3", "cli", "system:worker"
    user_id: int | None = None
    role: Role = Role.viewer
    department_id: int | None = None  # the user's department: where a role below director applies
    token_id: int | None = None  # the API token this request came with (audited on every row)
    # The token was minted by someone other than its holder (an admin acting as a user): it shows,
    # and it cannot approve or answer a review "as" them.
    on_behalf: bool = False
    # Where the change comes from, kept in the audit log: `api`, or the chat a person acted in
    # (`feishu`, `dingtalk`, `wecom`); None for the CLI and background processes.
    source: str | None = None

    @classmethod
    def user(
        cls,
        user_id: int,
        role: Role,
        department_id: int | None = None,
        *,
        token_id: int | None = None,
        on_behalf: bool = False,
        source: str = API,
    ) -> Actor:
        return cls(
            label=f"user:{user_id}",
            user_id=user_id,
            role=role,
            department_id=department_id,
            token_id=token_id,
            on_behalf=on_behalf,
            source=source,
        )

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(label=f"system:{name}", role=Role.admin)

    def at_least(self, role: Role) -> bool:
        return self.role.rank >= role.rank

    @property
    def sees_everything(self) -> bool:
        """Directors, admins and background processes are not limited to a department."""
        return self.at_least(Role.director)
