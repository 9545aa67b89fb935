"""Terminal text: per-bug lines and summaries fit 80 columns, colour only when asked, hints."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from triagebot.commands import output
from triagebot.core.bugs import Bug, Decision, Write
from triagebot.files.validate import load_registry
from triagebot.service.poller import BugResult, PollReport
from triagebot.service.views import RuleExplained, Status
from triagebot.state.store import BugRecord, Followed, Intent, Seen, Store

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
TODAY = date(2026, 11, 20)


def bug(bug_id: int = 12, **kw: object) -> Bug:
    fields: dict = {"summary": "A request", "creator": "someone@example.org", "creation_time": T0}
    fields.update(kw)
    return Bug(bug_id, **fields)


LONG = "Hello.\n\nA much longer line " + "that goes on " * 10 + "and ends."


def decision(
    outcome: str = "endorsed",
    community: str | None = "mozilla-hispano",
    *,
    comment: str | None = LONG,
    whiteboard: str | None = "[community:mozilla-hispano] [endorsed]",
    needinfo: tuple[str, ...] = (),
) -> Decision:
    write = None
    if comment is not None:
        write = Write("community-it", comment=comment, whiteboard=whiteboard, needinfo=needinfo)
    return Decision(12, "community-it", outcome, "because", community, write=write)


def sent(b: Bug, d: Decision, action: str, ref: str = "R1") -> BugResult:
    """The result of a write that went out (or was recorded), with its PUT."""
    assert d.write is not None
    return BugResult(b, d, action, put=d.write.put(b.id, ref, markdown=True))  # type: ignore[arg-type]


def report(results: list[BugResult], **kw: object) -> PollReport:
    r = PollReport("community-it", T0 - timedelta(hours=1), True, results)
    for name, value in kw.items():
        setattr(r, name, value)
    return r


def test_short_bug_line_is_one_line() -> None:
    line = output.bug_line(BugResult(bug(), decision(), "commented"))
    assert line == "     12  endorsed           mozilla-hispano: commented"


def test_long_bug_lines_wrap_under_80_columns() -> None:
    d = decision(
        "needs-endorsement",
        needinfo=("camille.berthelot@mozfr.example.org", "nadia.benslimane@example.org"),
    )
    result = sent(bug(), d, "commented")
    text = output.bug_line(result)
    lines = text.splitlines()
    assert len(lines) > 1
    assert all(len(line) <= output.WIDTH for line in lines)
    assert lines[0] == "     12  needs-endorsement  mozilla-hispano"
    # nothing is lost, addresses are never split
    assert "camille.berthelot@mozfr.example.org," in text.split()
    assert "nadia.benslimane@example.org" in text.split()


def test_long_line_without_community_has_no_dash_line() -> None:
    d = decision("unknown", None, needinfo=("a.long.reporter.address@example.org",))
    result = sent(bug(), d, "would-comment")
    lines = output.bug_line(result).splitlines()
    assert lines[0].startswith("     12  unknown            would comment, needinfo")
    assert all(line.strip() != "-" for line in lines)
    assert all(len(line) <= output.WIDTH for line in lines)


def test_poll_lines_fit_80_columns_with_dry_run_blocks_and_summary() -> None:
    d = decision(needinfo=("lucia@example.org",))
    results = [
        sent(bug(3), d, "would-comment", "dry-run"),
        BugResult(bug(4), None, "failed", "comments not readable (bug not visible?)"),
        BugResult(bug(5), decision("skipped", None, comment=None), "skipped"),
    ]
    text = output.poll_lines(report(results, live=False, requests=3, error="boom " * 20))
    assert all(len(line) <= 80 for line in text.splitlines()), text
    assert "         | comment:" in text
    assert "         | -- triagebot (rule community-it; ref dry-run)" in text
    assert "  to retry: bug 4" in text
    assert "POLL FAILED:" in text


def test_poll_summary_is_one_line_for_logs() -> None:
    results = [BugResult(bug(n), decision(), "commented") for n in range(1, 40)]
    line = output.poll_summary(report(results, requests=1))
    assert "\n" not in line
    assert line == (
        "rule community-it (live): 39 bugs changed since 2026-11-20 07:00:00Z: "
        "39 commented; 1 HTTP request"
    )
    one = output.poll_summary(report(results[:1], requests=1))
    assert one.startswith("rule community-it (live): 1 bug changed since ")  # not "1 bugs"
    empty = output.poll_summary(report([], requests=2))
    assert empty.endswith("since 2026-11-20 07:00:00Z; 2 HTTP requests")


def test_action_cap_message_is_wrapped_and_exit_code_is_1() -> None:
    r = report([BugResult(bug(), decision(), "capped")], capped=60)
    text = output.poll_lines(r)
    assert "ACTION CAP: 60 bugs would be acted on" in text
    assert all(len(line) <= 80 for line in text.splitlines())
    assert output.exit_code([r]) == 1
    assert output.exit_code([report([BugResult(bug(), decision(), "commented")])]) == 0


def test_colour_only_on_a_terminal_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert output.use_color(Tty()) is True
    assert output.use_color(io.StringIO()) is False
    monkeypatch.setenv("NO_COLOR", "")  # any value, even empty (no-color.org)
    assert output.use_color(Tty()) is False
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert output.use_color(Tty()) is False
    plain = output.bug_line(BugResult(bug(), decision(), "commented"), color=False)
    assert "\033[" not in plain
    assert "\033[32m" in output.bug_line(BugResult(bug(), decision(), "commented"), color=True)


def test_lookalike_hint_names_the_odd_letters() -> None:
    hint = output.lookalike_hint("lucіа@example.org")  # Cyrillic і and а
    assert hint is not None
    assert "U+0456 CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I" in hint
    assert "U+0430 CYRILLIC SMALL LETTER A" in hint
    assert output.lookalike_hint("lucia@example.org") is None


def test_unknown_community_suggests_close_names() -> None:
    registry = load_registry(ROOT / "data", TODAY).registry
    assert registry is not None
    message = output.unknown_community(registry, "mozilla-tamill", Path("data"))
    assert message.startswith("no community 'mozilla-tamill' in data")
    assert "did you mean 'mozilla-tamil'?" in message
    message = output.unknown_community(registry, "zzz", Path("data"))
    assert "known: mozilla-campus-club-coimbra, " in message


def explained(
    d: Decision,
    record: BugRecord | None = None,
    start: datetime = T0,
    *,
    before_start: bool = False,
    writes: bool = True,
) -> RuleExplained:
    """`explain`'s view of bug 12 under one rule: the next poll writes `d`'s write, or not."""
    put = d.write.put(12, "dry-run", markdown=True) if writes and d.write else None
    action = "would-comment" if put else None
    return RuleExplained("community-it", d, record, start, before_start, action, put, None)


def test_explain_says_when_a_bug_is_older_than_poll_start() -> None:
    d = decision()
    later = T0 + timedelta(days=1)
    text = output.explain(bug(), explained(d, start=later, before_start=True))
    assert (
        "before the poll start 2026-11-21 08:00:00Z: the bot acts on it only if it moved in "
        "after that" in " ".join(text.split())
    )
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "before the poll start" not in output.explain(bug(), explained(d))
    assert "    -- triagebot (rule community-it; ref dry-run)" in text


def test_status_shows_polls_outcomes_unfinished_writes_and_problems() -> None:
    times = iter(T0 + timedelta(seconds=n) for n in range(100))
    store = Store("sqlite://", now=lambda: next(times))
    poll = store.start_poll("community-it", dry_run=False)
    store.finish_poll(poll, searched=3, acted=1, failed=1, skipped=1)
    store.begin_writes("community-it", [Intent(7, "ref7", "unknown", None, "comment")])
    store.begin_writes("community-it", [Intent(8, "ref8", "endorsed", "x", "comment")])
    store.finish_writes("community-it", [8])
    store.mark_seen("community-it", [Seen(9, "skipped", None)])
    store.mark_failed("community-it", 10, "HTTP 400", write_may_have_landed=False)
    # Awaiting: 11 and 12 were asked; a delegate's /endorse on 12 was recorded since.
    for bug_id in (11, 12):
        intent = Intent(bug_id, f"ref{bug_id}", "needs-endorsement", "c", "comment")
        store.begin_writes("community-it", [intent])
        store.finish_writes("community-it", [bug_id])
    store.record_followups("community-it", [Followed(12, "endorsed", "c", "followup:confirmation")])
    store.set_reload_problems("registry", ["data/people.toml:3: bad"])
    text = output.status(Status.read(store, ["rules/x.toml:1: worse"]))
    assert text.splitlines() == [
        "last polls:",
        "  2026-11-20 08:00:00Z community-it (live, 1.0 s)",
        "    3 bugs, 1 acted on, 1 failed, 1 skipped",
        "outcomes:",
        "  done/endorsed: 2",
        "  done/needs-endorsement: 1",
        "  seen/skipped: 1",
        "awaiting endorsement: 1; `triagebot queue` lists them and says which are stale",
        "writes not confirmed (checked against Bugzilla next poll): 1",
        "  bug 7 rule community-it ref ref7 since 2026-11-20 08:00:02Z",
        "failed (retried next poll): 1",
        "  bug 10 rule community-it: HTTP 400",
        "gave up (`triagebot retry BUG` puts one back): 0",
        "RUNNING BOT: registry reload failed at 2026-11-20 08:00:12Z; it keeps its last",
        "  good version:",
        "  data/people.toml:3: bad",
        "REGISTRY/RULES FILES HAVE ERRORS: 1 (a running bot keeps its last good",
        "  version; a new one will not start):",
        "  rules/x.toml:1: worse",
    ]
    assert max(len(line) for line in text.splitlines()) <= 80
    store.set_reload_problems("registry", [])
    text = output.status(Status.read(store, []))
    assert "RUNNING BOT" not in text
    assert text.endswith("registry and rules files: OK")


def test_status_puts_the_latest_failed_poll_first_within_80_columns() -> None:
    times = iter(T0 + timedelta(seconds=n) for n in range(100))
    store = Store("sqlite://", now=lambda: next(times))
    poll = store.start_poll("community-it", dry_run=False)
    error = "cannot reach Bugzilla at http://127.0.0.1:8089: connection refused (4 tries over 7 s)"
    store.finish_poll(poll, searched=0, acted=0, failed=0, skipped=0, error=error)
    lines = output.status(Status.read(store, [])).splitlines()
    assert lines[:4] == [
        "FAILED: cannot reach Bugzilla at http://127.0.0.1:8089: connection refused (4 t…",
        "last polls:",
        "  2026-11-20 08:00:00Z community-it (live, 1.0 s)",
        "    FAILED: cannot reach Bugzilla at http://127.0.0.1:8089: connection refused…",
    ]
    assert all(len(line) <= 80 for line in lines)
    later = store.start_poll("community-it", dry_run=False)
    store.finish_poll(later, searched=1, acted=1, failed=0, skipped=0)
    assert output.status(Status.read(store, [])).splitlines()[0] == "last polls:"  # it recovered


def test_status_without_a_database_says_no_state_yet() -> None:
    assert output.status(Status.read(None, [])).splitlines() == [
        "no state yet: no poll has run with this database",
        "registry and rules files: OK",
    ]


def test_explain_says_what_the_store_knows_in_words() -> None:
    times = iter(T0 + timedelta(seconds=n) for n in range(100))
    store = Store("sqlite://", now=lambda: next(times))
    store.begin_writes("r", [Intent(1, "ref1", "unknown", None, "comment")])
    store.begin_writes("r", [Intent(2, "ref2", "unknown", None, "comment")])
    store.finish_writes("r", [2], comment_ids={2: 77})
    store.mark_seen("r", [Seen(3, "skipped", None)])
    store.mark_failed("r", 4, "HTTP 400: invalid whiteboard", write_may_have_landed=False)
    records = store.records("r", [1, 2, 3, 4])

    def state_lines(bug_id: int) -> list[str]:
        record = records[bug_id]
        text = output.explain(bug(bug_id), explained(decision(), record, writes=bug_id == 4))
        assert all(len(line) <= 80 for line in text.splitlines())
        text = text.replace("\n    ", " ")  # a wrapped line goes on 4 spaces in
        return [
            line
            for line in text.splitlines()
            if line.startswith("  state: ") or "the next poll writes" in line
        ]

    assert state_lines(1) == [
        "  state: a write (ref ref1) started at 2026-11-20 08:00:00Z is not confirmed; the next "
        "poll looks for it in the bug's comments before writing",
        "  the next poll writes nothing on this bug",
    ]
    assert state_lines(2) == [
        "  state: done: comment at 2026-11-20 08:00:02Z, comment 77",
        "  the next poll writes nothing on this bug",
    ]
    assert state_lines(3)[0] == "  state: seen at 2026-11-20 08:00:03Z: nothing to write"
    assert state_lines(4) == [
        "  state: failed at 2026-11-20 08:00:04Z: HTTP 400: invalid whiteboard; retried next poll",
        "  the next poll writes:",
    ]


def test_dry_run_folds_a_long_comment_line_visibly_and_keeps_its_text() -> None:
    d = decision()
    text = output.poll_lines(report([sent(bug(3), d, "would-comment", "dry-run")]))
    lines = text.splitlines()
    start = lines.index("         | comment:") + 1
    block = lines[start : lines.index("         | -- triagebot (rule community-it; ref dry-run)")]
    assert block[:2] == ["         | Hello.", "         |"]
    # each comment line starts after "|"; its continuation after "┆"
    rebuilt: list[str] = []
    for line in block:
        if line.startswith("         ┆ "):
            rebuilt[-1] += " " + line[11:]
        else:
            rebuilt.append(line[11:])
    assert rebuilt == [*LONG.splitlines(), ""]
    assert any(line.startswith("         ┆ ") for line in block)
    assert all(len(line) <= 80 for line in lines)


def test_a_dry_run_service_logs_the_comments_it_would_post() -> None:
    d = decision()
    results = [
        sent(bug(12), d, "would-comment", "dry-run"),
        BugResult(bug(13), None, "skipped"),
    ]
    lines = output.would_post_lines(report(results, live=False))
    assert lines[0] == "bug 12 would get:"
    assert lines[1] == "         | whiteboard: [community:mozilla-hispano] [endorsed]"
    assert "         | comment:" in lines
    assert lines[-1] == "         | -- triagebot (rule community-it; ref dry-run)"
    assert not any("bug 13" in line for line in lines)
