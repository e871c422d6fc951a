"""Signal subclasses written in Python, including Django's ModelSignal."""

import asyncio
import functools
import gc
import logging
import types
import weakref

import pytest
from conftest import Signal, receiver
from django.db import models
from django.db.models.signals import ModelSignal
from django.test.utils import isolate_apps
from support.django_layout import HAS_ASYNC, TASK_GROUP

APP_LABEL = "fastdispatch_tests"


class Sender:
    pass


def make_receiver(calls=None, result=None):
    def handler(**kwargs):
        if calls is not None:
            calls.append(kwargs)
        return result

    return handler


class PartialSignal(Signal):
    """Overrides connect() and reaches the base one through functools.partial,
    the way Django's ModelSignal does."""

    def __init__(self, *args, label="partial", **kwargs):
        super().__init__(*args, **kwargs)
        self.label = label
        self.tags = []

    def connect(self, receiver, sender=None, weak=True, dispatch_uid=None, tag=None):
        self.tags.append(tag)
        method = functools.partial(
            super().connect, receiver, weak=weak, dispatch_uid=dispatch_uid
        )
        return method(sender)


class DefaultsSignal(Signal):
    """Adds a named argument to every send."""

    def send(self, sender, **named):
        named.setdefault("extra", "default")
        return super().send(sender, **named)


class LoggingSignal(Signal):
    """Collects robust failures instead of logging them (Django 5.0+; 4.2 has
    no ``_log_robust_failure``, its send_robust logs by itself)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.failures = []

    def _log_robust_failure(self, receiver, err):
        self.failures.append((receiver, err))


# --- plain Python subclasses -------------------------------------------------


def test_subclass_connect_through_partial():
    signal = PartialSignal(use_caching=True, label="mine")
    assert isinstance(signal, Signal)
    assert signal.use_caching is True
    assert signal.label == "mine"
    calls = []
    handler = make_receiver(calls, result="ok")
    assert signal.connect(handler, sender=Sender, tag="first") is None
    signal.connect(handler, sender=Sender, tag="again")
    assert signal.tags == ["first", "again"]
    assert len(signal.receivers) == 1
    assert signal.send(Sender, value=1) == [(handler, "ok")]
    assert calls == [{"signal": signal, "sender": Sender, "value": 1}]
    assert calls[0]["signal"] is signal
    assert signal.disconnect(handler, sender=Sender) is True
    assert signal.send(Sender) == []


def test_subclass_connect_keeps_receivers_weak():
    signal = PartialSignal()
    handler = make_receiver()
    signal.connect(handler)
    assert signal.has_listeners() is True
    del handler
    gc.collect()
    assert signal.has_listeners() is False


def test_receiver_decorator_uses_subclass_connect():
    signal = PartialSignal()

    @receiver(signal, sender=Sender, dispatch_uid="uid", tag="decorated")
    def handler(**kwargs):
        return "decorated"

    assert signal.tags == ["decorated"]
    assert signal.send(Sender) == [(handler, "decorated")]


def test_subclass_send_override():
    signal = DefaultsSignal()
    calls = []
    handler = make_receiver(calls)
    signal.connect(handler)
    signal.send(Sender)
    signal.send(Sender, extra="given")
    assert [kwargs["extra"] for kwargs in calls] == ["default", "given"]
    assert [list(kwargs) for kwargs in calls] == [["signal", "sender", "extra"]] * 2


def test_subclass_instances_are_collected():
    def build():
        signal = PartialSignal()

        def handler(**kwargs):
            return signal

        signal.connect(handler, weak=False)
        return weakref.ref(signal)

    signal_ref = build()
    gc.collect()
    assert signal_ref() is None


@pytest.mark.skipif(
    not HAS_ASYNC,
    reason="Django 4.2 has no _log_robust_failure: "
    "test_send_robust_logs_without_log_robust_failure",
)
def test_subclass_log_robust_failure_override(caplog):
    signal = LoggingSignal()

    def failing(**kwargs):
        raise ValueError("sync")

    async def failing_async(**kwargs):
        raise ValueError("async")

    signal.connect(failing)
    signal.connect(failing_async)
    with caplog.at_level(logging.DEBUG, logger="django.dispatch"):
        responses = signal.send_robust(None)
        async_responses = asyncio.run(signal.asend_robust(None))
    assert [str(err) for _, err in responses] == ["sync", "async"]
    assert [str(err) for _, err in async_responses] == ["sync", "async"]
    failures = [(r, str(err)) for r, err in signal.failures]
    in_order = [(failing, "sync"), (failing_async, "async")]
    assert failures[:2] == in_order
    if TASK_GROUP:
        assert failures[2:] == in_order
    else:
        # asend_robust up to 6.0 runs both at once (in which order they
        # start: test_signal_async.test_asend_order_of_sync_and_async_receivers).
        assert sorted(failures[2:], key=str) == sorted(in_order, key=str)
    assert caplog.records == []


@pytest.mark.skipif(
    HAS_ASYNC,
    reason="Django 5.0+ logs through _log_robust_failure: "
    "test_subclass_log_robust_failure_override",
)
def test_send_robust_logs_without_log_robust_failure(caplog):
    assert not hasattr(Signal, "_log_robust_failure")
    signal = LoggingSignal()

    def failing(**kwargs):
        raise ValueError("sync")

    signal.connect(failing)
    with caplog.at_level(logging.DEBUG, logger="django.dispatch"):
        [(got, err)] = signal.send_robust(None)
    assert got is failing
    assert str(err) == "sync"
    # A method of that name is the subclass's own business.
    assert signal.failures == []
    [record] = caplog.records
    assert record.getMessage() == (
        f"Error calling {failing.__qualname__} in Signal.send_robust() (sync)"
    )
    assert record.exc_info[1] is err


def test_subclass_with_extra_class_attributes():
    class Tagged(Signal):
        kind = "tagged"

        @property
        def description(self):
            return f"{self.kind} signal ({len(self.receivers)} receivers)"

    signal = Tagged()
    handler = make_receiver()
    signal.connect(handler)
    assert signal.description == "tagged signal (1 receivers)"
    assert type(signal) is Tagged


# --- Django's ModelSignal ----------------------------------------------------


def _rebase(cls, base):
    """Rebuild ``cls`` (a direct subclass of Django's Signal) on ``base``.

    The methods are Django's own function objects; only the ``__class__`` cell
    behind zero-argument ``super()`` is pointed at the rebuilt class.
    """
    namespace = {
        name: value
        for name, value in vars(cls).items()
        if name not in ("__dict__", "__weakref__")
    }
    rebuilt = type(cls.__name__, (base,), namespace)
    for name, value in namespace.items():
        if not isinstance(value, types.FunctionType):
            continue
        if "__class__" not in value.__code__.co_freevars:
            continue
        closure = tuple(
            types.CellType(rebuilt) if var == "__class__" else cell
            for var, cell in zip(
                value.__code__.co_freevars, value.__closure__, strict=True
            )
        )
        function = types.FunctionType(
            value.__code__,
            value.__globals__,
            value.__name__,
            value.__defaults__,
            closure,
        )
        function.__kwdefaults__ = value.__kwdefaults__
        function.__qualname__ = value.__qualname__
        setattr(rebuilt, name, function)
    return rebuilt


if issubclass(ModelSignal, Signal):
    # fastdispatch's shim already made it a subclass of the Signal under test.
    ModelSignalUnderTest = ModelSignal
else:
    ModelSignalUnderTest = _rebase(ModelSignal, Signal)


def _define_model(name):
    meta = type("Meta", (), {"app_label": APP_LABEL})
    return type(name, (models.Model,), {"__module__": __name__, "Meta": meta})


def test_model_signal_is_tested_on_our_signal():
    assert issubclass(ModelSignalUnderTest, Signal)
    assert ModelSignalUnderTest.connect.__code__ is ModelSignal.connect.__code__


@pytest.mark.parametrize("use_caching", [True, False])
def test_model_signal_lazy_string_sender(use_caching):
    signal = ModelSignalUnderTest(use_caching=use_caching)
    calls = []
    handler = make_receiver(calls, result="saved")
    with isolate_apps():
        signal.connect(handler, sender=f"{APP_LABEL}.Widget")
        # Pending until the model exists.
        assert signal.receivers == []
        widget = _define_model("Widget")
        other = _define_model("Gadget")
        assert len(signal.receivers) == 1
        assert signal.has_listeners(widget) is True
        assert signal.has_listeners(other) is False
        assert signal.send(sender=widget, instance=None, created=True) == [
            (handler, "saved")
        ]
        assert signal.send(other, instance=None) == []
        assert calls == [
            {"signal": signal, "sender": widget, "instance": None, "created": True}
        ]
        # Disconnecting through a string goes the lazy way too: no result.
        assert signal.disconnect(handler, sender=f"{APP_LABEL}.Widget") is None
        assert signal.receivers == []
        assert signal.send(widget, instance=None) == []


def test_model_signal_with_model_class_and_dispatch_uid():
    signal = ModelSignalUnderTest(use_caching=True)
    first, second = make_receiver(result=1), make_receiver(result=2)
    with isolate_apps() as apps:
        widget = _define_model("Widget")
        signal.connect(first, sender=widget, dispatch_uid="uid")
        signal.connect(second, sender=f"{APP_LABEL}.Widget", dispatch_uid="uid")
        signal.connect(second, sender=f"{APP_LABEL}.widget", apps=apps)
        assert signal.send(widget) == [(first, 1), (second, 2)]
        assert signal.disconnect(sender=widget, dispatch_uid="uid") is True
        assert signal.send(widget) == [(second, 2)]


def test_model_signal_receiver_decorator_with_string_sender():
    signal = ModelSignalUnderTest(use_caching=True)
    with isolate_apps():

        @receiver(signal, sender=f"{APP_LABEL}.Widget", weak=False)
        def on_widget(sender, **kwargs):
            return sender.__name__

        assert signal.receivers == []
        widget = _define_model("Widget")
        assert signal.send(widget) == [(on_widget, "Widget")]
