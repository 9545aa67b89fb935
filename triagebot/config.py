"""Operator configuration: one TOML file, validated strictly before anything runs.

Found from `--config FILE`, else `$TRIAGEBOT_CONFIG`, else `./triagebot.toml`, else built-in
defaults. Relative paths in a file are relative to that file, so a service can be started from
any directory. Every error names file, line and key, like the registry's.
"""

from __future__ import annotations

import difflib
import os
import stat
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from triagebot.problems import TomlFile

DEFAULT_FILE = "triagebot.toml"
ENV_VAR = "TRIAGEBOT_CONFIG"


class ConfigError(Exception):
    """Bad configuration; `problems` are `FILE:LINE: key: message` strings."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Config:
    path: Path | None = None
    base_dir: Path = field(default_factory=Path.cwd)
    # [bugzilla]
    bugzilla_url: str = "https://bugzilla.mozilla.org"
    api_key_env: str = "TRIAGEBOT_API_KEY"
    api_key_file: Path | None = None
    api_key_in: str = "auto"  # auto | header | query
    bot_login: str | None = None
    timeout_seconds: float = 30.0
    requests_per_minute: int | None = 60
    page_size: int = 500
    markdown: str | bool = "auto"  # auto | true | false: see markup.py
    # [registry] / [rules] / [database]
    registry_path: Path = Path("data")
    rules_path: Path = Path("rules")
    database_url: str = "sqlite:///triagebot.db"
    # [poll]
    interval_minutes: float = 5.0
    start: datetime | None = None
    overlap_minutes: float = 10.0
    # [run]
    dry_run: bool = True
    max_actions_per_run: int = 50

    @property
    def key_in(self) -> str:
        """Where the API key travels. bugzilla.mozilla.org wants the header; upstream 5.0/5.2
        ignore it and need the query parameter."""
        if self.api_key_in != "auto":
            return self.api_key_in
        host = urlsplit(self.bugzilla_url).hostname or ""
        return "header" if host.endswith("bugzilla.mozilla.org") else "query"

    @property
    def markdown_comments(self) -> bool:
        """Comments are sent as Markdown (`is_markdown: true`), or as plain text."""
        from triagebot.markup import use_markdown

        return use_markdown(self.markdown, self.bugzilla_url)

    def api_key(self) -> str | None:
        """The key from the environment, else from `api_key_file`. Never logged or printed."""
        value = os.environ.get(self.api_key_env, "").strip()
        if value:
            return value
        if self.api_key_file is None:
            return None
        try:
            mode = self.api_key_file.stat().st_mode
        except OSError as exc:
            raise ConfigError(
                [f"{self.api_key_file}: cannot read the API key file: {exc.strerror}"]
            ) from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                [
                    f"{self.api_key_file}: the API key file is readable by other users "
                    f"(mode {stat.S_IMODE(mode):o}); run: chmod 600 {self.api_key_file}"
                ]
            )
        return self.api_key_file.read_text(encoding="utf-8").strip() or None


# key -> (Config attribute, kind). Kinds are checked by `_convert`.
SCHEMA: dict[str, dict[str, tuple[str, str]]] = {
    "bugzilla": {
        "url": ("bugzilla_url", "url"),
        "api_key_env": ("api_key_env", "str"),
        "api_key_file": ("api_key_file", "path"),
        "api_key_in": ("api_key_in", "key_in"),
        "bot_login": ("bot_login", "str"),
        "timeout_seconds": ("timeout_seconds", "positive"),
        "requests_per_minute": ("requests_per_minute", "rate"),
        "page_size": ("page_size", "positive_int"),
        "markdown": ("markdown", "markdown"),
    },
    "registry": {"path": ("registry_path", "path")},
    "rules": {"path": ("rules_path", "path")},
    "database": {"url": ("database_url", "str")},
    "poll": {
        "interval_minutes": ("interval_minutes", "positive"),
        "start": ("start", "datetime"),
        "overlap_minutes": ("overlap_minutes", "non_negative"),
    },
    "run": {
        "dry_run": ("dry_run", "bool"),
        "max_actions_per_run": ("max_actions_per_run", "positive_int"),
    },
}


def find_config_file(explicit: str | Path | None) -> Path | None:
    """`--config`, else $TRIAGEBOT_CONFIG, else ./triagebot.toml if present, else None."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    local = Path(DEFAULT_FILE)
    return local if local.is_file() else None


def load_config(explicit: str | Path | None = None) -> Config:
    path = find_config_file(explicit)
    if path is None:
        return Config()
    try:
        source = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such configuration file"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}:1: not UTF-8 (byte {exc.start})"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    return parse_config(source, path)


def parse_config(source: str, path: Path) -> Config:
    parsed = TomlFile(str(path), source)
    data = parsed.parse()
    if data is None:
        raise ConfigError([str(p) for p in parsed.problems()])
    base = path.resolve().parent
    problems: list[str] = []
    values: dict[str, Any] = {}

    def problem(keys: tuple[str, ...], message: str) -> None:
        line = parsed.line(keys)
        problems.append(f"{path}:{line}: {'.'.join(keys)}: {message}")

    for section, table in data.items():
        if section not in SCHEMA:
            problem((section,), f"unknown section{_did_you_mean(section, SCHEMA)}")
            continue
        if not isinstance(table, dict):
            problem((section,), "expected a table like [" + section + "]")
            continue
        for key, value in table.items():
            spec = SCHEMA[section].get(key)
            if spec is None:
                problem((section, key), f"unknown key{_did_you_mean(key, SCHEMA[section])}")
                continue
            attr, kind = spec
            try:
                values[attr] = _convert(kind, value, base)
            except ValueError as exc:
                problem((section, key), str(exc))
    if problems:
        raise ConfigError(problems)
    config = replace(Config(path=path, base_dir=base), **values)
    return replace(config, database_url=_resolve_sqlite(config.database_url, base))


def _convert(kind: str, value: Any, base: Path) -> Any:
    if kind in ("str", "url", "key_in"):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"expected a non-empty string, got {_show(value)}")
        if kind == "url":
            if urlsplit(value).scheme not in ("http", "https"):
                raise ValueError(f"expected an http(s) URL, got {value!r}")
            return value.rstrip("/")
        if kind == "key_in" and value not in ("auto", "header", "query"):
            raise ValueError(f"expected one of 'auto', 'header', 'query', got {value!r}")
        return value
    if kind == "path":
        if not isinstance(value, str) or not value:
            raise ValueError(f"expected a path string, got {_show(value)}")
        return (base / value).resolve()
    if kind == "markdown":
        if value != "auto" and not isinstance(value, bool):
            raise ValueError(f'expected "auto", true or false, got {_show(value)}')
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {_show(value)}")
        return value
    if kind in ("positive", "non_negative", "positive_int", "rate"):
        if kind == "rate" and value == 0:
            return None  # 0 lifts the request budget (a local server)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expected a number, got {_show(value)}")
        if kind in ("positive_int", "rate") and not isinstance(value, int):
            raise ValueError(f"expected a whole number, got {value!r}")
        if value < 0 or (value == 0 and kind != "non_negative"):
            raise ValueError(f"expected a number above 0, got {value!r}")
        return value
    if kind == "datetime":
        return _to_datetime(value)
    raise AssertionError(kind)


def _to_datetime(value: Any) -> datetime:
    """TOML datetimes and dates, or ISO strings; naive times are taken as UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"expected an ISO time like 2026-11-01T00:00:00Z, got {value!r}"
            ) from None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if hasattr(value, "year") and not isinstance(value, datetime):  # a TOML date
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise ValueError(f"expected an ISO time like 2026-11-01T00:00:00Z, got {_show(value)}")


def _resolve_sqlite(url: str, base: Path) -> str:
    """`sqlite:///relative.db` is relative to the config file, like every other path."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str((base / url[len(prefix) :]).resolve())
    return url


def _did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _show(value: Any) -> str:
    kind = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array"}
    return f"{kind.get(type(value), type(value).__name__)} {value!r}"
