"""Keeping the API key out of everything shown: messages, exceptions and log records.

python-bugzilla puts `Bugzilla_api_key=KEY` in every URL (upstream Bugzilla 5.0/5.2 only take
it there), and URLs end up in exception messages and urllib3's debug log; so every message is
redacted, and a logging filter rewrites log records of urllib3, python-bugzilla, requests and
triagebot. With `key_in="header"` (bugzilla.mozilla.org) no URL carries the key at all.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import quote, quote_plus

REDACTED = "<redacted>"

_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
_KEY_IN_QUERY = re.compile(r"((?:Bugzilla_)?api_key=)[^&\s'\"#)]+", re.IGNORECASE)
_KEY_IN_HEADER = re.compile(r"(X-BUGZILLA-API-KEY['\"]?\s*[:=]\s*['\"]?)[^'\"\s,}]+", re.IGNORECASE)
_REDACTED_LOGGERS = ("urllib3", "bugzilla", "requests", "triagebot")
# A REST path's query string (search terms, the key's parameter name) is never shown.
_QUERY_OF_REST_PATH = re.compile(r"(/rest/[^\s?'\"#)]*)\?[^\s'\"#)]*")


def redact(text: str) -> str:
    """`text` without any known key, nor any value of an api_key parameter or header."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _KEY_IN_QUERY.sub(lambda m: m.group(1) + REDACTED, text)
    text = _QUERY_OF_REST_PATH.sub(lambda m: m.group(1), text)
    return _KEY_IN_HEADER.sub(lambda m: m.group(1) + REDACTED, text)


class RedactingFilter(logging.Filter):
    """Rewrites a log record whose message, exception or stack mentions a key. It returns True
    always: records are cleaned, never dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            message = str(record.msg)
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactingFilter()


def install_redaction(*secrets: str | None) -> None:
    """Install the redacting filter where records are made (urllib3, python-bugzilla, requests,
    triagebot and their existing child loggers: a logger's filters do not apply to records of
    its children) and on the root logger's handlers. Idempotent; call again after creating
    handlers or importing modules with new loggers."""
    for secret in secrets:  # in every form it can take in a URL
        if secret and len(secret) >= 4:  # a 1-3 character "key" would mangle every log line
            with _SECRETS_LOCK:
                _SECRETS.update({secret, quote(secret, safe=""), quote_plus(secret)})
    names = set(_REDACTED_LOGGERS)
    for name in list(logging.Logger.manager.loggerDict):
        if name.split(".", 1)[0] in _REDACTED_LOGGERS:
            names.add(name)
    targets: list[logging.Filterer] = [logging.getLogger(n) for n in sorted(names)]
    targets.extend(logging.getLogger().handlers)
    for target in targets:
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)
