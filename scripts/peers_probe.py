"""What a package's test suite ran and which dispatcher ran it (``make peers``).

The peer suites of ``noxfile.py`` (``peers-*`` sessions) run a package's own
tests with the runner its own CI uses. This module watches such a run from
inside the test process, without changing the runner, and writes one JSON
file (the path in the ``FASTDISPATCH_PEERS_REPORT`` environment variable)
with:

* ``tests``: every test id that ran; ``failed``: those that failed or
  errored (a failing subtest fails its test; an error outside any test, such
  as in ``setUpClass`` or at collection, counts under its own id);
  ``skipped``: those skipped;
* ``dispatcher``: which ``Signal`` class ``django.dispatch`` and
  ``django.db.models.signals.post_save`` had at the end of the run
  (``fastdispatch._native.Signal`` when the shim was at work, Django's own
  otherwise), and whether ``fastdispatch._shim`` says it is active.

Two ways in, one per kind of runner:

* pytest: as a plugin, ``python -m pytest -p peers_probe ...`` with this
  folder on ``PYTHONPATH``; test ids are pytest's node ids.
* Django's test runner (``runtests.py``, ``manage.py test``): as a wrapper,
  ``python scripts/peers_probe.py SCRIPT [ARGS...]`` runs ``SCRIPT`` as
  ``__main__`` (as ``python SCRIPT ARGS`` would) with
  ``unittest.TestResult`` instrumented; test ids are unittest's
  (``module.Class.method``).
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import sys
import unittest
from pathlib import Path
from typing import Any

REPORT_VARIABLE = "FASTDISPATCH_PEERS_REPORT"


class Record:
    """The outcome of one run: test ids by what happened to them."""

    def __init__(self, runner: str) -> None:
        self.runner = runner
        self.tests: set[str] = set()
        self.failed: set[str] = set()
        self.skipped: set[str] = set()

    def dispatcher(self) -> dict[str, Any]:
        """Which dispatcher the process used (read at the end of the run)."""
        found: dict[str, Any] = {}
        try:
            import django.dispatch
            from django.db.models.signals import post_save
        except Exception as error:  # the suite may not even have imported Django
            return {"error": f"{type(error).__name__}: {error}"}
        signal = django.dispatch.Signal
        found["django.dispatch.Signal"] = f"{signal.__module__}.{signal.__qualname__}"
        kind = type(post_save)
        found["post_save"] = f"{kind.__module__}.{kind.__qualname__}"
        try:
            from fastdispatch import _native, _shim
        except Exception as error:
            found["fastdispatch"] = f"{type(error).__name__}: {error}"
        else:
            # post_save is a ModelSignal, a subclass of django.dispatch's
            # Signal: of the native one under the shim.
            found["native"] = signal is _native.Signal and isinstance(
                post_save, _native.Signal
            )
            found["shim_active"] = bool(_shim.is_active())
        return found

    def write(self) -> None:
        target = os.environ.get(REPORT_VARIABLE)
        if not target:
            return
        report = {
            "runner": self.runner,
            "tests": sorted(self.tests),
            "failed": sorted(self.failed),
            "skipped": sorted(self.skipped - self.failed),
            "dispatcher": self.dispatcher(),
        }
        Path(target).write_text(json.dumps(report, indent=1) + "\n")


# -- pytest: a plugin ---------------------------------------------------------

_pytest_record: Record | None = None


def pytest_configure(config: Any) -> None:
    global _pytest_record
    _pytest_record = Record("pytest")


def pytest_runtest_logreport(report: Any) -> None:
    """Each phase of each test: setup, call, teardown."""
    if _pytest_record is None:
        return
    _pytest_record.tests.add(report.nodeid)
    if report.failed:
        _pytest_record.failed.add(report.nodeid)
    elif report.skipped:
        _pytest_record.skipped.add(report.nodeid)


def pytest_collectreport(report: Any) -> None:
    """A module that fails to import is a failure under its own id."""
    if _pytest_record is not None and report.failed:
        _pytest_record.tests.add(report.nodeid)
        _pytest_record.failed.add(report.nodeid)


def pytest_unconfigure(config: Any) -> None:
    if _pytest_record is not None:
        _pytest_record.write()


# -- Django's test runner: a wrapper around the script ------------------------


def instrument_unittest(record: Record) -> None:
    """Record every test that ``unittest.TestResult`` (the base class of every
    result class Django's runner uses) hears of."""
    base = unittest.TestResult
    start, error, failure = base.startTest, base.addError, base.addFailure
    skip, unexpected, subtest = base.addSkip, base.addUnexpectedSuccess, base.addSubTest

    def test_id(test: Any) -> str:
        # An error outside a test (setUpClass, a module that fails to import)
        # comes as an _ErrorHolder, whose id() names where it happened.
        return str(test.id())

    def start_test(self: Any, test: Any) -> None:
        record.tests.add(test_id(test))
        start(self, test)

    def add_error(self: Any, test: Any, err: Any) -> None:
        record.tests.add(test_id(test))
        record.failed.add(test_id(test))
        error(self, test, err)

    def add_failure(self: Any, test: Any, err: Any) -> None:
        record.failed.add(test_id(test))
        failure(self, test, err)

    def add_skip(self: Any, test: Any, reason: str) -> None:
        record.tests.add(test_id(test))
        record.skipped.add(test_id(test))
        skip(self, test, reason)

    def add_unexpected_success(self: Any, test: Any) -> None:
        record.failed.add(test_id(test))
        unexpected(self, test)

    def add_subtest(self: Any, test: Any, sub: Any, err: Any) -> None:
        if err is not None:
            record.failed.add(test_id(test))
        subtest(self, test, sub, err)

    base.startTest = start_test  # type: ignore[method-assign]
    base.addError = add_error  # type: ignore[method-assign]
    base.addFailure = add_failure  # type: ignore[method-assign]
    base.addSkip = add_skip  # type: ignore[method-assign]
    base.addUnexpectedSuccess = add_unexpected_success  # type: ignore[method-assign]
    base.addSubTest = add_subtest  # type: ignore[method-assign]


def main(argv: list[str]) -> None:
    if not argv:
        sys.exit("usage: python peers_probe.py SCRIPT [ARGS...]")
    script = Path(argv[0]).resolve()
    record = Record("django")
    instrument_unittest(record)
    atexit.register(record.write)
    # As `python SCRIPT ARGS` would: its folder first on sys.path, its
    # arguments in sys.argv.
    sys.argv = [str(script), *argv[1:]]
    sys.path[0] = str(script.parent)
    runpy.run_path(str(script), run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
