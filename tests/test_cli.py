"""The command line, in process: exit codes, messages with file:line, what each command prints.

Polling commands run against the loopback FaultyBugzilla seeded with the demo's requests.
"""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from standin import FaultyBugzilla

from triagebot.commands.cli import main
from triagebot.demo import demo
from triagebot.state.store import Intent, Store

ROOT = Path(__file__).resolve().parents[1]
WRITE_KINDS = {"update", "comment", "create"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No configuration or key from the developer's environment; cwd without triagebot.toml."""
    monkeypatch.delenv("TRIAGEBOT_CONFIG", raising=False)
    monkeypatch.delenv("TRIAGEBOT_API_KEY", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)


@pytest.fixture
def fake() -> Iterator[FaultyBugzilla]:
    server = FaultyBugzilla(api_key=demo.DEMO_KEY, bot_login=demo.BOT)
    server.start()
    now = datetime.now(UTC).replace(microsecond=0)
    demo.seed(server, now, ROOT / "data")
    yield server
    server.stop()


@pytest.fixture
def config(fake: FaultyBugzilla, tmp_path: Path) -> Path:
    """The demo's configuration: the fake, the shipped data and rules, a fresh database."""
    workdir = tmp_path / "bot"
    workdir.mkdir()
    assert fake.url is not None
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    return demo.write_config(workdir, fake.url, ROOT, start)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def private_contacts() -> set[str]:
    """Every contact value marked `public = false` in the shipped registry."""
    values: set[str] = set()
    files = [ROOT / "data" / "people.toml", *sorted((ROOT / "data" / "communities").glob("*"))]
    for path in files:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        tables = data.values() if path.name == "people.toml" else [data]
        for table in tables:
            for contact in table.get("contacts", ()):
                if not contact["public"]:
                    values.add(contact["value"])
    return values


# -- registry ------------------------------------------------------------------------------------
SUMMARY = re.compile(
    r"^(.*): (\d+) communities, (\d+) people in (\d+) files: (\d+) errors, \d+ warnings$"
)


def test_registry_check_shipped_data(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "registry", "check", str(ROOT / "data"))
    assert code == 0, err
    match = SUMMARY.match(out.strip())
    assert match, out
    assert match.group(1) == str(ROOT / "data")
    assert int(match.group(2)) >= 7
    assert match.group(5) == "0"
    assert "error:" not in err


def test_registry_check_without_config_uses_data_in_cwd(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    shutil.copytree(ROOT / "data", Path.cwd() / "data")
    assert not Path("triagebot.toml").exists()
    code, out, err = run(capsys, "registry", "check")
    assert code == 0, err
    assert out.startswith("data: ")
    assert SUMMARY.match(out.strip())


def test_registry_check_broken_copy_reports_file_and_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    people = data / "people.toml"
    tamil = data / "communities" / "mozilla-tamil.toml"
    edit(people, '"camille@example.org"', '"camille@example"')  # line 29
    edit(tamil, 'person = "meena"', 'persn = "meena"')  # line 20
    code, out, err = run(capsys, "registry", "check", str(data))
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert any(line.startswith(f"error: {people}:29: camille.emails[0]: ") for line in errors)
    assert any(line.startswith(f"error: {tamil}:20: delegates[0].persn: ") for line in errors)
    assert any("did you mean 'person'" in line for line in errors)
    match = SUMMARY.match(out.strip())
    assert match and int(match.group(5)) == len(errors) >= 2


def test_registry_check_takes_dir_like_the_other_commands_and_counts_in_words(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    edit(data / "people.toml", '"camille@example.org"', '"camille@example"')
    code, out, err = run(capsys, "registry", "check", "--dir", str(data))
    assert code == 1
    assert out.strip().endswith(": 1 error, 0 warnings")
    assert [line for line in err.splitlines() if line.startswith("error: ")] == [
        f"error: {data / 'people.toml'}:29: camille.emails[0]: malformed email "
        "'camille@example' (expected local@domain.tld, no spaces)"
    ]


def test_registry_schema_prints_one_schema_per_file_kind(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(capsys, "registry", "schema")
    assert code == 0
    schemas = json.loads(out)
    assert sorted(schemas) == ["community", "config", "people", "policy"]
    assert schemas["community"]["additionalProperties"] is False
    assert "delegates" in schemas["community"]["properties"]
    code, _, _ = run(capsys, "registry", "schema", "--out", str(tmp_path / "s"))
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [
        "community.schema.json",
        "config.schema.json",
        "people.schema.json",
        "policy.schema.json",
    ]
    written = json.loads((tmp_path / "s" / "people.schema.json").read_text(encoding="utf-8"))
    assert written == schemas["people"]


def test_registry_check_uses_config_registry_path(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "elsewhere"
    shutil.copytree(ROOT / "data", data)
    (tmp_path / "bot.toml").write_text('[registry]\npath = "elsewhere"\n', encoding="utf-8")
    code, out, _ = run(capsys, "--config", str(tmp_path / "bot.toml"), "registry", "check")
    assert code == 0
    assert out.startswith(f"{data}: ")


def test_registry_find_by_email_id_and_case(capsys: pytest.CaptureFixture[str]) -> None:
    for query in ("camille@example.org", "710001", "Camille@EXAMPLE.org"):
        code, out, _ = run(capsys, "registry", "find", query, "--dir", str(ROOT / "data"))
        assert code == 0
        lines = out.splitlines()
        assert lines[0] == "Camille Berthelot (camille)"
        assert "  Bugzilla id: 710001" in lines
        assert any(
            line.startswith("  current: Présidente of Mozilla Francophone [mozilla-francophone]")
            for line in lines
        )


def test_registry_find_former_role_shows_end_date_and_successor(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "registry", "find", "kavin@example.org", "--dir", str(ROOT / "data"))
    assert code == 0
    assert (
        "  former:  Owner of Mozilla Tamil [mozilla-tamil], 2019-04-01 to 2026-03-01; "
        "now: Meenakshi Raghavan (Owner)"
    ) in out.splitlines()


def test_registry_find_lookalike_email_is_nobody(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "registry", "find", "lucіа@example.org", "--dir", str(ROOT / "data")
    )
    assert code == 1
    assert out == ""
    assert "nobody in" in err and "'lucіа@example.org'" in err
    assert "U+0430 CYRILLIC SMALL LETTER A" in err
    code, _, err = run(capsys, "registry", "find", "999999", "--dir", str(ROOT / "data"))
    assert code == 1
    assert "U+" not in err


def test_registry_show(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "registry", "show", "MozTamil", "--dir", str(ROOT / "data"))
    assert code == 0
    assert out.startswith("Mozilla Tamil [mozilla-tamil] (active, reviewed ")
    assert "  past delegates:\n    Owner: Kavin Sundaram, 2019-04-01 to 2026-03-01" in out
    assert not private_contacts() & set(re.split(r"[\s,()]+", out))


def test_registry_show_unknown_slug_is_helpful(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "registry", "show", "mozilla-hispanno", "--dir", str(ROOT / "data")
    )
    assert code == 1
    assert out == ""
    assert "no community 'mozilla-hispanno'" in err
    assert "did you mean 'mozilla-hispano'" in err
    code, _, err = run(capsys, "registry", "show", "qqq", "--dir", str(ROOT / "data"))
    assert code == 1
    assert "known: mozilla-campus-club-coimbra, mozilla-campus-club-nairobi" in err


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_registry_render_never_shows_private_contacts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
) -> None:
    private = private_contacts()
    assert {"+1-555-0101", "bureau@mozfr.example.org", "@lucia_ferreyra"} <= private
    code, page, _ = run(capsys, "registry", "render", "--format", fmt, "--dir", str(ROOT / "data"))
    assert code == 0
    assert "@camille:mozfr.example.org" in page  # public contacts are there
    assert [value for value in private if value in page] == []
    assert "bastien@example.org" not in page  # a former delegate's contacts: never
    if fmt == "html":
        assert page.lstrip().lower().startswith("<!doctype html>")

    target = tmp_path / f"directory.{fmt}"
    code, out, err = run(
        capsys,
        "registry",
        "render",
        "--format",
        fmt,
        "-o",
        str(target),
        "--dir",
        str(ROOT / "data"),
    )
    assert code == 0
    assert out == ""
    assert f"wrote {target}" in err
    assert target.read_text(encoding="utf-8") == page


def test_registry_commands_on_a_broken_registry_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    edit(data / "people.toml", '"camille@example.org"', '"camille@example"')
    code, _, err = run(capsys, "registry", "show", "mozilla-tamil", "--dir", str(data))
    assert code == 2
    assert f"error: {data / 'people.toml'}:29:" in err
    assert "run: triagebot registry check" in err


# -- once, explain, status -------------------------------------------------------------------
def test_once_dry_run_writes_nothing_and_exits_0(
    capsys: pytest.CaptureFixture[str], config: Path, fake: FaultyBugzilla
) -> None:
    code, out, err = run(capsys, "--config", str(config), "once", "--dry-run")
    assert code == 0, err
    assert not WRITE_KINDS & set(fake.counts)
    assert "  1 skipped, 6 would comment\n" in out
    assert out.count("         | comment:") == 6
    assert "      7  skipped            not acted on: whiteboard has [triagebot-skip]" in out
    assert "rule community-it (dry run): 7 bugs changed since" in out
    assert all(len(line) <= 80 for line in out.splitlines())
    assert "\033[" not in out
    # only the poll itself is kept, for `status`, with the counts it printed
    (poll,) = Store(f"sqlite:///{config.parent / 'triagebot.db'}").recent_polls()
    assert (poll.dry_run, poll.searched, poll.acted, poll.skipped) == (True, 7, 6, 1)
    code, out, err = run(capsys, "--config", str(config), "status")
    assert (
        "community-it (dry run, " in out and "7 bugs, 6 would comment, 0 failed, 1 skipped" in out
    )


def test_once_action_cap_exits_1_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], config: Path, fake: FaultyBugzilla
) -> None:
    edit(config, "[run]\n", "[run]\nmax_actions_per_run = 2\n")
    code, out, _ = run(capsys, "--config", str(config), "once", "--live")
    assert code == 1
    assert "ACTION CAP: 6 bugs would be acted on" in out
    assert not WRITE_KINDS & set(fake.counts)
    code, out, _ = run(capsys, "--config", str(config), "once", "--live", "--no-limit")
    assert code == 0
    assert fake.counts["update"] == 6


def test_once_failed_poll_exits_1(
    capsys: pytest.CaptureFixture[str], config: Path, fake: FaultyBugzilla
) -> None:
    fake.fail_next(400, kind="search")
    code, out, _ = run(capsys, "--config", str(config), "once", "--dry-run")
    assert code == 1
    assert "POLL FAILED: injected failure (Bugzilla error 100500)" in out


def test_once_config_error_exits_2_with_file_and_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[bugzilla]\nurl = "https://b.example.org"\n[run]\ndry_run = 1\n')
    for command in ("once", "run", "status", "explain"):
        argv = [command, "3"] if command == "explain" else [command]
        code, _out, err = run(capsys, "--config", str(path), *argv)
        assert code == 2
        assert err == f"error: {path}:4: run.dry_run: expected true or false, got integer 1\n"
    code, _, err = run(capsys, "--config", str(tmp_path / "missing.toml"), "once")
    assert code == 2
    assert "no such configuration file" in err


def test_broken_registry_or_rules_at_start_exit_2(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    base = tmp_path / "copy"
    shutil.copytree(ROOT / "data", base / "data")
    shutil.copytree(ROOT / "rules", base / "rules")
    edit(config, str(ROOT / "data"), str(base / "data"))
    edit(config, str(ROOT / "rules"), str(base / "rules"))
    edit(base / "rules" / "community-it.toml", "needinfo_cap = 2", "needinfo_cap = -1")
    edit(base / "data" / "people.toml", '"camille@example.org"', '"camille@example"')
    code, _, err = run(capsys, "--config", str(config), "once")
    assert code == 2
    assert f"error: {base / 'data' / 'people.toml'}:29:" in err
    assert re.search(rf"error: {re.escape(str(base / 'rules' / 'community-it.toml'))}:\d+: ", err)


def test_live_without_api_key_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], config: Path, fake: FaultyBugzilla
) -> None:
    edit(config, "api_key_file", "# api_key_file")
    for argv in (["once", "--live"], ["once"], ["run", "--live"]):  # dry_run = false in config
        code, _out, err = run(capsys, "--config", str(config), *argv)
        assert code == 2
        assert err == (
            "error: live mode needs an API key: set $TRIAGEBOT_API_KEY or [bugzilla] "
            "api_key_file (read-only dry runs need none)\n"
        )
    assert not WRITE_KINDS & set(fake.counts)


def test_live_without_a_bot_login_on_a_server_without_whoami_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], config: Path, fake: FaultyBugzilla
) -> None:
    """Bugzilla 5.0 has no /rest/whoami: without `bot_login` the bot could not tell its own
    comments from anybody's, so it refuses to write; a dry run still works."""
    edit(config, 'bot_login = "', '# bot_login = "')
    code, _out, err = run(capsys, "--config", str(config), "once", "--live")
    assert code == 2
    assert err == (
        f"error: {config}: live mode needs the bot's Bugzilla login, to recognise its own "
        f"comments: set [bugzilla] bot_login ({fake.url} has no /rest/whoami)\n"
    )
    assert not WRITE_KINDS & set(fake.counts)
    code, _out, _err = run(capsys, "--config", str(config), "once", "--dry-run")
    assert code == 0


def test_live_without_a_bot_login_asks_whoami_where_the_server_has_it(
    capsys: pytest.CaptureFixture[str], config: Path, fake: FaultyBugzilla
) -> None:
    edit(config, 'bot_login = "', '# bot_login = "')
    fake.whoami = True  # Bugzilla 5.1+, bugzilla.mozilla.org
    code, _out, _err = run(capsys, "--config", str(config), "once", "--live")
    assert code == 0
    assert fake.counts["whoami"] == 1
    posted = fake.counts["update"]
    assert posted > 0
    # a second run with an empty database: whoami names the bot, its comments are found
    (config.parent / "triagebot.db").unlink()
    code, out, _err = run(capsys, "--config", str(config), "once", "--live")
    assert code == 0
    assert fake.counts["update"] == posted
    assert "already commented (confirmed)" in out


def test_wrong_api_key_is_reported_without_traceback(
    capsys: pytest.CaptureFixture[str], config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIAGEBOT_API_KEY", "not-the-key")
    code, _out, err = run(capsys, "--config", str(config), "once", "--live")
    assert code == 2
    assert err.startswith("error: Bugzilla at http://127.0.0.1:")
    assert "rejected the API key from $TRIAGEBOT_API_KEY: The API key you specified" in err
    assert "not-the-key" not in err
    assert "Traceback" not in err


def unfold(lines: list[str]) -> list[str]:
    """A comment as explain shows it, 4 spaces in, a long line going on after '  ┆ '."""
    out: list[str] = []
    for line in lines:
        if line.startswith("  ┆ "):
            out[-1] += " " + line[4:]
        else:
            out.append(line[4:])
    return out


def test_explain_prints_decision_and_exact_comment_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], config: Path, fake: FaultyBugzilla
) -> None:
    code, out, err = run(capsys, "--config", str(config), "explain", "2")
    assert code == 0, err
    assert not WRITE_KINDS & set(fake.counts)
    assert set(fake.counts) <= {"version", "search", "comments"}
    lines = out.splitlines()
    assert lines[0] == "bug 2: TLS certificate expired"
    assert lines[1] == "  reporter: visitor@example.org (id " + lines[1].split("(id ")[1]
    assert lines[2].startswith("  rule community-it: needs-endorsement — ")
    assert "  whiteboard: [community:mozilla-francophone] [endorsement-needed]" in lines
    assert "  needinfo: camille@example.org, nadia@example.org" in lines
    start = lines.index("  comment:") + 1
    assert all(len(line) <= 80 for line in lines)
    explained = "\n".join(unfold(lines[start:]))

    # the comment the bot then posts is exactly this one, but for its ref
    assert main(["--config", str(config), "once", "--live"]) == 0
    capsys.readouterr()
    posted = [c["text"] for c in fake.comments_of(2) if c["creator"] == demo.BOT]
    assert len(posted) == 1
    assert re.sub(r"ref [0-9a-f]+\)$", "ref dry-run)", posted[0]) == explained

    # afterwards explain shows the record, still without writing
    updates = fake.counts["update"]
    code, out, _ = run(capsys, "--config", str(config), "explain", "2")
    assert code == 0
    assert "  state: done: comment+whiteboard+needinfo(2) at " in out
    assert "  the next poll writes nothing on this bug\n" in out
    assert f"  the bot posted comment #1 by {demo.BOT} at " in out
    assert fake.counts["update"] == updates


def test_explain_flags_a_lookalike_reporter(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    code, out, err = run(capsys, "--config", str(config), "explain", "6")
    assert code == 0, err
    lines = out.splitlines()
    at = lines.index("  look-alike: the reporter's login lucіа@example.org resembles")
    assert lines[at : at + 4] == [
        "  look-alike: the reporter's login lucіа@example.org resembles",
        "    lucia@example.org, a login of Lucía Ferreyra (lucia) in the registry, but",
        "    is another account: it contains Cyrillic 'і' U+0456 and Cyrillic 'а'",
        "    U+0430; never endorsed",
    ]
    comment = "\n".join(unfold(lines[lines.index("  comment:") + 1 :]))
    assert "Look-alike login: the reporter's login lucіа@example.org resembles " in comment
    assert all(len(line) <= 80 for line in lines)


def test_explain_missing_invisible_and_unwatched_bugs(
    capsys: pytest.CaptureFixture[str], config: Path, fake: FaultyBugzilla
) -> None:
    code, _, err = run(capsys, "--config", str(config), "explain", "999")
    assert code == 1
    assert err == "error: bug 999 not found or not visible to this account\n"
    fake.set_invisible(1)
    code, _, err = run(capsys, "--config", str(config), "explain", "1")
    assert code == 1
    assert "bug 1 not found or not visible" in err
    code, out, _ = run(capsys, "--config", str(config), "explain", "8")
    assert code == 0
    assert out == "bug 8 (Participation Infrastructure :: General) is watched by no rule\n"
    code, out, _ = run(capsys, "--config", str(config), "explain", "7")
    assert code == 0
    assert "  rule community-it: skipped — " in out
    assert "  the next poll writes nothing on this bug" in out
    assert not WRITE_KINDS & set(fake.counts)


def test_status_shows_polls_outcomes_and_unfinished_writes(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    code, out, _ = run(capsys, "--config", str(config), "status")
    assert code == 0
    assert out.splitlines() == [
        "no state yet: no poll has run with this database",
        "registry and rules files: OK",
    ]
    assert not (config.parent / "triagebot.db").exists()  # status created no database
    assert main(["--config", str(config), "once", "--live"]) == 0
    capsys.readouterr()
    with Store(f"sqlite:///{config.parent / 'triagebot.db'}") as store:
        store.begin_writes("community-it", [Intent(42, "abcdef0123456789", "unknown", None, "x")])
    code, out, _ = run(capsys, "--config", str(config), "status")
    assert code == 0
    lines = out.splitlines()
    assert re.fullmatch(r"  \S+ \S+Z community-it \(live, \d+\.\d s\)", lines[1])
    assert lines[2] == "    7 bugs, 6 acted on, 0 failed, 1 skipped"
    counts = lines[lines.index("outcomes:") + 1 : lines.index("outcomes:") + 6]
    assert counts == [
        "  done/ambiguous: 1",
        "  done/endorsed: 1",
        "  done/former-delegate: 1",
        "  done/needs-endorsement: 2",
        "  done/unknown: 1",
    ]
    assert "  seen/skipped: 1" in lines
    assert "awaiting endorsement: 5; `triagebot queue` lists them and says which are stale" in lines
    assert "writes not confirmed (checked against Bugzilla next poll): 1" in lines
    assert any(
        line.startswith("  bug 42 rule community-it ref abcdef0123456789 since ") for line in lines
    )


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["registry"],
        ["registry", "check"],
        ["registry", "find"],
        ["registry", "show"],
        ["registry", "render"],
        ["once"],
        ["run"],
        ["explain"],
        ["status"],
        ["demo"],
    ],
)
def test_help_of_every_command(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert main([*argv, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: triagebot {' '.join(argv)}".rstrip())


def test_usage_errors_exit_2_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        [],
        ["explain", "abc"],
        ["once", "--live", "--dry-run"],
        ["nope"],
        ["once", "--jso"],
    ):
        assert main(argv) == 2, argv
        out, err = capsys.readouterr()
        assert out == ""
        assert err.startswith("error: triagebot") and err.count("\n") == 1, err
        assert err.rstrip().endswith("--help)")
