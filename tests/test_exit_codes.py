"""One exit-code table for every command: a test per row, per command, in text and with
`--json` (one document on stdout, success or failure, valid against its published schema).

0 done; 1 the work found something (errors in data, a refused cap, a retryable failure);
2 usage or configuration to fix; 130 interrupted. The README's table and each `--help` say
the same, and are checked against the commands' own declarations here.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from standin import FaultyBugzilla

from triagebot.commands.cli import build_parser, main
from triagebot.commands.documents import json_schemas, schema_file
from triagebot.commands.router import CATALOG
from triagebot.demo import demo
from triagebot.state.store import Intent, Store

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
SCHEMAS = DATA / "schema" / "output"
build_parser()  # fills CATALOG


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TRIAGEBOT_CONFIG", raising=False)
    monkeypatch.delenv("TRIAGEBOT_API_KEY", raising=False)
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")


@dataclass
class Env:
    tmp: Path
    fake: FaultyBugzilla
    config: Path
    patch: pytest.MonkeyPatch

    def c(self, *argv: str) -> list[str]:
        return ["--config", str(self.config), *argv]

    def broken_data(self) -> Path:
        data = self.tmp / "broken"
        shutil.copytree(DATA, data)
        people = data / "people.toml"
        people.write_text(
            people.read_text(encoding="utf-8").replace('"camille@example.org"', '"camille@x"'),
            encoding="utf-8",
        )
        return data

    def bad_config(self) -> list[str]:
        path = self.tmp / "bad.toml"
        path.write_text("[run]\ndry_run = 1\n", encoding="utf-8")
        return ["--config", str(path)]

    def polled(self) -> None:
        assert main(self.c("once", "--live")) == 0


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    with FaultyBugzilla(api_key=demo.DEMO_KEY, bot_login=demo.BOT) as fake:
        demo.seed(fake, datetime.now(UTC).replace(microsecond=0), DATA)
        workdir = tmp_path / "bot"
        workdir.mkdir()
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        assert fake.url is not None
        config = demo.write_config(workdir, fake.url, ROOT, start)
        yield Env(tmp_path, fake, config, monkeypatch)


def _gave_up(e: Env) -> list[str]:
    e.polled()
    with Store(f"sqlite:///{e.config.parent / 'triagebot.db'}") as store:
        store.begin_writes("community-it", [Intent(42, "abcdef0123456789", "unknown", None, "x")])
        store.mark_failed(
            "community-it", 42, "refused", write_may_have_landed=False, permanent=True,
            max_attempts=1,
        )  # fmt: skip
    return e.c("retry", "42")


def _one_person(e: Env, login: str) -> list[str]:
    """`registry sync` of a registry of one person with this login."""
    data = e.tmp / "one"
    (data / "communities").mkdir(parents=True)
    (data / "people.toml").write_text(
        f'[someone]\nname = "Someone"\nemails = ["{login}"]\n', encoding="utf-8"
    )
    return e.c("registry", "sync", "--dir", str(data))


def _run_once(e: Env) -> list[str]:
    """`run` until stopped: here its loop returns at once, as after SIGTERM between polls."""
    e.patch.setattr("triagebot.service.run.run_forever", lambda *a, **k: None)
    return e.c("run")


def _unreachable(e: Env) -> list[str]:
    e.fake.stop()
    return e.c("explain", "1")


def _policy(e: Env, level: str) -> list[str]:
    data = e.tmp / "audited"
    shutil.copytree(DATA, data)
    (data / "policy.toml").write_text(f"[min_delegates]\ncount = 5\nlevel = '{level}'\n")
    return ["registry", "audit", "--dir", str(data)]


D = ["--dir", str(DATA)]
Scenario = Callable[[Env], list[str]]
# command -> exit code -> the arguments (after any set-up) that give it.
ROWS: dict[str, dict[int, Scenario]] = {
    "registry check": {
        0: lambda e: ["registry", "check", *D],
        1: lambda e: ["registry", "check", "--dir", str(e.broken_data())],
        2: lambda e: ["registry", "check", "--dir", str(e.tmp / "nowhere")],
    },
    "registry find": {
        0: lambda e: ["registry", "find", "camille@example.org", *D],
        1: lambda e: ["registry", "find", "nobody@example.org", *D],
        2: lambda e: ["registry", "find", "x@example.org", "--dir", str(e.broken_data())],
    },
    "registry show": {
        0: lambda e: ["registry", "show", "mozilla-tamil", *D],
        1: lambda e: ["registry", "show", "mozilla-tamill", *D],
        2: lambda e: ["registry", "show", "mozilla-tamil", "--dir", str(DATA / "people.toml")],
    },
    "registry render": {
        0: lambda e: ["registry", "render", *D],
        2: lambda e: ["registry", "render", *D, "-o", str(e.tmp / "no" / "such" / "dir.md")],
    },
    "registry audit": {
        0: lambda e: _policy(e, "warning"),
        1: lambda e: _policy(e, "error"),
        2: lambda e: ["registry", "audit", *D, "--policy", str(e.tmp / "nope.toml")],
    },
    "registry history": {
        0: lambda e: ["registry", "history", "mozilla-tamil", *D],
        1: lambda e: ["registry", "history", "nope", *D],
        2: lambda e: ["registry", "history", "nope", "--dir", str(e.tmp / "nowhere")],
    },
    "registry sync": {
        0: lambda e: _one_person(e, demo.BOT),  # an account on the stand-in: they agree
        1: lambda e: _one_person(e, "nobody-here@example.org"),  # no such account
        2: lambda e: ["registry", "sync", *D],  # no API key
    },
    "registry schema": {
        0: lambda e: ["registry", "schema"],
        2: lambda e: ["registry", "schema", "--out", str(DATA / "people.toml")],
    },
    "once": {
        0: lambda e: e.c("once", "--dry-run"),
        1: lambda e: (e.fake.fail_next(400, kind="search"), e.c("once", "--dry-run"))[1],
        2: lambda e: [*e.bad_config(), "once"],
    },
    "run": {
        0: _run_once,
        1: lambda e: (e.fake.stop(), e.c("run"))[1],
        2: lambda e: [*e.bad_config(), "run"],
    },
    "explain": {
        0: lambda e: e.c("explain", "2"),
        1: lambda e: e.c("explain", "999"),
        2: lambda e: [*e.bad_config(), "explain", "2"],
    },
    "status": {
        0: lambda e: e.c("status"),
        1: lambda e: ["status"],  # an empty directory: no data/, no rules/
        2: lambda e: [*e.bad_config(), "status"],
    },
    "queue": {
        0: lambda e: e.c("queue"),
        1: lambda e: (e.fake.stop(), e.c("queue"))[1],
        2: lambda e: [*e.bad_config(), "queue"],
    },
    "init": {
        0: lambda e: ["init", str(e.tmp / "new")],
        2: lambda e: ["init", str(e.config)],  # a file
    },
    "check": {
        0: lambda e: e.c("check"),
        1: lambda e: (e.fake.stop(), e.c("check"))[1],
        2: lambda e: [*e.bad_config(), "check"],
    },
    "retry": {
        0: _gave_up,
        1: lambda e: e.c("retry", "7"),
        2: lambda e: e.c("retry", "7", "--rule", "community-iy"),
    },
    "db upgrade": {
        0: lambda e: (e.polled(), e.c("db", "upgrade"))[1],
        2: lambda e: e.c("db", "upgrade"),  # no database: none is created
    },
    "demo": {
        0: lambda e: ["demo"],
        2: lambda e: ["demo", "--keep", str(e.config.parent)],  # not the demo's directory
    },
}
# A retryable failure of a command that reads Bugzilla, in one more place each.
ROWS["explain"][1] = _unreachable


def cases() -> list[tuple[str, int]]:
    return [(command, code) for command, rows in ROWS.items() for code in rows]


def test_every_command_has_its_rows() -> None:
    assert sorted(ROWS) == sorted(CATALOG)
    for command, entry in CATALOG.items():
        if entry.found.startswith("never"):
            assert 1 not in ROWS[command], command


def validate(document: dict, name: str) -> None:
    schema = json.loads((SCHEMAS / schema_file(name)).read_text(encoding="utf-8"))
    jsonschema.validate(document, schema)


@pytest.mark.parametrize(("command", "code"), cases())
def test_exit_code_row(
    command: str, code: int, env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ROWS[command][code](env)
    capsys.readouterr()
    assert main(argv) == code
    _out, err = capsys.readouterr()
    assert "Traceback" not in err
    if code == 2:
        assert err.count("error: ") >= 1


@pytest.mark.parametrize(
    ("command", "code"), [(c, k) for c, k in cases() if CATALOG[c].document is not None]
)
def test_json_row_is_one_valid_document_with_the_same_code(
    command: str, code: int, env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ROWS[command][code](env)
    capsys.readouterr()
    assert main([*argv, "--json"]) == code
    out, _err = capsys.readouterr()
    document = json.loads(out)  # one document, nothing else on stdout
    assert document["version"] == 1
    if document["ok"] is False and "error" in document:
        assert document["exit_code"] == code
        validate(document, "error")
    else:
        validate(document, CATALOG[command].document or "")
    for time in re.findall(r'"(\d{4}-\d\d-\d\dT[^"]*)"', out):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", time), time


@pytest.mark.parametrize("command", sorted(CATALOG))
def test_interrupted_is_130_in_text_and_json(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C anywhere in a command's body: exit 130, one line or one error document."""
    handler = CATALOG[command].handler

    def interrupted(_args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(sys.modules[handler.__module__], handler.__name__, interrupted)
    argv = {"registry find": ["x"], "registry show": ["x"], "registry history": ["x"]}
    argv |= {"explain": ["1"], "retry": ["1"]}
    full = [*command.split(), *argv.get(command, [])]
    assert main(full) == 130
    assert capsys.readouterr().err == "interrupted\n"
    if CATALOG[command].document:
        assert main([*full, "--json"]) == 130
        document = json.loads(capsys.readouterr().out)
        validate(document, "error")
        assert document["error"]["kind"] == "interrupted"


def test_committed_schemas_are_the_generated_ones() -> None:
    for name, schema in json_schemas().items():
        committed = json.loads((SCHEMAS / schema_file(name)).read_text(encoding="utf-8"))
        assert committed == schema, (
            f"data/schema/output/{schema_file(name)} is stale: run "
            "python -m triagebot.commands.documents data/schema/output"
        )
    assert sorted(p.name for p in SCHEMAS.iterdir()) == sorted(map(schema_file, json_schemas()))


@pytest.mark.parametrize("command", sorted(CATALOG))
def test_help_ends_with_the_table_and_the_readme_says_the_same(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command.split(), "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    entry = CATALOG[command]
    assert f"exit codes: 0 done, nothing wrong found 1 {entry.found} 2 usage" in text
    assert "130 interrupted (Ctrl-C)" in text
    document = f"`{entry.document}`" if entry.document else "—"
    row = f"| `{command}` | {entry.found} | {document} |"
    assert row in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()


def test_status_in_an_empty_directory_names_the_directories_without_line_numbers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["status"]) == 1
    out = capsys.readouterr().out
    assert "  data: registry directory not found" in out.splitlines()
    assert "  rules: no such rules file or directory" in out.splitlines()


@pytest.mark.parametrize("command", sorted(CATALOG))
def test_v_after_every_command(command: str) -> None:
    """`-v` is taken after every subcommand too, `db upgrade -v` included."""
    needed = {"registry find": ["x"], "registry show": ["x"], "registry history": ["x"]}
    needed |= {"explain": ["1"], "retry": ["1"]}
    args = build_parser().parse_args([*command.split(), *needed.get(command, []), "-vv"])
    assert args.verbose == 2


# -- one way to say things ----------------------------------------------------------------------
def test_a_registry_command_given_a_directory_prints_no_configuration_note(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for argv in (["registry", "check", *D], ["registry", "show", "mozilla-tamil", *D]):
        assert main(argv) == 0
        assert capsys.readouterr().err == "", argv
    assert main(["registry", "check", str(DATA)]) == 0  # the old spelling still works
    assert capsys.readouterr().err == ""


def test_commands_that_only_read_create_no_database(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (["db", "upgrade"], ["retry", "3"], ["status"], ["check"]):
        main(env.c(*argv))
    capsys.readouterr()
    assert not (env.config.parent / "triagebot.db").exists()
    assert main(["db", "upgrade"]) == 2  # no configuration, no ./triagebot.db: none made
    assert "no database to upgrade" in capsys.readouterr().err
    assert list(Path.cwd().iterdir()) == []


def test_an_unknown_rule_gets_a_did_you_mean(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(env.c("retry", "3", "--rule", "community-iy")) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err == (
        "error: --rule community-iy: no such rule; did you mean 'community-it'? "
        "(rules: community-it)"
    )


def test_json_is_the_one_spelling(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["queue", "--format", "json"], ["registry", "render", "--format", "json"]):
        assert main(argv) == 2, argv
        assert "invalid choice: 'json'" in capsys.readouterr().err
