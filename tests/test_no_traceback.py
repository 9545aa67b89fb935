"""No traceback, ever: generated command lines with bad paths (missing, a file where a
directory is wanted, a directory where a file is, a file that is not text, a busy port) and
stray options end in one `error:` line (or one JSON error document with `--json`) and exit 2.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triagebot.commands.cli import main

ROOT = Path(__file__).resolve().parents[1]
DATA = str(ROOT / "data")


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("bad")
    (base / "a-file.txt").write_text("not a directory\n", encoding="utf-8")
    (base / "binary.toml").write_bytes(b"\xff\xfe\x00 not utf-8")
    (base / "a-dir").mkdir()
    (base / "a-dir" / "something").write_text("x", encoding="utf-8")
    return {
        "missing": str(base / "missing" / "deeper"),
        "file": str(base / "a-file.txt"),
        "binary": str(base / "binary.toml"),
        "dir": str(base / "a-dir"),
    }


@pytest.fixture(scope="module")
def busy_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


# Each template: a command line with {file}, a path that must be a file (or a new one), or
# {dir}, one that must be a directory; filled with a path of the wrong kind.
NEEDS_FILE = [
    ["--config", "{p}", "status"],
    ["--config", "{p}", "once"],
    ["--config", "{p}", "explain", "1"],
    ["--config", "{p}", "queue"],
    ["--config", "{p}", "check"],
    ["--config", "{p}", "retry", "1"],
    ["--config", "{p}", "db", "upgrade"],
    ["--config", "{p}", "registry", "sync"],
    ["registry", "audit", "--dir", DATA, "--policy", "{p}"],
]
NEEDS_NEW_FILE = [["registry", "render", "--dir", DATA, "-o", "{p}"]]
NEEDS_DIR = [
    ["registry", "check", "--dir", "{p}"],
    ["registry", "check", "{p}"],
    ["registry", "audit", "--dir", "{p}"],
    ["registry", "find", "x@example.org", "--dir", "{p}"],
    ["registry", "show", "mozilla-tamil", "--dir", "{p}"],
    ["registry", "render", "--dir", "{p}"],
    ["registry", "history", "mozilla-tamil", "--dir", "{p}"],
    ["registry", "schema", "--out", "{p}"],
    ["init", "{p}"],
    ["demo", "--keep", "{p}"],
]
WRONG_FOR_FILE = ["missing", "dir", "binary"]
WRONG_FOR_NEW_FILE = ["missing", "dir"]
WRONG_FOR_DIR = ["missing", "file"]
# `registry schema --out` and `init` create a missing directory, the demo a missing --keep.
CREATES_DIR = {"schema", "init", "demo"}
STRAY = st.lists(st.sampled_from(["-v", "-vv", "--json", "--nope", "-x", "--dir"]), max_size=2)


def bad_command_lines() -> st.SearchStrategy[list[str]]:
    def fill(template: list[str], kind: str) -> st.SearchStrategy[list[str]]:
        return st.just([kind if part == "{p}" else part for part in template])

    file_lines = st.tuples(st.sampled_from(NEEDS_FILE), st.sampled_from(WRONG_FOR_FILE))
    new_lines = st.tuples(st.sampled_from(NEEDS_NEW_FILE), st.sampled_from(WRONG_FOR_NEW_FILE))
    dir_lines = st.tuples(st.sampled_from(NEEDS_DIR), st.sampled_from(WRONG_FOR_DIR)).filter(
        lambda t: not (t[1] == "missing" and CREATES_DIR & set(t[0]))
    )
    return st.one_of(file_lines, new_lines, dir_lines).flatmap(lambda t: fill(*t))


def check_one_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, argv
    assert code == 2, (argv, out, err)
    if "--json" in argv:
        document = json.loads(out)
        assert (document["ok"], document["exit_code"]) == (False, 2), argv
        assert document["error"]["message"]
    else:
        errors = [line for line in err.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and "\n" not in errors[0], (argv, err)
        assert out == "", argv


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(line=bad_command_lines(), stray=STRAY, position=st.integers(min_value=0, max_value=9))
def test_a_bad_path_or_option_is_one_line_and_exit_2(
    line: list[str],
    stray: list[str],
    position: int,
    paths: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("TRIAGEBOT_CONFIG", raising=False)
    monkeypatch.delenv("TRIAGEBOT_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    argv = [paths.get(part, part) for part in line]
    at = 2 + position % max(1, len(argv) - 1)  # after the command's first word
    argv[at:at] = [s for s in stray if s != "--dir" or at == len(argv)]
    check_one_error(argv, capsys)


def test_demo_serve_on_a_busy_port(busy_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    check_one_error(["demo", "--serve", "--port", str(busy_port)], capsys)
    assert main(["demo", "--serve", "--port", "70000"]) == 2
    assert "invalid _port value" not in capsys.readouterr().err


def test_init_on_a_file(paths: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    check_one_error(["init", paths["file"]], capsys)
    check_one_error(["init", paths["file"], "--json"], capsys)
