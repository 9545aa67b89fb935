"""Operator configuration: one TOML file, validated strictly before anything runs.

Found from `--config FILE`, else `$TRIAGEBOT_CONFIG`, else `./triagebot.toml`, else built-in
defaults. Relative paths in a file are relative to that file, so a service can be started from
any directory. Every error names file, line and key, like the registry's.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationInfo,
    WithJsonSchema,
    create_model,
)

from triagebot.files.problems import ProblemError, Say, Table, TomlFile, describe, invalid

DEFAULT_FILE = "triagebot.toml"
ENV_VAR = "TRIAGEBOT_CONFIG"


ConfigError = ProblemError  # a bad configuration; `problems` are each at FILE:LINE: key


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
    poll_history_days: float = 30.0  # polls older than this are forgotten
    # [poll]
    interval_minutes: float = 5.0
    start: datetime | None = None
    overlap_minutes: float = 10.0
    # [run]
    dry_run: bool = True
    max_actions_per_run: int = 50
    max_attempts: int = 5  # the same permanent error this many times: the bug is given up
    # [http]: run's listener (health, metrics, push); off unless set
    http_listen: str | None = None
    # [push]: POST /hooks/bugzilla; on when `header` is set
    push_header: str | None = None
    push_secret_env: str | None = None
    push_secret_file: Path | None = None

    @property
    def listen_address(self) -> tuple[str, int] | None:
        return None if self.http_listen is None else parse_listen(self.http_listen)

    def push_secret(self) -> str | None:
        """The value BMO's webhook sends in `push_header`: from `$secret_env`, else systemd's
        credential `push-secret`, else `secret_file` (owner-only). Never logged or printed."""
        if self.push_secret_env:
            value = os.environ.get(self.push_secret_env, "").strip()
            if value:
                return value
        path = systemd_credential(PUSH_CREDENTIAL) or self.push_secret_file
        return None if path is None else read_secret_file(path, "push secret")

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
        from triagebot.core.markup import use_markdown

        return use_markdown(self.markdown, self.bugzilla_url)

    def api_key_path(self) -> Path | None:
        """The file the key is read from when the environment has none: systemd's credential
        (`LoadCredential=bugzilla-api-key:...`, README: Run it as a service), else
        `api_key_file`."""
        return systemd_credential(API_KEY_CREDENTIAL) or self.api_key_file

    def api_key(self) -> str | None:
        """The key from the environment, else from its file. Never logged or printed."""
        value = os.environ.get(self.api_key_env, "").strip()
        if value:
            return value
        path = self.api_key_path()
        return None if path is None else read_secret_file(path, "API key")


def read_secret_file(path: Path, what: str) -> str | None:
    """A secret from a file only its owner may read; a file others can read is refused."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the {what} file: {exc.strerror}"]) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            [
                f"{path}: the {what} file is readable by other users "
                f"(mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}"
            ]
        )
    return path.read_text(encoding="utf-8").strip() or None


def parse_listen(value: str) -> tuple[str, int]:
    """`host:port` (an IPv6 host in brackets: `[::1]:9464`); port 0 picks a free one."""
    host, sep, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected host:port like 127.0.0.1:9464, got {value!r}")
    return host, int(port)


# The names of the systemd credentials (LoadCredential=NAME:SOURCE in the unit).
API_KEY_CREDENTIAL = "bugzilla-api-key"
PUSH_CREDENTIAL = "push-secret"


def systemd_credential(name: str) -> Path | None:
    """`$CREDENTIALS_DIRECTORY/NAME`, where systemd puts the unit's `LoadCredential=` files
    (readable by the service's user only), when the service has that credential."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY", "")
    if not directory:
        return None
    path = Path(directory) / name
    return path if path.is_file() else None


# key -> (Config attribute, kind). Kinds are the types in KINDS.
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
    "database": {
        "url": ("database_url", "str"),
        "poll_history_days": ("poll_history_days", "positive"),
    },
    "poll": {
        "interval_minutes": ("interval_minutes", "positive"),
        "start": ("start", "datetime"),
        "overlap_minutes": ("overlap_minutes", "overlap"),
    },
    "run": {
        "dry_run": ("dry_run", "bool"),
        "max_actions_per_run": ("max_actions_per_run", "positive_int"),
        "max_attempts": ("max_attempts", "positive_int"),
    },
    "http": {"listen": ("http_listen", "listen")},
    "push": {
        "header": ("push_header", "header"),
        "secret_env": ("push_secret_env", "str"),
        "secret_file": ("push_secret_file", "path"),
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
    file = TomlFile(str(path), source)
    data = file.parse()
    base = path.resolve().parent
    checked = None if data is None else file.validate(ConfigFile, data, {"base": base})
    if checked is None:
        raise ConfigError(file.problems())
    values = {
        attr: getattr(getattr(checked, section), key)
        for section, keys in SCHEMA.items()
        for key, (attr, _) in keys.items()
        if key in getattr(checked, section).model_fields_set
    }
    config = replace(Config(path=path, base_dir=base), **values)
    return replace(config, database_url=_resolve_sqlite(config.database_url, base))


# -- the file's format, declared from SCHEMA ---------------------------------------------------
def _http_url(value: str) -> str:
    if urlsplit(value).scheme not in ("http", "https"):
        raise invalid(f"expected an http(s) URL, got {describe(value)}")
    return value.rstrip("/")


def _resolve(value: str, info: ValidationInfo) -> Path:
    return ((info.context or {}).get("base", Path.cwd()) / value).resolve()


def _listen(value: str) -> str:
    try:
        parse_listen(value)
    except ValueError as exc:
        raise invalid(str(exc)) from None
    return value


def _markdown(value: Any) -> str | bool:
    if value != "auto" and not isinstance(value, bool):
        raise invalid(f'expected "auto", true or false, got {describe(value)}')
    return value


def _to_datetime(value: Any) -> datetime:
    """TOML datetimes and dates, or ISO strings; naive times are taken as UTC."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):  # a TOML date
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise invalid(f"expected an ISO time like 2026-11-01T00:00:00Z, got {describe(value)}")


KINDS: dict[str, Any] = {
    "str": Annotated[str, Field(pattern=r"\S"), Say("a non-empty string")],
    "url": Annotated[str, AfterValidator(_http_url), Say("an http(s) URL")],
    "key_in": Literal["auto", "header", "query"],
    "listen": Annotated[str, AfterValidator(_listen), Say("host:port, like 127.0.0.1:9464")],
    # an HTTP header name (RFC 9110 token)
    "header": Annotated[
        str, Field(pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"), Say("an HTTP header name")
    ],
    "path": Annotated[str, Field(min_length=1), AfterValidator(_resolve), Say("a path string")],
    "bool": bool,
    "markdown": Annotated[
        Any, AfterValidator(_markdown), WithJsonSchema({"enum": ["auto", True, False]})
    ],
    "positive": Annotated[float, Field(gt=0), Say("a number above 0")],
    "non_negative": Annotated[float, Field(ge=0), Say("a number, 0 or more")],
    # a search's whole seconds and a late commit need a margin
    "overlap": Annotated[float, Field(ge=1), Say("a number of minutes of at least 1")],
    "positive_int": Annotated[int, Field(gt=0), Say("a whole number above 0")],
    # 0 lifts the request budget (a local server)
    "rate": Annotated[
        int, Field(ge=0), AfterValidator(lambda n: n or None), Say("a whole number, 0 for none")
    ],
    "datetime": Annotated[
        datetime | date | str,
        WithJsonSchema({"type": "string", "format": "date-time"}),
        BeforeValidator(_to_datetime),
    ],
}


class _File(Table):
    extra_name: ClassVar[str] = "section"


def _section(name: str, keys: dict[str, tuple[str, str]]) -> type[Table]:
    fields: dict[str, Any] = {key: (KINDS[kind] | None, None) for key, (_, kind) in keys.items()}
    return create_model(f"{name.title()}Section", __base__=Table, **fields)


ConfigFile = create_model(
    "ConfigFile",
    __base__=_File,
    **{
        name: (section, Field(default_factory=section))  # type: ignore[call-overload]
        for name, section in ((name, _section(name, keys)) for name, keys in SCHEMA.items())
    },
)


def _resolve_sqlite(url: str, base: Path) -> str:
    """`sqlite:///relative.db` is relative to the config file, like every other path."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str((base / url[len(prefix) :]).resolve())
    return url
