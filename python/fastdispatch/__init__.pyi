"""Type stubs of ``fastdispatch``."""

from collections.abc import Callable
from typing import Any, TypeVar

from fastdispatch._native import NO_RECEIVERS as NO_RECEIVERS
from fastdispatch._native import NONE_ID as NONE_ID
from fastdispatch._native import Signal as Signal
from fastdispatch._native import __version__ as __version__
from fastdispatch._native import _make_id as _make_id

__all__ = ["NONE_ID", "NO_RECEIVERS", "Signal", "_make_id", "receiver"]

_F = TypeVar("_F", bound=Callable[..., Any])

def receiver(
    signal: Signal | list[Signal] | tuple[Signal, ...], **kwargs: Any
) -> Callable[[_F], _F]:
    """Connect the decorated function to ``signal`` (or to each of a list of
    signals); ``kwargs`` go to ``connect()``."""
