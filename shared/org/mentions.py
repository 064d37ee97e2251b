"""The ids chat tools mention a user by: checked when saved, so a bad one fails at the form, not
silently as a mention that does not render when an alert goes out."""

from __future__ import annotations

import re
from collections.abc import Callable

from pydantic_core import PydanticCustomError

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


def _checked(normalise: Callable[[str], str | None], rule: str) -> Callable[[str], str]:
    """A schema validator: the id as stored, or a `format` error stating the rule in words. It runs
    with the schema's other checks, so one 422 lists a bad email, mobile and open_id together."""

    def validate(value: str) -> str:
        if value == "":
            raise PydanticCustomError("format", "empty: send null to clear it")
        normalised = normalise(value)
        if normalised is None:
            raise PydanticCustomError("format", "expected {rule}", {"rule": rule})
        return normalised

    return validate


def _matching(pattern: re.Pattern[str]) -> Callable[[str], str | None]:
    return lambda value: value if pattern.fullmatch(value) else None


valid_mobile = _checked(normalise_mobile, MOBILE_RULE)
valid_feishu_open_id = _checked(_matching(FEISHU_OPEN_ID), FEISHU_RULE)
valid_dingtalk_user_id = _checked(_matching(DINGTALK_USER_ID), DINGTALK_RULE)
valid_wecom_user_id = _checked(_matching(WECOM_USER_ID), WECOM_RULE)
