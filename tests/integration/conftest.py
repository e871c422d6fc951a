"""Integration tests: real packages (factory_boy, sentry-sdk,
django-debug-toolbar) on Django's real signals, which the shim makes native
``fastdispatch.Signal`` objects.

They need Django set up with installed apps and a database (``settings.py``,
the ``testapp`` app), so every test file here runs in an interpreter of its
own (see ``tests/isolated_django.py``). To run one file by itself::

    python -m pytest --confcutdir=tests/integration tests/integration/test_sentry.py
"""

from isolated_django import NATIVE, IsolatedDjango

__all__ = ["NATIVE"]

isolated = IsolatedDjango(__file__, "integration.settings")
pytest_pycollect_makemodule = isolated.pytest_pycollect_makemodule
pytest_report_header = isolated.pytest_report_header

if not isolated.delegate:
    isolated.set_up()
    from isolated_django import _database, db  # noqa: F401 (fixtures)
