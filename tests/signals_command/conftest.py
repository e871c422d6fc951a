"""Tests of ``manage.py signals`` on a small project: the ``shop`` app, its
models and receivers of every kind (``shop/receivers.py``), connected when
the app is ready, as a project connects its own.

They need Django set up with installed apps and a database, so each test
file runs in an interpreter of its own (see ``tests/isolated_django.py``). To
run one file by itself, with pytest's own report of each test::

    python -m pytest --confcutdir=tests/signals_command \
        tests/signals_command/test_signals_command.py
"""

import pytest
from isolated_django import NATIVE, IsolatedDjango

isolated = IsolatedDjango(__file__, "signals_command.settings")
pytest_pycollect_makemodule = isolated.pytest_pycollect_makemodule
pytest_report_header = isolated.pytest_report_header

if not isolated.delegate:
    isolated.set_up()
    from isolated_django import _database, db  # noqa: F401 (fixtures)


def pytest_collection_modifyitems(config, items):
    if isolated.delegate or NATIVE:
        return
    # Django's own dispatcher keeps no registry of its signals: there is
    # nothing of Django's for the command to describe.
    skip = pytest.mark.skip(
        reason="FASTDISPATCH_DISABLE is set: Django's signals are not native"
    )
    for item in items:
        item.add_marker(skip)
