"""Where the shipped rule and templates, the example configuration and the fictional registry
(with its policy) are: what `init` copies and what the demo runs on.

A checkout, and the editable install `dev.py` makes, has them at the repository's top
(`rules/`, `data/`, `config.example.toml`): the one copy in git, where the README, the tests
and a data repository's hooks name them. A wheel carries a copy in `triagebot/share/`, made at
build time by `setup.py`, so `pip install triagebot` works with no checkout around.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
ROOT = _PACKAGE / "share" if (_PACKAGE / "share").is_dir() else _PACKAGE.parent
RULES = ROOT / "rules"
DATA = ROOT / "data"
CONFIG_EXAMPLE = ROOT / "config.example.toml"
POLICY = DATA / "policy.toml"
