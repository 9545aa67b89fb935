"""registry sync against the loopback stand-in answering GET /rest/user like Bugzilla 5.0."""

from __future__ import annotations

import difflib
import math
import shutil
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from triagebot.commands.cli import main
from triagebot.demo import demo
from triagebot.demo.devserver import FakeBugzilla, write_config
from triagebot.service.run import load_registry_strict
from triagebot.tools.sync import fill_ids

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TRIAGEBOT_CONFIG", raising=False)
    monkeypatch.delenv("TRIAGEBOT_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(ROOT / "data", copy)
    return copy


def people(data: Path) -> dict[str, dict]:
    return tomllib.loads((data / "people.toml").read_text(encoding="utf-8"))


@pytest.fixture
def fake(data: Path) -> Iterator[FakeBugzilla]:
    """The demo's accounts: every listed email is an account; a listed bugzilla_id is that
    person's first email (a second email is a second account of the same person)."""
    server = FakeBugzilla(api_key=demo.DEMO_KEY, bot_login=demo.BOT)
    demo.add_accounts(server, load_registry_strict(data).people.values())
    server.start()
    yield server
    server.stop()


def sync(
    fake: FakeBugzilla, data: Path, capsys: pytest.CaptureFixture[str], *flags: str
) -> tuple[int, list[str]]:
    assert fake.url is not None
    config = write_config(
        data.parent,
        fake.url,
        api_key=demo.DEMO_KEY,
        bot_login=demo.BOT,
        data=data,
        rules=ROOT / "rules",
        start=datetime.now(UTC),
    )
    fake.counts.clear()
    code = main(["--config", str(config), "registry", "sync", "--dir", str(data), *flags])
    out = capsys.readouterr().out.replace(str(data) + "/", "")
    return code, out.splitlines()


def test_all_agree_except_ids_that_can_be_filled(
    fake: FakeBugzilla, data: Path, capsys: pytest.CaptureFixture[str]
):
    listed = people(data)
    without_id = {h: p for h, p in listed.items() if "bugzilla_id" not in p}
    one_account = sorted(h for h, p in without_id.items() if len(p["emails"]) == 1)
    two_accounts = sorted(h for h, p in without_id.items() if len(p["emails"]) > 1)
    assert one_account and two_accounts
    code, lines = sync(fake, data, capsys, "--batch", "5")
    assert code == 0
    fills = [line for line in lines if line.startswith("to add: people.toml:")]
    notes = [line for line in lines if line.startswith("note: people.toml:")]
    assert len(fills) + len(notes) == len(lines) - 1
    assert sorted(line.split(": ")[2].split(".")[0] for line in fills) == one_account
    # Several accounts of one person: which is "the" id is for a person to choose.
    assert sorted(line.split(": ")[2].split(".")[0] for line in notes) == two_accounts
    assert "2 Bugzilla accounts" in notes[0]
    emails = {e for p in listed.values() for e in p["emails"]}
    ids = {p["bugzilla_id"] for p in listed.values() if "bugzilla_id" in p}
    # The figure: ceil(emails / batch) + ceil(ids / batch), plus the connection's /version.
    expected = math.ceil(len(emails) / 5) + math.ceil(len(ids) / 5)
    assert fake.counts["user"] == expected
    assert lines[-1].endswith(
        f"in {expected} look-up(s); 0 need a person's decision; {len(one_account)} "
        "bugzilla_id(s) to add (run with --write)"
    )


def test_a_missing_login_a_mismatched_id_and_a_disabled_account_need_a_decision(
    fake: FakeBugzilla, data: Path, capsys: pytest.CaptureFixture[str]
):
    text = (data / "people.toml").read_text(encoding="utf-8")
    # A typo in an email: Bugzilla has no such account (5.0 fails the batch with code 51).
    text = text.replace('"rodrigo@example.org"', '"rodirgo@example.org"')
    # A mistyped id: 799999 is a stranger's account, not Camille's.
    fake.add_user("stranger@example.org", "Someone Else", id=799999)
    text = text.replace("bugzilla_id = 710001", "bugzilla_id = 799999")
    (data / "people.toml").write_text(text, encoding="utf-8")
    fake.users["bastien@example.org"]["can_login"] = False  # a disabled account
    code, lines = sync(fake, data, capsys)
    assert code == 1
    errors = [line for line in lines if line.startswith("error:")]
    assert errors == [
        "error: people.toml:28: camille.bugzilla_id: Bugzilla account 799999 has the login "
        "'stranger@example.org', which is not "
        "one of camille's emails: a mistyped id (which would endorse "
        "someone else) or a login changed since",
        "error: people.toml:47: bastien.emails[0]: the Bugzilla account 'bastien@example.org' "
        "(id 710002) is disabled",
        # The id still leads to the real login, which the typo no longer lists.
        "error: people.toml:74: rodrigo.bugzilla_id: Bugzilla account 700102 has the login "
        "'rodrigo@example.org', which is not "
        "one of rodrigo's emails: a mistyped id (which would endorse "
        "someone else) or a login changed since",
        "error: people.toml:75: rodrigo.emails[0]: no Bugzilla account has the login "
        "'rodirgo@example.org': a typo, or an account not created (or renamed) since",
    ]
    # One request more for the unknown login (dropped from its batch, the batch asked again).
    assert fake.counts["user"] == 3
    assert "4 need a person's decision" in lines[-1]


def test_write_adds_only_lines_and_keeps_everything_a_person_wrote(
    fake: FakeBugzilla, data: Path, capsys: pytest.CaptureFixture[str]
):
    before = (data / "people.toml").read_text(encoding="utf-8")
    people_before_ids = {h for h, p in people(data).items() if "bugzilla_id" in p}
    code, lines = sync(fake, data, capsys, "--write")
    assert code == 0
    after = (data / "people.toml").read_text(encoding="utf-8")
    diff = [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="")
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert diff and all(line.startswith("+bugzilla_id = ") for line in diff)
    added = [line for line in lines if line.startswith("added: ")]
    assert len(added) == len(diff)
    # Each id is the account Bugzilla has for that person's email, right under the name.
    for handle, person in people(data).items():
        if len(person["emails"]) == 1 or handle in people_before_ids:
            assert fake.users[person["emails"][0].lower()]["id"] == person["bugzilla_id"], handle
    nadia = after[after.index("[nadia]") :]
    assert nadia.startswith('[nadia]  # Trésorière\nname = "Nadia Benslimane"\nbugzilla_id = ')
    # A second run has nothing left to do.
    code, lines = sync(fake, data, capsys, "--write")
    assert code == 0
    assert lines[-1].endswith("0 bugzilla_id(s) added")
    assert (data / "people.toml").read_text(encoding="utf-8") == after


def test_write_never_fills_an_id_that_needs_a_decision(
    fake: FakeBugzilla, data: Path, capsys: pytest.CaptureFixture[str]
):
    fake.users["nadia@example.org"]["can_login"] = False
    before = people(data)
    code, lines = sync(fake, data, capsys, "--write")
    assert code == 1
    assert "bugzilla_id" not in people(data)["nadia"]
    assert any("nadia.emails[0]: the Bugzilla account" in line for line in lines)
    # Everyone else with one account got their id.
    still = sorted(h for h, p in people(data).items() if "bugzilla_id" not in p)
    assert still == sorted(
        [
            "nadia",
            *(h for h, p in before.items() if len(p["emails"]) > 1 and "bugzilla_id" not in p),
        ]
    )


def test_fill_ids_keeps_comments_blank_lines_and_crlf():
    text = '# people\r\n\r\n[ana]  # note\r\nname = "Ana"\r\nemails = ["a@example.org"]\r\n'
    assert fill_ids(text, {"ana": 7}) == (
        '# people\r\n\r\n[ana]  # note\r\nname = "Ana"\r\nbugzilla_id = 7\r\n'
        'emails = ["a@example.org"]\r\n'
    )


def test_without_an_api_key_nothing_is_asked(
    fake: FakeBugzilla, data: Path, capsys: pytest.CaptureFixture[str]
):
    config = data.parent / "nokey.toml"
    config.write_text(f'[bugzilla]\nurl = "{fake.url}"\n', encoding="utf-8")
    fake.counts.clear()
    code = main(["--config", str(config), "registry", "sync", "--dir", str(data)])
    assert code == 2
    assert "registry sync needs an API key ($TRIAGEBOT_API_KEY" in capsys.readouterr().err
    assert sum(fake.counts.values()) == 0
