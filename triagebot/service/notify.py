"""systemd's service notification protocol (sd_notify), for `run` under `Type=notify`.

A few lines rather than a library: the protocol is one datagram of `KEY=VALUE` lines to the
AF_UNIX socket named by `$NOTIFY_SOCKET` (a path, or an abstract socket written with a
leading '@'), and the watchdog's period is `$WATCHDOG_USEC`, for the process `$WATCHDOG_PID`
when set. The pure-Python package (sdnotify) has had no release since 2017 and knows no
watchdog period; systemd-python needs libsystemd's headers to build. Outside systemd (no
`$NOTIFY_SOCKET`) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    """Sends READY=1, WATCHDOG=1, STATUS=... and STOPPING=1 to the service manager."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.address = _address(env.get("NOTIFY_SOCKET", ""))
        self.watchdog_seconds = _watchdog_seconds(env)
        self._ready = False

    def send(self, *lines: str) -> bool:
        """One datagram; False (and a debug line) when it could not be sent: a service
        manager that went away must not stop the bot."""
        if self.address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self.address)
                sock.sendall("\n".join(lines).encode())
        except OSError as exc:
            log.debug("sd_notify %s failed: %s", lines, exc)
            return False
        return True

    def ready(self, status: str) -> None:
        """READY=1, once: the first poll has started."""
        if not self._ready:
            self._ready = True
            self.send("READY=1", f"STATUS={status}")

    def watchdog(self) -> None:
        self.send("WATCHDOG=1")

    def status(self, text: str) -> None:
        self.send(f"STATUS={text}")

    def stopping(self, status: str) -> None:
        self.send("STOPPING=1", f"STATUS={status}")


def _address(value: str) -> str | None:
    """`$NOTIFY_SOCKET` as an address for connect(): '@name' is the abstract name '\\0name'."""
    if value.startswith("@"):
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None  # none, or vsock (systemd 253+ in VMs), which is not for a service on the host


def _watchdog_seconds(env: Mapping[str, str]) -> float | None:
    """The watchdog period, when systemd watches this very process (`WatchdogSec=`)."""
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and (not pid.isdigit() or int(pid) != os.getpid()):
        return None
    return int(usec) / 1_000_000
