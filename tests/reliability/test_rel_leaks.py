"""No leaks: reference counts and resident memory after 1,000,000 sends and
100,000 connect/disconnect cycles (in a fresh interpreter, see
leak_workload.py), and reference cycles through a signal's receivers are
collected."""

import gc
import json
import subprocess
import sys
import weakref
from pathlib import Path

import pytest
from support.reference import load_fastdispatch

fastdispatch = load_fastdispatch()
HERE = Path(__file__).resolve().parent
RSS_LIMIT = 5 * 1024 * 1024


def test_sends_and_connect_cycles_leak_nothing():
    completed = subprocess.run(
        [sys.executable, str(HERE / "leak_workload.py")],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=600,  # hang guard only
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    print(
        f"leak workload: {report['sends']} sends, {report['cycles']} "
        f"connect/disconnect cycles, {report['dying']} dying receivers; "
        f"RSS {report['rss_before'] / 2**20:.1f} MiB -> "
        f"{report['rss_after'] / 2**20:.1f} MiB; timings {report['timings']}"
    )
    changed = {
        name: (count, report["refcounts_after"][name])
        for name, count in report["refcounts_before"].items()
        if report["refcounts_after"][name] != count
    }
    assert not changed, f"reference counts changed (before, after): {changed}"
    growth = report["rss_after"] - report["rss_before"]
    assert growth < RSS_LIMIT, f"resident memory grew by {growth / 2**20:.2f} MiB"
    assert report["receivers_after"] == {
        "plain": 1,
        "caching": 2,
        "specific": 3,
        "robust": 2,
        "async": 2,
        "churn": 0,
        "dying": 0,
    }


# --- reference cycles through the signal ---------------------------------------


class Owner:
    """Holds a signal and is one of its receivers (through a bound method)."""

    def __init__(self, signal):
        self.signal = signal

    def handle(self, **kwargs):
        return self


class Uid:
    """A dispatch_uid that refers back to the signal."""

    def __init__(self, signal):
        self.signal = signal

    def __hash__(self):
        return 3

    def __eq__(self, other):
        return self is other


class Model:
    pass


def closure_receiver(signal):
    def receiver(**kwargs):
        return signal

    return receiver


def cycle_through_closure(signal):
    signal.connect(closure_receiver(signal), weak=False)


def cycle_through_bound_method(signal):
    signal.connect(Owner(signal).handle, weak=False)


def cycle_through_callable_sender_specific(signal):
    signal.connect(closure_receiver(signal), sender=Model, weak=False)


def cycle_through_uid(signal):
    # Weakly connected receiver kept alive here; the uid holds the signal.
    signal.connect(function_receiver, dispatch_uid=Uid(signal))


def cycle_through_attribute(signal):
    signal.connect(function_receiver, weak=False)
    signal.me = signal  # Signal instances have a __dict__


def function_receiver(**kwargs):
    return None


@pytest.mark.parametrize("use_caching", [False, True], ids=["plain", "caching"])
@pytest.mark.parametrize("sent", [False, True], ids=["unsent", "sent"])
@pytest.mark.parametrize(
    "make_cycle",
    [
        cycle_through_closure,
        cycle_through_bound_method,
        cycle_through_callable_sender_specific,
        cycle_through_uid,
        cycle_through_attribute,
    ],
)
def test_reference_cycles_through_the_signal_are_collected(
    make_cycle, sent, use_caching
):
    signal = fastdispatch.Signal(use_caching=use_caching)
    make_cycle(signal)
    if sent:
        # Sends build per-sender snapshots that hold the receivers too.
        signal.send(Model)
        signal.send_robust(Model)
        assert signal.has_listeners(Model)
    ref = weakref.ref(signal)
    del signal
    gc.collect()
    assert ref() is None, "the signal is kept alive by a collectable cycle"


def test_subclass_instance_cycle_is_collected():
    class ModelSignal(fastdispatch.Signal):
        pass

    signal = ModelSignal()
    signal.connect(closure_receiver(signal), weak=False)
    signal.send(Model)
    ref = weakref.ref(signal)
    del signal
    gc.collect()
    assert ref() is None


def test_signal_without_cycle_dies_at_once():
    gc.disable()
    try:
        signal = fastdispatch.Signal()
        receiver = function_receiver
        signal.connect(receiver, weak=False)
        signal.send(Model)
        ref = weakref.ref(signal)
        del signal
        assert ref() is None, "freed by reference counting alone"
    finally:
        gc.enable()
