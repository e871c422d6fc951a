"""The parts of ``Signal`` written in Python: ``connect``'s front, ``asend``,
``asend_robust``, the async receivers of ``send``/``send_robust``, the
``receivers`` list, and one rare call.

Coroutines, task groups and asgiref's thread adapters are Python's business, so
they stay in Python. The native core resolves the live receivers and calls in
here only when there is async work to do. ``asend`` and ``asend_robust`` are
installed on the native ``Signal`` class when the native module loads, so they
are real coroutine functions, as in Django.
"""

import asyncio
import contextvars
import weakref

from asgiref.sync import async_to_sync, sync_to_async


def connect(self, receiver, sender=None, weak=True, dispatch_uid=None):
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


def _restore_context(context):
    # Receivers share one context; whatever they set becomes visible to the
    # caller afterwards, as if they had run inline.
    for var, value in context.items():
        try:
            changed = var.get() != value
        except LookupError:
            changed = True
        if changed:
            var.set(value)


async def _gather_in_context(context, coros):
    # Python 3.10 has no TaskGroup: each task runs in a copy of the shared
    # context instead of the context itself.
    tasks = [context.run(asyncio.ensure_future, coro) for coro in coros]
    return list(await asyncio.gather(*tasks))


async def _run_concurrently(coros):
    """Await ``coros`` concurrently in one shared context; results in order.

    A single failure is raised as itself, several as an exception group, the
    way ``asyncio.TaskGroup`` reports them.
    """
    if not coros:
        return []
    context = contextvars.copy_context()
    results = [None] * len(coros)
    try:
        if not hasattr(asyncio, "TaskGroup"):
            return await _gather_in_context(context, coros)

        async def store(index, coro):
            results[index] = await coro

        try:
            async with asyncio.TaskGroup() as group:
                for index, coro in enumerate(coros):
                    group.create_task(store(index, coro), context=context)
        except BaseExceptionGroup as group_error:  # noqa: F821 (3.11+ only)
            if len(group_error.exceptions) == 1:
                # Re-raised as itself, its context the group, as Django does.
                raise group_error.exceptions[0]  # noqa: B904
            raise
        return results
    finally:
        _restore_context(context)


async def _call_robust(signal, receiver, sender, named):
    try:
        return await receiver(signal=signal, sender=sender, **named)
    except Exception as err:
        signal._log_robust_failure(receiver, err)
        return err


def _async_calls(signal, receivers, sender, named, robust):
    if robust:
        return [_call_robust(signal, r, sender, named) for r in receivers]
    return [r(signal=signal, sender=sender, **named) for r in receivers]


def send_async_receivers(signal, sender, named, receivers, robust):
    """Run the async receivers of a synchronous ``send``: one event loop
    through ``async_to_sync``, receivers concurrently. Returns the
    ``(receiver, response)`` pairs."""

    async def run_all():
        responses = await _run_concurrently(
            _async_calls(signal, receivers, sender, named, robust)
        )
        return list(zip(receivers, responses, strict=True))

    return async_to_sync(run_all)()


def _sync_calls(signal, receivers, sender, named, robust):
    responses = []
    for receiver in receivers:
        if robust:
            try:
                response = receiver(signal=signal, sender=sender, **named)
            except Exception as err:
                signal._log_robust_failure(receiver, err)
                response = err
        else:
            response = receiver(signal=signal, sender=sender, **named)
        responses.append((receiver, response))
    return responses


async def _asend(signal, sender, named, robust):
    if not signal.receivers:
        return []
    # Django looks the sender up in its sender cache (a dict, or a
    # WeakKeyDictionary with use_caching) before anything else: an unhashable
    # sender is a TypeError, as in send().
    hash(sender)
    sync_receivers, async_receivers = signal._live_receivers(sender)
    responses = []
    if sync_receivers:
        # All sync receivers run behind one thread hop, in connection order.
        responses = await sync_to_async(_sync_calls)(
            signal, sync_receivers, sender, named, robust
        )
    async_responses = await _run_concurrently(
        _async_calls(signal, async_receivers, sender, named, robust)
    )
    responses.extend(zip(async_receivers, async_responses, strict=True))
    return responses


async def asend(self, sender, **named):
    """Send the signal from ``sender`` to all receivers, in async mode.

    Sync receivers run first, grouped behind one ``sync_to_async``; async
    receivers then run concurrently. A receiver's exception propagates.
    Returns ``[(receiver, response), ...]``.
    """
    return await _asend(self, sender, named, robust=False)


async def asend_robust(self, sender, **named):
    """As ``asend``, but an ``Exception`` raised by a receiver is logged and
    returned as that receiver's response."""
    return await _asend(self, sender, named, robust=True)


# Named as Django's methods, for tracebacks and argument errors.
connect.__qualname__ = "Signal.connect"
asend.__qualname__ = "Signal.asend"
asend_robust.__qualname__ = "Signal.asend_robust"


def call_receiver(receiver, signal, sender, named):
    """Call a receiver the way Django writes it. Used when ``named`` itself
    has a ``signal`` key, so that Python reports the clash in its own words."""
    return receiver(signal=signal, sender=sender, **named)


def _writes_back(method):
    def change(self, *args):
        result = method(self, *args)
        signal = self._signal_ref() if self._signal_ref is not None else None
        if signal is not None:
            signal._receivers_changed(self)
        return result

    change.__name__ = method.__name__
    change.__qualname__ = f"ReceiverList.{method.__name__}"
    change.__doc__ = method.__doc__
    return change


class ReceiverList(list):
    """``signal.receivers``: Django's list of
    ``((receiver_key, sender_key), receiver_or_weakref, sender_ref, is_async)``.

    Code in the wild changes it in place (``signal.receivers.clear()``,
    ``del signal.receivers[i]``, slice assignment); each such change is
    written back to the signal, as long as this is still the signal's list.
    Reading it, copying it and assigning it back work as on a plain list.
    """

    _signal_ref = None

    def __init__(self, rows=(), signal=None):
        super().__init__(rows)
        if signal is not None:
            self._signal_ref = weakref.ref(signal)

    @property
    def signal(self):
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

    def __reduce_ex__(self, protocol):
        # Copies and pickles are plain lists: they show, not own, a signal.
        return (list, (list(self),))
