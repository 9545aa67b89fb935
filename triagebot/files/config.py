"""Operator configuration: one TOML file, validated strictly before anything runs.

Relative paths in a file are relative to that file, so a service can be started from any
directory. Every error names file, line and key, like the registry's.

The format is declared once, here: one `Table` class per `[section]`, each field with its type
and its default. The same classes validate the file, are what the program reads
(`config.poll.interval_minutes`), and give the JSON Schema editors check `triagebot.toml`
with. A new key is one line here, one in `config.example.toml` set to its default
(tests/test_config.py compares them) and a regenerated schema: `triagebot registry schema
--out data/schema` (tests/test_schema.py checks it is current).
"""

from __future__ import annotations

import contextlib
import os
import stat
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, get_args
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PrivateAttr,
    ValidationInfo,
    WithJsonSchema,
)

from triagebot.core.markup import use_markdown
from triagebot.core.says import Say, invalid
from triagebot.files.problems import ProblemError, Table, TomlFile, describe

DEFAULT_FILE = "triagebot.toml"
ENV_VAR = "TRIAGEBOT_CONFIG"


ConfigError = ProblemError  # a bad configuration; `problems` are each at FILE:LINE: key


# -- the types of values, each with how an error describes it ----------------------------------
def _base(info: ValidationInfo) -> Path | None:
    """The directory of the file being read; None for a Config built in code (no file)."""
    return (info.context or {}).get("base")


def _http_url(value: str) -> str:
    if urlsplit(value).scheme not in ("http", "https"):
        raise invalid(f"expected an http(s) URL, got {describe(value)}")
    return value.rstrip("/")


def _path(value: Any, info: ValidationInfo) -> Path:
    if isinstance(value, Path):
        return value
    if not isinstance(value, str) or not value:
        raise invalid(f"expected a path string, got {describe(value)}")
    base = _base(info)
    return Path(value) if base is None else (base / value).resolve()


def _sqlite_relative(url: str, info: ValidationInfo) -> str:
    """`sqlite:///relative.db` is relative to the config file, like every other path."""
    prefix = "sqlite:///"
    base = _base(info)
    absolute = url.startswith(prefix + "/") or ":memory:" in url
    if base is None or not url.startswith(prefix) or absolute:
        return url
    return prefix + str((base / url[len(prefix) :]).resolve())


def _markdown(value: Any) -> str | bool:
    if value != "auto" and not isinstance(value, bool):
        raise invalid(f'expected "auto", true or false, got {describe(value)}')
    return value


def parse_listen(value: str) -> tuple[str, int]:
    """`host:port` (an IPv6 host in brackets: `[::1]:9464`); port 0 picks a free one."""
    host, sep, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise invalid(f"expected host:port like 127.0.0.1:9464, got {value!r}")
    return host, int(port)


def _listen(value: str) -> str:
    parse_listen(value)
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


Text = Annotated[str, Field(pattern=r"\S"), Say("a non-empty string")]
HttpUrl = Annotated[str, AfterValidator(_http_url), Say("an http(s) URL")]
FilePath = Annotated[
    Path, BeforeValidator(_path), WithJsonSchema({"type": "string", "minLength": 1})
]
Positive = Annotated[float, Field(gt=0), Say("a number above 0")]
PositiveInt = Annotated[int, Field(gt=0), Say("a whole number above 0")]
Time = Annotated[
    datetime,
    BeforeValidator(_to_datetime),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
Markdown = Annotated[
    str | bool, BeforeValidator(_markdown), WithJsonSchema({"enum": ["auto", True, False]})
]


# -- the sections ---------------------------------------------------------------------------------
class Bugzilla(Table):
    """[bugzilla]: the server, the bot's key and login, the request budget."""

    url: HttpUrl = "https://bugzilla.mozilla.org"
    api_key_env: Text = "TRIAGEBOT_API_KEY"
    api_key_file: FilePath | None = None
    api_key_in: Literal["auto", "header", "query"] = "auto"
    bot_login: Text | None = None
    timeout_seconds: Positive = 30.0
    # 0 lifts the request budget (a local server)
    requests_per_minute: Annotated[int, Field(ge=0), Say("a whole number, 0 for none")] = 60
    page_size: PositiveInt = 500
    markdown: Markdown = "auto"  # see triagebot.core.markup

    @property
    def key_in(self) -> str:
        """Where the API key travels. bugzilla.mozilla.org wants the header; upstream 5.0/5.2
        ignore it and need the query parameter."""
        if self.api_key_in != "auto":
            return self.api_key_in
        host = urlsplit(self.url).hostname or ""
        return "header" if host.endswith("bugzilla.mozilla.org") else "query"

    @property
    def request_budget(self) -> int | None:
        """Requests per minute, None for no budget (written as 0)."""
        return self.requests_per_minute or None

    @property
    def markdown_comments(self) -> bool:
        """Comments are sent as Markdown (`is_markdown: true`), or as plain text."""
        return use_markdown(self.markdown, self.url)

    def api_key_path(self) -> Path | None:
        """Where the key is read when the environment has none: systemd's credential
        (README: Run it as a service), else `api_key_file`."""
        return systemd_credential("bugzilla-api-key") or self.api_key_file

    def api_key(self) -> str | None:
        return read_secret(self.api_key_env, self.api_key_path(), "API key")


def read_secret(env: str | None, path: Path | None, what: str) -> str | None:
    """`$env`, else the file at `path`, which only its owner may read (a file others can read
    is refused). A secret is never logged or printed."""
    value = os.environ.get(env, "").strip() if env else ""
    if value or path is None:
        return value or None
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the {what} file: {exc.strerror}"]) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        chmod = f"(mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}"
        raise ConfigError([f"{path}: the {what} file is readable by other users {chmod}"])
    return path.read_text(encoding="utf-8").strip() or None


def systemd_credential(name: str) -> Path | None:
    """`$CREDENTIALS_DIRECTORY/NAME`, where systemd puts the unit's `LoadCredential=` files
    (readable by the service's user only), when the service has that credential."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY", "")
    path = Path(directory) / name
    return path if directory and path.is_file() else None


class Registry(Table):
    """[registry]: the directory of people.toml and communities/."""

    path: FilePath = Path("data")


class Rules(Table):
    """[rules]: the directory of rule files and their templates."""

    path: FilePath = Path("rules")


class Database(Table):
    """[database]: where the state is (any SQLAlchemy URL; a relative SQLite file is relative
    to the config), and how long the poll history is kept."""

    url: Annotated[Text, Field(validate_default=True), AfterValidator(_sqlite_relative)] = (
        "sqlite:///triagebot.db"
    )
    poll_history_days: Positive = 30.0  # polls older than this are forgotten


class Poll(Table):
    """[poll]: how often, and from when, the bot searches for changed bugs."""

    interval_minutes: Positive = 5.0
    start: Time | None = None
    # a search's whole seconds and a late commit need a margin
    overlap_minutes: Annotated[float, Field(ge=1), Say("a number of minutes of at least 1")] = 10.0


class Run(Table):
    """[run]: dry run or live, and the limits on what one poll may do."""

    dry_run: bool = True
    max_actions_per_run: PositiveInt = 50
    max_attempts: PositiveInt = 5  # the same permanent error this many times: given up


Listen = Annotated[str, AfterValidator(_listen), Say("host:port, like 127.0.0.1:9464")]
Header = Annotated[  # an HTTP header name (RFC 9110 token)
    str, Field(pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"), Say("an HTTP header name")
]


class Http(Table):
    """[http]: `run`'s listener (health, metrics, push); off unless `listen` is set."""

    listen: Listen | None = None

    @property
    def address(self) -> tuple[str, int] | None:
        return None if self.listen is None else parse_listen(self.listen)


class Push(Table):
    """[push]: POST /hooks/bugzilla; on when `header` is set."""

    header: Header | None = None
    secret_env: Text | None = None
    secret_file: FilePath | None = None

    def secret(self) -> str | None:
        """The value BMO's webhook sends in `header`: from `$secret_env`, else systemd's
        credential `push-secret`, else `secret_file`."""
        path = systemd_credential("push-secret") or self.secret_file
        return read_secret(self.secret_env, path, "push secret")


# How log lines are written: "json" is one JSON object per line, for a log collector.
LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[str, ...] = get_args(LogFormat)


class Log(Table):
    """[log]: the format of the log lines (`--log-format` overrides it)."""

    format: LogFormat = "text"


def section() -> Any:
    """A section's field on `Config`: a missing section is an empty one, validated with the
    file's context like a written one (so the SQLite default is relative to the file)."""
    return Field(default_factory=dict, validate_default=True)


class Config(Table):
    """The whole file: one field per section, every one optional. `path` is the file read
    (None: built-in defaults); it is not a key of the file."""

    extra_name: ClassVar[str] = "section"

    bugzilla: Bugzilla = section()
    registry: Registry = section()
    rules: Rules = section()
    database: Database = section()
    poll: Poll = section()
    run: Run = section()
    http: Http = section()
    push: Push = section()
    log: Log = section()

    _path: Path | None = PrivateAttr(default=None)  # set by load_config

    @property
    def path(self) -> Path | None:
        return self._path


def find_config_file(explicit: str | Path | None) -> Path | None:
    """`--config`, else $TRIAGEBOT_CONFIG, else ./triagebot.toml if present, else None."""
    explicit = explicit or os.environ.get(ENV_VAR)
    if explicit:
        return Path(explicit)
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
    file = TomlFile(str(path), source)
    data = file.parse()
    context = {"base": path.resolve().parent}
    config = None if data is None else file.validate(Config, data, context)
    if config is None:
        raise ConfigError(file.problems())
    config._path = path
    return config
