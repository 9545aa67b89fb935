"""`run`'s log as an operator reads it: a start-up line, one line per write naming the rule,
the bug, what was written and how it went, one summary line per poll; no third-party
start-up chatter; with `--log-format json`, every line `run` prints is one JSON object, the
key in none of them. Real `run` processes against the loopback stand-in."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import cli_env, wait_for
from standin import FaultyBugzilla

from triagebot.demo import demo

ROOT = Path(__file__).resolve().parents[1]
CHATTER = ("Context impl", "Will assume", "Running upgrade", "Added job", "Scheduler started")
# What the demo's first poll writes: bug -> (outcome, community, needinfo)
WRITES = {
    1: ("endorsed", "mozilla-hispano", []),
    2: ("needs-endorsement", "mozilla-francophone", ["camille@example.org", "nadia@example.org"]),
    3: ("former-delegate", "mozilla-tamil", ["meena@example.org"]),
    4: ("unknown", None, ["newcomer@example.org"]),
    5: ("ambiguous", None, ["visitor@example.org"]),
    6: ("needs-endorsement", "mozilla-hispano", ["lucia@example.org", "mateo@example.org"]),
}


@pytest.fixture
def config(fake: FaultyBugzilla, tmp_path: Path) -> Path:
    assert fake.url is not None
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    path = demo.write_config(tmp_path, fake.url, ROOT, start)
    text = path.read_text(encoding="utf-8").replace(
        "[poll]\n", "[poll]\ninterval_minutes = 0.005\n"
    )
    path.write_text(text, encoding="utf-8")
    return path


def run_until_second_poll(
    config: Path, fake: FaultyBugzilla, *args: str, after: int = 0
) -> tuple[int, str]:
    """`triagebot [args] run --live`, stopped with SIGTERM once its second poll searched
    (`after` searches made before it started)."""
    env = cli_env()
    proc = subprocess.Popen(
        [sys.executable, "-m", "triagebot", "--config", str(config), *args, "run", "--live"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: fake.counts["search"] >= after + 2 or proc.poll() is not None)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert out == ""
    return proc.returncode, err


def test_the_text_log_names_each_write_and_each_poll(config: Path, fake: FaultyBugzilla) -> None:
    fake.fail_next(200, kind="update")  # the first PUT: an internal error, maybe landed
    code, err = run_until_second_poll(config, fake)
    assert code == 0, err
    lines = err.splitlines()
    # before the first poll: the database brought up to date, then the start-up line
    assert "triagebot.state.migrate: database upgraded from nothing to " in lines[0]
    assert " INFO triagebot: triagebot run: Bugzilla " in lines[1]
    writes = [
        line.split(" triagebot.writes: ", 1)[1] for line in lines if "triagebot.writes" in line
    ]
    assert writes[0] == (
        "rule community-it: bug 1: FAILED, retried next poll: triage endorsed (mozilla-hispano): "
        "comment, whiteboard: injected failure (Bugzilla error 100500)"
    )
    assert " ERROR triagebot.writes: " in next(line for line in lines if "FAILED" in line)
    assert writes[1:] == [
        "rule community-it: bug 2: commented: triage needs-endorsement (mozilla-francophone): "
        "comment, whiteboard, needinfo camille@example.org, nadia@example.org",
        "rule community-it: bug 3: commented: triage former-delegate (mozilla-tamil): comment, "
        "whiteboard, needinfo meena@example.org",
        "rule community-it: bug 4: commented: triage unknown: comment, whiteboard, needinfo "
        "newcomer@example.org",
        "rule community-it: bug 5: commented: triage ambiguous: comment, whiteboard, needinfo "
        "visitor@example.org",
        "rule community-it: bug 6: commented: triage needs-endorsement (mozilla-hispano): "
        "comment, whiteboard, needinfo lucia@example.org, mateo@example.org",
    ]
    polls = [line for line in lines if " INFO triagebot: rule community-it (live): " in line]
    assert len(polls) >= 2
    assert re.fullmatch(
        r"\S+ \S+ INFO triagebot: rule community-it \(live\): 7 bugs changed since \S+ \S+Z: "
        r"1 skipped, 1 FAILED, 5 commented; 8 HTTP requests; to retry: bug 1",
        polls[0],
    ), polls[0]
    for chatter in CHATTER:
        assert chatter not in err
    assert "Traceback" not in err


def test_json_log_every_line_is_one_object(config: Path, fake: FaultyBugzilla) -> None:
    code, err = run_until_second_poll(config, fake, "--log-format", "json")
    assert code == 0, err
    records: list[dict[str, Any]] = [json.loads(line) for line in err.splitlines()]
    for record in records:
        assert {"timestamp", "level", "logger", "message"} <= set(record), record
        assert datetime.fromisoformat(record["timestamp"]).tzinfo is not None
    assert records[0]["logger"] == "triagebot.state.migrate"
    start = records[1]
    assert start["message"].startswith(f"triagebot run: Bugzilla {fake.url}, live, rules ")
    assert (start["level"], start["live"], start["rules"]) == ("INFO", True, ["community-it"])
    writes = {r["bug"]: r for r in records if r["logger"] == "triagebot.writes"}
    assert sorted(writes) == sorted(WRITES)
    for bug, (outcome, community, needinfo) in WRITES.items():
        record = writes[bug]
        assert record["message"].startswith(f"rule community-it: bug {bug}: commented: triage ")
        assert {k: record[k] for k in ("rule", "outcome", "kind", "decision", "community")} == {
            "rule": "community-it",
            "outcome": "commented",
            "kind": "triage",
            "decision": outcome,
            "community": community,
        }
        assert record["needinfo"] == needinfo
        assert record["wrote"] == ["comment", "whiteboard", *(["needinfo"] if needinfo else [])]
        assert record["error"] is None and len(record["ref"]) == 16
    polls = [r for r in records if r.get("message", "").startswith("rule community-it (live)")]
    assert polls[0]["outcome"] == "ok" and polls[0]["acted"] == 6 and polls[0]["failed"] == []
    assert polls[0]["bugs"] == 7 and polls[0]["requests"] > 0
    assert records[-1]["message"] == "stopped"
    assert demo.DEMO_KEY not in err
    for chatter in CHATTER:
        assert chatter not in err


def test_json_log_start_up_errors_are_objects_too(tmp_path: Path) -> None:
    env = cli_env()
    missing = tmp_path / "nowhere.toml"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "triagebot",
            "--log-format",
            "json",
            "--config",
            str(missing),
            "run",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    (record,) = [json.loads(line) for line in done.stderr.splitlines()]
    assert (record["level"], record["message"]) == (
        "ERROR",
        f"{missing}: no such configuration file",
    )


def test_log_format_json_in_the_configuration(config: Path, fake: FaultyBugzilla) -> None:
    """`[log] format = "json"` does what `--log-format json` does; the option overrides it."""
    config.write_text(
        config.read_text(encoding="utf-8") + '\n[log]\nformat = "json"\n', encoding="utf-8"
    )
    code, err = run_until_second_poll(config, fake)
    assert code == 0, err
    records = [json.loads(line) for line in err.splitlines()]
    assert {r["logger"] for r in records} >= {"triagebot", "triagebot.writes"}
    assert sum(r["logger"] == "triagebot.writes" for r in records) == 6

    searched = fake.counts["search"]
    code, err = run_until_second_poll(config, fake, "--log-format", "text", after=searched)
    assert code == 0, err
    assert " INFO triagebot: triagebot run: Bugzilla " in err
    assert not [line for line in err.splitlines() if line.startswith("{")]


def test_a_log_format_the_bot_does_not_know_is_a_configuration_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "triagebot.toml"
    path.write_text('[log]\nformat = "yaml"\n', encoding="utf-8")
    env = cli_env()
    done = subprocess.run(
        [sys.executable, "-m", "triagebot", "--config", str(path), "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {path}:2: log.format: ")
