"""Run one scenario twice, each time in a fresh interpreter: once under the
shim (Django's signals are native ``fastdispatch.Signal`` objects) and once
with ``FASTDISPATCH_DISABLE=1`` (Django's own dispatcher), and hand back both
results, for tests that take stock Django as the reference.

Third-party code reads signal internals the way the installed Django lays
them out, and some of it patches the ``Signal`` class for the rest of the
process (sentry-sdk), so a comparison needs an interpreter per side, started
from scratch::

    from integration.stock_vs_native import compare

    both = compare(scenario, kind="custom")  # a module-level function
    assert both.native.observed == both.stock.observed, both.report()

A scenario is a module-level function of a module that the child can import
before Django is configured (so whose top-level imports leave Django's
dispatcher alone), called with keyword arguments that JSON carries; or a
source string, run as a module named ``snippet`` from a file of its own (so
``inspect`` finds the source of what it defines), whose global ``result`` is
the result. Either way the result must be JSON data. An exception the
scenario raises is part of its outcome (``error``: the exception's type and
message), to be compared like a result.

The child is ``sys.executable``, run from ``tests/`` (so ``integration`` and
its ``testapp`` import), with the parent's environment apart from
``FASTDISPATCH_DISABLE``. It proves which dispatcher it ran on, and
``compare`` refuses an outcome from the wrong one: in the native run the
shim's start-up hook was installed before anything was imported and
``django.dispatch.Signal is fastdispatch.Signal`` (``post_save`` an instance
of it) once the scenario is done; in the stock run the hook never loaded and
neither holds.

This module imports only the standard library at its top, since the child
imports it first.
"""

import dataclasses
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import traceback
import weakref
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
# A hang guard for one child interpreter, not a timing check.
CHILD_TIMEOUT = 300
SNIPPET_MODULE = "snippet"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one run of a scenario gave."""

    dispatcher: str  # "native" or "stock"
    result: object  # the scenario's result, through JSON; None if it raised
    error: tuple | None  # (qualified type name, str(exception)) if it raised
    traceback: str | None
    django_version: tuple
    output: str  # the child's stdout and stderr

    @property
    def observed(self):
        """Result and error: what a comparison compares."""
        return {"result": self.result, "error": self.error}


@dataclasses.dataclass(frozen=True)
class Comparison:
    native: Outcome
    stock: Outcome

    def report(self):
        """Both runs in full, for an assertion message."""
        parts = []
        for outcome in (self.native, self.stock):
            parts.append(
                f"--- {outcome.dispatcher}: result={outcome.result!r} "
                f"error={outcome.error!r}\n{outcome.traceback or ''}{outcome.output}"
            )
        return "\n".join(parts)


def compare(scenario, **kwargs):
    """Run ``scenario`` under the shim, then under stock Django."""
    return Comparison(
        native=run(scenario, native=True, **kwargs),
        stock=run(scenario, native=False, **kwargs),
    )


def run(scenario, *, native, **kwargs):
    """Run ``scenario`` (a function or a source string) in a fresh interpreter,
    on the native dispatcher or on Django's own."""
    import django

    dispatcher = "native" if native else "stock"
    with tempfile.TemporaryDirectory(prefix="stock-vs-native-") as directory:
        out_path = Path(directory) / "outcome.json"
        if isinstance(scenario, str):
            if kwargs:
                raise TypeError("a source snippet takes no arguments")
            target = Path(directory) / f"{SNIPPET_MODULE}.py"
            target.write_text(scenario)
            target = str(target)
        else:
            if "<locals>" in scenario.__qualname__:
                raise TypeError(f"{scenario.__qualname__} is not module-level")
            target = f"{scenario.__module__}:{scenario.__qualname__}"
        env = dict(os.environ)
        env.pop("FASTDISPATCH_DISABLE", None)
        if not native:
            env["FASTDISPATCH_DISABLE"] = "1"
        env["PYTHONPATH"] = os.pathsep.join(
            [str(TESTS), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
        command = [
            sys.executable,
            "-c",
            f"from {__name__} import child_main; child_main()",
            dispatcher,
            target,
            json.dumps(kwargs),
            str(out_path),
        ]
        process = subprocess.run(
            command,
            cwd=TESTS,
            env=env,
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT,
        )
        output = process.stdout + process.stderr
        if process.returncode != 0 or not out_path.exists():
            raise RuntimeError(
                f"the {dispatcher} run of {target} exited with "
                f"{process.returncode}:\n{output}"
            )
        data = json.loads(out_path.read_text())
    proof = data["proof"]
    if proof != _expected_proof(native):
        raise RuntimeError(
            f"the {dispatcher} run of {target} was not on the dispatcher asked "
            f"for: {proof}\n{output}"
        )
    django_version = tuple(data["django_version"])
    if django_version != tuple(django.VERSION):
        raise RuntimeError(f"the child ran Django {django_version}, not ours")
    return Outcome(
        dispatcher=dispatcher,
        result=data["result"],
        error=None if data["error"] is None else tuple(data["error"]),
        traceback=data["traceback"],
        django_version=django_version,
        output=output,
    )


def _expected_proof(native):
    return {
        "hook_loaded_at_start": native,
        "django.dispatch.Signal is fastdispatch.Signal": native,
        "post_save is a fastdispatch.Signal": native,
    }


# --- in the child ------------------------------------------------------------


def child_main():
    """Entry point of the child: ``dispatcher target kwargs out_path``."""
    _, _dispatcher, target, kwargs, out_path = sys.argv
    # Written by the start-up hook, before any import of ours.
    hook_loaded = "fastdispatch._shim" in sys.modules
    result = error = trace = None
    try:
        if target.endswith(".py"):
            spec = importlib.util.spec_from_file_location(SNIPPET_MODULE, target)
            module = importlib.util.module_from_spec(spec)
            sys.modules[SNIPPET_MODULE] = module
            spec.loader.exec_module(module)
            result = module.result
        else:
            module_name, qualname = target.split(":")
            function = importlib.import_module(module_name)
            for name in qualname.split("."):
                function = getattr(function, name)
            result = function(**json.loads(kwargs))
        result = json.loads(json.dumps(result))
    except Exception as exc:
        result = None
        kind = type(exc)
        error = [f"{kind.__module__}.{kind.__qualname__}", str(exc)]
        trace = traceback.format_exc()

    import django
    import django.dispatch
    import fastdispatch
    from django.db.models.signals import post_save

    outcome = {
        "result": result,
        "error": error,
        "traceback": trace,
        "django_version": list(django.VERSION),
        "proof": {
            "hook_loaded_at_start": hook_loaded,
            "django.dispatch.Signal is fastdispatch.Signal": (
                django.dispatch.Signal is fastdispatch.Signal
            ),
            "post_save is a fastdispatch.Signal": isinstance(
                post_save, fastdispatch.Signal
            ),
        },
    }
    Path(out_path).write_text(json.dumps(outcome))


def setup_django(*, migrate=True, **overrides):
    """In the child: configure Django from the integration settings, with
    ``overrides`` (``INSTALLED_APPS=[...]``, say) in place of theirs, set it
    up, and create the tables of the in-memory database."""
    import django
    from django.conf import settings

    from integration import settings as base

    values = {name: getattr(base, name) for name in dir(base) if name.isupper()}
    values.update(overrides)
    settings.configure(**values)
    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", run_syncdb=True, interactive=False, verbosity=0)


def receivers_layout(signal, named):
    """In the child: ``signal.receivers`` as JSON data that does not depend on
    the process, entry by entry and field by field, so that the layout (how
    many fields, of what kind) and the content compare across interpreters.

    ``named`` maps names to the objects that may appear (receivers, senders,
    instances of bound methods): an int that is the id of one of them (or of
    a bound method's ``__self__`` and ``__func__``) is shown by that name, as
    ``NONE_ID`` is; a weak reference as ``["ref", ...]`` or
    ``["WeakMethod", ...]`` of what it points to (None when dead); a callable
    by its qualified name."""
    from django.dispatch.dispatcher import NONE_ID

    ids = {NONE_ID: "NONE_ID"}
    for name, obj in named.items():
        ids[id(obj)] = name
        if hasattr(obj, "__self__") and hasattr(obj, "__func__"):
            ids[id(obj.__self__)] = f"{name}.__self__"
            ids[id(obj.__func__)] = f"{name}.__func__"
    names = {id(obj): name for name, obj in named.items()}

    def describe(value):
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            return ids.get(value, "<unknown id>")
        if isinstance(value, tuple):
            return ["tuple", *(describe(item) for item in value)]
        if isinstance(value, weakref.ReferenceType):
            kind = "WeakMethod" if isinstance(value, weakref.WeakMethod) else "ref"
            target = value()
            return [kind, None if target is None else describe(target)]
        if id(value) in names:
            return names[id(value)]
        return f"<{type(value).__name__} {getattr(value, '__qualname__', '?')}>"

    return [describe(entry) for entry in signal.receivers]
