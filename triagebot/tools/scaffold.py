"""`triagebot init [DIR]`: a deployment to edit, not the demo's fictional one.

It writes `triagebot.toml` (the commented example configuration, dry run), `rules/` (the
shipped rule and its templates, with the directory link left to fill in) and `data/` (an
empty registry that passes `registry check`, with one commented example entry, and the JSON
Schemas editors use). Nothing is overwritten. Until the registry lists real delegates and
the link is real, `--live` refuses (golive.py), so a scaffold cannot go live by accident.

The rule, templates, example configuration and policy are the shipped ones (`triagebot.shipped`:
the checkout's, or the wheel's copy of them), so `init` always copies what the tests check.
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

from triagebot import shipped
from triagebot.files import schema

CREATED = ("triagebot.toml", "rules", "data")
PLACEHOLDER_URL = "https://directory.example.org/CHANGE-ME"

_DIRECTORY_URL = re.compile(r"^directory_url\s*=.*$", re.M)
_START = re.compile(r"^start\s*=.*$", re.M)
# The example's advice to copy it, which the copy `init` made has no use for.
_COPY_TO = re.compile(
    r"Copy to triagebot\.toml \(found automatically in the current\s*#\s*directory\), "
    r"or pass --config FILE, or set \$TRIAGEBOT_CONFIG\."
)
FOUND = (
    "Found automatically when triagebot runs in\n"
    "# this directory; from elsewhere, pass --config FILE or set $TRIAGEBOT_CONFIG."
)

CONFIG_HEADER = """\
# Made by `triagebot init` on {day}. A dry run until you pass --live (or set [run] dry_run =
# false); --live is refused while data/ lists no real delegate or rules/ has a placeholder
# directory_url. README, "Use it on your Bugzilla", walks through each step.

"""

PEOPLE = """\
{directive}
# People: everyone who holds or held a role in a community, or looks after one of its
# resources, once each, under a short handle that community files refer to. Logins are
# matched exactly (case aside): list every Bugzilla login that is the person.
# Only contacts with `public = true` are ever published (comments, the directory page).
#
# Uncomment and adapt; then describe the community in communities/SLUG.toml, e.g.
# communities/mozilla-example.toml (the file name is the community's slug):
#
#   #:schema ../schema/community.schema.json
#   name = "Mozilla Example"
#   status = "active"                  # active | dormant | retired
#   reviewed = {day}               # last time someone confirmed this file
#   governance = {{ model = "elected board", term_months = 24 }}
#
#   [[delegates]]
#   person = "alex"
#   title = "Chair"
#   since = {day}
#
# Check with `triagebot registry check` (every problem, with file and line).

# [alex]
# name = "Alex Example"
# bugzilla_id = 123456                       # optional; keeps matching after a login change
# emails = ["alex@example.org"]              # their Bugzilla login(s)
# contacts = [
#   {{ kind = "matrix", value = "@alex:example.org", public = true }},
#   {{ kind = "phone", value = "+1 555 0100", public = false }},   # never posted
# ]
"""


class InitError(Exception):
    """Why `init` wrote nothing: one line."""


def init(target: Path, now: datetime | None = None) -> list[Path]:
    """Write the scaffold into `target` (created if missing); returns what was created."""
    day = (now or datetime.now(UTC)).date().isoformat()
    for name in CREATED:
        if (target / name).exists():
            raise InitError(
                f"{target / name} already exists; init never overwrites: "
                "give a new or empty directory"
            )
    if target.exists() and not target.is_dir():
        raise InitError(f"{target} is a file; init writes into a new or empty directory")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a parent that is a file, no permission
        raise InitError(f"{target}: cannot create the directory: {exc.strerror}") from None
    example = shipped.CONFIG_EXAMPLE.read_text(encoding="utf-8")
    config = _COPY_TO.sub(FOUND, _START.sub(f"start = {day}T00:00:00Z", example))
    directive, rest = config.split("\n", 1)  # `#:schema` stays the first line
    header = CONFIG_HEADER.format(day=day)
    (target / "triagebot.toml").write_text(f"{directive}\n{header}{rest}", encoding="utf-8")
    rules = target / "rules"
    shutil.copytree(shipped.RULES, rules, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for rule in sorted(rules.glob("*.toml")):
        text = rule.read_text(encoding="utf-8")
        link = f'directory_url = "{PLACEHOLDER_URL}"   # FILL IN: your directory page'
        rule.write_text(_DIRECTORY_URL.sub(link, text, count=1), encoding="utf-8")
    data = target / "data"
    (data / "communities").mkdir(parents=True)
    people = PEOPLE.format(directive=schema.DIRECTIVES["people"], day=day)
    (data / "people.toml").write_text(people, encoding="utf-8")
    schema.write_schemas(data / schema.SCHEMA_DIR)
    shutil.copyfile(shipped.POLICY, data / "policy.toml")
    return [target / name for name in CREATED]


def next_steps(target: Path) -> str:
    """What `init` prints: what it made and what to do next."""
    where = str(target)
    go = "" if target == Path(".") else f"cd {where} && "
    return (
        f"created in {where}:\n"
        "  triagebot.toml  the configuration: dry run, bugzilla.mozilla.org\n"
        "  rules/          the community-it rule and its comment templates\n"
        "  data/           an empty registry: people.toml, communities/\n"
        "next (README, 'Use it on your Bugzilla'): set [bugzilla] url and bot_login, the\n"
        "rule's product, components and directory_url, list your delegates in data/, then\n"
        f"  {go}triagebot registry check && triagebot once"
    )
