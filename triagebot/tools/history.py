"""Leadership over time: who held which title in a community, and who should take over what.

When leadership changes, the people who registered a community's domain or run its server
often stay on as `responsible` long after their term ended. The registry already holds the
dated terms, so the timeline and the handover list are derived here, purely, for
`registry history`, `registry audit` and the directory page alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from triagebot.core.registry import Community, Delegation, Registry, Resource


@dataclass(frozen=True, slots=True)
class Event:
    """One dated line of a community's timeline."""

    day: date
    kind: str  # "began" | "ended" | "handover"
    person: str  # the person's name as the page shows it
    title: str  # the title held, or for a handover the resource ("domain mozfr.example.org")
    source: str | None = None
    scheduled: bool = False  # dated after today

    def describe(self) -> str:
        if self.kind == "began":
            text = f"{self.person} became {self.title}"
        elif self.kind == "ended":
            text = f"{self.person} stopped being {self.title}"
        else:
            text = f"{self.person} still responsible for {self.title} with no role any more"
        if self.scheduled:
            text += " (scheduled)"
        return text


@dataclass(frozen=True, slots=True)
class Handover:
    """A resource one of whose responsible people holds no current role in its community."""

    resource: Resource
    index: int  # position in the community's [[resources]], for file:line
    handle: str
    ended: date | None  # when their last term there ended; None if they never held one
    candidates: tuple[str, ...]  # handles of the current delegates who could take over


def name_of(registry: Registry, handle: str) -> str:
    person = registry.people.get(handle)
    return person.name if person else handle


def handovers(registry: Registry, community: Community, today: date) -> list[Handover]:
    """Responsible people of `community`'s resources who once held a role there and hold none
    on `today`. People who never held a role (Community IT staff hosting a club, say) are
    not a handover: nobody's term ended under them."""
    terms: dict[str, list[Delegation]] = {}
    for term in community.delegates:
        terms.setdefault(term.person, []).append(term)
    current = community.current_delegates(today)
    current_handles = {d.person for d in current}
    candidates = tuple(dict.fromkeys(d.person for d in current))
    found: list[Handover] = []
    for index, resource in enumerate(community.resources):
        for handle in resource.responsible:
            held = [t for t in terms.get(handle, ()) if t.since <= today]
            if not held or handle in current_handles:
                continue
            ends = [t.until for t in held if t.until is not None]
            found.append(Handover(resource, index, handle, max(ends, default=None), candidates))
    return found


def timeline(registry: Registry, community: Community, today: date) -> list[Event]:
    """Every term's start and end, and each handover at the end of its person's last term,
    in date order (a start before an end on the same day reads as "took over from")."""
    events: list[Event] = []
    for term in community.delegates:
        who = name_of(registry, term.person)
        events.append(Event(term.since, "began", who, term.title, term.source, term.since > today))
        if term.until is not None:
            events.append(Event(term.until, "ended", who, term.title, None, term.until > today))
    for h in handovers(registry, community, today):
        if h.ended is not None:
            what = f"{h.resource.kind} {h.resource.id}"
            events.append(Event(h.ended, "handover", name_of(registry, h.handle), what))
    order = {"ended": 0, "began": 1, "handover": 2}
    events.sort(key=lambda e: (e.day, order[e.kind], e.person))
    return events


def render_text(registry: Registry, community: Community, today: date) -> str:
    """The plain-text history `registry history SLUG` prints."""
    out = [f"{community.name} ({community.slug}), {community.status}, as of {today}", ""]
    out.append("Timeline:")
    events = timeline(registry, community, today)
    if not events:
        out.append("  no delegate has ever been recorded")
    for e in events:
        line = f"  {e.day}  {e.describe()}"
        if e.source:
            line += f"  [source: {e.source}]"
        out.append(line)
    out += ["", "Now:"]
    current = community.current_delegates(today)
    if not current:
        out.append("  no current delegate")
    for d in current:
        out.append(f"  {name_of(registry, d.person)}, {d.title}, since {d.since}")
    if community.resources:
        out += ["", "Resources (responsible now):"]
        current_handles = {d.person for d in current}
        pending = {(h.index, h.handle): h for h in handovers(registry, community, today)}
        for index, r in enumerate(community.resources):
            names = []
            for handle in r.responsible:
                note = ""
                if (index, handle) in pending:
                    note = " (no current role: hand over)"
                elif handle not in current_handles:
                    note = " (not a delegate)"
                names.append(name_of(registry, handle) + note)
            out.append(f"  {r.kind} {r.id}: {', '.join(names) or 'nobody'}")
        takers = ", ".join(name_of(registry, d.person) for d in current) or "nobody (no delegate)"
        if pending:
            out.append(f"  could take over: {takers}")
    return "\n".join(out) + "\n"
