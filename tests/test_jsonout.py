"""`--json` on once, status, explain, registry find and registry show: one document each, with
the stable keys the README lists; and `explain` on a handled bug shows what was posted."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from triagebot.commands.cli import main
from triagebot.demo import demo
from triagebot.demo.devserver import FakeBugzilla

ROOT = Path(__file__).resolve().parents[1]
DATA = str(ROOT / "data")
BUG_KEYS = {
    "bug", "action", "outcome", "community", "communities", "whiteboard", "needinfo",
    "comment", "error",
}  # fmt: skip


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TRIAGEBOT_CONFIG", raising=False)
    monkeypatch.delenv("TRIAGEBOT_API_KEY", raising=False)
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")


@pytest.fixture
def config(tmp_path: Path) -> Iterator[Path]:
    with FakeBugzilla(api_key=demo.DEMO_KEY, bot_login=demo.BOT) as server:
        demo.seed(server, datetime.now(UTC).replace(microsecond=0), ROOT / "data")
        workdir = tmp_path / "bot"
        workdir.mkdir()
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        assert server.url is not None
        yield demo.write_config(workdir, server.url, ROOT, start)


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out)  # one document, nothing else on stdout


def test_once_json(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, doc = run_json(capsys, "--config", str(config), "once", "--dry-run", "--json")
    assert code == 0
    assert list(doc) == ["version", "ok", "exit_code", "polls"]
    assert doc["version"] == 1 and doc["exit_code"] == 0
    (poll,) = doc["polls"]
    assert list(poll) == [
        "rule", "live", "since", "requests", "error", "capped", "handled_before", "bugs",
    ]  # fmt: skip
    assert (poll["rule"], poll["live"], poll["error"]) == ("community-it", False, None)
    assert all(set(b) == BUG_KEYS for b in poll["bugs"])
    first = poll["bugs"][0]
    assert (first["bug"], first["action"], first["outcome"]) == (1, "would-comment", "endorsed")
    assert first["whiteboard"] == "[community:mozilla-hispano] [endorsed]"
    assert first["comment"].startswith("Endorsed: Lucía Ferreyra is Coordinadora general")
    assert [b["action"] for b in poll["bugs"]].count("skipped") == 1


def test_explain_of_a_handled_bug_shows_what_was_posted(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    assert main(["--config", str(config), "once", "--live"]) == 0
    capsys.readouterr()
    assert main(["--config", str(config), "explain", "1"]) == 0
    out = capsys.readouterr().out
    assert "were it new" not in out
    assert "  the next poll writes nothing on this bug\n" in out
    assert f"  the bot posted comment #1 by {demo.BOT} at " in out
    assert "    -- triagebot (rule community-it; ref " in out  # the real ref
    assert "ref dry-run)" not in out

    code, doc = run_json(capsys, "--config", str(config), "explain", "1", "--json")
    assert code == 0
    assert list(doc) == [
        "version", "ok", "bug", "summary", "product", "component", "reporter", "reporter_id",
        "created", "rules",
    ]  # fmt: skip
    (rule,) = doc["rules"]
    assert list(rule) == [
        "rule", "outcome", "reason", "community", "communities", "before_start", "state",
        "would_write", "posted",
    ]  # fmt: skip
    assert (rule["outcome"], rule["state"]) == ("endorsed", "done")
    assert list(rule["posted"]) == ["comment_id", "count", "creator", "time", "text"]
    assert rule["posted"]["creator"] == demo.BOT
    assert "-- triagebot (rule community-it; ref " in rule["posted"]["text"]


def test_status_json(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    keys = [
        "version", "ok", "state", "polls", "outcomes", "unconfirmed_writes", "failed",
        "running_bot_problems", "file_problems",
    ]  # fmt: skip
    code, doc = run_json(capsys, "--config", str(config), "status", "--json")
    assert code == 0 and list(doc) == keys and doc["state"] is False
    assert not list(config.parent.glob("triagebot.db*"))  # status creates no database
    assert main(["--config", str(config), "once", "--live"]) == 0
    capsys.readouterr()
    code, doc = run_json(capsys, "--config", str(config), "status", "--json")
    assert code == 0 and list(doc) == keys and doc["state"] is True
    (poll,) = doc["polls"]
    assert (poll["bugs"], poll["acted"], poll["skipped"], poll["error"]) == (7, 6, 1, None)
    for moment in (poll["started"], poll["finished"]):  # the README's format, no microseconds
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", moment), moment
    assert doc["outcomes"]["done/endorsed"] == 1


def test_status_shows_the_counts_once_printed(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    """`status --json` after each `once --json`: the poll as it printed itself, a poll that
    found every bug handled before (7 bugs, none acted on) and a dry run included."""
    for mode in ("--live", "--live", "--dry-run"):
        code, once = run_json(capsys, "--config", str(config), "once", mode, "--json")
        assert code == 0
        (printed,) = once["polls"]
        actions = [b["action"] for b in printed["bugs"]]
        code, status = run_json(capsys, "--config", str(config), "status", "--json")
        latest = status["polls"][0]
        assert {k: latest[k] for k in ("rule", "live", "bugs", "acted", "failed", "skipped")} == {
            "rule": printed["rule"],
            "live": printed["live"],
            "bugs": len(printed["bugs"]) + printed["handled_before"],
            "acted": actions.count("commented" if printed["live"] else "would-comment"),
            "failed": actions.count("failed") + actions.count("pending"),
            "skipped": actions.count("skipped"),
        }
    polls = [(p["live"], p["bugs"], p["acted"]) for p in status["polls"]]
    assert polls[1:] == [(True, 7, 0), (True, 7, 6)] and polls[0][0] is False


def test_registry_find_and_show_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "registry", "find", "lucia@example.org", "--dir", DATA, "--json")
    assert code == 0
    assert list(doc) == ["version", "ok", "query", "person"]
    person = doc["person"]
    assert list(person) == ["handle", "name", "bugzilla_id", "emails", "contacts", "roles"]
    assert person["roles"][0]["community"] == "mozilla-hispano"
    assert person["roles"][0]["current"] is True
    code, doc = run_json(capsys, "registry", "find", "nobody@example.org", "--dir", DATA, "--json")
    assert (code, doc["ok"], doc["error"]["kind"]) == (1, False, "not_found")

    code, doc = run_json(capsys, "registry", "show", "mozilla-esperanto", "--dir", DATA, "--json")
    assert code == 0
    assert list(doc) == [
        "version", "ok", "slug", "name", "status", "reviewed", "aliases", "governance",
        "current_delegates", "contacts", "resources", "past_delegates",
    ]  # fmt: skip
    assert list(doc["governance"]) == ["model", "term_months", "charter", "notes"]
    assert doc["governance"]["notes"].startswith("Two volunteer coordinators")


def test_a_dry_run_over_the_cap_shows_every_comment_then_says_live_would_refuse(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    text = config.read_text(encoding="utf-8").replace("[run]\n", "[run]\nmax_actions_per_run = 2\n")
    config.write_text(text, encoding="utf-8")
    assert main(["--config", str(config), "once", "--dry-run"]) == 1
    out = capsys.readouterr().out
    assert out.count("         | comment:") == 6  # every comment, though 6 > 2
    assert " ".join(out.split()).endswith(
        "ACTION CAP: 6 bugs would be acted on, more than max_actions_per_run: a live run "
        "would refuse and write nothing. Read the comments above, then run with --live "
        "--no-limit if this is expected."
    )
    assert main(["--config", str(config), "once", "--live"]) == 1
    out = capsys.readouterr().out
    assert "| comment:" not in out and "nothing was written" in " ".join(out.split())
