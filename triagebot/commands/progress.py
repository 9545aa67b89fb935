"""The progress line `once` shows on a terminal while it writes: done/total, rate, time left.

A poll over a backlog at the request budget can take hours (10,000 bugs at 60 requests a
minute), and a silent terminal looks hung. tqdm (well kept, dependency-free) draws the line and
computes the rate and time left; nothing is drawn where colour would not be
(`output.use_color`), so logs and pipes stay clean.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

from tqdm import tqdm

from triagebot.commands.output import use_color


class WriteProgress:
    """Called by the poller after each write, as `(done, total)`; draws one line on `stream`."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = tqdm(
                total=total,
                file=self.stream,
                unit="bug",
                desc="writing",
                dynamic_ncols=True,
                leave=False,
                mininterval=0,  # one write is at least one HTTP request: redraw each time
                miniters=1,
                bar_format="{desc}: {n}/{total} bugs, {rate_fmt}, {remaining} left {bar}",
            )
        self.bar.update(done - self.bar.n)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def for_stream(stream: IO[str]) -> Callable[[int, int], None] | None:
    return WriteProgress(stream) if use_color(stream) else None
