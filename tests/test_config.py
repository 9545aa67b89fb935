"""Configuration: discovery order, defaults, relative paths, strict errors with file:line."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import rtoml

from triagebot.files.config import Bugzilla, Config, ConfigError, find_config_file, load_config

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "triagebot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_is_valid_and_points_at_bmo() -> None:
    config = load_config(ROOT / "config.example.toml")
    assert config.bugzilla.url == "https://bugzilla.mozilla.org"
    assert config.bugzilla.key_in == "header"
    assert config.run.dry_run is True
    assert config.run.max_actions_per_run == 50
    assert config.registry.path == ROOT / "data"
    assert config.database.url == f"sqlite:///{ROOT / 'triagebot.db'}"
    assert config.poll.start == datetime(2026, 11, 17, tzinfo=UTC)


def example_keys() -> dict[tuple[str, str], bool]:
    """(section, key) -> is it set (True) or shown commented out (False) in the example."""
    keys: dict[tuple[str, str], bool] = {}
    section = ""
    for line in (ROOT / "config.example.toml").read_text(encoding="utf-8").splitlines():
        if header := re.fullmatch(r"\[(\w+)\]", line):
            section = header.group(1)
        elif key := re.match(r"(# )?(\w+) = ", line):
            keys[section, key.group(2)] = key.group(1) is None
    return keys


def test_example_documents_every_key_with_its_default() -> None:
    """config.example.toml and the model agree: every key of the model is in the example, set
    to its default (or, without one, shown commented out), and the example has no other key.
    `[poll] start` is the exception: shown as a newcomer would set it (init sets it to today)."""
    keys = example_keys()
    defaults = Config()
    model = {
        (name, key): getattr(getattr(defaults, name), key)
        for name, section in Config.model_fields.items()
        for key in section.annotation.model_fields  # type: ignore[union-attr]
    }
    assert sorted(keys) == sorted(model)
    example = Config.model_validate(rtoml.load(ROOT / "config.example.toml"))
    for (name, key), is_set in keys.items():
        if (name, key) == ("poll", "start"):
            continue
        written = getattr(getattr(example, name), key)
        assert (written if is_set else None) == model[name, key], f"[{name}] {key}"


def test_defaults_without_any_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRIAGEBOT_CONFIG", raising=False)
    assert find_config_file(None) is None
    config = load_config(None)
    assert config == Config()
    assert config.run.dry_run is True
    assert config.database.url == "sqlite:///triagebot.db"


def test_discovery_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    local = write(tmp_path, "")
    monkeypatch.delenv("TRIAGEBOT_CONFIG", raising=False)
    assert find_config_file(None) == Path("triagebot.toml")
    monkeypatch.setenv("TRIAGEBOT_CONFIG", "/elsewhere.toml")
    assert find_config_file(None) == Path("/elsewhere.toml")
    assert find_config_file(local) == local


def test_relative_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    path = tmp_path / "etc" / "bot.toml"
    path.write_text(
        '[registry]\npath = "../registry"\n[database]\nurl = "sqlite:///state/bot.db"\n',
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.registry.path == tmp_path / "registry"
    assert config.database.url == f"sqlite:///{tmp_path / 'etc' / 'state' / 'bot.db'}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[bugzila]\nurl = "https://b.example.org"\n',
            "1: bugzila: unknown section; did you mean 'bugzilla'?",
        ),
        (
            "[run]\ndry_run = true\nmax_action_per_run = 3\n",
            "3: run.max_action_per_run: unknown key; did you mean 'max_actions_per_run'?",
        ),
        ('[run]\ndry_run = "no"\n', "2: run.dry_run: expected true or false, got string 'no'"),
        (
            "[run]\nmax_actions_per_run = 0\n",
            "2: run.max_actions_per_run: expected a whole number above 0, got integer 0",
        ),
        (
            "[run]\nmax_actions_per_run = 2.5\n",
            "2: run.max_actions_per_run: expected a whole number above 0, got float 2.5",
        ),
        (
            '[bugzilla]\nurl = "bugzilla.example.org"\n',
            "2: bugzilla.url: expected an http(s) URL, got string 'bugzilla.example.org'",
        ),
        (
            '[bugzilla]\napi_key_in = "cookie"\n',
            "2: bugzilla.api_key_in: expected one of 'auto', 'header', 'query', "
            "got string 'cookie'",
        ),
        (
            '[poll]\nstart = "yesterday"\n',
            "2: poll.start: expected an ISO time like 2026-11-01T00:00:00Z, got string 'yesterday'",
        ),
        (
            "[poll]\ninterval_minutes = -5\n",
            "2: poll.interval_minutes: expected a number above 0, got integer -5",
        ),
        (
            "[poll]\noverlap_minutes = 0\n",
            "2: poll.overlap_minutes: expected a number of minutes of at least 1, got integer 0",
        ),
        ("[run]\ndry_run = \n", "2: invalid TOML: string values must be quoted"),
        (
            '[bugzilla]\nmarkdown = "yes"\n',
            """2: bugzilla.markdown: expected "auto", true or false, got string 'yes'""",
        ),
    ],
)
def test_errors_name_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value.problems[0]).startswith(f"{path}:{expected}")


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "[run]\ndry_run = 1\n[poll]\noverlap = 3\n[bugzilla]\nurl = 5\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert [str(p).split(": ")[0] for p in caught.value.problems] == [
        f"{path}:2",
        f"{path}:4",
        f"{path}:6",
    ]


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "nope.toml")


def test_api_key_from_env_then_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n", encoding="utf-8")
    key_file.chmod(0o600)
    path = write(tmp_path, f'[bugzilla]\napi_key_file = "{key_file}"\napi_key_env = "MY_KEY"\n')
    monkeypatch.delenv("MY_KEY", raising=False)
    config = load_config(path)
    assert config.bugzilla.api_key() == "from-file"
    monkeypatch.setenv("MY_KEY", "from-env")
    assert config.bugzilla.api_key() == "from-env"
    assert "from-env" not in repr(config)


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("k\n", encoding="utf-8")
    os.chmod(key_file, 0o644)
    bugzilla = Bugzilla(api_key_file=key_file, api_key_env="TRIAGEBOT_TEST_UNSET")
    with pytest.raises(ConfigError) as caught:
        bugzilla.api_key()
    assert [str(p) for p in caught.value.problems] == [
        f"{key_file}: the API key file is readable by other users (mode 644); "
        f"run: chmod 600 {key_file}"
    ]


def test_markdown_comments_per_server(tmp_path: Path) -> None:
    """Markdown on bugzilla.mozilla.org only, unless the file says otherwise."""
    assert Bugzilla(url="https://bugzilla.mozilla.org").markdown_comments is True
    assert Bugzilla(url="https://bugs.example.org").markdown_comments is False
    assert load_config(ROOT / "config.example.toml").bugzilla.markdown_comments is True
    forced = write(tmp_path, '[bugzilla]\nurl = "https://bugs.example.org"\nmarkdown = true\n')
    assert load_config(forced).bugzilla.markdown_comments is True
    plain = write(tmp_path, "[bugzilla]\nmarkdown = false\n")
    assert load_config(plain).bugzilla.markdown_comments is False


def test_key_placement_per_server() -> None:
    assert Bugzilla(url="https://bugzilla.mozilla.org").key_in == "header"
    assert Bugzilla(url="https://bugs.example.org").key_in == "query"
    assert Bugzilla(url="https://bugs.example.org", api_key_in="header").key_in == "header"
