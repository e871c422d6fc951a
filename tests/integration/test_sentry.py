"""sentry-sdk's Django integration, which wraps every receiver in a span.

``DjangoIntegration`` replaces ``Signal._live_receivers`` on the class (here
the native ``fastdispatch.Signal``, which ``django.dispatch.Signal`` is under
the shim) with a function that calls the original and wraps each sync
receiver so that it runs inside a span (op ``event.django``, described by the
receiver's module and qualified name). Events go to an in-memory transport:
nothing leaves the process. Each test initialises the SDK afresh and shuts
it down after; the class patch itself stays for the rest of this process
(sentry-sdk sets an integration up once per process, for good), which is one
reason this file runs in an interpreter of its own (see conftest.py).
"""

import asyncio
import contextlib

import pytest
import sentry_sdk
from django.db.models.signals import post_save, pre_save
from django.dispatch import Signal
from isolated_django import NATIVE
from support.django_layout import HAS_ASYNC, split_live

from integration.sentry_transport import SIGNAL_OP, init_sentry
from integration.testapp.models import Author

MODULE = __name__


@contextlib.contextmanager
def sentry(**integration_options):
    transport = init_sentry(**integration_options)
    try:
        yield transport
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)


@pytest.fixture
def transport():
    with sentry(signals_spans=True) as transport:
        yield transport


class Sender:
    pass


class Listener:
    def on_signal(self, sender, value, **kwargs):
        return ("method", value)


def first(sender, value, **kwargs):
    return ("first", value)


def third(sender, value, **kwargs):
    return ("third", value)


def failing(sender, **kwargs):
    raise ValueError("failing receiver")


async def coroutine(sender, value, **kwargs):
    return ("async", value)


@pytest.fixture
def signal():
    """A plain Django signal with three receivers of different kinds."""
    signal = Signal()
    listener = Listener()
    signal.connect(first)
    signal.connect(listener.on_signal, sender=Sender)
    signal.connect(third, weak=False, dispatch_uid="third")
    signal.listener = listener
    return signal


def spans_for(*names):
    return [(SIGNAL_OP, f"{MODULE}.{name}") for name in names]


THREE_SPANS = spans_for("first", "Listener.on_signal", "third")
THREE_RESULTS = [("first", 2), ("method", 2), ("third", 2)]


def test_integration_patches_the_signal_class(transport, signal):
    assert Signal._live_receivers.__name__ == "_sentry_live_receivers"
    if NATIVE:
        import fastdispatch

        assert Signal is fastdispatch.Signal
    # The shape of the installed Django: sentry-sdk's wrapper branches on it.
    [wrapper, _, _], [] = split_live(signal._live_receivers(Sender))
    assert wrapper.__wrapped__ is first


def test_send_records_one_span_per_receiver(transport, signal):
    with sentry_sdk.start_transaction(name="send"):
        responses = signal.send(Sender, value=2)
    assert [response for _, response in responses] == THREE_RESULTS
    # The wrappers were called, each around its receiver.
    assert [r.__wrapped__ for r, _ in responses] == [
        first,
        signal.listener.on_signal,
        third,
    ]
    assert transport.signal_spans("send") == THREE_SPANS


def test_send_robust_records_spans_and_returns_errors(transport, signal):
    signal.connect(failing, weak=False)
    with sentry_sdk.start_transaction(name="send_robust"):
        responses = signal.send_robust(Sender, value=2)
    assert [response for _, response in responses[:3]] == THREE_RESULTS
    [(wrapper, error)] = responses[3:]
    assert wrapper.__wrapped__ is failing
    assert isinstance(error, ValueError)
    assert transport.signal_spans("send_robust") == [
        *THREE_SPANS,
        *spans_for("failing"),
    ]


@pytest.mark.skipif(not HAS_ASYNC, reason="Django 4.2 has no asend")
def test_asend_records_spans_for_sync_receivers(transport, signal):
    # sentry-sdk wraps only sync receivers; the async one runs as it is.
    signal.connect(coroutine)
    with sentry_sdk.start_transaction(name="asend"):
        responses = asyncio.run(signal.asend(Sender, value=2))
    assert [response for _, response in responses] == [*THREE_RESULTS, ("async", 2)]
    assert responses[3][0] is coroutine
    assert transport.signal_spans("asend") == THREE_SPANS


@pytest.mark.usefixtures("db")
def test_model_signals_record_spans(transport):
    def on_pre_save(sender, instance, **kwargs):
        return "pre"

    def on_post_save(sender, instance, created, **kwargs):
        return "post"

    pre_save.connect(on_pre_save, sender=Author)
    post_save.connect(on_post_save, sender=Author)
    try:
        with sentry_sdk.start_transaction(name="save"):
            Author.objects.create(name="traced")
    finally:
        pre_save.disconnect(on_pre_save, sender=Author)
        post_save.disconnect(on_post_save, sender=Author)
    prefix = "test_model_signals_record_spans.<locals>"
    assert transport.signal_spans("save") == spans_for(
        f"{prefix}.on_pre_save", f"{prefix}.on_post_save"
    )


def test_denylisted_signal_records_no_spans(signal):
    other = Signal()
    other.connect(first)
    with sentry(signals_spans=True, signals_denylist=[signal]) as transport:
        with sentry_sdk.start_transaction(name="denylist"):
            responses = signal.send(Sender, value=2)
            other.send(None, value=1)
    assert responses == [
        (first, ("first", 2)),
        (signal.listener.on_signal, ("method", 2)),
        (third, ("third", 2)),
    ]
    assert transport.signal_spans("denylist") == spans_for("first")


def test_signal_spans_off(signal):
    with sentry(signals_spans=False) as transport:
        with sentry_sdk.start_transaction(name="off"):
            responses = signal.send(Sender, value=2)
    assert [r for r, _ in responses] == [first, signal.listener.on_signal, third]
    assert transport.signal_spans("off") == []


def test_receivers_unwrapped_once_the_sdk_is_shut_down(signal):
    with sentry(signals_spans=True):
        [(wrapper, _), *_] = signal.send(Sender, value=2)
        assert wrapper.__wrapped__ is first
    # The class patch stays, but without a client it wraps nothing.
    assert Signal._live_receivers.__name__ == "_sentry_live_receivers"
    assert signal.send(Sender, value=2) == [
        (first, ("first", 2)),
        (signal.listener.on_signal, ("method", 2)),
        (third, ("third", 2)),
    ]
