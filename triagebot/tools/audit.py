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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from triagebot.core.registry import Community, Registry
from triagebot.files.policy import Policy
from triagebot.files.problems import Problem
from triagebot.files.tomlpos import Locator
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
class _Where:
    """Lines in one community file, found only when a finding is reported."""

    path: Path
    _text: str | None = None

    def line(self, *keys: str | int) -> int:
        if self._text is None:
            try:
                self._text = self.path.read_text(encoding="utf-8")
            except OSError:
                self._text = ""
        return Locator(self._text).line(keys)


def audit(registry: Registry, root: Path, policy: Policy, today: date) -> list[Problem]:
    """Every finding, community by community (in slug order), each at its file and line."""
    found: list[Problem] = []
    for slug in sorted(registry.communities):
        community = registry.communities[slug]
        where = _Where(root / COMMUNITIES_DIR / f"{slug}.toml")
        for check in _CHECKS:
            for line, field, message, level in check(registry, community, policy, today, where):
                found.append(Problem(str(where.path), line, field, message, level))
    return found


_Finding = tuple[int, str, str, str]
_Check = Callable[[Registry, Community, Policy, date, _Where], Iterator[_Finding]]


def _min_delegates(
    registry: Registry, c: Community, policy: Policy, today: date, where: _Where
) -> Iterator[_Finding]:
    rule = policy.min_delegates
    if rule is None or c.status != "active":
        return
    current = c.current_delegates(today)
    people = {d.person for d in current}
    if len(people) < rule.count:
        have = "no current delegate" if not people else f"{len(people)} current delegate(s)"
        yield (
            where.line("delegates"),
            "delegates",
            f"active community with {have}; the policy asks for at least {rule.count}",
            rule.level,
        )


def _term_length(
    registry: Registry, c: Community, policy: Policy, today: date, where: _Where
) -> Iterator[_Finding]:
    rule = policy.term_length
    months = c.governance.term_months
    if rule is None or not months:
        return
    exempt = {title.casefold() for title in rule.exempt_titles}
    for index, d in enumerate(c.delegates):
        if d.until is not None and d.until <= today:
            continue  # an ended term is history, not something to fix
        if d.title.casefold() in exempt:
            continue  # a role held without a term (a mentor)
        limit = add_months(d.since, months + rule.grace_months)
        end = d.until or today
        if end > limit:
            held = months_between(d.since, end)
            verb = "is scheduled to last" if d.until else "has lasted"
            yield (
                where.line("delegates", index, "until" if d.until else "since"),
                f"delegates[{index}]",
                f"{name_of(registry, d.person)}'s term as {d.title} {verb} {held} months, "
                f"longer than governance.term_months = {months}: record the renewal "
                "(a new term) or the end",
                rule.level,
            )


def _review(
    registry: Registry, c: Community, policy: Policy, today: date, where: _Where
) -> Iterator[_Finding]:
    rule = policy.review
    if rule is None:
        return
    if add_months(c.reviewed, rule.max_age_months) < today:
        yield (
            where.line("reviewed"),
            "reviewed",
            f"last reviewed {c.reviewed}, more than {rule.max_age_months} months ago: "
            "confirm the file with the community and bump the date",
            rule.level,
        )


def _handover(
    registry: Registry, c: Community, policy: Policy, today: date, where: _Where
) -> Iterator[_Finding]:
    rule = policy.handover
    if rule is None:
        return
    for h in handovers(registry, c, today):
        since = f" since {h.ended}" if h.ended else ""
        if h.candidates:
            takers = ", ".join(f"{name_of(registry, p)} ({p})" for p in h.candidates)
            advice = f"could take over: {takers}"
        else:
            advice = "no current delegate could take over"
        yield (
            where.line("resources", h.index, "responsible"),
            f"resources[{h.index}].responsible",
            f"{h.resource.kind} {h.resource.id}: {name_of(registry, h.handle)} ({h.handle}) "
            f"holds no role in the community{since}; {advice}",
            rule.level,
        )


def _public_contact(
    registry: Registry, c: Community, policy: Policy, today: date, where: _Where
) -> Iterator[_Finding]:
    rule = policy.public_contact
    if rule is None or c.status not in rule.statuses or c.public_contacts:
        return
    if rule.delegates_count:
        for d in c.current_delegates(today):
            person = registry.people.get(d.person)
            if person is not None and person.public_contacts:
                return
    yield (
        where.line("contacts"),
        "contacts",
        f"{c.status} community with no public contact: nobody can be pointed to it",
        rule.level,
    )


_CHECKS: tuple[_Check, ...] = (_min_delegates, _term_length, _review, _handover, _public_contact)


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
