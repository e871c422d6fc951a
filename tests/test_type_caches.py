"""The caches keyed by a type's version tag, on every Python.

Two answers about a type are kept while its version tag stands: whether a
class sender can have a ``__func__`` (``_make_id``), and whether a signal's
class still has the native ``_live_receivers`` (``send``). CPython gives a
type a new tag when it or a base changes; Python 3.13 marks a valid tag
differently from 3.10-3.12. Each test counts the Python code that a lookup
without the cache runs, so it fails wherever the cache never hits.
"""

import fastdispatch
import pytest


class DecoyKey(str):
    """A class-dict key that collides with ``"__func__"`` and counts the
    comparisons a search of that dict makes with it."""

    comparisons = 0

    def __hash__(self):
        return hash("__func__")

    def __eq__(self, other):
        type(self).comparisons += 1
        return False


@pytest.mark.parametrize("looked_up", [True, False], ids=["looked-up", "fresh"])
def test_class_sender_without_func_is_searched_once_per_version_tag(looked_up):
    sender = type("Sender", (), {DecoyKey("decoy"): 1})
    if looked_up:
        getattr(sender, "some_attribute", None)  # gives the type a tag
    # Fresh: from Python 3.12 on no lookup has given the class a tag yet.

    DecoyKey.comparisons = 0
    first = fastdispatch._make_id(sender)
    assert DecoyKey.comparisons > 0, "the class dict was not searched"
    DecoyKey.comparisons = 0
    assert fastdispatch._make_id(sender) == first
    assert fastdispatch._make_id(sender) == first
    assert DecoyKey.comparisons == 0, "the answer was not kept"

    sender.some_attribute = 1  # a new version tag
    assert fastdispatch._make_id(sender) == first
    assert DecoyKey.comparisons > 0, "a changed class was not searched again"


def test_class_given_a_func_after_it_was_cached_is_keyed_by_it():
    sender = type("Sender", (), {})
    getattr(sender, "some_attribute", None)
    assert fastdispatch._make_id(sender) == id(sender)

    def func():
        pass

    sender.__func__ = func
    sender.__self__ = "owner"
    assert fastdispatch._make_id(sender) == (id("owner"), id(func))


class CountingMeta(type):
    """Counts the lookups of ``_live_receivers`` on its classes."""

    lookups = 0

    def __getattribute__(cls, name):
        if name == "_live_receivers":
            CountingMeta.lookups += 1
        return super().__getattribute__(name)


def test_native_live_receivers_is_looked_up_once_per_version_tag():
    class CountedSignal(fastdispatch.Signal, metaclass=CountingMeta):
        pass

    signal = CountedSignal()
    calls = []

    def receiver(**kwargs):
        calls.append("receiver")

    signal.connect(receiver, weak=False)
    CountingMeta.lookups = 0
    signal.send(None)
    assert CountingMeta.lookups == 1
    signal.send(None)
    signal.send(None)
    assert CountingMeta.lookups == 1, "the answer was not kept"
    assert calls == ["receiver"] * 3

    CountedSignal.unrelated = 1  # a new version tag
    signal.send(None)
    assert CountingMeta.lookups == 2, "a changed class was not asked again"


def test_live_receivers_replaced_after_sends_is_used():
    class ReplacedSignal(fastdispatch.Signal):
        pass

    signal = ReplacedSignal()

    def receiver(**kwargs):
        return "native"

    signal.connect(receiver, weak=False)
    assert [r for _, r in signal.send(None)] == ["native"]
    assert [r for _, r in signal.send(None)] == ["native"]

    native = ReplacedSignal._live_receivers
    ReplacedSignal._live_receivers = lambda self, sender: native(self, sender)
    seen = []

    def spy(self, sender):
        seen.append(sender)
        return native(self, sender)

    ReplacedSignal._live_receivers = spy
    assert [r for _, r in signal.send("s")] == ["native"]
    assert seen == ["s"]
