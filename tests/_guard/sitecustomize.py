# Loaded by every Python child process of the tests (PYTHONPATH): installs the network guard.
import os

if os.environ.get("PROBE_TEST_HOST_NETNS"):
    import netguard

    netguard.install()
