"""Secrets of the annotation app: tokens, hashes, CSRF tokens and log redaction.

Invite and admin tokens are 192-bit random strings, so a plain SHA-256 is enough to store
them (no password stretching needed) and lets the server find an annotator by the hash of
the token in the URL. CSRF tokens are an HMAC of the annotator id and a per-browser nonce
kept in a cookie (a signed double submit): a forged cross-site form cannot know the nonce,
and a token copied from one annotator's page is useless with another's id.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Mapping
from typing import Any

TOKEN_BYTES = 24
ID_BYTES = 9

# Invite links look like /a/<token>... (annotators) or /r/<token>... (respondents); admin
# tokens travel as "Bearer <token>" or in forms.
_PATH_TOKEN = re.compile(r"(/[ar]/)[A-Za-z0-9_\-]{16,}")
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9_\-\.]+", re.IGNORECASE)
_FIELD = re.compile(r"((?:token|secret|csrf)=)[A-Za-z0-9_\-\.%]+", re.IGNORECASE)
REDACTED = "[redacted]"


def new_token() -> str:
    """A secret for an invite link or the admin."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_id() -> str:
    """A random opaque id (items, assignments): never sequential, never meaningful."""
    return secrets.token_urlsafe(ID_BYTES)


def new_key() -> str:
    """A server-side HMAC key."""
    return secrets.token_hex(32)


def hash_token(token: str) -> str:
    """What the database keeps instead of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def sign(key: str, *parts: str) -> str:
    """HMAC-SHA256 of ``parts`` (joined unambiguously) under ``key``."""
    message = "\x1f".join(parts).encode("utf-8")
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def csrf_token(key: str, subject: str, nonce: str) -> str:
    """The CSRF token a form of ``subject`` (an annotator id) must carry for this browser."""
    return sign(key, "csrf", subject, nonce)


def check_csrf(key: str, subject: str, nonce: str | None, submitted: str | None) -> bool:
    """Constant-time check of a submitted CSRF token against the cookie's nonce."""
    if not nonce or not submitted:
        return False
    return hmac.compare_digest(csrf_token(key, subject, nonce), submitted)


def redact(text: str) -> str:
    """``text`` with anything that looks like a token replaced by ``[redacted]``."""
    text = _PATH_TOKEN.sub(lambda m: m.group(1) + REDACTED, text)
    text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
    return _FIELD.sub(lambda m: m.group(1) + REDACTED, text)


def _redact_value(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactingFilter(logging.Filter):
    """Rewrites log records so no token reaches a log file.

    The arguments are redacted in place rather than pre-formatting the message, because
    uvicorn's access formatter unpacks ``record.args`` itself.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_value(a) for a in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {k: _redact_value(v) for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text, so the traceback is redacted once, here.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


LOGGERS = ("uvicorn", "uvicorn.access", "uvicorn.error", "fastapi", "chatanime")


def install_log_redaction() -> None:
    """Attach the filter to the loggers that see request paths (idempotent)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's default logging config with the redacting filter on every handler."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": f"{__name__}.RedactingFilter"}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact"]
    return config
