"""Code that reaches into a signal's internals, the way widely used code does.

Django's ``Signal`` keeps its state in plain attributes and code in the wild
relies on them: ``receivers`` (a list of rows, one per receiver in connection
order, laid out as the installed Django does: ``(lookup_key, receiver)`` on
4.2, ``(lookup_key, receiver, is_async)`` on 5.x, ``(lookup_key, receiver,
sender_ref, is_async)`` on 6.x, see ``support.django_layout``) is read, saved,
replaced and mutated in place (factory_boy's ``mute_signals``, test helpers
that silence signals, django-debug-toolbar's signals panel);
``sender_receivers_cache`` is cleared or swapped after such changes, under
``with signal.lock:``; ``_live_receivers()`` is wrapped on the class
(sentry-sdk), replaced on one instance or overridden in a subclass.

Each test takes one such pattern and checks that ``send``, ``send_robust``,
``asend``, ``asend_robust`` (where the series has them), ``has_listeners``,
``connect`` and ``disconnect`` then act on what the code left behind, as the
installed Django's dispatcher does. Every test passes against that Django's
own ``dispatcher.py`` as well (see ``FASTDISPATCH_TEST_REFERENCE`` in
conftest.py). No test calls a method that takes the lock from inside ``with
signal.lock:``: Django's lock is not re-entrant.
"""

import functools
import gc
import inspect
import threading
import types
import weakref
from unittest import mock

import pytest
from conftest import (
    NO_RECEIVERS,
    NONE_ID,
    SEND_METHODS,
    Signal,
    _make_id,
    async_result,
    drops_dead_senders_receivers,
    receiver,
    send_with,
    settled,
)
from support.django_layout import (
    DEAD_RECEIVER_HOOK,
    HAS_ASYNC,
    ROW_LENGTH,
    ROWS_HAVE_SENDER_REF,
    make_cache_entry,
    make_live,
    make_row,
    split_live,
    unpack_row,
)

# Deadlock guard for threads, never a timing check.
GUARD = 30

CACHING = pytest.mark.parametrize(
    "use_caching", [False, True], ids=["no-caching", "caching"]
)


class Sender:
    pass


class OtherSender:
    pass


class Listener:
    def __init__(self, result):
        self.result = result

    def on_signal(self, **kwargs):
        return self.result


def make_receiver(result):
    def handler(**kwargs):
        return result

    handler.__qualname__ = f"handler_{result}"
    return handler


def make_async_receiver(result):
    async def handler(**kwargs):
        return result

    handler.__qualname__ = f"async_handler_{result}"
    return handler


def forget_cache(signal):
    """What code that bypasses connect()/disconnect() does next: a caching
    signal would otherwise answer from what it cached before (factory_boy's
    ``mute_signals`` does exactly this, under the lock)."""
    if signal.use_caching:
        with signal.lock:
            signal.sender_receivers_cache.clear()


def assert_delivers(signal, expected, sender=Sender):
    """``send``, ``send_robust``, ``asend`` and ``asend_robust`` (those the
    series has) all return ``expected`` (``[(receiver, response), ...]``, as
    ``settled()`` shows it) and ``has_listeners`` agrees; twice, so that a
    caching signal answers once from its cache."""
    for _ in range(2):
        for method in SEND_METHODS:
            assert settled(send_with(signal, method, sender)) == expected, method
        assert signal.has_listeners(sender) is bool(expected)


def hook_dead_receivers(signal, *args):
    """Call the hook that weak references call when a receiver dies (its name
    depends on the series)."""
    return getattr(signal, DEAD_RECEIVER_HOOK)(*args)


def resolve(ref):
    """The receiver of a ``receivers`` entry, as code in the wild reaches it."""
    return ref() if isinstance(ref, weakref.ReferenceType) else ref


# --- reading ``receivers`` ---------------------------------------------------


def test_receivers_layout():
    signal = Signal()
    function = make_receiver("function")
    listener = Listener("method")
    strong = make_receiver("strong")
    coroutine = make_async_receiver("async")
    not_weakrefable = 7
    signal.connect(function)
    signal.connect(listener.on_signal, sender=Sender)
    signal.connect(strong, sender=not_weakrefable, weak=False, dispatch_uid="uid")
    signal.connect(coroutine)

    receivers = signal.receivers
    assert isinstance(receivers, list)
    assert len(receivers) == 4
    assert all(type(row) is tuple and len(row) == ROW_LENGTH for row in receivers)
    (key1, ref1, sref1, async1), (key2, ref2, sref2, async2) = map(
        unpack_row, receivers[:2]
    )
    (key3, ref3, sref3, async3), (key4, ref4, sref4, async4) = map(
        unpack_row, receivers[2:]
    )

    assert key1 == (_make_id(function), NONE_ID)
    assert isinstance(ref1, weakref.ReferenceType)
    assert not isinstance(ref1, weakref.WeakMethod)
    assert ref1() is function
    assert receivers[0] == make_row(key1, ref1, None, False)

    assert key2 == (_make_id(listener.on_signal), _make_id(Sender))
    assert isinstance(ref2, weakref.WeakMethod)
    assert ref2() == listener.on_signal
    assert ref2().__self__ is listener
    if ROWS_HAVE_SENDER_REF:
        assert isinstance(sref2, weakref.ReferenceType)
        assert sref2() is Sender
    assert receivers[1] == make_row(key2, ref2, sref2, False)

    assert key3 == ("uid", _make_id(not_weakrefable))
    assert ref3 is strong
    assert receivers[2] == make_row(key3, strong, None, False)

    # Before 5.0 a coroutine function is a receiver like any other.
    assert key4 == (_make_id(coroutine), NONE_ID)
    assert isinstance(ref4, weakref.ReferenceType)
    assert ref4() is coroutine
    assert receivers[3] == make_row(key4, ref4, None, HAS_ASYNC)
    assert (sref1, sref3, sref4) == (None, None, None)
    assert (async1, async2, async3, async4) == (False, False, False, HAS_ASYNC)


def test_receivers_read_the_ways_code_in_the_wild_does():
    signal = Signal()
    assert signal.receivers == []
    assert len(signal.receivers) == 0
    assert not signal.receivers
    first, second = make_receiver(1), make_receiver(2)
    listener = Listener(3)
    signal.connect(first)
    signal.connect(second, sender=Sender, weak=False)
    signal.connect(listener.on_signal, sender=Sender)
    assert signal.receivers != []
    assert len(signal.receivers) == 3

    # The way django-debug-toolbar lists receivers (unpacking the rows of
    # the installed series).
    found = []
    for row in signal.receivers:
        key, ref, sref, is_async = unpack_row(row)
        assert key in {
            (_make_id(first), NONE_ID),
            (_make_id(second), _make_id(Sender)),
            (_make_id(listener.on_signal), _make_id(Sender)),
        }
        assert sref is None or sref() is Sender
        assert is_async is False
        found.append(resolve(ref))
    assert found == [first, second, listener.on_signal]

    # The receivers of one sender, by its key.
    for_sender = [e for e in signal.receivers if e[0][1] == _make_id(Sender)]
    assert [resolve(e[1]) for e in for_sender] == [second, listener.on_signal]
    assert signal.receivers[0][1]() is first
    assert signal.receivers[-1][1]() == listener.on_signal


def test_slice_copy_is_a_snapshot():
    signal = Signal()
    first, second = make_receiver(1), make_receiver(2)
    signal.connect(first)
    saved = signal.receivers[:]
    assert isinstance(saved, list)
    assert [resolve(e[1]) for e in saved] == [first]
    signal.connect(second)
    assert signal.disconnect(first) is True
    assert [resolve(e[1]) for e in saved] == [first]
    assert [resolve(e[1]) for e in signal.receivers] == [second]


# --- replacing ``receivers`` -------------------------------------------------


@CACHING
@pytest.mark.parametrize("copy", ["slice", "alias"])
def test_receivers_emptied_and_restored(use_caching, copy):
    signal = Signal(use_caching=use_caching)
    function, strong = make_receiver("function"), make_receiver("strong")
    listener = Listener("method")
    signal.connect(function)
    signal.connect(listener.on_signal, sender=Sender)
    signal.connect(strong, weak=False, dispatch_uid="uid")
    original = [(function, "function"), (listener.on_signal, "method")]
    original.append((strong, "strong"))
    assert_delivers(signal, original)

    saved = signal.receivers[:] if copy == "slice" else signal.receivers
    signal.receivers = []
    forget_cache(signal)
    assert signal.receivers == []
    assert len(saved) == 3
    assert_delivers(signal, [])

    temporary = make_receiver("temporary")
    signal.connect(temporary)
    assert len(signal.receivers) == 1
    assert len(saved) == 3
    assert_delivers(signal, [(temporary, "temporary")])

    signal.receivers = saved
    forget_cache(signal)
    assert len(signal.receivers) == 3
    assert_delivers(signal, original)

    # connect() and disconnect() see the restored entries.
    signal.connect(function)
    signal.connect(make_receiver("same uid"), dispatch_uid="uid")
    assert len(signal.receivers) == 3
    assert signal.disconnect(listener.on_signal) is False
    assert signal.disconnect(listener.on_signal, sender=Sender) is True
    assert signal.disconnect(dispatch_uid="uid") is True
    assert_delivers(signal, [(function, "function")])
    signal.connect(temporary)
    assert_delivers(signal, [(function, "function"), (temporary, "temporary")])


@CACHING
def test_receivers_restored_by_concatenation(use_caching):
    # factory_boy's mute_signals: receivers connected meanwhile are kept,
    # after the saved ones.
    signal = Signal(use_caching=use_caching)
    first, second = make_receiver(1), make_receiver(2)
    signal.connect(first)
    signal.connect(second, sender=Sender)
    assert_delivers(signal, [(first, 1), (second, 2)])
    saved = signal.receivers
    signal.receivers = []
    forget_cache(signal)
    meanwhile = make_receiver("meanwhile")
    signal.connect(meanwhile, weak=False)
    signal.receivers = saved + signal.receivers
    forget_cache(signal)
    assert [resolve(e[1]) for e in signal.receivers] == [first, second, meanwhile]
    assert_delivers(signal, [(first, 1), (second, 2), (meanwhile, "meanwhile")])
    assert_delivers(signal, [(first, 1), (meanwhile, "meanwhile")], sender=OtherSender)


@CACHING
def test_receivers_restored_with_augmented_assignment(use_caching):
    signal = Signal(use_caching=use_caching)
    first, second = make_receiver(1), make_receiver(2)
    signal.connect(first)
    signal.connect(second)
    assert_delivers(signal, [(first, 1), (second, 2)])
    saved = signal.receivers[:]
    signal.receivers = []
    forget_cache(signal)
    meanwhile = make_receiver("meanwhile")
    signal.connect(meanwhile)
    assert_delivers(signal, [(meanwhile, "meanwhile")])
    signal.receivers += saved
    forget_cache(signal)
    assert len(signal.receivers) == 3
    assert_delivers(signal, [(meanwhile, "meanwhile"), (first, 1), (second, 2)])
    assert signal.disconnect(first) is True
    assert_delivers(signal, [(meanwhile, "meanwhile"), (second, 2)])


@CACHING
def test_receivers_replaced_by_a_filtered_list(use_caching):
    signal = Signal(use_caching=use_caching)
    first, victim, last = make_receiver(1), make_receiver("victim"), make_receiver(3)
    signal.connect(first)
    signal.connect(victim, sender=Sender)
    signal.connect(last, weak=False)
    assert_delivers(signal, [(first, 1), (victim, "victim"), (last, 3)])
    saved = signal.receivers[:]
    signal.receivers = [e for e in saved if e[0][0] != _make_id(victim)]
    forget_cache(signal)
    assert len(signal.receivers) == 2
    assert_delivers(signal, [(first, 1), (last, 3)])
    assert signal.disconnect(victim, sender=Sender) is False
    signal.connect(victim, sender=Sender)
    assert_delivers(signal, [(first, 1), (last, 3), (victim, "victim")])
    signal.receivers = [e for e in saved if resolve(e[1]) is not last]
    forget_cache(signal)
    assert_delivers(signal, [(first, 1), (victim, "victim")])


@CACHING
def test_restored_weak_receivers_stay_weak(use_caching):
    signal = Signal(use_caching=use_caching)
    function, strong = make_receiver("function"), make_receiver("strong")
    listener = Listener("method")
    signal.connect(function)
    signal.connect(listener.on_signal)
    signal.connect(strong, weak=False)
    saved = signal.receivers[:]
    signal.receivers = []
    forget_cache(signal)
    function_ref = weakref.ref(function)
    listener_ref = weakref.ref(listener)
    del function, listener
    gc.collect()
    # The saved entries did not keep them alive.
    assert function_ref() is None
    assert listener_ref() is None
    signal.receivers = saved
    forget_cache(signal)
    assert_delivers(signal, [(strong, "strong")])
    # The dead ones were swept out, as by Django's _clear_dead_receivers.
    assert [resolve(e[1]) for e in signal.receivers] == [strong]


def test_hand_made_weak_entry_is_skipped_once_dead():
    signal = Signal()
    keep, gone = make_receiver("keep"), make_receiver("gone")
    signal.receivers = [
        make_row((_make_id(keep), NONE_ID), keep),
        make_row((_make_id(gone), NONE_ID), weakref.ref(gone)),
    ]
    assert_delivers(signal, [(keep, "keep"), (gone, "gone")])
    del gone
    gc.collect()
    assert_delivers(signal, [(keep, "keep")])
    # A weak reference without the signal's callback flags nothing: the dead
    # entry stays until the flag is set by other means.
    assert signal._dead_receivers is False
    assert len(signal.receivers) == 2
    hook_dead_receivers(signal)
    with signal.lock:
        signal._clear_dead_receivers()
    assert signal._dead_receivers is False
    assert [resolve(e[1]) for e in signal.receivers] == [keep]


def test_replaced_list_is_detached_from_the_signal():
    signal = Signal()
    first, second = make_receiver(1), make_receiver(2)
    signal.connect(first)
    old = signal.receivers
    signal.receivers = old[:]
    old.clear()
    assert_delivers(signal, [(first, 1)])
    signal.connect(second)
    assert old == []
    assert_delivers(signal, [(first, 1), (second, 2)])


# --- mutating ``receivers`` in place -----------------------------------------


@CACHING
def test_receivers_cleared_in_place(use_caching):
    signal = Signal(use_caching=use_caching)
    first, second = make_receiver(1), make_receiver(2)
    signal.connect(first)
    signal.connect(second, sender=Sender)
    assert_delivers(signal, [(first, 1), (second, 2)])
    signal.receivers.clear()
    forget_cache(signal)
    assert signal.receivers == []
    assert_delivers(signal, [])
    assert signal.disconnect(first) is False
    # connect() no longer finds it: it is connected again.
    signal.connect(first)
    assert len(signal.receivers) == 1
    assert_delivers(signal, [(first, 1)])


@CACHING
def test_receivers_appended_and_extended_in_place(use_caching):
    signal = Signal(use_caching=use_caching)
    existing = make_receiver("existing")
    strong, weak = make_receiver("strong"), make_receiver("weak")
    coroutine = make_async_receiver("async")
    signal.connect(existing)
    assert_delivers(signal, [(existing, "existing")])

    signal.receivers.append(make_row((_make_id(strong), NONE_ID), strong))
    signal.receivers.extend(
        [
            make_row(
                (_make_id(weak), _make_id(Sender)),
                weakref.ref(weak),
                weakref.ref(Sender),
            ),
            make_row(
                (_make_id(coroutine), NONE_ID),
                weakref.ref(coroutine),
                is_async=True,
            ),
        ]
    )
    forget_cache(signal)
    assert len(signal.receivers) == 4
    expected = [(existing, "existing"), (strong, "strong"), (weak, "weak")]
    expected.append((coroutine, async_result("async")))
    assert_delivers(signal, expected)
    assert_delivers(
        signal,
        [
            (existing, "existing"),
            (strong, "strong"),
            (coroutine, async_result("async")),
        ],
        sender=OtherSender,
    )

    # connect() and disconnect() know the added entries by their keys.
    signal.connect(strong)
    signal.connect(weak, sender=Sender)
    assert len(signal.receivers) == 4
    assert signal.disconnect(weak, sender=Sender) is True
    assert signal.disconnect(strong) is True
    assert_delivers(
        signal, [(existing, "existing"), (coroutine, async_result("async"))]
    )


@CACHING
def test_receivers_restored_in_place(use_caching):
    signal = Signal(use_caching=use_caching)
    first, second = make_receiver(1), make_receiver(2)
    signal.connect(first)
    signal.connect(second, weak=False)
    assert_delivers(signal, [(first, 1), (second, 2)])
    saved = signal.receivers[:]
    signal.receivers.clear()
    forget_cache(signal)
    assert_delivers(signal, [])
    signal.receivers.extend(saved)
    forget_cache(signal)
    assert_delivers(signal, [(first, 1), (second, 2)])
    signal.receivers[:] = saved[1:]
    forget_cache(signal)
    assert_delivers(signal, [(second, 2)])
    signal.receivers[:] = saved
    forget_cache(signal)
    assert_delivers(signal, [(first, 1), (second, 2)])


@CACHING
def test_receivers_removed_in_place(use_caching):
    signal = Signal(use_caching=use_caching)
    first, second, third = make_receiver(1), make_receiver(2), make_receiver(3)
    signal.connect(first)
    signal.connect(second, sender=Sender)
    signal.connect(third)
    assert_delivers(signal, [(first, 1), (second, 2), (third, 3)])

    signal.receivers.remove(signal.receivers[1])
    forget_cache(signal)
    assert len(signal.receivers) == 2
    assert_delivers(signal, [(first, 1), (third, 3)])
    assert signal.disconnect(second, sender=Sender) is False

    del signal.receivers[0]
    forget_cache(signal)
    assert [resolve(e[1]) for e in signal.receivers] == [third]
    assert_delivers(signal, [(third, 3)])
    assert signal.disconnect(first) is False

    signal.connect(first)
    assert_delivers(signal, [(third, 3), (first, 1)])


def test_receivers_mutated_through_a_held_reference():
    signal = Signal()
    first, second = make_receiver(1), make_receiver(2)
    signal.connect(first)
    receivers = signal.receivers
    receivers.append(make_row((_make_id(second), NONE_ID), second))
    assert_delivers(signal, [(first, 1), (second, 2)])
    receivers = signal.receivers
    del receivers[0]
    assert_delivers(signal, [(second, 2)])


# --- sender_receivers_cache --------------------------------------------------


def test_sender_receivers_cache_without_caching_stays_empty():
    signal = Signal()
    handler = make_receiver("ok")
    signal.connect(handler)
    cache = signal.sender_receivers_cache
    assert len(cache) == 0
    assert_delivers(signal, [(handler, "ok")])
    assert len(signal.sender_receivers_cache) == 0
    assert signal.sender_receivers_cache.get(Sender) is None
    saved = signal.sender_receivers_cache.copy()
    assert len(saved) == 0
    with signal.lock:
        signal.sender_receivers_cache.clear()
    signal.sender_receivers_cache = saved
    assert_delivers(signal, [(handler, "ok")])
    assert len(signal.sender_receivers_cache) == 0


def test_sender_receivers_cache_with_caching():
    signal = Signal(use_caching=True)
    anyone, specific = make_receiver("anyone"), make_receiver("specific")
    signal.connect(anyone)
    signal.connect(specific, sender=Sender, weak=False)
    cache = signal.sender_receivers_cache
    assert len(cache) == 0
    assert cache.get(Sender) is None

    assert signal.send(Sender) == [(anyone, "anyone"), (specific, "specific")]
    [(_, anyone_ref, _, _), (_, _, sender_ref, _)] = map(unpack_row, signal.receivers)
    assert len(signal.sender_receivers_cache) == 1
    assert signal.sender_receivers_cache.get(Sender) == [
        make_cache_entry(anyone_ref, None, False),
        make_cache_entry(specific, sender_ref, False),
    ]
    assert signal.sender_receivers_cache.get(OtherSender) is None

    # A sender of its own; its entry goes when it does.
    sender = Sender()
    assert signal.has_listeners(sender) is True
    assert len(signal.sender_receivers_cache) == 2
    assert signal.sender_receivers_cache.get(sender) == [
        make_cache_entry(anyone_ref, None, False)
    ]
    del sender
    gc.collect()
    assert len(signal.sender_receivers_cache) == 1

    # connect() and disconnect() empty it.
    late = make_receiver("late")
    signal.connect(late)
    assert len(signal.sender_receivers_cache) == 0
    assert signal.send(Sender) == [
        (anyone, "anyone"),
        (specific, "specific"),
        (late, "late"),
    ]
    assert len(signal.sender_receivers_cache) == 1
    assert signal.disconnect(late) is True
    assert len(signal.sender_receivers_cache) == 0


def test_sender_receivers_cache_marks_senders_without_receivers():
    signal = Signal(use_caching=True)
    specific = make_receiver("specific")
    signal.connect(specific, sender=Sender)
    assert signal.send(OtherSender) == []
    assert signal.sender_receivers_cache.get(OtherSender) is NO_RECEIVERS
    assert signal.has_listeners(OtherSender) is False
    assert signal.send(Sender) == [(specific, "specific")]
    assert len(signal.sender_receivers_cache) == 2


@CACHING
def test_sender_receivers_cache_copied_cleared_and_reassigned(use_caching):
    signal = Signal(use_caching=use_caching)
    first = make_receiver(1)
    signal.connect(first)
    assert_delivers(signal, [(first, 1)])
    saved = signal.sender_receivers_cache.copy()
    assert len(saved) == len(signal.sender_receivers_cache)
    assert saved.get(Sender) == signal.sender_receivers_cache.get(Sender)

    with signal.lock:
        signal.sender_receivers_cache.clear()
    assert len(signal.sender_receivers_cache) == 0
    assert len(saved) == (1 if use_caching else 0)
    assert_delivers(signal, [(first, 1)])

    # Put back, as code that saved it does. Django then uses the very object
    # assigned; fastdispatch (deliberately) empties its own cache instead, to
    # be refilled from the receivers. Either way sends go on delivering the
    # receivers, and the cache is in use again, and emptied by connect().
    signal.sender_receivers_cache = saved
    assert_delivers(signal, [(first, 1)])
    assert len(signal.sender_receivers_cache) == (1 if use_caching else 0)
    assert signal.sender_receivers_cache.get(Sender) == (
        [make_cache_entry(signal.receivers[0][1], None, False)] if use_caching else None
    )
    second = make_receiver(2)
    signal.connect(second)
    assert len(signal.sender_receivers_cache) == 0
    assert_delivers(signal, [(first, 1), (second, 2)])


# --- the lock ------------------------------------------------------------------


def test_lock_is_one_context_manager():
    signal = Signal()
    lock = signal.lock
    assert signal.lock is lock
    assert lock.locked() is False
    with signal.lock:
        assert lock.locked() is True
    assert lock.locked() is False
    handler = make_receiver("after")
    signal.connect(handler)
    assert signal.send(None) == [(handler, "after")]


@pytest.mark.parametrize(
    "operation", ["connect", "disconnect", "send", "has_listeners"]
)
def test_lock_held_elsewhere_blocks_the_signal(operation):
    signal = Signal()
    existing, late = make_receiver("existing"), make_receiver("late")
    signal.connect(existing, weak=False)
    run = {
        "connect": lambda: signal.connect(late, weak=False),
        "disconnect": lambda: signal.disconnect(existing),
        "send": lambda: signal.send(None),
        "has_listeners": lambda: signal.has_listeners(),
    }[operation]
    held, release, done = threading.Event(), threading.Event(), threading.Event()
    results = []

    def hold():
        with signal.lock:
            held.set()
            release.wait(GUARD)

    def act():
        results.append(run())
        done.set()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert held.wait(GUARD)
    actor = threading.Thread(target=act, daemon=True)
    actor.start()
    try:
        # It cannot get through while the other thread holds the lock.
        blocked = not done.wait(0.2)
    finally:
        release.set()
        holder.join(GUARD)
        actor.join(GUARD)
    assert not holder.is_alive()
    assert not actor.is_alive()
    assert blocked
    assert done.is_set()
    if operation == "connect":
        assert signal.send(None) == [(existing, "existing"), (late, "late")]
    elif operation == "disconnect":
        assert results == [True]
        assert signal.send(None) == []
    elif operation == "send":
        assert results == [[(existing, "existing")]]
    else:
        assert results == [True]


# --- _live_receivers -----------------------------------------------------------


def tag_sync(receiver):
    @functools.wraps(receiver)
    def wrapper(*args, **kwargs):
        return ("wrapped", receiver(*args, **kwargs))

    return wrapper


def tag_async(receiver):
    @functools.wraps(receiver)
    async def wrapper(*args, **kwargs):
        return ("wrapped", await receiver(*args, **kwargs))

    return wrapper


def tag(receiver):
    """A wrapper of ``receiver`` of the same kind (a coroutine function for a
    coroutine function), as sentry-sdk wraps receivers."""
    if inspect.iscoroutinefunction(receiver):
        return tag_async(receiver)
    return tag_sync(receiver)


def tag_live(live):
    """What ``_live_receivers`` returned (``live``), every receiver wrapped,
    in the series' shape."""
    sync_receivers, async_receivers = split_live(live)
    return make_live(
        [tag(r) for r in sync_receivers], [tag(r) for r in async_receivers]
    )


# What a replaced _live_receivers returns to mute the signal.
NO_LIVE_RECEIVERS = make_live([], [])


def connect_mixed(signal):
    sync_receiver = make_receiver("sync")
    async_receiver = make_async_receiver("async")
    signal.connect(sync_receiver, weak=False)
    signal.connect(async_receiver, weak=False)
    return sync_receiver, async_receiver


def assert_wrapped(signal, sync_receiver, async_receiver, sender=Sender):
    for name in SEND_METHODS:
        responses = settled(send_with(signal, name, sender))
        assert [response for _, response in responses] == [
            ("wrapped", "sync"),
            async_result(("wrapped", "async")),
        ], name
        # The wrappers are what was called, and what is reported.
        assert [r.__wrapped__ for r, _ in responses] == [
            sync_receiver,
            async_receiver,
        ], name


class PlainSubclass(Signal):
    pass


@CACHING
@pytest.mark.parametrize("cls", [Signal, PlainSubclass], ids=["Signal", "subclass"])
def test_live_receivers_wrapped_on_the_class(use_caching, cls):
    # sentry-sdk's DjangoIntegration patches the class, after signals exist.
    signal = cls(use_caching=use_caching)
    sync_receiver, async_receiver = connect_mixed(signal)
    assert signal._live_receivers(Sender) == make_live(
        [sync_receiver], [async_receiver]
    )
    original = Signal._live_receivers
    seen = []

    def wrapped_live_receivers(self, sender):
        seen.append((self, sender))
        return tag_live(original(self, sender))

    Signal._live_receivers = wrapped_live_receivers
    try:
        assert_wrapped(signal, sync_receiver, async_receiver)
        assert signal.has_listeners(Sender) is True
        assert len(seen) == len(SEND_METHODS) + 1
        assert all(s is signal and sender is Sender for s, sender in seen)

        # A replacement that drops every receiver mutes the signal.
        Signal._live_receivers = lambda self, sender: NO_LIVE_RECEIVERS
        assert_delivers(signal, [])
    finally:
        Signal._live_receivers = original
    assert_delivers(
        signal, [(sync_receiver, "sync"), (async_receiver, async_result("async"))]
    )


@CACHING
def test_live_receivers_replaced_on_one_instance(use_caching):
    signal = Signal(use_caching=use_caching)
    other = Signal(use_caching=use_caching)
    sync_receiver, async_receiver = connect_mixed(signal)
    connect_mixed(other)
    seen = []

    def wrapped_live_receivers(self, sender):
        seen.append(sender)
        return tag_live(Signal._live_receivers(self, sender))

    signal._live_receivers = types.MethodType(wrapped_live_receivers, signal)
    assert_wrapped(signal, sync_receiver, async_receiver)
    assert seen == [Sender] * len(SEND_METHODS)
    assert signal.has_listeners(Sender) is True
    assert seen == [Sender] * (len(SEND_METHODS) + 1)
    # Only this instance.
    assert [r for _, r in settled(other.send(Sender))] == [
        "sync",
        async_result("async"),
    ]

    signal._live_receivers = types.MethodType(
        lambda self, sender: NO_LIVE_RECEIVERS, signal
    )
    assert_delivers(signal, [])
    del signal._live_receivers
    assert_delivers(
        signal, [(sync_receiver, "sync"), (async_receiver, async_result("async"))]
    )


def test_send_and_send_robust_replaced_on_one_instance():
    signal = Signal()
    handler = make_receiver("real")
    signal.connect(handler)
    original_send = signal.send

    def send(self, sender, **named):
        return [*original_send(sender, **named), ("extra", named)]

    signal.send = types.MethodType(send, signal)
    assert signal.send(Sender, value=1) == [(handler, "real"), ("extra", {"value": 1})]
    assert Signal().send(Sender) == []
    with mock.patch.object(signal, "send_robust", return_value=["mocked"]) as robust:
        assert signal.send_robust(Sender, value=2) == ["mocked"]
    robust.assert_called_once_with(Sender, value=2)
    assert signal.send_robust(Sender) == [(handler, "real")]
    del signal.send
    assert signal.send(Sender) == [(handler, "real")]


class RecordingSignal(Signal):
    """Overrides every method code in the wild overrides, each going on to
    Django's."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = []

    def connect(self, receiver, sender=None, weak=True, dispatch_uid=None):
        self.calls.append("connect")
        return super().connect(receiver, sender, weak, dispatch_uid)

    def disconnect(self, receiver=None, sender=None, dispatch_uid=None):
        self.calls.append("disconnect")
        return super().disconnect(receiver, sender, dispatch_uid)

    def send(self, sender, **named):
        self.calls.append("send")
        return super().send(sender, **named)

    def send_robust(self, sender, **named):
        self.calls.append("send_robust")
        return super().send_robust(sender, **named)

    def _live_receivers(self, sender):
        self.calls.append("_live_receivers")
        return tag_live(super()._live_receivers(sender))


@CACHING
def test_subclass_overrides_are_used(use_caching):
    signal = RecordingSignal(use_caching=use_caching)

    @receiver(signal)
    def sync_receiver(**kwargs):
        return "sync"

    @receiver(signal)
    async def async_receiver(**kwargs):
        return "async"

    assert signal.calls == ["connect", "connect"]
    signal.calls.clear()
    assert_wrapped(signal, sync_receiver, async_receiver)
    # asend and asend_robust (not overridden) go through _live_receivers too.
    assert signal.calls == [
        "send",
        "_live_receivers",
        "send_robust",
        "_live_receivers",
        *["_live_receivers"] * (len(SEND_METHODS) - 2),
    ]
    signal.calls.clear()
    assert signal.has_listeners(Sender) is True
    assert signal.calls == ["_live_receivers"]
    signal.calls.clear()
    assert signal.disconnect(sync_receiver) is True
    assert signal.disconnect(async_receiver) is True
    assert signal.calls == ["disconnect", "disconnect"]


@CACHING
def test_subclass_live_receivers_filter(use_caching):
    class MutableSignal(Signal):
        muted = False

        def _live_receivers(self, sender):
            if self.muted:
                return NO_LIVE_RECEIVERS
            return super()._live_receivers(sender)

    signal = MutableSignal(use_caching=use_caching)
    handler = make_receiver("ok")
    signal.connect(handler)
    assert_delivers(signal, [(handler, "ok")])
    signal.muted = True
    assert_delivers(signal, [])
    signal.muted = False
    assert_delivers(signal, [(handler, "ok")])


# --- dead receivers and the other private attributes ---------------------------


@CACHING
def test_private_attributes(use_caching):
    signal = Signal(use_caching=use_caching)
    assert signal.use_caching is use_caching
    assert signal._dead_receivers is False
    assert callable(signal._clear_dead_receivers)
    # Each series has one dead-receiver hook, under its own name.
    assert callable(getattr(signal, DEAD_RECEIVER_HOOK))
    hooks = {"_flag_dead_receivers", "_remove_receiver"}
    for other_hook in hooks - {DEAD_RECEIVER_HOOK}:
        assert not hasattr(Signal, other_hook)
        assert not hasattr(signal, other_hook)


@CACHING
def test_dead_receivers_flagged_then_cleared(use_caching):
    signal = Signal(use_caching=use_caching)
    keep, gone = make_receiver("keep"), make_receiver("gone")
    listener = Listener("method")
    sender = Sender()
    signal.connect(keep)
    signal.connect(gone)
    signal.connect(listener.on_signal)
    signal.connect(keep, sender=sender)
    assert len(signal.receivers) == 4

    del gone, listener
    gc.collect()
    # The weak references' callback only flags; the entries stay until cleared.
    assert signal._dead_receivers is True
    assert len(signal.receivers) == 4
    with signal.lock:
        signal._clear_dead_receivers()
    assert signal._dead_receivers is False
    assert signal.receivers[0][0] == (_make_id(keep), NONE_ID)
    assert signal.receivers[1][0] == (_make_id(keep), _make_id(sender))
    assert len(signal.receivers) == 2
    assert_delivers(signal, [(keep, "keep"), (keep, "keep")], sender=sender)


@drops_dead_senders_receivers
@CACHING
def test_dead_senders_flagged_then_cleared(use_caching):
    signal = Signal(use_caching=use_caching)
    keep = make_receiver("keep")
    sender = Sender()
    signal.connect(keep)
    signal.connect(keep, sender=sender, weak=False)
    assert_delivers(signal, [(keep, "keep"), (keep, "keep")], sender=sender)
    assert signal._dead_receivers is False

    # A dead sender's entries go too, flagged then cleared as dead receivers.
    del sender
    gc.collect()
    assert signal._dead_receivers is True
    assert len(signal.receivers) == 2
    with signal.lock:
        signal._clear_dead_receivers()
    assert signal._dead_receivers is False
    assert [e[0] for e in signal.receivers] == [(_make_id(keep), NONE_ID)]
    assert_delivers(signal, [(keep, "keep")])


def test_flag_dead_receivers_without_dead_ones():
    signal = Signal()
    first, second = make_receiver(1), make_receiver(2)
    signal.connect(first)
    signal.connect(second, weak=False)
    hook_dead_receivers(signal)
    assert signal._dead_receivers is True
    with signal.lock:
        signal._clear_dead_receivers()
    assert signal._dead_receivers is False
    hook_dead_receivers(signal, weakref.ref(first))
    assert signal._dead_receivers is True
    assert_delivers(signal, [(first, 1), (second, 2)])
    assert signal._dead_receivers is False
    assert len(signal.receivers) == 2


def test_dead_receivers_flag_set_by_hand():
    signal = Signal()
    keep, gone = make_receiver("keep"), make_receiver("gone")
    signal.connect(keep)
    signal.receivers = [
        *signal.receivers,
        make_row((_make_id(gone), NONE_ID), weakref.ref(gone)),
    ]
    del gone
    gc.collect()
    assert signal._dead_receivers is False
    assert len(signal.receivers) == 2
    signal._dead_receivers = True
    signal._clear_dead_receivers()
    assert signal._dead_receivers is False
    assert [resolve(e[1]) for e in signal.receivers] == [keep]
