"""Benchmark: the cost of one decision on hostile or huge input, the figures that used to be
wall-clock assertions in tests (tests assert behaviour; figures live here).

    .venv/bin/python bench/triage_bench.py [--repeat N]

Each figure is the best of N runs, with its goal beside it.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from triagebot.core import triage  # noqa: E402
from triagebot.core.bugs import Bug  # noqa: E402
from triagebot.core.registry import Community, Governance, Registry  # noqa: E402
from triagebot.files.rules import load_rules  # noqa: E402
from triagebot.files.validate import load_registry  # noqa: E402

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def report(label: str, seconds: float, goal: float) -> bool:
    ok = seconds < goal
    verdict = "ok" if ok else "MISSED"
    print(f"{label:<58} {seconds * 1000:8.1f} ms  goal < {goal * 1000:.0f} ms: {verdict}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure, the best kept")
    args = parser.parse_args(argv)
    registry = load_registry(ROOT / "data", today=NOW.date()).registry
    assert registry is not None
    rules = load_rules(ROOT / "rules")

    def decide_all(bug: Bug) -> None:
        for rule in rules:
            decision = triage.decide(bug, registry, rule, NOW)
            if decision.write is not None:
                decision.write.text("0123abcdef", markdown=False)

    big = "lorem ipsum dolor " * 60_000  # ~1 MB
    one_mb = [
        Bug(1, "A request", "x@example.org", NOW, description=big + " MozFr"),
        Bug(2, "A request", "x@example.org", NOW, description="MozFr " + big),
    ]
    hostile_block = "{{ 7*7 }} **bold** <script>\u202e\u200b Mozilla Hispano mozfr.example.org "
    huge = (hostile_block * (1_000_000 // len(hostile_block) + 1))[:1_000_000]
    hostile = Bug(
        8,
        huge,
        huge[:5000] + "@example.org",
        NOW,
        creator_name=huge,
        whiteboard=huge[:2000],
        description=huge,
    )
    many = Registry.build(
        [],
        [
            Community(
                f"c{i}",
                f"Community Number {i}",
                "active",
                date(2026, 1, 1),
                Governance("board"),
                (f"Alias{i}",),
            )
            for i in range(10_000)
        ],
    )
    triage.text_index(many)  # built once per registry, not per bug
    text = "Community Number 9999 " + "word " * 4000

    ok = all(
        [
            report(
                "two bugs with a 1 MB description, every rule",
                best(lambda: [decide_all(b) for b in one_mb], args.repeat),
                1.0,
            ),
            report(
                "a 1 MB hostile bug (summary, name, description), every rule",
                best(lambda: decide_all(hostile), args.repeat),
                2.0,
            ),
            report(
                "find one name among 10,000 communities in 20 kB of text",
                best(lambda: triage.text_index(many).find(text), args.repeat),
                0.2,
            ),
        ]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
