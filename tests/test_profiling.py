"""Recording receiver calls: ``fastdispatch.profiling()`` and
``FASTDISPATCH_PROFILE``.

Times are never compared with absolute values: receivers that sleep known,
well-separated times must come out in that order, and calls, errors and
senders are counted exactly."""

import asyncio
import gc
import json
import logging
import os
import subprocess
import sys
import threading
import time
import weakref
from importlib import resources
from pathlib import Path

import fastdispatch
import jsonschema
import pytest
from fastdispatch import Signal, _native, profiling
from support.django_layout import HAS_ASYNC

SCHEMA = json.loads(
    resources.files("fastdispatch").joinpath("profile.schema.json").read_text()
)
HERE = __file__

needs_async = pytest.mark.skipif(
    not HAS_ASYNC, reason="async receivers need Django 5.0+"
)


def row_of(profile, function):
    """The profile's row for ``function`` (its qualname), or None."""
    rows = [r for r in profile.receivers if r.qualname == function.__qualname__]
    assert len(rows) <= 1
    return rows[0] if rows else None


def sleeper(seconds):
    def receiver(sender, **kwargs):
        time.sleep(seconds)

    return receiver


def quick(sender, **kwargs):
    return "quick"


def slow(sender, **kwargs):
    time.sleep(0.02)


def slower(sender, **kwargs):
    time.sleep(0.05)


def failing(sender, **kwargs):
    raise ValueError("failing")


def test_nothing_is_recorded_without_a_profile():
    signal = Signal()
    signal.connect(quick)
    assert not _native._profiling_active()
    signal.send(None)
    with profiling() as profile:
        assert _native._profiling_active()
    assert not _native._profiling_active()
    # Sends before and after the block are not in it.
    signal.send(None)
    assert profile.receivers == ()
    assert profile.to_text() == "no receiver ran while recording\n"


def test_rows_are_sorted_by_total_time_with_exact_counts():
    signal = Signal()
    for receiver in (quick, slower, slow):
        signal.connect(receiver)
    with profiling() as profile:
        for _ in range(3):
            signal.send(sender=None)
        signal.send_robust(sender=None)
    names = [r.qualname for r in profile.receivers]
    assert names == ["slower", "slow", "quick"]
    assert [r.calls for r in profile.receivers] == [4, 4, 4]
    slowest, middle, fastest = profile.receivers
    assert slowest.total_ns > middle.total_ns > fastest.total_ns > 0
    assert slowest.max_ns >= slowest.total_ns // 4
    assert middle.max_ns <= middle.total_ns
    assert slowest.mean_ns == slowest.total_ns // 4
    assert profile.total_ns == sum(r.total_ns for r in profile.receivers)
    # describe()'s fields of the receiver, and the signal's name.
    assert slowest.module == __name__
    assert slowest.file == HERE
    assert slowest.kind == "function"
    assert slowest.sender is None
    assert slowest.weak is True
    assert slowest.signal == f"(created in {__name__})"
    assert slowest.receiver == fastdispatch.describe(signal).receivers[1]


module_signal = Signal()


def test_the_signal_is_named_as_describe_names_it():
    module_signal.connect(quick)
    try:
        with profiling() as profile:
            module_signal.send(None)
    finally:
        module_signal.disconnect(quick)
    (row,) = profile.receivers
    assert row.signal == f"{__name__}.module_signal"
    assert row.signal == fastdispatch.describe(module_signal).name


def test_receivers_that_sleep_longer_come_first():
    signal = Signal()
    receivers = [sleeper(seconds) for seconds in (0.001, 0.03, 0.012)]
    for receiver in receivers:
        signal.connect(receiver, weak=False)
    with profiling() as profile:
        signal.send(None)
        signal.send(None)
    rows = profile.receivers
    assert len(rows) == 3 and all(r.calls == 2 for r in rows)
    # The row's line tells which sleeper it is: all share one definition, so
    # tell them apart by time order, which must match the sleeps.
    assert rows[0].total_ns > rows[1].total_ns > rows[2].total_ns
    assert rows[0].total_ns >= 2 * 30_000_000


def test_errors_are_counted_send_raises_send_robust_catches(caplog):
    signal = Signal()
    signal.connect(quick)
    signal.connect(failing)
    with profiling() as profile:
        with pytest.raises(ValueError):
            signal.send(None)
        with caplog.at_level(logging.CRITICAL, logger="django.dispatch"):
            responses = signal.send_robust(None)
            signal.send_robust(None)
    assert isinstance(responses[1][1], ValueError)
    row = row_of(profile, failing)
    assert (row.calls, row.errors, row.caught) == (3, 3, 2)
    fine = row_of(profile, quick)
    assert (fine.calls, fine.errors, fine.caught) == (3, 0, 0)
    assert "3 (2 caught)" in profile.to_text()


def test_a_base_exception_is_an_error_not_caught():
    signal = Signal()

    def interrupting(sender, **kwargs):
        raise KeyboardInterrupt

    signal.connect(interrupting)
    with profiling() as profile:
        with pytest.raises(KeyboardInterrupt):
            signal.send_robust(None)
    (row,) = profile.receivers
    assert (row.calls, row.errors, row.caught) == (1, 1, 0)


def test_senders_are_counted_by_name_and_bounded():
    signal = Signal()
    signal.connect(quick)

    class Order:
        pass

    senders = [type(f"Sender{i}", (), {}) for i in range(20)]
    with profiling() as profile:
        for _ in range(3):
            signal.send(Order)
        signal.send("text")
        for sender in senders:
            signal.send(sender)
    (row,) = profile.receivers
    assert row.calls == 24
    named = row.senders
    assert list(named)[0] == f"{__name__}.{Order.__qualname__}"
    assert named[f"{__name__}.{Order.__qualname__}"] == 3
    assert named["'text'"] == 1
    # 16 senders are named; the calls of the others are counted together.
    assert len(named) == 16
    assert sum(named.values()) + row.other_senders == 24
    assert row.other_senders == 6


def test_bound_methods_are_one_receiver_per_instance():
    signal = Signal()

    class Auditor:
        def on_event(self, sender, **kwargs):
            pass

    first, second = Auditor(), Auditor()
    signal.connect(first.on_event)
    signal.connect(second.on_event)
    with profiling() as profile:
        signal.send(None)
        signal.send(None)
    rows = profile.receivers
    assert [r.qualname for r in rows] == [Auditor.on_event.__qualname__] * 2
    assert [r.calls for r in rows] == [2, 2]
    assert {r.kind for r in rows} == {"method"}


def test_dead_receivers_rows_are_dropped():
    signal = Signal()

    def short_lived(sender, **kwargs):
        pass

    signal.connect(short_lived)
    signal.connect(quick)
    with profiling() as profile:
        signal.send(None)
        assert {r.qualname for r in profile.receivers} == {
            "quick",
            short_lived.__qualname__,
        }
        gone = weakref.ref(short_lived)
        del short_lived
        gc.collect()
        assert gone() is None
        # Readable while recording: the dead receiver's row is gone.
        assert [r.qualname for r in profile.receivers] == ["quick"]
        signal.send(None)
    assert [(r.qualname, r.calls) for r in profile.receivers] == [("quick", 2)]


def test_a_new_receiver_at_a_dead_ones_address_gets_its_own_row():
    signal = Signal()
    counts = []
    addresses = set()
    with profiling() as profile:
        # Receivers made and dropped one after the other: CPython often
        # gives the next one the same address. Each must count once.
        for _ in range(50):

            def transient(sender, **kwargs):
                pass

            signal.connect(transient)
            addresses.add(id(transient))
            signal.send(None)
            counts.append(sum(r.calls for r in profile.receivers))
            signal.disconnect(transient)
            del transient
    assert counts == [1] * 50
    assert len(addresses) < 50  # addresses were reused


def test_the_report_is_final_once_the_block_exits():
    signal = Signal()
    signal.connect(quick)
    with profiling() as profile:
        signal.send(None)
        assert profile.recording
        assert profile.receivers[0].calls == 1
        signal.send(None)
        # Live: each read sees the calls so far.
        assert profile.receivers[0].calls == 2
    assert not profile.recording
    signal.send(None)
    assert profile.receivers[0].calls == 2
    assert json.loads(profile.to_json())["recording"] is False


def test_nested_blocks_each_see_their_own_calls():
    signal = Signal()
    signal.connect(quick)
    with profiling() as outer:
        signal.send(None)
        with profiling() as inner:
            signal.send(None)
            signal.send(None)
        signal.send(None)
        assert _native._profiling_active()
    assert not _native._profiling_active()
    assert outer.receivers[0].calls == 4
    assert inner.receivers[0].calls == 2


def test_a_receiver_may_start_and_stop_a_profile():
    signal = Signal()
    inner_profiles = []

    def profiling_receiver(sender, **kwargs):
        with profiling() as inner:
            other.send(None)
        inner_profiles.append(inner)

    other = Signal()
    other.connect(quick)
    signal.connect(profiling_receiver)
    with profiling() as outer:
        signal.send(None)
    assert inner_profiles[0].receivers[0].qualname == "quick"
    assert {r.qualname: r.calls for r in outer.receivers} == {
        "quick": 1,
        profiling_receiver.__qualname__: 1,
    }


def test_threads_sending_at_once_add_up():
    signal = Signal()
    signal.connect(quick)
    per_thread, threads = 2000, 4
    start = threading.Barrier(threads)

    def work():
        start.wait()
        for _ in range(per_thread):
            signal.send(None)

    with profiling() as profile:
        workers = [threading.Thread(target=work) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    (row,) = profile.receivers
    assert row.calls == per_thread * threads


def test_a_profile_nobody_holds_any_more_stops_recording():
    profile = _native._profile_start()
    assert _native._profiling_active()
    del profile
    assert not _native._profiling_active()


def test_json_follows_the_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["properties"]["schema_version"]["const"] == (
        fastdispatch.PROFILE_SCHEMA_VERSION
    )
    signal = Signal()
    signal.connect(quick)
    signal.connect(failing)
    with profiling() as profile:
        with pytest.raises(ValueError):
            signal.send("sender")
        live = json.loads(profile.to_json(indent=None))
        jsonschema.Draft202012Validator(SCHEMA).validate(live)
        assert live["recording"] is True
    document = json.loads(profile.to_json())
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    assert document["recording"] is False
    assert document["calls"] == 2
    assert [r["qualname"] for r in document["receivers"]] == [
        r.qualname for r in profile.receivers
    ]
    failing_row = next(r for r in document["receivers"] if r["qualname"] == "failing")
    assert failing_row["errors"] == 1
    assert failing_row["senders"] == {"'sender'": 1}
    assert failing_row["line"] == failing.__code__.co_firstlineno


def test_text_has_each_receivers_share():
    signal = Signal()
    signal.connect(slow)
    signal.connect(quick)
    with profiling() as profile:
        signal.send(None)
    lines = profile.to_text().splitlines()
    assert lines[0].split()[:3] == ["receiver", "signal", "calls"]
    assert lines[1].startswith(f"{__name__}.slow ")
    assert lines[2].startswith(f"{__name__}.quick ")
    shares = [float(line.split("%")[0].split()[-1]) for line in lines[1:3]]
    assert shares[0] > shares[1]
    assert abs(sum(shares) - 100) < 0.2
    assert lines[-1].startswith("2 receivers, 2 calls, ")


@needs_async
def test_async_receivers_are_timed_to_the_end_of_their_coroutine():
    signal = Signal()

    async def waits(sender, **kwargs):
        await asyncio.sleep(0.03)

    async def returns(sender, **kwargs):
        return 1

    signal.connect(waits)
    signal.connect(returns)
    signal.connect(slow)
    with profiling() as profile:
        signal.send(None)
        asyncio.run(signal.asend(None))
        asyncio.run(signal.asend_robust(None))
    rows = {r.qualname.rsplit(".", 1)[-1]: r for r in profile.receivers}
    assert {name: r.calls for name, r in rows.items()} == {
        "waits": 3,
        "returns": 3,
        "slow": 3,
    }
    assert rows["waits"].is_async and not rows["slow"].is_async
    assert rows["waits"].total_ns > rows["returns"].total_ns
    assert rows["waits"].total_ns >= 3 * 30_000_000
    assert rows["slow"].total_ns > rows["returns"].total_ns


@needs_async
def test_async_errors_are_counted(caplog):
    signal = Signal()

    async def fails(sender, **kwargs):
        raise ValueError("async")

    def fails_in_thread(sender, **kwargs):
        raise ValueError("sync")

    # asend alone with the sync receiver: with an async receiver beside it,
    # whether the sync one runs before asend raises depends on the series
    # and on the event loop's turns.
    signal.connect(fails_in_thread)
    with profiling() as profile:
        with pytest.raises(ValueError):
            asyncio.run(signal.asend(None))
        signal.connect(fails)
        with caplog.at_level(logging.CRITICAL, logger="django.dispatch"):
            asyncio.run(signal.asend_robust(None))
    rows = {r.qualname.rsplit(".", 1)[-1]: r for r in profile.receivers}
    in_thread = rows["fails_in_thread"]
    assert (in_thread.calls, in_thread.errors, in_thread.caught) == (2, 2, 1)
    fails_row = rows["fails"]
    assert (fails_row.calls, fails_row.errors, fails_row.caught) == (1, 1, 1)


@needs_async
def test_asend_sync_receivers_are_timed_in_their_thread():
    signal = Signal()
    threads = []

    def in_thread(sender, **kwargs):
        threads.append(threading.get_ident())
        time.sleep(0.01)

    signal.connect(in_thread)
    with profiling() as profile:
        asyncio.run(signal.asend(None))
    assert threads and threads[0] != threading.get_ident()
    (row,) = profile.receivers
    assert row.calls == 1 and row.total_ns >= 10_000_000


def run_script(code, **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FASTDISPATCH")}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )


SCRIPT = """
import django
from django.conf import settings
settings.configure()
django.setup()
from django.dispatch import Signal
import fastdispatch

def on_event(sender, **kwargs):
    pass

event = Signal()
event.connect(on_event)
for _ in range(7):
    event.send(None)
"""


def test_the_environment_records_the_whole_process_to_stderr():
    done = run_script(SCRIPT, FASTDISPATCH_PROFILE="1")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0].split()[:2] == ["receiver", "signal"]
    row = next(line for line in lines if line.startswith("__main__.on_event "))
    assert row.split()[1:3] == ["__main__.event", "7"]
    assert done.stdout == ""


def test_the_environment_writes_json_or_text_to_a_file(tmp_path):
    json_file = tmp_path / "profile.json"
    done = run_script(
        SCRIPT, FASTDISPATCH_PROFILE="yes", FASTDISPATCH_PROFILE_FILE=str(json_file)
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    document = json.loads(json_file.read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    (row,) = [r for r in document["receivers"] if r["qualname"] == "on_event"]
    assert (row["calls"], row["signal"]) == (7, "__main__.event")

    text_file = tmp_path / "profile.txt"
    done = run_script(
        SCRIPT, FASTDISPATCH_PROFILE="1", FASTDISPATCH_PROFILE_FILE=str(text_file)
    )
    assert done.returncode == 0, done.stderr
    assert "__main__.on_event" in Path(text_file).read_text()


def test_without_the_environment_nothing_is_recorded():
    code = SCRIPT + "print(fastdispatch._native._profiling_active())\n"
    done = run_script(code, FASTDISPATCH_PROFILE="0")
    assert done.returncode == 0, done.stderr
    assert (done.stdout, done.stderr) == ("False\n", "")


def test_a_receiver_disconnected_but_alive_keeps_its_row():
    signal = Signal()

    class Sender:
        pass

    signal.connect(quick, sender=Sender, dispatch_uid="quick-uid")
    with profiling() as profile:
        signal.send(Sender)
        connected = profile.receivers[0]
        assert (connected.sender, connected.dispatch_uid) == (
            f"{__name__}.{Sender.__qualname__}",
            "quick-uid",
        )
        signal.disconnect(dispatch_uid="quick-uid", sender=Sender)
    (row,) = profile.receivers
    # Described by its code: any sender, no uid; its calls stay counted.
    assert (row.qualname, row.calls) == ("quick", 1)
    assert (row.sender, row.dispatch_uid, row.weak) == (None, None, False)
    assert row.senders == {f"{__name__}.{Sender.__qualname__}": 1}
