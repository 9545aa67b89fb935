"""Going live by accident: the shipped example registry or a placeholder link is refused."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import responses

from triagebot.core.registry import Person, Registry
from triagebot.files.config import load_config
from triagebot.files.rules import load_rules
from triagebot.files.validate import load_registry
from triagebot.service import golive
from triagebot.service.run import build_bot

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = load_registry(ROOT / "data").registry
RULES = load_rules(ROOT / "rules")
REAL = Registry.build([Person("alex", "Alex", ("alex@community.internal",))], [])


@pytest.mark.parametrize(
    ("url", "test_server"),
    [
        ("http://127.0.0.1:8089", True),  # the demo's stand-in
        ("http://localhost:8089", True),
        ("http://[::1]:8089", True),
        ("https://bugzilla.example.test", True),  # the tests' mocks
        ("https://bugzilla.example.org", True),
        ("https://bugzilla.mozilla.org", False),
        ("https://bugs.community.internal", False),
    ],
)
def test_only_a_real_tracker_is_guarded(url: str, test_server: bool) -> None:
    assert golive.is_test_server(url) is test_server


def test_the_shipped_registry_and_rule_are_refused_on_a_real_tracker() -> None:
    assert SHIPPED is not None
    problems = golive.live_problems("https://bugzilla.mozilla.org", SHIPPED, Path("data"), RULES)
    assert problems == [
        "data: refusing to go live: the registry holds only example.org people (fictional); put "
        "your communities' delegates in it (README: Use it on your Bugzilla), or use --dry-run",
        f"{RULES[0].path}: refusing to go live: directory_url "
        "https://community.example.org/directory is a placeholder; set it to your community "
        "directory page, or delete the line",
    ]
    # the demo, the end-to-end tests and the benchmark run the same data on loopback
    assert golive.live_problems("http://127.0.0.1:8089", SHIPPED, Path("data"), RULES) == []


def test_a_registry_with_one_real_login_and_a_real_link_go_live() -> None:
    rules = [replace(RULES[0], directory_url="https://directory.community.internal/")]
    assert golive.live_problems("https://bugzilla.mozilla.org", REAL, Path("data"), rules) == []
    without_link = [replace(RULES[0], directory_url=None)]
    assert golive.live_problems("https://bugzilla.mozilla.org", REAL, Path("d"), without_link) == []


def test_a_reload_to_example_data_is_refused_while_live(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run --live` keeps its last good registry when data/ is replaced by example data."""
    monkeypatch.setenv("TRIAGEBOT_API_KEY", "k" * 40)
    data = tmp_path / "data"
    (data / "communities").mkdir(parents=True)
    people = data / "people.toml"
    people.write_text('[alex]\nname = "Alex"\nemails = ["alex@community.internal"]\n')
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    rule = rules / "community-it.toml"
    text = rule.read_text(encoding="utf-8")
    rule.write_text(
        text.replace("https://community.example.org/directory", "https://dir.community.internal/")
    )
    config = tmp_path / "triagebot.toml"
    config.write_text(
        '[bugzilla]\nurl = "https://bugzilla.community.internal"\n'
        f'[registry]\npath = "{data}"\n[rules]\npath = "{rules}"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "bot.db"}"\n'
    )
    with responses.RequestsMock():  # no request is made: an unmocked one would fail
        bot = build_bot(load_config(config), live=True)
        assert bot.registry.current().people.keys() == {"alex"}
        people.write_text('[ana]\nname = "Ana"\nemails = ["ana@example.org"]\n')
        os.utime(people, (1, 1))  # a different stamp, whatever the clock's resolution
        assert bot.registry.refresh() is False
    assert bot.registry.current().people.keys() == {"alex"}
    assert bot.registry.errors == [
        f"{data}: refusing to go live: the registry holds only example.org people (fictional); "
        "put your communities' delegates in it (README: Use it on your Bugzilla), or use "
        "--dry-run"
    ]
    bot.store.close()


# -- triagebot check: every blocker at once ----------------------------------------------------
def test_check_reports_every_blocker_at_once_with_its_fix_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Four tries to learn four facts, before: now one run names the key, the bot's login,
    the product, the example data, the placeholder link and the database, then exit 2."""
    import json
    from datetime import UTC, datetime

    from triagebot.commands.cli import main
    from triagebot.demo import demo
    from triagebot.demo.devserver import FakeBugzilla

    monkeypatch.delenv("TRIAGEBOT_API_KEY", raising=False)
    monkeypatch.delenv("TRIAGEBOT_CONFIG", raising=False)
    monkeypatch.setattr(golive, "is_test_server", lambda url: False)  # as if a real tracker
    with FakeBugzilla(api_key=demo.DEMO_KEY, bot_login=demo.BOT) as fake:
        assert fake.url is not None
        config = demo.write_config(tmp_path, fake.url, ROOT, datetime.now(UTC))
        text = config.read_text(encoding="utf-8")
        text = text.replace("api_key_file", "# api_key_file").replace("bot_login", "# bot_login")
        text = text.replace(str(tmp_path / "triagebot.db"), str(tmp_path / "no" / "t.db"))
        rules = tmp_path / "rules"
        shutil.copytree(ROOT / "rules", rules)
        rule = rules / "community-it.toml"
        rule.write_text(
            rule.read_text(encoding="utf-8").replace(
                'product = "Participation Infrastructure"',
                'product = "Participation Infrastructur"',
            ),
            encoding="utf-8",
        )
        config.write_text(text.replace(str(ROOT / "rules"), str(rules)), encoding="utf-8")
        before = dict(fake.counts)
        assert main(["--config", str(config), "check"]) == 2
        out = capsys.readouterr().out
        assert main(["--config", str(config), "check", "--json"]) == 2
        document = json.loads(capsys.readouterr().out)
        writes = {"update", "comment", "create"}
        assert not writes & (set(fake.counts) - set(before))
    lines = out.splitlines()
    assert [line.split(":")[1].strip() for line in lines[:-1]] == [
        "example data",
        "example data",
        "database",
        "key",
        "bot_login",
        "product",
    ]
    assert "the registry holds only example.org people (fictional)" in lines[0]
    assert "directory_url https://community.example.org/directory is a placeholder" in lines[1]
    assert "create it or set [database] url" in lines[2]
    assert "set $TRIAGEBOT_API_KEY or [bugzilla] api_key_file" in lines[3]
    assert "set [bugzilla] bot_login" in lines[4]
    assert "did you mean 'Participation Infrastructure'?" in lines[5]
    assert lines[-1] == "go-live check: 6 blockers; fix each, then run it again"
    assert document["ok"] is False
    assert [b["what"] for b in document["blockers"]] == [
        "example data", "example data", "database", "key", "bot_login", "product",
    ]  # fmt: skip
    assert not (tmp_path / "no").exists()  # the check created nothing


def test_check_passes_on_the_demo_stand_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime

    from triagebot.commands.cli import main
    from triagebot.demo import demo
    from triagebot.demo.devserver import FakeBugzilla

    monkeypatch.delenv("TRIAGEBOT_API_KEY", raising=False)
    with FakeBugzilla(api_key=demo.DEMO_KEY, bot_login=demo.BOT) as fake:
        assert fake.url is not None
        config = demo.write_config(tmp_path, fake.url, ROOT, datetime.now(UTC))
        assert main(["--config", str(config), "check"]) == 0
    assert capsys.readouterr().out == "go-live check: 0 blockers: `once --live` can run\n"
    assert not (tmp_path / "triagebot.db").exists()
