"""Python code run from inside the dispatcher: receivers, finalisers, a
``dispatch_uid``'s ``__eq__``, dictionary keys' ``__eq__``, that reach back
into the signal (or into what it is working on) while it works.

Whatever they do, the interpreter must not crash, no receiver may be lost,
the lock must stay consistent and the call must end. Scenarios that crashed
(or hung) before they were fixed run in a subprocess of their own, under
``PYTHONMALLOC=debug`` so that a read of freed memory shows.
"""

import gc
import os
import subprocess
import sys
import textwrap
import threading
import weakref

import pytest
from django_layout import make_row, unpack_row
from reliability_support import implementations

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
