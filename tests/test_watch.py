"""Reloader: new registry and rules files are used when valid; broken ones keep the last good
version, with every problem logged by file and line."""

from __future__ import annotations

import logging
import os
import shutil
from functools import partial
from pathlib import Path

import pytest

from triagebot.files.config import ConfigError
from triagebot.files.rules import load_rules
from triagebot.service.run import load_registry_strict
from triagebot.service.watch import Reloader, TryAgain, fingerprint

ROOT = Path(__file__).resolve().parents[1]


def rewrite(path: Path, text: str) -> None:
    """Write and move the mtime forward: a change is seen even within the clock's tick."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    rewrite(path, text.replace(old, new, 1))


def value_loader(path: Path):
    """Loads the file's text; 'bad' lines are problems with their line numbers."""

    def load() -> str:
        text = path.read_text(encoding="utf-8")
        problems = [
            f"{path}:{n}: bad value"
            for n, line in enumerate(text.splitlines(), 1)
            if line.strip() == "bad"
        ]
        if problems:
            raise ConfigError(problems)
        return text

    return load


def test_fingerprint_sees_changed_added_and_removed_files(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    a = tmp_path / "a.toml"
    rewrite(a, "x")
    first = fingerprint([tmp_path])
    assert fingerprint([tmp_path]) == first
    rewrite(a, "y")
    second = fingerprint([tmp_path])
    assert second != first
    rewrite(tmp_path / "sub" / "b.toml", "z")
    third = fingerprint([tmp_path])
    assert len(third) == 2
    (tmp_path / "sub" / "b.toml").unlink()
    assert fingerprint([tmp_path]) == second
    assert fingerprint([a]) == second  # a single file
    assert fingerprint([tmp_path / "missing"]) == ()


def test_reload_keeps_last_good_version_and_logs_every_problem(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "value.txt"
    rewrite(path, "one\n")
    reloader = Reloader(value_loader(path), [path], "value")
    assert reloader.load_first() == []
    assert reloader.current() == "one\n"
    assert reloader.refresh() is False  # nothing changed: not even read

    rewrite(path, "two\n")
    assert reloader.refresh() is True
    assert reloader.current() == "two\n"

    caplog.set_level(logging.INFO, logger="triagebot")
    rewrite(path, "bad\nthree\nbad\n")
    assert reloader.refresh() is False
    assert reloader.current() == "two\n"
    assert reloader.errors == [f"{path}:1: bad value", f"{path}:3: bad value"]
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert logged == [
        "value changed but is invalid (2 problems); keeping the last good version",
        f"value: {path}:1: bad value",
        f"value: {path}:3: bad value",
    ]

    caplog.clear()
    assert reloader.refresh() is False  # still broken, unchanged: logged once only
    assert caplog.records == []
    assert reloader.errors

    rewrite(path, "four\n")
    assert reloader.refresh() is True
    assert reloader.current() == "four\n"
    assert reloader.errors == []


def test_first_load_returns_problems(tmp_path: Path) -> None:
    path = tmp_path / "value.txt"
    rewrite(path, "bad\n")
    reloader = Reloader(value_loader(path), [path], "value")
    assert reloader.load_first() == [f"{path}:1: bad value"]
    assert reloader.errors == [f"{path}:1: bad value"]


def test_unexpected_loader_failure_keeps_last_good_version(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "value.txt"
    rewrite(path, "one\n")
    calls = []

    def load() -> str:
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("disk on fire")
        return "one"

    reloader = Reloader(load, [path], "value")
    reloader.load_first()
    rewrite(path, "two\n")
    assert reloader.refresh() is False
    assert reloader.current() == "one"
    assert reloader.errors == ["value: RuntimeError: disk on fire"]
    assert "could not be loaded" in caplog.text


def test_a_new_version_is_used_only_once_accepted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "value.txt"
    rewrite(path, "one\n")
    reloader = Reloader(value_loader(path), [path], "value")
    reloader.load_first()
    verdicts: list[Exception | None] = [TryAgain("server down"), ConfigError(["refused"]), None]
    judged: list[str] = []

    def accept(value: str) -> None:
        judged.append(value)
        verdict = verdicts.pop(0)
        if verdict is not None:
            raise verdict

    reloader.accept = accept
    rewrite(path, "two\n")
    assert reloader.refresh() is False  # could not be judged: kept, tried again next time
    assert reloader.current() == "one\n" and reloader.errors == []
    assert "cannot be checked now (server down); trying again" in caplog.text
    assert reloader.refresh() is False  # the same files, judged again: refused
    assert reloader.errors == ["refused"] and reloader.current() == "one\n"
    assert reloader.refresh() is False  # refused files are not judged again until they change
    rewrite(path, "three\n")
    assert reloader.refresh() is True
    assert reloader.current() == "three\n" and reloader.errors == []
    assert judged == ["two\n", "two\n", "three\n"]


def test_registry_reload(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    reloader = Reloader(lambda: load_registry_strict(data), [data], "registry")
    assert reloader.load_first() == []
    assert reloader.current().community("MozHispano") is not None
    assert reloader.current().community("Hispanohablantes") is None

    hispano = data / "communities" / "mozilla-hispano.toml"
    edit(hispano, 'aliases = ["MozHispano"]', 'aliases = ["MozHispano", "Hispanohablantes"]')
    assert reloader.refresh() is True
    assert reloader.current().community("Hispanohablantes") is not None
    good = reloader.current()

    people = data / "people.toml"
    edit(people, '"camille@example.org"', '"camille@example"')  # line 29
    edit(hispano, "[[delegates]]\nperson = ", "[[delegates]]\npersn = ")
    assert reloader.refresh() is False
    assert reloader.current() is good
    assert any(e.startswith(f"{people}:29: camille.emails[0]: ") for e in reloader.errors)
    assert any(e.startswith(f"{hispano}:") and "persn" in e for e in reloader.errors)
    for error in reloader.errors:  # each one logged, with its file and line
        assert f"registry: {error}" in caplog.text

    # putting the old files back (with an older mtime even) is a change too
    shutil.copy(ROOT / "data" / "people.toml", people)
    shutil.copy(ROOT / "data" / "communities" / "mozilla-hispano.toml", hispano)
    os.utime(people, ns=(1, 1))
    assert reloader.refresh() is True
    assert reloader.errors == []
    assert reloader.current().community("Hispanohablantes") is None


def test_rules_reload(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    reloader = Reloader(partial(load_rules, rules), [rules], "rules")
    assert reloader.load_first() == []
    assert reloader.current()[0].needinfo_cap == 2

    rule_file = rules / "community-it.toml"
    edit(rule_file, "needinfo_cap = 2", "needinfo_cap = 1")
    assert reloader.refresh() is True
    assert reloader.current()[0].needinfo_cap == 1

    template = rules / "templates" / "endorsed.md.j2"
    edit(template, "{{ reporter.name }}", "{{ reporter.name ")  # a Jinja syntax error
    assert reloader.refresh() is False
    assert reloader.current()[0].needinfo_cap == 1
    assert reloader.errors and all(e.startswith(f"{template}:1: ") for e in reloader.errors)
