"""Tests of ``fastdispatch.registration``: its native backend base class, its
two workflows end to end (Django's test client, a real SQLite database, the
locmem mail backend), and django-registration's own views on the same
signals.

Every test file here runs in an interpreter of its own (see
``tests/isolated_django.py``). To run one file by itself::

    python -m pytest --confcutdir=tests/registration tests/registration/test_views.py
"""

import pytest
from isolated_django import IsolatedDjango

isolated = IsolatedDjango(__file__, "registration.settings")
pytest_pycollect_makemodule = isolated.pytest_pycollect_makemodule
pytest_report_header = isolated.pytest_report_header

if not isolated.delegate:
    isolated.set_up()
    from isolated_django import _database, db  # noqa: F401 (fixtures)

    @pytest.fixture(scope="session", autouse=True)
    def _test_environment():
        """As Django's test runner: rendered templates and their contexts are
        recorded on responses, and mail goes to ``mail.outbox``."""
        from django.test.utils import (
            setup_test_environment,
            teardown_test_environment,
        )

        setup_test_environment()
        yield
        teardown_test_environment()

    @pytest.fixture(autouse=True)
    def outbox():
        """The messages sent by the test, and only those."""
        from django.core import mail

        mail.outbox = []
        return mail.outbox

    @pytest.fixture
    def heard():
        """Every send of user_registered and user_activated during the test,
        as ``(signal name, sender, user, request)``, heard by receivers
        connected through ``fastdispatch.registration.signals``."""
        from fastdispatch.registration import signals

        events = []
        receivers = {}
        for name in ("user_registered", "user_activated"):

            def record(sender, user, request, _name=name, **kwargs):
                events.append((_name, sender, user, request))

            receivers[name] = record
            getattr(signals, name).connect(record)
        yield events
        for name, record in receivers.items():
            getattr(signals, name).disconnect(record)
