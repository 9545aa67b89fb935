"""End to end: the real console command, `python -m triagebot --config FILE once --live`, run
as a subprocess against the loopback FakeBugzilla with the shipped data/ and rules/. What is
checked is what a triager and an operator see: the comments, whiteboards and needinfo flags on
the server, the number of requests of each kind, the command's lines and its exit code. A
second run must post nothing."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import cli_env

from triagebot.demo import demo, devserver
from triagebot.demo.devserver import FakeBugzilla
from triagebot.files.validate import load_registry

REPO = Path(__file__).resolve().parents[1]
KEY = "e2e-api-key-not-secret"
BOT = "triagebot@example.org"
FOOTER = re.compile(r"\n\n-- triagebot \(rule community-it; ref [0-9a-f]{16}\)\Z")


def write_config(tmp: Path, url: str, start: datetime) -> Path:
    return devserver.write_config(
        tmp,
        url,
        api_key=KEY,
        bot_login=BOT,
        data=REPO / "data",
        rules=REPO / "rules",
        start=start,
        page_size=4,
        dry_run=True,  # `--live` decides
        max_actions_per_run=10,
    )


def run_once(config: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = cli_env()
    return subprocess.run(
        [sys.executable, "-m", "triagebot", "--config", str(config), "once", "--live"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def bug_entries(stdout: str) -> dict[int, str]:
    """The command's per-bug entries: a line starting with the bug number and two spaces, plus
    the deeply indented lines that continue it, as one string (without the number)."""
    entries: dict[int, str] = {}
    current: int | None = None
    for line in stdout.splitlines():
        found = re.match(r" *(\d+)  +(\S.*)", line)  # "      7  unknown ..."
        if found:
            current = int(found.group(1))
            entries[current] = found.group(2)
        elif current is not None and line.startswith(" " * 9):
            entries[current] += " " + line.strip()
        else:
            current = None
    return entries


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def server(now: datetime):
    with FakeBugzilla(api_key=KEY, bot_login=BOT, clock=lambda: now) as fake:
        registry = load_registry(REPO / "data").registry
        assert registry is not None
        demo.add_accounts(fake, registry.people.values())  # delegates have Bugzilla accounts
        yield fake


def test_once_live_annotates_each_new_request_once(server, now, tmp_path):
    filed = now - timedelta(minutes=5)

    def add(summary: str, creator: str, n: int, **kw) -> int:
        return server.add_bug(
            summary, "More details here.", creator, creation_time=filed + timedelta(seconds=n), **kw
        )

    endorsed = add("Mailing list for Mozilla Hispano translators", "lucia@example.org", 0)
    former = add("Renew hosting for the Mozilla Tamil community site", "kavin@example.org", 1)
    needs = add("TLS certificate of mozfr.example.org expired", "visitor@example.org", 2)
    unknown = add("Need a server for our group", "newcomer@example.org", 3)
    ambiguous = add("Shared event page for MozFr and Mozilla Hispano", "visitor@example.org", 4)
    skipped = add(
        "Migrate the Mozilla Tamil wiki", "visitor@example.org", 5, whiteboard="[triagebot-skip]"
    )
    general = add("Mozilla Hispano: broken link", "visitor@example.org", 6, component="General")
    old = server.add_bug(
        "Mozilla Hispano old request",
        "Filed before the start.",
        "visitor@example.org",
        creation_time=now - timedelta(days=2),
    )
    config = write_config(tmp_path, server.url, now - timedelta(hours=1))

    first = run_once(config, tmp_path)

    assert first.returncode == 0, first.stderr
    # -- what a triager now sees in Bugzilla
    expected = {  # bug: (outcome, whiteboard, needinfo requestees)
        endorsed: ("endorsed", "[community:mozilla-hispano] [endorsed]", []),
        former: (
            "former-delegate",
            "[community:mozilla-tamil] [endorsement-needed]",
            ["meena@example.org"],
        ),
        needs: (
            "needs-endorsement",
            "[community:mozilla-francophone] [endorsement-needed]",
            ["camille@example.org", "nadia@example.org"],
        ),
        unknown: ("unknown", "[endorsement-needed]", ["newcomer@example.org"]),
        ambiguous: ("ambiguous", "[endorsement-needed]", ["visitor@example.org"]),
    }
    for bug_id, (_, whiteboard, asked) in expected.items():
        bug = server.bugs[bug_id]
        comments = [c["text"] for c in server.comments_of(bug_id) if c["creator"] == BOT]
        assert len(comments) == 1, bug_id
        assert FOOTER.search(comments[0]), comments[0]
        assert bug["whiteboard"] == whiteboard
        needinfo = [(f["name"], f["status"], f["requestee"], f["setter"]) for f in bug["flags"]]
        assert needinfo == [("needinfo", "?", login, BOT) for login in asked]
    assert server.comments_of(endorsed)[1]["text"].startswith(
        # plain text: the stand-in is no bugzilla.mozilla.org, so [bugzilla] markdown = "auto"
        # sends no Markdown
        "Endorsed: Lucía Ferreyra is Coordinadora general of Mozilla Hispano"
    )
    assert server.comments_of(former)[1]["text"].startswith(
        "Former delegate: Kavin Sundaram was Owner of Mozilla Tamil until 2026-03-01"
    )
    for untouched in (skipped, general, old):
        assert len(server.comments_of(untouched)) == 1  # the description only
        assert server.bugs[untouched]["flags"] == []
    assert server.bugs[skipped]["whiteboard"] == "[triagebot-skip]"
    # -- what it took: 6 watched bugs in pages of 4, one PUT per annotated bug
    assert server.counts == Counter(
        version=1, product=1, search=2, comments=2, update=len(expected)
    )
    # -- what the operator sees: one entry per bug (an entry may wrap), then a summary
    entries = bug_entries(first.stdout)
    assert set(entries) == {*expected, skipped}  # not the other component, not the old bug
    for bug_id, (outcome, _, asked) in expected.items():
        assert entries[bug_id].split()[0] == outcome
        assert "commented" in entries[bug_id]
        for login in asked:
            assert login in entries[bug_id]
    assert entries[skipped].split()[:3] == ["skipped", "not", "acted"]  # then why
    assert "rule community-it (live)" in first.stdout
    assert re.search(r"\b5 commented\b", first.stdout)
    assert re.search(r"\b1 skipped\b", first.stdout)
    posted = {b: server.comments_of(b) for b in server.bugs}

    second = run_once(config, tmp_path)

    assert second.returncode == 0, second.stderr
    assert {b: server.comments_of(b) for b in server.bugs} == posted  # nothing new, anywhere
    assert server.counts == Counter(
        version=2, product=1, search=4, comments=2, update=len(expected)
    )
    assert bug_entries(second.stdout) == {}  # the bugs were found again, and left alone
    assert "rule community-it (live)" in second.stdout
