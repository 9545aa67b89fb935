"""Soak benchmark: `triagebot run --live` for 2,000 polls with a little traffic stays bounded.

The real service, `python -m triagebot --config CFG run --live` as a subprocess, polls the
loopback Bugzilla (`triagebot.demo.devserver.FakeBugzilla`, served from a thread of this
process) with the shipped data/ and rules/. Only the configuration is shortened: `[poll]
interval_minutes` (0.1 s between polls by default) and `[database] poll_history_days` (so
that the history's bound is reached within the run; 30 days in production). Traffic while it
runs: a new request every 20 polls (a current delegate's, an unknown reporter's, or one naming
a community by its domain, in turn), and a delegate's `/endorse` on every other request that
asks for endorsement, 10 polls after it was filed.

Every 100 polls (counted by the poll ids in the database) the bot's resident memory
(/proc/PID/status VmRSS), its open file descriptors (/proc/PID/fd) and the database (file +
WAL, rows of poll history and of bug records) are sampled. Goals (issue 18): after the
warm-up (the first 200 polls) resident memory grows by less than 5 MB, open descriptors do
not grow, and the database is bounded: the poll history stays within its window and the
file stops growing once the history's bound is reached (bug records grow with the traffic,
one per request, not with the polls).

    .venv/bin/python bench/soak_bench.py                  # 2,000 polls, about 5 minutes
    .venv/bin/python bench/soak_bench.py --polls 300      # a short run
    .venv/bin/python bench/soak_bench.py --interval 0.5   # slower polls

Linux only (it reads /proc). Exits 0 when every goal holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from triagebot.demo import demo, devserver  # noqa: E402
from triagebot.demo.devserver import FakeBugzilla  # noqa: E402
from triagebot.files.validate import load_registry  # noqa: E402

API_KEY = "soak-bench-key-not-secret"
BOT = "triagebot@example.org"
WARM_UP = 200  # polls before the baseline sample
# [poll] overlap_minutes: each poll reads again the bugs changed this long before the last
# one it read (10 by default). Shortened like the interval, so that the bugs a poll reads
# stop growing with the run: they are the traffic of the last minute, as in production
# they are the traffic of the last 15 minutes.
OVERLAP = 1
GOAL_RSS_GROWTH_MB = 5.0
# Requests filed in turn: (summary, reporter). A current delegate's (endorsed, no needinfo);
# an unknown reporter's (needinfo the reporter); one naming a community by its domain
# (needs-endorsement: needinfo its delegates, who may answer /endorse).
TRAFFIC = (
    ("Mailing list for Mozilla Hispano translators ({n})", "lucia@example.org"),
    ("Need a server for our group ({n})", "newcomer{n}@example.org"),
    ("TLS certificate of mozfr.example.org expired ({n})", "visitor{n}@example.org"),
)
DELEGATE = "camille@example.org"  # a current delegate of the community mozfr.example.org names


@dataclass
class Sample:
    polls: int
    seconds: float
    rss_kb: int
    fds: int
    db_bytes: int  # the file and its WAL
    wal_bytes: int
    poll_rows: int
    bug_rows: int


def proc_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def proc_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def db_state(db: Path) -> tuple[int, int, int, int, int]:
    """(polls started, poll rows kept, bug records, bytes on disk: file + WAL, WAL bytes)."""
    wal_path = db.with_name(db.name + "-wal")
    wal = wal_path.stat().st_size if wal_path.exists() else 0
    if not db.exists():
        return 0, 0, 0, wal, wal
    size = db.stat().st_size + wal
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            started, kept = conn.execute("SELECT max(id), count(*) FROM triagebot_poll").fetchone()
            (bugs,) = conn.execute("SELECT count(*) FROM triagebot_bug").fetchone()
    except sqlite3.OperationalError:  # not created yet, or busy for a moment
        return 0, 0, 0, size, wal
    return started or 0, kept, bugs, size, wal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--polls", type=int, default=2000)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between polls")
    parser.add_argument("--history-seconds", type=float, default=30.0, help="poll history kept")
    parser.add_argument("--traffic-every", type=int, default=20, help="polls between requests")
    parser.add_argument("--sample-every", type=int, default=100)
    args = parser.parse_args(argv)
    if not Path("/proc/self/status").exists():
        print("soak_bench reads /proc: Linux only")
        return 2
    print(
        f"soak: `triagebot run --live`, {args.polls:,} polls {args.interval:g} s apart, poll "
        f"history kept {args.history_seconds:g} s, a request every {args.traffic_every} polls; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs",
        flush=True,
    )
    registry = load_registry(ROOT / "data").registry
    assert registry is not None
    with (
        tempfile.TemporaryDirectory(prefix="soak-") as tmp,
        FakeBugzilla(api_key=API_KEY, bot_login=BOT) as fake,
    ):
        demo.add_accounts(fake, registry.people.values())
        workdir = Path(tmp)
        config = devserver.write_config(
            workdir,
            fake.url,
            api_key=API_KEY,
            bot_login=BOT,
            data=ROOT / "data",
            rules=ROOT / "rules",
            start=datetime.now(UTC) - timedelta(hours=1),
            max_actions_per_run=50,
        )
        text = config.read_text(encoding="utf-8")
        text = text.replace(
            "[poll]\n",
            f"[poll]\ninterval_minutes = {args.interval / 60}\noverlap_minutes = {OVERLAP}\n",
        )
        days = args.history_seconds / 86400
        text = text.replace("[database]\n", f"[database]\npoll_history_days = {days}\n")
        config.write_text(text, encoding="utf-8")
        db = workdir / "triagebot.db"
        samples, rc, filed, answered = soak(args, config, db, fake)
    return report(args, samples, rc, filed, answered)


def soak(
    args: argparse.Namespace, config: Path, db: Path, fake: FakeBugzilla
) -> tuple[list[Sample], int | None, int, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGEBOT_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "triagebot", "--config", str(config), "run", "--live"]
    log = (config.parent / "run.log").open("w", encoding="utf-8")
    proc = subprocess.Popen(cmd, cwd=config.parent, env=env, stdout=log, stderr=log)
    began = time.monotonic()
    samples: list[Sample] = []
    to_answer: dict[int, int] = {}  # bug -> the poll after which it is answered
    filed = answered = 0
    next_sample = next_request = 0
    deadline = began + 120 + args.polls * max(args.interval, 0.05) * 4
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            polls, kept, bugs, size, wal = db_state(db)
            if polls >= next_request:
                summary, reporter = TRAFFIC[filed % len(TRAFFIC)]
                bug = fake.add_bug(summary.format(n=filed), "Details.", reporter.format(n=filed))
                if filed % len(TRAFFIC) == 2 and filed % 2 == 0:
                    to_answer[bug] = polls + 10
                filed += 1
                next_request = polls + args.traffic_every
            for bug, after in list(to_answer.items()):
                if polls >= after:
                    fake.add_comment(bug, "Yes, we need it.\n/endorse", DELEGATE)
                    answered += 1
                    del to_answer[bug]
            if polls >= next_sample:
                rss, fds = proc_rss_kb(proc.pid), proc_fds(proc.pid)
                elapsed = time.monotonic() - began
                samples.append(Sample(polls, elapsed, rss, fds, size, wal, kept, bugs))
                print(
                    f"  {polls:>6,} polls {elapsed:6.1f} s  RSS {rss / 1024:6.1f} MB  "
                    f"fds {fds:3}  db {(size - wal) / 1024:5.0f} KiB + WAL {wal / 1024:5.0f} "
                    f"KiB  poll rows {kept:5}  bug rows {bugs:4}",
                    flush=True,
                )
                next_sample = polls + args.sample_every
                if polls >= args.polls:
                    break
            time.sleep(min(args.interval, 0.2))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = None
        log.close()
    if rc not in (0, None) or not samples or samples[-1].polls < args.polls:
        print((config.parent / "run.log").read_text(encoding="utf-8")[-3000:])
    return samples, rc, filed, answered


def report(
    args: argparse.Namespace, samples: list[Sample], rc: int | None, filed: int, answered: int
) -> int:
    after = [s for s in samples if s.polls >= WARM_UP]
    if len(after) < 2:
        print(f"not enough samples after the warm-up of {WARM_UP} polls: {len(samples)}")
        return 1
    base, last = after[0], after[-1]
    rss_growth = (max(s.rss_kb for s in after) - base.rss_kb) / 1024
    fd_growth = max(s.fds for s in after) - base.fds
    window = args.history_seconds / max(args.interval, 1e-9)
    rows_ok = max(s.poll_rows for s in after) <= window * 1.5 + 5
    # Bounded: past the point where the history's window is full, the file grows by no more
    # than its bug records do (a few hundred bytes each); within a page or two.
    full = [s for s in after if s.seconds >= base.seconds + args.history_seconds * 1.5]
    db_growth = (full[-1].db_bytes - full[0].db_bytes) if len(full) >= 2 else None
    bug_growth = (full[-1].bug_rows - full[0].bug_rows) if len(full) >= 2 else 0
    db_ok = db_growth is not None and db_growth <= 64 * 1024 + bug_growth * 1024
    ok = rss_growth < GOAL_RSS_GROWTH_MB and fd_growth <= 0 and rows_ok and db_ok and rc == 0
    print(
        f"\n{last.polls:,} polls in {last.seconds:.0f} s ({last.seconds / last.polls * 1000:.0f} "
        f"ms each), {filed} requests filed, {answered} answered; exit {rc} on SIGTERM"
    )
    print(
        f"resident memory after {base.polls} polls {base.rss_kb / 1024:.1f} MB, largest after "
        f"{rss_growth:+.1f} MB (goal < {GOAL_RSS_GROWTH_MB:g} MB): {mark(rss_growth < 5)}"
    )
    print(
        f"open descriptors {base.fds} after {base.polls} polls, at most {base.fds + fd_growth} "
        f"after (goal: no growth): {mark(fd_growth <= 0)}"
    )
    print(
        f"poll history at most {max(s.poll_rows for s in after)} rows (window ≈ "
        f"{window:.0f} polls): {mark(rows_ok)}; database "
        + (
            f"{full[0].db_bytes / 1024:.0f} → {full[-1].db_bytes / 1024:.0f} KiB once the "
            f"window was full ({bug_growth} bug records added meanwhile): {mark(db_ok)}"
            if db_growth is not None
            else f"never reached a full window: {mark(False)}"
        )
    )
    return 0 if ok else 1


def mark(ok: bool) -> str:
    return "ok" if ok else "MISSED"


if __name__ == "__main__":
    sys.exit(main())
