"""Test directories whose tests need Django set up with installed apps and a
database (``tests/integration``, ``tests/signals_command``).

Each such directory has its own ``settings.py`` and apps, while
``tests/conftest.py`` configures Django once per process, bare, for the Signal
suite; Django's settings and app registry cannot be set up a second time in
one process. So every test file of those directories runs in an interpreter of
its own. Their ``conftest.py`` uses this module:

* Under the main suite (``pytest``, ``pytest tests/``, or ``pytest
  tests/<directory>``), ``tests/conftest.py`` has configured Django by the
  time the directory's conftest loads (``delegating()`` is true). Each
  ``test_*.py`` is then collected as a single item (the conftest's
  ``pytest_pycollect_makemodule`` returns ``isolated_file()``), which runs
  ``python -m pytest --confcutdir=<directory> <file>`` in a fresh interpreter
  (the same one, so the same installed wheel and shim, and the same
  environment, ``FASTDISPATCH_DISABLE`` included) and fails with that run's
  output if anything in it fails.
* In that run, ``--confcutdir`` keeps ``tests/conftest.py`` out: Django is not
  configured yet when the directory's conftest loads, so it calls
  ``configure_django()`` with its settings module and imports the ``db``
  fixtures from here; the tests run in process, on an in-memory SQLite
  database migrated once.

To run one file by itself, with pytest's own report of each test::

    python -m pytest --confcutdir=tests/integration tests/integration/test_sentry.py
"""

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


def delegating():
    """Whether Django is configured already (by ``tests/conftest.py``), so
    that the test files must run elsewhere."""
    return settings.configured


# --- in the main suite: one item per file, run in its own interpreter --------


class ChildRunFailed(Exception):
    pass


class IsolatedRun(pytest.Item):
    """All the tests of one file, run by pytest in a fresh interpreter, with
    the file's directory as the conftest cut-off."""

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


def isolated_file(module_path, parent):
    """The collector of a test file that runs in its own interpreter."""
    return IsolatedFile.from_parent(parent, path=module_path)


# --- in the file's own interpreter: Django set up for these tests ------------


def configure_django(settings_module):
    """Configure Django from the upper-case names of ``settings_module`` and
    set it up, then make sure the dispatcher is the one asked for."""
    settings.configure(
        **{
            name: getattr(settings_module, name)
            for name in dir(settings_module)
            if name.isupper()
        }
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


def report_header(config):
    if delegating():
        return "each file in its own interpreter"
    return f"django.dispatch.Signal is {django.dispatch.Signal!r}"
