"""The contract's JSON report."""

from __future__ import annotations

import json as _json

from probe import redact
from probe.model import Report


def render(report: Report) -> str:
    # Scrub values, not the serialized text: keys stay intact whatever a secret contains.
    return _json.dumps(redact.scrub_obj(report.to_dict()), indent=2) + "\n"
