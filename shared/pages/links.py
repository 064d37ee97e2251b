"""Where a chat card's button leads: the team's frontend (`CLOSELOOP_APP_URL`) or Closeloop's own
read-only item page behind a signed, expiring link (`shared.links`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared import subjects  # noqa: F401 — every subject type is registered: templates are checked against them
from shared.links import signed_path
from shared.settings import Settings, app_url_templates
from shared.sla import registry


def page_path(subject_type: str, subject_id: int) -> str:
    """The item page in the API (what the link signs)."""
    return f"/api/v1/pages/{subject_type}/{subject_id}"


@dataclass(frozen=True)
class PageLinks:
    public_url: str
    secret: str
    ttl: timedelta
    templates: dict[str, str] | str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.templates, dict):
            unknown = sorted(set(self.templates) - set(registry.names()))
            if unknown:
                raise ValueError(
                    f"CLOSELOOP_APP_URL names unknown item types {unknown}; known: {', '.join(registry.names())}"
                )

    def url(self, subject_type: str, subject_id: int, *, now: datetime) -> str:
        """The frontend's page for the item when one is configured for its type, else the signed page."""
        if isinstance(self.templates, str):
            return self.templates.format(type=subject_type, id=subject_id)
        if self.templates and subject_type in self.templates:
            return self.templates[subject_type].format(id=subject_id)
        path = signed_path(page_path(subject_type, subject_id), expires_at=now + self.ttl, secret=self.secret)
        return f"{self.public_url}{path}"


def page_links(settings: Settings) -> PageLinks:
    """The deployment's links (raises ValueError at start-up for an app URL naming an unknown type)."""
    return PageLinks(
        public_url=settings.public_url,
        secret=settings.secret_key.get_secret_value(),
        ttl=timedelta(days=settings.item_link_ttl_days),
        templates=app_url_templates(settings.app_url) if settings.app_url else None,
    )
