"""``python -m fastdispatch``: report which dispatcher this Python would use.

Prints the versions of fastdispatch, Django and Python, where the native module
was loaded from, whether the start-up shim is active, whether
``django.dispatch.Signal`` is ``fastdispatch.Signal`` in this process (Django's
dispatcher is imported to find out), which Django series' internals the
native ``Signal`` shows and, when django-registration is installed,
whether ``django_registration.signals`` is ``fastdispatch.registration.signals``.
"""

from __future__ import annotations

import platform
import sys

import fastdispatch
from fastdispatch import _compat, _native, _shim


def _shim_line(state: _shim.ShimStatus) -> str:
    if state["disabled_by_env"]:
        return f"off ({_shim.DISABLE_ENV} is set)"
    if not state["hook_installed"] and not state["django_patched"]:
        return "not installed (no start-up hook in this environment)"
    done = []
    if state["hook_installed"]:
        done.append("import hook installed")
    if state["django_patched"]:
        done.append("django.dispatch patched")
    elif state["django_imported"]:
        done.append("django.dispatch NOT patched")
    return "active (" + ", ".join(done) + ")"


def _registration_line() -> str:
    try:
        import django_registration.signals as theirs
    except ImportError:
        return "django_registration.signals: not installed"
    import fastdispatch.registration.signals as ours

    return f"django_registration.signals is {ours.__name__}: {theirs is ours}"


def report() -> list[str]:
    """The report's lines."""
    try:
        import django
        import django.dispatch
    except ImportError as err:
        django_version = f"not importable ({err})"
        same = False
    else:
        django_version = django.get_version()
        # Types apart for the type checker; the same class once the shim is in.
        django_signal: object = django.dispatch.Signal
        same = django_signal is fastdispatch.Signal
    state = _shim.status()
    native = f"{fastdispatch.Signal.__module__}.{fastdispatch.Signal.__qualname__}"
    lines = [
        f"fastdispatch: {fastdispatch.__version__}",
        f"native module: {_native.__file__}",
        f"shim: {_shim_line(state)}",
        f"django.dispatch.Signal is {native}: {same}",
        _registration_line(),
        f"Django: {django_version}",
        f"internals of Django: {_compat.series()}",
        f"Python: {platform.python_version()} "
        f"({platform.python_implementation()}, {sys.executable})",
    ]
    for name, error in sorted(state["errors"].items()):
        lines.append(f"shim error in {name}: {error}")
    return lines


def main() -> int:
    print("\n".join(report()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
