"""Instant recovery: a poll lease whose holder on this host is gone is free at once; the "another
poll is running" line names only a holder that is alive. The real `python -m triagebot once
--live` as a subprocess against the loopback stand-in, as an operator runs it."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import cli_env
from standin import DROP, FaultyBugzilla, RequestInfo

from triagebot.demo import demo, devserver
from triagebot.files.validate import load_registry
from triagebot.state import process

ROOT = Path(__file__).resolve().parents[1]
KEY = "lease-api-key-not-secret"
BOT = "triagebot@example.org"

pytestmark = pytest.mark.skipif(
    process.start_of(os.getpid()) is None,
    reason="this system does not tell when a process started (no /proc): only expiry frees",
)


@pytest.fixture
def server() -> Iterator[tuple[FaultyBugzilla, list[int]]]:
    """The stand-in with three new requests from current delegates (no needinfo)."""
    now = datetime.now(UTC).replace(microsecond=0)
    with FaultyBugzilla(api_key=KEY, bot_login=BOT) as fake:
        registry = load_registry(ROOT / "data").registry
        assert registry is not None
        demo.add_accounts(fake, registry.people.values())
        bugs = [
            fake.add_bug(
                f"Mailing list number {n} for Mozilla Hispano translators",
                "Details.",
                "lucia@example.org",
                creation_time=now - timedelta(minutes=30) + timedelta(seconds=n),
            )
            for n in range(3)
        ]
        yield fake, bugs


def configure(fake: FaultyBugzilla, workdir: Path) -> Path:
    return devserver.write_config(
        workdir,
        fake.url,
        api_key=KEY,
        bot_login=BOT,
        data=ROOT / "data",
        rules=ROOT / "rules",
        start=datetime.now(UTC) - timedelta(hours=1),
        page_size=2,
    )


def once(config: Path) -> subprocess.Popen[str]:
    env = cli_env()
    return subprocess.Popen(
        [sys.executable, "-m", "triagebot", "--config", str(config), "once", "--live"],
        cwd=config.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def bot_comments(fake: FaultyBugzilla, bug_id: int) -> int:
    return sum(c["creator"] == BOT for c in fake.comments_of(bug_id))


def at_first_search(fake: FaultyBugzilla, act: Any) -> threading.Event:
    """Run `act()` when the first search arrives (the poll holds its lease by then), before
    it is answered; returns an event set when it arrives."""
    arrived = threading.Event()

    def hook(info: RequestInfo) -> Any:
        if info.kind != "search" or info.phase != "before" or arrived.is_set():
            return None
        arrived.set()
        return act()

    fake.on_request(hook)
    return arrived


def test_a_sigkilled_once_leaves_a_lease_that_the_next_once_takes_at_once(
    server: tuple[FaultyBugzilla, list[int]], tmp_path: Path
) -> None:
    fake, bugs = server
    config = configure(fake, tmp_path)
    ready = threading.Event()
    killed: list[subprocess.Popen[str]] = []

    def kill() -> str:
        ready.wait(30)
        os.kill(killed[0].pid, signal.SIGKILL)  # it waits for this answer: it dies first
        return DROP

    fired = at_first_search(fake, kill)
    killed.append(once(config))
    ready.set()
    out, err = killed[0].communicate(timeout=60)
    assert killed[0].returncode == -signal.SIGKILL and fired.is_set(), out + err
    assert [bot_comments(fake, b) for b in bugs] == [0, 0, 0]

    again = once(config)  # at once: no waiting for the lease's expiry
    out, err = again.communicate(timeout=60)

    assert again.returncode == 0, out + err
    assert "another poll" not in out, out
    assert re.search(r"\b3 commented\b", out), out + err
    assert [bot_comments(fake, b) for b in bugs] == [1, 1, 1]


def test_a_live_holder_is_named_and_its_poll_is_left_alone(
    server: tuple[FaultyBugzilla, list[int]], tmp_path: Path
) -> None:
    fake, bugs = server
    config = configure(fake, tmp_path)
    go_on = threading.Event()
    fired = at_first_search(fake, lambda: go_on.wait(60) and None)
    holder = once(config)
    try:
        assert fired.wait(60), "the first poll never searched"
        second = once(config)
        out, err = second.communicate(timeout=60)
        assert second.returncode == 0, out + err
        assert re.fullmatch(
            rf"another poll of rule community-it is running on {re.escape(socket.gethostname())}"
            rf" \(pid {holder.pid}\) since \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\dZ: nothing to do\n",
            out,
        ), out
        assert [bot_comments(fake, b) for b in bugs] == [0, 0, 0]
    finally:
        go_on.set()
    out, err = holder.communicate(timeout=60)
    assert holder.returncode == 0, out + err
    assert [bot_comments(fake, b) for b in bugs] == [1, 1, 1]
