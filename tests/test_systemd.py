"""`run` under systemd: the shipped unit passes `systemd-analyze verify` and says what the
README says, and the bot speaks sd_notify over a real datagram socket (READY=1 once the first
poll has started, WATCHDOG=1 from the scheduler, STOPPING=1 on SIGTERM)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import cli_env
from standin import FaultyBugzilla, RequestInfo

from triagebot.demo import demo
from triagebot.service.notify import Notifier

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "contrib" / "systemd" / "triagebot.service"
SHIPPED_EXEC = "/opt/triagebot/.venv/bin/triagebot"


def unit_lines() -> list[str]:
    return [
        line.strip()
        for line in UNIT.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    """verify refuses an ExecStart whose program does not exist on this machine, so the copy
    it checks runs this checkout's own `triagebot` (or this Python) instead of the shipped
    /opt path; every other line is checked as shipped. Any warning (an unknown key, a value
    systemd cannot parse: verify still exits 0 for those) fails the test."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing on CI (Debian's systemd package)")
        pytest.skip("systemd-analyze is not installed (Debian's systemd package has it)")
    script = Path(sys.executable).with_name("triagebot")
    program = str(script) if script.exists() else f"{sys.executable} -m triagebot"
    text = UNIT.read_text(encoding="utf-8")
    assert text.count(SHIPPED_EXEC) == 1
    copy = tmp_path / "triagebot.service"
    copy.write_text(text.replace(SHIPPED_EXEC, program), encoding="utf-8")
    done = subprocess.run(
        [tool, "verify", str(copy)], capture_output=True, text=True, timeout=120, check=False
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_the_unit_is_what_the_service_needs() -> None:
    lines = unit_lines()
    for line in (
        "Type=notify",
        "NotifyAccess=main",
        "Restart=on-failure",
        "RestartPreventExitStatus=2",
        "User=triagebot",
        "StateDirectory=triagebot",
        "LoadCredential=bugzilla-api-key:/etc/triagebot/bugzilla-api-key",
        "LoadCredential=push-secret:/etc/triagebot/push-secret",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        f"ExecStart={SHIPPED_EXEC} --config /srv/triagebot/triagebot.toml run --live",
    ):
        assert line in lines
    assert any(line.startswith("WatchdogSec=") for line in lines)
    assert not any(line.startswith("Environment") for line in lines)  # no secret there


# -- sd_notify over a real socket ---------------------------------------------------------------
@pytest.fixture(params=["path", "abstract"])
def notify_socket(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """A datagram socket as systemd makes it: a file, or an abstract name ('@' in the
    variable, a leading NUL for bind)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "path":
        path = str(tmp_path / "notify")
        sock.bind(path)
        name = path
    else:
        abstract = f"triagebot-test-{uuid.uuid4().hex}"
        sock.bind("\0" + abstract)
        name = "@" + abstract
    sock.settimeout(10)
    try:
        yield name, sock
    finally:
        sock.close()


def test_notifier_sends_datagrams(notify_socket: tuple[str, Any]) -> None:
    name, sock = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": name, "WATCHDOG_USEC": "30000000"})
    assert notifier.address is not None and notifier.watchdog_seconds == 30.0
    notifier.ready("polling every 5 min")
    notifier.ready("polling every 5 min")  # once only
    notifier.watchdog()
    notifier.stopping("stopping on SIGTERM")
    received = [sock.recv(4096).decode() for _ in range(3)]
    assert received == [
        "READY=1\nSTATUS=polling every 5 min",
        "WATCHDOG=1",
        "STOPPING=1\nSTATUS=stopping on SIGTERM",
    ]


def test_notifier_outside_systemd_does_nothing() -> None:
    notifier = Notifier({})
    assert notifier.address is None and notifier.watchdog_seconds is None
    assert notifier.send("READY=1") is False
    other = Notifier({"NOTIFY_SOCKET": "/nonexistent/notify", "WATCHDOG_USEC": "1000000"})
    assert other.send("READY=1") is False  # no manager there: the bot carries on
    # the watchdog is for the process systemd names, when it names one
    assert Notifier({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}).watchdog_seconds is None
    mine = {"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": str(os.getpid())}
    assert Notifier(mine).watchdog_seconds == 1.0


def test_run_says_ready_at_its_first_poll_pings_the_watchdog_and_says_stopping(
    tmp_path: Path, notify_socket: tuple[str, Any]
) -> None:
    name, sock = notify_socket
    with FaultyBugzilla(api_key=demo.DEMO_KEY, bot_login=demo.BOT) as fake:
        demo.seed(fake, datetime.now(UTC).replace(microsecond=0), ROOT / "data")
        workdir = tmp_path / "bot"
        workdir.mkdir()
        assert fake.url is not None
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        config = demo.write_config(workdir, fake.url, ROOT, start)
        # the key as the unit gives it: a credential, not a file the configuration names
        text = config.read_text(encoding="utf-8")
        config.write_text(
            "\n".join(line for line in text.splitlines() if "api_key_file" not in line) + "\n"
        )
        credentials = tmp_path / "credentials"
        credentials.mkdir()
        (workdir / "api-key").rename(credentials / "bugzilla-api-key")
        (credentials / "bugzilla-api-key").chmod(0o400)
        before_search: list[str] = []
        searched = threading.Event()

        def at_first_search(info: RequestInfo) -> None:
            """What the bot had said by the time its first poll's search arrived (the test
            reads the socket only after this)."""
            if info.kind == "search" and info.phase == "before" and not searched.is_set():
                sock.setblocking(False)
                try:
                    while True:
                        before_search.append(sock.recv(4096).decode())
                except BlockingIOError:
                    pass
                finally:
                    sock.settimeout(10)
                    searched.set()

        fake.on_request(at_first_search)
        env = cli_env()
        env.update(NOTIFY_SOCKET=name, WATCHDOG_USEC="600000")  # a ping every 0.2 s
        env["CREDENTIALS_DIRECTORY"] = str(credentials)
        proc = subprocess.Popen(
            [sys.executable, "-m", "triagebot", "--config", str(config), "run", "--live"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert searched.wait(30), "no search within 30 s"
            messages: list[str] = []
            while messages.count("WATCHDOG=1") < 3:  # pings go on after the first poll
                messages.append(sock.recv(4096).decode())
            proc.send_signal(signal.SIGTERM)
            _out, err = proc.communicate(timeout=30)
            sock.settimeout(1)
            try:
                while True:
                    messages.append(sock.recv(4096).decode())
            except TimeoutError:
                pass
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, err
    assert fake.counts["update"] == 6  # live, with the key from the credential
    assert "READY=1\nSTATUS=polling every 5 min" in before_search  # sent as the poll began
    assert "READY=1\nSTATUS=polling every 5 min" not in messages  # once
    # STOPPING=1 comes last; only a watchdog ping may follow it (the job may be running while
    # the scheduler shuts down, and a ping during a long last write is what systemd wants)
    stopping = messages.index("STOPPING=1\nSTATUS=stopping on SIGTERM")
    assert set(messages[stopping + 1 :]) <= {"WATCHDOG=1"}, messages
    statuses = [m for m in before_search + messages if m.startswith("STATUS=last poll ")]
    assert re.fullmatch(r"STATUS=last poll \S+ \S+Z: community-it ok, 6 written", statuses[0])


# -- the API key as a systemd credential ----------------------------------------------------------
def test_the_api_key_comes_from_the_credential_before_the_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from triagebot.commands.notices import key_source
    from triagebot.files.config import load_config

    key_file = tmp_path / "api-key"
    key_file.write_text("key-from-the-file\n", encoding="utf-8")
    key_file.chmod(0o600)
    path = tmp_path / "triagebot.toml"
    path.write_text(f'[bugzilla]\napi_key_file = "{key_file}"\n', encoding="utf-8")
    config = load_config(path)
    monkeypatch.delenv("TRIAGEBOT_API_KEY", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert config.bugzilla.api_key() == "key-from-the-file"

    credentials = tmp_path / "credentials"
    credentials.mkdir()
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    assert config.bugzilla.api_key() == "key-from-the-file"  # no such credential: the file
    credential = credentials / "bugzilla-api-key"
    credential.write_text("key-from-systemd\n", encoding="utf-8")
    credential.chmod(0o400)  # as systemd makes it
    assert config.bugzilla.api_key() == "key-from-systemd"
    assert key_source(config) == str(credential)
    monkeypatch.setenv("TRIAGEBOT_API_KEY", "key-from-the-environment")
    assert config.bugzilla.api_key() == "key-from-the-environment"
