"""The ids chat tools mention a user by: checked when saved, so a bad one fails at the form, not
silently as a mention that does not render when an alert goes out."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from shared.errors import FieldError, InvalidInput

if TYPE_CHECKING:
    from shared.org.schemas import UserCreate, UserUpdate

_SEPARATORS = re.compile(r"[ \-]")
_CN_MOBILE = re.compile(r"(?:\+?86)?(1[3-9]\d{9})")
_E164 = re.compile(r"\+[1-9]\d{7,14}")
# Feishu open_ids are `ou_` and 32 hex digits today; the column holds 64 characters in all.
FEISHU_OPEN_ID = re.compile(r"ou_[0-9a-z]{20,61}")
DINGTALK_USER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
WECOM_USER_ID = re.compile(r"[A-Za-z0-9_.@-]{1,64}")

MOBILE_RULE = (
    "a mainland China mobile (11 digits starting 13 to 19, optionally after +86 or 86) "
    "or an international number in E.164 (+ and 8–15 digits)"
)
FEISHU_RULE = "ou_ and 20–61 lowercase letters or digits"
DINGTALK_RULE = "1–64 letters, digits, _ or -"
WECOM_RULE = "1–64 letters, digits, _ . @ or -"


def normalise_mobile(value: str) -> str | None:
    """A mainland mobile as its 11 digits, any other number as E.164 `+<digits>`; None if neither.
    Spaces and hyphens between digits are dropped."""
    compact = _SEPARATORS.sub("", value)
    if m := _CN_MOBILE.fullmatch(compact):
        return m.group(1)
    if compact.startswith("+86"):  # China, but no mobile: a landline cannot be @mentioned
        return None
    return compact if _E164.fullmatch(compact) else None


def _matching(pattern: re.Pattern[str]) -> Callable[[str], str | None]:
    return lambda value: value if pattern.fullmatch(value) else None


_CHECKS: dict[str, tuple[Callable[[str], str | None], str]] = {
    "mobile": (normalise_mobile, MOBILE_RULE),
    "feishu_open_id": (_matching(FEISHU_OPEN_ID), FEISHU_RULE),
    "dingtalk_user_id": (_matching(DINGTALK_USER_ID), DINGTALK_RULE),
    "wecom_user_id": (_matching(WECOM_USER_ID), WECOM_RULE),
}


def check_mention_ids(data: UserCreate | UserUpdate) -> dict[str, str | None]:
    """The mention ids the command sets, normalised (null clears one); InvalidInput naming every
    malformed one."""
    out: dict[str, str | None] = {}
    errors: list[FieldError] = []
    for field, (check, rule) in _CHECKS.items():
        if field not in data.model_fields_set:
            continue
        value: str | None = getattr(data, field)
        if value is None:
            out[field] = None
        elif value == "":
            errors.append(FieldError(field, "empty: send null to clear it", "format"))
        elif (normalised := check(value)) is None:
            errors.append(FieldError(field, f"expected {rule}", "format"))
        else:
            out[field] = normalised
    if errors:
        raise InvalidInput.for_fields(errors)
    return out
