"""Logs an operator can use: one line per write and per poll, each naming its rule and bug,
as text or as one JSON object per line (`--log-format json`, `[log] format = "json"`).

JSON lines come from python-json-logger: a Formatter for the standard `logging` module, so
every record the bot and its libraries already make (start-up, polls, writes, urllib3's retry
lines with -v) becomes one object with `timestamp`, `level`, `logger`, `message` and the
record's `extra` fields (`rule`, `bug`, `outcome`, ...), without a second logging API.
Every string in an object passes through the key redaction, as text lines do.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from triagebot.bugzilla.redaction import install_redaction, redact
from triagebot.core.bugs import Decision
from triagebot.files.config import LogFormat

log = logging.getLogger("triagebot.writes")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactingJsonFormatter(JsonFormatter):
    """One JSON object per record; no known key in any of its strings."""

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {key: _redacted(value) for key, value in log_data.items()}


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list | tuple):
        return [_redacted(v) for v in value]
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    return value


_handler: logging.StreamHandler[Any] | None = None


def setup(verbose: int, default: int = logging.WARNING, fmt: LogFormat = "text") -> None:
    """Logging for a command: to stderr, at `default` (or INFO with -v, DEBUG with -vv).
    Third-party chatter stays out unless asked for with -v: urllib3's retries, APScheduler's
    per-job lines, Alembic's "Context impl SQLiteImpl" at each start."""
    global _handler
    level = {0: default, 1: logging.INFO}.get(verbose, logging.DEBUG)
    # The handler has the level too: a logger set lower for a file of its own (the demo's
    # log) must not flood the terminal. No-op when the root logger has handlers already.
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    logging.basicConfig(level=level, format=TEXT_FORMAT, handlers=[handler])
    if handler in logging.getLogger().handlers:
        _handler = handler
    use_format(fmt)
    quiet = logging.WARNING if verbose == 0 else logging.NOTSET
    logging.getLogger("urllib3").setLevel(logging.ERROR if verbose == 0 else logging.NOTSET)
    logging.getLogger("apscheduler").setLevel(quiet)
    logging.getLogger("alembic").setLevel(quiet)
    install_redaction()


def use_format(fmt: LogFormat) -> None:
    """Switch the command's log lines to text or JSON (the configuration file, read after
    the command line, may ask for JSON)."""
    if _handler is None:
        return
    formatter = logging.Formatter(TEXT_FORMAT)
    if fmt == "json":
        formatter = RedactingJsonFormatter(
            "{levelname}{name}{message}",
            style="{",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp=True,
            json_ensure_ascii=False,
        )
    _handler.setFormatter(formatter)
    logging.captureWarnings(fmt == "json")  # a library's warning is a JSON line too


def say(level: int, text: str, prefix: str = "error: ") -> None:
    """A message of the command itself (a start-up error, a notice): a plain line on stderr,
    or in JSON mode a log record like every other line."""
    if _handler is not None and isinstance(_handler.formatter, JsonFormatter):
        logging.getLogger("triagebot").log(level, "%s", text)
    else:
        print(f"{prefix}{text}", file=sys.stderr)


# -- what a write says --------------------------------------------------------------------------
OUTCOME_WORDS = {
    "commented": "commented",
    "would-comment": "would comment (dry run)",
    "failed": "FAILED, retried next poll",
    "gave-up": "GAVE UP after the same error each time (`triagebot retry {bug}` puts it back)",
}


def write_line(
    rule: str,
    bug: int,
    outcome: str,
    change: Decision,
    needinfo: Sequence[str] = (),
    error: str | None = None,
    ref: str | None = None,
) -> None:
    """One line for one write: the rule, the bug, what was written (the kind of comment,
    the decision, tags and flags) and how it went."""
    kind = change.kind or "triage"
    wrote: dict[str, str] = {}  # what the PUT carried: field -> in words
    write = change.write
    if write is not None and write.comment is not None:
        wrote["comment"] = "comment"
    if write is not None and write.whiteboard is not None:
        wrote["whiteboard"] = "whiteboard"
    if needinfo:
        wrote["needinfo"] = "needinfo " + ", ".join(needinfo)
    if write is not None and write.clear_flags:
        wrote["clear_needinfo"] = f"{len(write.clear_flags)} needinfo cleared"
    community = f" ({change.community})" if change.community else ""
    words = OUTCOME_WORDS.get(outcome, outcome).format(bug=bug)
    text = f"rule {rule}: bug {bug}: {words}: {kind} {change.outcome}{community}"
    text += f": {', '.join(wrote.values()) or 'nothing'}"
    if error:
        text += f": {error}"
    fields = {
        "rule": rule,
        "bug": bug,
        "outcome": outcome,
        "kind": kind,
        "decision": change.outcome,
        "community": change.community,
        "wrote": list(wrote),
        "needinfo": list(needinfo),
        "ref": ref,
        "error": error,
    }
    done = outcome in ("commented", "would-comment")
    log.log(logging.INFO if done else logging.ERROR, text, extra=fields)
