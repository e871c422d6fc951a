"""``make demo`` (``examples/demo.py``) runs and shows the native dispatcher at
work in a small Django project."""

import json
import os
import subprocess
import sys
from pathlib import Path

from support.django_layout import HAS_ASYNC

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
    # With async receivers (Django 5.0+) the async one answers asend().
    order = 43 if HAS_ASYNC else 42
    assert f"notify           -> 'notified about order {order}'" in lines
    assert "broken           -> ValueError('boom')" in lines
    assert "also_fine        -> 'also fine'" in lines


def test_demo_shows_the_signals_command():
    lines = run_demo()
    start = lines.index("$ manage.py signals --signal post_save")
    assert lines[start + 1] == (
        "django.db.models.signals.post_save  [ModelSignal, use_caching]  1 receiver"
    )
    cells = lines[start + 3].split()
    assert cells[:6] == [
        "__main__.signals_command.<locals>.announce_note",
        "function",
        "demoapp.Note",
        "weak",
        "sync",
        "-",
    ]
    assert cells[6].startswith(f"{DEMO}:")
    start = lines.index("$ manage.py signals --signal order_placed --format json")
    # The JSON document (the registration part follows it).
    document, _ = json.JSONDecoder().raw_decode("\n".join(lines[start + 1 :]))
    (order_placed,) = document["signals"]
    assert order_placed["name"] == "__main__.order_placed"
    assert [(r["qualname"], r["is_async"]) for r in order_placed["receivers"]] == [
        ("bill", False),
        ("notify", HAS_ASYNC),
    ]


def registration_part(lines):
    start = lines.index(
        "== Registration, two phases (fastdispatch.registration DefaultBackend)"
    )
    return lines[start + 1 :]


def test_demo_runs_the_two_phase_registration_workflow():
    part = registration_part(run_demo())
    heard_registered = (
        "heard user_registered: sender=DefaultBackend, user=alice, "
        "request=POST /accounts/register/"
    )
    heard_activated = [line for line in part if "heard user_activated" in line]
    expected = [
        "django_registration.signals is fastdispatch.registration.signals: True",
        "POST /accounts/register/ (alice)",
        heard_registered,
        "-> 302 /accounts/register/complete/",
        "alice: is_active=False",
        "email to alice@example.com: 'Activate your account on testserver'",
        # The link, shortened; read from the email.
        part[6],
        "log in before activation: False",
        "GET the activation link",
        *heard_activated,
        "-> 302 /accounts/activate/complete/",
        "alice: is_active=True",
        "log in after activation: True",
        "GET the activation link again",
        "-> 200 (refused)",
        "receivers connected through django_registration.signals heard: "
        "user_registered, user_activated",
    ]
    assert part == expected
    assert part[6].startswith("activation link: /accounts/activate/")
    # Heard once, during the GET of the same link.
    [activated] = heard_activated
    link = part[6].removeprefix("activation link: ")
    assert activated == (
        f"heard user_activated: sender=DefaultBackend, user=alice, request=GET {link}"
    )


def test_demo_runs_on_djangos_dispatcher_when_disabled():
    lines = run_demo(disable=True)
    assert (
        "django.dispatch.Signal is django.dispatch.dispatcher.Signal (Django's own)"
        in lines
    )
    assert "broken           -> ValueError('boom')" in lines
    assert "(skipped: the command describes native signals only)" in lines
    # The workflow runs all the same; django-registration keeps its own
    # signals, which hear nothing of it.
    part = registration_part(lines)
    assert (
        "django_registration.signals is fastdispatch.registration.signals: False"
        in part
    )
    assert "log in after activation: True" in part
    assert (
        "receivers connected through django_registration.signals heard: nothing" in part
    )


def test_demo_shows_a_profile_of_its_workload():
    lines = run_demo()
    start = lines.index("20 notes saved, 5 requests, 1 order placed:")
    assert lines[start + 1] == ""
    header = lines[start + 2].split()
    assert header[:3] == ["receiver", "signal", "calls"]
    end = lines.index("", start + 3)
    rows = lines[start + 3 : end]
    named = {row.split()[0]: row.split() for row in rows}
    # The receiver that sleeps takes the most time; the counts are exact.
    slowest = "__main__.profile_workload.<locals>.audit_note"
    assert rows[0].split()[0] == slowest
    assert named[slowest][1:3] == ["django.db.models.signals.post_save", "20"]
    index = named["__main__.profile_workload.<locals>.index_note"]
    assert index[1:3] == ["django.db.models.signals.post_save", "20"]
    counted = named["__main__.profile_workload.<locals>.count_request"]
    assert counted[1:3] == ["django.core.signals.request_finished", "5"]
    assert named["__main__.bill"][2] == "1"
    summary = lines[end + 1]
    assert summary.startswith(f"{len(rows)} receivers, ")
