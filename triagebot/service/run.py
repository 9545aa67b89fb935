"""Wiring: from a validated `Config` to a ready `Poller`, and the scheduled `run` loop.

Kept apart from `cli` so that `once`, `run`, `explain` and `demo` build the bot the same way:
the demo is the real `once --live` against a loopback server, not a special case.
"""

from __future__ import annotations

import gc
import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from triagebot.bugzilla.client import BugzillaError, Client
from triagebot.core.registry import Registry
from triagebot.files.config import Config, ConfigError
from triagebot.files.rules import Rule, load_rules
from triagebot.files.validate import load_registry
from triagebot.service import golive
from triagebot.service.notify import Notifier
from triagebot.service.poller import Poller, PollReport, PollSettings
from triagebot.service.push import PushAuth
from triagebot.service.serve import Service
from triagebot.service.watch import Reloader, TryAgain
from triagebot.service.writer import BugzillaWriter, Recorder
from triagebot.state.store import Store

log = logging.getLogger(__name__)

# How long a passed product check is trusted by `once` (see check_products).
PRODUCT_CHECK_TTL = timedelta(hours=24)
# How often `run` looks whether it was told to stop.
STOP_CHECK_SECONDS = 0.2


@dataclass
class Bot:
    config: Config
    client: Client
    store: Store
    registry: Reloader[Registry]
    rules: Reloader[list[Rule]]
    poller: Poller


def load_registry_strict(path: Path) -> Registry:
    result = load_registry(path)
    if result.registry is None:
        raise ConfigError([str(p) for p in result.errors])
    for warning in result.warnings:
        log.warning("registry: %s", warning)
    return result.registry


def make_client(config: Config) -> Client:
    return Client.configured(config.bugzilla, config.bugzilla.api_key())


def build_bot(config: Config, *, live: bool, no_limit: bool = False) -> Bot:
    """Everything validated up front: config, registry, rules, the API key when live, and the
    rules' products on the server. Raises ConfigError with every problem found."""
    api_key = config.bugzilla.api_key()
    if live and not api_key:
        raise ConfigError(
            [
                f"live mode needs an API key: set ${config.bugzilla.api_key_env} or [bugzilla] "
                "api_key_file (read-only dry runs need none)"
            ]
        )
    registry = Reloader(
        lambda: load_registry_strict(config.registry.path), [config.registry.path], "registry"
    )
    rules = Reloader(partial(load_rules, config.rules.path), [config.rules.path], "rules")
    problems = registry.load_first() + rules.load_first()
    if problems:
        raise ConfigError(problems)

    def go_live_check(new_registry: Registry, new_rules: list[Rule]) -> None:
        if live:
            url, path = config.bugzilla.url, config.registry.path
            problems = golive.live_problems(url, new_registry, path, new_rules)
            if problems:
                raise ConfigError(problems)

    go_live_check(registry.current(), rules.current())
    # A reload that `run --live` picks up is held to the same check: refused, the last good
    # version kept, and `status` shows why.
    registry.accept = lambda new: go_live_check(new, rules.current())
    # What is loaded so far lives as long as the process: keep it out of every later cyclic
    # collection, which would otherwise walk a large registry's millions of objects each
    # time (a tenth of a big poll's CPU). Refcounting still frees a registry replaced by a
    # reload; only cycles among these objects would outlive it, and they hold none.
    gc.freeze()
    client = make_client(config)
    store = Store(
        config.database.url, poll_history=timedelta(days=config.database.poll_history_days)
    )
    settings = PollSettings(
        max_actions=None if no_limit else config.run.max_actions_per_run,
        start=config.poll.start,
        overlap=timedelta(minutes=config.poll.overlap_minutes),
        page_size=config.bugzilla.page_size,
        # a write may still land until every try and backoff is over (plus a second)
        intent_grace=timedelta(seconds=client.write_window + 1),
        # a dead poller's rule is taken over within two poll intervals, but never while
        # one of its writes may still be under way
        lease_ttl=max(
            timedelta(minutes=config.poll.interval_minutes),
            timedelta(seconds=2 * client.write_window),
        ),
        bot_login=config.bugzilla.bot_login,
        max_attempts=config.run.max_attempts,
    )
    # A dry run is the same poll with a writer that records instead of sending.
    markdown = config.bugzilla.markdown_comments
    writer = BugzillaWriter(client, markdown) if live else Recorder(markdown)
    poller = Poller(client, store, registry.current, rules.current, settings, writer)
    bot = Bot(config, client, store, registry, rules, poller)

    def accept_rules(new: list[Rule]) -> None:
        """Edited rules are used only once what they watch exists on the server."""
        go_live_check(registry.current(), new)
        try:
            check_products(bot, rules=new)
        except BugzillaError as exc:
            raise TryAgain(f"checking the products on Bugzilla: {exc}") from None

    rules.accept = accept_rules
    return bot


def check_products(bot: Bot, *, cached: bool = True, rules: list[Rule] | None = None) -> None:
    """An unknown product or component silently returns no bugs: fail clearly instead.

    A pass is remembered in the store for PRODUCT_CHECK_TTL, keyed by the server and exactly
    what the rules watch, so a cron-driven `once` does not pay this request on every poll;
    editing a rule's product or components changes the key and checks again. `run` checks
    once at start-up (cached=False)."""
    wanted: dict[str, list[str]] = {}
    for rule in bot.rules.current() if rules is None else rules:
        wanted.setdefault(rule.product, []).extend(rule.components)
    key = "products " + json.dumps(
        [bot.config.bugzilla.url, sorted((p, sorted(set(c))) for p, c in wanted.items())],
        ensure_ascii=False,
    )
    bot.client.connect()
    if cached:
        passed = bot.store.check_passed_since(key)
        if passed is not None and datetime.now(UTC) - passed < PRODUCT_CHECK_TTL:
            log.debug("products checked at %s: not asking again", passed.isoformat())
            return
    problems = bot.client.check_products(wanted)
    if problems:
        bot.store.forget_check(key)
        raise ConfigError([f"{bot.config.bugzilla.url}: {p}" for p in problems])
    bot.store.record_check_passed(key)


def resolve_bot_login(bot: Bot, *, live: bool) -> None:
    """`[bugzilla] bot_login`, else the server's `GET /rest/whoami` (one request; Bugzilla 5.0
    has none). Live without either is an error (golive.no_login)."""
    login = bot.config.bugzilla.bot_login
    if login is None and bot.config.bugzilla.api_key():
        login = bot.client.whoami()
    if login is None and live:
        raise ConfigError([golive.no_login(bot.config, bot.config.bugzilla.url)])
    bot.poller.settings.bot_login = login


def record_reload_problems(bot: Bot, reported: dict[str, list[str]]) -> None:
    """Keep the registry and rules problems of the running bot in the store, where `status`
    (another process) reads them. Written only when they change; `reported` is what was."""
    for reloader in (bot.registry, bot.rules):
        if reported.get(reloader.what) == reloader.errors:
            continue
        try:
            bot.store.set_reload_problems(reloader.what, reloader.errors)
        except Exception:  # `status` only misses a note; `run` must go on (tried next reload)
            log.exception("could not record the %s problems for `status`", reloader.what)
            continue
        reported[reloader.what] = list(reloader.errors)


def service_for(bot: Bot) -> Service:
    """`run`'s schedule, metrics and listener from `[http]` and `[push]`."""
    config = bot.config
    push_auth = None
    if config.push.header is not None:
        where = config.path or "configuration"
        if config.http.address is None:
            raise ConfigError(
                [f"{where}: [push] needs [http] listen, the address webhooks are sent to"]
            )
        secret = config.push.secret()
        if secret is None:
            raise ConfigError(
                [
                    f"{where}: [push] has no secret: set secret_env (and that variable), "
                    "secret_file, or systemd's credential push-secret"
                ]
            )
        push_auth = PushAuth(config.push.header, secret)
    return Service(
        interval=timedelta(minutes=config.poll.interval_minutes),
        rules=bot.rules.current,
        store=bot.store,
        session=bot.client.session,
        bot_login=lambda: bot.poller.settings.bot_login,
        listen=config.http.address,
        push_auth=push_auth,
    )


def poll_status(reports: list[PollReport], now: datetime) -> str:
    """What `systemctl status` shows after a poll."""
    parts = [
        f"{fields['rule']} {fields['outcome']}, {fields['acted']} written"
        for fields in (report.log_fields() for report in reports)
    ]
    return f"last poll {now:%Y-%m-%d %H:%M:%S}Z: {'; '.join(parts) or 'no rule due'}"


def run_forever(
    bot: Bot,
    on_report: Callable[[list[PollReport]], None],
    stop: threading.Event,
    service: Service | None = None,
) -> int | None:
    """Poll now, every `[poll] interval_minutes` and at once for a push, one poll at a time,
    re-reading changed registry and rules first. Returns once `stop` is set or, from the main
    thread, on SIGINT/SIGTERM (its number): the poll under way ends after its write in flight.

    Under systemd: READY=1 when the first poll starts, WATCHDOG=1 from a job of the scheduler
    (so a scheduler that stopped running jobs is restarted), STOPPING=1 on the way out."""
    from apscheduler.schedulers.background import BackgroundScheduler

    notifier = Notifier()
    reported: dict[str, list[str]] = {}
    service = service or service_for(bot)

    # The handler only appends: taking a lock (Event.set, logging) in a signal handler can
    # deadlock against the interrupted main thread.
    signals: list[int] = []

    def round() -> None:
        if signals or stop.is_set():  # a turn that waited behind the last poll: not now
            return
        try:
            bot.registry.refresh()
            bot.rules.refresh()
            record_reload_problems(bot, reported)
            rules = bot.rules.current()
            due = set(service.schedule.due(r.name for r in rules))
            reports = service.poll(bot.poller, [r for r in rules if r.name in due])
            on_report(reports)
            notifier.status(poll_status(reports, datetime.now(UTC)))
        except Exception:  # logged here, redacted; the next poll tries again
            log.exception("poll failed; trying again at the next interval")

    def job() -> None:
        notifier.ready(f"polling every {bot.config.poll.interval_minutes:g} min")
        service.schedule.run(round, time.sleep)

    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(
        job,
        "interval",
        minutes=bot.config.poll.interval_minutes,
        next_run_time=datetime.now(UTC),  # the first poll at start
        max_instances=2,  # the schedule runs one at a time; a second waits (schedule.run)
        coalesce=True,  # after a pause (suspend, a long poll) one poll, not a burst
        misfire_grace_time=None,  # a late turn still runs
        id="poll",
    )
    service.schedule.attach(lambda when: scheduler.modify_job("poll", next_run_time=when))
    if notifier.watchdog_seconds is not None:
        scheduler.add_job(
            notifier.watchdog,
            "interval",
            seconds=notifier.watchdog_seconds / 3,  # systemd's advice: well within the period
            next_run_time=datetime.now(UTC),
            id="watchdog",  # one at a time, coalesced: APScheduler's defaults
        )

    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda n, _frame: signals.append(n))
    try:
        log.debug("polling every %s minutes", bot.config.poll.interval_minutes)
        scheduler.start()
        service.start(lambda: scheduler.running)
        while not signals and not stop.wait(STOP_CHECK_SECONDS):
            pass
        why = signal.Signals(signals[0]).name if signals else "request"
        bot.poller.stop_requested = why
        if signals:
            log.info("received %s, stopping after the write in flight", why)
        notifier.stopping(f"stopping on {why}")
        service.stop()
        scheduler.shutdown(wait=True)
        log.info("stopped")
        return signals[0] if signals else None
    finally:
        service.stop()
        if scheduler.running:
            scheduler.shutdown(wait=False)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
