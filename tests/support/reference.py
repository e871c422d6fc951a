"""Django's own dispatcher, the reference fastdispatch is held to.

The one loader of it for the test suite (``tests/conftest.py`` with
``FASTDISPATCH_TEST_REFERENCE``, the reliability suite), ``scripts/fuzz.py``
and ``benchmarks/compare.py``: the installed Django's
``django/dispatch/dispatcher.py`` (or another file of it, when given), loaded
from its file under another module name, ``_django_reference``, so that
fastdispatch's shim (which replaces ``django.dispatch.dispatcher.Signal``)
never touches it. Under Django X, fastdispatch is held to Django X.
"""

import importlib.util
import sys
import types
from pathlib import Path

REFERENCE_MODULE_NAME = "_django_reference"


def configure_django():
    """Configure Django settings (DEBUG off) unless something already did.

    ``tests/conftest.py`` does the same for pytest runs; this is for
    ``scripts/fuzz.py`` and subprocesses."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(DEBUG=False, INSTALLED_APPS=[], LOGGING_CONFIG=None)
        django.setup()


def reference_path():
    """The path of the installed Django's ``dispatcher.py``."""
    spec = importlib.util.find_spec("django.dispatch.dispatcher")
    if spec is None or spec.origin is None:
        raise RuntimeError("Django's dispatcher cannot be found")
    return Path(spec.origin)


def load_reference(path=None):
    """Django's dispatcher module from ``path`` (by default the installed
    Django's ``dispatcher.py``), loaded as ``_django_reference`` once per
    process; its ``Signal`` checked to be Django's pure-Python one. Django's
    settings are left as they are."""
    path = Path(path).resolve() if path else reference_path()
    module = sys.modules.get(REFERENCE_MODULE_NAME)
    if module is not None:
        if Path(module.__file__).resolve() != path.resolve():
            raise RuntimeError(
                f"{REFERENCE_MODULE_NAME} is already {module.__file__}, not {path}"
            )
        return module
    spec = importlib.util.spec_from_file_location(REFERENCE_MODULE_NAME, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[REFERENCE_MODULE_NAME] = module
    try:
        spec.loader.exec_module(module)
        if not isinstance(module.Signal.__dict__.get("send"), types.FunctionType):
            raise RuntimeError(f"{path} did not give Django's pure-Python Signal")
    except BaseException:
        del sys.modules[REFERENCE_MODULE_NAME]
        raise
    return module


def load_fastdispatch():
    """``fastdispatch``, checked to be the native one the shim installs."""
    configure_django()
    import django.dispatch
    import fastdispatch

    assert django.dispatch.Signal is fastdispatch.Signal, "fastdispatch shim inactive"
    return fastdispatch


def implementations():
    """``{"django": reference module, "fast": fastdispatch}``, Django first
    (Django's settings configured before either is loaded)."""
    configure_django()
    return {"django": load_reference(), "fast": load_fastdispatch()}
