"""`registry audit`: hold the registry to the programme's own rules, written as data.

`registry check` says whether the files are well formed; the audit says whether what they
describe is healthy: enough delegates, terms renewed, files reviewed, resources in the hands
of people who still hold a role, a public way to reach each community. Which of these a
programme cares about, and whether each is an error or a warning, differs from one programme
to the next, so the rules live in `policy.toml` beside the data (every table optional), in a
format declared once as pydantic models.
"""

from __future__ import annotations

import calendar
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from triagebot.core.registry import Community, Registry
from triagebot.files.policy import Handover, MinDelegates, Policy, PublicContact, Review, TermLength
from triagebot.files.problems import FieldPath, Problem, TomlFile
from triagebot.files.validate import COMMUNITIES_DIR
from triagebot.tools.history import handovers, name_of


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (Jan 31 + 1 = Feb 28/29)."""
    total = day.month - 1 + months
    year, month = day.year + total // 12, total % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def months_between(start: date, end: date) -> int:
    months = (end.year - start.year) * 12 + end.month - start.month
    return months - 1 if end.day < start.day else months


@dataclass
class _Audited:
    """One community under audit; its file is read only when a finding is reported."""

    registry: Registry
    c: Community
    today: date
    path: Path

    @functools.cached_property
    def file(self) -> TomlFile:
        try:
            return TomlFile(str(self.path), self.path.read_text(encoding="utf-8"))
        except OSError:
            return TomlFile(str(self.path))

    def name(self, handle: str) -> str:
        return name_of(self.registry, handle)


def audit(registry: Registry, root: Path, policy: Policy, today: date) -> list[Problem]:
    """Every finding, community by community (in slug order), each at its file and line."""
    found: list[Problem] = []
    for slug in sorted(registry.communities):
        a = _Audited(
            registry, registry.communities[slug], today, root / COMMUNITIES_DIR / f"{slug}.toml"
        )
        for name, rule in policy:  # the checks the policy switches on, in its order
            if rule is not None:
                for path, message, *line in _CHECKS[name](a, rule):
                    found.append(a.file.problem(path, message, rule.level, *line))
    return found


# the field, the message, and the line when it is not the field's
_Finding = tuple[FieldPath, str] | tuple[FieldPath, str, int]


def _min_delegates(a: _Audited, rule: MinDelegates) -> Iterator[_Finding]:
    people = {d.person for d in a.c.current_delegates(a.today)}
    if a.c.status == "active" and len(people) < rule.count:
        have = "no current delegate" if not people else f"{len(people)} current delegate(s)"
        yield (
            ("delegates",),
            f"active community with {have}; the policy asks for at least {rule.count}",
        )


def _term_length(a: _Audited, rule: TermLength) -> Iterator[_Finding]:
    months = a.c.governance.term_months
    if not months:
        return
    exempt = {title.casefold() for title in rule.exempt_titles}
    for index, d in enumerate(a.c.delegates):
        if d.until is not None and d.until <= a.today:
            continue  # an ended term is history, not something to fix
        if d.title.casefold() in exempt:
            continue  # a role held without a term (a mentor)
        end = d.until or a.today
        if end > add_months(d.since, months + rule.grace_months):
            verb = "is scheduled to last" if d.until else "has lasted"
            yield (
                ("delegates", index),
                f"{a.name(d.person)}'s term as {d.title} {verb} {months_between(d.since, end)} "
                f"months, longer than governance.term_months = {months}: record the renewal "
                "(a new term) or the end",
                a.file.line(("delegates", index, "until" if d.until else "since")),
            )


def _review(a: _Audited, rule: Review) -> Iterator[_Finding]:
    if add_months(a.c.reviewed, rule.max_age_months) < a.today:
        yield (
            ("reviewed",),
            f"last reviewed {a.c.reviewed}, more than {rule.max_age_months} months ago: "
            "confirm the file with the community and bump the date",
        )


def _handover(a: _Audited, rule: Handover) -> Iterator[_Finding]:
    for h in handovers(a.registry, a.c, a.today):
        since = f" since {h.ended}" if h.ended else ""
        if h.candidates:
            advice = "could take over: " + ", ".join(f"{a.name(p)} ({p})" for p in h.candidates)
        else:
            advice = "no current delegate could take over"
        yield (
            ("resources", h.index, "responsible"),
            f"{h.resource.kind} {h.resource.id}: {a.name(h.handle)} ({h.handle}) "
            f"holds no role in the community{since}; {advice}",
        )


def _public_contact(a: _Audited, rule: PublicContact) -> Iterator[_Finding]:
    if a.c.status not in rule.statuses or a.c.public_contacts:
        return
    if rule.delegates_count:
        for d in a.c.current_delegates(a.today):
            person = a.registry.people.get(d.person)
            if person is not None and person.public_contacts:
                return
    yield (
        ("contacts",),
        f"{a.c.status} community with no public contact: nobody can be pointed to it",
    )


_CHECKS: dict[str, Callable[[_Audited, Any], Iterator[_Finding]]] = {
    "min_delegates": _min_delegates,
    "term_length": _term_length,
    "review": _review,
    "handover": _handover,
    "public_contact": _public_contact,
}


def summary(findings: list[Problem], policy_path: Path, policy: Policy) -> str:
    errors = sum(1 for f in findings if f.severity == "error")
    warnings = len(findings) - errors
    checks = [name for name, rule in policy if rule is not None]
    if not checks:
        return f"audit: {policy_path} enables no check; nothing to audit"
    return (
        f"audit: {errors} error(s), {warnings} warning(s); "
        f"checked {', '.join(checks)} from {policy_path}"
    )
