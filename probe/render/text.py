"""The human report: identity first, one line per check, remedies under failures."""

from __future__ import annotations

import dataclasses
import re
import textwrap
from typing import Any

from probe import redact
from probe.checks import remedies
from probe.model import Report, Status

MARKS = {
    Status.PASS: "PASS",
    Status.WARN: "WARN",
    Status.FAIL: "FAIL",
    Status.SKIP: "skip",
    Status.ERROR: "ERR!",
}
COLORS = {
    Status.PASS: "32",
    Status.WARN: "33",
    Status.FAIL: "31",
    Status.SKIP: "2",
    Status.ERROR: "35",
}
WIDTH = 100
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators: from outside (an
# endpoint's body, an instance id, a cluster name, a saved facts file) they could move the
# cursor, retitle the terminal or start a fake report line.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def terminal_safe(text: str) -> str:
    """One line, no control character: each shown as an escape (``\\x1b``, ``\\n``)."""
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}"), text)


def _safe(text: str) -> str:
    """One value scrubbed as a whole (before lines are wrapped: a secret field's name and its
    value may end up on two lines), then made safe for a terminal."""
    return terminal_safe(redact.scrub(text))


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return _safe(value)
    if isinstance(value, dict) or hasattr(value, "items"):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_clean(v) for v in value) if isinstance(value, tuple) else [_clean(v) for v in value]
    return value


def _sanitized(report: Report) -> Report:
    """The report with every string scrubbed and made safe for a terminal (JSON keeps them
    exact, scrubbed). The whole text is scrubbed again by its caller."""
    results = tuple(
        dataclasses.replace(r, id=_safe(r.id), title=_safe(r.title), detail=_safe(r.detail), remedy=_safe(r.remedy))
        for r in report.results
    )
    fields = {f.name: _clean(getattr(report, f.name)) for f in dataclasses.fields(report) if f.name != "results"}
    return Report(**fields, results=results)


def _paint(text: str, code: str, color: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if color else text


def _wrap(label: str, text: str, indent: int = 8) -> list[str]:
    pad = " " * indent
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=pad + label,
        subsequent_indent=pad + " " * len(label),
        break_long_words=False,
        break_on_hyphens=False,
    ) or [pad + label]


SDKS_SHOWN = 12


def _sdk_block(report: Report, color: bool) -> list[str]:
    """'SDKs in this image': what each would get, the ones in use first."""
    sdks = list(report.sdks or ())
    if not sdks:
        return []
    sdks.sort(key=lambda s: (not s.get("used_by"), not s.get("in_use"), s.get("gets") == "task-role"))
    out = ["SDKs in this image (what each would get here):"]
    for s in sdks[:SDKS_SHOWN]:
        gets = str(s.get("gets"))
        paint = COLORS[Status.PASS] if gets == "task-role" else (COLORS[Status.WARN] if gets == "unknown" else COLORS[Status.FAIL])
        users = s.get("used_by") or []
        # The same "in use" the checks judge by (CONTRACT.md): a running process, a root the
        # user named, or no process information at all.
        reason = s.get("in_use_reason")
        if users:
            use = f"in use by pid {', '.join(str(p) for p in users[:4])}"
        elif reason in ("named root", "no process information"):
            use = f"{reason}: judged as in use"
        else:
            use = "no running process uses it"
        name = f"{s.get('sdk')} {s.get('version') or '?'}"
        out.append(f"  {name:<22} {_paint(f'{gets:<13}', paint, color)} {s.get('path')} ({use})")
    if len(sdks) > SDKS_SHOWN:
        out.append(f"  ... and {len(sdks) - SDKS_SHOWN} more (see --json)")
    return out


# The fixes several checks share, longest first so that one holding another is matched
# whole (NON_PID1 holds SHIM and COPY_FROM_PID1).
SHARED_FIXES = sorted(
    (
        remedies.NON_PID1,
        remedies.SHIM,
        remedies.COPY_FROM_PID1,
        remedies.TASK_ROLE,
        remedies.AGENT_FLAGS,
        remedies.NO_PROXY,
        remedies.IPTABLES,
        remedies.SDK,
        remedies.BLOCK_IMDS,
    ),
    key=len,
    reverse=True,
)


class _Fixes:
    """Says each fix once per report: a remedy already printed whole, or a shared paragraph
    of one, becomes a pointer to where it was said (the JSON report keeps every text whole)."""

    def __init__(self) -> None:
        self.whole: dict[str, str] = {}
        self.shown: dict[str, str] = {}
        self.paragraphs: dict[str, str] = {}

    @staticmethod
    def _pointer(where: str, text: str, at: int) -> str:
        place = "under Cause" if where == "the cause" else f"of {where}"
        # Inside a sentence ("...: see the fix ...") the pointer goes on in lower case.
        lead = "see" if at > 0 and not text[:at].rstrip().endswith(".") else "See"
        return f"{lead} the fix {place} above."

    def say(self, remedy: str, where: str) -> str:
        if remedy in self.whole:
            # Already only a pointer: repeat it rather than point at a pointer.
            short = self.shown[remedy]
            return short if len(short) <= 120 else self._pointer(self.whole[remedy], remedy, 0)
        text = remedy
        said: list[str] = []
        origin = where
        for paragraph in SHARED_FIXES:
            at = text.find(paragraph)
            if at < 0:
                continue
            if paragraph in self.paragraphs:
                text = text[:at] + self._pointer(self.paragraphs[paragraph], text, at) + text[at + len(paragraph):]
                if at == 0 and len(text) == len(self._pointer(self.paragraphs[paragraph], text, 0)):
                    origin = self.paragraphs[paragraph]  # nothing of its own: point where it was said
            else:
                said.append(paragraph)
        self.whole.setdefault(remedy, origin)
        self.shown.setdefault(remedy, text)
        for paragraph in said:
            self.paragraphs.setdefault(paragraph, where)
            # Its parts were said with it.
            for part in SHARED_FIXES:
                if part in paragraph:
                    self.paragraphs.setdefault(part, where)
        return text


def render(report: Report, color: bool = False, verbose: bool = False) -> str:
    report = _sanitized(report)
    lines: list[str] = []
    verdict = report.verdict
    head = f"ecs-credential-probe {report.version} · {report.mode} · {report.started_at} · {report.duration_ms} ms"
    lines.append(_paint(head, "1", color))
    target = report.target
    if target:
        # Whose view: every line below is about that process, not the probe's own.
        who = [f"pid {target.get('pid')}"]
        if target.get("container"):
            who.append(f"container {target.get('container')}")
        if target.get("user"):
            who.append(f"user {target.get('user')}")
        lines.append("As seen by: " + ", ".join(who) + (f": {target.get('cmdline')}" if target.get("cmdline") else ""))
    ident = report.identity
    if ident:
        kind = ident.get("kind")
        paint = COLORS[Status.PASS] if kind == "task-role" else COLORS[Status.FAIL]
        lines.append("Identity: " + _paint(f"{ident.get('arn') or '(unconfirmed)'}", paint, color))
        lines.append(
            f"          kind {kind}, source '{ident.get('provider')}', task role {ident.get('task_role_arn') or 'unknown'}"
            + (f", as {ident['for_sdks']} get{'s' if ',' not in str(ident['for_sdks']) else ''} it" if ident.get("for_sdks") else "")
        )
    elif report.mode == "task":
        lines.append("Identity: " + _paint("unknown (no credentials were confirmed by STS)", COLORS[Status.FAIL], color))
    task = report.task
    if task:
        arn = task.get("task_arn") or ""
        bits = [
            f"cluster {task.get('cluster')}" if task.get("cluster") else "",
            f"task {arn.rsplit('/', 1)[-1]}" if arn else "",
            " ".join(str(v) for v in (task.get("launch_type"), task.get("network_mode")) if v),
            f"container {task.get('container_name')}" if task.get("container_name") else "",
            str(task.get("availability_zone") or ""),
        ]
        lines.append("Task:     " + " · ".join(b for b in bits if b))
    lines.extend(_sdk_block(report, color))
    fixes = _Fixes()
    cause = report.cause
    if cause:
        # What is really wrong, and its fix, before the list: the most upstream failure.
        lines.append("")
        lines.append("Cause:    " + _paint(str(cause.get("summary")), COLORS[Status.FAIL], color) + f" ({cause.get('check')})")
        if cause.get("remedy"):
            lines.extend(_wrap("fix: ", fixes.say(str(cause["remedy"]), "the cause"), indent=10))
    lines.append("")
    not_selected = 0
    for r in report.results:
        if r.status is Status.SKIP and r.detail.startswith("not selected"):
            not_selected += 1
            continue
        mark = _paint(f"[{MARKS[r.status]}]", COLORS[r.status], color)
        lines.append(f"{mark} {r.id:<32} {r.title}")
        # A skip's title already says why ("Not checked: ..."); repeat only what it cut off.
        said = r.status is Status.SKIP and r.title.endswith(r.detail.strip().rstrip("."))
        if r.detail and not said and (verbose or r.status is not Status.PASS):
            lines.extend(_wrap("", r.detail))
        if r.remedy and r.status in (Status.FAIL, Status.ERROR, Status.WARN):
            lines.extend(_wrap("fix: ", fixes.say(r.remedy, r.id)))
    if not_selected:
        lines.append(f"       ({not_selected} check{'s' if not_selected != 1 else ''} not selected)")
    counts = {s: sum(1 for r in report.results if r.status is s) for s in Status}
    counts[Status.SKIP] -= not_selected
    tally = ", ".join([f"{n} {s.value}" for s, n in counts.items() if n] + ([f"{not_selected} not selected"] if not_selected else []))
    lines.append("")
    lines.append(_paint(f"Verdict: {verdict.value.upper()}", COLORS[verdict], color) + f" ({tally})")
    lines.append(report.summary)
    return "\n".join(lines) + "\n"
