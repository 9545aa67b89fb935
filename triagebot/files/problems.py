"""Problems in hand-edited TOML files, each at `FILE:LINE: field.path: message`.

The formats themselves are declared once, as pydantic models (`triagebot.core.registry` for the
registry, `config.py` and `rules.py` for theirs). This module turns what pydantic and the
TOML parser say into the lines a maintainer fixes a file from: one `Problem` type, one error
carrying them, one did-you-mean, one way to describe a value and a field path, and the line
of each problem found by one locator (`triagebot.files.tomlpos`), only for problems reported.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union

import rtoml
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.dataclasses import is_pydantic_dataclass
from pydantic.json_schema import GenerateJsonSchema, SkipJsonSchema

from triagebot.core.says import INVALID, Say, did_you_mean
from triagebot.files.tomlpos import Locator, header_keys

Key = str | int
FieldPath = tuple[Key, ...]
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_RTOML_POSITION = re.compile(r"\s*at line (\d+) column (\d+)$")


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a file, placed where the maintainer must look. A problem with no
    file (a server's answer, say) is just its message."""

    file: str
    line: int
    field: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        if not self.file:
            return self.message
        where = f"{self.field}: " if self.field else ""
        at = f"{self.file}:{self.line}" if self.line else self.file  # line 0: a directory
        return f"{at}: {where}{self.message}"


class ProblemError(Exception):
    """Files with errors; `problems` lists every one, and str() shows one per line."""

    def __init__(self, problems: Iterable[Problem | str]) -> None:
        self.problems = [p if isinstance(p, Problem) else Problem("", 0, "", p) for p in problems]
        super().__init__("\n".join(str(p) for p in self.problems))


_SCALARS = (  # in this order: a bool is an int, a datetime a date
    (bool, "boolean"),
    (int, "integer"),
    (float, "float"),
    (datetime, "date-time"),
    (date, "date"),
    (time, "time"),
)


def describe(value: object) -> str:
    """A value as the maintainer wrote it, in TOML terms: `string '2024-13-01'`, `a table`."""
    if isinstance(value, str):
        return f"string {value if len(value) <= 40 else value[:37] + '...'!r}"
    if isinstance(value, list | dict):
        return "an array" if isinstance(value, list) else "a table"
    for kind, name in _SCALARS:
        if isinstance(value, kind):
            text = value.isoformat() if isinstance(value, date | time) else str(value).lower()
            return f"{name} {text}"
    return type(value).__name__  # pragma: no cover - TOML has no other types


def format_path(path: Sequence[Key]) -> str:
    """("delegates", 1, "since") -> "delegates[1].since"; odd keys are quoted."""
    out: list[str] = []
    for key in path:
        if isinstance(key, int):
            out.append(f"[{key}]")
            continue
        if not _BARE_KEY.fullmatch(key):
            escaped = key.replace("\\", "\\\\").replace('"', '\\"')
            key = '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped) + '"'
        out.append(f".{key}" if out else key)
    return "".join(out)


# -- declaring messages on a model ------------------------------------------------------------
class Table(BaseModel):
    """A TOML table: strict types (TOML has them), no unknown key. `extra_name` says what an
    unknown key is (a "section" at the top of a config)."""

    model_config = {"extra": "forbid", "strict": True, "frozen": True}
    extra_name: ClassVar[str] = "key"


def _unwrap(tp: Any, says: list[Say]) -> Any:
    while True:
        if typing.get_origin(tp) is Annotated:
            says.extend(m for m in tp.__metadata__ if isinstance(m, Say))
            tp = tp.__origin__
        elif typing.get_origin(tp) in (Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _spot(root: Any, loc: Sequence[Key]) -> tuple[Any, list[Say]]:
    """The type declared at a pydantic error location, and what it says there."""
    tp, says = root, []
    for position, key in enumerate(loc):
        if key == "[key]":
            continue  # taken with the key before it
        tp, says = _unwrap(tp, []), []
        if _is_table(tp):
            if str(key) not in (fields := _fields(tp)):
                return None, []
            tp, says = fields[str(key)]
        elif typing.get_origin(tp) in (list, tuple):
            tp = typing.get_args(tp)[0]
        elif typing.get_origin(tp) is dict:
            is_key = loc[position + 1 : position + 2] == ("[key]",)
            tp = typing.get_args(tp)[0 if is_key else 1]
        else:
            return None, []
    return _unwrap(tp, says), says


def _is_table(tp: Any) -> bool:
    """A pydantic model or dataclass (the registry's types): a TOML table."""
    return isinstance(tp, type) and (issubclass(tp, BaseModel) or is_pydantic_dataclass(tp))


def _fields(table: type) -> dict[str, tuple[Any, list[Say]]]:
    """A table's keys as written in the file (a field's alias, if any), each with its declared
    type and words. A dataclass field left out of the JSON Schema (a handle, a slug) is not a
    key of the file."""
    if issubclass(table, BaseModel):
        return {
            info.alias or name: (info.annotation, [m for m in info.metadata if isinstance(m, Say)])
            for name, info in table.model_fields.items()
        }
    hints = typing.get_type_hints(table, include_extras=True)
    return {
        f.name: (hints[f.name], [])
        for f in dataclasses.fields(table)
        if not any(
            isinstance(m, SkipJsonSchema) for m in getattr(hints[f.name], "__metadata__", ())
        )
    }


def _noun(tp: Any, says: list[Say]) -> str:
    for say in says:
        if say.noun:
            return say.noun
    if typing.get_origin(tp) is Literal:
        return "one of " + ", ".join(f"'{choice}'" for choice in typing.get_args(tp))
    if _is_table(tp):
        return "a table"
    if typing.get_origin(tp) in (list, tuple):
        item = _noun(_unwrap(typing.get_args(tp)[0], []), [])
        return "an array of " + {"a string": "strings", "a table": "tables"}.get(item, "values")
    nouns = {str: "a string", bool: "true or false", int: "a whole number", float: "a number"}
    nouns.update({date: "a date like 2024-01-31", datetime: "a date-time"})
    return nouns.get(tp, "a value")


def error_message(root: Any, error: Any) -> tuple[FieldPath, str]:
    """The field path and message of one pydantic error, in the words of the declaration."""
    loc = tuple(error["loc"])
    kind = error["type"]
    tp, says = _spot(root, loc)
    path = tuple(k for k in loc if k != "[key]")
    value = error.get("input")
    for say in says:
        if kind in say.messages:
            got = describe(value)
            return path, say.messages[kind].format(value=value, got=got, key=path[-1])
    if kind == "missing":
        return path, "required key is missing"
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):  # a model, a dataclass
        parent = _spot(root, loc[:-1])[0]
        allowed = list(_fields(parent)) if isinstance(parent, type) else []
        unknown = getattr(parent, "extra_name", "key")
        hint = did_you_mean(str(loc[-1]), allowed)
        return path, f"unknown {unknown}" + (hint or "; expected " + ", ".join(allowed))
    if kind == INVALID:
        return path, error["msg"]  # a validator's own words (see `invalid`)
    noun = _noun(tp, says).replace("{key}", str(path[-1]) if path else "")
    message = f"expected {noun}, got {describe(value)}"
    if kind == "literal_error":
        message += did_you_mean(value, typing.get_args(tp))
    return path, message


# -- one file: parse, validate, locate ----------------------------------------------------------
class TomlFile:
    """One TOML file being checked: its shown name, text and problems. The line of a problem
    is looked up only when the report is made (a valid file pays nothing)."""

    def __init__(self, name: str, text: str = "") -> None:
        self.name = name
        self.text = text
        self.opened = False  # its bytes were read (`read`)
        self._pending: list[tuple[FieldPath, str, str, int | None]] = []  # as `problem` takes
        self._locator: Locator | None = None

    def error(self, path: FieldPath, message: str, line: int | None = None) -> None:
        self._pending.append((path, message, "error", line))

    def warn(self, path: FieldPath, message: str, line: int | None = None) -> None:
        self._pending.append((path, message, "warning", line))

    def line(self, path: FieldPath) -> int:
        try:
            self._locator = self._locator or Locator(self.text)
            return self._locator.line(path)
        except Exception:  # a best-effort position must never hide the problem itself
            return 1

    def problem(
        self, path: FieldPath, message: str, severity: str = "error", line: int | None = None
    ) -> Problem:
        """The problem at `path`, on the line of `path` unless `line` is given."""
        line = self.line(path) if line is None else line
        return Problem(self.name, line, format_path(path), message, severity)

    def problems(self) -> list[Problem]:
        """In line order; on one line, unknown keys first (often the cause of the rest)."""
        found = [self.problem(*pending) for pending in self._pending]
        return sorted(found, key=lambda p: (p.line, not p.message.startswith("unknown ")))

    def read(self) -> dict[str, Any] | None:
        """Read, decode and parse the file; None after reporting why there is no document."""
        try:
            data = Path(self.name).read_bytes()
        except FileNotFoundError:
            self.error((), "file not found", line=1)
            return None
        except OSError as exc:
            self.error((), f"cannot read: {exc.strerror or exc}", line=1)
            return None
        self.opened = True
        try:
            self.text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            message = f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at column {column})"
            self.error((), message + "; save as UTF-8", line=line)
            return None
        return self.parse()

    def parse(self) -> dict[str, Any] | None:
        try:
            return rtoml.loads(self.text)
        except rtoml.TomlParsingError as exc:
            self._syntax_error(str(exc))
            return None

    def _syntax_error(self, text: str) -> None:
        match = _RTOML_POSITION.search(text)
        if match is None:
            self.error((), f"invalid TOML: {text}", line=1)
            return
        line, column = int(match.group(1)), int(match.group(2))
        message = text[: match.start()]
        lines = self.text.splitlines()
        keys = header_keys(lines[line - 1]) if message == "duplicate key" and lines else None
        first = self.line(keys) if keys else line
        if keys and first < line:
            shown = "[" + format_path(keys) + "]"
            self.error(keys, f"table {shown} is defined twice (again at line {line})", first)
            self.error(keys, f"table {shown} is defined twice (first at line {first})", line)
            return
        self.error((), f"invalid TOML: {message} (column {column})", line=line)

    def validate(self, tp: Any, data: Any, context: dict[str, Any] | None = None) -> Any:
        """`data` validated as the declared type `tp`, or None after recording each of
        pydantic's errors as a problem."""
        try:
            return _adapter(tp).validate_python(data, context=context)
        except ValidationError as exc:
            for error in exc.errors():
                self.error(*error_message(tp, error))
            return None


@functools.cache
def _adapter(tp: Any) -> TypeAdapter[Any]:
    return TypeAdapter(tp)


# -- JSON Schema -----------------------------------------------------------------------------------
class TomlJsonSchema(GenerateJsonSchema):
    """JSON Schema for TOML: TOML has no null, so `X | None = None` is just an optional X."""

    def nullable_schema(self, schema: Any) -> Any:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: Any) -> Any:
        inner = super().default_schema(schema)
        if inner.get("default", 0) is None:
            inner.pop("default")
        return inner
