"""Type stubs of ``fastdispatch``."""

from collections.abc import Callable
from typing import Any, TypeVar

from fastdispatch._native import NO_RECEIVERS as NO_RECEIVERS
from fastdispatch._native import NONE_ID as NONE_ID
from fastdispatch._native import SIGNALS_SCHEMA_VERSION as SIGNALS_SCHEMA_VERSION
from fastdispatch._native import ReceiverInfo as ReceiverInfo
from fastdispatch._native import Signal as Signal
from fastdispatch._native import SignalInfo as SignalInfo
from fastdispatch._native import SignalLookupError as SignalLookupError
from fastdispatch._native import SignalsReport as SignalsReport
from fastdispatch._native import __version__ as __version__
from fastdispatch._native import _make_id as _make_id
from fastdispatch._native import describe as describe
from fastdispatch._native import describe_all as describe_all
from fastdispatch._native import live_signals as live_signals

__all__ = [
    "NONE_ID",
    "NO_RECEIVERS",
    "SIGNALS_SCHEMA_VERSION",
    "ReceiverInfo",
    "Signal",
    "SignalInfo",
    "SignalLookupError",
    "SignalsReport",
    "_make_id",
    "describe",
    "describe_all",
    "live_signals",
    "receiver",
]

_F = TypeVar("_F", bound=Callable[..., Any])

def receiver(
    signal: Signal | list[Signal] | tuple[Signal, ...], **kwargs: Any
) -> Callable[[_F], _F]:
    """Connect the decorated function to ``signal`` (or to each of a list of
    signals); ``kwargs`` go to ``connect()``."""
