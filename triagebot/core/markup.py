"""Comments that read right on each server: Markdown where it is rendered, plain text elsewhere.

bugzilla.mozilla.org renders a comment as Markdown when it is sent with `is_markdown: true`;
upstream Bugzilla 5.0 and 5.2 show every comment as typed, so `**Endorsed**` appears with its
asterisks. The comment templates are one set, written in a small Markdown subset that also
reads as plain text: `**strong**`, `` `code` ``, `- ` list items, bare URLs, blank lines
between paragraphs. For a plain-text server, `plain_text` drops the `**` and backtick markers
and nothing else, so the two formats cannot drift apart and a maintainer edits one file per
comment. (Two template sets would double every wording change; a Jinja filter per marker
would clutter every template.) `[bugzilla] markdown`: "auto" (BMO only), true or false.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# `**text**` on one line, text not starting or ending with a space (CommonMark's rule for a
# strong run), and `code` spans: the only Markdown the shipped templates use.
_STRONG = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_CODE = re.compile(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)")


def use_markdown(setting: str | bool, bugzilla_url: str) -> bool:
    """The `[bugzilla] markdown` setting resolved against the server."""
    if setting != "auto":
        return bool(setting)
    host = (urlsplit(bugzilla_url).hostname or "").lower()
    return host == "bugzilla.mozilla.org" or host.endswith(".bugzilla.mozilla.org")


def plain_text(markdown: str) -> str:
    """The comment as plain text: `**strong**` and `code` spans lose their markers."""
    return "\n".join(_CODE.sub(_unfence, _STRONG.sub(r"\1", line)) for line in markdown.split("\n"))


def _unfence(match: re.Match[str]) -> str:
    inner = match.group(2)
    padded = len(inner) > 2 and inner[0] == inner[-1] == " " and inner.strip(" ")
    return inner[1:-1] if padded else inner


def code(text: str) -> str:
    """`text` as a Markdown code span, shown exactly (no emphasis, no links): a fence longer
    than any run of backticks inside, and spaces around text that starts or ends with one."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"
