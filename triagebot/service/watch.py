"""Reload hand-edited files when they change, keeping the last good version when they break.

A maintainer's typo in `data/` must not stop a running bot: the error is logged with its
file:line and shown by `status`, and the bot goes on with what it had.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from triagebot.files.config import ConfigError

log = logging.getLogger(__name__)
T = TypeVar("T")


def fingerprint(paths: list[Path]) -> tuple[tuple[str, int, int], ...]:
    """(path, mtime_ns, size) of every file below `paths`: cheap enough to take every poll."""
    found: list[tuple[str, int, int]] = []
    for root in paths:
        files = [str(root)] if root.is_file() else []
        files += [os.path.join(d, name) for d, _dirs, names in os.walk(root) for name in names]
        for full in files:
            try:
                st = os.stat(full)
            except OSError:  # removed since
                continue
            found.append((full, st.st_mtime_ns, st.st_size))
    return tuple(sorted(found))


class TryAgain(Exception):
    """Raised by a Reloader's `accept` when a new version cannot be judged now (the server it
    is checked against does not answer): the next refresh tries again, files changed or not."""


class Reloader(Generic[T]):
    def __init__(self, load: Callable[[], T], paths: list[Path], what: str) -> None:
        self._load = load
        self.paths = [Path(p) for p in paths]
        self.what = what
        # A check of a new version beyond loading it (the rules' products on the server),
        # raising ConfigError to refuse it or TryAgain to decide at the next refresh.
        self.accept: Callable[[T], None] | None = None
        self._value: T | None = None
        self._stamp: tuple[tuple[str, int, int], ...] | None = None
        self.errors: list[str] = []  # of the newest files, when they are broken

    def load_first(self) -> list[str]:
        """Load at start-up; returns every problem (empty when good)."""
        self._stamp = fingerprint(self.paths)
        try:
            self._value = self._load()
        except ConfigError as exc:
            self.errors = [str(p) for p in exc.problems]
        return self.errors

    def current(self) -> T:
        assert self._value is not None, f"{self.what} not loaded"
        return self._value

    def refresh(self) -> bool:
        """Reload if any file changed. Returns True when a new version is in use. A broken
        new version is not used: `errors` lists its problems, each logged with file:line,
        and the last good version stays current."""
        stamp = fingerprint(self.paths)
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            value = self._load()
            if self.accept is not None:
                self.accept(value)
        except TryAgain as exc:
            self._stamp = None  # not judged: look again at the next refresh
            log.warning("%s changed but cannot be checked now (%s); trying again", self.what, exc)
            return False
        except ConfigError as exc:
            problems = [str(p) for p in exc.problems]
        except Exception as exc:  # a loader bug or an I/O error: the service must go on
            log.exception("%s changed but could not be loaded", self.what)
            problems = [f"{self.what}: {type(exc).__name__}: {exc}"]
        else:
            self._value = value
            self.errors = []
            log.info("%s reloaded", self.what)
            return True
        self.errors = problems
        log.error(
            "%s changed but is invalid (%d problems); keeping the last good version",
            self.what,
            len(problems),
        )
        for problem in problems:
            log.error("%s: %s", self.what, problem)
        return False
