"""Shared fixtures: the Bugzilla 5.0.6 recordings in tests/recordings/."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

RECORDINGS = Path(__file__).resolve().parent / "recordings"


@cache
def _load(name: str) -> dict[str, Any]:
    path = RECORDINGS / f"{name.removesuffix('.json')}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no recording {name!r} in {RECORDINGS}")
    return json.loads(path.read_text(encoding="utf-8"))


def load_recording(name: str) -> dict[str, Any]:
    """A recorded exchange (note, request, status, content_type, response); a fresh copy, so
    a test may edit it."""
    return copy.deepcopy(_load(name))


@pytest.fixture
def recording() -> Callable[[str], dict[str, Any]]:
    """`recording("comments_batch")` -> the recorded exchange, see `load_recording`."""
    return load_recording
