"""The contract's JSON report."""

from __future__ import annotations

import json as _json

from probe.model import Report


def render(report: Report) -> str:
    return _json.dumps(report.to_dict(), indent=2) + "\n"
