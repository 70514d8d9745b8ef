"""What every command shares at its edge: the usage error and the one way a report is written.

It sits below cli, audit and demo so that none of them imports another to print a report.
"""

from __future__ import annotations

from typing import Optional, TextIO

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
