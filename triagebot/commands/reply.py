"""What a command hands back to the command line, and the one exit-code table.

A command body returns a `Reply` (its exit code, the text for a terminal, the document for
`--json`) or raises `CommandError`; `cli.main` prints the one the user asked for. So text and
JSON cannot disagree on the exit code, and a failure is one line on stderr, or one error
document on stdout with `--json`, whatever the command.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from triagebot.commands.documents import Document, Error, ErrorDocument, ErrorKind


class Exit(IntEnum):
    """The exit codes, the same for every command (README: Exit codes)."""

    DONE = 0  # done, nothing wrong found
    FOUND = 1  # the work found something: errors in data, a refused cap, a retryable failure
    FIX = 2  # usage or configuration that must be fixed
    INTERRUPTED = 130  # Ctrl-C


@dataclass(frozen=True)
class Reply:
    """A command's result: `text` for stdout (a terminal), `document` for `--json`, `notes`
    for stderr in text mode (warnings, where a file was written)."""

    code: int = Exit.DONE
    text: str = ""
    document: Document | None = None
    notes: str = ""


class CommandError(Exception):
    """A command that could not do its work: one line per problem on stderr, or one error
    document with `--json`; `code` from the table."""

    def __init__(self, kind: ErrorKind, problems: str | Sequence[str], code: int) -> None:
        self.kind = kind
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.code = code
        super().__init__("\n".join(self.problems))

    def document(self) -> ErrorDocument:
        problems = self.problems or [self.kind.value]
        message = problems[0]
        if len(problems) > 1:
            message = f"{len(problems)} problems; the first: {problems[0]}"
        error = Error(kind=self.kind, message=message, problems=problems)
        return ErrorDocument(exit_code=self.code, error=error)


def not_found(message: str) -> CommandError:
    return CommandError(ErrorKind.NOT_FOUND, message, Exit.FOUND)


def usage(message: str) -> CommandError:
    return CommandError(ErrorKind.USAGE, message, Exit.FIX)


def configuration(problems: str | Sequence[str]) -> CommandError:
    return CommandError(ErrorKind.CONFIGURATION, problems, Exit.FIX)
