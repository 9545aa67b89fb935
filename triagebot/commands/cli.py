"""The `triagebot` command line. Parses, dispatches, prints; the work happens elsewhere.

Exit codes (scripts rely on them): 0 everything handled; 1 some bugs failed and will be
retried, or `registry check` found errors, or `registry find` found nobody; 2 configuration or
usage errors.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from triagebot import __version__
from triagebot.bugzilla.client import (
    KEY_REJECTED,
    BugzillaError,
    BugzillaUnreachable,
    NotABugzilla,
)
from triagebot.commands import output, registry_tools
from triagebot.files.config import Config, ConfigError, load_config
from triagebot.service import logs

log = logging.getLogger("triagebot")

EPILOG = """\
configuration: --config FILE, else $TRIAGEBOT_CONFIG, else ./triagebot.toml,
else defaults (see config.example.toml). The API key comes from
$TRIAGEBOT_API_KEY or [bugzilla] api_key_file.

exit codes: 0 all handled, 1 some bugs failed (retried next poll) or check found
errors, 2 configuration or usage error.
"""
DESCRIPTION = """\
Tell Community IT triagers whether a Bugzilla request is backed by the community
it names: match the reporter against the delegate registry, then comment, tag
and needinfo."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="triagebot",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", metavar="FILE", help="configuration file (TOML)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    parser.add_argument(
        "--log-format",
        choices=[f.value for f in logs.LogFormat],
        help="log lines as text (default) or one JSON object per line (for `run` under a "
        "log collector); overrides [log] format",
    )
    parser.add_argument("--version", action="version", version=f"triagebot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    reg = sub.add_parser("registry", help="check, search and render the delegate registry")
    regsub = reg.add_subparsers(dest="registry_command", metavar="SUBCOMMAND", required=True)
    check = regsub.add_parser(
        "check", help="validate the registry files; exit 1 on any error, warnings on stderr"
    )
    check.add_argument(
        "dir_positional", nargs="?", metavar="DIR", help="registry directory (same as --dir)"
    )
    check.add_argument("--dir", help="registry directory (default: config or ./data)")
    find = regsub.add_parser("find", help="who is this email or Bugzilla id, and what roles")
    find.add_argument("query", help="an email (Bugzilla login) or a numeric Bugzilla user id")
    find.add_argument("--dir", help="registry directory")
    find.add_argument(
        "--json",
        action="store_true",
        help="one JSON document (keys in the README, Scriptable output)",
    )
    show = regsub.add_parser("show", help="one community: delegates, contacts, resources")
    show.add_argument("slug", help="community slug, name or alias")
    show.add_argument("--dir", help="registry directory")
    show.add_argument(
        "--json",
        action="store_true",
        help="one JSON document (keys in the README, Scriptable output)",
    )
    render = regsub.add_parser("render", help="the public directory page (public contacts only)")
    render.add_argument("--format", choices=["markdown", "html", "json"], default="markdown")
    render.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    render.add_argument("--dir", help="registry directory")
    render.add_argument(
        "--correction-url",
        metavar="URL",
        help="where each card's 'Request a correction' points ({slug} and {name} are "
        "filled in; default: a new bug on the configured Bugzilla)",
    )
    registry_tools.add_parsers(regsub.add_parser)
    schema = regsub.add_parser(
        "schema",
        help="the JSON Schemas of people.toml, community files and policy.toml, for editors",
        description="Print the JSON Schemas generated from the registry's model, one per "
        'file kind ({"people": ..., "community": ..., "policy": ...}); with --out DIR, write '
        "them as people.schema.json, community.schema.json and policy.schema.json. A "
        "`#:schema` line at the top of a "
        "file points Even Better TOML and taplo at them.",
    )
    schema.add_argument("--out", metavar="DIR", help="write the schema files into DIR")

    once = sub.add_parser(
        "once",
        help="run one poll and print one line per bug",
        description="One poll of every rule: new bugs since the last poll (or [poll] start), "
        "one line per bug (BUG OUTCOME COMMUNITY ACTION) and a summary; a dry run also prints "
        "each comment it would post. Dry run unless --live or [run] dry_run = false. "
        "Exit 0 when every bug was handled, 1 when some failed (retried next poll) or the "
        "action cap stopped the poll, 2 for a configuration error.",
    )
    _live_flags(once)
    once.add_argument(
        "--json",
        action="store_true",
        help="one JSON document (keys in the README, Scriptable output)",
    )
    run = sub.add_parser(
        "run",
        help="poll every [poll] interval_minutes until stopped",
        description="Poll at start and every [poll] interval_minutes, one poll at a time, "
        "re-reading data/ and rules/ when they change (a broken edit is logged and the last "
        "good version kept). SIGTERM stops it after the write in flight (exit 0; SIGINT: "
        "130); a URL that is not a Bugzilla's, an unknown product or a refused key exit 2, "
        "Bugzilla unreachable at start-up 1. Logs go to stderr; `triagebot status` shows what "
        "it did.",
    )
    _live_flags(run)
    explain = sub.add_parser(
        "explain",
        help="show the decision and exact comment for one bug",
        description="Read one bug (two requests) and print what the bot decides for it and "
        "why, the exact comment, whiteboard and needinfo, and what the database says was "
        "done. Never writes.",
    )
    explain.add_argument("bug", type=int, help="bug number")
    explain.add_argument(
        "--json",
        action="store_true",
        help="one JSON document (keys in the README, Scriptable output)",
    )
    status = sub.add_parser(
        "status",
        help="last polls, counts per outcome, unfinished writes",
        description="From the database only (no request to Bugzilla): the last polls, counts "
        "per outcome, writes not yet confirmed, failed bugs, and problems in the registry "
        "and rules files, including those a running bot could not reload.",
    )
    status.add_argument(
        "--json",
        action="store_true",
        help="one JSON document (keys in the README, Scriptable output)",
    )
    queue = sub.add_parser(
        "queue",
        help="bugs awaiting endorsement, per community",
        description="Ask Bugzilla (one search per page and rule) for the bugs tagged "
        "[endorsement-needed]: per community, each bug's age, who the bot asked and whether "
        "it is stale. --format markdown for a weekly triage post, --json for scripts. "
        "Never writes.",
    )
    queue.add_argument("--format", choices=["text", "markdown", "json"], default="text")
    queue.add_argument("--json", action="store_true", help="same as --format json")
    init = sub.add_parser(
        "init",
        help="scaffold a deployment: triagebot.toml, rules/, an empty registry",
        description="Write triagebot.toml (dry run, commented), rules/ (the shipped rule and "
        "templates, directory link to fill in) and data/ (an empty registry with a commented "
        "example) into DIR, overwriting nothing. --live is refused until data/ lists real "
        "delegates and the link is set. Exit 0, or 2 when something is in the way.",
    )
    init.add_argument("dir", nargs="?", default=".", metavar="DIR", help="default: here")
    retry = sub.add_parser(
        "retry",
        help="put a bug the bot gave up on back in the queue",
        description="A bug whose write Bugzilla refused with the same error [run] "
        "max_attempts times is given up (`status` lists it with its error). Once the cause is "
        "fixed, this puts it back: the next poll writes on it. Exit 1 if it was not given up.",
    )
    retry.add_argument("bug", type=int, help="bug number")
    retry.add_argument("--rule", help="only this rule's record (default: every rule)")
    db = sub.add_parser("db", help="the database schema (migrations)")
    dbsub = db.add_subparsers(dest="db_command", metavar="SUBCOMMAND", required=True)
    dbsub.add_parser(
        "upgrade",
        help="apply the schema migrations now (the bot also applies them at start-up)",
    )
    demo = sub.add_parser(
        "demo",
        help="the whole job offline, against a built-in loopback Bugzilla",
        description="Start a loopback Bugzilla 5.0 stand-in, file eight realistic requests "
        "against the shipped data/, run exactly what `triagebot once --live` runs, show what "
        "a triager then sees on each bug (comment, whiteboard, needinfo), and poll again to "
        "show nothing is posted twice. Offline; writes only in a temporary directory (or "
        "--keep DIR). --serve keeps the stand-in running for trying commands by hand, and "
        "prints a ready config and a curl line that files a new bug.",
    )
    demo.add_argument("--serve", action="store_true", help="keep the loopback Bugzilla running")
    demo.add_argument("--port", type=int, default=0, help="port for --serve (default: free)")
    demo.add_argument("--keep", metavar="DIR", help="keep the database and log in DIR")
    for child in dict.fromkeys([*sub.choices.values(), *regsub.choices.values()]):
        # `-v` after the subcommand too (`triagebot once -v`); SUPPRESS keeps the count
        # given before it when the subcommand has none.
        child.add_argument(
            "-v",
            "--verbose",
            action="count",
            default=argparse.SUPPRESS,
            help="more logging (-vv: debug)",
        )
    return parser


def _live_flags(p: argparse.ArgumentParser) -> None:
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--live", action="store_true", help="write to Bugzilla")
    mode.add_argument("--dry-run", action="store_true", help="print what would be written")
    p.add_argument(
        "--no-limit", action="store_true", help="lift [run] max_actions_per_run for this poll"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    default = logging.INFO if args.command == "run" else logging.WARNING
    logs.setup(args.verbose, default, args.log_format or logs.LogFormat.TEXT)
    try:
        code = dispatch(args)
        sys.stdout.flush()  # inside the try: a closed pipe is caught below, not at exit
        return code
    except ConfigError as exc:
        for problem in exc.problems:
            logs.say(logging.ERROR, str(problem))
        return 2
    except (BugzillaUnreachable, NotABugzilla) as exc:
        logs.say(logging.ERROR, str(exc))
        return 1 if exc.worth_a_retry else 2
    except BugzillaError as exc:
        # Before any poll (checking products, explain): no answer or a server error is worth
        # a retry (1); an answered error (a wrong key, no access) is the operator's to fix (2).
        logs.say(logging.ERROR, f"Bugzilla: {exc}")
        return 1 if exc.worth_a_retry else 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `triagebot demo | head`: the reader left. End quietly; the interpreter's last
        # flush of stdout must not complain either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a writer the pipe stopped


def dispatch(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from triagebot.demo.demo import run_demo

        return run_demo(
            main,
            color=output.use_color(sys.stdout),
            serve=args.serve,
            port=args.port,
            keep=args.keep,
        )
    if args.command == "init":
        from triagebot.tools import scaffold

        try:
            scaffold.init(Path(args.dir))
        except scaffold.InitError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(scaffold.next_steps(Path(args.dir)))
        return 0
    config = load_config(args.config)
    if config.path is None:
        from triagebot.commands.notices import defaults_notice

        logs.say(logging.WARNING, defaults_notice(config), prefix="")
    if args.command == "registry":
        return registry_command(args, config)
    if args.command in ("once", "run"):
        return poll_command(args, config)
    if args.command == "explain":
        return explain_command(args, config)
    if args.command == "status":
        return status_command(config, json_out=args.json)
    if args.command == "queue":
        return queue_command(args, config)
    if args.command in ("retry", "db"):
        from triagebot.commands.maintenance import db_command, retry_command

        return retry_command(args, config) if args.command == "retry" else db_command(config)
    raise AssertionError(args.command)


# -- registry -------------------------------------------------------------------------------
def registry_command(args: argparse.Namespace, config: Config) -> int:
    from triagebot.files.validate import load_registry

    if args.registry_command == "schema":
        from triagebot.files.schema import schema_command

        return schema_command(args.out)
    explicit = getattr(args, "dir", None) or getattr(args, "dir_positional", None)
    path = Path(explicit) if explicit else _default_registry(config)
    from triagebot.files.validate import utc_today

    today = utc_today()
    result = load_registry(path, today)
    if args.registry_command == "check":
        for problem in [*result.errors, *result.warnings]:
            print(f"{problem.severity}: {problem}", file=sys.stderr)
        print(output.check_summary(path, result))
        return 0 if result.ok else 1
    if result.registry is None:
        for problem in result.errors:
            print(f"error: {problem}", file=sys.stderr)
        print(f"{path}: the registry has errors; run: triagebot registry check", file=sys.stderr)
        return 2
    registry = result.registry
    if args.registry_command in registry_tools.COMMANDS:
        return registry_tools.run(args, config, path, registry, today)
    if args.registry_command == "find":
        text = output.find_person(registry, args.query, today)
        if args.json:
            from triagebot.commands import jsonout

            query = args.query.strip()
            person = (
                registry.person_by_bugzilla_id(int(query))
                if query.isdigit()
                else registry.person_by_email(query)
            )
            sys.stdout.write(jsonout.dumps(jsonout.person_document(registry, query, person, today)))
            return 0 if person is not None else 1
        if text is None:
            print(f"nobody in {path} matches {args.query!r}", file=sys.stderr)
            hint = output.lookalike_hint(args.query)
            if hint:
                print(hint, file=sys.stderr)
            return 1
        print(text)
        return 0
    if args.registry_command == "show":
        community = registry.community(args.slug)
        if community is None:
            print(output.unknown_community(registry, args.slug, path), file=sys.stderr)
            return 1
        if args.json:
            from triagebot.commands import jsonout

            document = jsonout.community_document(registry, community, today)
            sys.stdout.write(jsonout.dumps(document))
            return 0
        print(output.show_community(registry, community, today))
        return 0
    if args.registry_command == "render":
        from triagebot.tools import directory

        if args.format == "html":
            page = directory.render_html(registry, today, _correction_url(args, config))
        elif args.format == "json":
            page = directory.render_json(registry, today)
        else:
            page = directory.render_markdown(registry, today)
        if args.output:
            Path(args.output).write_text(page, encoding="utf-8")
            print(f"wrote {args.output}", file=sys.stderr)
        else:
            sys.stdout.write(page)
        return 0
    raise AssertionError(args.registry_command)


def _correction_url(args: argparse.Namespace, config: Config) -> str:
    from triagebot.tools import directory

    return args.correction_url or directory.default_correction_url(
        config.bugzilla_url, config.rules_path
    )


def _default_registry(config: Config) -> Path:
    if config.path is None:
        return Path("data")
    return config.registry_path


# -- polling --------------------------------------------------------------------------------
def _key_message(config: Config, reason: str) -> str:
    from triagebot.commands.notices import key_rejected

    return key_rejected(config, reason)


@contextlib.contextmanager
def _key_errors(config: Config) -> Iterator[None]:
    """A key Bugzilla refuses is a configuration error (exit 2) naming where it came from."""
    try:
        yield
    except BugzillaError as exc:
        if exc.code in KEY_REJECTED:
            raise ConfigError([_key_message(config, str(exc))]) from None
        raise


def _is_live(args: argparse.Namespace, config: Config) -> bool:
    if args.live:
        return True
    if args.dry_run:
        return False
    return not config.dry_run


def poll_command(args: argparse.Namespace, config: Config) -> int:
    from triagebot.service.poller import PollReport
    from triagebot.service.run import build_bot, check_products, resolve_bot_login, run_forever

    live = _is_live(args, config)
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
            extra={"live": live, "rules": rules, "interval_minutes": config.interval_minutes},
        )
        signum = run_forever(bot, on_report, stop)
        if refused:
            raise ConfigError([_key_message(config, refused[0])])
        return 130 if signum == signal.SIGINT else 0
    from triagebot.commands import progress

    bot.poller.progress = None if args.json else progress.for_stream(sys.stderr)

    def on_sigterm(signum: int, _frame: object) -> None:
        bot.poller.stop_requested = signal.Signals(signum).name  # after the write in flight

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        reports = bot.poller.poll()
    except KeyboardInterrupt:
        if isinstance(bot.poller.progress, progress.WriteProgress):
            bot.poller.progress.close()
        print(output.interrupted_line(bot.poller.reports, bot.store), file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    for report in reports:
        if report.error_code in KEY_REJECTED and report.error:
            raise ConfigError([_key_message(config, report.error)])
    # Told to stop (SIGTERM, a service manager or `timeout`): what was done is done, the
    # rest is the next poll's, and that is no failure.
    code = 0 if bot.poller.stop_requested else output.exit_code(reports)
    if args.json:
        from triagebot.commands import jsonout

        sys.stdout.write(jsonout.dumps(jsonout.poll_document(reports, code)))
        return code
    for report in reports:
        sys.stdout.write(output.poll_lines(report, color=output.use_color(sys.stdout)))
    return code


def explain_command(args: argparse.Namespace, config: Config) -> int:
    """Reads only: the bug, its comments and the store; never writes to Bugzilla."""
    from dataclasses import replace

    from triagebot.commands import jsonout
    from triagebot.core.triage import decide
    from triagebot.service.run import build_bot

    bot = build_bot(config, live=False)
    with _key_errors(config):
        bug = bot.client.get_bug(args.bug)
        comments = bot.client.comments([args.bug]).get(args.bug, []) if bug else []
    if bug is None:
        print(f"bug {args.bug} not found or not visible to this account", file=sys.stderr)
        return 1
    bug = replace(bug, description=next((c.text for c in comments if c.count == 0), ""))
    now = datetime.now(UTC)
    texts: list[str] = []
    views: list[dict] = []
    for rule in bot.rules.current():
        if not rule.watches(bug.product, bug.component):
            continue
        record = bot.store.records(rule.name, [bug.id]).get(bug.id)
        decision = decide(
            bug, bot.registry.current(), rule, now, markdown=bot.config.markdown_comments
        )
        posted = _posted(comments, record)
        start = bot.poller.start_for(rule)
        texts.append(output.explain(bug, rule.name, decision, record, start, posted))
        before = start is not None and bug.creation_time < start
        views.append(jsonout.explain_rule(rule.name, decision, record, posted, before))
    if args.json:
        sys.stdout.write(jsonout.dumps(jsonout.explain_document(bug, views)))
    elif texts:
        print("\n\n".join(texts))
    else:
        print(f"bug {bug.id} ({bug.product} :: {bug.component}) is watched by no rule")
    return 0


def _posted(comments: list, record: object) -> object:
    """The bot's comment for a done record: the one with its write's ref, else its id."""
    ref = getattr(record, "ref", None)
    comment_id = getattr(record, "comment_id", None)
    if getattr(record, "state", None) != "done":
        return None
    for comment in comments:
        if (ref and f"; ref {ref})" in comment.text) or (comment_id and comment.id == comment_id):
            return comment
    return None


def queue_command(args: argparse.Namespace, config: Config) -> int:
    """Reads only: one search per page and rule."""
    from triagebot.core import awaiting
    from triagebot.core.followup import AWAITING
    from triagebot.service.run import build_bot

    bot = build_bot(config, live=False)
    now, rows = datetime.now(UTC), []
    for rule in bot.rules.current():
        pages = bot.client.search_tagged(rule.product, list(rule.components), AWAITING)
        bugs = [bug for page in pages for bug in page]
        login = bot.poller.settings.bot_login
        rows += awaiting.entries(bugs, bot.registry.current(), rule, now, login, bot.client.url)
    fmt = "json" if args.json else args.format
    render = {"json": awaiting.render_json, "markdown": awaiting.render_markdown}
    sys.stdout.write(render.get(fmt, awaiting.render_text)(rows))
    return 0


def status_command(config: Config, json_out: bool = False) -> int:
    from triagebot.service.run import load_registry_strict, rules_loader
    from triagebot.state.store import Store

    problems: list[str] = []
    stale_days: dict[str, int] = {}
    try:
        load_registry_strict(config.registry_path)
    except ConfigError as exc:
        problems.extend(str(p) for p in exc.problems)
    try:
        rules = rules_loader(config.rules_path)()
        stale_days = {r.name: r.followup.stale_after_days for r in rules if r.followup}
    except ConfigError as exc:
        problems.extend(str(p) for p in exc.problems)
    from triagebot.commands import jsonout

    if not _has_state(config.database_url):
        if json_out:
            sys.stdout.write(jsonout.dumps(jsonout.status_document(None, problems)))
        else:
            print(output.status(None, problems))
    else:
        with Store(config.database_url) as store:
            if json_out:
                sys.stdout.write(jsonout.dumps(jsonout.status_document(store, problems)))
            else:
                print(output.status(store, problems, stale_days))
            problems.extend(p for r in store.reload_problems() for p in r.problems)
    return 1 if problems else 0


def _has_state(url: str) -> bool:
    """Is there a database to read? Not a SQLite file that does not exist: `status` must not
    create one. Other databases are created by their administrator."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return True
    name = parsed.database or ""
    return name not in ("", ":memory:") and Path(name).is_file()
