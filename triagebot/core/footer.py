"""The bot's signature on its comments: the footer line, and reading it back.

Bugzilla is the record of what the bot wrote: the footer names the rule, a follow-up's kind
and the write's unique ref, by which the bot recognises its own comment after a crash or a
lost database (`bugstate.own` says which comments are the bot's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A follow-up names its kind between the rule and the ref: `(rule R; confirmation; ref X)`.
_FOOTER = re.compile(
    r"^-- triagebot \(rule (?P<rule>[^;()\n]+)(?:; (?P<kind>[a-z-]+))?; ref (?P<ref>[^)\s]+)\)\s*$",
    re.M,
)


@dataclass(frozen=True, slots=True)
class Footer:
    rule: str
    ref: str
    kind: str | None = None  # a follow-up's kind; None on the first comment


def footer_line(rule: str, ref: str, kind: str | None = None) -> str:
    """The last line of every comment the bot posts."""
    middle = f"; {kind}" if kind else ""
    return f"-- triagebot (rule {rule}{middle}; ref {ref})"


def parse_footer(text: str) -> Footer | None:
    """The last footer in `text`, if any."""
    for found in reversed(list(_FOOTER.finditer(text))):
        return Footer(found["rule"].strip(), found["ref"], found["kind"])
    return None
