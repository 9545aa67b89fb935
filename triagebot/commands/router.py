"""How subcommands are declared: each names its body (`set_defaults(handler=...)`), carries
the exit-code table in its `--help` epilog, takes `-v`, and, when it prints a document, the
one `--json` option. The command modules declare their parsers with these helpers."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from triagebot.commands.reply import Reply, usage

Handler = Callable[[argparse.Namespace], Reply]
AddParser = Callable[..., argparse.ArgumentParser]

USAGE_ROW = (
    "usage or configuration to fix: a bad option, a missing or unreadable\n"
    "       file, a bad URL, a wrong product, a refused key"
)


@dataclass(frozen=True)
class Entry:
    """One command of the table in the README: what exit 1 means, which --json document."""

    found: str
    document: str | None
    handler: Handler


# Every command declared by `add_command`, by its name after `triagebot` ("registry check"):
# the README's exit-code table is checked against it.
CATALOG: dict[str, Entry] = {}


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is raised (one line, exit 2, a JSON document with
    `--json`) instead of printing the usage and exiting inside the parser. No abbreviated
    options: `--jso` is a mistake, not `--json`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise usage(f"{self.prog}: {message} (see: {self.prog} --help)")


def exit_epilog(found: str, document: str | None = None) -> str:
    """The exit-code table of a command, with what 1 means for it (`found`)."""
    lines = [
        "exit codes:",
        "  0    done, nothing wrong found",
        f"  1    {found}",
        f"  2    {USAGE_ROW}",
        "  130  interrupted (Ctrl-C)",
    ]
    if document:
        lines += [
            "",
            f'--json: a "{document}" document, or an "error" document on failure, with the',
            "same exit code (JSON Schemas in data/schema/output/)",
        ]
    return "\n".join(lines)


def _verbose() -> argparse.ArgumentParser:
    """`-v` after any subcommand too (`triagebot db upgrade -v`); SUPPRESS keeps the count
    given before it when the subcommand has none."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="more logging (-vv: debug)",
    )
    return parent


def add_command(
    add_parser: AddParser,
    name: str,
    handler: Handler,
    *,
    found: str,
    document: str | None = None,
    **kwargs: object,
) -> argparse.ArgumentParser:
    """A subcommand with its handler, the exit-code table in its epilog (`found`: what exit
    1 means for it) and, when it has a `document`, the one `--json` option."""
    p = add_parser(
        name,
        epilog=exit_epilog(found, document),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_verbose()],
        **kwargs,
    )
    p.set_defaults(handler=handler)
    CATALOG[p.prog.removeprefix("triagebot ")] = Entry(" ".join(found.split()), document, handler)
    if document is not None:
        p.add_argument(
            "--json",
            action="store_true",
            help=f'print one JSON document ("{document}", or "error" on failure)',
        )
    return p


def add_group(add_parser: AddParser, name: str, dest: str, **kwargs: object) -> AddParser:
    """A command made of subcommands (`registry`, `db`): returns their `add_parser`."""
    group = add_parser(name, parents=[_verbose()], **kwargs)
    return group.add_subparsers(dest=dest, metavar="SUBCOMMAND", required=True).add_parser
