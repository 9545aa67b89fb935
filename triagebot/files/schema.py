"""`triagebot registry schema`: the JSON Schemas of the hand-edited files, from their models.

Editors with a TOML language server (Even Better TOML in VS Code, taplo elsewhere) read a
`#:schema PATH` line at the top of a file and then complete keys and underline mistakes while a
maintainer types. The schemas come from the same models the bot validates with
(`triagebot.core.registry` for the registry, `Policy`, and `Config` for `triagebot.toml`), so
the editor and `registry check` or the bot's start-up agree on what a file may hold. The
configuration's schema sits with the registry's, in `data/schema/`, where `init` writes them
all; `config.example.toml`, and so every `triagebot.toml` made from it, names it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from triagebot.core.registry import Community, People
from triagebot.files.config import Config
from triagebot.files.policy import Policy
from triagebot.files.problems import ProblemError, TomlJsonSchema

FILES = {
    "people": "people.schema.json",
    "community": "community.schema.json",
    "policy": "policy.schema.json",
    "config": "config.schema.json",
}
SCHEMA_DIR = "schema"  # beside people.toml and communities/ in the shipped data
DIRECTIVES = {
    "people": f"#:schema ./{SCHEMA_DIR}/{FILES['people']}",
    "community": f"#:schema ../{SCHEMA_DIR}/{FILES['community']}",
    "policy": f"#:schema ./{SCHEMA_DIR}/{FILES['policy']}",
    "config": f"#:schema ./data/{SCHEMA_DIR}/{FILES['config']}",  # triagebot.toml beside data/
}


def json_schemas() -> dict[str, dict[str, Any]]:
    """One JSON Schema per file kind."""
    people = TypeAdapter(People).json_schema(schema_generator=TomlJsonSchema)
    people["title"] = "triagebot people.toml"
    people["description"] = "A table per person, under the handle community files refer to."
    community = TypeAdapter(Community).json_schema(schema_generator=TomlJsonSchema)
    community["title"] = "triagebot community file (communities/SLUG.toml)"
    policy = Policy.model_json_schema(schema_generator=TomlJsonSchema)
    policy["title"] = "triagebot policy.toml (registry audit)"
    config = Config.model_json_schema(schema_generator=TomlJsonSchema)
    config["title"] = "triagebot configuration (triagebot.toml)"
    return {"people": people, "community": community, "policy": policy, "config": config}


def schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, schema in json_schemas().items():
        path = directory / FILES[kind]
        path.write_text(schema_text(schema), encoding="utf-8")
        written.append(path)
    return written


def schema_command(out: str | None) -> int:
    if out is None:
        sys.stdout.write(schema_text(json_schemas()))
        return 0
    if Path(out).exists() and not Path(out).is_dir():
        raise ProblemError([f"--out {out}: not a directory"])
    for path in write_schemas(Path(out)):
        print(f"wrote {path}", file=sys.stderr)
    return 0
