"""The JSON Schemas editors use: generated from the model, committed beside the shipped data,
named by a `#:schema` line in every data file, and agreeing with taplo on the shipped data."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from triagebot.files.schema import DIRECTIVES, FILES, SCHEMA_DIR, json_schemas, schema_text

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
TAPLO = shutil.which("taplo", path=str(Path(sys.executable).parent)) or shutil.which("taplo")


def data_files() -> list[tuple[str, Path]]:
    return [("people", DATA / "people.toml"), ("policy", DATA / "policy.toml")] + [
        ("community", path) for path in sorted((DATA / "communities").glob("*.toml"))
    ]


@pytest.mark.parametrize("kind", sorted(FILES))
def test_committed_schemas_are_the_generated_ones(kind: str) -> None:
    committed = (DATA / SCHEMA_DIR / FILES[kind]).read_text(encoding="utf-8")
    assert committed == schema_text(json_schemas()[kind]), (
        f"data/{SCHEMA_DIR}/{FILES[kind]} is stale: run "
        f"triagebot registry schema --out data/{SCHEMA_DIR}"
    )


def test_every_data_file_names_its_schema_on_its_first_line() -> None:
    for kind, path in [*data_files(), ("config", ROOT / "config.example.toml")]:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == DIRECTIVES[kind], path
        target = (path.parent / first.split(maxsplit=1)[1]).resolve()
        assert target == DATA / SCHEMA_DIR / FILES[kind]


def taplo_check(root: Path, files: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    files = files or [str(path.relative_to(DATA)) for _, path in data_files()]
    return subprocess.run(
        [TAPLO, "check", "--no-auto-config", *files],  # type: ignore[list-item]
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_taplo_accepts_the_shipped_data_and_rejects_an_unknown_key(tmp_path: Path) -> None:
    assert TAPLO, "taplo is in the test extra: pip install -e '.[test]'"
    copy = tmp_path / "data"
    shutil.copytree(DATA, copy)
    checked = taplo_check(copy)
    assert checked.returncode == 0, checked.stderr
    tamil = copy / "communities" / "mozilla-tamil.toml"
    text = tamil.read_text(encoding="utf-8")
    tamil.write_text(text.replace("status = ", 'stauts = "active"\nstatus = ', 1), "utf-8")
    people = copy / "people.toml"
    text = people.read_text(encoding="utf-8")
    people.write_text(text.replace("\nname = ", '\nnmae = "x"\nname = ', 1), "utf-8")
    checked = taplo_check(copy)
    assert checked.returncode == 1
    assert "'stauts' was unexpected" in checked.stderr
    assert "'nmae' was unexpected" in checked.stderr


def test_taplo_rejects_an_unknown_policy_key(tmp_path: Path) -> None:
    assert TAPLO, "taplo is in the test extra: pip install -e '.[test]'"
    copy = tmp_path / "data"
    shutil.copytree(DATA, copy)
    policy = copy / "policy.toml"
    text = policy.read_text(encoding="utf-8")
    policy.write_text(text.replace("max_age_months = ", "max_age_month = ", 1), "utf-8")
    checked = taplo_check(copy)
    assert checked.returncode == 1
    assert "'max_age_month' was unexpected" in checked.stderr


def test_taplo_checks_the_configuration_like_the_bot(tmp_path: Path) -> None:
    """config.example.toml names the schema in data/schema/; an editor then flags a typo."""
    assert TAPLO, "taplo is in the test extra: pip install -e '.[test]'"
    shutil.copytree(DATA / SCHEMA_DIR, tmp_path / "data" / SCHEMA_DIR)
    config = tmp_path / "triagebot.toml"
    example = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    config.write_text(example, encoding="utf-8")
    checked = taplo_check(tmp_path, ["triagebot.toml"])
    assert checked.returncode == 0, checked.stderr
    config.write_text(example.replace("max_attempts = ", "max_attempt = ", 1), "utf-8")
    checked = taplo_check(tmp_path, ["triagebot.toml"])
    assert checked.returncode == 1
    assert "'max_attempt' was unexpected" in checked.stderr
