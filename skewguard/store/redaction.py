"""Secrets out of every message: Redis passwords never reach a terminal, a log or a report.

Two layers:

- **Known secrets.** Every password the connection helper (`skewguard.store.connection`)
  parses is registered here, in its plain, percent-encoded and JSON-escaped spellings;
  `redact` replaces each occurrence with `***`. This catches a password wherever a
  third-party exception happens to repeat it. Secrets shorter than `MIN_SECRET` characters
  are not registered (replacing every "ab" in every message would make errors unreadable);
  the second layer still hides them inside connection strings.
- **Connection-string shapes.** `password=<value>` (Feast's format) and the user-info part
  of `redis://user:password@host` URLs are masked whatever the password is.

`redact` is applied where text leaves the process: CLI error lines, event-publishing
failures, the retrain journal and dead-letter reasons, and, in the CLI, every log record
(`install_log_redaction` puts `RedactingFilter` on the handlers log records reach).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from urllib.parse import quote

__all__ = [
    "MASK",
    "MIN_SECRET",
    "register_secret",
    "redact",
    "RedactingFilter",
    "install_log_redaction",
]

MASK = "***"
MIN_SECRET = 4

_lock = threading.Lock()
_secrets: set[str] = set()
_ordered: tuple[str, ...] = ()

# `password=...` up to the next comma or whitespace (Feast's connection-string format);
# a JSON-quoted value may hold escaped commas, so a quoted value runs to its closing quote.
_OPTION = re.compile(r"""(?i)\b(password|ssl_password)=("(?:\\.|[^"\\])*"|[^,\s'"]*)""")
# redis://user:password@host, rediss://:password@host
_URL_USERINFO = re.compile(r"(?i)\b(rediss?://[^:/@\s]*:)([^@\s]*)@")


def register_secret(secret: str | None) -> None:
    """Remember `secret` so that `redact` hides it from now on."""
    if not secret or len(secret) < MIN_SECRET:
        return
    spellings = {secret, quote(secret, safe=""), json.dumps(secret)[1:-1]}
    global _ordered
    with _lock:
        if spellings <= _secrets:
            return
        _secrets.update(spellings)
        # Longest first: a secret that contains another is replaced whole.
        _ordered = tuple(sorted(_secrets, key=len, reverse=True))


def redact(text: object) -> str:
    """`text` as a string with every known secret and connection-string password masked."""
    out = str(text)
    for secret in _ordered:
        if secret in out:
            out = out.replace(secret, MASK)
    out = _OPTION.sub(lambda m: f"{m.group(1)}={MASK}", out)
    return _URL_USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", out)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the formatted message of every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not format: leave it to logging
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_log_redaction() -> None:
    """Redact every record that reaches the root logger's handlers, or Python's last-resort
    stderr handler when none is configured (the CLI's case). Idempotent."""
    handlers = [*logging.getLogger().handlers]
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for handler in handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
