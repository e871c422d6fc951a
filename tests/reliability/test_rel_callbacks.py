"""Python code run from inside the dispatcher: receivers, finalisers, a
``dispatch_uid``'s ``__eq__``, dictionary keys' ``__eq__``, that reach back
into the signal (or into what it is working on) while it works.

Whatever they do, the interpreter must not crash, no receiver may be lost,
the lock must stay consistent and the call must end. Scenarios that crashed
(or hung) before they were fixed run in a subprocess of their own, under
``PYTHONMALLOC=debug`` so that a read of freed memory shows.
"""

import asyncio
import gc
import os
import subprocess
import sys
import textwrap
import threading
import weakref

import pytest
from support.django_layout import DROPS_DEAD_SENDERS, HAS_ASYNC, make_row, unpack_row
from support.reference import implementations

IMPLEMENTATIONS = implementations()
fastdispatch = IMPLEMENTATIONS["fast"]


def run_script(source, timeout=120):
    """Run ``source`` in a new interpreter (debug allocator on); the
    completed process."""
    environ = dict(os.environ, PYTHONMALLOC="debug")
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environ,
    )


def assert_ran(completed, expected_stdout):
    assert completed.returncode == 0, (completed.returncode, completed.stderr)
    assert completed.stdout == expected_stdout, completed.stderr


def names(responses):
    return [response for _, response in responses]


def named(name):
    def receiver(**kwargs):
        return name

    receiver.__qualname__ = name
    return receiver


# --- 1: the results list of a send ------------------------------------------

RESULTS_LIST_HUNT = """
    import gc, fastdispatch

    def hunt(marker):
        # Every list that holds a pair holding `marker`, read in full.
        found = 0
        referrers = gc.get_referrers(marker)
        for pair in referrers:
            if type(pair) is not tuple:
                continue
            for holder in gc.get_referrers(pair):
                if type(holder) is list and holder is not referrers:
                    list(holder)
                    repr(holder)
                    found += 1
        return found

    for mode in ("send", "send_robust"):
        for count in (2, 10, 40):
            sig = fastdispatch.Signal()
            marker = object()
            seen = []

            def first(**kw):
                return marker

            def late(**kw):
                seen.append(hunt(marker))

            sig.connect(first, weak=False)
            for _ in range(count - 1):
                sig.connect(late, weak=False, dispatch_uid=object())
            responses = getattr(sig, mode)(None)
            assert len(responses) == count, responses
            assert responses[0][1] is marker
            # Receivers never see the list being made.
            assert seen == [0] * (count - 1), seen
    print("ok")
"""


def test_receivers_cannot_reach_the_results_list_being_made():
    assert_ran(run_script(RESULTS_LIST_HUNT), "ok\n")


def test_results_list_is_complete_when_a_receiver_raises_midway():
    signal = fastdispatch.Signal()
    calls = []

    def first(**kwargs):
        calls.append("first")
        return "first"

    def failing(**kwargs):
        calls.append("failing")
        raise ValueError("boom")

    signal.connect(first, weak=False)
    signal.connect(failing, weak=False)
    with pytest.raises(ValueError, match="boom"):
        signal.send(None)
    responses = signal.send_robust(None)
    assert [type(r).__name__ for _, r in responses] == ["str", "ValueError"]
    assert calls == ["first", "failing", "first", "failing"]


# --- 2: describe's JSON -----------------------------------------------------


def test_to_json_with_an_impossible_indent_raises_memory_error():
    completed = run_script(
        """
        import fastdispatch
        sig = fastdispatch.Signal()
        def receiver(**kwargs): pass
        sig.connect(receiver, weak=False)
        report = fastdispatch.describe_all()
        for indent in (2**62, 2**63 - 1, 2**64 - 1):
            try:
                report.to_json(indent=indent)
            except MemoryError:
                print("MemoryError")
        print(report.to_json(indent=3) == report.to_json(indent=3))
        """
    )
    assert_ran(completed, "MemoryError\nMemoryError\nMemoryError\nTrue\n")


def test_to_json_indent_is_honoured():
    signal = fastdispatch.Signal()

    def receiver(**kwargs):
        pass

    signal.connect(receiver, weak=False)
    import json

    report = fastdispatch.describe_all()
    for indent in (None, 0, 1, 4, 17):
        text = report.to_json(indent=indent)
        assert json.loads(text) == json.loads(report.to_json(indent=None))
        if indent:
            assert "\n" + " " * indent + '"' in text


# --- 3: a finaliser that connects while the receivers are replaced ----------


class Bomb:
    def __init__(self, action):
        self.action = action

    def __del__(self):
        self.action()


@pytest.mark.parametrize("edit", ["del_item", "assign_list"])
def test_receiver_connected_by_finaliser_during_replacement_is_kept(edit):
    def scenario(module):
        signal = module.Signal()
        r1, r2 = named("r1"), named("r2")

        def holder(**kwargs):
            return "holder"

        holder.bomb = Bomb(lambda: signal.connect(r2, weak=False))
        signal.connect(holder, weak=False)
        signal.connect(r1, weak=False)
        view = signal.receivers
        del holder
        if edit == "del_item":
            del view[0]
        else:
            # The list itself, changed behind the signal's back, assigned back.
            list.__delitem__(view, 0)
            signal.receivers = view
        signal.receivers.reverse()
        return sorted(names(signal.send(None)))

    results = [scenario(module) for module in IMPLEMENTATIONS.values()]
    assert results == [["r1", "r2"], ["r1", "r2"]]


def test_the_list_assigned_stays_the_signals_when_nothing_else_changed():
    signal = fastdispatch.Signal()
    r1, r2 = named("r1"), named("r2")
    signal.connect(r1, weak=False)
    signal.connect(r2, weak=False)
    view = signal.receivers
    del view[0]
    assert signal.receivers is view
    signal.receivers.append(make_row(*unpack_row(view[0])))
    assert names(signal.send(None)) == ["r2", "r2"]


# --- 4: signal.lock.release() -----------------------------------------------

LOCK_RELEASED_BY_UID = """
    import threading
    import fastdispatch

    sig = fastdispatch.Signal()
    def r(**kw): return "r"
    def other(**kw): return "other"
    outcomes = []

    class Uid:
        def __init__(self, release):
            self.release = release
        def __hash__(self):
            return 1
        def __eq__(self, other):
            if self.release:
                try:
                    sig.lock.release()
                    outcomes.append("released")
                except RuntimeError as err:
                    outcomes.append(str(err))
            return False

    # The stored uid's __eq__ runs, with the signal's lock held by connect.
    sig.connect(r, weak=False, dispatch_uid=Uid(True))
    sig.connect(other, weak=False, dispatch_uid=Uid(False))
    print(outcomes)
    print(sig.lock.locked())

    def elsewhere(box):
        box.append(sig.lock.acquire(blocking=False))
        if box[-1]:
            sig.lock.release()

    box = []
    thread = threading.Thread(target=elsewhere, args=(box,))
    thread.start()
    thread.join()
    print(box)
    print(sorted(response for _, response in sig.send(None)))
"""


def test_release_never_releases_the_lock_the_signal_holds():
    completed = run_script(LOCK_RELEASED_BY_UID, timeout=60)
    assert_ran(
        completed,
        "['cannot release un-acquired lock']\nFalse\n[True]\n['other', 'r']\n",
    )


def test_release_without_acquire_raises_like_rlock():
    lock = fastdispatch.Signal().lock
    with pytest.raises(RuntimeError, match="cannot release un-acquired lock"):
        lock.release()
    assert not lock.locked()


def test_release_from_another_thread_raises():
    lock = fastdispatch.Signal().lock
    assert lock.acquire()
    errors = []

    def release():
        try:
            lock.release()
        except RuntimeError as err:
            errors.append(str(err))

    thread = threading.Thread(target=release)
    thread.start()
    thread.join()
    assert errors == ["cannot release un-acquired lock"]
    assert lock.locked()
    lock.release()
    assert not lock.locked()


def test_acquire_and_release_inside_a_receiver_and_a_uid():
    signal = fastdispatch.Signal()
    held = []

    class Uid:
        def __hash__(self):
            return 7

        def __eq__(self, other):
            # Taken on top of the signal's own hold, and given back.
            assert signal.lock.acquire(blocking=False)
            held.append(signal.lock.locked())
            signal.lock.release()
            with signal.lock:
                pass
            return False

    def receiver(**kwargs):
        with signal.lock:
            held.append("receiver")
        return "receiver"

    signal.connect(receiver, weak=False, dispatch_uid=Uid())
    signal.connect(named("b"), weak=False, dispatch_uid=Uid())
    assert held == [True]
    assert names(signal.send(None)) == ["receiver", "b"]
    assert held == [True, "receiver"]
    assert not signal.lock.locked()


def test_lock_kept_by_a_uid_stays_held_until_released():
    signal = fastdispatch.Signal()

    class Uid:
        def __hash__(self):
            return 7

        def __eq__(self, other):
            signal.lock.acquire()
            return False

    signal.connect(named("a"), weak=False, dispatch_uid=Uid())
    signal.connect(named("b"), weak=False, dispatch_uid=Uid())
    # Still held, by this thread's Python code: once, through acquire().
    assert signal.lock.locked()
    got = []
    thread = threading.Thread(target=lambda: got.append(signal.lock.acquire(False)))
    thread.start()
    thread.join()
    assert got == [False]
    signal.lock.release()
    assert not signal.lock.locked()
    with pytest.raises(RuntimeError, match="un-acquired"):
        signal.lock.release()


# --- 5: dictionaries searched while their keys run code ---------------------

METACLASS_SWAPPED_DURING_LOOKUP = """
    import gc
    import fastdispatch

    class Meta(type):
        pass

    class Other(type):
        pass

    class Key(str):
        # Hashed as "__func__", so the lookup compares it with the name.
        def __hash__(self):
            return hash("__func__")

        def __eq__(self, other):
            # The class takes another metaclass; the old one is collected.
            Sender.__class__ = Other
            gc.collect()
            return False

    Sender = Meta("Sender", (), {Key("zzz"): 1})
    del Meta
    print(fastdispatch._make_id(Sender) == id(Sender))
    sig = fastdispatch.Signal()
    def receiver(**kwargs): return "r"
    sig.connect(receiver, sender=Sender, weak=False)
    print([r for _, r in sig.send(Sender)])
"""


def test_metaclass_freed_by_a_key_comparison_during_make_id():
    assert_ran(run_script(METACLASS_SWAPPED_DURING_LOOKUP), "True\n['r']\n")


FUNCTION_DICT_REPLACED_DURING_LOOKUP = """
    import gc
    import fastdispatch

    def receiver(**kwargs):
        return "r"

    class Key(str):
        def __init__(self, name):
            self.name = name
        def __hash__(self):
            return hash(self.name)
        def __eq__(self, other):
            receiver.__dict__ = {}
            gc.collect()
            return False

    for name in ("__func__", "__self__"):
        receiver.__dict__ = {Key(name): 1, "padding": [object()]}
        print(fastdispatch._make_id(receiver) == id(receiver))
        sig = fastdispatch.Signal()
        sig.connect(receiver)
        print([r for _, r in sig.send(None)])
"""


def test_function_dict_replaced_by_a_key_comparison():
    assert_ran(
        run_script(FUNCTION_DICT_REPLACED_DURING_LOOKUP),
        "True\n['r']\nTrue\n['r']\n",
    )


# --- 6: a uid whose comparison changes the receivers every time -------------

UID_THAT_ALWAYS_CONNECTS = """
    import fastdispatch

    sig = fastdispatch.Signal()
    fresh = []

    class Uid:
        def __hash__(self):
            return 3
        def __eq__(self, other):
            def receiver(**kwargs): pass
            fresh.append(receiver)
            sig.connect(receiver, weak=False)
            return False

    def first(**kwargs): pass
    def second(**kwargs): pass
    sig.connect(first, weak=False, dispatch_uid=Uid())
    for attempt in ("connect", "disconnect"):
        try:
            if attempt == "connect":
                sig.connect(second, weak=False, dispatch_uid=Uid())
            else:
                sig.disconnect(dispatch_uid=Uid())
        except RuntimeError as err:
            print(attempt, "RuntimeError:", err)
    print(0 < len(fresh) < 100)
"""


def test_uid_that_changes_the_receivers_at_every_comparison_ends():
    completed = run_script(UID_THAT_ALWAYS_CONNECTS, timeout=60)
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert len(lines) == 3, completed.stdout
    for attempt, line in zip(("connect", "disconnect"), lines, strict=False):
        assert line.startswith(f"{attempt} RuntimeError: "), line
        assert "dispatch_uid" in line and "__eq__" in line, line
    assert lines[2] == "True"


def test_uid_that_changes_the_receivers_a_few_times_still_matches():
    signal = fastdispatch.Signal()
    changes = [3]

    class Uid:
        def __init__(self, name):
            self.name = name

        def __hash__(self):
            return 3

        def __eq__(self, other):
            if changes[0]:
                changes[0] -= 1
                signal.connect(named(f"extra{changes[0]}"), weak=False)
            return isinstance(other, Uid) and other.name == self.name

    signal.connect(named("a"), weak=False, dispatch_uid=Uid("a"))
    assert signal.disconnect(dispatch_uid=Uid("a")) is True
    assert changes == [0]
    assert names(signal.send(None)) == ["extra2", "extra1", "extra0"]


# --- 7: cycles through the signal's helpers ---------------------------------


@pytest.mark.parametrize("captured", ["lock", "sender_receivers_cache", "both"])
def test_cycles_through_the_lock_and_the_cache_are_collected(captured):
    gc.collect()
    signal = fastdispatch.Signal(use_caching=True)

    def receiver(**kwargs):
        return "r"

    # Held by the receiver itself, not by a closure cell (which `del` empties).
    if captured in ("lock", "both"):
        receiver.lock = signal.lock
    if captured in ("sender_receivers_cache", "both"):
        receiver.cache = signal.sender_receivers_cache
    signal.connect(receiver, weak=False)
    assert signal.send(object)
    dead = weakref.ref(receiver)
    signal_dead = weakref.ref(signal)
    del receiver, signal
    gc.collect()
    assert dead() is None
    assert signal_dead() is None


def test_collecting_the_lock_leaves_a_live_signal_alone():
    signal = fastdispatch.Signal()

    def receiver(**kwargs):
        return "kept"

    signal.connect(receiver, weak=False)
    lock = signal.lock
    del lock
    gc.collect()
    assert names(signal.send(None)) == ["kept"]


# --- 8: a caching signal after a failing call -------------------------------


@pytest.mark.parametrize(
    "dying",
    [
        "receiver",
        pytest.param(
            "sender",
            marks=pytest.mark.skipif(
                not DROPS_DEAD_SENDERS,
                reason="before Django 6.0 a dead sender's receivers stay",
            ),
        ),
    ],
)
def test_caching_signal_after_has_listeners_failed_matches_django(dying):
    def scenario(module):
        signal = module.Signal(use_caching=True)

        class Sender:
            pass

        sender = Sender()

        def receiver(**kwargs):
            return "r"

        if dying == "sender":
            signal.connect(receiver, sender=sender, weak=False)
            assert signal.send(sender)
            del sender
        else:
            signal.connect(receiver)
            assert signal.send(sender)
            del receiver
        gc.collect()
        outcomes = []
        try:
            signal.has_listeners(None)
        except TypeError as err:
            outcomes.append(str(err))
        outcomes.append(len(signal.receivers))
        outcomes.append(signal.send(1, x=2))
        return outcomes

    results = [scenario(module) for module in IMPLEMENTATIONS.values()]
    assert results[0] == ["cannot create weak reference to 'NoneType' object", 0, []]
    assert results[1] == results[0]


@pytest.mark.parametrize(
    "mode",
    [
        "send",
        "send_robust",
        pytest.param(
            "asend",
            marks=pytest.mark.skipif(
                not HAS_ASYNC, reason="Django 4.2's Signal has no asend"
            ),
        ),
        "has_listeners",
    ],
)
def test_caching_signal_refusing_a_sender_leaves_dead_receivers_as_django(mode):
    # send and asend check the sender before anything else; has_listeners
    # clears the dead receivers first.
    def scenario(module):
        signal = module.Signal(use_caching=True)

        def receiver(**kwargs):
            return "r"

        signal.connect(receiver)
        del receiver
        gc.collect()
        try:
            result = getattr(signal, mode)(None)
            if mode == "asend":
                result = asyncio.run(result)
        except TypeError as err:
            result = str(err)
        return result, len(signal.receivers)

    results = [scenario(module) for module in IMPLEMENTATIONS.values()]
    removed = 0 if mode == "has_listeners" else 1
    message = "cannot create weak reference to 'NoneType' object"
    assert results[0] == (message, removed)
    assert results[1] == results[0]


# --- 9: start-up ---------------------------------------------------------

DJANGO_CONF_FAILS_ONCE = """
    import sys

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name == "django.conf":
                raise ImportError("not yet")
            return None

    blocker = Blocker()
    sys.meta_path.insert(0, blocker)
    import fastdispatch
    sig = fastdispatch.Signal()
    def receiver(**kwargs): pass
    sig.connect(receiver)  # django.conf cannot be imported yet
    sys.meta_path.remove(blocker)

    from django.conf import settings
    settings.configure(DEBUG=True)
    try:
        sig.connect(object())
    except TypeError as err:
        print(err)
"""


def test_debug_checks_work_once_django_conf_imports():
    assert_ran(
        run_script(DJANGO_CONF_FAILS_ONCE), "Signal receivers must be callable.\n"
    )


def test_shim_survives_a_panic_during_start_up(monkeypatch):
    from fastdispatch import _shim

    class PanicException(BaseException):
        pass

    PanicException.__module__ = "pyo3_runtime"

    def panics(module):
        raise PanicException("native start-up failed")

    name = "fd_shim_panic_probe"
    monkeypatch.setitem(_shim._ACTIONS, name, panics)
    try:
        with pytest.warns(RuntimeWarning, match="could not take over"):
            _shim._run_action(name, object())
        assert "native start-up failed" in _shim.status()["errors"][name]
    finally:
        _shim._state.errors.pop(name, None)

    def interrupted(module):
        raise KeyboardInterrupt

    monkeypatch.setitem(_shim._ACTIONS, name, interrupted)
    with pytest.raises(KeyboardInterrupt):
        _shim._run_action(name, object())
    _shim._state.errors.pop(name, None)
