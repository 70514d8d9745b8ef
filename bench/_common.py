"""What every benchmark script shares: a free loopback port, the way figures are printed, the
load beside a measurement, and a copy of the package laid out as `pip install` lays it out."""

from __future__ import annotations

import compileall
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Any, Optional


# pip's console-script template (distlib), as `pip install` writes bin/probe and bin/shim.
CONSOLE_SCRIPT = """#!{python}
# -*- coding: utf-8 -*-
import re
import sys
from {module} import {function}
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit({function}())
"""
SCRIPTS = {"probe": ("probe.cli", "entry"), "shim": ("shim.__main__", "entry")}


def install_copy(source: str, venv: str, with_dependencies: bool = False) -> str:
    """A venv holding the packages from ``source`` as a wheel install lays them out (compiled,
    with bin/probe and bin/shim written from pip's template); its python.

    Not the development install: its editable-import hook is loaded by every start of that
    venv's python (about 20 ms here), which no user's install pays. ``with_dependencies``
    reaches the running interpreter's site-packages (botocore, psutil, packaging) through a
    path file, whose own .pth files (that hook among them) are not processed.
    """
    base = getattr(sys, "_base_executable", None) or sys.executable
    subprocess.run([base, "-m", "venv", "--without-pip", venv], check=True)
    python = os.path.join(venv, "bin", "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], check=True, capture_output=True, text=True).stdout.strip()
    for package in ("shim", "probe"):  # one distribution: probe is installed beside the shim
        if os.path.isdir(os.path.join(source, package)):
            shutil.copytree(os.path.join(source, package), os.path.join(site, package), ignore=shutil.ignore_patterns("__pycache__"))
            compileall.compile_dir(os.path.join(site, package), quiet=1, legacy=False)
    if with_dependencies:
        import sysconfig

        with open(os.path.join(site, "_bench_dependencies.pth"), "w") as fh:
            fh.write(sysconfig.get_paths()["purelib"] + "\n")
    for name, (module, function) in SCRIPTS.items():
        script = os.path.join(venv, "bin", name)
        with open(script, "w") as fh:
            fh.write(CONSOLE_SCRIPT.format(python=python, module=module, function=function))
        os.chmod(script, 0o755)
    return python


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
