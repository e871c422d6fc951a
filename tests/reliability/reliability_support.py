"""Shared helpers of the reliability suite (``tests/reliability``) and of
``scripts/fuzz.py``.

The reference implementation is Django 6.1's own ``django/dispatch/dispatcher.py``,
taken from the Django 6.1.3 wheel at test time (downloaded once with pip into the
repository's git-ignored ``.cache/``) and loaded under another module name,
``_django61_reference``, so that fastdispatch's shim (which replaces
``django.dispatch.dispatcher.Signal``) never touches it. It runs on the installed
Django (5.2): its only Django imports are ``django.utils.inspect`` and, inside
``connect``, ``django.conf.settings``.
"""

import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

REFERENCE_VERSION = "6.1.3"
REFERENCE_MODULE_NAME = "_django61_reference"
REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = REPO_ROOT / ".cache" / "reliability"
WHEEL_NAME = f"django-{REFERENCE_VERSION}-py3-none-any.whl"
MEMBER = "django/dispatch/dispatcher.py"


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
    """The path of Django 6.1's ``dispatcher.py``, fetched on first use."""
    target = CACHE_DIR / f"dispatcher-{REFERENCE_VERSION}.py"
    if target.is_file():
        return target
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    wheel = CACHE_DIR / WHEEL_NAME
    if not wheel.is_file():
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            f"django=={REFERENCE_VERSION}",
            "--no-deps",
            "--only-binary",
            ":all:",
            "--python-version",
            "3.12",
            "--disable-pip-version-check",
            "--quiet",
            "-d",
            str(CACHE_DIR),
        ]
        subprocess.run(command, check=True, timeout=600)
    with zipfile.ZipFile(wheel) as archive:
        source = archive.read(MEMBER)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    partial.write_bytes(source)
    partial.replace(target)
    return target


def load_reference():
    """Django 6.1's dispatcher module, loaded as ``_django61_reference``."""
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
