"""Which Django's dispatcher ``fastdispatch.Signal`` stands in for.

Code in the wild reads a signal's internals the way its own Django lays them
out, branching on ``django.VERSION``: the ``receivers`` rows, what
``_live_receivers`` returns, the name of the dead-receiver hook, whether
``asend`` exists. So the native ``Signal`` shows the installed Django's
layout. The choice is made once, when the ``fastdispatch`` package is
imported (under the shim: when ``django.dispatch`` is first imported), before
any signal exists. The native core keeps the series (``src/compat.rs`` has
the table of what differs); this module gives the class the methods of that
series and tells ``_glue`` how to run async receivers.
"""

from __future__ import annotations

import sys

from fastdispatch import _glue, _native

# Methods that only some series have, by name: the series that have them.
_HOOK_SERIES = {
    "_remove_receiver": {"4.2", "5.2"},
    "_flag_dead_receivers": {"6.0", "6.1"},
    "asend": {"5.2", "6.0", "6.1"},
    "asend_robust": {"5.2", "6.0", "6.1"},
    "_log_robust_failure": {"5.2", "6.0", "6.1"},
}

# Every such method, as first defined (the native class, or _glue), so that a
# later configure() can put back what an earlier one took away.
_METHODS = {
    "_remove_receiver": _native.Signal.__dict__["_remove_receiver"],
    "_flag_dead_receivers": _native.Signal.__dict__["_flag_dead_receivers"],
    "asend": _glue.asend,
    "asend_robust": _glue.asend_robust,
    "_log_robust_failure": _native.Signal.__dict__["_log_robust_failure"],
}


def installed_django_version() -> tuple[int, int]:
    """``django.VERSION[:2]`` of the installed Django. Without Django, the
    newest series that runs on this Python (6.x needs Python 3.12)."""
    try:
        import django
    except ImportError:
        return (6, 1) if sys.version_info >= (3, 12) else (5, 2)
    major, minor = django.VERSION[:2]
    return int(major), int(minor)


def configure(version: tuple[int, int]) -> str:
    """Make ``fastdispatch.Signal`` show the internals of Django ``version``'s
    dispatcher; returns the series it follows: "4.2", "5.2" (also for 5.0
    and 5.1, whose dispatcher is 5.2's), "6.0" or "6.1"."""
    series: str = _native._set_django_version(*version)
    for name, present_in in _HOOK_SERIES.items():
        if series in present_in:
            setattr(_native.Signal, name, _METHODS[name])
        elif name in _native.Signal.__dict__:
            delattr(_native.Signal, name)
    _glue.configure(series)
    return series


def series() -> str:
    """The series in force: "4.2", "5.2", "6.0" or "6.1"."""
    return str(_native._django_series())
