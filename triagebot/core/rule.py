"""A loaded rule: the plain data the decision and the poll read.

Kept apart from `triagebot.files.rules` (which loads and checks rule files, and renders sample
contexts with `triage` and `followup`) so that those modules can name `Rule` without an import
cycle.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Template

COMMANDS = ("endorse", "decline")  # the follow-up commands a delegate may give
DEFAULT_STALE_AFTER_DAYS = 14
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class OutcomeAction:
    """What a rule does for one outcome: the comment template, tags to add, whom to ask."""

    template: str
    whiteboard: tuple[str, ...]
    needinfo: str


@dataclass(frozen=True)
class Followup:
    """What a rule does after its first comment (`[followup]`; absent: nothing)."""

    commands: tuple[str, ...] = COMMANDS  # which of /endorse, /decline count
    retriage: bool = True  # the reporter's answer naming one community re-decides the bug
    stale_after_days: int = DEFAULT_STALE_AFTER_DAYS
    remind: bool = False  # post one reminder when the bug turns stale
    templates: Mapping[str, Template] = field(default_factory=dict, repr=False, compare=False)
    template_names: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    name: str
    path: Path
    product: str
    components: tuple[str, ...]
    directory_url: str | None
    needinfo_cap: int
    outcomes: dict[str, OutcomeAction]
    # Compiled at load, by outcome; templates never see anything but the context passed in.
    templates: Mapping[str, Template] = field(default_factory=dict, repr=False, compare=False)
    followup: Followup | None = None

    def watches(self, product: str, component: str) -> bool:
        return product == self.product and component in self.components

    def render(self, outcome: str, context: dict[str, Any]) -> str:
        """The comment body for `outcome`: the template's output, tidied."""
        return tidy(self.templates[outcome].render(context))

    def render_followup(self, kind: str, context: dict[str, Any]) -> str:
        """The comment body of follow-up `kind` (confirmation, decline, ...)."""
        assert self.followup is not None
        return tidy(self.followup.templates[kind].render(context))


def tidy(text: str) -> str:
    """No trailing spaces, at most one blank line in a row, no blank lines around."""
    lines = "\n".join(line.rstrip() for line in text.splitlines())
    return _BLANK_LINES.sub("\n\n", lines).strip("\n")
