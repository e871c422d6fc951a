"""Type stubs of the native core, ``fastdispatch._native``."""

from collections.abc import Callable, Hashable, Iterable
from typing import Any, Literal, TypeAlias, final, overload

from typing_extensions import Self, disjoint_base

__all__ = [
    "__version__",
    "Signal",
    "SignalLock",
    "SenderReceiversCache",
    "RegistrationBackend",
    "_make_id",
    "NONE_ID",
    "NO_RECEIVERS",
    "SIGNALS_SCHEMA_VERSION",
    "ReceiverInfo",
    "SignalInfo",
    "SignalsReport",
    "SignalLookupError",
    "live_signals",
    "describe",
    "describe_all",
    "PROFILE_SCHEMA_VERSION",
    "Profile",
    "ReceiverTiming",
    "_profile_start",
    "_profile_record",
    "_profiling_active",
    "_use_make_id",
    "_set_django_version",
    "_django_series",
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

def _use_make_id(function: Callable[[Any], Hashable] | None) -> None:
    """Make receiver and sender keys with ``function`` (a replaced
    ``django.dispatch.dispatcher._make_id``), or natively again when None."""

def _set_django_version(major: int, minor: int) -> str:
    """Show the internals of Django ``major.minor``'s dispatcher; the series
    it follows ("4.2", "5.2", "6.0" or "6.1")."""

def _django_series() -> str:
    """The series in force, by name."""

@final
class SignalLock:
    """``Signal.lock``: the lock guarding a signal's receivers."""

    def acquire(self, blocking: bool = True, timeout: float = ...) -> bool:
        """As ``threading.Lock.acquire``: ``timeout`` -1 (the default) waits
        for as long as it takes."""
    def release(self) -> None: ...
    def locked(self) -> bool: ...
    def __enter__(self) -> bool: ...
    def __exit__(self, *exc_info: object) -> None: ...

@final
class SenderReceiversCache:
    """``Signal.sender_receivers_cache``: Django's cache of receivers per
    sender, seen through the signal's own. A value is ``NO_RECEIVERS`` or a
    list in the installed Django's layout."""

    def __len__(self) -> int: ...
    def __contains__(self, sender: object) -> bool: ...
    def __getitem__(self, sender: object) -> Any: ...
    @overload
    def get(self, sender: object) -> Any | None: ...
    @overload
    def get(self, sender: object, default: Any) -> Any: ...
    def clear(self) -> None: ...
    def copy(self) -> dict[Any, Any]:
        """A copy in Django's type: a ``WeakKeyDictionary`` with
        ``use_caching``, a dict without."""

@disjoint_base
class Signal:
    """Base class for all signals (``django.dispatch.Signal``, natively).

    ``send`` and ``send_robust`` accept ``sender`` by keyword too, as in Django.
    """

    receivers: list[_ReceiverRow]
    use_caching: bool
    _dead_receivers: bool
    @property
    def lock(self) -> SignalLock: ...
    @property
    def sender_receivers_cache(self) -> SenderReceiversCache: ...
    @sender_receivers_cache.setter
    def sender_receivers_cache(self, value: object) -> None:
        """Assigning any value empties the cache."""
    def __new__(cls, *args: Any, **kwargs: Any) -> Self: ...
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
    def _connect(
        self,
        receiver: _Receiver,
        sender: object = None,
        weak: bool = ...,
        dispatch_uid: Hashable | None = None,
    ) -> None: ...
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
    def _asend_receivers(
        self, sender: object
    ) -> tuple[list[_Receiver], list[_Receiver]] | None: ...
    def _clear_dead_receivers(self) -> None: ...
    def _receivers_changed(self, view: object) -> None: ...
    # Only in some series (fastdispatch._compat): _flag_dead_receivers on
    # Django 6.x, _remove_receiver before.
    def _flag_dead_receivers(self, reference: object = None) -> None: ...
    def _remove_receiver(self, receiver: object = None) -> None: ...
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

    def __new__(cls, *args: Any, **kwargs: Any) -> Self: ...
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

SIGNALS_SCHEMA_VERSION: int
"""``schema_version`` of the JSON report (``fastdispatch/signals.schema.json``)."""

_ReceiverKind: TypeAlias = Literal[
    "function", "method", "partial", "callable_object", "class", "builtin"
]

@final
class ReceiverInfo:
    """One live receiver of a signal; attributes as the keys of the JSON report."""

    @property
    def qualname(self) -> str:
        """Qualified name of the code that runs (``Handler.__call__``)."""
    @property
    def module(self) -> str | None: ...
    @property
    def file(self) -> str | None:
        """Source file of that code; None for native code."""
    @property
    def line(self) -> int | None:
        """First line of its definition (its first decorator, if any)."""
    @property
    def kind(self) -> _ReceiverKind: ...
    @property
    def sender(self) -> str | None:
        """The sender it is limited to (``app_label.Model`` for a model);
        None for any sender."""
    @property
    def weak(self) -> bool: ...
    @property
    def is_async(self) -> bool: ...
    @property
    def dispatch_uid(self) -> str | None:
        """A str uid as given, any other uid as its ``repr()``."""

@final
class SignalInfo:
    """One live signal; attributes as the keys of the JSON report."""

    @property
    def name(self) -> str | None:
        """``module.attribute`` under which the signal can be imported."""
    @property
    def type(self) -> str:
        """The signal's class, ``module.qualname``."""
    @property
    def module(self) -> str | None:
        """The module whose code created the signal."""
    @property
    def use_caching(self) -> bool: ...
    @property
    def receivers(self) -> tuple[ReceiverInfo, ...]:
        """Live receivers, in connection order."""

@final
class SignalsReport:
    """The live signals ``describe_all()`` found, in creation order."""

    @property
    def schema_version(self) -> int: ...
    @property
    def signals(self) -> tuple[SignalInfo, ...]: ...
    def to_json(self, indent: int | None = ...) -> str:
        """The JSON report, indented by ``indent`` spaces (2 by default;
        None: one line)."""
    def to_text(self) -> str: ...
    def __len__(self) -> int: ...

class SignalLookupError(LookupError):
    """No live signal has the name asked for, or several end with it."""

def live_signals() -> list[Signal]:
    """Every live signal of the process, in creation order."""

def describe(signal: Signal, *, sender: object = None) -> SignalInfo:
    """One signal and its live receivers; with ``sender``, only those that
    would run for it (limited to it, or to any sender)."""

def describe_all(*, name: str | None = None, sender: object = None) -> SignalsReport:
    """Every live signal, or the one called ``name`` (dotted, or a dotted
    tail of it that only one name has); with ``sender``, only receivers that
    would run for it, and, unless ``name`` is given, only signals that have
    some."""

PROFILE_SCHEMA_VERSION: int
"""``schema_version`` of a profile's JSON (``fastdispatch/profile.schema.json``)."""

@final
class ReceiverTiming:
    """What one receiver of one signal cost while a ``Profile`` recorded:
    the ``ReceiverInfo`` fields of the receiver, then its calls and times."""

    @property
    def qualname(self) -> str: ...
    @property
    def module(self) -> str | None: ...
    @property
    def file(self) -> str | None: ...
    @property
    def line(self) -> int | None: ...
    @property
    def kind(self) -> _ReceiverKind: ...
    @property
    def sender(self) -> str | None:
        """The sender it is connected for; None for any sender."""
    @property
    def weak(self) -> bool: ...
    @property
    def is_async(self) -> bool: ...
    @property
    def dispatch_uid(self) -> str | None: ...
    @property
    def receiver(self) -> ReceiverInfo:
        """The receiver as ``describe()`` shows it."""
    @property
    def signal(self) -> str | None:
        """The signal's name, as ``describe()`` gives it."""
    @property
    def calls(self) -> int: ...
    @property
    def total_ns(self) -> int:
        """Wall time of all its calls, in nanoseconds."""
    @property
    def max_ns(self) -> int:
        """Its longest call, in nanoseconds."""
    @property
    def mean_ns(self) -> int: ...
    @property
    def errors(self) -> int:
        """Calls that raised."""
    @property
    def caught(self) -> int:
        """Of those, the ones a robust send caught."""
    @property
    def senders(self) -> dict[str, int]:
        """Calls per sender (named as ``describe()`` names senders), most
        calls first; at most 16 senders are named."""
    @property
    def other_senders(self) -> int:
        """Calls from senders beyond those named."""

@final
class Profile:
    """A recording of receiver calls (``fastdispatch.profiling()``)."""

    @property
    def receivers(self) -> tuple[ReceiverTiming, ...]:
        """The receivers that ran, most total time first."""
    @property
    def recording(self) -> bool: ...
    @property
    def schema_version(self) -> int: ...
    @property
    def total_ns(self) -> int:
        """Time spent in receivers, in nanoseconds."""
    def stop(self) -> None:
        """Stop recording; the rows are final from then on."""
    def to_json(self, indent: int | None = ...) -> str:
        """The JSON of ``profile.schema.json``, indented by ``indent`` spaces
        (2 by default; None: one line)."""
    def to_text(self) -> str:
        """A table, one line per receiver, with its share of the time."""
    def __len__(self) -> int: ...

def _profile_start() -> Profile:
    """Start recording receiver calls into a new ``Profile``."""

def _profile_record(
    signal: object,
    receiver: object,
    sender: object,
    elapsed_ns: int,
    raised: bool = False,
    caught: bool = False,
) -> None:
    """Record one receiver call timed in Python."""

def _profiling_active() -> bool:
    """Whether receiver calls are being recorded."""
