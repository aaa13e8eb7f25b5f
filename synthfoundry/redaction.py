"""Keys never leave the process: one function scrubs them from any text that becomes a ledger reason, a log line,
an error message or a cached answer.

Known key values (the teacher's own) are replaced wherever they appear; text that looks like a provider key or a
bearer token is replaced even when its value is not known here (a key echoed by a proxy, a fallback's key).
The library never touches logging's handlers: the entry point installs `RedactingFilter` on the ones it writes to
(tasks/runs.py `redact_logs`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

MASK = "***"
_LOOKS_LIKE_A_KEY = re.compile(
    r"\b(?:sk-(?:ant-|proj-)?[A-Za-z0-9_-]{12,}|(?:Bearer|x-api-key:?)\s+[A-Za-z0-9._~+/=-]{8,})", re.IGNORECASE
)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    for secret in secrets:
        if secret and len(secret) >= 6 and secret in text:
            text = text.replace(secret, MASK)
    return _LOOKS_LIKE_A_KEY.sub(MASK, text)


class RedactingFilter(logging.Filter):
    """A log handler filter that redacts every record's message (its arguments included) before it is written."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        self.secrets = {s for s in secrets if s}

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            text = str(record.exc_info[1])
            if redact(text, self.secrets) != text:  # the traceback would print the key: print its redacted message
                record.msg, record.args = f"{clean} ({type(record.exc_info[1]).__name__}: {redact(text, self.secrets)})", None
                record.exc_info = record.exc_text = None
        return True

