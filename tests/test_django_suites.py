"""Django's own ``dispatch`` and ``signals`` test suites pass on the native
dispatcher, run by ``scripts/run_django_suites.py`` with the shim proven active.

The first run fetches the source distribution of the installed Django version
(into ``.cache/``, through pip); later runs reuse it.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "run_django_suites.py"
MARKER = (
    "fastdispatch shim active: django.dispatch.Signal is fastdispatch._native.Signal"
)


def run_script(*args, disable=False, timeout=900):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.pop("FASTDISPATCH_DISABLE", None)
    if disable:
        env["FASTDISPATCH_DISABLE"] = "1"
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        timeout=timeout,
    )


def test_django_dispatch_and_signals_suites_pass_under_the_shim():
    result = run_script()
    output = result.stdout
    assert result.returncode == 0, output[-5000:]
    lines = output.splitlines()
    # Proven before the suites and again after them.
    assert lines.count(MARKER) == 2, output[-5000:]
    ran = re.findall(r"^Ran (\d+) tests? in ", output, re.MULTILINE)
    assert len(ran) == 1, output[-5000:]
    assert int(ran[0]) > 0
    assert re.search(r"^OK( \(.*\))?$", output, re.MULTILINE), output[-5000:]
    assert "FAILED (" not in output
    # Both suites really ran: their test modules appear in the verbose output.
    assert "(dispatch.tests." in output
    assert "(signals.tests." in output


def test_check_only_proves_the_shim_without_running_tests():
    result = run_script("--check-only", timeout=120)
    assert result.returncode == 0, result.stdout
    assert MARKER in result.stdout.splitlines()
    assert "Ran " not in result.stdout


def test_check_only_fails_without_the_shim():
    result = run_script("--check-only", disable=True, timeout=120)
    assert result.returncode == 3, result.stdout
    assert MARKER not in result.stdout
    assert "fastdispatch shim NOT active" in result.stdout
    assert "Ran " not in result.stdout
