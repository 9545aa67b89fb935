"""Whether the process that took a poll lease on this machine is gone.

A pid alone names no process: after a crash the kernel may give the number to another one.
Linux tells when a process started (field 22 of /proc/PID/stat, in clock ticks since boot)
and which boot this is (/proc/sys/kernel/random/boot_id): together they name one process for
ever, so a lease holder that is gone can be told from one that is alive, and its lease freed
at once instead of after its expiry. Where the system tells neither, only "no process has this
pid" counts as gone (POSIX); anything unknown counts as alive, so the expiry stands.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def start_of(pid: int) -> str | None:
    """ "BOOT_ID:TICKS" for process `pid`; None when there is no such process or the system
    does not say."""
    try:
        boot = (PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses, so fields are
    # counted from after its last ")"; field 22 is the 20th from there.
    fields = stat[stat.rindex(")") + 2 :].split()
    return f"{boot}:{fields[19]}"


def is_gone(pid: int | None, start: str | None) -> bool:
    """Whether the process `pid` of this machine, which started at `start` (`start_of` when it
    took the lease; None where unknown), certainly no longer runs."""
    if pid is None or pid <= 0:
        return False
    here = start_of(os.getpid())
    if here is None:  # no /proc: only whether any process has this pid
        return start is None and os.name == "posix" and not _exists(pid)
    if start is None or start.split(":")[0] != here.split(":")[0]:
        return False  # an older holder, or another boot (or a namesake host): cannot tell
    return start_of(pid) != start


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent, only the pid is checked (POSIX)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # somebody else's process
    return True
