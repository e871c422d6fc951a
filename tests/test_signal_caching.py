"""Signal(use_caching=True): per-sender receiver cache."""

import asyncio
import gc
import weakref

import pytest
from conftest import (
    SEND_METHODS,
    Sender,
    Signal,
    drops_dead_senders_receivers,
    fastdispatch_only,
    make_async_receiver,
    make_receiver,
    needs_async,
    send_with,
)
from support.django_layout import make_live


@pytest.fixture
def signal():
    return Signal(use_caching=True)


def test_caching_signal_delivers_like_a_plain_one(signal):
    a, b = make_receiver("a"), make_receiver("b")
    signal.connect(a)
    signal.connect(b, sender=Sender)
    for _ in range(3):
        assert signal.send(Sender) == [(a, "a"), (b, "b")]
        assert signal.send(Sender()) == [(a, "a")]
        assert signal.has_listeners(Sender) is True


@pytest.mark.parametrize("matching", [True, False], ids=["receivers", "no-receivers"])
def test_cache_does_not_keep_sender_class_alive(signal, matching):
    handler = make_receiver()
    sender_class = type("Temporary", (), {})
    signal.connect(handler, sender=sender_class if matching else Sender)
    assert len(signal.send(sender_class, value="x")) == (1 if matching else 0)
    signal.send(sender_class)
    sender_ref = weakref.ref(sender_class)
    del sender_class
    gc.collect()
    assert sender_ref() is None


def test_cache_does_not_keep_sender_instance_alive(signal):
    handler = make_receiver()
    signal.connect(handler)
    sender = Sender()
    signal.send(sender)
    assert signal.has_listeners(sender) is True
    sender_ref = weakref.ref(sender)
    del sender
    gc.collect()
    assert sender_ref() is None


def test_results_follow_connect_and_disconnect_after_cached_send(signal):
    a, b, c = make_receiver("a"), make_receiver("b"), make_receiver("c")
    other = Sender()
    signal.connect(a, sender=Sender)
    assert signal.send(Sender) == [(a, "a")]
    assert signal.send(other) == []
    signal.connect(b)
    assert signal.send(Sender) == [(a, "a"), (b, "b")]
    assert signal.send(other) == [(b, "b")]
    signal.connect(c, sender=other)
    assert signal.send(Sender) == [(a, "a"), (b, "b")]
    assert signal.send(other) == [(b, "b"), (c, "c")]
    assert signal.disconnect(a, sender=Sender) is True
    assert signal.send(Sender) == [(b, "b")]
    assert signal.has_listeners(Sender) is True
    assert signal.disconnect(b) is True
    assert signal.send(Sender) == []
    assert signal.has_listeners(Sender) is False
    assert signal.send(other) == [(c, "c")]
    signal.connect(a, sender=Sender)
    assert signal.send(Sender) == [(a, "a")]


def test_cached_empty_result_invalidated_by_connect(signal):
    handler = make_receiver("late")
    other = Sender()
    signal.connect(make_receiver(), sender=other, weak=False)
    assert signal.send(Sender) == []
    assert signal.has_listeners(Sender) is False
    signal.connect(handler, sender=Sender)
    assert signal.has_listeners(Sender) is True
    assert signal.send(Sender) == [(handler, "late")]


def test_cache_invalidated_by_dispatch_uid_connect_and_disconnect(signal):
    handler = make_receiver("uid")
    signal.connect(make_receiver(), sender=object, weak=False)
    assert signal.send(Sender) == []
    signal.connect(handler, sender=Sender, dispatch_uid="uid")
    assert signal.send(Sender) == [(handler, "uid")]
    assert signal.disconnect(sender=Sender, dispatch_uid="uid") is True
    assert signal.send(Sender) == []


def test_dead_receivers_not_returned_after_caching(signal):
    keep = make_receiver("keep")
    handler = make_receiver("gone")
    signal.connect(handler, sender=Sender)
    signal.connect(keep, sender=Sender)
    assert signal.send(Sender) == [(handler, "gone"), (keep, "keep")]
    del handler
    gc.collect()
    assert signal.send(Sender) == [(keep, "keep")]
    assert signal.send_robust(Sender) == [(keep, "keep")]
    assert signal.has_listeners(Sender) is True
    assert len(signal.receivers) == 1
    del keep
    gc.collect()
    assert signal.send(Sender) == []
    assert signal.has_listeners(Sender) is False


@needs_async
def test_dead_async_receivers_not_returned_after_caching(signal):
    keep = make_async_receiver("keep")
    handler = make_async_receiver("gone")
    signal.connect(handler, sender=Sender)
    signal.connect(keep, sender=Sender)
    assert asyncio.run(signal.asend(Sender)) == [(handler, "gone"), (keep, "keep")]
    del handler
    gc.collect()
    assert asyncio.run(signal.asend(Sender)) == [(keep, "keep")]
    assert signal.send(Sender) == [(keep, "keep")]


@drops_dead_senders_receivers
def test_new_sender_with_recycled_id_gets_fresh_receivers(signal):
    calls = []

    def handler(**kwargs):
        calls.append(kwargs["sender"])

    sender = Sender()
    signal.connect(handler, sender=sender)
    assert len(signal.send(sender)) == 1
    calls.clear()
    del sender  # freed right away: the newcomer likely gets the same id
    newcomer = Sender()
    assert signal.send(newcomer) == []
    newcomers = [Sender() for _ in range(20)]
    for newcomer in newcomers:
        assert signal.send(newcomer) == []
    assert calls == []
    # Whether or not an id was reused: the dead sender's receiver is gone.
    assert signal.receivers == []


# A caching signal keys its cache weakly by sender (WeakKeyDictionary): once
# there are receivers, a sender that cannot be weakly referenced is refused.
@pytest.mark.parametrize(
    "sender, type_name",
    [(None, "NoneType"), (1, "int"), ("model", "str")],
    ids=["None", "int", "str"],
)
@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda s, sender: s.send(sender), id="send"),
        pytest.param(lambda s, sender: s.send_robust(sender), id="send_robust"),
        pytest.param(lambda s, sender: s.has_listeners(sender), id="has_listeners"),
        pytest.param(
            lambda s, sender: asyncio.run(s.asend(sender)),
            id="asend",
            marks=needs_async,
        ),
        pytest.param(
            lambda s, sender: asyncio.run(s.asend_robust(sender)),
            id="asend_robust",
            marks=needs_async,
        ),
    ],
)
def test_unreferenceable_sender_with_receivers_raises(signal, call, sender, type_name):
    calls = []

    def handler(**kwargs):
        calls.append(kwargs)

    signal.connect(handler)
    with pytest.raises(TypeError) as excinfo:
        call(signal, sender)
    assert str(excinfo.value) == f"cannot create weak reference to '{type_name}' object"
    assert calls == []


def test_unreferenceable_sender_raises_after_receiver_died(signal):
    handler = make_receiver()
    signal.connect(handler)
    del handler
    gc.collect()
    with pytest.raises(TypeError, match="weak reference"):
        signal.send(None)


@pytest.mark.parametrize("sender", [None, 1, "model"], ids=["None", "int", "str"])
def test_unreferenceable_sender_without_receivers_is_fine(signal, sender):
    for method in SEND_METHODS:
        assert send_with(signal, method, sender) == [], method


def test_has_listeners_needs_referenceable_sender_even_without_receivers(signal):
    # has_listeners() consults the cache before anything else.
    with pytest.raises(TypeError, match="^cannot create weak reference to 'NoneType'"):
        signal.has_listeners()
    assert signal.has_listeners(Sender) is False


def test_plain_signal_accepts_any_sender():
    signal = Signal()
    handler = make_receiver("ok")
    signal.connect(handler)
    for sender in (None, 1, "model"):
        assert signal.send(sender) == [(handler, "ok")]
        assert signal.has_listeners(sender) is True


# --- Django quirks ------------------------------------------------------------
# Django looks senders up in sender_receivers_cache (a WeakKeyDictionary when
# caching, a plain dict otherwise) with Python hashing and equality.


class EqualSender:
    """Distinct instances compare (and hash) equal."""

    def __eq__(self, other):
        return isinstance(other, EqualSender)

    def __hash__(self):
        return 1


class UnhashableSender:
    __hash__ = None


@fastdispatch_only(
    "Django's cache is a WeakKeyDictionary, so with use_caching a sender that "
    "merely compares equal to a cached one gets that sender's receivers; "
    "fastdispatch matches senders by identity with caching on or off"
)
def test_caching_keeps_equal_senders_apart(signal):
    first, second = EqualSender(), EqualSender()
    handler = make_receiver("first's")
    signal.connect(handler, sender=first)
    assert signal.send(second) == []
    assert signal.send(first) == [(handler, "first's")]
    # Django answers from the entry cached for `first`, its equal twin.
    assert signal.send(second) == []


def test_plain_signal_keeps_equal_senders_apart():
    signal = Signal()
    first, second = EqualSender(), EqualSender()
    handler = make_receiver("first's")
    signal.connect(handler, sender=first)
    assert signal.send(first) == [(handler, "first's")]
    assert signal.send(second) == []


@pytest.mark.parametrize("use_caching", [False, True])
def test_unhashable_sender_with_receivers_raises(use_caching):
    signal = Signal(use_caching=use_caching)
    sender = UnhashableSender()
    calls = []

    def handler(**kwargs):
        calls.append(kwargs)

    signal.connect(handler, sender=sender)
    for method in SEND_METHODS:
        with pytest.raises(TypeError, match="^unhashable type: 'UnhashableSender'$"):
            send_with(signal, method, sender)
    assert calls == []


def test_unhashable_sender_has_listeners_on_plain_signal():
    signal = Signal()
    sender = UnhashableSender()
    handler = make_receiver()
    signal.connect(handler, sender=sender)
    assert signal.has_listeners(sender) is True
    assert signal._live_receivers(sender) == make_live([handler], [])
    assert signal.disconnect(handler, sender=sender) is True
