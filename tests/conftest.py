"""Shared fixtures: the Bugzilla 5.0.6 recordings in tests/recordings/, and the loopback
stand-in with the demo's bugs for the tests that run the bot against it."""

from __future__ import annotations

import copy
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from standin import FaultyBugzilla

from triagebot.demo import demo

RECORDINGS = Path(__file__).resolve().parent / "recordings"


@cache
def _load(name: str) -> dict[str, Any]:
    path = RECORDINGS / f"{name.removesuffix('.json')}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no recording {name!r} in {RECORDINGS}")
    return json.loads(path.read_text(encoding="utf-8"))


def load_recording(name: str) -> dict[str, Any]:
    """A recorded exchange (note, request, status, content_type, response); a fresh copy, so
    a test may edit it."""
    return copy.deepcopy(_load(name))


@pytest.fixture
def recording() -> Callable[[str], dict[str, Any]]:
    """`recording("comments_batch")` -> the recorded exchange, see `load_recording`."""
    return load_recording


@pytest.fixture(autouse=True)
def _quiet_loggers_restored() -> Any:
    """`triagebot.commands.cli.main` quiets urllib3 and APScheduler for the process; a test that
    ran it must not leave another test without their log lines."""
    names = ("urllib3", "apscheduler")
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server for the whole session (see tests/pgserver.py): skips with the
    reason where there is none, fails under CI."""
    from pgserver import server

    with server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database on each engine the bot supports: a SQLite file, and a database on a
    real PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'triagebot.db'}"
        return
    from pgserver import database

    with database(request.getfixturevalue("postgres_server")) as url:
        yield url


class Clock:
    """A settable clock for the stand-in and the poller: tests move time, nothing sleeps."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


# -- the bot against the loopback stand-in ------------------------------------------------------
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fake() -> Iterator[FaultyBugzilla]:
    """The stand-in with the demo's bugs filed; a test module's own `fake` overrides it."""
    with FaultyBugzilla(api_key=demo.DEMO_KEY, bot_login=demo.BOT) as server:
        demo.seed(server, datetime.now(UTC).replace(microsecond=0), ROOT / "data")
        yield server


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """A copy of the shipped data/ and rules/, free to break."""
    shutil.copytree(ROOT / "data", tmp_path / "base" / "data")
    shutil.copytree(ROOT / "rules", tmp_path / "base" / "rules")
    return tmp_path / "base"


def cli_env() -> dict[str, str]:
    """The environment of a `python -m triagebot` subprocess: this checkout first on the path,
    none of the developer's TRIAGEBOT_ settings, no colour."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGEBOT_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["NO_COLOR"] = "1"
    return env


def edit(path: Path, old: str, new: str) -> None:
    """Replace `old` once, and move the mtime on: a change, whatever the clock's tick."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    before = path.stat().st_mtime_ns
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    os.utime(path, ns=(before + 10**9, before + 10**9))


def wait_for(condition: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:  # a hang guard, not a figure
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(0.02)
