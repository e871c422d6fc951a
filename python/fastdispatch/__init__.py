"""A native (Rust) drop-in replacement for Django's signal dispatcher.

``fastdispatch.Signal`` behaves as ``django.dispatch.Signal`` of the installed
Django, internals included (``fastdispatch._compat``).
Installed as a package, it also takes the place of ``django.dispatch.Signal``
in every process (see ``fastdispatch._shim``), unless ``FASTDISPATCH_DISABLE=1``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from fastdispatch import _compat
from fastdispatch._native import (
    NO_RECEIVERS,
    NONE_ID,
    PROFILE_SCHEMA_VERSION,
    SIGNALS_SCHEMA_VERSION,
    Profile,
    ReceiverInfo,
    ReceiverTiming,
    Signal,
    SignalInfo,
    SignalLookupError,
    SignalsReport,
    _make_id,
    describe,
    describe_all,
    live_signals,
)
from fastdispatch._native import __version__ as __version__
from fastdispatch.profiling import profiling, start_from_environment

_compat.configure(_compat.installed_django_version())
# FASTDISPATCH_PROFILE=1: every send of the process is recorded, from here on
# (no native signal exists before this module is imported).
start_from_environment()

__all__ = [
    "NONE_ID",
    "NO_RECEIVERS",
    "PROFILE_SCHEMA_VERSION",
    "SIGNALS_SCHEMA_VERSION",
    "Profile",
    "ReceiverInfo",
    "ReceiverTiming",
    "Signal",
    "SignalInfo",
    "SignalLookupError",
    "SignalsReport",
    "_make_id",
    "describe",
    "describe_all",
    "live_signals",
    "profiling",
    "receiver",
]


_F = TypeVar("_F", bound=Callable[..., Any])


class _Connectable(Protocol):
    """A signal to ``receiver``: ``fastdispatch.Signal``, or one that the type
    checker knows as ``django.dispatch.Signal`` (the same class at run time)."""

    def connect(
        self,
        receiver: Callable[..., Any],
        sender: Any = ...,
        weak: bool = ...,
        dispatch_uid: Any = ...,
    ) -> None: ...


def receiver(
    signal: _Connectable | list[_Connectable] | tuple[_Connectable, ...],
    **kwargs: Any,
) -> Callable[[_F], _F]:
    """Connect the decorated function to a signal, or to each of a list of signals.

    ``kwargs`` are passed to ``connect()``::

        @receiver(post_save, sender=MyModel)
        def on_save(sender, **kwargs): ...

        @receiver([post_save, post_delete], sender=MyModel)
        def on_change(sender, **kwargs): ...
    """

    def _decorator(func: _F) -> _F:
        signals = signal if isinstance(signal, (list, tuple)) else (signal,)
        for each in signals:
            each.connect(func, **kwargs)
        return func

    return _decorator
