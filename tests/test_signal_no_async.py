"""Coroutine functions as receivers where Django has no async receivers (4.2).

Django 4.2's dispatcher knows nothing of coroutines: a coroutine function is a
receiver like any other, called in connection order among the others, and
what ``send()`` reports as its response is the coroutine it returned, never
awaited. There is no ``asend()`` or ``asend_robust()``. (For 5.0+, see
test_signal_async.py.)
"""

import inspect
import logging

import pytest
from asgiref.sync import markcoroutinefunction
from conftest import AsyncCallable, Boom, Listener, Signal
from support.django_layout import HAS_ASYNC, ROW_LENGTH

pytestmark = pytest.mark.skipif(
    HAS_ASYNC,
    reason="Django 5.0+ has async receivers (see test_signal_async.py)",
)


def assert_unawaited(response, function, expected):
    """``response`` is a coroutine of ``function`` that has not started; run
    it to check what it returns."""
    assert inspect.iscoroutine(response)
    assert response.cr_code is function.__code__
    assert inspect.getcoroutinestate(response) == inspect.CORO_CREATED
    with pytest.raises(StopIteration) as stopped:
        response.send(None)
    assert stopped.value.value == expected


def test_no_asend():
    signal = Signal()
    for name in ("asend", "asend_robust"):
        assert not hasattr(Signal, name)
        with pytest.raises(AttributeError):
            getattr(signal, name)


@pytest.mark.parametrize("method", ["send", "send_robust"])
def test_coroutine_function_is_called_like_any_receiver(method):
    signal = Signal()
    calls = []

    def first(**kwargs):
        calls.append("first")
        return "first"

    async def coroutine(**kwargs):
        calls.append("coroutine body")
        return "awaited"

    def last(**kwargs):
        calls.append("last")
        return "last"

    for handler in (first, coroutine, last):
        signal.connect(handler)
    assert all(len(row) == ROW_LENGTH for row in signal.receivers)
    responses = getattr(signal, method)(None)
    # In connection order: no sync receivers first, async ones after.
    assert [r for r, _ in responses] == [first, coroutine, last]
    assert responses[0][1] == "first"
    assert responses[2][1] == "last"
    # Called, not awaited: its body has not run.
    assert calls == ["first", "last"]
    assert_unawaited(responses[1][1], coroutine, "awaited")
    assert calls == ["first", "last", "coroutine body"]


def test_live_receivers_is_one_list():
    signal = Signal()

    def sync_handler(**kwargs):
        pass

    async def async_handler(**kwargs):
        pass

    signal.connect(async_handler)
    signal.connect(sync_handler)
    live = signal._live_receivers(None)
    assert type(live) is list
    assert live == [async_handler, sync_handler]
    assert signal.has_listeners() is True


def test_failing_coroutine_function_fails_nothing(caplog):
    signal = Signal()

    async def failing(**kwargs):
        raise Boom("only when awaited")

    signal.connect(failing)
    with caplog.at_level(logging.DEBUG, logger="django.dispatch"):
        for send in (signal.send, signal.send_robust):
            [(got, response)] = send(None)
            assert got is failing
            assert inspect.iscoroutine(response)
            with pytest.raises(Boom, match="^only when awaited$"):
                response.send(None)
    assert caplog.records == []


def test_async_bound_method_and_marked_callables_are_plain_receivers():
    signal = Signal()
    listener = Listener()
    marked = markcoroutinefunction(AsyncCallable())
    plain_instance = AsyncCallable()
    signal.connect(listener.on_signal)
    signal.connect(marked)
    signal.connect(plain_instance)
    responses = signal.send(None)
    assert [r for r, _ in responses] == [listener.on_signal, marked, plain_instance]
    assert_unawaited(responses[0][1], Listener.on_signal, "async method")
    assert_unawaited(responses[1][1], AsyncCallable.__call__, "async instance")
    assert_unawaited(responses[2][1], AsyncCallable.__call__, "async instance")
