"""The progress line of `once`: on a terminal only, never with NO_COLOR or into a pipe."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from triagebot.commands import progress
from triagebot.commands.cli import main
from triagebot.demo import demo
from triagebot.demo.devserver import FakeBugzilla

ROOT = Path(__file__).resolve().parents[1]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TRIAGEBOT_API_KEY", raising=False)
    monkeypatch.setenv("TERM", "xterm")


@pytest.fixture
def config(tmp_path: Path) -> Iterator[Path]:
    with FakeBugzilla(api_key=demo.DEMO_KEY, bot_login=demo.BOT) as server:
        demo.seed(server, datetime.now(UTC).replace(microsecond=0), ROOT / "data")
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        assert server.url is not None
        yield demo.write_config(tmp_path, server.url, ROOT, start)


def test_the_line_counts_done_of_total_with_rate_and_time_left() -> None:
    tty = Terminal()
    line = progress.for_stream(tty)
    assert line is not None
    for done in (1, 2, 3):
        line(done, 3)
    shown = tty.getvalue()
    assert "writing: 1/3 bugs, " in shown and "writing: 3/3 bugs, " in shown
    assert "bug/s" in shown and " left " in shown


def test_nothing_off_a_terminal_or_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    assert progress.for_stream(io.StringIO()) is None
    monkeypatch.setenv("NO_COLOR", "1")
    assert progress.for_stream(Terminal()) is None


def test_once_live_draws_it_on_a_terminal_stderr_only(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tty = Terminal()
    monkeypatch.setattr(sys, "stderr", tty)
    assert main(["--config", str(config), "once", "--live"]) == 0
    assert "writing: 6/6 bugs, " in tty.getvalue()
    assert "writing:" not in capsys.readouterr().out
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.undo()
    assert main(["--config", str(config), "once", "--live"]) == 0
    assert capsys.readouterr().err == ""
