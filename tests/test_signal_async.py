"""Async receivers, asend() and asend_robust().

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
from conftest import REFERENCE, Signal

# Deadlock guard for receivers that wait on each other; never a timing check.
GUARD = 30

cv_sync = contextvars.ContextVar("cv_sync")
cv_async = contextvars.ContextVar("cv_async")
cv_caller = contextvars.ContextVar("cv_caller")


class Sender:
    pass


class Boom(Exception):
    pass


class Listener:
    async def on_signal(self, **kwargs):
        return "async method"


class AsyncCallable:
    async def __call__(self, **kwargs):
        return "async instance"


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
    return signal.receivers[index][3]


# --- detection ---------------------------------------------------------------


def test_async_function_detected():
    signal = Signal()

    async def handler(**kwargs):
        pass

    def sync_handler(**kwargs):
        pass

    signal.connect(handler)
    signal.connect(sync_handler)
    assert [entry[3] for entry in signal.receivers] == [True, False]
    assert signal._live_receivers(None) == ([sync_handler], [handler])


def test_async_bound_method_and_partial_detected():
    signal = Signal()
    listener = Listener()

    async def handler(value, **kwargs):
        return value

    partial = functools.partial(handler, 5)
    signal.connect(listener.on_signal)
    signal.connect(partial, weak=False)
    assert [entry[3] for entry in signal.receivers] == [True, True]
    assert signal.send(None) == [(listener.on_signal, "async method"), (partial, 5)]


# Django 6.1 uses inspect.iscoroutinefunction(); on Python < 3.12 that does
# not see asgiref's markcoroutinefunction() marker (Django 6.1 requires 3.12).
@pytest.mark.skipif(
    REFERENCE and sys.version_info < (3, 12),
    reason="the Django 6.1 reference needs Python 3.12+ for this marker",
)
def test_marked_callable_instance_detected():
    signal = Signal()
    instance = markcoroutinefunction(AsyncCallable())
    signal.connect(instance)
    assert is_async_entry(signal) is True
    assert signal._live_receivers(None) == ([], [instance])
    assert signal.send(None) == [(instance, "async instance")]
    assert asyncio.run(signal.asend(None)) == [(instance, "async instance")]


@pytest.mark.skipif(
    REFERENCE and sys.version_info < (3, 12),
    reason="the Django 6.1 reference needs Python 3.12+ for this marker",
)
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
def test_send_raises_exception_group_for_several_async_failures():
    signal = Signal()

    async def failing_one(**kwargs):
        raise Boom("one")

    async def failing_two(**kwargs):
        raise Boom("two")

    signal.connect(failing_one)
    signal.connect(failing_two)
    with pytest.raises(ExceptionGroup) as excinfo:  # noqa: F821 (3.11+)
        signal.send(None)
    assert sorted(str(e) for e in excinfo.value.exceptions) == ["one", "two"]


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


def test_asend_runs_sync_receivers_in_one_worker_thread():
    signal = Signal()
    log = Log(signal)
    s1 = log.sync("s1")
    a1 = log.async_("a1")
    s2 = log.sync("s2")
    a2 = log.async_("a2")

    async def main():
        return await signal.asend(None), threading.get_ident()

    responses, loop_thread = asyncio.run(main())
    assert responses == [(s1, "s1"), (s2, "s2"), (a1, "a1"), (a2, "a2")]
    assert type(responses) is list
    threads = dict(log.calls)
    assert log.names[:2] == ["s1", "s2"]
    assert threads["s1"] == threads["s2"] != loop_thread
    assert threads["a1"] == threads["a2"] == loop_thread


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
    assert log.calls == []


def test_asend_propagates_async_receiver_exception():
    signal = Signal()
    log = Log(signal)

    async def failing(**kwargs):
        raise Boom("async")

    log.sync("s1")
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
    assert result == ("from sync", "from async")
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
    assert result == ("from sync", "from async")
    assert seen == {"sync saw caller": "caller", "async saw caller": "caller"}


@pytest.mark.skipif(sys.version_info < (3, 11), reason="TaskGroup shares a context")
@pytest.mark.parametrize("method", ["send", "asend"])
def test_async_receivers_share_one_context(method):
    # Async receivers run as tasks of one shared context: what the first one
    # sets before yielding is visible to the next.
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
        (second, "first"),
    ]
