"""The build step that puts the shipped files into the wheel; everything else is pyproject.toml.

`rules/`, `data/` and `config.example.toml` stay at the repository's top, the one copy in git
(the README, the tests and a data repository's hooks name those paths). Building copies them
into `triagebot/share/` of the wheel, where `triagebot.shipped` finds them. Why a build step:
setuptools' package-data takes files from inside a package directory only, and a symlink
`triagebot/share -> ..` would be one more thing git, Windows checkouts and sdists can break.
An editable install reads the checkout itself, so it copies nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

TOP = Path(__file__).resolve().parent
SHIPPED = ("rules", "data", "config.example.toml")


class BuildWithShipped(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        share = Path(self.build_lib) / "triagebot" / "share"
        for name in SHIPPED:
            source = TOP / name
            if source.is_dir():
                shutil.copytree(
                    source,
                    share / name,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                    dirs_exist_ok=True,
                )
            else:
                share.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, share / name)


setup(cmdclass={"build_py": BuildWithShipped})
