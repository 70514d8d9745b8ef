"""What every benchmark script shares: a free loopback port and the way figures are printed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Any, Optional


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def emit(figures: Any, text: str, as_json: bool) -> int:
    """The table on stdout; with --json the figures on stdout and the table on stderr."""
    if as_json:
        print(json.dumps(figures, indent=2))
        print(text, file=sys.stderr)
    else:
        print(text)
    return 0


# Time for stress-ng's workers to start spinning before the first busy sample.
BUSY_SETTLE_SECONDS = 1.0


class Busy:
    """``stress-ng --cpu CPUS`` beside a bench (a machine where other work takes the cores),
    in its own process group so that stopping it stops its workers and nothing else.

    ``ensure`` (call it every round) starts it again if it ended: on a shared machine someone
    else may stop every stress-ng by name, and figures taken without the load must not be
    reported as busy ones. ``restarts`` counts how often that happened.
    """

    def __init__(self, cpus: int = 2) -> None:
        self.cpus = cpus
        self.proc: Optional["subprocess.Popen[bytes]"] = None
        self.restarts = 0

    def start(self) -> None:
        stress = shutil.which("stress-ng")
        if stress is None:
            raise SystemExit("--busy needs stress-ng (apt-get install stress-ng)")
        self.proc = subprocess.Popen([stress, "--cpu", str(self.cpus), "--quiet"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(BUSY_SETTLE_SECONDS)

    def ensure(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            self.restarts += self.proc is not None
            self.start()

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None

    def __enter__(self) -> "Busy":
        self.ensure()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
