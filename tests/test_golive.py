"""Going live by accident: the shipped example registry or a placeholder link is refused."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from triagebot import golive
from triagebot.registry import Person, Registry
from triagebot.rules import load_rules
from triagebot.validate import load_registry

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = load_registry(ROOT / "data").registry
RULES = load_rules(ROOT / "rules")
REAL = Registry.build([Person("alex", "Alex", ("alex@community.internal",))], [])


@pytest.mark.parametrize(
    ("url", "test_server"),
    [
        ("http://127.0.0.1:8089", True),  # the demo's stand-in
        ("http://localhost:8089", True),
        ("http://[::1]:8089", True),
        ("https://bugzilla.example.test", True),  # the tests' mocks
        ("https://bugzilla.example.org", True),
        ("https://bugzilla.mozilla.org", False),
        ("https://bugs.community.internal", False),
    ],
)
def test_only_a_real_tracker_is_guarded(url: str, test_server: bool) -> None:
    assert golive.is_test_server(url) is test_server


def test_the_shipped_registry_and_rule_are_refused_on_a_real_tracker() -> None:
    assert SHIPPED is not None
    problems = golive.live_problems("https://bugzilla.mozilla.org", SHIPPED, Path("data"), RULES)
    assert problems == [
        "data: refusing to go live: the registry holds only example.org people (fictional); put "
        "your communities' delegates in it (README: Use it on your Bugzilla), or use --dry-run",
        f"{RULES[0].path}: refusing to go live: directory_url "
        "https://community.example.org/directory is a placeholder; set it to your community "
        "directory page, or delete the line",
    ]
    # the demo, the end-to-end tests and the benchmark run the same data on loopback
    assert golive.live_problems("http://127.0.0.1:8089", SHIPPED, Path("data"), RULES) == []


def test_a_registry_with_one_real_login_and_a_real_link_go_live() -> None:
    rules = [replace(RULES[0], directory_url="https://directory.community.internal/")]
    assert golive.live_problems("https://bugzilla.mozilla.org", REAL, Path("data"), rules) == []
    without_link = [replace(RULES[0], directory_url=None)]
    assert golive.live_problems("https://bugzilla.mozilla.org", REAL, Path("d"), without_link) == []
