"""``python -m django signals ARGS...`` in a process of its own, on the shop
project, with none of fastdispatch's environment variables but those asked
for."""

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent


def signals_command(*args, disable=False):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTDISPATCH")}
    env["DJANGO_SETTINGS_MODULE"] = "signals_command.settings"
    env["PYTHONPATH"] = os.pathsep.join(
        [str(TESTS), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    if disable:
        env["FASTDISPATCH_DISABLE"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "django", "signals", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
