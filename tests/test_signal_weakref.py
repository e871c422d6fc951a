"""Weak references, dead receivers, the ``receivers`` layout and GC support."""

import asyncio
import gc
import sys
import weakref

import pytest
from conftest import (
    NONE_ID,
    Signal,
    _make_id,
    drops_dead_senders_receivers,
    make_async_receiver,
    make_receiver,
    needs_async,
)
from support.django_layout import (
    DROPS_DEAD_SENDERS,
    HAS_ASYNC,
    ROW_LENGTH,
    ROWS_HAVE_SENDER_REF,
    make_row,
    unpack_row,
)


class Sender:
    pass


class Listener:
    def on_signal(self, **kwargs):
        return "method"

    async def on_signal_async(self, **kwargs):
        return "async method"


def nothing(signal):
    pass


# API calls that tidy dead receivers up, and what each is called with.
TIDYING_CALLS = [
    pytest.param(lambda signal: signal.has_listeners(Sender), id="has_listeners"),
    pytest.param(lambda signal: signal.send(Sender), id="send"),
    pytest.param(lambda signal: signal.send_robust(Sender), id="send_robust"),
    pytest.param(
        lambda signal: asyncio.run(signal.asend(Sender)), id="asend", marks=needs_async
    ),
    pytest.param(
        lambda signal: asyncio.run(signal.asend_robust(Sender)),
        id="asend_robust",
        marks=needs_async,
    ),
    pytest.param(
        lambda signal: signal.connect(make_receiver(), weak=False), id="connect"
    ),
    pytest.param(lambda signal: signal.disconnect(nothing), id="disconnect"),
    pytest.param(lambda signal: signal._live_receivers(Sender), id="_live_receivers"),
]


# --- dead receivers ----------------------------------------------------------


def test_deleted_receiver_is_not_called():
    signal = Signal()
    calls = []

    def handler(**kwargs):
        calls.append("dead")

    def survivor(**kwargs):
        calls.append("alive")

    signal.connect(handler)
    signal.connect(survivor)
    del handler
    gc.collect()
    assert signal.send(None) == [(survivor, None)]
    assert calls == ["alive"]


@pytest.mark.parametrize("call", TIDYING_CALLS)
@pytest.mark.parametrize("use_caching", [False, True])
def test_dead_receiver_removed_by_next_api_call(call, use_caching):
    signal = Signal(use_caching=use_caching)
    keep = make_receiver()
    signal.connect(keep, sender=Sender)
    handler = make_receiver()
    signal.connect(handler, sender=Sender)
    if use_caching:
        signal.send(Sender)  # populate the cache
    del handler
    gc.collect()
    call(signal)
    entries = [entry for entry in signal.receivers if entry[0][1] != NONE_ID]
    assert [entry[1]() for entry in entries] == [keep]


def test_dead_entry_lingers_until_next_api_call():
    # Django tidies up lazily: the weakref callback only flags the signal.
    signal = Signal()
    handler = make_receiver()
    signal.connect(handler)
    del handler
    gc.collect()
    assert len(signal.receivers) == 1
    assert signal.receivers[0][1]() is None
    assert signal.has_listeners() is False
    assert signal.receivers == []


def test_dead_bound_method_removed():
    signal = Signal()
    listener = Listener()
    signal.connect(listener.on_signal)
    signal.connect(listener.on_signal_async)
    assert len(signal.receivers) == 2
    del listener
    gc.collect()
    assert signal.send(None) == []
    assert signal.receivers == []


def test_receiver_alive_during_send_even_if_dropped_meanwhile():
    # send() resolves the live receivers before calling the first one.
    signal = Signal()
    holder = {}
    calls = []

    def first(**kwargs):
        calls.append("first")
        holder.clear()
        gc.collect()

    def second(**kwargs):
        calls.append("second")

    holder["second"] = second
    signal.connect(first)
    signal.connect(second)
    del second
    assert [r.__name__ for r, _ in signal.send(None)] == ["first", "second"]
    assert calls == ["first", "second"]
    gc.collect()
    calls.clear()
    assert signal.send(None) == [(first, None)]
    assert calls == ["first"]


def test_new_receiver_reusing_a_dead_receivers_id_is_connected():
    # connect() tidies up before looking for duplicates, so a new receiver that
    # happens to get the address of a dead one is not mistaken for it.
    signal = Signal()
    for _ in range(5):
        handler = make_receiver("new")
        signal.connect(handler)
        del handler
        gc.collect()
    handler = make_receiver("new")
    signal.connect(handler)
    assert signal.send(None) == [(handler, "new")]
    assert len(signal.receivers) == 1


def test_disconnect_of_unconnected_receiver_reusing_a_dead_id():
    signal = Signal()
    for _ in range(5):
        handler = make_receiver()
        signal.connect(handler)
        del handler
        gc.collect()
        fresh = make_receiver()
        assert signal.disconnect(fresh) is False
        del fresh
    assert signal.receivers == []


# --- senders -----------------------------------------------------------------


@drops_dead_senders_receivers
@pytest.mark.parametrize("weak", [True, False], ids=["weak", "strong"])
@pytest.mark.parametrize("use_caching", [False, True])
def test_receiver_dropped_when_its_sender_dies(weak, use_caching):
    signal = Signal(use_caching=use_caching)
    handler = make_receiver()
    handler_ref = weakref.ref(handler)
    sender_class = type("Temporary", (), {})
    signal.connect(handler, sender=sender_class, weak=weak)
    assert signal.has_listeners(sender_class) is True
    if use_caching:
        signal.send(sender_class)
    sender_ref = weakref.ref(sender_class)
    del sender_class
    gc.collect()
    assert sender_ref() is None
    signal.has_listeners(Sender)
    assert signal.receivers == []
    del handler
    gc.collect()
    # The signal no longer holds a strong receiver whose sender is gone.
    assert handler_ref() is None


@drops_dead_senders_receivers
def test_receiver_of_dead_sender_not_called_for_new_object_with_same_id():
    signal = Signal()
    calls = []

    def handler(**kwargs):
        calls.append(kwargs["sender"])

    sender = Sender()
    signal.connect(handler, sender=sender, weak=False)
    del sender  # freed right away (refcounting): no gc.collect() in between,
    # so that CPython is likely to hand its memory (its id) to the newcomer.
    newcomer = Sender()
    assert signal.send(newcomer) == []
    newcomers = [Sender() for _ in range(20)]
    for newcomer in newcomers:
        signal.send(newcomer)
    assert calls == []
    # Whether or not an id was reused: the dead sender's receiver is gone.
    assert signal.receivers == []


class Owner:
    def method(self):
        pass


@pytest.mark.parametrize("use_caching", [False, True])
def test_bound_method_sender(use_caching):
    signal = Signal(use_caching=use_caching)
    owner = Owner()
    handler = make_receiver("for the method")
    signal.connect(handler, sender=owner.method, weak=False)
    # The bound method passed to connect() is gone already.
    responses = signal.send(owner.method)
    if DROPS_DEAD_SENDERS:
        # Django 6.0+: its weak reference died, so did the receiver's row.
        assert responses == []
        assert signal.receivers == []
    else:
        assert responses == [(handler, "for the method")]
        assert signal.has_listeners(owner.method) is True
        assert len(signal.receivers) == 1


def test_unreferenceable_senders_are_fine():
    signal = Signal()
    handler = make_receiver("ok")
    senders = (42, "text", (1, 2), 3.5, b"bytes")
    for sender in senders:
        signal.connect(handler, sender=sender)
    assert all(len(row) == ROW_LENGTH for row in signal.receivers)
    assert [unpack_row(row)[2] for row in signal.receivers] == [None] * len(senders)
    for sender in senders:
        assert signal.send(sender) == [(handler, "ok")]
        assert signal.has_listeners(sender) is True
    assert signal.send(None) == []


def test_sender_reference_is_weak():
    signal = Signal()
    handler = make_receiver()
    sender = Sender()
    sender_ref = weakref.ref(sender)
    signal.connect(handler, sender=sender)
    signal.send(sender)
    del sender
    gc.collect()
    assert sender_ref() is None


# --- receivers layout --------------------------------------------------------


def test_make_id():
    def function():
        pass

    listener = Listener()
    assert _make_id(None) == id(None) == NONE_ID
    assert _make_id(function) == id(function)
    assert _make_id(Sender) == id(Sender)
    assert _make_id(5) == id(5)
    assert _make_id(listener.on_signal) == (id(listener), id(Listener.on_signal))
    assert _make_id(listener.on_signal) == _make_id(listener.on_signal)
    assert _make_id(listener.on_signal) != _make_id(Listener().on_signal)
    # Anything with a __func__ is taken for a method, and needs a __self__.
    with pytest.raises(AttributeError):
        _make_id(staticmethod(function))


def test_receivers_layout_weak_function():
    signal = Signal()
    handler = make_receiver()
    signal.connect(handler)
    # A list (fastdispatch's is a list subclass that writes changes back).
    assert isinstance(signal.receivers, list)
    [entry] = signal.receivers
    assert type(entry) is tuple
    assert len(entry) == ROW_LENGTH
    key, ref, sender_ref, is_async = unpack_row(entry)
    assert key == (_make_id(handler), NONE_ID)
    assert type(key) is tuple
    assert type(ref) is weakref.ReferenceType
    assert ref() is handler
    assert entry == make_row(key, ref, None, False)
    assert sender_ref is None
    assert is_async is False


def test_receivers_layout_weak_bound_method_with_sender():
    signal = Signal()
    listener = Listener()
    sender = Sender()
    signal.connect(listener.on_signal, sender=sender)
    [entry] = signal.receivers
    assert len(entry) == ROW_LENGTH
    key, ref, sender_ref, is_async = unpack_row(entry)
    assert key == (_make_id(listener.on_signal), _make_id(sender))
    assert key == ((id(listener), id(Listener.on_signal)), id(sender))
    assert isinstance(ref, weakref.WeakMethod)
    assert isinstance(ref, weakref.ReferenceType)
    assert ref() == listener.on_signal
    if ROWS_HAVE_SENDER_REF:
        assert type(sender_ref) is weakref.ReferenceType
        assert sender_ref() is sender
    assert entry == make_row(key, ref, sender_ref, False)
    assert is_async is False


def test_receivers_layout_strong_and_async():
    signal = Signal()
    handler = make_async_receiver()
    listener = Listener()
    method = listener.on_signal
    signal.connect(handler, sender=Sender, weak=False)
    signal.connect(method, weak=False, dispatch_uid=("uid", 1))
    signal.connect(listener.on_signal_async)
    assert all(len(row) == ROW_LENGTH for row in signal.receivers)
    first, second, third = map(unpack_row, signal.receivers)
    assert first[0] == (_make_id(handler), _make_id(Sender))
    assert first[1] is handler
    if ROWS_HAVE_SENDER_REF:
        assert first[2]() is Sender
    # Before 5.0 coroutine functions are receivers like any other.
    assert first[3] is HAS_ASYNC
    assert second[0] == (("uid", 1), NONE_ID)
    assert second[1] is method
    assert second[2] is None
    assert second[3] is False
    assert isinstance(third[1], weakref.WeakMethod)
    assert third[3] is HAS_ASYNC
    assert signal.receivers == [
        make_row(*first),
        make_row(*second),
        make_row(*third),
    ]


def test_receivers_entries_follow_connection_order():
    signal = Signal()
    handlers = [make_receiver() for _ in range(4)]
    for index, handler in enumerate(handlers):
        signal.connect(handler, sender=Sender if index % 2 else None)
    assert [entry[1]() for entry in signal.receivers] == handlers
    signal.disconnect(handlers[1], sender=Sender)
    assert [entry[1]() for entry in signal.receivers] == [
        handlers[0],
        handlers[2],
        handlers[3],
    ]


# --- the signal as a Python object -------------------------------------------


def _signal_in_a_cycle(signal_class, **kwargs):
    """A signal whose strong receiver references the signal; weakrefs to both."""
    signal = signal_class(**kwargs)

    def handler(**kwargs):
        return signal

    signal.connect(handler, weak=False, sender=Sender)
    assert signal.send(Sender) == [(handler, signal)]
    return weakref.ref(signal), weakref.ref(handler)


@pytest.mark.parametrize("use_caching", [False, True])
def test_cycle_through_strong_receiver_is_collected(use_caching):
    signal_ref, handler_ref = _signal_in_a_cycle(Signal, use_caching=use_caching)
    gc.collect()
    assert signal_ref() is None
    assert handler_ref() is None


def test_cycle_through_strong_bound_method_is_collected():
    class Owner:
        def __init__(self):
            self.signal = Signal()
            self.signal.connect(self.on_signal, weak=False)

        def on_signal(self, **kwargs):
            return "owner"

    owner = Owner()
    assert owner.signal.send(None) == [(owner.on_signal, "owner")]
    signal_ref = weakref.ref(owner.signal)
    owner_ref = weakref.ref(owner)
    del owner
    gc.collect()
    assert signal_ref() is None
    assert owner_ref() is None


def test_cycle_through_signal_attribute_is_collected():
    signal = Signal()
    signal.myself = signal
    signal_ref = weakref.ref(signal)
    del signal
    gc.collect()
    assert signal_ref() is None


def test_signal_is_tracked_by_gc():
    signal = Signal()
    assert gc.is_tracked(signal)
    assert any(obj is signal for obj in gc.get_objects())


def test_signal_has_a_dict_and_is_weak_referenceable():
    signal = Signal()
    signal.custom = "value"
    assert signal.custom == "value"
    assert signal.__dict__["custom"] == "value"
    assert vars(signal)["custom"] == "value"
    del signal.custom
    assert not hasattr(signal, "custom")
    signal_ref = weakref.ref(signal)
    assert signal_ref() is signal
    del signal
    gc.collect()
    assert signal_ref() is None


def test_no_errors_when_signal_dies_before_its_receivers():
    signal = Signal()
    listener = Listener()
    handler = make_receiver()
    signal.connect(handler)
    signal.connect(listener.on_signal)
    signal.connect(handler, sender=Sender)
    unraisable = []
    old_hook = sys.unraisablehook
    sys.unraisablehook = unraisable.append
    try:
        del signal
        gc.collect()
        del handler, listener
        gc.collect()
    finally:
        sys.unraisablehook = old_hook
    assert unraisable == []


def test_no_errors_when_receivers_die_after_signal_is_used_elsewhere():
    # Weakref callbacks may fire while nothing holds the signal's lock.
    signals = [Signal(), Signal(use_caching=True)]
    handlers = [make_receiver() for _ in range(10)]
    for signal in signals:
        for handler in handlers:
            signal.connect(handler, sender=Sender)
        signal.send(Sender)
    unraisable = []
    old_hook = sys.unraisablehook
    sys.unraisablehook = unraisable.append
    try:
        del handler
        handlers.clear()
        gc.collect()
    finally:
        sys.unraisablehook = old_hook
    assert unraisable == []
    for signal in signals:
        assert signal.send(Sender) == []
        assert signal.receivers == []
