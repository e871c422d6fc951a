"""Eight threads connecting, disconnecting and sending on shared signals.

Checked: no crash, no deadlock (threads are joined with a timeout, and a
stuck thread fails the test with its stack instead of hanging it), receivers
connected and never disconnected are all still there at the end, and every
send's result is one some order of the operations could give:

* the permanent receivers, connected before the threads start, come first and
  in connection order, in every send;
* a thread's own receivers (only that thread connects and disconnects them)
  are exactly those it has connected, in the order it connected them;
* another thread's receiver appears only if it was connected at some moment
  during the send; no receiver appears twice; each returns its own name.

``RELIABILITY_THREAD_SECONDS`` sets how long the threads run (default 3).
"""

import gc
import os
import random
import sys
import threading
import time
import traceback
import weakref

import pytest
from support.reference import load_fastdispatch

fastdispatch = load_fastdispatch()
Signal = fastdispatch.Signal

THREADS = 8
SECONDS = float(os.environ.get("RELIABILITY_THREAD_SECONDS", "3"))
OWN_RECEIVERS = 6  # per thread
PERMANENT = 4
MIN_OPERATIONS = 200  # per thread


class Model:
    """A sender."""


class SlowUid:
    """A dispatch_uid whose ``==`` lets other threads run: all of them hash
    alike, so connect/disconnect compare them while holding the signal's
    lock."""

    def __init__(self, name):
        self.name = name

    def __hash__(self):
        return 1

    def __eq__(self, other):
        time.sleep(0)
        return isinstance(other, SlowUid) and other.name == self.name

    def __bool__(self):
        return True


def named_receiver(name):
    def receiver(**kwargs):
        return name

    receiver.__qualname__ = name
    return receiver


class Method:
    def __init__(self, name):
        self.name = name

    def __call__(self, **kwargs):
        return self.name

    def handle(self, **kwargs):
        return self.name


class History:
    """When each receiver was connected: intervals of perf_counter_ns."""

    def __init__(self):
        self.lock = threading.Lock()
        self.intervals = {}  # name -> [[connect_start, disconnect_end or None]]

    def connecting(self, name, start):
        with self.lock:
            self.intervals.setdefault(name, []).append([start, None])

    def disconnected(self, name, end):
        with self.lock:
            self.intervals[name][-1][1] = end

    def connected_during(self, name, start, end):
        with self.lock:
            return any(
                began <= end and (ended is None or ended >= start)
                for began, ended in self.intervals.get(name, ())
            )


class Worker:
    def __init__(self, index, signals, permanent_names, history, stop_at):
        self.index = index
        self.signals = signals
        self.permanent_names = permanent_names
        self.history = history
        self.stop_at = stop_at
        self.random = random.Random(index)
        self.error = None
        self.operations = 0
        self.sends = 0
        self.temporaries = 0
        self.deaths = []  # weak references reporting when temporaries die
        # name -> (receiver object kept alive, callable to connect, how)
        self.own = {}
        for slot in range(OWN_RECEIVERS):
            name = f"t{index}-{slot}"
            kind = slot % 3
            if kind == 0:
                obj = named_receiver(name)
                target = obj
            elif kind == 1:
                obj = Method(name)
                target = obj.handle
            else:
                obj = Method(name)
                target = obj
            self.own[name] = (obj, target, slot % 2 == 0)
        # Per signal: names connected, in connection order.
        self.connected = {id(signal): [] for signal in signals}
        # Odd threads connect for Model only, even ones for any sender; all
        # send from Model (a caching signal cannot look None up).
        self.sender = Model if index % 2 else None

    def uid_for(self, name, signal):
        # Half the receivers of the caching signal are connected with a uid.
        if signal.use_caching and int(name.rsplit("-", 1)[1]) % 2:
            return SlowUid(name)
        return None

    def connect(self, signal, name):
        _, target, weak = self.own[name]
        self.history.connecting(f"{id(signal)}:{name}", time.perf_counter_ns())
        signal.connect(
            target,
            sender=self.sender,
            weak=weak,
            dispatch_uid=self.uid_for(name, signal),
        )
        self.connected[id(signal)].append(name)

    def disconnect(self, signal, name):
        _, target, _ = self.own[name]
        uid = self.uid_for(name, signal)
        removed = signal.disconnect(
            None if uid else target, sender=self.sender, dispatch_uid=uid
        )
        self.history.disconnected(f"{id(signal)}:{name}", time.perf_counter_ns())
        assert removed, f"{name} was connected but disconnect() found nothing"
        self.connected[id(signal)].remove(name)

    def send(self, signal):
        sender = Model
        robust = self.random.random() < 0.3
        start = time.perf_counter_ns()
        if robust:
            responses = signal.send_robust(sender)
        else:
            responses = signal.send(sender)
        end = time.perf_counter_ns()
        self.sends += 1
        names = [response for _, response in responses]
        for receiver, response in responses:
            assert response == _name_of(receiver), (receiver, response)
        assert len(names) == len(set(names)), f"duplicate receivers: {names}"
        permanent = self.permanent_names[id(signal)]
        assert names[: len(permanent)] == permanent, (
            f"permanent receivers missing or out of order: {names}"
        )
        own_prefix = f"t{self.index}-"
        own = [name for name in names if name.startswith(own_prefix)]
        assert own == self.connected[id(signal)], (
            f"own receivers {own}, expected {self.connected[id(signal)]}"
        )
        for name in names[len(permanent) :]:
            if name.startswith(own_prefix):
                continue
            assert self.history.connected_during(f"{id(signal)}:{name}", start, end), (
                f"{name} was not connected at any moment of the send"
            )

    def run(self):
        try:
            # Until the time is up, and at least MIN_OPERATIONS in any case
            # (a thread the machine starves still does its share).
            while self.operations < MIN_OPERATIONS or time.monotonic() < self.stop_at:
                self.step()
                self.operations += 1
        except BaseException as err:  # reported by the main thread
            self.error = err

    def step(self):
        signal = self.random.choice(self.signals)
        choice = self.random.random()
        connected = self.connected[id(signal)]
        if choice < 0.25:
            candidates = [name for name in self.own if name not in connected]
            if candidates:
                self.connect(signal, self.random.choice(candidates))
        elif choice < 0.45:
            if connected:
                self.disconnect(signal, self.random.choice(connected))
        elif choice < 0.95:
            self.send(signal)
        elif choice < 0.97:
            assert signal.has_listeners(Model)
        elif choice < 0.98:
            # Hold the signal's lock from Python, GIL released meanwhile:
            # the other threads' calls must wait for it, then go on.
            with signal.lock:
                time.sleep(0.0005)
        else:
            # Weak references dying elsewhere flag dead receivers; collect.
            self.temporaries += 1
            name = f"gone{self.index}-{self.temporaries}"
            key = f"{id(signal)}:{name}"
            temporary = named_receiver(name)
            # Weakly connected, it stays "connected" until it dies, which is
            # when the last send holding it (in any thread) lets it go.
            history = self.history
            self.deaths = [death for death in self.deaths if death() is not None]
            self.deaths.append(
                weakref.ref(
                    temporary,
                    lambda _: history.disconnected(key, time.perf_counter_ns()),
                )
            )
            self.history.connecting(key, time.perf_counter_ns())
            signal.connect(temporary, sender=Model)
            del temporary  # dies now or soon: its weakref callback flags the signal
            gc.collect(0)


def _name_of(receiver):
    if hasattr(receiver, "__self__"):
        return receiver.__self__.name
    return getattr(receiver, "name", None) or receiver.__qualname__


def _stacks(threads):
    frames = sys._current_frames()
    out = []
    for thread in threads:
        frame = frames.get(thread.ident)
        if frame is not None:
            out.append(f"--- {thread.name}\n" + "".join(traceback.format_stack(frame)))
    return "\n".join(out)


@pytest.fixture
def fast_switching():
    # Switch threads as often as possible, to interleave more.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    yield
    sys.setswitchinterval(interval)


def test_threads_connect_disconnect_send(fast_switching):
    signals = [Signal(), Signal(use_caching=True)]
    permanent = {}
    permanent_objects = []
    for signal in signals:
        names = []
        for slot in range(PERMANENT):
            name = f"p{slot}"
            receiver = named_receiver(name)
            permanent_objects.append(receiver)
            # Alternately weak (kept alive here) and strong.
            signal.connect(receiver, weak=slot % 2 == 0)
            names.append(name)
        permanent[id(signal)] = names
    history = History()
    stop_at = time.monotonic() + SECONDS
    workers = [
        Worker(index, signals, permanent, history, stop_at) for index in range(THREADS)
    ]
    threads = [
        threading.Thread(target=worker.run, name=f"worker-{worker.index}", daemon=True)
        for worker in workers
    ]
    for thread in threads:
        thread.start()
    # Hang guard only: generous, since the machine is shared and noisy.
    join_by = time.monotonic() + SECONDS + 120
    for thread in threads:
        thread.join(timeout=max(0.0, join_by - time.monotonic()))
    stuck = [thread for thread in threads if thread.is_alive()]
    assert not stuck, (
        f"deadlock or livelock: {len(stuck)} thread(s) still running "
        f"{SECONDS + 120:.0f} s after start\n{_stacks(stuck)}"
    )
    errors = [(w.index, w.error) for w in workers if w.error is not None]
    for _, error in errors:
        traceback.print_exception(error)
    assert not errors, f"worker errors: {errors}"
    assert all(worker.operations >= MIN_OPERATIONS for worker in workers)

    gc.collect()
    for signal in signals:
        for sender in (None, Model) if not signal.use_caching else (Model,):
            names = [response for _, response in signal.send(sender)]
            expected = list(permanent[id(signal)])
            for worker in workers:
                if worker.sender is sender or worker.sender is None:
                    expected += worker.connected[id(signal)]
            # Own receivers of different threads interleave: compare as sets
            # after the permanent prefix, and each thread's in its order.
            assert names[:PERMANENT] == expected[:PERMANENT]
            assert sorted(names) == sorted(expected)
            for worker in workers:
                prefix = f"t{worker.index}-"
                mine = [name for name in names if name.startswith(prefix)]
                if worker.sender is sender or worker.sender is None:
                    assert mine == worker.connected[id(signal)]
    total = sum(worker.operations for worker in workers)
    print(f"{THREADS} threads x {SECONDS:g} s: {total} operations")
    # Receivers still alive: the permanent weak ones are still referenced.
    assert all(weakref.ref(r)() is not None for r in permanent_objects)
