"""Find the line a value came from in a TOML document.

The parser (rtoml) returns plain dicts without positions, yet a maintainer needs `file:line`
to fix a hand-edited file. Rather than parse every file a second time with a parser that
keeps positions (tomlkit takes seconds on a large registry), this locator re-reads the text
only when a problem is reported: one fast regex pass finds the table headers
(skipping strings and comments), then a small tolerant scanner reads just the one table that
holds the value. It assumes the text already parsed; on anything odd it falls back to the
nearest enclosing header instead of failing.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

PathKey = tuple[str | int, ...]

_STRING = (  # a multi-line string's content may end with up to two of its quotes
    r'"""(?:[^"\\]|\\[\s\S]|"(?!""))*""""{0,2}'  # multi-line basic string
    r"|'''[\s\S]*?''''{0,2}"  # multi-line literal string
    r'|"(?:[^"\\\n]|\\.)*"'  # basic string
    r"|'[^'\n]*'"  # literal string
)
# Tokens that can hide a '[' at the start of a line, plus the header candidates themselves.
_TOKENS = re.compile(_STRING + r"|\#[^\n]*|(?m:^)[ \t]*(?P<header>\[\[?)")
_VALUE = re.compile(_STRING + r"""|[^,\]}\n#"']+""")  # a string, else a number, bool or date
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_BASIC_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_LITERAL_STRING = re.compile(r"'[^'\n]*'")
_BLANKS = re.compile(r"[ \t\r]*")
_BLANKS_AND_COMMENTS = re.compile(r"(?:[ \t\r\n]+|#[^\n]*)*")
_ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))")
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", "e": "\x1b"}  # and \" \\ as is


class _Confused(Exception):
    """The text is not what the scanner expected; the caller falls back."""


def _skip_space(src: str, pos: int, end: int, newlines: bool) -> int:
    """Skip blanks, and also newlines and comments when `newlines` (inside arrays)."""
    pattern = _BLANKS_AND_COMMENTS if newlines else _BLANKS
    return pattern.match(src, pos, end).end()  # type: ignore[union-attr]  # always matches


def _basic_string(src: str, pos: int, end: int) -> tuple[str, int]:
    """Decode a one-line "basic" string starting at its opening quote."""
    match = _BASIC_STRING.match(src, pos, end)
    if match is None:
        raise _Confused
    body = match.group()[1:-1]
    if "\\" in body:
        try:
            body = _ESCAPE.sub(_unescape, body)
        except ValueError as exc:  # not a Unicode scalar value
            raise _Confused from exc
    return body, match.end()


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1) or match.group(2)
    if code:
        return chr(int(code, 16))
    return _ESCAPES.get(match.group(3), match.group(3))


def _key(src: str, pos: int, end: int) -> tuple[tuple[str, ...], int]:
    """Read a (dotted) key such as `a."b.c".d`; return its parts and the position after it."""
    parts: list[str] = []
    while True:
        pos = _skip_space(src, pos, end, newlines=False)
        if pos >= end:
            raise _Confused
        ch = src[pos]
        if ch == '"':
            part, pos = _basic_string(src, pos, end)
        else:
            literal = ch == "'"
            match = (_LITERAL_STRING if literal else _BARE_KEY).match(src, pos, end)
            if match is None:
                raise _Confused
            part, pos = match.group()[1:-1] if literal else match.group(), match.end()
        parts.append(part)
        pos = _skip_space(src, pos, end, newlines=False)
        if pos < end and src[pos] == ".":
            pos += 1
            continue
        return tuple(parts), pos


class _RegionScanner:
    """Record where each key, array element and inline-table key of one table starts."""

    def __init__(self, src: str, start: int, end: int) -> None:
        self.src = src
        self.end = end
        self.pos = start
        self.found: dict[PathKey, int] = {}

    def scan(self) -> dict[PathKey, int]:
        src, end = self.src, self.end
        try:
            while True:
                self.pos = _skip_space(src, self.pos, end, newlines=True)
                if self.pos >= end:
                    break
                self._key_value(())
        except (_Confused, IndexError, ValueError):
            pass  # keep what was found so far: the caller falls back for the rest
        return self.found

    def _key_value(self, base: PathKey) -> None:
        start = self.pos
        keys, self.pos = _key(self.src, self.pos, self.end)
        if self.pos >= self.end or self.src[self.pos] != "=":
            raise _Confused
        path = base + keys
        for i in range(len(base) + 1, len(path) + 1):
            self.found.setdefault(path[:i], start)
        self.pos = _skip_space(self.src, self.pos + 1, self.end, newlines=False)
        self._value(path)

    def _value(self, path: PathKey) -> None:
        if self.pos >= self.end:
            raise _Confused
        ch = self.src[self.pos]
        if ch in "[{":
            self._container(path, "]" if ch == "[" else "}")
        else:
            match = _VALUE.match(self.src, self.pos, self.end)
            if match is None:
                raise _Confused
            self.pos = match.end()

    def _container(self, path: PathKey, closer: str) -> None:
        """An array (`closer` is "]") or an inline table ("}")."""
        self.pos += 1
        index = 0
        while True:
            self.pos = _skip_space(self.src, self.pos, self.end, newlines=True)
            if self.pos >= self.end:
                raise _Confused
            ch = self.src[self.pos]
            if ch in (closer, ","):
                self.pos += 1
                if ch == closer:
                    return
                index += 1
            elif closer == "}":
                self._key_value(path)
            else:
                self.found.setdefault((*path, index), self.pos)
                self._value((*path, index))


@dataclass(slots=True)
class _Header:
    line_offset: int
    body: int  # where its keys start
    end: int = -1


class Locator:
    """Answers "which line holds this value?" for one TOML text; a table's keys are scanned
    when a path in it is first asked for."""

    def __init__(self, source: str) -> None:
        self._src = source
        self._line_starts = [m.end() for m in re.finditer("\n", source)]
        self._headers: dict[PathKey, _Header] = {}
        self._first_below: dict[PathKey, _Header] = {}  # ("a",) -> the header of [[a]] #0
        self._regions: dict[PathKey, dict[PathKey, int]] = {}
        self._index()

    def line(self, path: Sequence[str | int]) -> int:
        """The 1-based line of `path`, or of the nearest enclosing key or table we can find."""
        return bisect.bisect_right(self._line_starts, self._offset(tuple(path))) + 1

    def _offset(self, path: PathKey) -> int:
        for cut in range(len(path), -1, -1):
            header = self._headers.get(path[:cut])
            if header is not None:
                break
        else:  # pragma: no cover - the root region is always indexed
            return 0
        if cut == len(path):
            return header.line_offset
        found = self._region(path[:cut], header)
        rest = path[cut:]
        for size in range(len(rest), 0, -1):
            offset = found.get(rest[:size])
            if offset is not None:
                return offset
        # e.g. ("delegates",) -> the first [[delegates]]; ("outcomes", "x") -> [outcomes.a]
        for size in range(len(path), cut, -1):
            below = self._first_below.get(path[:size])
            if below is not None:
                return below.line_offset
        return header.line_offset

    def _region(self, key: PathKey, header: _Header) -> dict[PathKey, int]:
        if key not in self._regions:
            self._regions[key] = _RegionScanner(self._src, header.body, header.end).scan()
        return self._regions[key]

    def _index(self) -> None:
        """Every table header by its path, array-of-tables indexes included: [[a]] [[a]] gives
        ("a", 0) and ("a", 1)."""
        src = self._src
        previous = self._headers[()] = _Header(0, 0)
        counts: dict[PathKey, int] = {}
        for match in _TOKENS.finditer(src):
            opener = match.group("header")
            if opener is None:
                continue
            parsed = _parse_header(src, match.end(), len(opener) == 2)
            if parsed is None:
                continue
            keys, body = parsed
            previous.end = match.start()
            path = _indexed_path(keys, len(opener) == 2, counts)
            previous = _Header(match.start("header"), body)
            self._headers.setdefault(path, previous)
            for size in range(1, len(path)):
                self._first_below.setdefault(path[:size], previous)
        previous.end = len(src)


def _parse_header(src: str, pos: int, is_array: bool) -> tuple[tuple[str, ...], int] | None:
    """The keys of a `[a.b]` / `[[a.b]]` header and where its body starts, or None."""
    eol = src.find("\n", pos)
    eol = len(src) if eol < 0 else eol
    try:
        keys, pos = _key(src, pos, eol)
    except (_Confused, IndexError, ValueError):
        return None
    closer = "]]" if is_array else "]"
    if not src.startswith(closer, pos):
        return None
    rest = src[pos + len(closer) : eol].strip()
    if rest and not rest.startswith("#"):
        return None
    return keys, eol


def _indexed_path(keys: tuple[str, ...], is_array: bool, counts: dict[PathKey, int]) -> PathKey:
    """Insert the current element index after every array-of-tables prefix."""
    path: list[str | int] = []
    for position, key in enumerate(keys):
        path.append(key)
        prefix = tuple(path)
        if is_array and position == len(keys) - 1:
            index = counts.get(prefix, 0)
            counts[prefix] = index + 1
            path.append(index)
        elif prefix in counts:
            path.append(counts[prefix] - 1)
    return tuple(path)


def header_keys(line: str) -> tuple[str, ...] | None:
    """The keys of a `[a.b]` table header line, or None for any other line."""
    start = len(line) - len(line.lstrip(" \t"))
    if not line.startswith("[", start) or line.startswith("[[", start):
        return None
    parsed = _parse_header(line, start + 1, is_array=False)
    return parsed[0] if parsed else None
