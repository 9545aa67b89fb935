"""Benchmark: how long a reporter waits for the bot, with push and with polling.

The real `triagebot run --live` runs as a subprocess against the loopback Bugzilla
(`triagebot.demo.devserver.FakeBugzilla`, served from a thread of this process) with the
shipped data/ and rules/. Requests are filed into the stand-in at random moments (exponential
gaps, seeded), and for each the time from its filing to the bot's comment landing (the PUT
applied) is measured. Two modes:

* push: the stand-in sends BMO-shaped webhooks to `POST /hooks/bugzilla` (`[push]`), and
  the safety poll is every 60 minutes;
* poll: no push, a poll every minute (`[poll] interval_minutes = 1`).

Requests per idle hour: the requests the bot makes in an idle stretch of the polling run
(after every bug was commented, no change on the server), per poll, times the polls an hour
makes in each mode (60 polling every minute; 1 with push, its safety poll; webhooks are
requests Bugzilla makes, not the bot).

    .venv/bin/python bench/latency_bench.py                    # 50 bugs over 3 min per mode
    .venv/bin/python bench/latency_bench.py --bugs 10 --spread 20 --modes push

Goal (issue 18): push p95 under 2 s on the stand-in.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from triagebot.demo import demo  # noqa: E402
from triagebot.demo.devserver import FakeBugzilla  # noqa: E402

HEADER = "X-Triagebot-Token"
SECRET = "latency-bench-not-secret"
PUSH_INTERVAL = 60.0  # minutes: the safety poll with push
POLL_INTERVAL = 1.0  # minutes: polling every minute
GOAL_P95 = 2.0  # seconds, push
IDLE_POLLS = 2  # polls counted in the idle stretch of the polling run
LISTENING = re.compile(r"listening on (http://\S+)")
# The demo's requests that get a comment (not the skip-tagged one, nor the unwatched one).
REQUESTS = [b for b in demo.DEMO_BUGS if not b.whiteboard and b.component == "Community IT"]


class TimedBugzilla(FakeBugzilla):
    """The stand-in, noting when the first comment of the bot on each bug was applied."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.commented: dict[int, float] = {}

    def answer(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        status, document = super().answer(method, target, headers, body)
        parts = urlsplit(target).path.split("/")
        if method == "PUT" and status == 200 and b'"comment"' in body and parts[-1].isdigit():
            self.commented.setdefault(int(parts[-1]), time.monotonic())
        return status, document


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def write_config(workdir: Path, url: str, interval: float, push: bool) -> Path:
    path = demo.write_config(workdir, url, ROOT, datetime.now(UTC) - timedelta(hours=1))
    text = path.read_text(encoding="utf-8")
    text = text.replace("[poll]\n", f"[poll]\ninterval_minutes = {interval}\n", 1)
    text += '\n[http]\nlisten = "127.0.0.1:0"\n'
    if push:
        secret = workdir / "push-secret"
        secret.write_text(SECRET + "\n", encoding="utf-8")
        secret.chmod(0o600)
        text += f'\n[push]\nheader = "{HEADER}"\nsecret_file = "{secret}"\n'
    path.write_text(text, encoding="utf-8")
    return path


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"latency_bench: {what}: not within {timeout:.0f} s")
        time.sleep(0.01)


def run_mode(mode: str, bugs: int, spread: float, seed: int) -> dict[str, Any]:
    push = mode == "push"
    interval = PUSH_INTERVAL if push else POLL_INTERVAL
    fake = TimedBugzilla(api_key=demo.DEMO_KEY, bot_login=demo.BOT)
    url = fake.start()
    with tempfile.TemporaryDirectory(prefix="latency-bench-") as tmp:
        config = write_config(Path(tmp), url, interval, push)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        bot = subprocess.Popen(
            [sys.executable, "-m", "triagebot", "--config", str(config), "run", "--live"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        listening: list[str] = []
        log: list[str] = []

        def read() -> None:
            assert bot.stderr is not None
            for line in bot.stderr:
                log.append(line)
                found = LISTENING.search(line)
                if found:
                    listening.append(found.group(1))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            wait_for(lambda: listening or bot.poll() is not None, 60, "the listener")
            if not listening:
                raise SystemExit("latency_bench: run exited:\n" + "".join(log))
            base = listening[0]
            wait_for(
                lambda: requests.get(f"{base}/readyz", timeout=5).status_code == 200,
                120,
                "the first poll",
            )
            if push:
                fake.add_webhook(
                    f"{base}/hooks/bugzilla",
                    name="triagebot",
                    product=demo.PRODUCT,
                    component="Community IT",
                    api_key_header=HEADER,
                    api_key_value=SECRET,
                )
            rng = random.Random(seed)
            filed: dict[int, float] = {}
            for n in range(bugs):
                time.sleep(rng.expovariate(bugs / spread))
                request = REQUESTS[n % len(REQUESTS)]
                bug = fake.add_bug(request.summary, request.description, request.creator)
                filed[bug] = time.monotonic()
            wait_for(
                lambda: all(b in fake.commented for b in filed),
                2 * interval * 60 + 60,
                "a comment on every bug",
            )
            latencies = [fake.commented[b] - filed[b] for b in filed]
            idle: float | None = None
            if not push:  # requests in an idle stretch, per poll
                searches = fake.counts["search"]
                wait_for(lambda: fake.counts["search"] > searches, 120, "an idle poll")
                before, polls = sum(fake.counts.values()), fake.counts["search"]
                wait_for(lambda: fake.counts["search"] >= polls + IDLE_POLLS, 180, "idle polls")
                idle = (sum(fake.counts.values()) - before) / IDLE_POLLS
        finally:
            bot.terminate()
            code = bot.wait(timeout=60)
            fake.stop()
        if code != 0:
            raise SystemExit(f"latency_bench: run exited {code}:\n" + "".join(log[-20:]))
    return {
        "mode": mode,
        "interval": interval,
        "latencies": latencies,
        "idle_per_poll": idle,
        "deliveries": len(fake.webhooks.deliveries),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bugs", type=int, default=50)
    parser.add_argument("--spread", type=float, default=180.0, help="seconds over which to file")
    parser.add_argument("--modes", default="push,poll")
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args(argv)
    print(
        f"latency_bench: {args.bugs} requests over about {args.spread:g} s per mode, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {datetime.now(UTC):%Y-%m-%d}",
        flush=True,
    )
    results = [run_mode(m, args.bugs, args.spread, args.seed) for m in args.modes.split(",")]
    idle = next((r["idle_per_poll"] for r in results if r["idle_per_poll"] is not None), None)
    ok = True
    print("| mode | safety poll | p50 | p95 | max | requests per idle hour |")
    print("|---|---|---|---|---|---|")
    for r in results:
        lat = r["latencies"]
        per_hour = "—" if idle is None else f"{idle * 60 / r['interval']:g}"
        p95 = percentile(lat, 95)
        print(
            f"| {r['mode']} | every {r['interval']:g} min | {statistics.median(lat):.2f} s "
            f"| {p95:.2f} s | {max(lat):.2f} s | {per_hour} |"
        )
        if r["mode"] == "push":
            ok = p95 < GOAL_P95
            print(
                f"push: {r['deliveries']} webhooks delivered; p95 {p95:.2f} s, goal under "
                f"{GOAL_P95:g} s: {'ok' if ok else 'MISSED'}"
            )
    if idle is not None:
        print(f"an idle poll: {idle:g} request(s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
