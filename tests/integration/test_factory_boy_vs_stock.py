"""factory_boy's ``mute_signals`` on the native signals and on Django's own,
each in a fresh interpreter (``stock_vs_native``), compared step by step.

``mute_signals`` keeps each signal's ``receivers`` list aside, empties it,
and on the way out puts back ``saved + signal.receivers`` (so receivers
connected meanwhile stay, after the saved ones) and clears
``sender_receivers_cache``. It never looks inside an entry, so it works on
any Django's layout; but what it saves and gives back is the signal's own
list, which code run later (django-extensions, the debug toolbar) reads
field by field. ``test_factory_boy.py`` checks the behaviour on whichever
dispatcher runs it; here one scenario, on ``pre_save`` and ``post_save``
(caching ``ModelSignal`` objects), runs on both and records at every step
which receivers a save called and the ``receivers`` of both signals, entry by
entry (``stock_vs_native.receivers_layout``): how many fields, the lookup key
by the names of the objects it is made of, the weak reference or the strong
receiver, the sender's weak reference, ``is_async``.
"""

import django
import pytest

from integration.stock_vs_native import compare, receivers_layout, setup_django

# Fields of one receivers entry on stock Django: (lookup_key, receiver) on
# 4.2, then is_async (5.0), then the sender's weak reference (6.0).
if django.VERSION >= (6, 0):
    ENTRY_FIELDS = 4
elif django.VERSION >= (5, 0):
    ENTRY_FIELDS = 3
else:
    ENTRY_FIELDS = 2


# --- receivers, connected in the child ---------------------------------------


class Recorder:
    def __init__(self):
        self.calls = []

    def on_post_save(self, sender, **kwargs):
        self.calls.append(f"post_save method {sender.__name__}")

    def take(self):
        calls, self.calls = self.calls, []
        return calls


RECORDER = Recorder()


def pre_save_any(sender, **kwargs):
    RECORDER.calls.append(f"pre_save any {sender.__name__}")


def post_save_author(sender, **kwargs):
    RECORDER.calls.append(f"post_save author {sender.__name__}")


def post_save_uid(sender, **kwargs):
    RECORDER.calls.append(f"post_save uid {sender.__name__}")


def post_save_author_uid(sender, **kwargs):
    RECORDER.calls.append(f"post_save author-uid {sender.__name__}")


def late(sender, **kwargs):
    RECORDER.calls.append(f"post_save late {sender.__name__}")


def mute_scenario():
    """Connect, save, mute (nested, and with a receiver connected while
    muted), restore, save again: a snapshot after each step."""
    setup_django()
    import factory
    from django.db.models.signals import post_save, pre_save
    from factory.django import DjangoModelFactory, mute_signals

    from integration.testapp.models import Author, Book

    class AuthorFactory(DjangoModelFactory):
        class Meta:
            model = Author

        name = factory.Sequence(lambda n: f"author {n}")

    pre_save.connect(pre_save_any)
    post_save.connect(post_save_author, sender=Author)
    post_save.connect(RECORDER.on_post_save)
    post_save.connect(post_save_uid, weak=False, dispatch_uid="uid")
    post_save.connect(post_save_author_uid, sender=Author, dispatch_uid="author-uid")
    named = {
        "Author": Author,
        "Book": Book,
        "pre_save_any": pre_save_any,
        "post_save_author": post_save_author,
        "RECORDER.on_post_save": RECORDER.on_post_save,
        "post_save_uid": post_save_uid,
        "post_save_author_uid": post_save_author_uid,
        "late": late,
    }
    steps = []

    def step(label, save=True):
        if save:
            AuthorFactory()
        steps.append(
            {
                "step": label,
                "calls": RECORDER.take(),
                "pre_save": receivers_layout(pre_save, named),
                "post_save": receivers_layout(post_save, named),
            }
        )

    step("connected", save=False)
    step("saved")
    with mute_signals(post_save):
        step("post_save muted")
        with mute_signals(pre_save, post_save):
            step("both muted, nested")
        step("inner block left")
        post_save.connect(late, sender=Author)
        step("late receiver connected while muted")
    step("restored")
    with pytest.raises(RuntimeError), mute_signals(pre_save, post_save):
        step("both muted")
        raise RuntimeError("leaves the block")
    step("restored after an exception")
    post_save.disconnect(late, sender=Author)
    post_save.disconnect(dispatch_uid="author-uid", sender=Author)
    step("disconnected after restore")
    return steps


@pytest.fixture(scope="module")
def both():
    return compare(mute_scenario)


def test_stock_reference(both):
    """What stock Django gives, so that a change on its side shows: each save
    calls the receivers of the moment, and entries have the version's
    number of fields."""
    stock = both.stock
    assert stock.error is None, stock.traceback
    calls = {step["step"]: step["calls"] for step in stock.result}
    every = [
        "pre_save any Author",
        "post_save author Author",
        "post_save method Author",
        "post_save uid Author",
        "post_save author-uid Author",
    ]
    assert calls == {
        "connected": [],
        "saved": every,
        "post_save muted": every[:1],
        "both muted, nested": [],
        "inner block left": every[:1],
        "late receiver connected while muted": [*every[:1], "post_save late Author"],
        "restored": [*every, "post_save late Author"],
        "both muted": [],
        "restored after an exception": [*every, "post_save late Author"],
        "disconnected after restore": every[:4],
    }
    for step in stock.result:
        for entry in step["pre_save"] + step["post_save"]:
            assert entry[0] == "tuple" and len(entry) == 1 + ENTRY_FIELDS, step


def test_same_receivers_called_as_stock(both):
    """Muting, nesting and restoring call the same receivers at each step."""
    native_calls = [(s["step"], s["calls"]) for s in both.native.result or []]
    stock_calls = [(s["step"], s["calls"]) for s in both.stock.result]
    assert both.native.error == both.stock.error, both.report()
    assert native_calls == stock_calls


def test_same_receivers_lists_as_stock(both):
    """``receivers`` of both signals equal to stock's at every step: the same
    entries, field by field, in the same order, before, while and after
    muting. (Not ``sender_receivers_cache``: while a signal is muted, Django's
    keeps the entries filled before, unused since ``send`` returns early on
    empty ``receivers``, where the native cache, rebuilt from the receivers,
    is empty; see README, "Internals". Clearing it on the way out is checked
    in ``test_factory_boy.py``.)"""
    assert both.native.error == both.stock.error, both.report()
    native_steps = both.native.result
    assert [s["step"] for s in native_steps] == [s["step"] for s in both.stock.result]
    for native_step, stock_step in zip(native_steps, both.stock.result, strict=True):
        assert native_step == stock_step
