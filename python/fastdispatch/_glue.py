"""The parts of ``Signal`` written in Python: ``connect``'s front, ``asend``,
``asend_robust``, the async receivers of ``send``/``send_robust``, the
``receivers`` list, and one rare call.

Coroutines, task groups and asgiref's thread adapters are Python's business, so
they stay in Python. The native core resolves the live receivers and calls in
here only when there is async work to do. ``asend`` and ``asend_robust`` are
installed on the native ``Signal`` class by ``fastdispatch._compat`` (Django
4.2 has neither), so they are real coroutine functions, as in Django.

How async receivers run depends on the Django series (``configure``):

* 5.0 to 6.0: concurrently with ``asyncio.gather``, each in a copy of the
  caller's context; ``asend`` runs the sync receivers (behind one
  ``sync_to_async``) at the same time as the async ones.
* 6.1: concurrently in an ``asyncio.TaskGroup``, all in one context whose
  changes the caller sees afterwards; ``asend`` runs the sync receivers
  first, then the async ones.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
import weakref
from collections.abc import Callable, Coroutine, Hashable, Iterable
from typing import TYPE_CHECKING, Any, SupportsIndex, TypeAlias, TypeVar, cast

from asgiref.sync import async_to_sync, sync_to_async

if TYPE_CHECKING:
    from fastdispatch._native import Signal

_Receiver: TypeAlias = Callable[..., Any]
_Responses: TypeAlias = list[tuple[_Receiver, Any]]
_Named: TypeAlias = dict[str, Any]
# What _live_receivers returns from Django 5.0 on: (sync, async) receivers.
_LiveReceivers: TypeAlias = tuple[list[_Receiver], list[_Receiver]]


def connect(
    self: Signal,
    receiver: _Receiver,
    sender: object = None,
    weak: bool = True,
    dispatch_uid: Hashable | None = None,
) -> None:
    """Connect ``receiver`` to this signal, for ``sender`` only, or for any
    sender when ``sender`` is None.

    The receiver must be callable and accept ``**kwargs``; it is kept by weak
    reference unless ``weak`` is false (a bound method lives as long as its
    object). A second connection with the same ``dispatch_uid`` (or the same
    receiver) and sender is ignored. Async receivers are recognised.
    """
    # A Python function, not the native method itself, because Django's model
    # checks recognise a lazy `ModelSignal.connect` by the function's
    # `__module__` and `__name__`, which a native bound method cannot carry.
    self._connect(receiver, sender, weak, dispatch_uid)


def _restore_context(context: contextvars.Context) -> None:
    # Receivers share one context; whatever they set becomes visible to the
    # caller afterwards, as if they had run inline.
    for var, value in context.items():
        try:
            changed = var.get() != value
        except LookupError:
            changed = True
        if changed:
            var.set(value)


async def _gather(coros: list[Coroutine[Any, Any, Any]]) -> list[Any]:
    """Django 5.0 to 6.0: await ``coros`` with ``asyncio.gather``; results in
    order, the first failure raised (the others run on)."""
    return list(await asyncio.gather(*coros))


async def _task_group(coros: list[Coroutine[Any, Any, Any]]) -> list[Any]:
    """Django 6.1: await ``coros`` concurrently in one shared context;
    results in order.

    A single failure is raised as itself, several as an exception group, the
    way ``asyncio.TaskGroup`` reports them.
    """
    if not coros:
        return []
    context = contextvars.copy_context()
    results: list[Any] = [None] * len(coros)

    async def store(index: int, coro: Coroutine[Any, Any, Any]) -> None:
        results[index] = await coro

    try:
        try:
            # 3.11+ only, as BaseExceptionGroup below: Django 6.1, the only
            # series that runs receivers so, needs Python 3.12.
            async with asyncio.TaskGroup() as group:  # type: ignore[attr-defined]
                for index, coro in enumerate(coros):
                    group.create_task(store(index, coro), context=context)
        except BaseExceptionGroup as group_error:  # type: ignore[name-defined]  # noqa: F821
            if len(group_error.exceptions) == 1:
                # Re-raised as itself, its context the group, as Django does.
                raise group_error.exceptions[0]  # noqa: B904
            raise
        return results
    finally:
        _restore_context(context)


# How receivers run concurrently; set by configure() for the Django series.
_run_concurrently = _task_group


def _profiling_active() -> bool:
    # Imported here: the native module imports this one while it loads.
    from fastdispatch._native import _profiling_active

    return _profiling_active()


def _record(
    signal: Signal,
    receiver: _Receiver,
    sender: object,
    start: int,
    raised: bool = False,
    caught: bool = False,
) -> None:
    from fastdispatch._native import _profile_record

    elapsed = time.perf_counter_ns() - start
    _profile_record(signal, receiver, sender, elapsed, raised, caught)


async def _call(
    signal: Signal,
    receiver: _Receiver,
    sender: object,
    named: _Named,
    robust: bool,
    timed: bool,
) -> Any:
    """An async receiver's call when it is robust or timed (a profile
    records): its ``Exception`` logged and returned when robust, its time
    taken from its start to the completion of its coroutine when timed."""
    start = time.perf_counter_ns() if timed else 0
    try:
        response = await receiver(signal=signal, sender=sender, **named)
    except Exception as err:
        if timed:
            _record(signal, receiver, sender, start, raised=True, caught=robust)
        if not robust:
            raise
        signal._log_robust_failure(receiver, err)
        return err
    except BaseException:
        if timed:
            _record(signal, receiver, sender, start, raised=True)
        raise
    if timed:
        _record(signal, receiver, sender, start)
    return response


def _async_calls(
    signal: Signal,
    receivers: Iterable[_Receiver],
    sender: object,
    named: _Named,
    robust: bool,
) -> list[Coroutine[Any, Any, Any]]:
    timed = _profiling_active()
    if robust or timed:
        return [_call(signal, r, sender, named, robust, timed) for r in receivers]
    return [r(signal=signal, sender=sender, **named) for r in receivers]


def send_async_receivers(
    signal: Signal,
    sender: object,
    named: _Named,
    receivers: list[_Receiver],
    robust: bool,
) -> _Responses:
    """Run the async receivers of a synchronous ``send``: one event loop
    through ``async_to_sync``, receivers concurrently. Returns the
    ``(receiver, response)`` pairs."""

    async def run_all() -> _Responses:
        responses = await _run_concurrently(
            _async_calls(signal, receivers, sender, named, robust)
        )
        return list(zip(receivers, responses, strict=True))

    return async_to_sync(run_all)()


def _sync_calls(
    signal: Signal,
    receivers: Iterable[_Receiver],
    sender: object,
    named: _Named,
    robust: bool,
) -> _Responses:
    """Call sync receivers in order, as ``_call`` calls an async one; when
    timed, each in the thread it runs in."""
    timed = _profiling_active()
    responses: _Responses = []
    for receiver in receivers:
        start = time.perf_counter_ns() if timed else 0
        try:
            response = receiver(signal=signal, sender=sender, **named)
        except Exception as err:
            if timed:
                _record(signal, receiver, sender, start, raised=True, caught=robust)
            if not robust:
                raise
            signal._log_robust_failure(receiver, err)
            response = err
        except BaseException:
            if timed:
                _record(signal, receiver, sender, start, raised=True)
            raise
        else:
            if timed:
                _record(signal, receiver, sender, start)
        responses.append((receiver, response))
    return responses


async def _asend_in_order(
    signal: Signal,
    sender: object,
    named: _Named,
    robust: bool,
    receivers: _LiveReceivers,
) -> _Responses:
    """Django 6.1's ``asend``: the sync receivers first (all behind one
    thread hop, in connection order), then the async ones, concurrently."""
    sync_receivers, async_receivers = receivers
    responses: _Responses = []
    if sync_receivers:
        responses = await sync_to_async(_sync_calls)(
            signal, sync_receivers, sender, named, robust
        )
    async_responses = await _task_group(
        _async_calls(signal, async_receivers, sender, named, robust)
    )
    responses.extend(zip(async_receivers, async_responses, strict=True))
    return responses


async def _asend_together(
    signal: Signal,
    sender: object,
    named: _Named,
    robust: bool,
    receivers: _LiveReceivers,
) -> _Responses:
    """Django 5.0 to 6.0's ``asend``: the sync receivers (behind one thread
    hop) and the async ones, all at the same time, through ``asyncio.gather``."""
    sync_receivers, async_receivers = receivers

    async def sync_send() -> _Responses:
        if not sync_receivers:
            return []
        return await sync_to_async(_sync_calls)(
            signal, sync_receivers, sender, named, robust
        )

    # As in Django, the inner gather is made first: the async receivers'
    # tasks start before the task that hands the sync ones to their thread.
    responses, async_responses = await asyncio.gather(
        sync_send(),
        asyncio.gather(*_async_calls(signal, async_receivers, sender, named, robust)),
    )
    responses.extend(zip(async_receivers, async_responses, strict=True))
    return responses


# The body of asend and asend_robust; set by configure() for the Django series.
_asend = _asend_in_order


async def asend(self: Signal, sender: object, **named: Any) -> _Responses:
    """Send the signal from ``sender`` to all receivers, in async mode.

    Sync receivers run first, grouped behind one ``sync_to_async``; async
    receivers then run concurrently. A receiver's exception propagates.
    Returns ``[(receiver, response), ...]``.
    """
    # Nothing live for this sender: no task, no thread (Django 5.0 to 6.0
    # would still gather nothing), and only this one coroutine.
    receivers = self._asend_receivers(sender)
    if receivers is None:
        return []
    return await _asend(self, sender, named, False, receivers)


async def asend_robust(self: Signal, sender: object, **named: Any) -> _Responses:
    """As ``asend``, but an ``Exception`` raised by a receiver is logged and
    returned as that receiver's response."""
    receivers = self._asend_receivers(sender)
    if receivers is None:
        return []
    return await _asend(self, sender, named, True, receivers)


# Named as Django's methods, for tracebacks and argument errors.
connect.__qualname__ = "Signal.connect"
asend.__qualname__ = "Signal.asend"
asend_robust.__qualname__ = "Signal.asend_robust"


def call_receiver(
    receiver: _Receiver, signal: Signal, sender: object, named: _Named
) -> Any:
    """Call a receiver the way Django writes it. Used when ``named`` itself
    has a ``signal`` key, so that Python reports the clash in its own words."""
    return receiver(signal=signal, sender=sender, **named)


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _writes_back(method: _Method) -> _Method:
    def change(self: ReceiverList, *args: Any) -> Any:
        result = method(self, *args)
        signal = self._signal_ref() if self._signal_ref is not None else None
        if signal is not None:
            signal._receivers_changed(self)
        return result

    change.__name__ = method.__name__
    change.__qualname__ = f"ReceiverList.{method.__name__}"
    change.__doc__ = method.__doc__
    return cast(_Method, change)


def configure(series: str) -> None:
    """Run async receivers as Django ``series`` ("5.2", "6.0", "6.1") does;
    called once by ``fastdispatch._compat`` (Django 4.2 has none)."""
    global _run_concurrently, _asend
    if series == "6.1":
        _run_concurrently, _asend = _task_group, _asend_in_order
    else:
        _run_concurrently, _asend = _gather, _asend_together


class ReceiverList(list[Any]):
    """``signal.receivers``: Django's list of receivers, one row each, in the
    installed Django's layout (on 6.x
    ``((receiver_key, sender_key), receiver_or_weakref, sender_ref, is_async)``).

    Code in the wild changes it in place (``signal.receivers.clear()``,
    ``del signal.receivers[i]``, slice assignment); each such change is
    written back to the signal, as long as this is still the signal's list.
    Reading it, copying it and assigning it back work as on a plain list.
    """

    _signal_ref: weakref.ref[Signal] | None = None

    def __init__(self, rows: Iterable[Any] = (), signal: Signal | None = None) -> None:
        super().__init__(rows)
        if signal is not None:
            self._signal_ref = weakref.ref(signal)

    @property
    def signal(self) -> Signal | None:
        """The signal whose receivers this list shows, if it still exists."""
        return self._signal_ref() if self._signal_ref is not None else None

    append = _writes_back(list.append)
    extend = _writes_back(list.extend)
    insert = _writes_back(list.insert)
    remove = _writes_back(list.remove)
    pop = _writes_back(list.pop)
    clear = _writes_back(list.clear)
    sort = _writes_back(list.sort)
    reverse = _writes_back(list.reverse)
    __setitem__ = _writes_back(list.__setitem__)
    __delitem__ = _writes_back(list.__delitem__)
    __iadd__ = _writes_back(list.__iadd__)
    __imul__ = _writes_back(list.__imul__)

    def __reduce_ex__(
        self, protocol: SupportsIndex
    ) -> tuple[type[list[Any]], tuple[list[Any]]]:
        # Copies and pickles are plain lists: they show, not own, a signal.
        return (list, (list(self),))
