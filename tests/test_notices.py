"""What an operator reads when Bugzilla cannot be reached, refuses the key, or no
configuration file is found: one line each, naming sources, never a secret or a query string.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from standin import FaultyBugzilla

from triagebot.bugzilla.client import Client
from triagebot.commands.cli import main
from triagebot.demo import demo
from triagebot.service import run as service

ROOT = Path(__file__).resolve().parents[1]
WRONG = "not-the-key-0123456789"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TRIAGEBOT_CONFIG", raising=False)
    monkeypatch.delenv("TRIAGEBOT_API_KEY", raising=False)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The bot's backoff sleeps, recorded instead of slept."""
    sleeps: list[float] = []

    class Recording(Client):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, sleep=sleeps.append, **kwargs)

    monkeypatch.setattr(service, "Client", Recording)  # its `configured` makes a Recording
    return sleeps


@pytest.fixture
def fake() -> Iterator[FaultyBugzilla]:
    with FaultyBugzilla(api_key=demo.DEMO_KEY, bot_login=demo.BOT) as server:
        demo.seed(server, datetime.now(UTC).replace(microsecond=0), ROOT / "data")
        yield server


def config_for(url: str, tmp_path: Path) -> Path:
    workdir = tmp_path / "bot"
    workdir.mkdir(exist_ok=True)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    return demo.write_config(workdir, url, ROOT, start)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_bugzilla_is_one_line_without_urllib3_lines_or_query(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    slept: list[float],
) -> None:
    port = free_port()
    config = config_for(f"http://127.0.0.1:{port}/", tmp_path)
    for argv in (["once", "--dry-run"], ["once", "--live"], ["explain", "3"]):
        code = main(["--config", str(config), *argv])
        out, err = capsys.readouterr()
        assert code == 1
        assert out == ""
        assert re.fullmatch(
            rf"error: cannot reach Bugzilla at http://127\.0\.0\.1:{port}: connection refused "
            r"\(4 tries over \d+ s\)\n",
            err,
        ), err
    assert not [r for r in caplog.records if r.name.startswith("urllib3")]
    assert len(slept) == 6  # per command: 3 retries, the first at once, then given up


def test_unreachable_bugzilla_at_v_shows_retries_but_no_query_string(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    slept: list[float],
) -> None:
    port = free_port()
    config = config_for(f"http://127.0.0.1:{port}", tmp_path)
    assert main(["--config", str(config), "-v", "once", "--live"]) == 1
    err = capsys.readouterr().err + caplog.text
    assert "Retrying" in err  # urllib3's own lines are there with -v ...
    assert "/rest/version" in err
    assert "?" not in err  # ... but never a URL's query string (where the key travels)
    assert "demo-api-key" not in err


@pytest.mark.parametrize("cached", [False, True])
def test_a_wrong_key_exits_2_naming_the_variable_every_time(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    fake: FaultyBugzilla,
    monkeypatch: pytest.MonkeyPatch,
    cached: bool,
) -> None:
    assert fake.url is not None
    config = config_for(fake.url, tmp_path)
    if cached:  # the product check passed earlier: the first request needing the key is later
        assert main(["--config", str(config), "once", "--dry-run"]) == 0
        capsys.readouterr()
    monkeypatch.setenv("TRIAGEBOT_API_KEY", WRONG)
    for argv in (["once", "--live"], ["once", "--live"], ["explain", "3"]):
        code = main(["--config", str(config), *argv])
        out, err = capsys.readouterr()
        assert (code, out) == (2, "")
        assert err == (
            f"error: Bugzilla at {fake.url} rejected the API key from $TRIAGEBOT_API_KEY: The "
            "API key you specified is invalid. Please check that you typed it correctly. "
            "(Bugzilla error 306)\n"
        )
    assert not {"update", "comment"} & set(fake.counts)


def test_a_wrong_key_in_a_file_names_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fake: FaultyBugzilla
) -> None:
    assert fake.url is not None
    config = config_for(fake.url, tmp_path)
    key_file = config.parent / "api-key"
    key_file.write_text(WRONG + "\n", encoding="utf-8")
    code = main(["--config", str(config), "once", "--live"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(
        f"error: Bugzilla at {fake.url} rejected the API key from {key_file}: The API key"
    )
    assert WRONG not in err


def test_status_shows_a_failed_poll_first_on_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fake: FaultyBugzilla
) -> None:
    assert fake.url is not None
    config = config_for(fake.url, tmp_path)
    fake.fail_next(400, kind="search", body={"error": True, "code": 100500, "message": "x" * 200})
    assert main(["--config", str(config), "once", "--live"]) == 1
    capsys.readouterr()
    assert main(["--config", str(config), "status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "FAILED: " + "x" * 71 + "…"
    assert re.fullmatch(r"  \S+ \S+Z community-it \(live, \d+\.\d s\)", lines[2])
    assert lines[3] == "    FAILED: " + "x" * 67 + "…"


def test_no_configuration_file_gives_a_one_line_notice_of_the_defaults(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["status"])
    out, err = capsys.readouterr()
    assert err == (
        "note: no configuration file (--config, $TRIAGEBOT_CONFIG, ./triagebot.toml); "
        "defaults: https://bugzilla.mozilla.org, dry run, registry data/, rules rules/, "
        "sqlite:///triagebot.db\n"
    )
    assert out.startswith("no state yet: no poll has run with this database\n")
    assert code == 1  # ./data and ./rules are missing here: status says so
    assert not Path("triagebot.db").exists()


def test_v_works_after_the_subcommand_too(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    slept: list[float],
) -> None:
    port = free_port()
    config = config_for(f"http://127.0.0.1:{port}", tmp_path)
    for argv in (["once", "--live", "-v"], ["-v", "once", "--live"]):
        caplog.clear()
        assert main(["--config", str(config), *argv]) == 1
        capsys.readouterr()
        assert "Retrying" in caplog.text, argv  # urllib3's lines: shown at -v only
    caplog.clear()
    assert main(["--config", str(config), "once", "--live"]) == 1
    assert "Retrying" not in caplog.text


def test_top_level_help_and_registry_show_fit_80_columns_and_show_notes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--help"]) == 0
    help_text = capsys.readouterr().out
    assert [line for line in help_text.splitlines() if len(line) > 80] == []
    for path in sorted((ROOT / "data" / "communities").glob("*.toml")):
        assert main(["registry", "show", path.stem, "--dir", str(ROOT / "data")]) == 0
        out = capsys.readouterr().out
        assert [line for line in out.splitlines() if len(line) > 80] == [], path.stem
    assert main(["registry", "show", "mozilla-esperanto", "--dir", str(ROOT / "data")]) == 0
    out = capsys.readouterr().out
    assert "  notes: Two volunteer coordinators ran it by agreement; dormant since" in out
    assert "    September 2024. Community IT keeps the domain parked." in out


def test_gitignore_covers_sqlite_side_files() -> None:
    patterns = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert {"*.db", "*.db-journal", "*.db-wal", "*.db-shm"} <= set(patterns)


def test_ctrl_c_during_once_live_says_what_was_done_and_exits_130(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    fake: FaultyBugzilla,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert fake.url is not None
    config = config_for(fake.url, tmp_path)
    real_update = Client.update
    calls: list[int] = []

    def update(self: Client, bug_id: int, **kwargs: object) -> int | None:
        calls.append(bug_id)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_update(self, bug_id, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Client, "update", update)
    code = main(["--config", str(config), "once", "--live"])
    out, err = capsys.readouterr()
    assert (code, out) == (130, "")
    assert err == "interrupted: 2 commented, 4 unconfirmed (checked against Bugzilla next poll)\n"
    assert fake.counts["update"] == 2


def test_run_logs_one_start_up_line_without_secrets() -> None:
    from triagebot.commands.output import run_startup_line
    from triagebot.files.config import Config

    config = Config(
        bugzilla={"url": "https://bot:pw@bugzilla.example.org/?x=1"}, poll={"interval_minutes": 5}
    )
    assert run_startup_line(config, False, ["community-it"]) == (
        "triagebot run: Bugzilla https://bugzilla.example.org, dry run, rules community-it, "
        "every 5 min"
    )
