"""What every benchmark script shares: a free loopback port and the way figures are printed."""

from __future__ import annotations

import json
import socket
import sys
from typing import Any


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
