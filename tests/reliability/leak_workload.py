"""The workload of ``test_rel_leaks.py``, run in a fresh interpreter so that
its memory use is its own:

    python leak_workload.py [--sends N] [--cycles N]

It warms up, takes the reference counts of every receiver, sender, keyword
value and dispatch_uid it uses and the resident memory of the process, then
sends N times (1,000,000 by default) in the ways send can go and runs N
connect/disconnect cycles (100,000 by default) of every kind of receiver,
collects garbage, and prints one JSON object: the counts before and after, the
resident memory before and after, and how long each phase took.
"""

import argparse
import asyncio
import gc
import inspect
import json
import logging
import os
import sys
import time
from pathlib import Path

# tests/, for the test-support package (run as a script, only
# tests/reliability is on sys.path).
sys.path.append(str(Path(__file__).resolve().parents[1]))

from support.django_layout import HAS_ASYNC  # noqa: E402
from support.reference import load_fastdispatch  # noqa: E402

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def resident_bytes():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE


class Sender:
    pass


class Holder:
    def __init__(self, name):
        self.name = name

    def method(self, **kwargs):
        return self.name

    def __call__(self, **kwargs):
        return self.name


def function_receiver(**kwargs):
    return "function"


def failing_receiver(**kwargs):
    raise ValueError("failing")


async def async_receiver(**kwargs):
    return "async"


def build(fastdispatch):
    objects = {
        "function_receiver": function_receiver,
        "failing_receiver": failing_receiver,
        "async_receiver": async_receiver,
        "method_holder": Holder("method"),
        "callable_receiver": Holder("callable"),
        "strong_receiver": Holder("strong"),
        "class_sender": Sender,
        "instance_sender": Sender(),
        "int_sender": int("1" * 30),  # cannot be weakly referenced
        "str_sender": "".join(["sender", "-", "str"]),
        "value_object": object(),
        "value_list": [1, 2, 3],
        "uid_string": "".join(["uid", "-", "string"]),
        "uid_tuple": ("uid", int("2" * 25)),
    }
    signals = {
        "plain": fastdispatch.Signal(),
        "caching": fastdispatch.Signal(use_caching=True),
        "specific": fastdispatch.Signal(),
        "robust": fastdispatch.Signal(),
        "async": fastdispatch.Signal(),
        "churn": fastdispatch.Signal(),
        "dying": fastdispatch.Signal(),
    }
    o, s = objects, signals
    s["plain"].connect(o["function_receiver"])
    s["caching"].connect(o["function_receiver"])
    s["caching"].connect(o["method_holder"].method, sender=o["class_sender"])
    s["specific"].connect(o["callable_receiver"], sender=o["instance_sender"])
    s["specific"].connect(o["strong_receiver"], sender=o["int_sender"], weak=False)
    s["specific"].connect(o["function_receiver"], dispatch_uid=o["uid_string"])
    s["robust"].connect(o["failing_receiver"])
    s["robust"].connect(o["method_holder"].method)
    s["async"].connect(o["function_receiver"])
    s["async"].connect(o["async_receiver"])
    return objects, signals


def sends(objects, signals, count):
    o, s = objects, signals
    value, values = o["value_object"], o["value_list"]
    plain, caching, specific = s["plain"].send, s["caching"].send, s["specific"].send
    robust = s["robust"].send_robust
    share = count // 10
    # 60%: one receiver, for any sender (the common case).
    for _ in range(count - 4 * share):
        plain(o["class_sender"], value=value)
    # 10% each: a caching signal, sender-specific receivers (three senders),
    # a positional-free keyword call, send_robust with a failing receiver.
    for _ in range(share):
        caching(o["class_sender"], value=value, other=values)
    for i in range(share):
        sender = (o["instance_sender"], o["int_sender"], o["str_sender"])[i % 3]
        specific(sender, value=value)
    for _ in range(share):
        s["plain"].send(sender=o["instance_sender"], value=values)
    for _ in range(share):
        robust(o["class_sender"], value=value)
    # A few async receivers (each send runs an event loop in a thread). Django
    # 4.2 has none: the coroutine function is called like any receiver, and
    # what it returned is closed here.
    for _ in range(max(1, count // 2000)):
        for _, response in s["async"].send(o["class_sender"], value=value):
            if inspect.iscoroutine(response):
                response.close()
        if HAS_ASYNC:
            asyncio.run(s["async"].asend(o["class_sender"], value=values))


def cycles(objects, signals, count):
    o = objects
    churn = signals["churn"]
    connect, disconnect = churn.connect, churn.disconnect
    share = count // 5
    for _ in range(share):
        connect(o["function_receiver"], sender=o["class_sender"])
        disconnect(o["function_receiver"], sender=o["class_sender"])
    for _ in range(share):
        connect(o["method_holder"].method)  # a new WeakMethod each time
        disconnect(o["method_holder"].method)
    for _ in range(share):
        connect(o["strong_receiver"], sender=o["int_sender"], weak=False)
        disconnect(o["strong_receiver"], sender=o["int_sender"])
    for _ in range(share):
        connect(o["callable_receiver"], dispatch_uid=o["uid_tuple"])
        disconnect(dispatch_uid=o["uid_tuple"])
    for _ in range(count - 4 * share):
        connect(o["async_receiver"], sender=o["instance_sender"], dispatch_uid="x")
        disconnect(sender=o["instance_sender"], dispatch_uid="x")


def dying(signals, count):
    """Receivers and senders that die while connected, removed by sends."""
    signal = signals["dying"]
    for _ in range(count):

        def receiver(**kwargs):
            return None

        class Gone:
            pass

        signal.connect(receiver)
        signal.connect(receiver, sender=Gone, weak=False)
        del receiver, Gone
        signal.send(None)
    gc.collect()
    signal.send(None)  # removes the rows of the senders that died
    signal.send(None)  # and those of the receivers that died with them


def refcounts(objects, signals):
    counts = {name: sys.getrefcount(obj) for name, obj in objects.items()}
    counts.update(
        {f"signal_{name}": sys.getrefcount(obj) for name, obj in signals.items()}
    )
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--sends", type=int, default=1_000_000)
    parser.add_argument("--cycles", type=int, default=100_000)
    args = parser.parse_args(argv)

    fastdispatch = load_fastdispatch()
    logging.getLogger("django.dispatch").disabled = True  # send_robust logs
    objects, signals = build(fastdispatch)
    # Warm up every path (caches, interned names, the event loop machinery).
    sends(objects, signals, 20_000)
    cycles(objects, signals, 5_000)
    dying(signals, 1_000)
    gc.collect()
    before = refcounts(objects, signals)
    rss_before = resident_bytes()
    timings = {}
    start = time.perf_counter()
    sends(objects, signals, args.sends)
    timings["sends"] = time.perf_counter() - start
    start = time.perf_counter()
    cycles(objects, signals, args.cycles)
    timings["cycles"] = time.perf_counter() - start
    start = time.perf_counter()
    dying(signals, args.cycles // 5)
    timings["dying"] = time.perf_counter() - start
    gc.collect()
    after = refcounts(objects, signals)
    rss_after = resident_bytes()
    receivers = {name: len(signal.receivers) for name, signal in signals.items()}
    print(
        json.dumps(
            {
                "sends": args.sends,
                "cycles": args.cycles,
                "dying": args.cycles // 5,
                "refcounts_before": before,
                "refcounts_after": after,
                "rss_before": rss_before,
                "rss_after": rss_after,
                "receivers_after": receivers,
                "timings": timings,
            }
        )
    )


if __name__ == "__main__":
    main()
