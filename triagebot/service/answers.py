"""Reading the answers to the bot's questions and writing its follow-ups: the shell around
`followup.follow_up`, called by the poller with the bugs a poll's search found.

Requests, on top of the poll's own:
- the bugs of a search page that the bot asked about earlier and that still await an answer
  are read with the page's one batched comments request (with `new_since` when the page has
  no new bug to read whole); a refused command or a due reminder whose history is not in
  view costs one more batched read, of those bugs only;
- about once a day, a sweep finds the awaiting bugs that nobody touched (one search per page
  by the `[endorsement-needed]` tag) and reads the comments of those old enough to be stale;
- one PUT per bug acted on: tags, cleared needinfo flags (by id), new needinfo, one comment.

No intent is recorded before a follow-up PUT: each follow-up is decided from the bug's own
state (its tags, the bot's comments), which the PUT changes, so a crash before it posts it
next poll and a crash after it finds nothing left to do. A write that fails keeps the
cursor before the bug, so the next poll reads it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from triagebot.bugzilla.client import Client
from triagebot.core.bugs import Bug, Comment, Decision
from triagebot.core.bugstate import AWAITING, may_turn_stale
from triagebot.core.followup import ReadHistory, follow_up
from triagebot.core.registry import Registry
from triagebot.files.rules import Rule
from triagebot.state.store import Followed, Store

log = logging.getLogger(__name__)

SWEEP_EVERY = timedelta(hours=20)  # about daily, whatever the poll interval
RECORDED = ("confirmation", "decline", "retriage")  # follow-ups that change the outcome


@dataclass(frozen=True, slots=True)
class Planned:
    bug: Bug
    decision: Decision  # a follow-up's, with its write


class Answers:
    """Follow-ups for one poller: decides from comments, writes one PUT per bug."""

    def __init__(
        self,
        client: Client,
        store: Store,
        clock: Callable[[], datetime],
        bot_login: Callable[[], str | None],
    ) -> None:
        self.client = client
        self.store = store  # a dry run's keeps nothing (writer.DryRunStore)
        self.clock = clock
        self.bot_login = bot_login

    # -- deciding --------------------------------------------------------------------------
    def decide(
        self,
        rule: Rule,
        registry: Registry,
        bugs: Sequence[Bug],
        comments: dict[int, list[Comment]],
        *,
        complete: bool,
    ) -> list[Planned]:
        """The follow-ups for `bugs`, from their comments (all, or only the new ones); the
        bugs whose decision needs the whole history get it in one more batched read."""
        now, login = self.clock(), self.bot_login()
        planned: list[Planned] = []
        history: list[Bug] = []
        for bug in bugs:
            if bug.id not in comments:
                continue  # not readable: nothing to decide from
            found = follow_up(bug, comments[bug.id], registry, rule, now, login, complete=complete)
            if isinstance(found, ReadHistory):
                history.append(bug)
            elif found is not None and found.acts:
                planned.append(Planned(bug, found))
        if history:
            whole = self.client.comments([b.id for b in history])
            planned += self.decide(rule, registry, history, whole, complete=True)
        return planned

    def sweep_due(self, rule: Rule) -> bool:
        """Is a stale sweep due for this rule? About daily (a dry run does not record it)."""
        if rule.followup is None:
            return False
        last = self.store.check_passed_since(_sweep_key(rule))
        if last is None:  # a new database starts the clock: the first poll stays its search
            self.store.record_check_passed(_sweep_key(rule))
            return False
        return self.clock() - last >= SWEEP_EVERY

    def sweep(
        self, rule: Rule, registry: Registry, skip: Iterable[int], page_size: int
    ) -> list[Planned]:
        """Awaiting bugs nobody touched that may have turned stale, read whole."""
        now = self.clock()
        already = set(skip)
        planned: list[Planned] = []
        for page in self.client.search_tagged(
            rule.product, list(rule.components), AWAITING, page_size=page_size
        ):
            old = [b for b in page if b.id not in already and may_turn_stale(b, rule, now)]
            if old:
                whole = self.client.comments([b.id for b in old])
                planned += self.decide(rule, registry, old, whole, complete=True)
        self.store.record_check_passed(_sweep_key(rule))
        return planned

    # -- recording -------------------------------------------------------------------------
    def landed(self, rule: Rule, item: Planned) -> None:
        """A follow-up PUT landed: a changed outcome goes in the database (for `status`), and
        the time, so the next poll does not read the bug again for the bot's own change."""
        decision = item.decision
        outcome = decision.outcome if decision.kind in RECORDED else None
        followed = Followed(item.bug.id, outcome, decision.community, f"followup:{decision.kind}")
        self.store.record_followups(rule.name, [followed])


def _sweep_key(rule: Rule) -> str:
    return f"stale sweep {rule.name}"
