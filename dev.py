#!/usr/bin/env python3
"""Set-up and everyday commands, needing nothing but Python 3.11+ (no make, no uv).

    python3 dev.py demo     # create .venv, install triagebot, run `triagebot demo` (offline)
    python3 dev.py test     # the same plus the test tools, then the whole test suite
    python3 dev.py lint     # ruff check + ruff format --check
    python3 dev.py bench    # the benchmarks in bench/ (arguments go to poll_bench.py)

Extra arguments go to the command (e.g. `python3 dev.py test -k registry`).
The venv is (re)installed when pyproject.toml is newer than the last install.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def ensure_venv(extra: str) -> None:
    """The venv with triagebot installed (editable), plus `[extra]` when given. A stamp per
    set ("" or "test") says it is newer than pyproject.toml; the test set includes the rest."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may run on an older python3
        sys.exit(f"triagebot needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    pyproject = ROOT / "pyproject.toml"
    wanted = {extra, "test"} if extra == "" else {extra}
    for name in wanted:
        stamp = VENV / f".installed{'-' + name if name else ''}"
        if stamp.exists() and stamp.stat().st_mtime >= pyproject.stat().st_mtime:
            return
    if not (BIN / "python").exists():
        print(f"creating {VENV.name}/ ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    what = "triagebot and its test tools" if extra else "triagebot"
    print(f"installing {what} into {VENV.name}/ ...", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-e", f"{ROOT}[{extra}]" if extra else str(ROOT)], check=True)
    (VENV / f".installed{'-' + extra if extra else ''}").touch()


def run(*cmd: str) -> int:
    return subprocess.run(cmd, cwd=ROOT).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__)
        return 2
    ensure_venv("" if argv[0] == "demo" else "test")  # the demo needs no test tool
    return COMMANDS[argv[0]](argv[1:])


COMMANDS = {
    "demo": lambda a: run(str(BIN / "triagebot"), "demo", *a),
    "test": lambda a: run(str(BIN / "python"), "-m", "pytest", *a),
    "lint": lambda a: (
        run(str(BIN / "ruff"), "check", ".") or run(str(BIN / "ruff"), "format", "--check", ".")
    ),
    "bench": lambda a: (
        run(str(BIN / "python"), "bench/registry_bench.py")
        or run(str(BIN / "python"), "bench/triage_bench.py")
        or run(str(BIN / "python"), "bench/poll_bench.py", *a)
    ),
}

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
