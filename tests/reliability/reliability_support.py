"""Shared helpers of the reliability suite (``tests/reliability``) and of
``scripts/fuzz.py``.

The reference implementation is the installed Django's own
``django/dispatch/dispatcher.py``, loaded from its file under another module
name, ``_django_reference``, so that fastdispatch's shim (which replaces
``django.dispatch.dispatcher.Signal``) never touches it. Under Django X,
fastdispatch is held to Django X.
"""

import importlib.util
import sys
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


def load_reference():
    """The installed Django's dispatcher module, loaded as ``_django_reference``."""
    module = sys.modules.get(REFERENCE_MODULE_NAME)
    if module is not None:
        return module
    configure_django()
    spec = importlib.util.spec_from_file_location(
        REFERENCE_MODULE_NAME, reference_path()
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[REFERENCE_MODULE_NAME] = module
    try:
        spec.loader.exec_module(module)
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
    """``{"django": reference module, "fast": fastdispatch}``, Django first."""
    return {"django": load_reference(), "fast": load_fastdispatch()}
