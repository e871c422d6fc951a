"""Re-entrancy: receivers that change, or send on, their own signal during a
send; weak referents dying mid-dispatch; garbage collection inside a
receiver; KeyboardInterrupt from a receiver.

Every scenario runs on the installed Django's dispatcher and on fastdispatch,
each with its own objects; the test pins Django's result (so the scenario is
known to do what it says) and requires fastdispatch's to be the same (or, for
a deliberate difference, pins fastdispatch's too).

The last tests cover what Django cannot be compared on, because its
non-reentrant lock deadlocks there: code that runs while the signal's lock is
held (finalisers of removed receivers, a dispatch_uid's ``__eq__``). For
fastdispatch they must neither deadlock nor corrupt the receivers; a thread
with a timeout guards against hanging.
"""

import asyncio
import gc
import subprocess
import sys
import textwrap
import threading
import weakref

import pytest
from conftest import needs_async
from support.django_layout import DROPS_DEAD_SENDERS, split_live
from support.reference import implementations

IMPLEMENTATIONS = implementations()
fastdispatch = IMPLEMENTATIONS["fast"]


def on_both(scenario, *args):
    """``scenario(module, *args)`` on Django, then on fastdispatch; what
    each returned, or the type and message of what each raised."""
    results = []
    for module in IMPLEMENTATIONS.values():
        try:
            results.append(("returned", scenario(module, *args)))
        except BaseException as err:
            results.append(("raised", type(err).__name__, str(err)))
        gc.collect()
    return tuple(results)


def named(name, result=None, calls=None):
    def receiver(**kwargs):
        if calls is not None:
            calls.append(name)
        return name if result is None else result

    receiver.__qualname__ = name
    return receiver


def names(responses):
    return [response for _, response in responses]


class Model:
    pass


SIGNAL_KINDS = [
    pytest.param(False, id="plain"),
    pytest.param(True, id="caching"),
]


# --- changing the signal during a send --------------------------------------


def connect_during_send(module, use_caching):
    signal = module.Signal(use_caching=use_caching)
    late = named("late")

    def connector(**kwargs):
        signal.connect(late)
        return "connector"

    signal.connect(connector)
    signal.connect(named("b"), weak=False)
    first = names(signal.send(Model))
    second = names(signal.send(Model))
    return first, second, len(signal.receivers)


@pytest.mark.parametrize("use_caching", SIGNAL_KINDS)
def test_receiver_connects_during_send(use_caching):
    django, fast = on_both(connect_during_send, use_caching)
    # The receivers of a send are fixed when it starts.
    assert django == (
        "returned",
        (["connector", "b"], ["connector", "b", "late"], 3),
    )
    assert fast == django


def disconnect_during_send(module, use_caching, whom):
    signal = module.Signal(use_caching=use_caching)
    keep = {}

    def disconnector(**kwargs):
        signal.disconnect(keep[whom])
        return "disconnector"

    keep["before"] = named("before")
    keep["disconnector"] = disconnector
    keep["after"] = named("after")
    for name in ("before", "disconnector", "after"):
        signal.connect(keep[name])
    first = names(signal.send(Model))
    second = names(signal.send(Model))
    return first, second


@pytest.mark.parametrize("use_caching", SIGNAL_KINDS)
@pytest.mark.parametrize("whom", ["before", "disconnector", "after"])
def test_receiver_disconnects_during_send(use_caching, whom):
    django, fast = on_both(disconnect_during_send, use_caching, whom)
    everyone = ["before", "disconnector", "after"]
    assert django == (
        "returned",
        (everyone, [name for name in everyone if name != whom]),
    )
    assert fast == django


def send_during_send(module, use_caching, robust):
    signal = module.Signal(use_caching=use_caching)
    send = signal.send_robust if robust else signal.send

    def recursive(depth=0, **kwargs):
        if depth < 3:
            inner = send(Model, depth=depth + 1)
            return [depth, [(r.__qualname__, v) for r, v in inner]]
        return [depth]

    recursive.__qualname__ = "recursive"
    signal.connect(recursive)
    signal.connect(named("leaf"), weak=False)
    return [(r.__qualname__, v) for r, v in send(Model)]


@pytest.mark.parametrize("use_caching", SIGNAL_KINDS)
@pytest.mark.parametrize("robust", [False, True], ids=["send", "send_robust"])
def test_receiver_sends_on_its_own_signal(use_caching, robust):
    django, fast = on_both(send_during_send, use_caching, robust)
    assert django[0] == "returned"
    assert django[1][0][0] == "recursive" and django[1][1] == ("leaf", "leaf")
    assert fast == django


def reconnect_in_other_order(module, use_caching):
    signal = module.Signal(use_caching=use_caching)
    a, b, c = named("a"), named("b"), named("c")

    def shuffler(**kwargs):
        for receiver in (a, b, c):
            signal.disconnect(receiver)
        for receiver in (c, a):
            signal.connect(receiver)
        return "shuffler"

    for receiver in (a, shuffler, b, c):
        signal.connect(receiver)
    return names(signal.send(Model)), names(signal.send(Model))


@pytest.mark.parametrize("use_caching", SIGNAL_KINDS)
def test_receiver_reorders_receivers_during_send(use_caching):
    django, fast = on_both(reconnect_in_other_order, use_caching)
    assert django == (
        "returned",
        (["a", "shuffler", "b", "c"], ["shuffler", "c", "a"]),
    )
    assert fast == django


# --- weak referents dying during a send ---------------------------------------


class Holder:
    def __init__(self, name):
        self.name = name

    def method(self, **kwargs):
        return self.name


def referent_dies_during_send(module, use_caching, victim_kind, position):
    """A receiver drops the last strong reference to another receiver of the
    same signal (its weakref callback fires mid-dispatch)."""
    signal = module.Signal(use_caching=use_caching)
    other = module.Signal()
    alive = {}
    if victim_kind == "function":
        alive["victim"] = named("victim")
        victim = alive["victim"]
    else:
        alive["victim"] = Holder("victim")
        victim = alive["victim"].method
    bystander = named("bystander")
    alive["elsewhere"] = named("elsewhere")
    other.connect(alive["elsewhere"])

    def killer(**kwargs):
        alive.clear()  # victim and the receiver of the other signal die now
        return "killer"

    order = [killer, victim] if position == "after" else [victim, killer]
    for receiver in order + [bystander]:
        signal.connect(receiver)
    del victim, order, receiver
    first = names(signal.send(Model))
    rows_after_first = len(signal.receivers)
    second = names(signal.send(Model))
    return (
        first,
        rows_after_first,
        second,
        len(signal.receivers),
        other.has_listeners(),
        len(other.receivers),
    )


@pytest.mark.parametrize("use_caching", SIGNAL_KINDS)
@pytest.mark.parametrize("victim_kind", ["function", "bound_method"])
@pytest.mark.parametrize("position", ["after", "before"])
def test_weak_referent_dies_during_send(use_caching, victim_kind, position):
    django, fast = on_both(
        referent_dies_during_send, use_caching, victim_kind, position
    )
    first = (
        ["killer", "victim", "bystander"]
        if position == "after"
        else ["victim", "killer", "bystander"]
    )
    # Resolved before the first receiver ran, the victim is still called;
    # dead afterwards, its row stays until the next cleanup (the next send).
    assert django == ("returned", (first, 3, ["killer", "bystander"], 2, False, 0))
    assert fast == django


def sender_dies_during_send(module, use_caching):
    signal = module.Signal(use_caching=use_caching)
    senders = {"other": type("Other", (), {})}
    signal.connect(named("for_other"), sender=senders["other"], weak=False)

    def killer(**kwargs):
        senders.clear()
        return "killer"

    signal.connect(killer)
    first = names(signal.send(Model))
    rows_after_first = len(signal.receivers)
    gc.collect()  # the class is in a reference cycle
    second = names(signal.send(Model))
    return first, rows_after_first, second, len(signal.receivers)


@pytest.mark.parametrize("use_caching", SIGNAL_KINDS)
def test_other_sender_dies_during_send(use_caching):
    django, fast = on_both(sender_dies_during_send, use_caching)
    # The dead sender's row goes at the next cleanup (the second send).
    assert fast == ("returned", (["killer"], 2, ["killer"], 1))
    if DROPS_DEAD_SENDERS:
        assert django == fast
    else:
        # Before 6.0 Django keeps it (deliberate difference (d) in
        # support/differential.py).
        assert django == ("returned", (["killer"], 2, ["killer"], 2))


# --- garbage collection inside a receiver ---------------------------------------


class Cyclic:
    """A callable receiver in a reference cycle: only the collector frees it."""

    def __init__(self, name):
        self.name = name
        self.me = self

    def __call__(self, **kwargs):
        return self.name


class SendsWhenFinalised:
    """Sends on a signal from its finaliser, recording what that returned."""

    def __init__(self, signal, record):
        self.signal = signal
        self.record = record
        self.me = self  # collected only by gc.collect()

    def __del__(self):
        self.record.append(names(self.signal.send(Model, finaliser=True)))


def collect_inside_receiver(module, use_caching, position):
    signal = module.Signal(use_caching=use_caching)
    record = []

    def collector(**kwargs):
        gc.collect()
        return "collector"

    cyclic = Cyclic("cyclic")
    order = [collector, cyclic] if position == "after" else [cyclic, collector]
    for receiver in order:
        signal.connect(receiver)
    signal.connect(named("plain"), weak=False)
    SendsWhenFinalised(signal, record)
    dead = weakref.ref(cyclic)
    del cyclic, order, receiver  # garbage, but not collected yet
    gc.disable()  # only the receiver collects
    try:
        first = names(signal.send(Model))
    finally:
        gc.enable()
    cyclic_alive_after_send = dead() is not None
    gc.collect()
    second = names(signal.send(Model))
    return first, record, cyclic_alive_after_send, dead() is None, second


@pytest.mark.parametrize("use_caching", SIGNAL_KINDS)
@pytest.mark.parametrize("position", ["after", "before"])
def test_gc_collect_inside_receiver(use_caching, position):
    django, fast = on_both(collect_inside_receiver, use_caching, position)
    first = (
        ["collector", "cyclic", "plain"]
        if position == "after"
        else ["cyclic", "collector", "plain"]
    )
    # The cyclic receiver was resolved for this send, so it is called; the
    # finaliser's nested send runs mid-dispatch and sees it too.
    assert django == (
        "returned",
        (first, [first], True, True, ["collector", "plain"]),
    )
    assert fast == django


# --- KeyboardInterrupt ----------------------------------------------------------


def interrupted(module, mode, async_interrupt):
    signal = module.Signal()
    calls = []

    def interrupting(**kwargs):
        calls.append("interrupting")
        raise KeyboardInterrupt("stop")

    async def async_interrupting(**kwargs):
        calls.append("async_interrupting")
        raise KeyboardInterrupt("stop")

    async def async_after(**kwargs):
        calls.append("async_after")
        return "async_after"

    first = named("first", calls=calls)
    after = named("after", calls=calls)
    signal.connect(first)
    signal.connect(async_interrupting if async_interrupt else interrupting)
    signal.connect(after)
    if async_interrupt:
        signal.connect(async_after)
    outcome = None
    try:
        getattr(signal, mode)(Model)
    except KeyboardInterrupt as err:
        outcome = ("KeyboardInterrupt", str(err))
    # The signal still works afterwards.
    calls_before = list(calls)
    signal.disconnect(async_interrupting if async_interrupt else interrupting)
    return outcome, calls_before, names(getattr(signal, mode)(Model))


@pytest.mark.parametrize("mode", ["send", "send_robust"])
@pytest.mark.parametrize(
    "async_interrupt",
    [False, pytest.param(True, marks=needs_async)],
    ids=["sync", "async"],
)
def test_keyboard_interrupt_propagates(mode, async_interrupt):
    django, fast = on_both(interrupted, mode, async_interrupt)
    if async_interrupt:
        expected = (
            ("KeyboardInterrupt", "stop"),
            ["first", "after", "async_interrupting"],
            ["first", "after", "async_after"],
        )
    else:
        expected = (
            ("KeyboardInterrupt", "stop"),
            ["first", "interrupting"],
            ["first", "after"],
        )
    assert django == ("returned", expected)
    assert fast == django


def interrupted_async_send(module, mode):
    signal = module.Signal()

    def interrupting(**kwargs):
        raise KeyboardInterrupt("stop")

    signal.connect(named("first"))
    signal.connect(interrupting)
    try:
        asyncio.run(getattr(signal, mode)(Model))
    except KeyboardInterrupt as err:
        return "KeyboardInterrupt", str(err)
    return "no interrupt"


@needs_async
@pytest.mark.parametrize("mode", ["asend", "asend_robust"])
def test_keyboard_interrupt_propagates_through_asend(mode):
    django, fast = on_both(interrupted_async_send, mode)
    assert django == ("returned", ("KeyboardInterrupt", "stop"))
    assert fast == django


# --- fastdispatch only: code run while the signal's lock is held ----------------
#
# Django deadlocks in these (its lock is a threading.Lock, held while a
# removed receiver is released or a dispatch_uid is compared).


def run_guarded(function, timeout=60):
    """Run ``function`` in a daemon thread; fail instead of hanging."""
    outcome = {}

    def target():
        try:
            outcome["result"] = function()
        except BaseException as err:
            outcome["error"] = err

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"deadlock: {function.__name__} did not return"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


class UsesSignalWhenFinalised:
    """A strongly connected receiver whose finaliser uses the signal."""

    def __init__(self, signal, record):
        self.signal = signal
        self.record = record

    def __call__(self, **kwargs):
        return "finalisable"

    def __del__(self):
        extra = named("connected_by_finaliser")
        self.record.append(("before", names(self.signal.send(Model))))
        self.signal.connect(extra, weak=False)
        self.record.append(("after", names(self.signal.send(Model))))


@pytest.mark.parametrize("use_caching", SIGNAL_KINDS)
def test_finaliser_of_disconnected_receiver_uses_signal(use_caching):
    signal = fastdispatch.Signal(use_caching=use_caching)
    record = []
    signal.connect(named("stays"), weak=False)
    signal.connect(UsesSignalWhenFinalised(signal, record), weak=False)

    def disconnect():
        sync_receivers, _ = split_live(signal._live_receivers(Model))
        [finalisable] = [r for r in sync_receivers if not hasattr(r, "__name__")]
        return signal.disconnect(finalisable)

    assert run_guarded(disconnect) is True
    assert record == [
        ("before", ["stays"]),
        ("after", ["stays", "connected_by_finaliser"]),
    ]
    assert names(signal.send(Model)) == ["stays", "connected_by_finaliser"]


def test_finaliser_of_dead_receiver_uses_signal_during_cleanup():
    signal = fastdispatch.Signal()
    record = []

    class Gone:
        pass

    signal.connect(named("stays"), weak=False)
    # Strongly held, for a sender that dies: removed by the next cleanup.
    signal.connect(UsesSignalWhenFinalised(signal, record), sender=Gone, weak=False)
    del Gone
    gc.collect()
    assert run_guarded(lambda: names(signal.send(Model))) == ["stays"]
    # The finaliser ran during that send's cleanup, after the lock was let go.
    assert record == [
        ("before", ["stays"]),
        ("after", ["stays", "connected_by_finaliser"]),
    ]


class MeddlingUid:
    """A dispatch_uid whose ``==`` changes the signal it is compared in."""

    def __init__(self, name, meddle):
        self.name = name
        self.meddle = meddle

    def __hash__(self):
        return 7

    def __eq__(self, other):
        if self.meddle is not None:
            meddle, self.meddle = self.meddle, None
            meddle()
        return isinstance(other, MeddlingUid) and other.name == self.name


def test_uid_comparison_that_changes_the_signal():
    signal = fastdispatch.Signal()
    fillers = [named(f"filler{i}") for i in range(40)]
    first, second, third = named("first"), named("second"), named("third")
    stored = MeddlingUid("a", None)
    signal.connect(first, dispatch_uid=stored)

    def meddle():
        # Enough removals to compact the store, then one more receiver.
        for filler in fillers:
            signal.connect(filler)
        for filler in fillers:
            signal.disconnect(filler)
        signal.connect(third)

    # The stored uid's __eq__ runs (and meddles) when "b" is looked up.
    stored.meddle = meddle
    run_guarded(lambda: signal.connect(second, dispatch_uid=MeddlingUid("b", None)))
    assert stored.meddle is None, "the uids were not compared"
    assert names(signal.send(Model)) == ["first", "third", "second"]
    assert signal.disconnect(dispatch_uid=MeddlingUid("b", None)) is True
    assert signal.disconnect(dispatch_uid=MeddlingUid("a", None)) is True
    assert names(signal.send(Model)) == ["third"]


# F1 (fixed): a uid match found before the store was compacted by the uid's
# own __eq__ used to be lost (stale slot).
@pytest.mark.parametrize("operation", ["connect", "disconnect"])
def test_uid_match_survives_compaction_during_comparison(operation):
    signal = fastdispatch.Signal()
    fillers = [named(f"filler{i}") for i in range(40)]
    for filler in fillers:
        signal.connect(filler)
    first = named("first")
    stored = MeddlingUid("a", None)
    signal.connect(first, dispatch_uid=stored)  # at a slot past the fillers

    def meddle():
        for filler in fillers:  # enough holes to compact: "first" moves
            signal.disconnect(filler)

    stored.meddle = meddle
    if operation == "connect":
        second = named("second")
        run_guarded(lambda: signal.connect(second, dispatch_uid=MeddlingUid("a", None)))
        assert stored.meddle is None, "the uids were not compared"
        # Same uid: Django's semantics ignore the second connection.
        assert names(signal.send(Model)) == ["first"]
        assert len(signal.receivers) == 1
    else:
        removed = run_guarded(
            lambda: signal.disconnect(dispatch_uid=MeddlingUid("a", None))
        )
        assert stored.meddle is None, "the uids were not compared"
        assert removed is True
        assert names(signal.send(Model)) == []


# A collection started while a signal is being made (by the allocation of its
# instance dict, in ``object.__new__``) must not see it half-made. Run in its
# own interpreter: the failure this guards against is a crash.
COLLECTION_DURING_CREATION = textwrap.dedent(
    """
    import gc
    from fastdispatch import Signal

    class Subclass(Signal):
        pass

    made = []
    for threshold in (1, 2, 3, 10, 50):
        gc.set_threshold(threshold)
        for i in range(300):
            # Lists are tracked: varying their number moves the collections
            # across each step of making a signal.
            made.append([[] for _ in range(i % 7)])
            made.append(Signal())
            made.append(Subclass(use_caching=True))
        made.clear()
    gc.disable()
    Signal()
    assert not gc.isenabled(), "making a signal turned the collector back on"
    print("made", flush=True)
    """
)


def test_collections_while_signals_are_made():
    completed = subprocess.run(
        [sys.executable, "-c", COLLECTION_DURING_CREATION],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "made\n"
