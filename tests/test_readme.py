"""The README says what the program prints: every ```console block in README.md is compared
with what the commands it shows print now, from the shipped data, so the two cannot drift.

A block is `$ triagebot ARGS` lines, each followed by its output. A line that is `…` (or ends
in `| …`) stands for one or more lines the README leaves out. Times and durations are
compared by their shape, not their value; notes on stderr (`note: …`) may be left out.
Each block is produced by the scenario its first command names (`SCENARIOS`); a console block
no scenario produces fails the test, so a new sample comes with its test.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from triagebot import shipped
from triagebot.commands.cli import main
from triagebot.demo import demo
from triagebot.demo.devserver import FakeBugzilla

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
ELLIPSIS = re.compile(r"^\s*(\|\s*)?…$")
TIME = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\dZ")
SECONDS = re.compile(r"\b\d+\.\d s\b")


@dataclass
class Block:
    line: int  # where the block starts in README.md
    commands: list[tuple[str, list[str]]]  # (arguments after `triagebot`, output lines)


def console_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    lines = text.splitlines()
    n = 0
    while n < len(lines):
        fence = re.match(r"^(\s*)```console$", lines[n])
        n += 1
        if not fence:
            continue
        indent = len(fence.group(1))
        block = Block(n, [])
        while not lines[n].strip().startswith("```"):
            line = lines[n][indent:]
            if line.startswith("$ triagebot "):
                block.commands.append((line.removeprefix("$ triagebot "), []))
            else:
                assert block.commands, f"README.md:{n + 1}: output before any command"
                block.commands[-1][1].append(line)
            n += 1
        blocks.append(block)
    return blocks


def normal(text: str) -> str:
    return SECONDS.sub("N.N s", TIME.sub("YYYY-MM-DD HH:MM:SSZ", text))


def matches(expected: list[str], actual: str) -> bool:
    """`actual` is `expected`, where an ellipsis line stands for one or more lines."""
    pattern = "".join(
        r"(?:.*\n)+?" if ELLIPSIS.match(line) else re.escape(normal(line)) + r"\n"
        for line in expected
    )
    return re.fullmatch(pattern, normal(actual)) is not None


Run = Callable[[str], str]  # the arguments after `triagebot` -> what a terminal shows
Scenario = Callable[[pytest.CaptureFixture[str], Path, Path, pytest.MonkeyPatch], Run]


def runner(capsys: pytest.CaptureFixture[str], *before: str, strip: str = "") -> Run:
    """Runs `triagebot *before ARGS` in process; stderr (without notes) then stdout."""

    def run(args: str) -> str:
        capsys.readouterr()
        main([*before, *args.split()])
        out, err = capsys.readouterr()
        err = "".join(line for line in err.splitlines(True) if not line.startswith("note: "))
        return (err + out).replace(strip, "")

    return run


@pytest.fixture
def stand_in(tmp_path: Path) -> Iterator[tuple[FakeBugzilla, Path]]:
    """The stand-in as `triagebot demo --serve` starts it, and the config it prints."""
    with FakeBugzilla(api_key=demo.DEMO_KEY, bot_login=demo.BOT) as server:
        now = datetime.now(UTC).replace(microsecond=0)
        demo.seed(server, now, shipped.DATA)
        assert server.url is not None
        workdir = tmp_path / "stand-in"  # not the current directory: no ./triagebot.toml
        workdir.mkdir()
        start = now - timedelta(hours=1)
        yield server, demo.write_config(workdir, server.url, shipped.ROOT, start)


@pytest.fixture
def demo_stand_in(stand_in: tuple[FakeBugzilla, Path]) -> Path:
    return stand_in[1]


def session(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, config: Path, env: pytest.MonkeyPatch
) -> Run:
    """A session against the demo's stand-in."""
    return runner(capsys, "--config", str(config))


def refused_scaffold(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, config: Path, env: pytest.MonkeyPatch
) -> Run:
    """`init /srv/triagebot` as written, the API key set (step 6), then in it: the go-live
    refusal."""
    site = tmp_path / "srv" / "triagebot"
    assert main(["init", str(site)]) == 0
    env.setenv("TRIAGEBOT_API_KEY", "k" * 40)
    env.chdir(site)
    return runner(capsys, strip=str(tmp_path))


def registry_copy(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, config: Path, env: pytest.MonkeyPatch
) -> Run:
    """A copy of the shipped data/ in the current directory, as in a data repository."""
    shutil.copytree(shipped.DATA, tmp_path / "data")
    return runner(capsys)


def registry_with_typos(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, config: Path, env: pytest.MonkeyPatch
) -> Run:
    """The shipped data/ after three slips: a cut email, a misspelt key (so a required one is
    missing)."""
    data = tmp_path / "data"
    shutil.copytree(shipped.DATA, data)
    people = data / "people.toml"
    text = people.read_text(encoding="utf-8")
    people.write_text(text.replace('["camille@example.org"', '["camille@example"'), "utf-8")
    tamil = data / "communities" / "mozilla-tamil.toml"
    text = tamil.read_text(encoding="utf-8")
    tamil.write_text(text.replace('person = "meena"', 'persn = "meena"', 1), "utf-8")
    return runner(capsys)


# Which scenario produces a block, by the block's first command.
SCENARIOS: dict[str, Scenario] = {
    "once --dry-run": session,
    "once --live": refused_scaffold,
    "registry check": registry_with_typos,
    "registry audit": registry_copy,
}


@pytest.mark.parametrize(
    "block", console_blocks(README.read_text(encoding="utf-8")), ids=lambda b: f"line{b.line}"
)
def test_a_console_block_is_what_the_commands_print(
    block: Block,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    demo_stand_in: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TRIAGEBOT_CONFIG", raising=False)
    monkeypatch.delenv("TRIAGEBOT_API_KEY", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.chdir(tmp_path)
    first = block.commands[0][0]
    assert first in SCENARIOS, f"README.md:{block.line}: no scenario produces `{first}`"
    run = SCENARIOS[first](capsys, tmp_path, demo_stand_in, monkeypatch)
    for args, expected in block.commands:
        actual = run(args)
        assert matches(expected, actual), (
            f"README.md:{block.line}: `triagebot {args}` prints\n{actual}"
        )


def test_an_ellipsis_stands_for_lines_left_out() -> None:
    assert matches(["a", "| …", "d"], "a\nb\nc\nd\n")
    assert matches(["a", "…"], "a\nb\n")
    assert not matches(["a", "…", "d"], "a\nd\n")  # at least one line
    assert not matches(["a", "d"], "a\nb\nd\n")
    assert matches(
        ["at 2026-11-24 19:30:39Z (live, 0.0 s)"], "at 2027-01-02 03:04:05Z (live, 1.5 s)\n"
    )


def test_the_registry_sample_uses_the_shipped_ids() -> None:
    """The README's people.toml sample names a bugzilla_id the shipped data has."""
    people = (ROOT / "data" / "people.toml").read_text(encoding="utf-8")
    ids = re.findall(r"^bugzilla_id = (\d+)", README.read_text(encoding="utf-8"), re.M)
    assert ids and [i for i in ids if f"bugzilla_id = {i}\n" not in people] == []


def test_the_shipped_files_cite_sections_the_readme_has() -> None:
    """A shipped file that points the reader somewhere points at a README section that exists
    (and never at the "design notes", which are not in the repository)."""
    headings = set(re.findall(r"^#+ (.+)$", README.read_text(encoding="utf-8"), re.M))
    files = [
        shipped.CONFIG_EXAMPLE,
        *sorted(shipped.RULES.rglob("*")),
        *sorted(shipped.DATA.rglob("*.toml")),
    ]
    cited, wrong = 0, []
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        if "design notes" in text:
            wrong.append(f"{path.name}: the design notes")
        for section in re.findall(r"README, [\"']([^\"']+)[\"']", text):
            cited += 1
            if section not in headings:
                wrong.append(f"{path.name}: {section}")
    assert cited and wrong == []


def test_the_confirmation_sample_is_what_the_bot_posts(
    stand_in: tuple[FakeBugzilla, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's confirmation (Markdown, as on bugzilla.mozilla.org) is the one the demo's
    second poll posts (plain text on the stand-in: the same words without `**`)."""
    server, config = stand_in
    (sample,) = re.findall(r"^    (\*\*Endorsed\*\* by .*)$", README.read_text("utf-8"), re.M)
    assert main(["--config", str(config), "once", "--live"]) == 0
    (bug,) = [b for b, bug in server.bugs.items() if bug["summary"] == demo.ANSWERED]
    later = datetime.now(UTC) + timedelta(seconds=1)  # Bugzilla stamps whole seconds
    server.add_comment(bug, demo.DELEGATE_ANSWER, demo.DELEGATE, when=later)
    assert main(["--config", str(config), "once", "--live"]) == 0
    capsys.readouterr()
    posted = server.comments_of(bug)[-1]
    assert posted["creator"] == demo.BOT
    first = posted["text"].split("\n\n")[0].replace("\n", " ")
    day = re.compile(r"\d{4}-\d\d-\d\d")
    assert day.sub("DAY", first) == day.sub("DAY", sample.replace("**", ""))


def test_the_data_repository_ci_sample_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's CI job for a data repository, run as written on a copy of the shipped
    data/ (no configuration file, as in such a repository): every step succeeds."""
    steps = re.findall(r"^\s+- run: triagebot (.+)$", README.read_text("utf-8"), re.M)
    assert len(steps) >= 3
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRIAGEBOT_CONFIG", raising=False)
    shutil.copytree(shipped.DATA, tmp_path / "data")
    failed = [step for step in steps if main(step.split()) != 0]
    capsys.readouterr()
    assert failed == []
    assert (tmp_path / "directory.html").is_file()
