"""Does a profile written by the shim still agree with PID 1's environment?"""

from __future__ import annotations

from probe.checks.base import Outcome, check, failed, passed, skipped
from probe.facts import Facts

STALE = (
    "Run the shim as the container's ENTRYPOINT so it rewrites the profiles at every start "
    '(ENTRYPOINT ["shim", "--environment-file", "--"] or ["/usr/local/bin/ecs-shim", "--environment-file", "--"]); never bake '
    "/etc/profile.d/ecs-credentials.sh or a ~/.profile block into the image, and do not edit between the markers."
)


@check("shim.profile", mode="task", title="Shim profiles match PID 1", needs=("shim",))
def profile(f: Facts) -> Outcome:
    """Guarantees: fails when a shim block (profile.d, ~/.profile, /etc/environment) holds a
    value PID 1 does not have, or lacks a credential variable PID 1 has; a login shell
    would then use stale credentials (InvalidIdInRequest) or the instance role."""
    rec = f.get("shim")
    files = [x for x in rec.get("files") or [] if isinstance(x, dict) and "vars" in x]
    if not files:
        return skipped("Shim profiles match PID 1", "no profile written by the shim was found (the shim is not in use)")
    if not rec.get("pid1_readable"):
        return skipped(
            "Shim profiles match PID 1",
            f"{rec.get('pid1_error')}: run the probe as the same user as PID 1 (root) to compare",
        )
    problems = []
    for entry in files:
        for name, v in (entry.get("vars") or {}).items():
            if not v.get("in_pid1"):
                problems.append(f"{entry['path']}: {name} is not in PID 1's environment")
            elif not v.get("equal"):
                problems.append(f"{entry['path']}: {name} differs from PID 1's value")
        for name in entry.get("missing") or []:
            problems.append(f"{entry['path']}: lacks {name}, which PID 1 has")
    if problems:
        return failed(
            "A shim profile disagrees with PID 1's environment",
            "; ".join(problems) + ". Login shells (su -, sudo -i, sshd sessions) and cron jobs (through /etc/environment) would get stale or missing credentials.",
            STALE,
            problems=problems,
        )
    names = sorted({n for e in files for n in (e.get("vars") or {})})
    return passed(
        f"Shim profiles match PID 1 ({len(files)} file{'s' if len(files) != 1 else ''})",
        ", ".join(e["path"] for e in files) + ": " + ", ".join(names),
    )
