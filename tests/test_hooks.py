""".pre-commit-hooks.yaml: what a data repository's pre-commit runs is a real, passing command."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from triagebot.commands.cli import main

ROOT = Path(__file__).resolve().parents[1]
HOOKS = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))


def test_hooks_cover_check_and_audit():
    assert [h["id"] for h in HOOKS] == ["triagebot-registry-check", "triagebot-registry-audit"]
    for hook in HOOKS:
        assert hook["language"] == "python"  # pre-commit installs this repository itself
        assert hook["pass_filenames"] is False  # the command reads the whole registry


@pytest.mark.parametrize("hook", HOOKS, ids=lambda h: h["id"])
def test_hook_runs_on_registry_edits_only(hook: dict):
    files = re.compile(hook["files"])
    for path in ("people.toml", "data/people.toml", "data/communities/mozfr.toml"):
        assert files.search(path), path
    for path in ("README.md", "rules/community-it.toml", "config.toml", "people.toml.bak"):
        assert not files.search(path), path
    # Only the audit reads the policy file.
    assert bool(files.search("data/policy.toml")) == (hook["id"] == "triagebot-registry-audit")


@pytest.mark.parametrize("hook", HOOKS, ids=lambda h: h["id"])
def test_hook_entry_passes_on_the_shipped_data_and_fails_on_a_broken_one(
    hook: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
):
    monkeypatch.delenv("TRIAGEBOT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    program, *argv = shlex.split(hook["entry"])
    assert program == "triagebot"
    assert main([*argv, str(ROOT / "data")]) == 0
    broken = tmp_path / "data"
    (broken / "communities").mkdir(parents=True)
    (broken / "people.toml").write_text("[ana]\nname = 'Ana'\nemails = ['ana@example']\n")
    assert main([*argv, str(broken)]) != 0
    assert f"{broken / 'people.toml'}:3:" in capsys.readouterr().err
