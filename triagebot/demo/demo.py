"""`triagebot demo`: the whole job, offline, against the built-in loopback Bugzilla.

It files a handful of realistic requests in the loopback server, then runs exactly what an
operator runs — `triagebot --config FILE once --live` — and shows what a triager now sees in
Bugzilla. Then a delegate answers `/endorse` on one bug: the second poll flips its tags
and posts the confirmation, and a third shows that nothing is posted twice. Last, push:
`triagebot run --live` with its safety poll at 60 minutes, the stand-in sending
bugzilla.mozilla.org's webhooks, and a new request annotated within a second. Everything it
writes stays in a temporary directory unless `--keep DIR` is given.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from triagebot import shipped
from triagebot.core.registry import Person
from triagebot.demo import devserver
from triagebot.demo.devserver import FakeBugzilla
from triagebot.files.validate import load_registry

log = logging.getLogger(__name__)

DEMO_KEY = "demo-api-key-not-secret"
BOT = "triagebot@example.org"
# `demo --serve`: a delegate's own key, for filing a bug with curl as that delegate.
REPORTER_KEY = "lucia-demo-key-not-secret"
REPORTER = "lucia@example.org"
PRODUCT = "Participation Infrastructure"
# What the demo writes in its directory; `--keep DIR` reuses only a directory marked as its own.
MARKER = ".triagebot-demo"
LOG_FILE = "triagebot.log"
DATABASE = "triagebot.db"

# The command line's entry point, passed in by `cli` (which imports this module, not the
# other way round, nor its views): the demo runs exactly what `triagebot once --live` runs.
CliMain = Callable[[list[str]], int]


@dataclass(frozen=True)
class DemoBug:
    label: str  # what this request shows
    summary: str
    description: str
    creator: str
    component: str = "Community IT"
    whiteboard: str = ""


# Reporters and communities come from the shipped data/ (fictional, example.org).
DEMO_BUGS: tuple[DemoBug, ...] = (
    DemoBug(
        "endorsed: a current delegate asks for their community",
        "Mailing list for Mozilla Hispano translators",
        "Hola! We would like a new list for our translators team.",
        "lucia@example.org",
    ),
    DemoBug(
        "community named only by its domain",
        "TLS certificate expired",
        "The certificate of https://mozfr.example.org/ expired yesterday, can you renew it?",
        "visitor@example.org",
    ),
    DemoBug(
        "a former delegate",
        "Renew hosting for the Tamil community site",
        "Our yearly hosting renewal for Mozilla Tamil is due.",
        "kavin@example.org",
    ),
    DemoBug(
        "an unknown reporter naming no community",
        "Need a server for our group",
        "We are a new group and would like a small server for our website.",
        "newcomer@example.org",
    ),
    DemoBug(
        "an ambiguous request",
        "Shared event page for MozFr and Mozilla Hispano",
        "A joint event: we need a page on both sites.",
        "visitor@example.org",
    ),
    DemoBug(
        "a look-alike email of a delegate (Cyrillic 'і' and 'а')",
        "Transfer the Mozilla Hispano domain to me",
        "Please move mozhispano.example.org to my account.",
        "lucіа@example.org",
    ),
    DemoBug(
        "a bug carrying [triagebot-skip]",
        "Migrate Mozilla Tamil wiki",
        "Handled by hand by the infra team.",
        "visitor@example.org",
        whiteboard="[triagebot-skip]",
    ),
    DemoBug(
        "a bug in another component (not watched)",
        "Mozilla Hispano: broken link on the events page",
        "The link to the calendar is broken.",
        "visitor@example.org",
        component="General",
    ),
)


# The push part: the header BMO's webhook form is given, and the value (not a secret here).
PUSH_HEADER = "X-Triagebot-Token"
PUSH_SECRET = "demo-push-token-not-secret"
PUSH_CONFIG = "triagebot-push.toml"
SAFETY_POLL_MINUTES = 60
PUSHED = DemoBug(
    "filed while `run` listens for webhooks",
    "Wiki space for Mozilla Hispano events",
    "Could Mozilla Hispano get a wiki space for its events?",
    "lucia@example.org",
)

# After the first poll, a current delegate of Mozilla Francophone endorses the request that
# named it only by its domain: the second poll flips its tags and posts the confirmation.
ANSWERED = "TLS certificate expired"
DELEGATE = "camille@example.org"
DELEGATE_NAME = "Camille Berthelot"
DELEGATE_ANSWER = "Yes, we need it renewed.\n/endorse"


def add_accounts(server: FakeBugzilla, people: Iterable[Person]) -> None:
    """Every login of `people` gets a Bugzilla account, as on a real tracker, so the needinfo
    requests to delegates are accepted; a person's listed `bugzilla_id` is the id of their
    first login (their other logins are accounts of their own), so `registry sync` against the
    stand-in finds the registry and Bugzilla in agreement."""
    people = list(people)
    for person in people:  # the listed ids first: the others are numbered after them
        if person.bugzilla_id is not None:
            server.add_user(person.emails[0], person.name, id=person.bugzilla_id)
    for person in people:
        for email in person.emails:
            server.add_user(email, person.name)


def seed(server: FakeBugzilla, now: datetime, data: Path) -> list[tuple[int, DemoBug]]:
    """Files the demo requests, after giving the registry's people their accounts."""
    registry = load_registry(data).registry
    add_accounts(server, registry.people.values() if registry else ())
    filed = []
    for n, bug in enumerate(DEMO_BUGS):
        bug_id = server.add_bug(
            bug.summary,
            bug.description,
            bug.creator,
            product=PRODUCT,
            component=bug.component,
            creation_time=now - timedelta(minutes=30 - n),
            whiteboard=bug.whiteboard,
        )
        filed.append((bug_id, bug))
    return filed


def write_config(workdir: Path, url: str, base: Path, start: datetime) -> Path:
    """The demo's config: the loopback Bugzilla, `base`'s data/ and rules/ (the shipped ones,
    `triagebot.shipped.ROOT`, or a test's copy)."""
    return devserver.write_config(
        workdir,
        url,
        api_key=DEMO_KEY,
        bot_login=BOT,
        data=base / "data",
        rules=base / "rules",
        start=start,
        written_by="`triagebot demo`: the loopback Bugzilla and the shipped data.",
    )


class Painter:
    """Bold and colour for the walk-through; `color` is the command line's decision (a
    terminal, no NO_COLOR), passed in so the demo needs none of its views."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text


# A bot comment as the walk-through quotes it; never split an address or URL.
_WRAP = textwrap.TextWrapper(
    76,
    initial_indent="  │ ",
    subsequent_indent="  │ ",
    break_long_words=False,
    break_on_hyphens=False,
)


def show_bug(server: FakeBugzilla, bug_id: int, demo: DemoBug, paint: Painter) -> str:
    state = server.bugs[bug_id]
    lines = [
        paint(f"Bug {bug_id}: {demo.summary}", "1"),
        f"  ({demo.label})",
        f"  reporter:   {demo.creator}",
        f"  component:  {PRODUCT} :: {demo.component}",
        f"  whiteboard: {state['whiteboard'] or '(empty)'}",
    ]
    needinfo = [
        f["requestee"] for f in state["flags"] if f["name"] == "needinfo" and f["status"] == "?"
    ]
    lines.append(f"  needinfo:   {', '.join(needinfo) or '(none)'}")
    bot_comments = [c for c in server.comments_of(bug_id) if c["creator"] == BOT]
    if not bot_comments:
        lines.append(paint("  no comment from triagebot", "2"))
    for comment in bot_comments:
        lines.append(paint(f"  comment #{comment['count']} by {BOT}:", "36"))
        for line in comment["text"].splitlines():
            lines += _WRAP.wrap(line) or ["  │"]
    return "\n".join(lines)


def run_once(config: Path, cli_main: CliMain, which: str) -> int:
    """`triagebot --config FILE once --live`, in process: its output indented, and logged."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli_main(["--config", str(config), "once", "--live"])
    text = out.getvalue().rstrip("\n")
    print(textwrap.indent(text, "  "))
    log.info("demo: %s poll:\n%s", which, text)
    return code


def prepare_keep(keep: str) -> Path:
    """`--keep DIR`: a new or empty directory, or one an earlier demo wrote (its database and
    log are replaced). Anything else is refused: the demo must not overwrite a real
    triagebot.toml or triagebot.db."""
    workdir = Path(keep).resolve()
    if workdir.exists() and not workdir.is_dir():
        raise DemoError(f"--keep {keep}: not a directory")
    if workdir.is_dir() and any(workdir.iterdir()) and not (workdir / MARKER).is_file():
        raise DemoError(
            f"--keep {keep}: the directory is not empty and was not written by the demo; "
            "give a new or empty directory"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / MARKER).write_text("written by `triagebot demo --keep`\n", encoding="utf-8")
    for name in (DATABASE, f"{DATABASE}-wal", f"{DATABASE}-shm", LOG_FILE):
        (workdir / name).unlink(missing_ok=True)
    return workdir


class DemoError(Exception):
    pass


@contextlib.contextmanager
def log_to(path: Path) -> Iterator[None]:
    """The bot's log (INFO and up) in `path` while the demo runs; the terminal keeps its level."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    logger = logging.getLogger("triagebot")
    level = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        handler.close()


def run_demo(
    cli_main: CliMain,
    *,
    color: bool = False,
    serve: bool = False,
    port: int = 0,
    keep: str | None = None,
) -> int:
    paint = Painter(color)
    with contextlib.ExitStack() as stack:
        if keep:
            try:
                workdir = prepare_keep(keep)
            except DemoError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="triagebot-")))
        stack.enter_context(log_to(workdir / LOG_FILE))
        server = FakeBugzilla(api_key=DEMO_KEY, bot_login=BOT, port=port)
        url = server.start()
        stack.callback(server.stop)
        now = datetime.now(UTC).replace(microsecond=0)
        filed = seed(server, now, shipped.DATA)
        config = write_config(workdir, url, shipped.ROOT, now - timedelta(hours=1))
        log.info("demo: loopback Bugzilla at %s, config %s", url, config)
        for bug_id, demo in filed:
            log.info("demo: filed bug %d (%s) by %s", bug_id, demo.label, demo.creator)
        if serve:
            server.add_user_key(REPORTER_KEY, REPORTER)
            return serve_forever(server, config, filed, paint)
        code = show_demo(server, config, filed, paint, cli_main)
        if not show_push(server, write_push_config(config), paint):
            code = code or 1
        log.info("demo: requests served: %s", dict(sorted(server.counts.items())))
        if keep:
            print(f"kept the database, log and config in {workdir}:")
            print(f"  {DATABASE}, {LOG_FILE}, {config.name}")
        return code


def show_demo(
    server: FakeBugzilla, config: Path, filed: list, paint: Painter, cli_main: CliMain
) -> int:
    print(paint(f"Loopback Bugzilla at {server.url}: {len(filed)} bugs filed.", "1"))
    print(f"$ triagebot --config {config.name} once --live")
    code = run_once(config, cli_main, "first")
    print("\n" + paint("What a triager now sees in Bugzilla:", "1"))
    for bug_id, demo in filed:
        print("\n" + show_bug(server, bug_id, demo, paint))
    print()

    def bot_comments() -> int:
        return sum(c["creator"] == BOT for b, _ in filed for c in server.comments_of(b))

    posted = bot_comments()
    answered, answered_demo = next((b, d) for b, d in filed if d.summary == ANSWERED)
    # Bugzilla stamps whole seconds: the answer comes in a later second than the bot's write.
    time.sleep(1.05 - time.time() % 1)
    server.add_comment(answered, DELEGATE_ANSWER, DELEGATE)
    print(paint(f"A delegate answers on bug {answered}:", "1"))
    print(f"  {DELEGATE_NAME} ({DELEGATE}) comments:")
    print(textwrap.indent(DELEGATE_ANSWER, "  │ "))
    print("\n" + paint("Second poll (the answer flips the tags and is confirmed):", "1"))
    code2 = run_once(config, cli_main, "second")
    print("\n" + show_bug(server, answered, answered_demo, paint))
    confirmed = bot_comments()
    print("\n" + paint("Third poll (nothing new, nothing posted twice):", "1"))
    code3 = run_once(config, cli_main, "third")
    again = bot_comments()
    print(f"\ncomments by triagebot: {posted}, then {confirmed} (the confirmation), then {again}.")
    log.info("demo: comments by triagebot: %d, then %d, then %d", posted, confirmed, again)
    ok = code == code2 == code3 == 0
    return 0 if ok and confirmed == posted + 1 and again == confirmed else 1


def write_push_config(config: Path) -> Path:
    """The demo's config for `run` with push: its listener on a free port, the push header
    and its value in an owner-only file, and the safety poll at 60 minutes."""
    secret = config.parent / "push-secret"
    secret.write_text(PUSH_SECRET + "\n", encoding="utf-8")
    secret.chmod(0o600)
    text = config.read_text(encoding="utf-8").replace(
        "[poll]\n", f"[poll]\ninterval_minutes = {SAFETY_POLL_MINUTES}\n", 1
    )
    text += (
        '\n[http]\nlisten = "127.0.0.1:0"\n'
        f'\n[push]\nheader = "{PUSH_HEADER}"\nsecret_file = "{secret}"\n'
    )
    path = config.parent / PUSH_CONFIG
    path.write_text(text, encoding="utf-8")
    return path


def show_push(server: FakeBugzilla, config: Path, paint: Painter) -> bool:
    """`triagebot run --live` with push, as a service runs it (a process of its own, stopped
    with SIGTERM): the stand-in sends BMO's webhooks to it, and a new request is annotated
    at once although the next poll is an hour away."""
    print(
        "\n" + paint(f"Push: `run` with its safety poll every {SAFETY_POLL_MINUTES} minutes:", "1")
    )
    print(f"$ triagebot --config {config.name} run --live")
    command = [sys.executable, "-m", "triagebot", "--config", str(config), "run", "--live"]
    bot = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=config.parent
    )
    lines: list[str] = []
    annotated = False
    try:
        assert bot.stderr is not None
        for line in bot.stderr:  # until the listener says where it is
            lines.append(line)
            log.info("demo: run: %s", line.rstrip("\n"))
            found = re.search(r"listening on (http://\S+)", line)
            if found:
                break
        else:
            print(textwrap.indent("".join(lines), "  "))
            return False
        base = found.group(1)
        print(f"  … listening on {base}")
        threading.Thread(target=_log_lines, args=(bot.stderr,), daemon=True).start()
        if not _wait(lambda: _status(f"{base}/readyz") == 200, 60):  # the poll at start
            return False
        server.add_webhook(
            f"{base}/hooks/bugzilla",
            name="triagebot",
            product=PRODUCT,
            component="Community IT",
            api_key_header=PUSH_HEADER,
            api_key_value=PUSH_SECRET,
        )
        print(f"A webhook on the stand-in: {PRODUCT} :: Community IT,")
        print(f"  events create, change, comment; header {PUSH_HEADER}.")
        filed_at = time.monotonic()
        bug_id = server.add_bug(PUSHED.summary, PUSHED.description, PUSHED.creator)
        print(f"{PUSHED.creator} files bug {bug_id}: {PUSHED.summary}")
        annotated = _wait(lambda: len(server.comments_of(bug_id)) > 1, 30)
        elapsed = time.monotonic() - filed_at
        if annotated:
            within = "within a second" if elapsed < 1 else "in more than a second"
            print(f"annotated {within} ({elapsed:.2f} s), by a poll the webhook moved up:")
        print("\n" + show_bug(server, bug_id, PUSHED, paint))
    finally:
        bot.send_signal(signal.SIGTERM)
        code = bot.wait(timeout=60)
        print(f"\nSIGTERM: `run` stopped, exit {code}.")
        log.info("demo: run exited %d", code)
    return annotated and code == 0


def _log_lines(stream: io.TextIOBase) -> None:
    for line in stream:
        log.info("demo: run: %s", line.rstrip("\n"))


def _status(url: str) -> int:
    """The HTTP status of GET url, straight (no proxy from the environment: loopback)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _wait(condition: Callable[[], object], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def file_bug_command(url: str) -> str:
    """A `curl` line filing one bug in the stand-in as the demo's delegate (Bug.create)."""
    bug = {"product": PRODUCT, "component": PUSHED.component, "version": "unspecified"}
    body = json.dumps(bug | {"summary": PUSHED.summary, "description": PUSHED.description})
    return (
        f"curl -s -X POST -H 'Content-Type: application/json' "
        f"'{url}/rest/bug?api_key={REPORTER_KEY}' -d '{body}'"
    )


def serve_forever(server: FakeBugzilla, config: Path, filed: list, paint: Painter) -> int:
    """Keep the loopback Bugzilla up until SIGINT (Ctrl-C) or SIGTERM; exit 0 then."""
    signals: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        signals.append(signum)  # no lock taken in a signal handler

    lines = [
        paint(f"Loopback Bugzilla running at {server.url} with {len(filed)} demo bugs.", "1"),
        f"config: {config}",
        "",
        config.read_text(encoding="utf-8").rstrip("\n"),
        "",
        "Try, in another terminal:",
        f"  triagebot --config {config} once --dry-run",
        f"  triagebot --config {config} explain {filed[0][0]}",
        f"  triagebot --config {config} once --live",
        f"  triagebot --config {config} status",
        "Or leave the bot running and file a new request as a delegate, with curl:",
        f"  triagebot --config {config} run",
        f"  {file_bug_command(str(server.url))}",
        "Ctrl-C stops the server.",
    ]
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        print("\n".join(lines), flush=True)  # a script reading the pipe waits for this
        while not signals:
            time.sleep(0.2)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    log.info("demo: stopped by %s", signal.Signals(signals[0]).name)
    print("\nstopped", flush=True)
    return 0
