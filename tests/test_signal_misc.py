"""The receiver decorator, the lock, the private helpers Django code relies on,
``receivers`` as an attribute, and thread safety."""

import gc
import threading

import pytest
from conftest import (
    NONE_ID,
    Sender,
    Signal,
    _make_id,
    async_result,
    drops_dead_senders_receivers,
    make_async_receiver,
    make_receiver,
    needs_async,
    receiver,
    settled,
)
from support.django_layout import (
    DEAD_RECEIVER_HOOK,
    HAS_ASYNC,
    ROW_LENGTH,
    ROWS_HAVE_SENDER_REF,
    split_live,
    unpack_row,
)

# --- receiver decorator ------------------------------------------------------


def test_receiver_decorator_single_signal():
    signal = Signal()

    def handler(**kwargs):
        return "decorated"

    decorated = receiver(signal)(handler)
    assert decorated is handler
    assert signal.send(None) == [(handler, "decorated")]
    assert signal.receivers[0][0] == (_make_id(handler), NONE_ID)


@pytest.mark.parametrize("container", [list, tuple])
def test_receiver_decorator_several_signals(container):
    first, second, third = Signal(), Signal(use_caching=True), Signal()

    @receiver(container([first, second]))
    def handler(**kwargs):
        return kwargs["signal"]

    assert first.send(Sender) == [(handler, first)]
    assert second.send(Sender) == [(handler, second)]
    assert third.send(Sender) == []


def test_receiver_decorator_forwards_connect_arguments():
    first, second = Signal(), Signal()

    @receiver([first, second], sender=Sender, dispatch_uid="uid", weak=False)
    def handler(**kwargs):
        return "ok"

    for signal in (first, second):
        [row] = signal.receivers
        assert len(row) == ROW_LENGTH
        key, ref, sender_ref, is_async = unpack_row(row)
        assert key == ("uid", _make_id(Sender))
        assert ref is handler
        if ROWS_HAVE_SENDER_REF:
            assert sender_ref() is Sender
        assert is_async is False
        assert signal.send(None) == []
        assert signal.send(Sender) == [(handler, "ok")]

    @receiver(first, sender=Sender, dispatch_uid="uid")
    def duplicate(**kwargs):
        return "duplicate"

    assert first.send(Sender) == [(handler, "ok")]


def test_receiver_decorator_weak_by_default():
    signal = Signal()

    @receiver(signal)
    def handler(**kwargs):
        pass

    del handler
    gc.collect()
    assert signal.has_listeners() is False


def test_receiver_decorator_async():
    signal = Signal()

    @receiver(signal)
    async def handler(**kwargs):
        return "async"

    assert unpack_row(signal.receivers[0])[3] is HAS_ASYNC
    assert settled(signal.send(None)) == [(handler, async_result("async"))]


# --- lock and private helpers ------------------------------------------------


def test_lock_context_manager_with_clear_dead_receivers():
    signal = Signal()
    keep = make_receiver()
    handler = make_receiver()
    signal.connect(keep)
    signal.connect(handler)
    del handler
    gc.collect()
    assert len(signal.receivers) == 2
    with signal.lock:
        signal._clear_dead_receivers()
        assert [entry[1]() for entry in signal.receivers] == [keep]
    # The lock is free again.
    signal.connect(make_receiver(), weak=False)
    assert len(signal.receivers) == 2


def test_lock_is_a_mutex():
    signal = Signal()
    results = []

    def try_acquire():
        acquired = signal.lock.acquire(blocking=False)
        results.append(acquired)
        if acquired:
            signal.lock.release()

    assert signal.lock.acquire() is True
    try:
        thread = threading.Thread(target=try_acquire)
        thread.start()
        thread.join()
    finally:
        signal.lock.release()
    thread = threading.Thread(target=try_acquire)
    thread.start()
    thread.join()
    assert results == [False, True]


def test_each_signal_has_its_own_lock():
    first, second = Signal(), Signal()
    with first.lock:
        second.connect(make_receiver(), weak=False)
        assert second.has_listeners() is True


def test_flag_then_clear_keeps_live_receivers():
    signal = Signal()
    weak_handler, strong_handler = make_receiver(1), make_receiver(2)
    signal.connect(weak_handler)
    signal.connect(strong_handler, weak=False)
    getattr(signal, DEAD_RECEIVER_HOOK)()
    getattr(signal, DEAD_RECEIVER_HOOK)(object())
    with signal.lock:
        signal._clear_dead_receivers()
    assert signal.send(None) == [(weak_handler, 1), (strong_handler, 2)]
    assert len(signal.receivers) == 2


def test_flag_then_clear_drops_dead_receivers():
    signal = Signal()
    keep = make_receiver()
    gone = make_receiver()
    sender = Sender()
    signal.connect(keep)
    signal.connect(gone)
    signal.connect(keep, sender=sender, weak=False)
    del gone
    gc.collect()
    getattr(signal, DEAD_RECEIVER_HOOK)()
    signal._clear_dead_receivers()
    assert [unpack_row(row)[0] for row in signal.receivers] == [
        (_make_id(keep), NONE_ID),
        (_make_id(keep), _make_id(sender)),
    ]


@drops_dead_senders_receivers
def test_flag_then_clear_drops_dead_receivers_and_dead_senders():
    signal = Signal()
    keep = make_receiver()
    gone = make_receiver()
    sender = Sender()
    signal.connect(keep)
    signal.connect(gone)
    signal.connect(keep, sender=sender, weak=False)
    del gone, sender
    gc.collect()
    getattr(signal, DEAD_RECEIVER_HOOK)()
    signal._clear_dead_receivers()
    [row] = signal.receivers
    key, ref, sender_ref, is_async = unpack_row(row)
    assert key == (_make_id(keep), NONE_ID)
    assert ref() is keep
    assert (sender_ref, is_async) == (None, False)


def test_clear_dead_receivers_without_dead_ones_is_harmless():
    signal = Signal()
    handler = make_receiver()
    signal.connect(handler)
    with signal.lock:
        signal._clear_dead_receivers()
    signal._clear_dead_receivers()
    assert len(signal.receivers) == 1


def connect_for_live_receivers(signal):
    sync_any, sync_specific = make_receiver(), make_receiver()
    async_any, async_specific = make_async_receiver(), make_async_receiver()
    other = make_receiver()
    signal.connect(async_any)
    signal.connect(sync_specific, sender=Sender)
    signal.connect(sync_any)
    signal.connect(async_specific, sender=Sender)
    signal.connect(other, sender=object)
    return sync_any, sync_specific, async_any, async_specific


@pytest.mark.skipif(
    HAS_ASYNC, reason="Django 5.0+ returns (sync, async): test_live_receivers"
)
@pytest.mark.parametrize("use_caching", [False, True])
def test_live_receivers_one_list(use_caching):
    # Django 4.2: one list, in connection order; coroutine functions are
    # receivers like any other.
    signal = Signal(use_caching=use_caching)
    sync_any, sync_specific, async_any, async_specific = connect_for_live_receivers(
        signal
    )
    for _ in range(2):  # the second time from the cache, if any
        live = signal._live_receivers(Sender)
        assert type(live) is list
        assert live == [async_any, sync_specific, sync_any, async_specific]
    assert signal._live_receivers(Sender()) == [async_any, sync_any]
    del sync_any, live
    gc.collect()
    assert signal._live_receivers(Sender) == [async_any, sync_specific, async_specific]


@needs_async
@pytest.mark.parametrize("use_caching", [False, True])
def test_live_receivers(use_caching):
    signal = Signal(use_caching=use_caching)
    sync_any, sync_specific, async_any, async_specific = connect_for_live_receivers(
        signal
    )
    for _ in range(2):  # the second time from the cache, if any
        live = signal._live_receivers(Sender)
        assert type(live) is tuple
        sync_receivers, async_receivers = live
        assert type(sync_receivers) is list
        assert type(async_receivers) is list
        assert sync_receivers == [sync_specific, sync_any]
        assert async_receivers == [async_any, async_specific]
    assert signal._live_receivers(Sender()) == ([sync_any], [async_any])
    del sync_any, live, sync_receivers, async_receivers
    gc.collect()
    assert signal._live_receivers(Sender) == (
        [sync_specific],
        [async_any, async_specific],
    )


def test_live_receivers_resolves_bound_methods():
    class Owner:
        def on_signal(self, **kwargs):
            pass

    signal = Signal()
    owner = Owner()
    signal.connect(owner.on_signal)
    [method], [] = split_live(signal._live_receivers(None))
    assert method == owner.on_signal
    assert method.__self__ is owner


# --- receivers as an attribute -----------------------------------------------


def test_receivers_can_be_swapped_out_and_restored():
    signal = Signal()
    handler = make_receiver("original")
    signal.connect(handler)
    saved = signal.receivers
    signal.receivers = []
    assert signal.receivers == []
    assert signal.has_listeners() is False
    assert signal.send(None) == []
    temporary = make_receiver("temporary")
    signal.connect(temporary)
    assert len(signal.receivers) == 1
    assert signal.send(None) == [(temporary, "temporary")]
    signal.receivers = saved
    assert signal.send(None) == [(handler, "original")]
    assert signal.disconnect(handler) is True
    assert signal.receivers == []


def test_receivers_keys_unpack_like_django_code_does():
    signal = Signal()
    handlers = [make_receiver() for _ in range(3)]
    senders = [Sender, None, 7]
    for handler, sender in zip(handlers, senders, strict=True):
        signal.connect(handler, sender=sender)
    assert [sender_id for (_, sender_id), *_ in signal.receivers] == [
        _make_id(sender) for sender in senders
    ]


def test_use_caching_attribute():
    assert Signal().use_caching is False
    assert Signal(use_caching=True).use_caching is True


def test_signals_are_independent():
    first, second = Signal(), Signal()
    handler = make_receiver()
    first.connect(handler)
    assert second.receivers == []
    assert second.send(None) == []


def test_connect_returns_none():
    signal = Signal()
    assert signal.connect(make_receiver(), weak=False) is None


def test_gc_inside_the_lock_does_not_deadlock():
    # Weakref callbacks run whenever the collector runs, including while the
    # signal holds its lock: they must not need the lock themselves.
    signal = Signal(use_caching=True)
    errors = []

    class Cyclic:
        def __init__(self):
            self.me = self

        def on_signal(self, **kwargs):
            return None

    def work():
        try:
            for _ in range(300):
                obj = Cyclic()
                signal.connect(obj.on_signal)
                signal.connect(obj.on_signal, sender=Sender)
                del obj  # only the collector can free it (cycle)
                signal.send(Sender)
                signal.has_listeners(Sender)
                signal.disconnect(make_receiver())
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    thresholds = gc.get_threshold()
    gc.set_threshold(1, 1, 1)
    try:
        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        worker.join(120)  # a deadlock guard, not a timing check
        deadlocked = worker.is_alive()
    finally:
        gc.set_threshold(*thresholds)
    assert not deadlocked
    assert errors == []
    gc.collect()
    assert signal.send(Sender) == []
    assert signal.receivers == []


# --- threads -----------------------------------------------------------------


def test_concurrent_connect_disconnect_and_send():
    signal = Signal()
    threads_count, per_thread = 4, 200
    handlers = [
        [make_receiver((t, i)) for i in range(per_thread)] for t in range(threads_count)
    ]
    errors = []
    barrier = threading.Barrier(threads_count + 1)

    def connect_all(own):
        try:
            barrier.wait()
            for index, handler in enumerate(own):
                signal.connect(handler, weak=index % 2 == 0)
                signal.send(Sender)
            for handler in own[::2]:
                assert signal.disconnect(handler) is True
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    def send_all():
        try:
            barrier.wait()
            for _ in range(per_thread):
                signal.send_robust(Sender)
                signal.has_listeners(Sender)
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    workers = [threading.Thread(target=connect_all, args=(own,)) for own in handlers]
    workers.append(threading.Thread(target=send_all))
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    remaining = {response for _, response in signal.send(Sender)}
    assert remaining == {
        (t, i) for t in range(threads_count) for i in range(per_thread) if i % 2
    }
    assert len(signal.receivers) == threads_count * per_thread // 2
