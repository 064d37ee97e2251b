"""Credentials that live inside URLs, masked before a URL is written anywhere people read (the
audit log, log lines, delivery errors): a Feishu bot's hook token (`/open-apis/bot/v2/hook/<token>`),
DingTalk's `access_token`, WeCom's `key`, and the usual secret-bearing query parameters."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"


def mask(secret: str) -> str:
    """`***` and a short fingerprint: a reader sees that a credential changed, never what it is."""
    return MASK + hashlib.sha256(secret.encode()).hexdigest()[:6]


SECRET_PARAMS = frozenset({"access_token", "key", "token", "sign", "signature", "secret", "sig", "password"})
# A path segment after /hook/ is the bot's credential (Feishu and Lark: open-apis/bot/v2/hook/<token>).
_HOOK_TOKEN = re.compile(r"(/hook/)[^/?#]+")


def redact_url(url: str) -> str:
    """The URL with each credential replaced by `***` and a fingerprint (unparsable text: `***`)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    path = _HOOK_TOKEN.sub(lambda m: m.group(1) + mask(m.group(0)[len(m.group(1)) :]), parts.path)
    query = urlencode(
        [(k, mask(v) if k.lower() in SECRET_PARAMS else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)],
        safe="*",
    )
    netloc = parts.netloc
    if parts.password:  # user:password@host
        netloc = f"{parts.username}:{mask(parts.password)}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, path, query, parts.fragment))


def loggable_url(url: str) -> str:
    """A URL as a log line or an error message may show it: credentials masked as in the audit
    log, and every query value masked (a search for a customer's mobile is as private as the mobile)."""
    parts = urlsplit(redact_url(url))
    if not parts.query:
        return parts.geturl()
    query = "&".join(f"{k}=***" for k, _ in parse_qsl(parts.query, keep_blank_values=True))
    return parts._replace(query=query).geturl()


_URL = re.compile(r"https?://[^\s'\"<>]+")


def mask_urls(text: str) -> str:
    """Free text (an exception's message, a traceback) with every URL in it as `loggable_url`."""
    return _URL.sub(lambda m: loggable_url(m.group(0)), text) if "://" in text else text
