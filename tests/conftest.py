"""Shared setup for the behavioural Signal suite (``tests/test_signal_*.py``).

The suite runs against ``fastdispatch`` by default. Set
``FASTDISPATCH_TEST_REFERENCE=/path/to/django/dispatch/dispatcher.py`` (Django
6.1's pure-Python dispatcher) to run the very same tests against the
reference implementation instead: every test must pass there too, apart from
those marked ``fastdispatch_only`` (deliberate improvements over Django).

Test modules take the implementation under test from here::

    from conftest import NONE_ID, Signal, _make_id, receiver
"""

import importlib.util
import os
import sys

import django
import pytest
from django.conf import settings

REFERENCE_PATH = os.environ.get("FASTDISPATCH_TEST_REFERENCE", "")
REFERENCE = bool(REFERENCE_PATH)
REFERENCE_MODULE_NAME = "_django61_dispatcher"

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
    if REFERENCE_MODULE_NAME in sys.modules:
        return sys.modules[REFERENCE_MODULE_NAME]
    spec = importlib.util.spec_from_file_location(REFERENCE_MODULE_NAME, reference_path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[REFERENCE_MODULE_NAME] = module
    spec.loader.exec_module(module)
    return module


implementation = load_implementation()
Signal = implementation.Signal
receiver = implementation.receiver
_make_id = implementation._make_id
NONE_ID = implementation.NONE_ID
NO_RECEIVERS = implementation.NO_RECEIVERS


def fastdispatch_only(reason):
    """Mark a test where fastdispatch deliberately does better than Django.

    Against the reference the test is expected to fail (strictly: if Django
    ever starts passing it, the marker must go).
    """
    return pytest.mark.xfail(
        REFERENCE, reason=f"deliberate difference from Django: {reason}", strict=True
    )


def pytest_report_header(config):
    if REFERENCE:
        return f"Signal implementation: Django reference {REFERENCE_PATH}"
    return f"Signal implementation: {implementation.__name__}"


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
