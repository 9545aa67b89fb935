"""The registry's two file formats: people.toml and communities/SLUG.toml.

What an entry may hold is declared once, on the core's own types (`triagebot.core.registry`):
validating a file gives the `Person` and `Community` objects the bot looks things up in. The
one thing a file adds is the key an entry is filed under, which is not written inside it: a
person's handle is its table's name, a community's slug its file name. `People` puts the
handles in before validation, the loader a community's slug (`triagebot.files.validate`
reports a `handle` or `slug` written inside as an unknown key).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator

from triagebot.core.registry import Handle, Person
from triagebot.core.says import Say


def _with_handles(tables: Any) -> Any:
    if not isinstance(tables, dict):
        return tables
    return {
        handle: {**table, "handle": handle} if isinstance(table, dict) else table
        for handle, table in tables.items()
    }


PERSON_SAY = Say("a table of person fields ([{key}] then name = ...)")
People = Annotated[  # people.toml: a table per handle
    dict[Handle, Annotated[Person, PERSON_SAY]], BeforeValidator(_with_handles)
]
