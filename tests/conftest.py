"""Shared setup for the behavioural Signal suite (``tests/test_signal_*.py``).

The suite runs against ``fastdispatch`` by default. Set
``FASTDISPATCH_TEST_REFERENCE=/path/to/django/dispatch/dispatcher.py`` (the
installed Django's pure-Python dispatcher) to run the very same tests against
the reference implementation instead: every test must pass there too, apart
from those marked ``fastdispatch_only`` (deliberate improvements over Django).

Under Django X, fastdispatch shows X's internals; tests that depend on the
series take what X does from ``support.django_layout`` (worked out from
``django.VERSION``, never from the implementation under test).

Test modules take the implementation under test from here::

    from conftest import NONE_ID, Signal, _make_id, receiver
"""

import asyncio
import contextlib
import dataclasses
import inspect
import os
from typing import Any
from unittest import mock

import django
import pytest
from asgiref.sync import SyncToAsync
from django.conf import settings
from support.django_layout import DROPS_DEAD_SENDERS, HAS_ASYNC, SERIES
from support.reference import load_reference

REFERENCE_PATH = os.environ.get("FASTDISPATCH_TEST_REFERENCE", "")
REFERENCE = bool(REFERENCE_PATH)

# The DEBUG-only receiver checks in connect() look at django.conf.settings,
# which are process-global: configure them once, with DEBUG off, and switch
# DEBUG on locally with override_settings(). No database, no logging config,
# no installed apps: models in the tests use isolate_apps().
if not settings.configured:
    settings.configure(DEBUG=False, INSTALLED_APPS=[], LOGGING_CONFIG=None)
    django.setup()


def load_implementation(reference_path=REFERENCE_PATH):
    """Return the module providing Signal, receiver, _make_id and NONE_ID."""
    if not reference_path:
        import fastdispatch

        return fastdispatch
    return load_reference(reference_path)


implementation = load_implementation()
Signal = implementation.Signal
receiver = implementation.receiver
_make_id = implementation._make_id
NONE_ID = implementation.NONE_ID
NO_RECEIVERS = implementation.NO_RECEIVERS


def fastdispatch_only(reason, when=True):
    """Mark a test where fastdispatch deliberately does better than Django.

    Against the reference the test is expected to fail (strictly: if Django
    ever starts passing it, the marker must go). ``when``: whether the
    installed Django's series is one fastdispatch improves on (for a
    difference only some series have, e.g. ``not DROPS_DEAD_SENDERS``);
    elsewhere the test must pass on the reference too.
    """
    return pytest.mark.xfail(
        REFERENCE and bool(when),
        reason=f"deliberate difference from Django: {reason}",
        strict=True,
    )


#: For tests of a sender's death dropping the receivers connected for it:
#: fastdispatch does so on every series, Django from 6.0.
drops_dead_senders_receivers = fastdispatch_only(
    "the receivers of a sender that died are dropped (Django does so from 6.0)",
    when=not DROPS_DEAD_SENDERS,
)

#: For tests of async receivers, asend() or asend_robust(): Django 4.2 has
#: none (a coroutine function is a plain callable there).
needs_async = pytest.mark.skipif(
    not HAS_ASYNC, reason="Django 4.2 has no async receivers"
)

#: The ways a signal sends in the installed series.
SEND_METHODS = (
    ("send", "send_robust", "asend", "asend_robust")
    if HAS_ASYNC
    else ("send", "send_robust")
)


def send_with(signal, method, sender, **named):
    """``signal.<method>(sender, **named)``; the async ones in a new event loop."""
    result = getattr(signal, method)(sender, **named)
    if method.startswith("a"):
        return asyncio.run(result)
    return result


@dataclasses.dataclass(frozen=True)
class Unawaited:
    """The response of a coroutine-function receiver where it is a plain
    callable (Django 4.2): the coroutine it returned, never awaited by the
    signal. ``settled()`` shows it so, with what it returns when awaited."""

    result: Any


def async_result(value):
    """How ``settled()`` shows the response of a coroutine-function receiver
    returning ``value``: ``value`` itself where the signal awaits it (5.0+),
    else ``Unawaited(value)``."""
    return value if HAS_ASYNC else Unawaited(value)


def settled(responses):
    """``[(receiver, response), ...]`` with each coroutine response (one no
    signal awaited) run to completion and shown as ``Unawaited(result)``."""
    out = []
    for receiver_, response in responses:
        if inspect.iscoroutine(response):
            response = Unawaited(asyncio.run(response))
        out.append((receiver_, response))
    return out


@contextlib.contextmanager
def sync_to_async_runs():
    """A list that gets an item each time a ``sync_to_async()`` wrapper starts
    to run (asgiref's ``SyncToAsync.__call__``, patched meanwhile): whether
    ``asend()`` has handed its sync receivers to their thread yet, seen from
    inside an async receiver, whatever the threads' timing."""
    runs = []
    original = SyncToAsync.__call__

    async def call(self, *args, **kwargs):
        runs.append(self.func)
        return await original(self, *args, **kwargs)

    with mock.patch.object(SyncToAsync, "__call__", call):
        yield runs


def pytest_report_header(config):
    if REFERENCE:
        return f"Signal implementation: Django {SERIES} reference {REFERENCE_PATH}"
    return f"Signal implementation: {implementation.__name__} (Django {SERIES})"


# Shared by the test modules: a sender class and trivial receivers.
class Sender:
    pass


def make_receiver(result=None):
    def handler(**kwargs):
        return result

    return handler


def make_async_receiver(result=None):
    async def handler(**kwargs):
        return result

    return handler


# Async receivers of several kinds, for the async suites.
class Boom(Exception):
    pass


class Listener:
    async def on_signal(self, **kwargs):
        return "async method"


class AsyncCallable:
    async def __call__(self, **kwargs):
        return "async instance"
