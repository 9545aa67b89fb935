"""Wiring: from a validated `Config` to a ready `Poller`, and the scheduled `run` loop.

Kept apart from `cli` so that `once`, `run`, `explain` and `demo` build the bot the same way:
the demo is the real `once --live` against a loopback server, not a special case.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from triagebot.bugzilla import Client
from triagebot.config import Config, ConfigError
from triagebot.poller import Poller, PollReport, PollSettings
from triagebot.registry import Registry
from triagebot.rules import Rule, load_rules
from triagebot.store import Store
from triagebot.validate import load_registry
from triagebot.watch import Reloader

log = logging.getLogger(__name__)

# Without `[poll] start`, the first poll looks this far back.
DEFAULT_LOOKBACK = timedelta(days=7)


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


def rules_loader(path: Path) -> Callable[[], list[Rule]]:
    """Rules errors raised as ConfigError, so every start-up problem is reported alike."""

    def load() -> list[Rule]:
        try:
            return load_rules(path)
        except Exception as exc:
            problems = getattr(exc, "problems", None)
            if problems is None:
                raise
            raise ConfigError([str(p) for p in problems]) from None

    return load


def build_bot(config: Config, *, live: bool, no_limit: bool = False) -> Bot:
    """Everything validated up front: config, registry, rules, the API key when live, and the
    rules' products on the server. Raises ConfigError with every problem found."""
    api_key = config.api_key()
    if live and not api_key:
        raise ConfigError(
            [
                f"live mode needs an API key: set ${config.api_key_env} or [bugzilla] "
                "api_key_file (read-only dry runs need none)"
            ]
        )
    registry = Reloader(
        lambda: load_registry_strict(config.registry_path), [config.registry_path], "registry"
    )
    rules = Reloader(rules_loader(config.rules_path), [config.rules_path], "rules")
    problems = registry.load_first() + rules.load_first()
    if problems:
        raise ConfigError(problems)
    client = Client(
        config.bugzilla_url,
        api_key,
        key_in=config.key_in,
        timeout=config.timeout_seconds,
        requests_per_minute=config.requests_per_minute,
    )
    store = Store(config.database_url)
    start = config.start or datetime.now(UTC) - DEFAULT_LOOKBACK
    settings = PollSettings(
        live=live,
        max_actions=None if no_limit else config.max_actions_per_run,
        start=start,
        overlap=timedelta(minutes=config.overlap_minutes),
        page_size=config.page_size,
        intent_grace=timedelta(seconds=2 * config.timeout_seconds),
        bot_login=config.bot_login,
    )
    poller = Poller(client, store, registry.current, rules.current, settings)
    return Bot(config, client, store, registry, rules, poller)


def check_products(bot: Bot) -> None:
    """An unknown product or component silently returns no bugs: fail clearly instead."""
    wanted: dict[str, list[str]] = {}
    for rule in bot.rules.current():
        wanted.setdefault(rule.product, []).extend(rule.components)
    problems = bot.client.check_products(wanted)
    if problems:
        raise ConfigError([f"{bot.config.bugzilla_url}: {p}" for p in problems])


def run_forever(bot: Bot, on_report: Callable[[list[PollReport]], None]) -> None:
    """Poll now and every interval, one poll at a time; stop cleanly on SIGINT/SIGTERM."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = BlockingScheduler(timezone=UTC)
    stopping = threading.Event()

    def job() -> None:
        bot.registry.refresh()
        bot.rules.refresh()
        reports: list[PollReport] = bot.poller.poll()
        on_report(reports)

    scheduler.add_job(
        job,
        "interval",
        minutes=bot.config.interval_minutes,
        next_run_time=datetime.now(UTC),
        max_instances=1,
        coalesce=True,
        id="poll",
    )

    def stop(signum: int, _frame: object) -> None:
        if not stopping.is_set():
            stopping.set()
            log.info("received %s, stopping after the current poll", signal.Signals(signum).name)
            scheduler.shutdown(wait=True)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    log.info("polling every %s minutes", bot.config.interval_minutes)
    scheduler.start()
