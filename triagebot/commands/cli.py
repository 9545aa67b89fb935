"""The `triagebot` command line: parse, route to one command body (`router`), print its
reply (`reply`). `main` alone turns replies and errors into output and an exit code: nothing
escapes it as a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from triagebot import __version__
from triagebot.bugzilla.client import (
    KEY_REJECTED,
    BugzillaError,
    BugzillaUnreachable,
    NotABugzilla,
)
from triagebot.commands import jsonout, maintenance, output, registry_tools
from triagebot.commands.documents import ErrorKind, dumps
from triagebot.commands.notices import command_config, key_rejected
from triagebot.commands.reply import CommandError, Exit, Reply, configuration, not_found, usage
from triagebot.commands.router import Parser, add_command, add_group, exit_epilog
from triagebot.core import awaiting
from triagebot.files.config import LOG_FORMATS, Config, ConfigError
from triagebot.service import logs, views
from triagebot.service.poller import PollReport

log = logging.getLogger("triagebot")

EPILOG = """\
configuration: --config FILE, else $TRIAGEBOT_CONFIG, else ./triagebot.toml,
else defaults (see config.example.toml). The API key comes from
$TRIAGEBOT_API_KEY or [bugzilla] api_key_file.

"""
DESCRIPTION = """\
Tell Community IT triagers whether a Bugzilla request is backed by the community
it names: match the reporter against the delegate registry, then comment, tag
and needinfo."""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="triagebot",
        description=DESCRIPTION,
        epilog=EPILOG + exit_epilog("the work found something (see each command's --help)"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", metavar="FILE", help="configuration file (TOML)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        help="log lines as text (default) or one JSON object per line (for `run` under a "
        "log collector); overrides [log] format",
    )
    parser.add_argument("--version", action="version", version=f"triagebot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    regsub = add_group(
        sub.add_parser,
        "registry",
        "registry_command",
        help="check, search and render the delegate registry",
    )
    registry_tools.add_parsers(regsub)

    once = add_command(
        sub.add_parser,
        "once",
        poll_command,
        found="a bug failed (retried next poll), the action cap stopped the poll, or\n"
        "       Bugzilla did not answer",
        document="poll",
        help="run one poll and print one line per bug",
        description="One poll of every rule: new bugs since the last poll (or [poll] start), "
        "one line per bug (BUG OUTCOME COMMUNITY ACTION) and a summary; a dry run also prints "
        "each comment it would post. Dry run unless --live or [run] dry_run = false.",
    )
    _live_flags(once)
    run = add_command(
        sub.add_parser,
        "run",
        poll_command,
        found="Bugzilla did not answer at start-up",
        help="poll every [poll] interval_minutes until stopped",
        description="Poll at start and every [poll] interval_minutes, one poll at a time, "
        "re-reading data/ and rules/ when they change (a broken edit is logged and the last "
        "good version kept). SIGTERM stops it after the write in flight (exit 0; SIGINT: "
        "130); a URL that is not a Bugzilla's, an unknown product or a refused key exit 2, "
        "Bugzilla unreachable at start-up 1. Logs go to stderr; `triagebot status` shows what "
        "it did.",
    )
    _live_flags(run)
    explain = add_command(
        sub.add_parser,
        "explain",
        explain_command,
        found="the bug is not found or not visible, or Bugzilla did not answer",
        document="explain",
        help="show the decision and exact comment for one bug",
        description="Run the poll's own steps on one bug (two requests) with a writer that "
        "records: what the bot decided and why, what the next poll writes there (the exact "
        "comment, whiteboard and needinfo, a follow-up too), what the database says and "
        "what the bot posted before. Never writes.",
    )
    explain.add_argument("bug", type=int, help="bug number")
    add_command(
        sub.add_parser,
        "status",
        status_command,
        found="the registry or rules files have errors (or a running bot reported some)",
        document="status",
        help="last polls, counts per outcome, unfinished writes",
        description="From the database only (no request to Bugzilla; none is created): the "
        "last polls with the counts they printed, counts per outcome, writes not yet "
        "confirmed, failed bugs, and problems in the registry and rules files, including "
        "those a running bot could not reload.",
    )
    queue = add_command(
        sub.add_parser,
        "queue",
        queue_command,
        found="Bugzilla did not answer",
        document="queue",
        help="bugs awaiting endorsement, per community",
        description="Ask Bugzilla (one search per page and rule, and the comments of the "
        "bugs old enough to be stale) for the bugs tagged [endorsement-needed]: per "
        "community, each bug's age, who the bot asked and whether it is stale (as the bot's "
        "sweep tags it). --format markdown for a weekly triage post, --json for scripts. "
        "Never writes, creates no database.",
    )
    queue.add_argument("--format", choices=["text", "markdown"], default="text")
    init = add_command(
        sub.add_parser,
        "init",
        init_command,
        found="never",
        help="scaffold a deployment: triagebot.toml, rules/, an empty registry",
        description="Write triagebot.toml (dry run, commented), rules/ (the shipped rule and "
        "templates, directory link to fill in) and data/ (an empty registry with a commented "
        "example) into DIR, overwriting nothing. --live is refused until data/ lists real "
        "delegates and the link is set.",
    )
    init.add_argument("dir", nargs="?", default=".", metavar="DIR", help="default: here")
    maintenance.add_parsers(sub.add_parser)
    demo = add_command(
        sub.add_parser,
        "demo",
        demo_command,
        found="the demo did not go as it should (a poll failed)",
        help="the whole job offline, against a built-in loopback Bugzilla",
        description="Start a loopback Bugzilla 5.0 stand-in, file eight realistic requests "
        "against the shipped data/, run exactly what `triagebot once --live` runs, show what "
        "a triager then sees on each bug (comment, whiteboard, needinfo), and poll again to "
        "show nothing is posted twice. Offline; writes only in a temporary directory (or "
        "--keep DIR). --serve keeps the stand-in running for trying commands by hand, and "
        "prints a ready config and a curl line that files a new bug.",
    )
    demo.add_argument("--serve", action="store_true", help="keep the loopback Bugzilla running")
    demo.add_argument("--port", type=port, default=0, help="port for --serve (default: free)")
    demo.add_argument("--keep", metavar="DIR", help="keep the database and log in DIR")
    return parser


def port(text: str) -> int:
    """A TCP port number (argparse names the type after this function: "invalid port")."""
    number = int(text)
    if not 0 <= number <= 65535:
        raise ValueError(text)
    return number


def _live_flags(p: argparse.ArgumentParser) -> None:
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--live", action="store_true", help="write to Bugzilla")
    mode.add_argument("--dry-run", action="store_true", help="print what would be written")
    p.add_argument(
        "--no-limit", action="store_true", help="lift [run] max_actions_per_run for this poll"
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    json_out = "--json" in argv  # known before parsing, so a usage error is a document too
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exc:  # --help, --version: printed, done
            return exc.code if isinstance(exc.code, int) else Exit.DONE
        json_out = bool(getattr(args, "json", False))
        default = logging.INFO if args.command == "run" else logging.WARNING
        logs.setup(args.verbose, default, args.log_format or "text")
        with _errors():
            reply = args.handler(args)
        _print(reply, json_out)
        sys.stdout.flush()  # inside the try: a closed pipe is caught below, not at exit
        return reply.code
    except CommandError as exc:
        return _fail(exc, json_out)
    except BrokenPipeError:
        # `triagebot demo | head`: the reader left. End quietly; the interpreter's last
        # flush of stdout must not complain either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a writer the pipe stopped


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Every failure as a CommandError of the exit-code table, never a traceback."""
    try:
        yield
    except CommandError:
        raise
    except ConfigError as exc:
        raise configuration([str(p) for p in exc.problems]) from None
    except (BugzillaUnreachable, NotABugzilla) as exc:
        code = Exit.FOUND if exc.worth_a_retry else Exit.FIX
        kind = ErrorKind.UNREACHABLE if exc.worth_a_retry else ErrorKind.CONFIGURATION
        raise CommandError(kind, str(exc), code) from None
    except BugzillaError as exc:
        # Before any poll (checking products, explain): no answer or a server error is worth
        # a retry (1); an answered error (a wrong key, no access) is the operator's to fix (2).
        code = Exit.FOUND if exc.worth_a_retry else Exit.FIX
        raise CommandError(ErrorKind.BUGZILLA, f"Bugzilla: {exc}", code) from None
    except KeyboardInterrupt:
        raise CommandError(ErrorKind.INTERRUPTED, "interrupted", Exit.INTERRUPTED) from None
    except BrokenPipeError:
        raise
    except OSError as exc:
        # A file or directory the command could not use (missing, unreadable, a file where
        # a directory was given, a busy port): the operator's to fix.
        where = f"{exc.filename}: " if exc.filename else ""
        raise configuration(f"{where}{exc.strerror or exc}") from None
    except Exception as exc:
        log.debug("unexpected error", exc_info=True)
        message = f"unexpected {type(exc).__name__}: {exc} (a bug in triagebot; -vv shows where)"
        raise CommandError(ErrorKind.INTERNAL, message, Exit.FOUND) from None


def _print(reply: Reply, json_out: bool) -> None:
    if json_out and reply.document is not None:
        sys.stdout.write(dumps(reply.document))
        return
    if reply.notes:
        sys.stderr.write(reply.notes if reply.notes.endswith("\n") else reply.notes + "\n")
    if reply.text:
        sys.stdout.write(reply.text if reply.text.endswith("\n") else reply.text + "\n")


def _fail(exc: CommandError, json_out: bool) -> int:
    if json_out:
        with contextlib.suppress(BrokenPipeError):
            sys.stdout.write(dumps(exc.document()))
            sys.stdout.flush()
        return exc.code
    for problem in exc.problems:
        if exc.kind is ErrorKind.INTERRUPTED:
            logs.say(logging.WARNING, problem, prefix="")
        else:
            logs.say(logging.ERROR, problem)
    return exc.code


# -- init, demo -----------------------------------------------------------------------------
def init_command(args: argparse.Namespace) -> Reply:
    from triagebot.tools import scaffold

    target = Path(args.dir)
    try:
        scaffold.init(target)
    except scaffold.InitError as exc:
        raise configuration(str(exc)) from None
    return Reply(text=scaffold.next_steps(target))


def demo_command(args: argparse.Namespace) -> Reply:
    from triagebot.demo.demo import run_demo

    if args.serve and args.port:
        _check_port(args.port)
    color = output.use_color(sys.stdout)
    return Reply(code=run_demo(main, color=color, serve=args.serve, port=args.port, keep=args.keep))


def _check_port(port: int) -> None:
    """A busy port is said in one line before anything starts."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise usage(f"--port {port}: {exc.strerror or exc}; choose another port") from None


# -- polling --------------------------------------------------------------------------------
@contextlib.contextmanager
def _key_errors(config: Config) -> Iterator[None]:
    """A key Bugzilla refuses is a configuration error (exit 2) naming where it came from."""
    try:
        yield
    except BugzillaError as exc:
        if exc.code in KEY_REJECTED:
            raise ConfigError([key_rejected(config, str(exc))]) from None
        raise


def poll_command(args: argparse.Namespace) -> Reply:
    # Looked up at each call: tests replace run_forever to return at once.
    from triagebot.service.run import build_bot, check_products, resolve_bot_login, run_forever

    config = command_config(args)
    json_out = getattr(args, "json", False)
    live = args.live or not (args.dry_run or config.run.dry_run)
    bot = build_bot(config, live=live, no_limit=args.no_limit)
    with _key_errors(config):
        check_products(bot, cached=args.command != "run")
        resolve_bot_login(bot, live=live)
    if args.command == "run":
        stop = threading.Event()
        refused: list[str] = []

        def on_report(reports: list[PollReport]) -> None:
            for report in reports:
                log.info("%s", output.poll_summary(report), extra=report.log_fields())
                if not report.live:  # a dry-run service shows what it would post
                    for line in output.would_post_lines(report):
                        log.info("%s", line)
                if report.error_code in KEY_REJECTED and report.error:
                    refused.append(report.error)  # a restart with the same key cannot help
                    stop.set()

        rules = [r.name for r in bot.rules.current()]
        log.info(
            "%s",
            output.run_startup_line(config, live, rules),
            extra={"live": live, "rules": rules, "interval_minutes": config.poll.interval_minutes},
        )
        signum = run_forever(bot, on_report, stop)
        if refused:
            raise ConfigError([key_rejected(config, refused[0])])
        return Reply(code=Exit.INTERRUPTED if signum == signal.SIGINT else Exit.DONE)
    from triagebot.commands import progress

    bot.poller.progress = None if json_out else progress.for_stream(sys.stderr)

    def on_sigterm(signum: int, _frame: object) -> None:
        bot.poller.stop_requested = signal.Signals(signum).name  # after the write in flight

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        reports = bot.poller.poll()
    except KeyboardInterrupt:
        if isinstance(bot.poller.progress, progress.WriteProgress):
            bot.poller.progress.close()
        line = output.interrupted_line(bot.poller.reports, bot.store)
        raise CommandError(ErrorKind.INTERRUPTED, line, Exit.INTERRUPTED) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    for report in reports:
        if report.error_code in KEY_REJECTED and report.error:
            raise ConfigError([key_rejected(config, report.error)])
    # Told to stop (SIGTERM, a service manager or `timeout`): what was done is done, the
    # rest is the next poll's, and that is no failure.
    code = Exit.DONE if bot.poller.stop_requested else output.exit_code(reports)
    color = output.use_color(sys.stdout)
    return Reply(
        code=code,
        text="".join(output.poll_lines(report, color=color) for report in reports),
        document=jsonout.poll_document(reports, code),
    )


def explain_command(args: argparse.Namespace) -> Reply:
    """Reads only: the poll's own steps for one bug, with a writer that records."""
    from triagebot.service.run import build_bot

    config = command_config(args)
    bot = build_bot(config, live=False)
    with _key_errors(config):
        explained = views.explain(bot, args.bug)
    if explained is None:
        raise not_found(f"bug {args.bug} not found or not visible to this account")
    bug = explained.bug
    text = "\n\n".join(output.explain(bug, r) for r in explained.rules) or (
        f"bug {bug.id} ({bug.product} :: {bug.component}) is watched by no rule"
    )
    return Reply(text=text, document=jsonout.explain_document(explained))


def queue_command(args: argparse.Namespace) -> Reply:
    """Reads only, from Bugzilla; creates no database."""
    rows = views.queue(command_config(args))
    render = awaiting.render_markdown if args.format == "markdown" else awaiting.render_text
    return Reply(text=render(rows), document=jsonout.queue_document(rows))


def status_command(args: argparse.Namespace) -> Reply:
    """From the database only; creates none."""
    view = views.status(command_config(args))
    return Reply(
        code=Exit.DONE if view.ok else Exit.FOUND,
        text=output.status(view),
        document=jsonout.status_document(view),
    )
