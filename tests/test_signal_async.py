"""Async receivers, asend() and asend_robust() (Django 5.0+; for 4.2, where a
coroutine function is a plain receiver, see test_signal_no_async.py).

How async receivers run depends on the series (``support.django_layout.TASK_GROUP``):
up to 6.0 concurrently with ``asyncio.gather``, each in a copy of the caller's
context, ``asend`` running the sync receivers (behind one ``sync_to_async``)
at the same time as the async ones, which start first; from 6.1 in an
``asyncio.TaskGroup`` sharing one context whose changes the caller sees,
``asend`` running the sync receivers first.

No pytest-asyncio: each test drives its own event loop with asyncio.run().
"""

import asyncio
import contextvars
import functools
import inspect
import logging
import sys
import threading
import types

import pytest
from asgiref.sync import markcoroutinefunction
from conftest import (
    AsyncCallable,
    Boom,
    Listener,
    Signal,
    fastdispatch_only,
    sync_to_async_runs,
)
from support.django_layout import HAS_ASYNC, TASK_GROUP, unpack_row

pytestmark = pytest.mark.skipif(
    not HAS_ASYNC,
    reason="Django 4.2 has no async receivers (see test_signal_no_async.py)",
)

# Deadlock guard for receivers that wait on each other; never a timing check.
GUARD = 30

cv_sync = contextvars.ContextVar("cv_sync")
cv_async = contextvars.ContextVar("cv_async")
cv_caller = contextvars.ContextVar("cv_caller")


class Sender:
    pass


class Log:
    """Receivers that record their calls (name, thread id) and return name."""

    def __init__(self, signal=None):
        self.signal = signal
        self.calls = []

    def sync(self, name, **connect_kwargs):
        def handler(**kwargs):
            self.calls.append((name, threading.get_ident()))
            return name

        handler.__qualname__ = name
        if self.signal is not None:
            self.signal.connect(handler, weak=False, **connect_kwargs)
        return handler

    def async_(self, name, **connect_kwargs):
        async def handler(**kwargs):
            self.calls.append((name, threading.get_ident()))
            return name

        handler.__qualname__ = name
        if self.signal is not None:
            self.signal.connect(handler, weak=False, **connect_kwargs)
        return handler

    @property
    def names(self):
        return [name for name, _ in self.calls]


def is_async_entry(signal, index=-1):
    return unpack_row(signal.receivers[index])[3]


# --- detection ---------------------------------------------------------------


def test_async_function_detected():
    signal = Signal()

    async def handler(**kwargs):
        pass

    def sync_handler(**kwargs):
        pass

    signal.connect(handler)
    signal.connect(sync_handler)
    assert [is_async_entry(signal, index) for index in (0, 1)] == [True, False]
    assert signal._live_receivers(None) == ([sync_handler], [handler])


def test_async_bound_method_and_partial_detected():
    signal = Signal()
    listener = Listener()

    async def handler(value, **kwargs):
        return value

    partial = functools.partial(handler, 5)
    signal.connect(listener.on_signal)
    signal.connect(partial, weak=False)
    assert [is_async_entry(signal, index) for index in (0, 1)] == [True, True]
    assert signal.send(None) == [(listener.on_signal, "async method"), (partial, 5)]


# Django 5.x and 6.0 use asgiref's iscoroutinefunction(), 6.1 (which requires
# Python 3.12) inspect.iscoroutinefunction(): both see asgiref's
# markcoroutinefunction() marker.
def test_marked_callable_instance_detected():
    signal = Signal()
    instance = markcoroutinefunction(AsyncCallable())
    signal.connect(instance)
    assert is_async_entry(signal) is True
    assert signal._live_receivers(None) == ([], [instance])
    assert signal.send(None) == [(instance, "async instance")]
    assert asyncio.run(signal.asend(None)) == [(instance, "async instance")]


def test_marked_sync_function_detected():
    signal = Signal()

    async def work():
        return "awaited"

    def handler(**kwargs):
        return work()

    markcoroutinefunction(handler)
    signal.connect(handler)
    assert is_async_entry(signal) is True
    assert signal.send(None) == [(handler, "awaited")]


def test_unmarked_callable_instance_is_treated_as_sync():
    signal = Signal()
    instance = AsyncCallable()
    signal.connect(instance)
    assert is_async_entry(signal) is False
    [(got, response)] = signal.send(None)
    assert got is instance
    assert inspect.iscoroutine(response)
    response.close()


# --- send() with async receivers ---------------------------------------------


def test_send_runs_sync_receivers_first_then_async_ones():
    signal = Signal()
    log = Log(signal)
    a1 = log.async_("a1")
    s1 = log.sync("s1")
    a2 = log.async_("a2")
    s2 = log.sync("s2")
    responses = signal.send(None)
    assert responses == [(s1, "s1"), (s2, "s2"), (a1, "a1"), (a2, "a2")]
    assert type(responses) is list
    assert log.names[:2] == ["s1", "s2"]
    assert sorted(log.names[2:]) == ["a1", "a2"]


def test_send_only_async_receivers():
    signal = Signal()
    log = Log(signal)
    a1 = log.async_("a1", sender=Sender)
    log.async_("other", sender=object)
    a2 = log.async_("a2")
    assert signal.send(Sender) == [(a1, "a1"), (a2, "a2")]
    assert sorted(log.names) == ["a1", "a2"]


def test_async_receivers_get_the_same_kwargs():
    signal = Signal()
    seen = []

    async def handler(**kwargs):
        seen.append(kwargs)

    signal.connect(handler)
    signal.send(sender=Sender, b=2, a=1)
    asyncio.run(signal.asend(Sender, y=1))
    asyncio.run(signal.asend_robust(x=0, sender=Sender))
    assert [list(kwargs) for kwargs in seen] == [
        ["signal", "sender", "b", "a"],
        ["signal", "sender", "y"],
        ["signal", "sender", "x"],
    ]
    assert all(kwargs["signal"] is signal for kwargs in seen)
    assert all(kwargs["sender"] is Sender for kwargs in seen)


def _waiting_pair(signal):
    """Two async receivers that can only finish if they run concurrently."""
    events = {}

    def get(name):
        if name not in events:
            events[name] = asyncio.Event()
        return events[name]

    async def first(**kwargs):
        get("first").set()
        await asyncio.wait_for(get("second").wait(), GUARD)
        return "first"

    async def second(**kwargs):
        get("second").set()
        await asyncio.wait_for(get("first").wait(), GUARD)
        return "second"

    signal.connect(first)
    signal.connect(second)
    return first, second, events


def test_send_runs_async_receivers_concurrently():
    signal = Signal()
    first, second, _ = _waiting_pair(signal)
    assert signal.send(None) == [(first, "first"), (second, "second")]


def test_send_propagates_async_receiver_exception():
    signal = Signal()
    calls = []

    def sync_handler(**kwargs):
        calls.append("sync")

    async def failing(**kwargs):
        raise Boom("async failure")

    signal.connect(failing)
    signal.connect(sync_handler)
    with pytest.raises(Boom, match="^async failure$"):
        signal.send(None)
    assert calls == ["sync"]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception groups")
@pytest.mark.parametrize("method", ["send", "asend"])
def test_several_async_failures(method):
    signal = Signal()
    calls = []

    async def failing_one(**kwargs):
        calls.append("one")
        raise Boom("one")

    async def failing_two(**kwargs):
        calls.append("two")
        raise Boom("two")

    signal.connect(failing_one)
    signal.connect(failing_two)

    def run():
        if method == "send":
            return signal.send(None)
        return asyncio.run(signal.asend(None))

    if TASK_GROUP:
        # An exception group of them all.
        with pytest.raises(ExceptionGroup) as excinfo:  # noqa: F821 (3.11+)
            run()
        assert sorted(str(e) for e in excinfo.value.exceptions) == ["one", "two"]
    else:
        # asyncio.gather: the first failure, as itself; the others ran too.
        with pytest.raises(Boom, match="^one$"):
            run()
    assert calls == ["one", "two"]


def test_send_with_async_receivers_inside_running_loop_fails():
    signal = Signal()
    log = Log(signal)
    log.async_("a1")

    async def main():
        signal.send(None)

    with pytest.raises(RuntimeError, match="You cannot use AsyncToSync"):
        asyncio.run(main())


def test_send_with_only_sync_receivers_inside_running_loop_works():
    signal = Signal()
    log = Log(signal)
    s1 = log.sync("s1")

    async def main():
        return signal.send(None), threading.get_ident()

    responses, loop_thread = asyncio.run(main())
    assert responses == [(s1, "s1")]
    assert log.calls == [("s1", loop_thread)]


def test_send_robust_returns_async_receiver_exception(caplog):
    signal = Signal()
    log = Log(signal)
    s1 = log.sync("s1")
    raised = []

    async def failing(**kwargs):
        err = Boom("async robust")
        raised.append(err)
        raise err

    signal.connect(failing)
    a1 = log.async_("a1")
    with caplog.at_level(logging.ERROR, logger="django.dispatch"):
        responses = signal.send_robust(None)
    assert responses == [(s1, "s1"), (failing, raised[0]), (a1, "a1")]
    assert responses[1][1] is raised[0]
    assert isinstance(raised[0].__traceback__, types.TracebackType)
    [record] = caplog.records
    assert record.name == "django.dispatch"
    assert record.levelno == logging.ERROR
    assert record.getMessage() == (
        f"Error calling {failing.__qualname__} in Signal.send_robust() (async robust)"
    )
    assert record.exc_info[1] is raised[0]


def test_send_robust_lets_async_base_exceptions_through():
    signal = Signal()

    async def failing(**kwargs):
        raise KeyboardInterrupt

    signal.connect(failing)
    with pytest.raises(KeyboardInterrupt):
        signal.send_robust(None)


# --- asend() -----------------------------------------------------------------


def test_asend_and_asend_robust_are_coroutine_functions():
    signal = Signal()
    assert inspect.iscoroutinefunction(Signal.asend)
    assert inspect.iscoroutinefunction(signal.asend)
    assert inspect.iscoroutinefunction(signal.asend_robust)
    coroutine = signal.asend(None)
    assert inspect.iscoroutine(coroutine)
    assert asyncio.run(coroutine) == []
    assert asyncio.run(signal.asend_robust(None)) == []


@pytest.mark.parametrize("method", ["asend", "asend_robust"])
def test_bad_asend_arguments(method):
    signal = Signal()
    send = getattr(signal, method)
    cases = [
        ((), {}, f"Signal.{method}() missing 1 required positional argument: 'sender'"),
        (
            (1, 2),
            {},
            f"Signal.{method}() takes 2 positional arguments but 3 were given",
        ),
        (
            (1,),
            {"sender": 2},
            f"Signal.{method}() got multiple values for argument 'sender'",
        ),
    ]
    for args, kwargs, message in cases:
        with pytest.raises(TypeError) as excinfo:
            send(*args, **kwargs)
        assert str(excinfo.value) == message


@pytest.mark.parametrize("method", ["asend", "asend_robust"])
def test_asend_runs_sync_receivers_in_one_worker_thread(method):
    signal = Signal()
    log = Log(signal)
    s1 = log.sync("s1")
    a1 = log.async_("a1")
    s2 = log.sync("s2")
    a2 = log.async_("a2")

    async def main():
        return await getattr(signal, method)(None), threading.get_ident()

    responses, loop_thread = asyncio.run(main())
    assert responses == [(s1, "s1"), (s2, "s2"), (a1, "a1"), (a2, "a2")]
    assert type(responses) is list
    threads = dict(log.calls)
    assert threads["s1"] == threads["s2"] != loop_thread
    assert threads["a1"] == threads["a2"] == loop_thread
    # In connection order (how they interleave: see the next test).
    assert [name for name in log.names if name[0] == "s"] == ["s1", "s2"]
    assert [name for name in log.names if name[0] == "a"] == ["a1", "a2"]


@pytest.mark.parametrize("method", ["asend", "asend_robust"])
def test_asend_order_of_sync_and_async_receivers(method):
    signal = Signal()
    log = Log(signal)
    log.sync("s1")
    log.async_("a1")
    log.sync("s2")
    log.async_("a2")
    handed_over = []

    async def probe(**kwargs):
        # Whether the sync receivers were handed to their thread already.
        handed_over.append(len(runs) > 0)

    signal.connect(probe)
    # Several rounds: the order must hold every time, not by chance.
    orders = set()
    for _ in range(20):
        log.calls.clear()
        with sync_to_async_runs() as runs:
            asyncio.run(getattr(signal, method)(None))
        orders.add(tuple(log.names))
    if TASK_GROUP:
        # The sync receivers first, then the async ones.
        assert set(handed_over) == {True}
        assert orders == {("s1", "s2", "a1", "a2")}
    else:
        # asyncio.gather: the async receivers' tasks exist before the sync
        # batch's, so they start first (and, never yielding, finish before
        # the sync receivers are handed to their thread).
        assert set(handed_over) == {False}
        assert orders == {("a1", "a2", "s1", "s2")}


@pytest.mark.parametrize("method", ["asend", "asend_robust"])
def test_asend_sync_and_async_receivers_overlap_or_not(method):
    # Up to 6.0 the sync receivers (in their thread) run concurrently with
    # the async ones; from 6.1 the async ones start once the sync ones are
    # done.
    signal = Signal()
    async_started = threading.Event()
    seen = {}

    def sync_handler(**kwargs):
        seen["sync saw async started"] = async_started.wait(
            GUARD if not TASK_GROUP else 0
        )
        return "sync"

    async def async_handler(**kwargs):
        async_started.set()
        # Lets the loop run on while the sync receiver waits in its thread.
        await asyncio.sleep(0)
        return "async"

    signal.connect(sync_handler)
    signal.connect(async_handler)
    responses = asyncio.run(getattr(signal, method)(None))
    assert responses == [(sync_handler, "sync"), (async_handler, "async")]
    assert seen == {"sync saw async started": not TASK_GROUP}


def test_asend_runs_async_receivers_concurrently():
    signal = Signal()
    first, second, _ = _waiting_pair(signal)
    responses = asyncio.run(signal.asend(None))
    assert responses == [(first, "first"), (second, "second")]


def test_asend_robust_runs_async_receivers_concurrently():
    signal = Signal()
    first, second, _ = _waiting_pair(signal)
    responses = asyncio.run(signal.asend_robust(None))
    assert responses == [(first, "first"), (second, "second")]


def test_asend_respects_senders():
    signal = Signal()
    log = Log(signal)
    s1 = log.sync("s1", sender=Sender)
    log.sync("s-other", sender=object)
    a1 = log.async_("a1", sender=Sender)
    log.async_("a-other", sender=object)
    a2 = log.async_("a2")
    responses = asyncio.run(signal.asend(Sender))
    assert responses == [(s1, "s1"), (a1, "a1"), (a2, "a2")]
    assert asyncio.run(signal.asend(sender=Sender())) == [(a2, "a2")]


def test_asend_propagates_sync_receiver_exception():
    signal = Signal()
    log = Log(signal)

    def failing(**kwargs):
        raise Boom("sync in thread")

    log.async_("a1")
    signal.connect(failing)
    log.sync("s-after")
    with pytest.raises(Boom, match="^sync in thread$"):
        asyncio.run(signal.asend(None))
    # The sync batch stops at the failure; the async receivers run only
    # after it (6.1), or had already run, started first (asyncio.gather).
    assert log.names == ([] if TASK_GROUP else ["a1"])


def test_asend_propagates_async_receiver_exception():
    signal = Signal()
    log = Log(signal)
    sync_done = threading.Event()

    async def failing(**kwargs):
        # Up to 6.0 the async receivers start first, concurrently with the
        # sync ones: fail only once they are done (on 6.1 they are already).
        await asyncio.to_thread(sync_done.wait, GUARD)
        raise Boom("async")

    def done(**kwargs):
        sync_done.set()

    log.sync("s1")
    signal.connect(done)
    signal.connect(failing)
    with pytest.raises(Boom, match="^async$"):
        asyncio.run(signal.asend(None))
    assert log.names == ["s1"]


def test_asend_robust_returns_exceptions(caplog):
    signal = Signal()
    log = Log(signal)
    raised = {}

    def failing_sync(**kwargs):
        raised["sync"] = Boom("sync")
        raise raised["sync"]

    async def failing_async(**kwargs):
        raised["async"] = Boom("async")
        raise raised["async"]

    s1 = log.sync("s1")
    signal.connect(failing_async)
    signal.connect(failing_sync)
    a1 = log.async_("a1")
    with caplog.at_level(logging.ERROR, logger="django.dispatch"):
        responses = asyncio.run(signal.asend_robust(None))
    assert responses == [
        (s1, "s1"),
        (failing_sync, raised["sync"]),
        (failing_async, raised["async"]),
        (a1, "a1"),
    ]
    assert responses[1][1] is raised["sync"]
    assert responses[2][1] is raised["async"]
    assert all(
        isinstance(err.__traceback__, types.TracebackType) for err in raised.values()
    )
    template = "Error calling {} in Signal.send_robust() ({})"
    messages = sorted(record.getMessage() for record in caplog.records)
    assert messages == sorted(
        [
            template.format(failing_sync.__qualname__, "sync"),
            template.format(failing_async.__qualname__, "async"),
        ]
    )
    assert all(record.name == "django.dispatch" for record in caplog.records)
    assert all(record.levelno == logging.ERROR for record in caplog.records)


@pytest.mark.parametrize("method", ["asend", "asend_robust"])
def test_asend_lets_base_exceptions_through(method):
    signal = Signal()

    class Stop(BaseException):
        pass

    async def failing(**kwargs):
        raise Stop

    signal.connect(failing)
    with pytest.raises(Stop):
        asyncio.run(getattr(signal, method)(None))


def test_asend_without_live_receivers():
    signal = Signal()
    log = Log(signal)
    log.sync("s1", sender=Sender)
    log.async_("a1", sender=Sender)
    assert asyncio.run(signal.asend(None)) == []
    assert asyncio.run(signal.asend_robust(object())) == []
    assert log.calls == []


# --- context variables -------------------------------------------------------


def _context_receivers(signal):
    seen = {}

    def sync_handler(**kwargs):
        seen["sync saw caller"] = cv_caller.get(None)
        cv_sync.set("from sync")

    async def async_handler(**kwargs):
        seen["async saw caller"] = cv_caller.get(None)
        cv_async.set("from async")

    signal.connect(sync_handler)
    signal.connect(async_handler)
    return seen, (sync_handler, async_handler)


@pytest.mark.parametrize("method", ["asend", "asend_robust"])
def test_asend_context_changes_visible_to_caller(method):
    signal = Signal()
    seen, _receivers = _context_receivers(signal)

    async def main():
        cv_caller.set("caller")
        await getattr(signal, method)(None)
        return cv_sync.get(None), cv_async.get(None)

    result = contextvars.copy_context().run(asyncio.run, main())
    if TASK_GROUP:
        assert result == ("from sync", "from async")
    else:
        # asyncio.gather runs the sync batch and each async receiver as tasks,
        # each in a copy of the caller's context: their changes stay there.
        assert result == (None, None)
    assert seen == {"sync saw caller": "caller", "async saw caller": "caller"}


@pytest.mark.parametrize("method", ["send", "send_robust"])
def test_send_context_changes_visible_to_caller(method):
    signal = Signal()
    seen, _receivers = _context_receivers(signal)

    def main():
        cv_caller.set("caller")
        getattr(signal, method)(None)
        return cv_sync.get(None), cv_async.get(None)

    result = contextvars.copy_context().run(main)
    # Sync receivers run in the caller's context; async ones (6.1) in one
    # context whose changes come back, or (up to 6.0) each in a copy.
    assert result == ("from sync", "from async" if TASK_GROUP else None)
    assert seen == {"sync saw caller": "caller", "async saw caller": "caller"}


@pytest.mark.skipif(sys.version_info < (3, 11), reason="TaskGroup shares a context")
@pytest.mark.parametrize("method", ["send", "asend"])
def test_async_receivers_share_one_context_or_not(method):
    # 6.1: async receivers run as tasks of one shared context: what the first
    # one sets before yielding is visible to the next. Up to 6.0 each runs in
    # its own copy of the caller's context: the next one sees nothing.
    signal = Signal()

    async def first(**kwargs):
        cv_async.set("first")
        return "first"

    async def second(**kwargs):
        return cv_async.get("unset")

    signal.connect(first)
    signal.connect(second)

    def run():
        if method == "send":
            return signal.send(None)
        return asyncio.run(signal.asend(None))

    assert contextvars.copy_context().run(run) == [
        (first, "first"),
        (second, "first" if TASK_GROUP else "unset"),
    ]


# --- nothing to send -------------------------------------------------------


def test_asend_for_a_sender_nobody_listens_to_enters_no_thread():
    signal = Signal()

    class Other:
        pass

    def receiver(sender, **kwargs):
        return "called"

    signal.connect(receiver, sender=Other, weak=False)
    with sync_to_async_runs() as runs:
        assert asyncio.run(signal.asend(sender=Sender)) == []
        assert asyncio.run(signal.asend_robust(sender=Sender)) == []
        assert asyncio.run(Signal().asend(sender=Sender)) == []
    assert runs == []


@fastdispatch_only(
    "Django 5.0 to 6.0 gather nothing when no receiver is live for the sender,"
    " yielding to the event loop once",
    when=not TASK_GROUP,
)
@pytest.mark.parametrize("method", ["asend", "asend_robust"])
def test_asend_for_a_sender_nobody_listens_to_returns_without_yielding(method):
    signal = Signal()

    class Other:
        pass

    def receiver(sender, **kwargs):
        return "called"

    signal.connect(receiver, sender=Other, weak=False)
    # Driven by hand, without an event loop: a coroutine that awaited a task
    # or a thread would hand a future out of send(None) instead of finishing.
    coroutine = getattr(signal, method)(sender=Sender)
    with pytest.raises(StopIteration) as finished:
        coroutine.send(None)
    assert finished.value.value == []


@fastdispatch_only("asend reads no receivers list (Django's reads its own list)")
def test_asend_does_not_build_the_receivers_list():
    reads = []

    class CountedSignal(Signal):
        @property
        def receivers(self):
            reads.append("read")
            return Signal.receivers.__get__(self)

        @receivers.setter
        def receivers(self, value):
            Signal.receivers.__set__(self, value)

    class Other:
        pass

    def receiver(sender, **kwargs):
        return "called"

    signal = CountedSignal()
    signal.connect(receiver, sender=Other, weak=False)
    reads.clear()
    assert asyncio.run(signal.asend(sender=Sender)) == []
    assert asyncio.run(signal.asend_robust(sender=Other)) == [(receiver, "called")]
    assert reads == []
