#!/usr/bin/env python3
"""Side-by-side benchmark: fastdispatch against Django's own dispatcher,
blinker and psygnal, and against the floor (the receivers called from C).

One run measures every library on the same workload and prints one table;
the results also go to ``compare.json`` and ``compare.png`` in ``--out``
(default: ``bench-results/`` at the root of the repository). See
``benchmarks/README.md`` for how to read them.

    python benchmarks/compare.py            # full run, a few minutes
    python benchmarks/compare.py --quick    # smoke run, well under a minute

Before any row is timed, the script checks that every library calls the
receivers it should (fastdispatch: exactly the results Django returns, same
receivers in the same order) and stops with exit status 1 if one does not.
Nothing here asserts anything about timings.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import sysconfig
import time
import timeit
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from operator import methodcaller
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FLOOR_SOURCE = HERE / "_floor.c"
SUPPORT = REPO / "tests" / "support"

LIBRARIES = ("django", "fastdispatch", "blinker", "psygnal")
LIBRARY_LABELS = {
    "django": "Django",
    "fastdispatch": "fastdispatch",
    "blinker": "blinker",
    "psygnal": "psygnal",
}
# The receiver shape of each library, and so which floor it is compared to.
SHAPES = {
    "django": "kwargs",
    "fastdispatch": "kwargs",
    "blinker": "blinker",
    "psygnal": "positional",
}
# Column headings of the floors.
FLOOR_LABELS = {"kwargs": "floor kw", "blinker": "floor bl", "positional": "floor pos"}
# The kwargs floor that also builds Django's return value (call_collect).
RESULTS_KEY = "floor+results:kwargs"
SHAPE_LABELS = {
    "kwargs": "r(signal=, sender=, a=, b=)",
    "blinker": "r(sender, a=, b=)",
    "positional": "r(sender, a, b)",
}
# Django has asend and asend_robust from 5.0 on.
HAS_ASEND = tuple(map(int, importlib.metadata.version("django").split(".")[:2])) >= (
    5,
    0,
)

# Index of the receiver (and sender) that matches in the filtered-send row.
FILTER_MATCH = 50


class CheckFailed(Exception):
    """A library did not call the receivers it should have."""


# --------------------------------------------------------------------------
# Receivers: trivial functions, one distinct function object per call.


def make_kwargs_receiver():
    """Django's receiver shape (also fastdispatch's)."""

    def receiver(sender, **kwargs):
        return None

    return receiver


def make_async_receiver():
    """An async receiver of Django's shape."""

    async def receiver(sender, **kwargs):
        return None

    return receiver


def make_blinker_receiver():
    def receiver(sender, **kw):
        return None

    return receiver


def make_positional_receiver():
    """psygnal's: it calls slots positionally, with the signal's arguments."""

    def receiver(sender, a, b):
        return None

    return receiver


def make_recording_positional_receiver(log, index):
    def receiver(sender, a, b):
        log.append(index)

    return receiver


# --------------------------------------------------------------------------
# The libraries, behind one small interface.


def import_support(name):
    """``support.<name>``, a module of the test-support package
    ``tests/support``, which is not on ``sys.path`` here: the package is
    imported from its file, its modules then through it."""
    if "support" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "support", SUPPORT / "__init__.py"
        )
        package = importlib.util.module_from_spec(spec)
        sys.modules["support"] = package
        spec.loader.exec_module(package)
    return importlib.import_module(f"support.{name}")


def load_django_reference():
    """Django's pure-Python dispatcher module, from the installed Django's source
    file, under a name of its own so that the fastdispatch import shim (which
    replaces ``django.dispatch.dispatcher.Signal``) leaves it alone (the
    loader of ``tests/support/reference.py``)."""
    return import_support("reference").load_reference()


class DjangoStyle:
    """Django's reference dispatcher or fastdispatch (same API)."""

    make_receiver = staticmethod(make_kwargs_receiver)
    has_results = True

    def __init__(self, name, signal_class):
        self.name = name
        self.signal_class = signal_class

    def new_signal(self, caching=False):
        return self.signal_class(use_caching=caching)

    def connect(self, sig, receiver, sender=None):
        sig.connect(receiver, sender=sender)

    def disconnect(self, sig, receiver):
        return sig.disconnect(receiver)

    def send_stmt(self, robust):
        method = "send_robust" if robust else "send"
        return f"sig.{method}(S, a=1, b=2)"

    def send(self, sig, sender, robust):
        method = sig.send_robust if robust else sig.send
        return method(sender, a=1, b=2)

    def count(self, sig):
        return len(sig.receivers)

    def floor_args(self, sig, sender):
        return (sig, sender, 1, 2), ("signal", "sender", "a", "b")


class BlinkerLib:
    name = "blinker"
    make_receiver = staticmethod(make_blinker_receiver)
    has_results = True

    def __init__(self):
        import blinker

        self.blinker = blinker

    def new_signal(self, caching=False):
        return self.blinker.Signal()

    def connect(self, sig, receiver, sender=None):
        sig.connect(receiver, sender=self.blinker.ANY if sender is None else sender)

    def disconnect(self, sig, receiver):
        sig.disconnect(receiver)
        return True

    def send_stmt(self, robust):
        return "sig.send(S, a=1, b=2)"

    def send(self, sig, sender, robust):
        return sig.send(sender, a=1, b=2)

    def count(self, sig):
        return len(sig.receivers)

    def floor_args(self, sig, sender):
        return (sender, 1, 2), ("a", "b")


class PsygnalLib:
    name = "psygnal"
    make_receiver = staticmethod(make_positional_receiver)
    has_results = False  # emit() returns None: checked with recording receivers

    def __init__(self):
        import psygnal

        self.psygnal = psygnal

    def new_signal(self, caching=False):
        return self.psygnal.SignalInstance((object, int, int))

    def connect(self, sig, receiver, sender=None):
        assert sender is None, "psygnal has no sender filtering"
        sig.connect(receiver)

    def disconnect(self, sig, receiver):
        sig.disconnect(receiver)
        return True

    def send_stmt(self, robust):
        return "sig.emit(S, 1, 2)"

    def send(self, sig, sender, robust):
        return sig.emit(sender, 1, 2)

    def count(self, sig):
        return len(sig)

    def floor_args(self, sig, sender):
        return (sender, 1, 2), None


def load_libraries():
    missing = []
    for module in ("django", "fastdispatch", "blinker", "psygnal", "matplotlib"):
        if importlib.util.find_spec(module) is None:
            missing.append(module)
    if missing:
        raise SystemExit(
            f"compare.py: missing packages: {', '.join(missing)} "
            "(pip install blinker psygnal matplotlib; fastdispatch: the built wheel)"
        )
    import fastdispatch

    reference = load_django_reference()
    return {
        "django": DjangoStyle("django", reference.Signal),
        "fastdispatch": DjangoStyle("fastdispatch", fastdispatch.Signal),
        "blinker": BlinkerLib(),
        "psygnal": PsygnalLib(),
    }


# --------------------------------------------------------------------------
# The floor: the receivers called from C (benchmarks/_floor.c), or, where no C
# compiler is at hand, a stdlib stand-in (slower, so overheads come out lower).


def compile_extension(source, name, build_dir):
    """Compile the one-file C extension ``source`` (its module ``name``) once
    per source and interpreter into ``build_dir``, and import it. Returns
    (module, None), or (None, the compiler's error)."""
    code = source.read_bytes()
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    digest = hashlib.sha256(code + suffix.encode() + sys.version.encode())
    target = build_dir / f"{name}-{digest.hexdigest()[:12]}{suffix}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        compiler = shlex.split(
            os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
        )
        command = [
            *compiler,
            "-O2",
            "-shared",
            "-fPIC",
            f"-I{sysconfig.get_paths()['include']}",
            str(source),
            "-o",
            str(target) + ".tmp",
        ]
        try:
            subprocess.run(command, check=True, capture_output=True, text=True)
            os.replace(str(target) + ".tmp", target)
        except (OSError, subprocess.CalledProcessError) as err:
            return None, getattr(err, "stderr", "") or str(err)
    spec = importlib.util.spec_from_file_location(name, target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, None


def build_floor(out_dir):
    """Return (floor, description): floor.call_each calls the receivers,
    floor.call_collect also returns Django's list of (receiver, response)
    pairs. Compiles _floor.c once per source and interpreter into
    out_dir/.build."""
    module, error = compile_extension(FLOOR_SOURCE, "_benchfloor", out_dir / ".build")
    if module is not None:
        return module, "C loop, PyObject_Vectorcall (benchmarks/_floor.c)"

    def call_each(receivers, args, kwnames):
        npos = len(args) - len(kwnames or ())
        kwargs = dict(zip(kwnames or (), args[npos:], strict=True))
        deque(map(methodcaller("__call__", *args[:npos], **kwargs), receivers), 0)

    def call_collect(receivers, args, kwnames):
        npos = len(args) - len(kwnames or ())
        kwargs = dict(zip(kwnames or (), args[npos:], strict=True))
        return [(r, r(*args[:npos], **kwargs)) for r in receivers]

    print(
        f"compare.py: could not compile {FLOOR_SOURCE.name}, using the slower "
        f"methodcaller floor: {error.strip()[:300]}",
        file=sys.stderr,
    )
    floor = SimpleNamespace(call_each=call_each, call_collect=call_collect)
    return floor, "stdlib fallback: deque(map(methodcaller('__call__', ...)))"


# --------------------------------------------------------------------------
# Timing


@dataclass
class Timed:
    """One thing to time: a timeit statement, or a function run once per sample."""

    key: str
    stmt: str = ""
    namespace: dict = field(default_factory=dict)
    func: object = None
    repeats: int = 7
    number: int = 0
    samples: list = field(default_factory=list)  # seconds per operation

    def sample(self):
        if self.func is not None:
            gc_was_enabled = gc.isenabled()
            gc.disable()  # as timeit does
            try:
                start = time.perf_counter()
                self.func()
                elapsed = time.perf_counter() - start
            finally:
                if gc_was_enabled:
                    gc.enable()
            self.samples.append(elapsed)
        else:
            timer = timeit.Timer(self.stmt, globals=self.namespace)
            self.samples.append(timer.timeit(self.number) / self.number)

    def calibrate(self, min_time):
        """Loops per sample, 1, 2, 5, 10, ... until one sample takes min_time."""
        if self.func is not None:
            self.number = 1
            return
        timer = timeit.Timer(self.stmt, globals=self.namespace)
        number = 1
        while True:
            for step in (1, 2, 5):
                n = number * step
                if timer.timeit(n) >= min_time:
                    self.number = n
                    return
            number *= 10


def run_interleaved(items, min_time):
    """Sample every item in turns (rotating the order each round), so that a
    burst of load on this shared machine hits every library alike."""
    for item in items:
        item.calibrate(min_time)
    rounds = max(item.repeats for item in items)
    for round_no in range(rounds):
        shift = round_no % len(items)
        for item in items[shift:] + items[:shift]:
            if len(item.samples) < item.repeats:
                item.sample()


def summary(samples):
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "samples": samples,
    }


# --------------------------------------------------------------------------
# Rows


@dataclass
class Row:
    id: str
    label: str
    kind: str  # send | send_robust | filtered | asend | cycle | memory
    n: int = 0
    caching: bool = False
    measure: str = ""  # memory rows: tracemalloc | rss
    n_async: int = 0  # asend rows: async receivers (n: sync ones)
    robust: bool = False  # asend rows: asend_robust
    others: int = 0  # asend rows: receivers of other senders only


def _plural(n, word):
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


ROWS = [
    *(
        Row(f"send_{n}", f"send, {_plural(n, 'receiver')}", "send", n)
        for n in (0, 1, 10, 100)
    ),
    *(
        Row(
            f"send_cached_{n}",
            f"send, {_plural(n, 'receiver')}, caching",
            "send",
            n,
            True,
        )
        for n in (0, 1, 10, 100)
    ),
    Row("send_robust_10", "send_robust, 10 receivers", "send_robust", 10),
    Row("send_filtered_100", "send, 100 senders, 1 matches", "filtered", 100),
    *(
        Row(
            f"{method}_{n}",
            f"{method}, {_plural(n, 'sync receiver')}",
            "asend",
            n,
            robust=method == "asend_robust",
        )
        for method in ("asend", "asend_robust")
        for n in (0, 1, 10)
    ),
    *(
        Row(
            f"{method}_other_senders_10",
            f"{method}, 10 receivers, none for it",
            "asend",
            0,
            robust=method == "asend_robust",
            others=10,
        )
        for method in ("asend", "asend_robust")
    ),
    *(
        Row(
            f"{method}_async_{n}",
            f"{method}, {_plural(n, 'async receiver')}",
            "asend",
            0,
            n_async=n,
            robust=method == "asend_robust",
        )
        for method in ("asend", "asend_robust")
        for n in (1, 10)
    ),
    Row("cycle_1000", "connect+disconnect 1,000", "cycle", 1000),
    Row("cycle_10000", "connect+disconnect 10,000", "cycle", 10000),
    Row(
        "memory_tracemalloc",
        "memory/receiver, tracemalloc",
        "memory",
        measure="tracemalloc",
    ),
    Row("memory_rss", "memory/receiver, RSS", "memory", measure="rss"),
]


# The least ratio to Django (Django's time / fastdispatch's) each row must
# reach, on every supported Python; rows not named have no target. asend with
# sync receivers hands them to a thread as Django does, and with no receiver
# at all both are one coroutine that returns at once, so there the target is
# only not to be slower; with receivers for other senders only, Django builds
# its lists and gathers nothing, fastdispatch returns at once.
TARGETS = {
    "send_0": 3.0,
    "send_1": 4.0,
    "send_10": 2.5,
    "send_100": 2.0,
    "send_filtered_100": 15.0,
    "cycle_10000": 100.0,
    "asend_other_senders_10": 3.0,
    "asend_robust_other_senders_10": 3.0,
    **{
        f"{method}_{n}": 1.0 for method in ("asend", "asend_robust") for n in (0, 1, 10)
    },
}


def not_applicable(row, lib):
    """Why `lib` has no result in `row`, or None when it has one."""
    if row.caching and lib in ("blinker", "psygnal"):
        return "no receiver cache"
    if row.kind == "send_robust" and lib == "blinker":
        return "no send_robust (an exception in a receiver propagates)"
    if row.kind == "send_robust" and lib == "psygnal":
        return "no robust emit (an exception in a slot raises EmitLoopError)"
    if row.kind == "filtered" and lib == "psygnal":
        return "no sender filtering"
    if row.kind == "asend" and lib in ("blinker", "psygnal"):
        return "not compared in async sends (no Django-style asend)"
    if row.kind == "asend" and lib in ("django", "fastdispatch") and not HAS_ASEND:
        return "no asend before Django 5.0"
    return None


class Sender:
    """The sender of the send rows (a class, as Django's model signals use)."""


def receiver_indices(results, receivers):
    index = {id(r): i for i, r in enumerate(receivers)}
    return [index.get(id(r), -1) for r, _ in results]


def check_send_row(row, libs, setups, expected):
    """Check every library's receivers against `expected` (receiver indices);
    fastdispatch must return exactly what Django returns."""
    robust = row.kind == "send_robust"
    called = {}
    results = {}
    for name, setup in setups.items():
        lib = libs[name]
        if lib.count(setup["sig"]) != row.n:
            raise CheckFailed(
                f"{row.id}: {name} has {lib.count(setup['sig'])} receivers"
            )
        if lib.has_results:
            result = lib.send(setup["sig"], setup["sender"], robust)
            results[name] = result
            called[name] = receiver_indices(result, setup["receivers"])
            if any(response is not None for _, response in result):
                raise CheckFailed(f"{row.id}: {name} returned responses {result!r}")
        else:
            # psygnal returns nothing: the same set-up with recording receivers.
            log = []
            sig = lib.new_signal()
            for i in range(row.n):
                lib.connect(sig, make_recording_positional_receiver(log, i))
            lib.send(sig, setup["sender"], robust)
            called[name] = log
    for name, indices in called.items():
        # blinker keeps receivers in sets: same receivers, unspecified order.
        got = sorted(indices) if name == "blinker" else indices
        if got != expected:
            raise CheckFailed(f"{row.id}: {name} called {indices}, expected {expected}")
    if "fastdispatch" in results:
        if results["fastdispatch"] != results["django"]:
            raise CheckFailed(
                f"{row.id}: fastdispatch returned {results['fastdispatch']!r}, "
                f"Django {results['django']!r}"
            )
    check = {"expected": expected, "called": called}
    if "fastdispatch" in results:
        check["fastdispatch_equals_django"] = True
    return check


def run_send_row(row, libs, floor, settings):
    applicable = [name for name in LIBRARIES if not_applicable(row, name) is None]
    robust = row.kind == "send_robust"
    if row.kind == "filtered":
        senders = [type(f"Sender{i}", (), {}) for i in range(row.n)]
        sender = senders[FILTER_MATCH]
        expected = [FILTER_MATCH]
    else:
        senders = None
        sender = Sender
        expected = list(range(row.n))
    # Django and fastdispatch get the very same receiver objects, so that their
    # results can be compared as they are.
    kwargs_receivers = [make_kwargs_receiver() for _ in range(row.n)]
    setups = {}
    for name in applicable:
        lib = libs[name]
        if SHAPES[name] == "kwargs":
            receivers = kwargs_receivers
        else:
            receivers = [lib.make_receiver() for _ in range(row.n)]
        sig = lib.new_signal(row.caching)
        for i, receiver in enumerate(receivers):
            lib.connect(sig, receiver, senders[i] if senders else None)
        setups[name] = {"sig": sig, "receivers": receivers, "sender": sender}
    check = check_send_row(row, libs, setups, expected)

    items = []
    for name in applicable:
        namespace = {"sig": setups[name]["sig"], "S": sender}
        items.append(
            Timed(name, libs[name].send_stmt(robust), namespace, None, settings.repeat)
        )
    floor_for = {}
    for name in applicable:
        floor_for.setdefault(SHAPES[name], name)
    for shape, name in floor_for.items():
        setup = setups[name]
        called = [setup["receivers"][i] for i in expected]
        args, kwnames = libs[name].floor_args(setup["sig"], sender)
        namespace = {"floor": floor, "rs": called, "args": args, "kw": kwnames}
        floor.call_each(called, args, kwnames)  # raises if the arguments do not fit
        items.append(
            Timed(
                f"floor:{shape}",
                "floor.call_each(rs, args, kw)",
                namespace,
                None,
                settings.repeat,
            )
        )
        if shape == "kwargs":
            # What Django's return value costs by itself, over this floor.
            items.append(
                Timed(
                    RESULTS_KEY,
                    "floor.call_collect(rs, args, kw)",
                    namespace,
                    None,
                    settings.repeat,
                )
            )
    gc.collect()
    run_interleaved(items, settings.min_time)
    timings = {
        item.key: summary(item.samples) | {"number": item.number} for item in items
    }
    return timings, check


# asend rows: sends awaited one after another inside one coroutine, run once
# per timeit loop, so that the event loop's own start and stop are spread
# over them rather than timed with each send.
ASEND_BATCH = 100


def run_asend_row(row, libs, settings):
    """asend (or asend_robust) to row.n sync and row.n_async async receivers,
    Django against fastdispatch, awaited ASEND_BATCH times in a row inside a
    running event loop, as an ASGI request handler awaits request_started.
    With row.others, row.n is 0 and row.others receivers listen to other
    senders only."""
    import asyncio

    names = [name for name in LIBRARIES if not_applicable(row, name) is None]
    receivers = [make_kwargs_receiver() for _ in range(row.n)]
    receivers += [make_async_receiver() for _ in range(row.n_async)]
    others = [make_kwargs_receiver() for _ in range(row.others)]
    other_senders = [type(f"Other{i}", (), {}) for i in range(row.others)]
    method = "asend_robust" if row.robust else "asend"
    loop = asyncio.new_event_loop()
    items = []
    results = {}
    try:
        for name in names:
            sig = libs[name].new_signal()
            for receiver in receivers:
                libs[name].connect(sig, receiver)
            for receiver, sender in zip(others, other_senders, strict=True):
                libs[name].connect(sig, receiver, sender=sender)
            send = getattr(sig, method)
            results[name] = loop.run_until_complete(send(Sender, a=1, b=2))

            async def batch(send=send):
                for _ in range(ASEND_BATCH):
                    await send(Sender, a=1, b=2)

            namespace = {"run": loop.run_until_complete, "batch": batch}
            items.append(Timed(name, "run(batch())", namespace, None, settings.repeat))
        if results["fastdispatch"] != results["django"]:
            raise CheckFailed(
                f"{row.id}: fastdispatch returned {results['fastdispatch']!r}, "
                f"Django {results['django']!r}"
            )
        if [r for r, _ in results["django"]] != receivers:
            raise CheckFailed(f"{row.id}: Django called {results['django']!r}")
        gc.collect()
        run_interleaved(items, settings.min_time)
    finally:
        loop.close()
    for item in items:
        item.samples = [sample / ASEND_BATCH for sample in item.samples]
    timings = {
        item.key: summary(item.samples) | {"number": item.number * ASEND_BATCH}
        for item in items
    }
    check = {"receivers": len(receivers), "fastdispatch_equals_django": True}
    return timings, check


def run_cycle_row(row, libs, settings):
    """Connect row.n distinct receivers for any sender, then disconnect them all:
    the time of the whole cycle."""
    kwargs_receivers = [make_kwargs_receiver() for _ in range(row.n)]
    items = []
    sent = {}
    for name in LIBRARIES:
        lib = libs[name]
        if SHAPES[name] == "kwargs":
            receivers = kwargs_receivers
        else:
            receivers = [lib.make_receiver() for _ in range(row.n)]
        sig = lib.new_signal()
        connect = sig.connect
        disconnect = sig.disconnect

        # The checked cycle, timed without its checks.
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            for receiver in receivers:
                connect(receiver)
            connect_time = time.perf_counter() - start
        finally:
            gc.enable()
        if lib.count(sig) != row.n:
            raise CheckFailed(f"{row.id}: {name} has {lib.count(sig)} receivers")
        if lib.has_results:
            result = lib.send(sig, Sender, False)
            indices = receiver_indices(result, receivers)
            if name == "blinker":
                indices = sorted(indices)
            if indices != list(range(row.n)):
                raise CheckFailed(f"{row.id}: {name} sends to the wrong receivers")
            sent[name] = result
        gc.disable()
        try:
            start = time.perf_counter()
            answers = [disconnect(receiver) for receiver in receivers]
            disconnect_time = time.perf_counter() - start
        finally:
            gc.enable()
        if lib.count(sig) != 0 or (
            name in ("django", "fastdispatch") and not all(answers)
        ):
            raise CheckFailed(f"{row.id}: {name} did not disconnect every receiver")

        def cycle(connect=connect, disconnect=disconnect, receivers=receivers):
            for receiver in receivers:
                connect(receiver)
            for receiver in receivers:
                disconnect(receiver)

        slow = name == "django" and row.n >= 10000
        repeats = settings.slow_repeat if slow else settings.cycle_repeat
        item = Timed(name, func=cycle, repeats=repeats)
        if repeats == 0:
            # Too slow to run again in this mode: the checked cycle is the sample.
            item.repeats = 1
            item.samples.append(connect_time + disconnect_time)
        items.append(item)
    if sent["fastdispatch"] != sent["django"]:
        raise CheckFailed(f"{row.id}: fastdispatch and Django send differently")
    check = {"connected": row.n, "fastdispatch_equals_django": True}
    gc.collect()
    run_interleaved(items, settings.min_time)
    timings = {item.key: summary(item.samples) | {"number": 1} for item in items}
    return timings, check


# --------------------------------------------------------------------------
# Memory, each measure in a fresh interpreter (so that memory freed by earlier
# rows does not absorb the new allocations).


def rss_bytes():
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def memory_child(name, measure, n):
    """Run in the child: connect n distinct receivers (kept alive in a list) to
    a new signal; print the bytes allocated per receiver as JSON."""
    import tracemalloc

    libs = load_libraries()
    lib = libs[name]
    sig = lib.new_signal()
    receivers = [lib.make_receiver() for _ in range(n)]
    # Warm up: the first connect may import or build one-time structures.
    warm = lib.make_receiver()
    lib.connect(sig, warm)
    lib.disconnect(sig, warm)
    gc.collect()
    if measure == "tracemalloc":
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
    else:
        before = rss_bytes()
    for receiver in receivers:
        lib.connect(sig, receiver)
    gc.collect()
    if measure == "tracemalloc":
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    else:
        after = rss_bytes()
    if lib.count(sig) != n:
        raise CheckFailed(f"memory: {name} has {lib.count(sig)} receivers, not {n}")
    json.dump({"bytes": after - before, "n": n}, sys.stdout)


def run_memory_row(row, settings):
    results = {}
    for name in LIBRARIES:
        if row.measure == "tracemalloc":
            n = settings.memory_n
        else:
            n = settings.rss_n_django if name == "django" else settings.rss_n
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--memory-child",
            name,
            row.measure,
            str(n),
        ]
        child = subprocess.run(command, capture_output=True, text=True)
        if child.returncode != 0:
            raise CheckFailed(f"{row.id}: {name}: {child.stderr.strip()}")
        data = json.loads(child.stdout)
        results[name] = {
            "median": data["bytes"] / data["n"],
            "n": data["n"],
            "delta_bytes": data["bytes"],
        }
    return results, {"connected": {name: r["n"] for name, r in results.items()}}


# --------------------------------------------------------------------------
# Report


def machine_info():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average_start": list(os.getloadavg()),
    }


def package_version(distribution):
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def versions():
    import django
    import psygnal

    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "django": django.get_version(),
        "fastdispatch": package_version("django-fastdispatch"),
        "blinker": package_version("blinker"),
        "psygnal": package_version("psygnal")
        + (" (compiled)" if getattr(psygnal, "_compiled", False) else ""),
    }


def git_revision():
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty.strip() else "")


def fmt_time(seconds, micro):
    ns = seconds * 1e9
    for limit, scale, unit in ((1e3, 1, "ns"), (1e6, 1e3, micro), (1e9, 1e6, "ms")):
        if abs(ns) < limit:
            value = ns / scale
            return f"{value:.0f} {unit}" if abs(value) >= 100 else f"{value:.3g} {unit}"
    return f"{ns / 1e9:.3g} s"


def fmt_value(row, value, micro):
    if row.kind == "memory":
        return f"{value:.0f} B"
    return fmt_time(value, micro)


def render_table(report):
    micro = "µs"
    try:
        micro.encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        micro = "us"
    meta = report["meta"]
    rows = {row.id: row for row in ROWS}
    lines = []
    m, v = meta["machine"], meta["versions"]
    lines.append("fastdispatch side-by-side benchmark")
    lines.append(
        f"  date:     {meta['date']}   mode: {meta['mode']}   "
        f"git: {meta['git'] or 'n/a'}"
    )
    lines.append(
        f"  machine:  {m['platform']}, {m['cpu']}, {m['cores']} cores, "
        f"load average {m['load_average_start'][0]:.2f} at start, "
        f"{meta['load_average_end'][0]:.2f} at end"
    )
    lines.append(
        f"  versions: {v['python']}, Django {v['django']}, fastdispatch "
        f"{v['fastdispatch']}, blinker {v['blinker']}, psygnal {v['psygnal']}"
    )
    lines.append(
        f"  timing:   {meta['statistic']} of {meta['repeat']} runs per send row "
        f"(>= {meta['min_time'] * 1e3:g} ms each), {meta['cycle_repeat']} "
        f"per cycle row (Django 10,000: {meta['slow_repeat'] or 1}); "
        f"gc off while timing; the timing loop itself "
        f"{meta['loop_overhead'] * 1e9:.1f} ns is included"
    )
    lines.append(f"  floor:    {meta['floor']}")
    lines.append("")
    width = 30
    col = 13

    def table(title, columns, cell, wanted=lambda row: True):
        lines.append(title)
        header = " " * width + "".join(f"{c:>{col}}" for c, _ in columns)
        lines.append(header)
        lines.append("-" * len(header))
        for result in report["rows"]:
            row = rows[result["id"]]
            if wanted(row):
                cells = "".join(
                    f"{cell(row, result, key):>{col}}" for _, key in columns
                )
                lines.append(f"{row.label:<{width}}{cells}")
        lines.append("")

    lib_columns = [(LIBRARY_LABELS[name], name) for name in LIBRARIES]

    def time_cell(row, result, key):
        entry = result["results"].get(key)
        return "n/a" if entry is None else fmt_value(row, entry["value"], micro)

    def ratio_cell(row, result, key):
        entry = result["results"].get(key)
        return "n/a" if entry is None else f"{entry['ratio_to_django']:.2f}x"

    table(
        f"Time per operation ({meta['statistic']}); "
        "memory: bytes per connected receiver",
        lib_columns,
        time_cell,
    )
    table(
        "Ratio to Django (Django / library: above 1 = faster or smaller)",
        [(label, key) for label, key in lib_columns if key != "django"],
        ratio_cell,
    )

    targeted = [result for result in report["rows"] if result.get("target") is not None]
    if targeted:
        lines.append("Targets (fastdispatch's ratio to Django, at least)")
        for result in targeted:
            ratio = result["results"]["fastdispatch"]["ratio_to_django"]
            verdict = "met" if ratio >= result["target"] else "MISSED"
            lines.append(
                f"{result['label']:<{width}}{ratio:>{col - 1}.2f}x"
                f"{result['target']:>{col - 1}g}x   {verdict}"
            )
        lines.append("")

    overhead_columns = []
    for shape, names in (
        ("kwargs", ("django", "fastdispatch")),
        ("blinker", ("blinker",)),
        ("positional", ("psygnal",)),
    ):
        overhead_columns.append((FLOOR_LABELS[shape], f"floor:{shape}"))
        if shape == "kwargs":
            overhead_columns.append(("results", RESULTS_KEY))
        overhead_columns += [(LIBRARY_LABELS[name], name) for name in names]

    def overhead_cell(row, result, key):
        if key == RESULTS_KEY:
            entry = result.get("results_floor")
            return "n/a" if entry is None else fmt_time(entry["cost"], micro)
        if key.startswith("floor:"):
            entry = result["floors"].get(key[len("floor:") :])
            return "n/a" if entry is None else fmt_time(entry["value"], micro)
        entry = result["results"].get(key)
        return "n/a" if entry is None else fmt_time(entry["overhead"], micro)

    table(
        "Dispatcher overhead: time minus the library's own floor "
        "(floor = its receivers called from C)",
        overhead_columns,
        overhead_cell,
        wanted=lambda row: row.kind in ("send", "send_robust", "filtered"),
    )
    lines.append(
        "Overheads are over each library's OWN floor: "
        + "; ".join(
            f"{FLOOR_LABELS[shape]!r} calls {SHAPE_LABELS[shape]}"
            for shape in ("kwargs", "blinker", "positional")
        )
        + "."
    )
    lines.append(
        "'results': what Django's return value, the list of (receiver, response) "
        "pairs, costs by itself: the same C loop building it, minus 'floor kw'. "
        "Django's and fastdispatch's overheads include it; no dispatcher "
        "returning that list can go below it."
    )
    lines.append(
        "n/a: "
        + "; ".join(
            f"{LIBRARY_LABELS[lib]} {reason}" for lib, reason in meta["not_applicable"]
        )
    )
    memory = meta["memory"]
    lines.append(
        f"Memory: 'tracemalloc' = Python allocations traced while connecting "
        f"{memory['tracemalloc_n']:,} receivers (misses Rust's own allocations, so "
        f"it undercounts fastdispatch); 'RSS' = resident set growth while "
        f"connecting {memory['rss_n']:,} (Django: {memory['rss_n_django']:,}, its "
        f"connect is quadratic) - counts everything, allocator slack included."
    )
    return "\n".join(lines)


def plot(report, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = {row.id: row for row in ROWS}
    others = [name for name in LIBRARIES if name != "django"]
    labels = [rows[result["id"]].label for result in report["rows"]]
    height = 0.8 / len(others)
    colors = {"fastdispatch": "#d9480f", "blinker": "#1c7ed6", "psygnal": "#37b24d"}
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(labels) + 1.8))
    for k, name in enumerate(others):
        ys, ratios = [], []
        for i, result in enumerate(report["rows"]):
            entry = result["results"].get(name)
            y = i + (k - (len(others) - 1) / 2) * height
            if entry is None:
                ax.text(1.0, y, " n/a", va="center", fontsize=6, color=colors[name])
                continue
            ys.append(y)
            ratios.append(entry["ratio_to_django"])
        ax.barh(ys, ratios, height=height, color=colors[name], label=name)
        for y, ratio in zip(ys, ratios, strict=True):
            text = f"{ratio:.0f}x" if ratio >= 10 else f"{ratio:.2g}x"
            ax.text(ratio, y, " " + text, va="center", fontsize=6)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xscale("log")
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(
        "Django / library (log scale; right of 1 = faster or smaller than Django)"
    )
    meta = report["meta"]
    ax.set_title(
        f"Ratio to Django {meta['versions']['django']} "
        f"({meta['mode']} run, {meta['date'][:10]})",
        fontsize=10,
    )
    ax.grid(axis="x", which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.text(
        0.01,
        0.005,
        "tracemalloc does not see fastdispatch's Rust allocations: "
        "its RSS row is the fair memory comparison.",
        fontsize=7,
        color="dimgray",
    )
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------


@dataclass
class Settings:
    mode: str
    repeat: int
    min_time: float
    cycle_repeat: int
    slow_repeat: int
    memory_n: int
    rss_n: int
    rss_n_django: int
    statistic: str = "median"


def settings_for(args):
    if args.quick:
        settings = Settings("quick", 3, 0.002, 3, 0, 2000, 20000, 2000)
    else:
        settings = Settings("full", 11, 0.1, 9, 3, 10000, 200000, 10000)
    if args.repeat:
        settings.repeat = settings.cycle_repeat = args.repeat
    settings.statistic = args.statistic
    return settings


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer and shorter runs: a smoke run, not a measurement",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "bench-results",
        help="directory for compare.json and compare.png (default: %(default)s)",
    )
    parser.add_argument(
        "--repeat", type=int, default=0, help="runs per row (default: 11, quick: 3)"
    )
    parser.add_argument(
        "--statistic",
        choices=("median", "min"),
        default="median",
        help="which statistic of the runs the table shows and the ratios and "
        "overheads use (default: median; min is steadier on a loaded machine)",
    )
    parser.add_argument(
        "--memory-child",
        nargs=3,
        metavar=("LIB", "MEASURE", "N"),
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args(argv)
    if args.memory_child:
        name, measure, n = args.memory_child
        memory_child(name, measure, int(n))
        return 0

    settings = settings_for(args)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    libs = load_libraries()
    floor, floor_description = build_floor(out)
    started = time.perf_counter()
    meta = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "mode": settings.mode,
        "git": git_revision(),
        "machine": machine_info(),
        "versions": versions(),
        "django_reference": load_django_reference().__file__,
        "floor": floor_description,
        "statistic": settings.statistic,
        "repeat": settings.repeat,
        "min_time": settings.min_time,
        "cycle_repeat": settings.cycle_repeat,
        "slow_repeat": settings.slow_repeat,
        "memory": {
            "tracemalloc_n": settings.memory_n,
            "rss_n": settings.rss_n,
            "rss_n_django": settings.rss_n_django,
        },
        "loop_overhead": min(timeit.Timer("pass").repeat(5, 1_000_000)) / 1_000_000,
        "libraries": list(LIBRARIES),
        "shapes": SHAPES,
        "not_applicable": sorted(
            {
                (lib, reason)
                for row in ROWS
                for lib in LIBRARIES
                if (reason := not_applicable(row, lib))
            }
        ),
    }
    report_rows = []
    try:
        for row in ROWS:
            print(f"  {row.label} ...", file=sys.stderr, flush=True)
            if row.kind == "cycle":
                timings, check = run_cycle_row(row, libs, settings)
            elif row.kind == "memory":
                timings, check = run_memory_row(row, settings)
            elif row.kind == "asend":
                if not HAS_ASEND:
                    continue
                timings, check = run_asend_row(row, libs, settings)
            else:
                timings, check = run_send_row(row, libs, floor, settings)
            report_rows.append(assemble_row(row, timings, check, settings.statistic))
    except CheckFailed as err:
        print(f"compare.py: correctness check failed: {err}", file=sys.stderr)
        return 1
    meta["load_average_end"] = list(os.getloadavg())
    meta["seconds"] = round(time.perf_counter() - started, 1)
    report = {"meta": meta, "rows": report_rows}

    print(render_table(report))
    (out / "compare.json").write_text(json.dumps(report, indent=1) + "\n")
    plot(report, out / "compare.png")
    print(
        f"\nwrote {out / 'compare.json'} and {out / 'compare.png'} "
        f"({meta['seconds']} s)"
    )
    return 0


def assemble_row(row, timings, check, statistic):
    """One row of the report: `value` is the chosen statistic of the samples
    (memory rows: the one measurement), and the ratio and overhead use it."""
    for entry in timings.values():
        entry["value"] = entry.get(statistic, entry["median"])
    django = timings["django"]["value"]
    results = {}
    floors = {}
    for shape in ("kwargs", "blinker", "positional"):
        if f"floor:{shape}" in timings:
            floors[shape] = timings[f"floor:{shape}"]
    results_floor = timings.get(RESULTS_KEY)
    if results_floor is not None:
        results_floor = dict(results_floor)
        results_floor["cost"] = results_floor["value"] - floors["kwargs"]["value"]
    for name in LIBRARIES:
        if name not in timings:
            results[name] = None
            continue
        entry = dict(timings[name])
        entry["ratio_to_django"] = django / entry["value"]
        floor = floors.get(SHAPES[name])
        if floor is not None:
            entry["floor"] = floor["value"]
            entry["overhead"] = entry["value"] - floor["value"]
        results[name] = entry
    return {
        "id": row.id,
        "label": row.label,
        "kind": row.kind,
        "n": row.n,
        "caching": row.caching,
        "unit": "bytes per receiver" if row.kind == "memory" else "seconds",
        "results": results,
        "floors": floors,
        "results_floor": results_floor,
        "not_applicable": {
            name: not_applicable(row, name)
            for name in LIBRARIES
            if not_applicable(row, name)
        },
        "check": check,
        "target": TARGETS.get(row.id),
    }


if __name__ == "__main__":
    sys.exit(main())
