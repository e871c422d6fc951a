"""What differs between Django series, and what code written for one series
reaches: the hooks the class has, ``_live_receivers`` replaced on the class
(as sentry-sdk does) before a signal's first send, a replaced module-level
``_make_id`` (as Django's own tests do), and ``_make_id`` of classes that
Python 3.12 stores differently.

Every test holds for Django's own dispatcher of the installed version too
(``FASTDISPATCH_TEST_REFERENCE``), unless marked.
"""

import gc
from unittest import mock

import django.dispatch.dispatcher
import pytest
from conftest import REFERENCE, Signal, _make_id, implementation, make_receiver
from support.django_layout import (
    DEAD_RECEIVER_HOOK,
    HAS_ASYNC,
    ROWS_HAVE_SENDER_REF,
    SERIES,
    make_row,
    unpack_row,
)

# The module whose ``_make_id`` the signal looks up: Django's, which the shim
# patched, or the reference module itself.
DISPATCHER_MODULE = implementation if REFERENCE else django.dispatch.dispatcher


@pytest.mark.skipif(REFERENCE, reason="fastdispatch's own report of the series")
def test_series_follows_the_installed_django():
    import fastdispatch

    assert fastdispatch._compat.series() == SERIES


def test_dead_receiver_hook_has_the_series_name():
    other = {
        "_flag_dead_receivers": "_remove_receiver",
        "_remove_receiver": "_flag_dead_receivers",
    }[DEAD_RECEIVER_HOOK]
    signal = Signal()
    assert callable(getattr(signal, DEAD_RECEIVER_HOOK))
    assert not hasattr(signal, other)


def test_async_sends_exist_from_django_5():
    assert hasattr(Signal, "asend") is HAS_ASYNC
    assert hasattr(Signal, "asend_robust") is HAS_ASYNC


def test_coroutine_receiver_is_a_plain_callable_before_django_5():
    signal = Signal()

    async def handler(**kwargs):
        return "async"

    signal.connect(handler)
    [(receiver, response)] = signal.send(None)
    assert receiver is handler
    if HAS_ASYNC:
        assert response == "async"
        assert unpack_row(signal.receivers[0])[3] is True
    else:
        # Django 4.2 calls it like any callable: the response is the coroutine.
        assert response.__class__.__name__ == "coroutine"
        response.close()


def test_live_receivers_shape():
    signal = Signal()
    first = make_receiver("first")
    signal.connect(first)
    result = signal._live_receivers(None)
    if SERIES == "4.2":
        assert result == [first]
    else:
        assert isinstance(result, tuple)
        assert result == ([first], [])


def _wrapping_live_receivers(original):
    """A replacement of ``Signal._live_receivers`` written the way
    sentry-sdk's is: it calls the original and wraps each sync receiver in
    place, returning the shape of the series."""

    def live_receivers(self, sender):
        result = original(self, sender)
        sync, asynchronous = (result, []) if SERIES == "4.2" else result
        for index, receiver in enumerate(sync):
            sync[index] = _wrapped(receiver)
        return sync if SERIES == "4.2" else (sync, asynchronous)

    return live_receivers


def _wrapped(receiver):
    def wrapper(**kwargs):
        return ("wrapped", receiver(**kwargs))

    wrapper.wrapped = receiver
    return wrapper


@pytest.mark.parametrize(
    "sent_before", [False, True], ids=["first-send-after", "sent-before"]
)
@pytest.mark.parametrize("method", ["send", "send_robust"])
def test_live_receivers_replaced_on_the_class(sent_before, method):
    """A replacement made before a signal's first send is used by that send
    (sentry-sdk is usually initialised in settings, before any request)."""
    signal = Signal()
    handler = make_receiver("result")
    signal.connect(handler)
    if sent_before:
        assert signal.send(None) == [(handler, "result")]
    original = Signal.__dict__["_live_receivers"]
    with mock.patch.object(
        Signal, "_live_receivers", _wrapping_live_receivers(original)
    ):
        [(receiver, response)] = getattr(signal, method)(None)
        assert receiver.wrapped is handler
        assert response == ("wrapped", "result")
        assert signal.has_listeners(None)
    assert getattr(signal, method)(None) == [(handler, "result")]


def test_live_receivers_replaced_on_a_subclass_before_any_send():
    original = Signal.__dict__["_live_receivers"]

    class Traced(Signal):
        _live_receivers = _wrapping_live_receivers(original)

    signal = Traced()
    handler = make_receiver("result")
    signal.connect(handler)
    [(receiver, response)] = signal.send(None)
    assert receiver.wrapped is handler
    assert response == ("wrapped", "result")


class KeyedSender:
    pass


def test_replaced_make_id_gives_the_keys():
    """Django looks ``_make_id`` up in its module at every call; a
    replacement there decides the keys of connect, send and disconnect."""
    signal = Signal()
    first, second = KeyedSender(), KeyedSender()
    handler = make_receiver("result")

    def make_id(target):
        return 0 if isinstance(target, KeyedSender) else _make_id(target)

    with mock.patch.object(DISPATCHER_MODULE, "_make_id", make_id):
        signal.connect(handler, sender=first, weak=False)
        lookup_key, receiver, _, _ = unpack_row(signal.receivers[0])
        assert lookup_key == (_make_id(handler), 0)
        # Another sender with the same key gets the receiver, as in Django.
        assert signal.send(second) == [(handler, "result")]
        assert signal.has_listeners(second)
    assert DISPATCHER_MODULE._make_id is _make_id
    # Back to identities: the key stored is 0, which no object has.
    assert signal.send(first) == []
    assert signal.disconnect(handler, sender=first) is False
    with mock.patch.object(DISPATCHER_MODULE, "_make_id", make_id):
        assert signal.disconnect(handler, sender=second) is True
    assert signal.receivers == []


def test_replaced_make_id_for_the_receiver_key():
    signal = Signal()
    handler = make_receiver("result")
    calls = []

    def make_id(target):
        calls.append(target)
        return _make_id(target)

    with mock.patch.object(DISPATCHER_MODULE, "_make_id", make_id):
        signal.connect(handler, weak=False)
        assert handler in calls
    calls.clear()
    signal.send(None)
    signal.connect(make_receiver(), weak=False)
    assert calls == []


@pytest.mark.parametrize("base", [classmethod, staticmethod])
def test_make_id_of_a_class_deriving_from_a_method_wrapper(base):
    """``hasattr(cls, "__func__")`` is true for such a class (it inherits the
    descriptor), so Django reads ``cls.__self__``, which fails; the same on
    every Python, although 3.12 moved the dicts of builtin types."""
    derived = type("Derived", (base,), {})
    with pytest.raises(AttributeError):
        _make_id(derived)
    signal = Signal()
    with pytest.raises(AttributeError):
        signal.connect(make_receiver(), sender=derived)
    assert signal.receivers == []


class Model:
    pass


@pytest.mark.xfail(
    REFERENCE and not ROWS_HAVE_SENDER_REF,
    reason="deliberate difference from Django before 6.0: receivers of a "
    "collected sender are dropped",
    strict=True,
)
def test_rows_rewritten_in_place_keep_following_their_sender():
    """Rows of 4.2 and 5.x carry no sender reference; fastdispatch keeps the
    one it made, so a receiver of a sender still goes with the sender after
    the rows were edited in place."""
    signal = Signal()
    sender = Model()
    for_sender, for_all = make_receiver("sender"), make_receiver("all")
    signal.connect(for_sender, sender=sender, weak=False)
    signal.connect(for_all, weak=False)
    signal.receivers.reverse()
    signal.receivers.reverse()
    del sender
    gc.collect()
    # Dead receivers are cleared by the next send, as in Django 6.x.
    assert signal.send(Model()) == [(for_all, "all")]
    assert [unpack_row(row)[1] for row in signal.receivers] == [for_all]


def test_rows_of_another_series_are_refused():
    signal = Signal()
    handler = make_receiver()
    row = make_row((_make_id(handler), _make_id(None)), handler)
    longer = (*row, False)
    signal.receivers = [row]
    assert signal.send(None) == [(handler, None)]
    if REFERENCE:
        return
    with pytest.raises(TypeError, match="each receiver must be a tuple"):
        signal.receivers = [longer]
    # Nothing changed.
    assert signal.receivers == [row]


def test_sender_receivers_cache_values_in_the_series_layout():
    signal = Signal(use_caching=True)
    handler = make_receiver()
    signal.connect(handler, sender=Model, weak=False)
    signal.send(Model)
    [cached] = signal.sender_receivers_cache[Model]
    if SERIES == "4.2":
        assert cached is handler
    elif SERIES == "5.2":
        assert cached == (handler, False)
    else:
        assert cached[0] is handler and cached[2] is False
