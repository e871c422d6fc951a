"""``make demo`` (``examples/demo.py``) runs and shows the native dispatcher at
work in a small Django project."""

import os
import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo.py"


def run_demo(disable=False):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.pop("FASTDISPATCH_DISABLE", None)
    if disable:
        env["FASTDISPATCH_DISABLE"] = "1"
    result = subprocess.run(
        [sys.executable, str(DEMO)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return [line.strip() for line in result.stdout.splitlines()]


def test_demo_runs_on_the_native_dispatcher():
    lines = run_demo()
    assert "django.dispatch.Signal is fastdispatch.Signal (native)" in lines
    assert "post_save is a ModelSignal, subclass of fastdispatch.Signal" in lines
    assert "post_migrate fired for: contenttypes, auth, demoapp" in lines
    assert any(line.endswith("post_save: created note 1") for line in lines)
    assert any(line.endswith("post_save: updated note 1") for line in lines)
    assert "request_started /ping/" in lines
    assert "request_finished" in lines
    assert "view answered 200 b'pong'" in lines
    assert "bill             -> 'billed order 42'" in lines
    assert "notify           -> 'notified about order 43'" in lines
    assert "broken           -> ValueError('boom')" in lines
    assert "also_fine        -> 'also fine'" in lines


def test_demo_runs_on_djangos_dispatcher_when_disabled():
    lines = run_demo(disable=True)
    assert (
        "django.dispatch.Signal is django.dispatch.dispatcher.Signal (Django's own)"
        in lines
    )
    assert "broken           -> ValueError('boom')" in lines
