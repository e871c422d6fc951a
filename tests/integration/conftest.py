"""Integration tests: real packages (factory_boy, sentry-sdk,
django-debug-toolbar) on Django's real signals, which the shim makes native
``fastdispatch.Signal`` objects.

They need Django set up with installed apps and a database (``settings.py``,
the ``testapp`` app), so each test file runs in an interpreter of its own
(see ``tests/isolated_django.py``). To run one file by itself, with pytest's
own report of each test::

    python -m pytest --confcutdir=tests/integration tests/integration/test_sentry.py
"""

import isolated_django

# Django already configured (by tests/conftest.py): run each file elsewhere.
DELEGATE = isolated_django.delegating()


def pytest_pycollect_makemodule(module_path, parent):
    if DELEGATE:
        return isolated_django.isolated_file(module_path, parent)
    return None


if not DELEGATE:
    from integration import settings as test_settings

    isolated_django.configure_django(test_settings)

    from isolated_django import _database, db  # noqa: F401 (fixtures)


def pytest_report_header(config):
    return "integration tests: " + isolated_django.report_header(config)
