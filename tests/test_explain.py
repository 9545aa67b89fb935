"""`explain` is the poll, read only: for every bug of the demo, before each of its three polls,
`explain --json` predicts exactly the PUT the live poll then sends (the comment byte for byte
but for the footer's ref, made at write time; tags; needinfo asked and cleared), including the
follow-up a delegate's answer brings, and nothing where the poll sends nothing."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from triagebot.commands.cli import main
from triagebot.demo import demo
from triagebot.demo.devserver import FakeBugzilla

ROOT = Path(__file__).resolve().parents[1]
REF = re.compile(r"; ref [^)\s]+\)$")


@pytest.fixture
def setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, FakeBugzilla, list[int]]]:
    monkeypatch.delenv("TRIAGEBOT_CONFIG", raising=False)
    monkeypatch.delenv("TRIAGEBOT_API_KEY", raising=False)
    with FakeBugzilla(api_key=demo.DEMO_KEY, bot_login=demo.BOT) as server:
        now = datetime.now(UTC).replace(microsecond=0)
        filed = [bug_id for bug_id, _ in demo.seed(server, now, ROOT / "data")]
        assert server.url is not None
        config = demo.write_config(tmp_path, server.url, ROOT, now - timedelta(hours=1))
        yield config, server, filed


def predicted(config: Path, bug: int, capsys: pytest.CaptureFixture[str]) -> dict[str, Any] | None:
    """`explain BUG --json`'s write, as the PUT's fields; None: it predicts none."""
    assert main(["--config", str(config), "explain", str(bug), "--json"]) == 0
    rules = json.loads(capsys.readouterr().out)["rules"]
    writes = [r["would_write"] for r in rules if r["would_write"] is not None]
    if not writes:
        return None
    (write,) = writes
    return {
        "comment": REF.sub("; ref REF)", write["comment"]) if write["comment"] else None,
        "whiteboard": write["whiteboard"],
        "needinfo": write["needinfo"],
        "clear": write["clear_flags"],
    }


def sent(body: dict[str, Any]) -> dict[str, Any]:
    """The same fields of a PUT the stand-in received."""
    comment = body.get("comment", {}).get("body")
    flags = body.get("flags", [])
    return {
        "comment": REF.sub("; ref REF)", comment) if comment else None,
        "whiteboard": body.get("whiteboard"),
        "needinfo": [f["requestee"] for f in flags if f.get("status") == "?"],
        "clear": [f["id"] for f in flags if f.get("status") == "X"],
    }


def test_explain_predicts_every_put_of_the_demos_three_polls(
    setup: tuple[Path, FakeBugzilla, list[int]], capsys: pytest.CaptureFixture[str]
) -> None:
    config, server, filed = setup
    answered = next(
        bug_id
        for bug_id, bug in zip(filed, demo.DEMO_BUGS, strict=True)
        if bug.summary == demo.ANSWERED
    )
    writes_seen: list[int] = []
    for poll in (1, 2, 3):
        puts = len(server.puts)
        expected = {bug: predicted(config, bug, capsys) for bug in filed}
        assert len(server.puts) == puts  # explain wrote nothing
        assert main(["--config", str(config), "once", "--live"]) == 0
        capsys.readouterr()
        bodies = list(server.puts)[puts:]
        assert len({bug for bug, _ in bodies}) == len(bodies)  # one PUT per bug
        actual = {bug: None for bug in filed} | {bug: sent(body) for bug, body in bodies}
        assert actual == expected, f"poll {poll}"
        writes_seen.append(len(bodies))
        if poll == 1:
            # Bugzilla stamps whole seconds: the answer comes in a later second than the write.
            time.sleep(1.05 - time.time() % 1)
            server.add_comment(answered, demo.DELEGATE_ANSWER, demo.DELEGATE)
    assert writes_seen == [6, 1, 0]  # six first comments, the confirmation, nothing twice
