"""`triagebot demo` (issue 7): offline, every outcome, one comment per bug, nothing twice,
80 columns, no colour off a terminal, `--keep` and `--serve`."""

from __future__ import annotations

import io
import ipaddress
import json
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import tomllib
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import cli_env

from triagebot.commands.cli import main
from triagebot.demo import demo
from triagebot.demo.devserver import FakeBugzilla
from triagebot.state.store import Store

ROOT = Path(__file__).resolve().parents[1]
ANSI = "\033["
OUTCOMES = ("endorsed", "former-delegate", "needs-endorsement", "unknown", "ambiguous", "skipped")
ACTED_ON = {1, 2, 3, 4, 5, 6}  # bug 7 carries [triagebot-skip], bug 8 is in another component


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRIAGEBOT_CONFIG", raising=False)
    monkeypatch.delenv("TRIAGEBOT_API_KEY", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.chdir(ROOT)


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch) -> list[FakeBugzilla]:
    """The loopback Bugzilla the demo starts, kept for inspection."""
    started: list[FakeBugzilla] = []

    class Recorded(FakeBugzilla):
        def __init__(self, **kw: Any) -> None:
            super().__init__(**kw)
            started.append(self)

    monkeypatch.setattr(demo, "FakeBugzilla", Recorded)
    return started


def _is_loopback(address: Any) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Any connection to a non-loopback address fails; every address tried is recorded."""
    tried: list[Any] = []

    def guard(address: Any) -> None:
        tried.append(address)
        if not _is_loopback(address):
            raise OSError(f"test: network access to {address!r} is forbidden")

    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_create = socket.create_connection

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            guard(address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            guard(address)
        return real_connect_ex(self, address)

    def create_connection(address: Any, *args: Any, **kw: Any) -> socket.socket:
        guard(address)
        return real_create(address, *args, **kw)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    with pytest.raises(OSError, match="forbidden"):  # the guard is on
        socket.create_connection(("192.0.2.1", 80), timeout=0.1)
    tried.clear()
    yield tried


def private_contacts() -> set[str]:
    values = set()
    data = tomllib.loads((ROOT / "data" / "people.toml").read_text(encoding="utf-8"))
    for person in data.values():
        values.update(c["value"] for c in person.get("contacts", ()) if not c["public"])
    return values


def bug_blocks(out: str) -> dict[int, str]:
    """What the demo shows of each bug, by bug number."""
    shown = out.split("What a triager now sees in Bugzilla:")[1].split("\n\nA delegate answers")[0]
    blocks = re.split(r"\n\n(?=Bug \d+: )", shown)
    found = {}
    for block in blocks:
        match = re.match(r"\s*Bug (\d+): ", block)
        if match:
            found[int(match.group(1))] = block
    return found


def check_plain_80_columns(out: str) -> None:
    assert ANSI not in out
    too_wide = [line for line in out.splitlines() if len(line) > 80]
    assert too_wide == []


def test_demo_shows_every_outcome_once_offline(
    capsys: pytest.CaptureFixture[str], servers: list[FakeBugzilla], offline: list[Any]
) -> None:
    assert main(["demo"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert offline and all(_is_loopback(a) for a in offline)  # it did connect, to loopback only

    first_poll = out.split("What a triager now sees")[0]
    assert re.match(r"Loopback Bugzilla at http://127\.0\.0\.1:\d+: 8 bugs filed\.\n", out)
    assert "\n    8 HTTP requests\n" in first_poll
    for outcome in OUTCOMES:
        assert re.search(rf"^\s+\d+  {outcome}\s", first_poll, re.M), outcome
    assert "1 skipped, 6 commented" in first_poll

    blocks = bug_blocks(out)
    assert sorted(blocks) == list(range(1, 9))
    for bug_id, block in blocks.items():
        assert block.count(f"comment #1 by {demo.BOT}:") == (bug_id in ACTED_ON), block
        assert "comment #2" not in block and "comment #3" not in block
    assert "  whiteboard: [community:mozilla-hispano] [endorsed]" in blocks[1]
    assert "  whiteboard: [triagebot-skip]" in blocks[7]
    assert "no comment from triagebot" in blocks[8]

    (server,) = servers
    for bug_id in range(1, 9):
        posted = [c for c in server.comments_of(bug_id) if c["creator"] == demo.BOT]
        assert len(posted) == (bug_id in ACTED_ON) + (bug_id == 2)  # 2: the confirmation
    # the third poll wrote nothing; then the request filed for push
    assert server.counts["update"] == len(ACTED_ON) + 2
    answer = out.split("A delegate answers on bug 2:")[1].split("Third poll")[0]
    assert re.search(r"\n +2  endorsed +mozilla-francophone: confirmation, commented\n", answer)
    assert (
        "  whiteboard: [community:mozilla-francophone] [endorsed]\n  needinfo:   (none)" in answer
    )
    assert "Endorsed by Camille Berthelot, Présidente of Mozilla Francophone, on" in answer
    third = out.split("Third poll (nothing new, nothing posted twice):")[1]
    # the bot's own writes changed them: found again, left alone, for one request
    assert re.search(
        r"rule community-it \(live\): \d bugs changed since .*:\n +\d handled in an earlier "
        r"poll\n +1 HTTP request\n",
        third,
    )
    assert "comments by triagebot: 6, then 7 (the confirmation), then 7." in out

    push = out.split("Push: `run` with its safety poll every 60 minutes:\n")[1]
    assert re.match(
        r"\$ triagebot --config triagebot-push.toml run --live\n"
        r"  … listening on http://127\.0\.0\.1:\d+\n"
        r"A webhook on the stand-in: Participation Infrastructure :: Community IT,\n"
        r"  events create, change, comment; header X-Triagebot-Token\.\n"
        r"lucia@example\.org files bug 9: Wiki space for Mozilla Hispano events\n"
        r"annotated (within|in more than) a second \(\d+\.\d\d s\), by a poll the webhook "
        r"moved up:\n\nBug 9: Wiki space for Mozilla Hispano events\n",
        push,
    )
    assert "  whiteboard: [community:mozilla-hispano] [endorsed]" in push
    assert "  comment #1 by triagebot@example.org:" in push
    assert push.endswith("\nSIGTERM: `run` stopped, exit 0.\n")
    assert [(d.routing_key, d.status) for d in server.webhooks.deliveries] == [
        ("bug.create", 202),
        ("comment.create", 202),  # the bot's own: ignored (202, no poll)
        ("bug.modify:whiteboard", 202),
    ]

    check_plain_80_columns(out)
    assert [value for value in private_contacts() if value in out] == []


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_on_a_terminal_and_none_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    tty = Tty()
    monkeypatch.setattr(sys, "stdout", tty)
    assert main(["demo"]) == 0
    assert ANSI in tty.getvalue()  # the check below means something

    monkeypatch.setenv("NO_COLOR", "1")
    tty = Tty()
    monkeypatch.setattr(sys, "stdout", tty)
    assert main(["demo"]) == 0
    check_plain_80_columns(tty.getvalue())


def test_demo_as_a_command(tmp_path: Path) -> None:
    env = cli_env()
    env.pop("NO_COLOR", None)  # not a terminal is enough
    done = subprocess.run(
        [sys.executable, "-m", "triagebot", "demo"],
        cwd=tmp_path,  # no data/ here: found beside the package
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "comments by triagebot: 6, then 7 (the confirmation), then 7." in done.stdout
    check_plain_80_columns(done.stdout)
    assert list(tmp_path.iterdir()) == []  # nothing left behind without --keep


def test_keep_keeps_database_config_and_log(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    keep = tmp_path / "kept"
    for _ in range(2):  # a second run into the same directory starts afresh
        assert main(["demo", "--keep", str(keep)]) == 0
        out = capsys.readouterr().out
        assert "comments by triagebot: 6, then 7 (the confirmation), then 7." in out
        assert f"kept the database, log and config in {keep}:" in out
    names = {p.name for p in keep.iterdir()}
    assert {"triagebot.db", "triagebot.log", "triagebot.toml", "api-key", demo.MARKER} <= names

    with Store(f"sqlite:///{keep / 'triagebot.db'}") as store:
        assert store.outcome_counts() == {
            "done/endorsed": 3,  # one by the delegate's /endorse, one filed for push
            "done/former-delegate": 1,
            "done/needs-endorsement": 1,
            "done/unknown": 1,
            "done/ambiguous": 1,
            "seen/skipped": 1,
        }
        assert len(store.recent_polls()) == 5  # 3 by once, 2 by run: at start, pushed
    log = (keep / "triagebot.log").read_text(encoding="utf-8")
    assert log.count("demo: loopback Bugzilla at http://127.0.0.1:") == 1  # this run's only
    assert "demo: filed bug 6 (a look-alike email of a delegate (Cyrillic 'і' and 'а'))" in log
    assert "demo: first poll:" in log and "demo: second poll:" in log
    assert "demo: third poll:" in log
    assert "demo: requests served: {" in log
    assert "demo: run: " in log and "demo: run exited 0" in log
    assert demo.DEMO_KEY not in log

    # the kept config works with the other commands (the loopback server is gone: status only)
    assert main(["--config", str(keep / "triagebot.toml"), "status"]) == 0
    assert "done/needs-endorsement: 1" in capsys.readouterr().out


def test_keep_refuses_a_directory_it_did_not_write(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "triagebot.toml").write_text("# a real configuration\n", encoding="utf-8")
    assert main(["demo", "--keep", str(tmp_path)]) == 2
    _out, err = capsys.readouterr()
    assert "is not empty and was not written by the demo" in err
    assert (tmp_path / "triagebot.toml").read_text(encoding="utf-8") == "# a real configuration\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["triagebot.toml"]


def test_serve_prints_a_ready_config_and_stops_cleanly_on_sigint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = cli_env()
    proc = subprocess.Popen(
        [sys.executable, "-m", "triagebot", "demo", "--serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    try:
        printed = []
        while not printed or printed[-1] != "Ctrl-C stops the server.\n":
            line = lines.get(timeout=30)
            assert line is not None, "".join(printed)
            printed.append(line)
        text = "".join(printed)
        match = re.search(r"^config: (\S+)$", text, re.M)
        assert match, text
        config = Path(match.group(1))
        assert config.read_text(encoding="utf-8") in text  # the config is shown whole
        assert f"triagebot --config {config} once --dry-run" in text
        # the README's commands to try are the ones printed
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        tried = re.findall(
            r"triagebot --config /tmp/triagebot-…/triagebot\.toml (.+)$", readme, re.M
        )
        assert tried, "the README shows no command to try against demo --serve"
        assert [t for t in tried if f"triagebot --config {config} {t}\n" not in text] == []

        assert main(["--config", str(config), "once", "--dry-run"]) == 0
        out = capsys.readouterr().out
        assert "1 skipped, 6 would comment" in out
        assert main(["--config", str(config), "status"]) == 0
        status = capsys.readouterr().out  # the dry run's poll, as it printed it
        assert "community-it (dry run, " in status and "7 bugs, 6 would comment" in status

        # the stand-in's accounts are the registry's: sync finds nobody to decide about
        assert main(["--config", str(config), "registry", "sync"]) == 0
        out, err = capsys.readouterr()
        assert "error" not in out + err, out + err

        # the curl line files a bug as a delegate, and the next poll picks it up
        curl = re.search(r"^  curl -s -X POST .* '(http://\S+)' -d '(\{.*\})'$", text, re.M)
        assert curl, text
        request = urllib.request.Request(
            curl.group(1),
            data=curl.group(2).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200
            new_bug = json.loads(answer.read())["id"]
        assert main(["--config", str(config), "once", "--dry-run"]) == 0
        out = capsys.readouterr().out
        assert re.search(rf"^\s+{new_bug}  endorsed\s+mozilla-hispano: would comment$", out, re.M)

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        rest = []
        while (line := lines.get(timeout=5)) is not None:
            rest.append(line)
        assert "stopped\n" in rest
        assert proc.stderr is not None
        assert "Traceback" not in proc.stderr.read()
        assert not config.parent.exists()  # the temporary directory is gone
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_demo_into_head_ends_quietly() -> None:
    env = cli_env()
    result = subprocess.run(
        f"'{sys.executable}' -m triagebot demo | head -n 2",
        shell=True,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == 2
    assert result.stderr == ""  # no BrokenPipeError, no traceback


def test_demo_help_describes_the_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--help"]) == 0
    out = capsys.readouterr().out
    assert "file eight realistic requests" in " ".join(out.split())
    assert "a curl line that files a new bug" in " ".join(out.split())


def test_the_look_alike_label_names_every_letter_the_comment_names() -> None:
    """The demo's label and the bot's comment agree on what makes the login a look-alike."""
    (bug,) = [b for b in demo.DEMO_BUGS if "look-alike" in b.label]
    foreign = [c for c in bug.creator if not c.isascii()]
    assert len(foreign) == 2
    assert [c for c in foreign if f"'{c}'" not in bug.label] == []
