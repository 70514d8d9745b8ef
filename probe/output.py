"""What every command shares at its edge: the usage error and the one way a report is written.

It sits below cli, audit and demo so that none of them imports another to print a report.
"""

from __future__ import annotations

from typing import Callable, Optional, TextIO

from probe import redact

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """The probe cannot run as asked (exit 2)."""


def write_report(text: str, output: Optional[str], stdout: TextIO) -> None:
    """Write a rendered (and so already scrubbed) report to the file OUTPUT, or to stdout
    when there is none; an unwritable file is a usage error, never a traceback."""
    if output:
        try:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise UsageError(f"cannot write --output {output}: {exc.strerror or exc}") from None
    else:
        stdout.write(text)
        stdout.flush()


def guarded(prog: str, err: TextIO, body: Callable[[], int]) -> int:
    """Run a command's body under the contract's rule, never a traceback: a usage error is its
    message and exit 2, Ctrl-C exit 130, anything else "internal error" and exit 2 (the probe
    could not run as asked, which is not "a check failed"); every message scrubbed."""
    try:
        return body()
    except UsageError as exc:
        err.write(redact.scrub(f"{prog}: {exc}\n"))
        return EXIT_USAGE
    except KeyboardInterrupt:
        err.write(f"{prog}: interrupted\n")
        return 130
    except Exception as exc:
        err.write(redact.scrub(f"{prog}: internal error: {type(exc).__name__}: {exc}\n"))
        return EXIT_USAGE
