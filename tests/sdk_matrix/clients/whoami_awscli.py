"""Who does the AWS CLI v1 say we are? Runs `aws sts get-caller-identity --endpoint-url
$WHOAMI_STS_ENDPOINT` (the CLI's own script, argv[1], with this Python; PYTHONPATH names the
folder the CLI and its botocore were installed in) and turns its answer into one JSON line
{"arn": ...} or {"error": <its last line on stderr>}; exit 0 either way; gives up after 20 s."""
import json
import os
import subprocess
import sys
import time

STARTED = time.time()


def finish(obj):
    obj["seconds"] = round(time.time() - STARTED, 2)
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()
    os._exit(0)


cmd = [sys.executable, sys.argv[1], "sts", "get-caller-identity", "--endpoint-url", os.environ["WHOAMI_STS_ENDPOINT"], "--output", "json"]
try:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
except subprocess.TimeoutExpired:
    finish({"error": "timeout: no answer in 20 s"})
if proc.returncode == 0:
    try:
        finish({"arn": json.loads(proc.stdout)["Arn"]})
    except (ValueError, KeyError) as exc:
        finish({"error": "unreadable answer (%s): %s" % (exc, proc.stdout.strip()[-200:])})
lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
finish({"error": ("rc %d: " % proc.returncode + (lines[-1] if lines else "no message"))[:300]})
