"""`triagebot registry ...`: check, find, show, render, audit, history, sync and schema.

Every one takes the registry directory the same way, `--dir DIR` (default: the
configuration's `[registry] path`, else ./data); `check` and `audit` still accept it as a
positional argument, deprecated. Each body loads the registry once, calls the maintainers'
tools and returns a `Reply` of text and document views.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from triagebot.commands import jsonout, output
from triagebot.commands.documents import dumps
from triagebot.commands.notices import command_config
from triagebot.commands.reply import Exit, Reply, configuration, not_found
from triagebot.commands.router import AddParser, add_command
from triagebot.core.registry import Community, Registry
from triagebot.files.config import Config, load_config
from triagebot.files.validate import LoadResult, load_registry, utc_today

DIR_HELP = "registry directory (default: [registry] path of the configuration, else ./data)"


def _dir(p: argparse.ArgumentParser, positional: bool = False) -> None:
    p.add_argument("--dir", metavar="DIR", help=DIR_HELP)
    if positional:  # deprecated spelling, kept so existing CI jobs keep working
        p.add_argument("dir_positional", nargs="?", metavar="DIR", help=argparse.SUPPRESS)


def add_parsers(add_parser: AddParser) -> None:
    check = add_command(
        add_parser,
        "check",
        check_command,
        found="the registry has errors (each on stderr at FILE:LINE)",
        document="check",
        help="validate the registry files; exit 1 on any error, warnings on stderr",
    )
    _dir(check, positional=True)
    find = add_command(
        add_parser,
        "find",
        find_command,
        found="nobody in the registry matches",
        document="person",
        help="who is this email or Bugzilla id, and what roles",
    )
    find.add_argument("query", help="an email (Bugzilla login) or a numeric Bugzilla user id")
    _dir(find)
    show = add_command(
        add_parser,
        "show",
        show_command,
        found="no such community",
        document="community",
        help="one community: delegates, contacts, resources",
    )
    show.add_argument("slug", help="community slug, name or alias")
    _dir(show)
    render = add_command(
        add_parser,
        "render",
        render_command,
        found="never",
        document="directory",
        help="the public directory page (public contacts only)",
    )
    render.add_argument("--format", choices=["markdown", "html"], default="markdown")
    render.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    _dir(render)
    render.add_argument(
        "--correction-url",
        metavar="URL",
        help="where each card's 'Request a correction' points ({slug} and {name} are "
        "filled in; default: a new bug on the configured Bugzilla)",
    )
    audit = add_command(
        add_parser,
        "audit",
        audit_command,
        found="a finding is an error",
        document="audit",
        help="hold the registry to data/policy.toml; exit 1 on an error finding",
        description="Check the registry against the policies in policy.toml beside the data "
        "(minimum delegates, term length, review age, resources to hand over, public "
        "contact). One line per finding, 'SEVERITY: FILE:LINE: FIELD: MESSAGE', then a "
        "summary. A missing or broken policy file is exit 2, like a broken registry.",
    )
    _dir(audit, positional=True)
    audit.add_argument("--policy", metavar="FILE", help="policy file (default: DIR/policy.toml)")
    history = add_command(
        add_parser,
        "history",
        history_command,
        found="no such community",
        help="who held which title in a community, when, and who should take over what",
        description="The dated timeline of a community's delegates (with sources), who "
        "holds a role now, and which resources are still in the hands of someone whose "
        "term has ended.",
    )
    history.add_argument("slug", help="community slug, name or alias")
    _dir(history)
    sync = add_command(
        add_parser,
        "sync",
        sync_command,
        found="something needs a person's decision, or Bugzilla did not answer",
        help="hold people.toml against Bugzilla's accounts; --write fills in bugzilla_id",
        description="Look every listed email and bugzilla_id up on the Bugzilla in the "
        "configuration (GET /rest/user, many per request) and report emails with no "
        "account, ids whose login is not listed for that person, and disabled accounts. "
        "--write adds the missing bugzilla_id lines to people.toml and changes nothing "
        "else.",
    )
    _dir(sync)
    sync.add_argument(
        "--write", action="store_true", help="add the bugzilla_id lines that are missing"
    )
    sync.add_argument(
        "--batch", type=int, default=100, help="emails or ids per request (default: 100)"
    )
    schema = add_command(
        add_parser,
        "schema",
        schema_command,
        found="never",
        help="the JSON Schemas of people.toml, community files, policy.toml and "
        "triagebot.toml, for editors",
        description="Print the JSON Schemas generated from the files' models, one per "
        'file kind ({"people": ..., "community": ..., "policy": ..., "config": ...}); with '
        "--out DIR, write them as people.schema.json, community.schema.json, "
        "policy.schema.json and config.schema.json. A `#:schema` line at the top of a "
        "file points Even Better TOML and taplo at them.",
    )
    schema.add_argument("--out", metavar="DIR", help="write the schema files into DIR")


# -- where the registry is ------------------------------------------------------------------
def registry_dir(args: argparse.Namespace, config: Config | None = None) -> Path:
    """--dir, else the deprecated positional DIR, else the configuration's, else ./data. A
    path that is not a directory is a usage error (exit 2), said once here."""
    given = args.dir or getattr(args, "dir_positional", None)
    if given:
        path = Path(given)
    else:
        config = config or load_config(args.config)
        path = config.registry.path if config.path is not None else Path("data")
    if not path.is_dir():
        what = "not a directory" if path.exists() else "no such directory"
        raise configuration(f"{path}: registry directory: {what} (give --dir DIR)")
    return path


def _loaded(args: argparse.Namespace, config: Config | None = None) -> tuple[Path, date, Registry]:
    """The registry's directory, today, and the registry, or exit 2 with every error: a
    command reading it cannot go on."""
    path = registry_dir(args, config)
    today = utc_today()
    result = load_registry(path, today)
    if result.registry is None:
        problems = [str(p) for p in result.errors]
        raise configuration(
            [*problems, f"{path}: the registry has errors; run: triagebot registry check"]
        )
    return path, today, result.registry


def _community(args: argparse.Namespace, registry: Registry, path: Path) -> Community:
    community = registry.community(args.slug)
    if community is None:
        raise not_found(output.unknown_community(registry, args.slug, path))
    return community


# -- the commands ---------------------------------------------------------------------------
def check_command(args: argparse.Namespace) -> Reply:
    path = registry_dir(args)
    result: LoadResult = load_registry(path, utc_today())
    notes = "\n".join(f"{p.severity}: {p}" for p in [*result.errors, *result.warnings])
    return Reply(
        code=Exit.DONE if result.ok else Exit.FOUND,
        text=output.check_summary(path, result),
        document=jsonout.check_document(path, result),
        notes=notes,
    )


def find_command(args: argparse.Namespace) -> Reply:
    path, today, registry = _loaded(args)
    query = args.query.strip()
    person = (
        registry.person_by_bugzilla_id(int(query))
        if query.isdigit()
        else registry.person_by_email(query)
    )
    if person is None:
        hint = output.lookalike_hint(args.query)
        raise not_found(f"nobody in {path} matches {args.query!r}" + (f"\n{hint}" if hint else ""))
    return Reply(
        text=output.find_person(registry, person, today),
        document=jsonout.person_document(registry, query, person, today),
    )


def show_command(args: argparse.Namespace) -> Reply:
    path, today, registry = _loaded(args)
    community = _community(args, registry, path)
    return Reply(
        text=output.show_community(registry, community, today),
        document=jsonout.community_document(registry, community, today),
    )


def render_command(args: argparse.Namespace) -> Reply:
    from triagebot.tools import directory

    config = load_config(args.config)
    _, today, registry = _loaded(args, config)
    if args.json:
        document = jsonout.directory_document(registry, today)
        page = dumps(document)
    elif args.format == "html":
        url = args.correction_url or directory.default_correction_url(
            config.bugzilla.url, config.rules.path
        )
        page = directory.render_html(registry, today, url)
    else:
        page = directory.render_markdown(registry, today)
    page = page if page.endswith("\n") else page + "\n"
    if args.output:
        Path(args.output).write_text(page, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
        return Reply()
    if args.json:
        return Reply(document=document)
    return Reply(text=page)


def audit_command(args: argparse.Namespace) -> Reply:
    from triagebot.files.policy import POLICY_FILE, load_policy
    from triagebot.tools.audit import audit, summary

    path, today, registry = _loaded(args)
    policy_path = Path(args.policy) if args.policy else path / POLICY_FILE
    if not policy_path.is_file():
        # An audit of the wrong path must not pass: a CI job would pass forever.
        what = "not a file" if policy_path.exists() else "no such file"
        raise configuration(f"{policy_path}: policy file: {what} (give --policy FILE)")
    policy = load_policy(policy_path)
    findings = audit(registry, path, policy, today)
    lines = [f"{finding.severity}: {finding}" for finding in findings]
    lines.append(summary(findings, policy_path, policy))
    errors = any(f.severity == "error" for f in findings)
    return Reply(
        code=Exit.FOUND if errors else Exit.DONE,
        text="\n".join(lines),
        document=jsonout.audit_document(policy_path, policy, findings),
    )


def history_command(args: argparse.Namespace) -> Reply:
    from triagebot.tools.history import render_text

    path, today, registry = _loaded(args)
    return Reply(text=render_text(registry, _community(args, registry, path), today))


def sync_command(args: argparse.Namespace) -> Reply:
    from triagebot.tools.sync import sync_command as sync

    config = command_config(args)
    path, _, registry = _loaded(args, config)
    return Reply(code=sync(config, path, registry, write=args.write, batch=args.batch))


def schema_command(args: argparse.Namespace) -> Reply:
    from triagebot.files.schema import schema_command as schema

    return Reply(code=schema(args.out))
