"""Divergences from the installed Django found by the reliability suite, each
as its minimal program run on both implementations.

Each test is a strict xfail while the divergence is open: when fastdispatch is
fixed it passes, the strict marker turns that into a failure, and the marker
(and the matching K-entry of differential.KNOWN_OPEN, with its exclusion or
compensation in the machine) must go. Fixed ones stay as regression tests.
"""

import asyncio
import gc
import weakref

import pytest
from conftest import needs_async, sync_to_async_runs
from support.django_layout import DROPS_DEAD_SENDERS, TASK_GROUP
from support.reference import implementations

IMPLEMENTATIONS = implementations()


def on_both(scenario):
    """``scenario(module)`` on Django's dispatcher, then on fastdispatch."""
    results = {}
    for name, module in IMPLEMENTATIONS.items():
        try:
            results[name] = ("returned", scenario(module))
        except Exception as err:
            results[name] = ("raised", type(err).__name__, str(err))
        gc.collect()
    return results["django"], results["fast"]


def open_divergence(key, reason, when=True):
    """A strict xfail, where (``when``) the divergence exists."""
    return pytest.mark.xfail(bool(when), reason=f"{key} (open): {reason}", strict=True)


def receiver_named(name):
    def receiver(**kwargs):
        return name

    receiver.__qualname__ = name
    return receiver


@open_divergence("K1", "an int dispatch_uid does not match an equal float uid")
@pytest.mark.parametrize("first, second", [(1, 1.0), ((1, 2), (1.0, 2))])
def test_k1_int_uid_matches_equal_float_uid(first, second):
    def scenario(module):
        signal = module.Signal()
        a, b = receiver_named("a"), receiver_named("b")
        signal.connect(a, dispatch_uid=first)
        signal.connect(b, dispatch_uid=second)  # Django: same uid, ignored
        sent = [response for _, response in signal.send(None)]
        return sent, signal.disconnect(dispatch_uid=second), len(signal.receivers)

    django, fast = on_both(scenario)
    assert django == ("returned", (["a"], True, 0))
    assert fast == django


@open_divergence("K2", "a bool dispatch_uid is listed as an int in receivers")
@pytest.mark.parametrize("uid", [True, (True, 2)])
def test_k2_bool_uid_listed_as_given(uid):
    def scenario(module):
        signal = module.Signal()
        a = receiver_named("a")
        signal.connect(a, dispatch_uid=uid)
        return [repr(key[0]) for key, *_ in signal.receivers]

    django, fast = on_both(scenario)
    assert django == ("returned", [repr(uid)])
    assert fast == django


@open_divergence("K3", "a set dispatch_uid does not match an equal frozenset uid")
def test_k3_set_uid_matches_equal_frozenset_uid():
    def scenario(module):
        signal = module.Signal()
        a, b = receiver_named("a"), receiver_named("b")
        signal.connect(a, dispatch_uid=frozenset({"x"}))
        signal.connect(b, dispatch_uid={"x"})  # Django: same uid, ignored
        return len(signal.receivers), signal.disconnect(dispatch_uid={"x"})

    django, fast = on_both(scenario)
    assert django == ("returned", (1, True))
    assert fast == django


class Sender:
    pass


@open_divergence(
    "K4",
    "use_caching: a send for a sender cached as having no receivers returns "
    "early in Django, before dead receivers are removed",
)
@pytest.mark.parametrize(
    "mode", ["send", "send_robust", pytest.param("asend", marks=needs_async)]
)
def test_k4_cached_no_receivers_send_leaves_dead_receivers(mode):
    def scenario(module):
        signal = module.Signal(use_caching=True)
        quiet, other = Sender(), Sender()
        receiver = receiver_named("r")
        signal.connect(receiver, sender=other)
        assert signal.send(quiet) == []  # caches "no receivers" for quiet
        del receiver
        gc.collect()
        result = getattr(signal, mode)(quiet)
        if mode == "asend":
            result = asyncio.run(result)
        return result, len(signal.receivers)

    django, fast = on_both(scenario)
    assert django == ("returned", ([], 1))
    assert fast == django


# K5, fixed (dead receivers are cleared before the sender is checked): kept as
# a regression test. use_caching: has_listeners() for a sender the cache
# cannot hold removes dead receivers in Django before raising TypeError.
def test_k5_caching_has_listeners_uncacheable_sender_clears_dead_first():
    def scenario(module):
        signal = module.Signal(use_caching=True)
        receiver = receiver_named("r")
        signal.connect(receiver)
        del receiver
        gc.collect()
        try:
            signal.has_listeners(None)
        except TypeError as err:
            return str(err), len(signal.receivers)
        return "no error", len(signal.receivers)

    django, fast = on_both(scenario)
    assert django == (
        "returned",
        ("cannot create weak reference to 'NoneType' object", 0),
    )
    assert fast == django


# K6, fixed in 2c670f6 (send runs through PyO3's method trampoline): kept as a
# regression test. Before Django 6.0, Django keeps the rows of a sender that
# died (deliberate difference (d) in support/differential.py): only fastdispatch frees
# the receiver there.
@pytest.mark.parametrize("mode", ["send", "send_robust"])
def test_k6_receiver_freed_by_cleanup_is_not_called(mode):
    def scenario(module):
        signal = module.Signal()

        class Model:
            pass

        receiver = receiver_named("r")
        signal.connect(receiver)  # weakly, for any sender
        signal.connect(receiver, sender=Model, weak=False)  # holds it strongly
        alive = weakref.ref(receiver)
        del receiver, Model
        gc.collect()  # Model dies: its row, the last strong reference, is dead
        responses = [response for _, response in getattr(signal, mode)(None)]
        # The receiver must be gone as soon as the send removed its row...
        freed_by_send = alive() is None
        for _ in range(3):
            signal.send(None)
        # ... and not only at the next call that is not a send.
        freed_by_more_sends = alive() is None
        return responses, freed_by_send, freed_by_more_sends

    django, fast = on_both(scenario)
    assert fast == ("returned", ([], True, True))
    if DROPS_DEAD_SENDERS:
        assert django == fast
    else:
        # The strong row keeps the receiver alive: its weak row calls it.
        assert django == ("returned", (["r"], False, False))


@open_divergence(
    "K8",
    "use_caching changed after construction: Django's sender cache keeps the "
    "type chosen by the constructor (a dict, or a WeakKeyDictionary)",
)
@pytest.mark.parametrize("initially", [False, True])
def test_k8_use_caching_changed_after_construction(initially):
    def scenario(module):
        signal = module.Signal(use_caching=initially)
        signal.use_caching = not initially

        class Model:
            pass

        receiver = receiver_named("r")
        signal.connect(receiver, sender=Model)
        signal.connect(receiver_named("any"), weak=False)
        outcomes = []
        for sender in (Model, None, 10**30):
            try:
                outcomes.append(len(signal.send(sender)))
            except TypeError as err:
                outcomes.append(str(err))
        model = weakref.ref(Model)
        del Model
        gc.collect()
        # Django with a dict cache (caching turned on later) keeps the
        # sender alive.
        return outcomes, model() is None

    django, fast = on_both(scenario)
    if initially:
        assert django == (
            "returned",
            ([2, "cannot create weak reference to 'NoneType' object",
              "cannot create weak reference to 'int' object"], True),
        )  # fmt: skip
    else:
        assert django == ("returned", ([2, 1, 1], False))
    assert fast == django


class HashRaises:
    """A dispatch_uid whose __hash__ fails (Django only compares uids)."""

    def __hash__(self):
        raise RuntimeError("no hash")

    def __eq__(self, other):
        return self is other


# K9 (fixed): a dispatch_uid whose __hash__ raises. Django never hashes uids.
def test_k9_uid_hash_is_never_needed():
    def scenario(module):
        signal = module.Signal()
        receiver = receiver_named("a")
        uid = HashRaises()
        signal.connect(receiver, dispatch_uid=uid)
        connected = len(signal.receivers)
        return connected, signal.disconnect(dispatch_uid=uid), len(signal.receivers)

    django, fast = on_both(scenario)
    assert django == ("returned", (1, True, 0))
    assert fast == django


class FuncWithoutSelf:
    """Has ``__func__`` but no ``__self__``: Django's _make_id fails on it."""

    __func__ = None


@open_divergence(
    "K10",
    "send()/has_listeners() compute the sender's id only when some receiver "
    "is sender-specific; Django always does (_make_id), so a sender with "
    "__func__ but no __self__ raises AttributeError there",
)
@pytest.mark.parametrize("use_caching", [False, True])
@pytest.mark.parametrize("method", ["has_listeners", "send", "send_robust"])
def test_k10_sends_always_identify_the_sender(method, use_caching):
    def scenario(module):
        signal = module.Signal(use_caching=use_caching)
        receiver = receiver_named("a")
        signal.connect(receiver)
        return repr(getattr(signal, method)(FuncWithoutSelf()))

    django, fast = on_both(scenario)
    assert django == (
        "raised",
        "AttributeError",
        "'FuncWithoutSelf' object has no attribute '__self__'",
    )
    assert fast == django


class Owner:
    def method(self):
        return None


@pytest.mark.parametrize("use_caching", [False, True])
def test_k11_bound_method_sender(use_caching):
    """K11 (fixed): before Django 6.0, a receiver connected for a bound
    method sender answers any bound method of the same object and function
    (its key); fastdispatch dropped it as soon as the bound method given to
    connect() died."""

    def scenario(module):
        signal = module.Signal(use_caching=use_caching)
        owner = Owner()
        signal.connect(receiver_named("r"), sender=owner.method, weak=False)
        sent = [response for _, response in signal.send(owner.method)]
        return sent, signal.has_listeners(owner.method), len(signal.receivers)

    django, fast = on_both(scenario)
    if DROPS_DEAD_SENDERS:
        # Django 6.0+: the bound method's weak reference died, so did the row.
        assert django == ("returned", ([], False, 0))
    else:
        assert django == ("returned", (["r"], True, 1))
    assert fast == django


@needs_async
@pytest.mark.parametrize("mode", ["asend", "asend_robust"])
def test_k12_asend_order_of_sync_and_async_receivers(mode):
    """K12 (fixed): Django 5.x/6.0's asend() starts the async receivers
    (asyncio.gather) before it hands the sync ones to their thread;
    fastdispatch handed the sync ones over first."""

    def scenario(module):
        signal = module.Signal()
        calls = []
        handed_over = set()

        def sync_receiver(**kwargs):
            calls.append("sync")

        async def async_receiver(**kwargs):
            # Whether the sync receiver was handed to its thread already:
            # known whatever the threads' timing.
            handed_over.add(len(runs) > 0)
            calls.append("async")

        signal.connect(sync_receiver)
        signal.connect(async_receiver)
        orders = set()
        for _ in range(20):  # the same order every time, not by chance
            calls.clear()
            with sync_to_async_runs() as runs:
                asyncio.run(getattr(signal, mode)(Sender))
            orders.add(tuple(calls))
        return sorted(handed_over), sorted(orders)

    django, fast = on_both(scenario)
    if TASK_GROUP:
        assert django == ("returned", ([True], [("sync", "async")]))
    else:
        assert django == ("returned", ([False], [("async", "sync")]))
    # First what does not depend on the threads' timing.
    assert fast[1][0] == django[1][0]
    assert fast == django
