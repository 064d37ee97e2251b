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


# ---- customer data (PIPL: personal information shown only to those who handle it) ----------------
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# A mainland mobile (optionally +86), a landline with its area code, or any run of 7+ digits with
# the usual separators: contact data wherever it is typed.
_PHONE = re.compile(r"(?<![0-9A-Za-z@.])\+?\d[\d -]{5,}\d(?![0-9A-Za-z@])")
_DIGITS_IN_PHONE = 7


def mask_name(name: str) -> str:
    """`张三` → `张*`, `欧阳娜娜` → `欧***`: the first character and one star per character hidden."""
    name = name.strip()
    return name[:1] + "*" * (len(name) - 1) if len(name) > 1 else "*" * len(name)


def mask_contact(contact: str) -> str:
    """`13812345678` → `138****5678`, `alice@example.com` → `a***@example.com`; any other handle
    (a WeChat id …) keeps its first character only."""
    contact = contact.strip()
    if _EMAIL.fullmatch(contact):
        local, _, domain = contact.partition("@")
        return f"{local[:1]}***@{domain}"
    digits = re.sub(r"\D", "", contact)
    if len(digits) >= _DIGITS_IN_PHONE and not re.search(r"[^\d\s()+-]", contact):
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    return contact[:1] + "***" if contact else contact


def scrub_contacts(text: str) -> str:
    """Free text with every email address and phone number in it masked (`mask_contact`)."""
    text = _EMAIL.sub(lambda m: mask_contact(m.group(0)), text)
    return _PHONE.sub(
        lambda m: mask_contact(m.group(0)) if len(re.sub(r"\D", "", m.group(0))) >= _DIGITS_IN_PHONE else m.group(0),
        text,
    )
