"""The poll benchmark still runs and still counts requests at the floor (no time is asserted:
figures come from running bench/poll_bench.py by hand)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import poll_bench  # noqa: E402


def test_poll_bench_runs_and_the_bot_stays_at_the_request_floor(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["--sizes", "40", "--people", "300", "--page-size", "15", "--no-budget"]
    assert poll_bench.main([*args, "--run-polls", "2", "--progress", "60"]) == 0
    out = capsys.readouterr().out
    summary = out[out.index("== N = 40 new bugs") :]
    # 40 watched bugs in pages of 15: 3 searches + 3 comments batches, 38 writes (2 skip-tagged)
    bot = next(line for line in summary.splitlines() if line.startswith("triagebot once --live"))
    assert "version 1, product 1, search 3, comments 3, update 38" in bot
    assert "req/floor = 1.00 per poll: 1.000 ok; fixed ≤ 2: 2 ok" in summary
    assert "naive python-bugzilla" in summary
    assert "baseline requests ÷ bot requests: " in summary
    assert "(version 1, search 1); goal 2 (python-bugzilla's GET /rest/version" in out
    assert "= 2 at start-up + 1.00 per idle poll; goal 1 per idle poll: ok" in out


def test_latency_bench_runs_with_push(capsys: pytest.CaptureFixture[str]) -> None:
    """A small run of bench/latency_bench.py; its figures come from running it by hand."""
    import latency_bench

    latency_bench.main(["--bugs", "3", "--spread", "1", "--modes", "push"])
    out = capsys.readouterr().out
    assert "| mode | safety poll | p50 | p95 | max | requests per idle hour |" in out
    assert "| push | every 60 min | " in out
    assert "push: 9 webhooks delivered; p95 " in out  # per bug: created, the bot's comment, tags
