"""Exit codes a service manager can act on, for `run` and `once`: 0 done, 1 worth a retry
(Bugzilla unreachable, a server error), 2 a configuration error a restart will not fix (a URL
that is not a Bugzilla's, a wrong product, a wrong key, a missing file), 130 interrupted; and
SIGTERM, which finishes the write in flight, releases the poll lease and exits 0.

The client's answers are the recorded Bugzilla 5.0.6 shapes (tests/recordings/) through
`responses`; the commands run against the loopback stand-in, `run` as a real subprocess where
a signal is involved."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import responses
from conftest import cli_env, edit, load_recording
from standin import FaultyBugzilla, RequestInfo

from triagebot.bugzilla.client import BugzillaError, Client, NotABugzilla
from triagebot.commands.cli import main
from triagebot.demo import demo
from triagebot.files.config import load_config
from triagebot.state.store import Lease, Owner, Store

ROOT = Path(__file__).resolve().parents[1]
BASE = "https://bugzilla.example.test"
PRODUCT = "Participation Infrastructure"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRIAGEBOT_CONFIG", raising=False)
    monkeypatch.delenv("TRIAGEBOT_API_KEY", raising=False)


def make_config(tmp_path: Path, url: str, base: Path) -> Path:
    workdir = tmp_path / "bot"
    workdir.mkdir(exist_ok=True)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    return demo.write_config(workdir, url, base, start)


@pytest.fixture
def config(fake: FaultyBugzilla, base: Path, tmp_path: Path) -> Path:
    assert fake.url is not None
    return make_config(tmp_path, fake.url, base)


# -- the client: what Bugzilla 5.0.6 answers --------------------------------------------------
def test_a_url_that_answers_404_is_not_a_bugzilla() -> None:
    with responses.RequestsMock() as rsps:
        rsps.add("GET", f"{BASE}/bugzilla/rest/version", body="<h1>Not Found</h1>", status=404)
        with pytest.raises(NotABugzilla) as caught:
            Client(f"{BASE}/bugzilla/", "k" * 40, requests_per_minute=None).connect()
    assert str(caught.value) == (
        f"{BASE}/bugzilla: GET /bugzilla/rest/version answered HTTP 404: is this the base URL "
        "of a Bugzilla? ([bugzilla] url)"
    )
    assert not caught.value.worth_a_retry


def test_an_unknown_product_gets_a_suggestion_from_the_servers_products() -> None:
    """5.0.6 answers a search in an unknown product with no bugs, no error
    (search_unknown_product.json): the start-up check asks for the products by name and,
    for one the server does not know, for the names it has (`?type=accessible`)."""
    assert load_recording("search_unknown_product")["response"] == {"bugs": []}
    with responses.RequestsMock() as rsps:
        rec = load_recording("version")
        rsps.add("GET", f"{BASE}/rest/version", json=rec["response"], status=rec["status"])
        rsps.add(
            "GET",
            f"{BASE}/rest/product",
            json={"products": []},
            match=[
                responses.matchers.query_param_matcher({"names": "Participation Infrastucture"})
            ],
        )
        rsps.add(
            "GET",
            f"{BASE}/rest/product",
            json={"products": [{"name": PRODUCT}, {"name": "Firefox"}]},
            match=[
                responses.matchers.query_param_matcher(
                    {"type": "accessible", "include_fields": "name"}
                )
            ],
        )
        client = Client(BASE, None, requests_per_minute=None)
        problems = client.check_products({"Participation Infrastucture": ["Community IT"]})
    assert problems == [
        "unknown product 'Participation Infrastucture', or not visible to this account "
        "(did you mean 'Participation Infrastructure'?)"
    ]


@pytest.mark.parametrize(
    ("name", "retry"),
    [("error_bad_api_key", False), ("error_no_such_bug", False), ("error_bad_date", False)],
)
def test_answered_errors_are_for_the_operator(name: str, retry: bool) -> None:
    rec = load_recording(name)
    body = rec["response"]
    error = BugzillaError(body["message"], body["code"], http_status=rec["status"])
    assert error.worth_a_retry is retry
    assert BugzillaError("GET /bug: HTTP 502 Bad Gateway", http_status=502).worth_a_retry
    assert BugzillaError("internal", 100500, http_status=200).worth_a_retry


# -- the commands' exit codes -------------------------------------------------------------------
def test_a_base_url_that_is_not_a_bugzilla_exits_2(
    fake: FaultyBugzilla, base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_config(tmp_path, f"{fake.url}/bugzilla", base)
    for command in ("once", "run"):
        assert main(["--config", str(config), command, "--live"]) == 2
        err = capsys.readouterr().err
        assert err == (
            f"error: {fake.url}/bugzilla: GET /bugzilla/rest/version answered HTTP 404: "
            "is this the base URL of a Bugzilla? ([bugzilla] url)\n"
        )
    assert fake.counts["search"] == 0


def test_a_wrong_product_exits_2_with_a_suggestion(
    config: Path, base: Path, fake: FaultyBugzilla, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(base / "rules" / "community-it.toml", f'"{PRODUCT}"', '"Participation Infrastucture"')
    assert main(["--config", str(config), "run", "--live"]) == 2
    assert capsys.readouterr().err == (
        f"error: {fake.url}: unknown product 'Participation Infrastucture', or not visible to "
        "this account (did you mean 'Participation Infrastructure'?)\n"
    )
    assert fake.counts["search"] == 0


def test_a_key_bugzilla_refuses_exits_2(
    config: Path, fake: FaultyBugzilla, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused at start-up (the product check), or revoked while `run` runs: its next poll
    finds out, and `run` stops there instead of polling on with a key that cannot work."""
    key_file = config.parent / "api-key"
    refused = (
        f"error: Bugzilla at {fake.url} rejected the API key from {key_file}: The API key you "
        "specified is invalid. Please check that you typed it correctly. (Bugzilla error 306)\n"
    )
    edit(key_file, demo.DEMO_KEY, "WRONGKEY0000000000000000000000000000000x")
    assert main(["--config", str(config), "run", "--live"]) == 2
    assert capsys.readouterr().err == refused
    assert fake.counts["search"] == 0

    edit(key_file, "WRONGKEY0000000000000000000000000000000x", demo.DEMO_KEY)

    def revoke(info: RequestInfo) -> None:
        if info.kind == "search":
            fake.api_key = "another-key-entirely"

    fake.on_request(revoke)
    assert main(["--config", str(config), "run", "--live"]) == 2
    assert capsys.readouterr().err == refused
    assert fake.counts["search"] == 1 and fake.counts["update"] == 0


def test_a_missing_file_exits_2(
    config: Path, base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.toml"
    assert main(["--config", str(missing), "run"]) == 2
    assert capsys.readouterr().err == f"error: {missing}: no such configuration file\n"
    (config.parent / "api-key").unlink()
    assert main(["--config", str(config), "run", "--live"]) == 2
    assert "api-key" in capsys.readouterr().err


def test_bugzilla_unreachable_exits_1(
    base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FaultyBugzilla() as closed:  # a port that was just free: nobody listens there now
        url = closed.url
    assert url is not None
    config = make_config(tmp_path, url, base)
    edit(config, "[bugzilla]\n", "[bugzilla]\ntimeout_seconds = 1\n")
    assert main(["--config", str(config), "run", "--live"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot reach Bugzilla at {url}: connection refused (")


def test_a_server_error_exits_1(
    config: Path, fake: FaultyBugzilla, capsys: pytest.CaptureFixture[str]
) -> None:
    """An internal error (Bugzilla's codes from 100000, here with HTTP 200, so not retried
    within the run) is the server's: worth a retry."""
    fake.fail_next(200, kind="product")
    assert main(["--config", str(config), "run", "--live"]) == 1
    assert capsys.readouterr().err == (
        "error: Bugzilla: injected failure (Bugzilla error 100500)\n"
    )


# -- signals: a real `run` / `once` process -----------------------------------------------------
def cli(config: Path, *args: str) -> subprocess.Popen[str]:
    env = cli_env()
    return subprocess.Popen(
        [sys.executable, "-m", "triagebot", "--config", str(config), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class SignalMidWrite:
    """A server hook: when the second PUT arrives, signal the bot, then hold the answer a
    moment (the write in flight) and apply it."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.proc: subprocess.Popen[str] | None = None
        self.puts = 0
        self.fired = threading.Event()

    def __call__(self, info: RequestInfo) -> Any:
        if info.kind != "update" or info.phase != "before":
            return None
        self.puts += 1
        if self.puts == 2 and self.proc is not None:
            os.kill(self.proc.pid, self.signum)
            time.sleep(0.5)
            self.fired.set()
        return None


def bot_comments(fake: FaultyBugzilla) -> dict[int, int]:
    return {
        bug_id: sum(
            "-- triagebot (rule community-it" in c["text"] for c in fake.comments_of(bug_id)
        )
        for bug_id in sorted(fake.bugs)
    }


def lease_holder(config: Path) -> str | None:
    """Whom the rule's lease names as holder; None when it is free (the probe gives back at
    once what it took, or the next poll would find the probe holding it)."""
    with Store(load_config(config).database.url) as store:
        held = store.acquire_lease("community-it", Owner("probe", "probe", 1), timedelta(seconds=1))
        if isinstance(held, Lease):
            store.release_lease(held)
            return None
    return held.message()


@pytest.mark.parametrize("command", ["run", "once"])
def test_sigterm_finishes_the_write_in_flight_releases_the_lease_and_exits_0(
    config: Path, fake: FaultyBugzilla, command: str
) -> None:
    hook = SignalMidWrite(signal.SIGTERM)
    fake.on_request(hook)
    hook.proc = proc = cli(config, command, "--live")
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert hook.fired.is_set()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert fake.counts["update"] == 2  # the one in flight landed; no other was sent
    assert sorted(n for n in bot_comments(fake).values() if n) == [1, 1]
    assert lease_holder(config) is None  # released: the next poll starts at once
    if command == "run":
        assert "received SIGTERM, stopping after the write in flight" in err
        assert "stopped on SIGTERM: the rest is left to the next poll" in err
        assert err.rstrip().endswith("stopped")
    else:
        assert "not written: stopped (the next poll writes it)" in out
        assert "stopped on SIGTERM: the rest is left to the next poll" in out

    fake.remove_hook(hook)
    again = cli(config, "once", "--live")
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert "another poll" not in out + err
    comments = bot_comments(fake)
    assert set(comments.values()) == {0, 1} and sum(comments.values()) == 6, comments


def test_sigint_stops_run_after_the_write_in_flight_with_130(
    config: Path, fake: FaultyBugzilla
) -> None:
    hook = SignalMidWrite(signal.SIGINT)
    fake.on_request(hook)
    hook.proc = proc = cli(config, "run", "--live")
    try:
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "received SIGINT, stopping after the write in flight" in err
    assert fake.counts["update"] == 2
    assert lease_holder(config) is None
