"""Type stubs of the native core, ``fastdispatch._native``."""

from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeAlias, final

__all__ = [
    "__version__",
    "Signal",
    "SignalLock",
    "RegistrationBackend",
    "_make_id",
    "NONE_ID",
    "NO_RECEIVERS",
]

__version__: str

NONE_ID: int
"""``_make_id(None)``: the sender key of receivers connected for any sender."""

NO_RECEIVERS: object
"""Marker for "no receivers" in a sender's cache entry, as in Django."""

_Receiver: TypeAlias = Callable[..., Any]
_LookupKey: TypeAlias = tuple[Hashable, Hashable]
# ((receiver key, sender key), receiver or a weak reference to it,
#  weak reference to the sender or None, whether the receiver is async)
_ReceiverRow: TypeAlias = tuple[_LookupKey, Any, Any, bool]

def _make_id(target: object) -> int | tuple[int, int]:
    """``id(target)``, or ``(id(self), id(function))`` for a bound method."""

@final
class SignalLock:
    """``Signal.lock``: the lock guarding a signal's receivers."""

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool: ...
    def release(self) -> None: ...
    def locked(self) -> bool: ...
    def __enter__(self) -> bool: ...
    def __exit__(self, *exc_info: object) -> None: ...

class Signal:
    """Base class for all signals (``django.dispatch.Signal``, natively).

    ``send`` and ``send_robust`` accept ``sender`` by keyword too, as in Django.
    """

    receivers: list[_ReceiverRow]
    use_caching: bool
    _dead_receivers: bool
    @property
    def lock(self) -> SignalLock: ...
    def __init__(
        self,
        use_caching: bool = False,
        *,
        providing_args: Iterable[str] | None = None,
    ) -> None: ...
    def connect(
        self,
        receiver: _Receiver,
        sender: object = None,
        weak: bool = True,
        dispatch_uid: Hashable | None = None,
    ) -> None: ...
    def disconnect(
        self,
        receiver: _Receiver | None = None,
        sender: object = None,
        dispatch_uid: Hashable | None = None,
    ) -> bool: ...
    def has_listeners(self, sender: object = None) -> bool: ...
    def send(self, sender: object, **named: Any) -> list[tuple[_Receiver, Any]]: ...
    def send_robust(
        self, sender: object, **named: Any
    ) -> list[tuple[_Receiver, Any]]: ...
    async def asend(
        self, sender: object, **named: Any
    ) -> list[tuple[_Receiver, Any]]: ...
    async def asend_robust(
        self, sender: object, **named: Any
    ) -> list[tuple[_Receiver, Any]]: ...
    def _live_receivers(
        self, sender: object
    ) -> tuple[list[_Receiver], list[_Receiver]]: ...
    def _clear_dead_receivers(self) -> None: ...
    def _flag_dead_receivers(self, reference: object = None) -> None: ...
    def _log_robust_failure(self, receiver: _Receiver, err: BaseException) -> None: ...

_RedirectTo: TypeAlias = tuple[str, tuple[Any, ...], dict[str, Any]]

class RegistrationBackend:
    """Base class of registration backends (``fastdispatch.registration``).

    ``register`` and ``activate`` call the hooks ``create_user`` and
    ``activate_user``, send ``user_registered`` / ``user_activated`` with
    ``sender=type(self)``, ``user`` and ``request``, and return the user
    (``activate``: False when the hook returns a false value). A class that
    does not implement ``activate_user`` has no activation step.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None: ...
    def register(self, request: Any, **kwargs: Any) -> Any: ...
    def activate(self, request: Any, **kwargs: Any) -> Any: ...
    def create_user(self, request: Any, **kwargs: Any) -> Any: ...
    def activate_user(self, request: Any, **kwargs: Any) -> Any: ...
    def registration_allowed(self, request: Any) -> bool: ...
    def get_form_class(self, request: Any) -> type[Any]: ...
    def post_registration_redirect(self, request: Any, user: Any) -> _RedirectTo: ...
    def post_activation_redirect(self, request: Any, user: Any) -> _RedirectTo: ...
    @property
    def has_activation_step(self) -> bool: ...
