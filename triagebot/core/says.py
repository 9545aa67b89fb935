"""How a declared field is talked about when a hand-edited file gets it wrong.

The registry's types are the core's in-memory types and also the declaration of its files
(`triagebot.core.registry`), so the words an error uses about a field sit on the field, here
in the core; `triagebot.files.problems` turns pydantic's errors into `file:line: field:
message` lines with them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from pydantic_core import PydanticCustomError

INVALID = "invalid"


def invalid(message: str) -> PydanticCustomError:
    """The error a validator raises: reported as `message`, at the validated field."""
    return PydanticCustomError(INVALID, message)


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """ "; did you mean 'x'?" for the closest choice, or ""."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


class Say:
    """`Annotated` metadata saying how a field is talked about: `noun` completes "expected
    ..., got ..." and `messages` replace the message of one pydantic error type. Messages may
    use {value} (the value as written), {got} (described) and {key} (the last path key)."""

    def __init__(self, noun: str | None = None, **messages: str) -> None:
        self.noun = noun
        self.messages = messages

    def __hash__(self) -> int:  # metadata must be hashable for pydantic's caches
        return id(self)
