"""`triagebot init`: a deployment that checks clean, dry-runs, and cannot go live by accident."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import responses

from triagebot import shipped
from triagebot.commands.cli import main
from triagebot.files import schema
from triagebot.files.config import load_config
from triagebot.files.rules import load_rules
from triagebot.files.validate import load_registry
from triagebot.tools import scaffold


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TRIAGEBOT_CONFIG", raising=False)
    monkeypatch.setenv("TRIAGEBOT_API_KEY", "k" * 40)  # so that only the guard can refuse
    monkeypatch.chdir(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_init_writes_a_deployment_that_checks_clean(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "init", "site")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "created in site:",
        "  triagebot.toml  the configuration: dry run, bugzilla.mozilla.org",
        "  rules/          the community-it rule and its comment templates",
        "  data/           an empty registry: people.toml, communities/",
        "next (README, 'Use it on your Bugzilla'): set [bugzilla] url and bot_login, the",
        "rule's product, components and directory_url, list your delegates in data/, then",
        "  cd site && triagebot registry check && triagebot once",
    ]
    site = tmp_path / "site"
    config = load_config(site / "triagebot.toml")
    assert config.run.dry_run is True
    assert (config.registry.path, config.rules.path) == (site / "data", site / "rules")
    assert config.poll.start is not None and config.poll.start.date() == datetime.now(UTC).date()
    # an empty registry, valid, with the editor's schema line and a commented example
    result = load_registry(site / "data")
    assert (result.errors, result.warnings, result.people, result.communities) == ([], [], 0, 0)
    people = (site / "data" / "people.toml").read_text(encoding="utf-8")
    assert people.splitlines()[0] == schema.DIRECTIVES["people"]
    assert "# [alex]" in people
    assert (site / "data" / "schema" / "people.schema.json").is_file()
    # the shipped rule and every template, the directory link left to fill in
    (rule,) = load_rules(site / "rules")
    assert rule.directory_url == scaffold.PLACEHOLDER_URL
    templates = sorted(p.name for p in (shipped.RULES / "templates").iterdir())
    assert sorted(p.name for p in (site / "rules" / "templates").iterdir()) == templates
    code, out, _ = run(capsys, "registry", "check", str(site / "data"))
    assert code == 0


def test_init_overwrites_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    code, out, err = run(capsys, "init")
    assert (code, out) == (2, "")
    assert (
        err == "error: data already exists; init never overwrites: give a new or empty directory\n"
    )
    assert not (tmp_path / "triagebot.toml").exists()


def test_live_is_refused_on_a_fresh_scaffold(capsys: pytest.CaptureFixture[str]) -> None:
    """Pointing at bugzilla.mozilla.org, the scaffold as written: refused before any request
    (an unmocked request would fail the test)."""
    assert main(["init", "site"]) == 0
    capsys.readouterr()
    for argv in (["once", "--live"], ["run", "--live"]):
        with responses.RequestsMock():
            code, out, err = run(capsys, "--config", "site/triagebot.toml", *argv)
        assert (code, out) == (2, "")
        site = Path("site").resolve()
        assert err.splitlines() == [
            f"error: {site}/data: refusing to go live: the registry lists nobody yet; put your "
            "communities' delegates in it (README: Use it on your Bugzilla), or use --dry-run",
            f"error: {site}/rules/community-it.toml: refusing to go live: directory_url "
            f"{scaffold.PLACEHOLDER_URL} is a placeholder; set it to your community directory "
            "page, or delete the line",
        ]


def test_the_configuration_init_writes_does_not_ask_to_be_copied(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The example says "Copy to triagebot.toml"; the file init wrote is that copy already."""
    assert "Copy to triagebot.toml" in shipped.CONFIG_EXAMPLE.read_text(encoding="utf-8")
    assert main(["init", "site"]) == 0
    text = (tmp_path / "site" / "triagebot.toml").read_text(encoding="utf-8")
    assert "Copy to" not in text
    assert "# this directory; from elsewhere, pass --config FILE or set $TRIAGEBOT_CONFIG." in text


def test_init_into_a_file_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The help promises exit 2 for a target that cannot be a deployment: one line, no
    traceback, nothing written."""
    (tmp_path / "notes.txt").write_text("mine\n", encoding="utf-8")
    code, out, err = run(capsys, "init", "notes.txt")
    assert (code, out) == (2, "")
    assert err == "error: notes.txt is a file; init writes into a new or empty directory\n"
    code, out, err = run(capsys, "init", "notes.txt/site")
    assert (code, out) == (2, "")
    assert err == "error: notes.txt/site: cannot create the directory: Not a directory\n"
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine\n"
