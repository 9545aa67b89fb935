"""The layout shows the design: the pure core imports nothing from the layers around it."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "triagebot" / "core"


def triagebot_imports(path: Path) -> set[str]:
    """Every `triagebot...` module that `path` imports, at any depth of the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "triagebot":
                found.update(f"triagebot.{alias.name}" for alias in node.names)
            elif node.module.startswith("triagebot."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("triagebot."))
    return found


def test_the_core_imports_only_the_core() -> None:
    outside = {
        f"{path.name} imports {name}"
        for path in sorted(CORE.glob("*.py"))
        for name in triagebot_imports(path)
        if not name.startswith("triagebot.core")
    }
    assert outside == set()


def test_the_check_sees_an_import_from_outside(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from triagebot.state.store import Store\n", encoding="utf-8")
    assert triagebot_imports(module) == {"triagebot.state.store"}


def test_the_demo_imports_no_command() -> None:
    """The command line runs the demo; the demo takes what it needs from it as arguments (its
    entry point, whether to colour), so there is no arrow back from demo/ to commands/."""
    demo = CORE.parent / "demo"
    back = {
        f"{path.name} imports {name}"
        for path in sorted(demo.glob("*.py"))
        for name in triagebot_imports(path)
        if name.startswith("triagebot.commands")
    }
    assert back == set()


def test_the_stand_in_has_no_test_hook() -> None:
    """Fault injection is for the tests (tests/standin.py), not in the package users install."""
    from triagebot.demo.devserver import FakeBugzilla

    hooks = ("fail_next", "on_request", "snapshot", "restore", "mount")
    assert [name for name in hooks if hasattr(FakeBugzilla, name)] == []
