"""`triagebot demo`: the whole job, offline, against the built-in loopback Bugzilla.

It files a handful of realistic requests in the loopback server, then runs exactly what an
operator runs — `triagebot --config FILE once --live` — and shows what a triager now sees in
Bugzilla. A second poll shows that nothing is posted twice. Everything it writes stays in a
temporary directory unless `--keep DIR` is given.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from triagebot.devserver import FakeBugzilla
from triagebot.validate import load_registry

DEMO_KEY = "demo-api-key-not-secret"
BOT = "triagebot@example.org"
PRODUCT = "Participation Infrastructure"


@dataclass(frozen=True)
class DemoBug:
    label: str  # what this request shows
    summary: str
    description: str
    creator: str
    creator_id: int | None = None
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
        "a look-alike email of a delegate (Cyrillic 'а')",
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


def seed(server: FakeBugzilla, now: datetime, data: Path) -> list[tuple[int, DemoBug]]:
    """Files the demo requests. Every person in the registry gets a Bugzilla account, as on a
    real tracker, so the needinfo requests to delegates are accepted."""
    registry = load_registry(data).registry
    if registry is not None:
        for person in registry.people.values():
            for email in person.emails:
                server.add_user(email, person.name)
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


def source_dir() -> Path:
    """Where the shipped data/ and rules/ are: the current directory if it has them, else the
    source tree this package was installed from."""
    for base in (Path.cwd(), Path(__file__).resolve().parents[1]):
        if (base / "data").is_dir() and (base / "rules").is_dir():
            return base
    raise SystemExit("triagebot demo: cannot find data/ and rules/; run it from the source tree")


def write_config(workdir: Path, url: str, base: Path, start: datetime) -> Path:
    key_file = workdir / "api-key"
    key_file.write_text(DEMO_KEY + "\n", encoding="utf-8")
    key_file.chmod(0o600)
    config = workdir / "triagebot.toml"
    config.write_text(
        textwrap.dedent(
            f"""\
            # Written by `triagebot demo`: the loopback Bugzilla and the shipped data.
            [bugzilla]
            url = "{url}"
            api_key_file = "{key_file}"
            api_key_in = "query"
            bot_login = "{BOT}"
            requests_per_minute = 0

            [registry]
            path = "{base / "data"}"

            [rules]
            path = "{base / "rules"}"

            [database]
            url = "sqlite:///{workdir / "triagebot.db"}"

            [poll]
            start = {start:%Y-%m-%dT%H:%M:%SZ}

            [run]
            dry_run = false
            """
        ),
        encoding="utf-8",
    )
    return config


class Painter:
    def __init__(self, stream: io.TextIOBase | None = None) -> None:
        stream = stream or sys.stdout
        self.color = stream.isatty() and "NO_COLOR" not in os.environ

    def __call__(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text


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
            lines.extend(
                textwrap.wrap(line, 76, initial_indent="  │ ", subsequent_indent="  │ ") or ["  │"]
            )
    return "\n".join(lines)


def run_once(config: Path) -> tuple[int, str]:
    """`triagebot --config FILE once --live`, in process, output captured."""
    from triagebot.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["--config", str(config), "once", "--live"])
    return code, out.getvalue()


def run_demo(serve: bool = False, port: int = 0, keep: str | None = None) -> int:
    paint = Painter()
    base = source_dir()
    with contextlib.ExitStack() as stack:
        if keep:
            workdir = Path(keep).resolve()
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="triagebot-")))
        server = FakeBugzilla(api_key=DEMO_KEY, bot_login=BOT, port=port)
        url = server.start()
        stack.callback(server.stop)
        now = datetime.now(UTC).replace(microsecond=0)
        filed = seed(server, now, base / "data")
        config = write_config(workdir, url, base, now - timedelta(hours=1))
        if serve:
            return serve_forever(server, config, filed, paint)
        print(paint(f"Loopback Bugzilla at {url}, {len(filed)} new requests filed.", "1"))
        print(f"$ triagebot --config {config.name} once --live")
        code, text = run_once(config)
        print(textwrap.indent(text.rstrip("\n"), "  "))
        print()
        print(paint("What a triager now sees in Bugzilla:", "1"))
        for bug_id, demo in filed:
            print()
            print(show_bug(server, bug_id, demo, paint))
        print()
        posted = sum(c["creator"] == BOT for b, _ in filed for c in server.comments_of(b))
        print(paint("Second poll (nothing new, nothing posted twice):", "1"))
        code2, text2 = run_once(config)
        print(textwrap.indent(text2.rstrip("\n"), "  "))
        again = sum(c["creator"] == BOT for b, _ in filed for c in server.comments_of(b))
        print(f"\ncomments by triagebot: {posted} after the first poll, {again} after the second.")
        if keep:
            print(f"kept the database and config in {workdir}")
        return 0 if code == 0 and code2 == 0 and again == posted else 1


def serve_forever(server: FakeBugzilla, config: Path, filed: list, paint: Painter) -> int:
    import time

    print(paint(f"Loopback Bugzilla running at {server.url} with {len(filed)} demo bugs.", "1"))
    print(f"A ready configuration: {config}\n")
    print(config.read_text(encoding="utf-8"))
    print("Try, in another terminal:")
    print(f"  triagebot --config {config} once --dry-run")
    print(f"  triagebot --config {config} explain {filed[0][0]}")
    print(f"  triagebot --config {config} once --live")
    print(f"  triagebot --config {config} status")
    print("Ctrl-C stops the server.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nstopped")
    return 0
