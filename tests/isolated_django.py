"""Test packages that need Django set up with installed apps and a database
(``tests/integration``, ``tests/registration``, ``tests/signals_command``),
each from its own settings.

``tests/conftest.py`` configures Django once per process, bare, for the Signal
suite, and Django's settings and app registry cannot be set up a second time
in one process. So every test file of such a package runs in an interpreter
of its own:

* Under the main suite (``pytest``, ``pytest tests/``, or ``pytest
  tests/<package>``), ``tests/conftest.py`` has configured Django by the time
  the package's conftest loads. Each ``test_*.py`` is then collected as a
  single item, which runs ``python -m pytest --confcutdir=tests/<package>
  <file>`` in a fresh interpreter (the same one, so the same installed wheel
  and shim, and the same environment, ``FASTDISPATCH_DISABLE`` included) and
  fails with that run's output if anything in it fails.
* In that run, ``--confcutdir`` keeps ``tests/conftest.py`` out: Django is not
  configured yet when the package's conftest loads, so it is configured there
  from the package's settings module and set up, and the tests run in
  process, on an in-memory SQLite database migrated once.

A package's ``conftest.py`` does::

    isolated = IsolatedDjango(__file__, "<package>.settings")
    pytest_pycollect_makemodule = isolated.pytest_pycollect_makemodule
    pytest_report_header = isolated.pytest_report_header
    if not isolated.delegate:
        isolated.set_up()
        from isolated_django import _database, db  # noqa: F401 (fixtures)

To run one file by itself, with pytest's own report of each test::

    python -m pytest --confcutdir=tests/<package> tests/<package>/test_<name>.py
"""

import importlib
import os
import subprocess
import sys
from pathlib import Path

import django
import django.dispatch
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
# A hang guard for the run of one file, not a timing check.
CHILD_TIMEOUT = 600

# Whether the shim should be on: FASTDISPATCH_DISABLE, as the start-up hook reads it.
NATIVE = os.environ.get("FASTDISPATCH_DISABLE", "").strip().lower() not in {
    "1",
    "true",
    "yes",
    "on",
}


# --- in the main suite: one item per file, run in its own interpreter --------


class ChildRunFailed(Exception):
    pass


class IsolatedRun(pytest.Item):
    """All the tests of one file, run by pytest in a fresh interpreter."""

    def runtest(self):
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            f"--confcutdir={self.path.parent}",
            "-ra",
            str(self.path),
        ]
        result = subprocess.run(
            command,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT,
        )
        if result.returncode != 0:
            raise ChildRunFailed(
                f"{' '.join(command)}\nexited with {result.returncode}:\n"
                f"{result.stdout}{result.stderr}"
            )

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, ChildRunFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"{self.path.name}, in its own interpreter"


class IsolatedFile(pytest.File):
    def collect(self):
        yield IsolatedRun.from_parent(self, name="own-interpreter")


class IsolatedDjango:
    """The conftest hooks and set-up of one such package."""

    def __init__(self, conftest_file, settings_module):
        self.directory = Path(conftest_file).resolve().parent
        self.settings_module = settings_module
        # Django already configured (by tests/conftest.py): run each file elsewhere.
        self.delegate = settings.configured

    def pytest_pycollect_makemodule(self, module_path, parent):
        if self.delegate:
            return IsolatedFile.from_parent(parent, path=module_path)
        return None

    def pytest_report_header(self, config):
        name = self.directory.name
        if self.delegate:
            return f"{name} tests: each file in its own interpreter"
        return f"{name} tests: django.dispatch.Signal is {django.dispatch.Signal!r}"

    def set_up(self):
        """Configure Django from the package's settings and set it up, in the
        file's own interpreter."""
        values = importlib.import_module(self.settings_module)
        settings.configure(
            **{name: getattr(values, name) for name in dir(values) if name.isupper()}
        )
        django.setup()

        # Whichever dispatcher runs these tests, it must be the one asked for:
        # passing on Django's own dispatcher by mistake would prove nothing.
        import fastdispatch
        from django.db.models.signals import post_save

        native = django.dispatch.Signal is fastdispatch.Signal
        if native != NATIVE or isinstance(post_save, fastdispatch.Signal) != NATIVE:
            raise RuntimeError(
                f"django.dispatch.Signal is {django.dispatch.Signal!r}, expected "
                + ("fastdispatch.Signal" if NATIVE else "Django's own")
                + " (is the package installed from its wheel, with its start-up hook?)"
            )


# --- fixtures, in the file's own interpreter ---------------------------------


@pytest.fixture(scope="session", autouse=True)
def _database():
    from django.core.management import call_command

    call_command("migrate", run_syncdb=True, interactive=False, verbosity=0)


@pytest.fixture
def db():
    """Each test's writes rolled back after it."""
    from django.db import transaction

    with transaction.atomic():
        yield
        transaction.set_rollback(True)
