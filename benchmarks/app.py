#!/usr/bin/env python3
"""Application benchmark: whole Django workloads whose signals are part of
the work (model loads, saves and deletes, requests, ``override_settings``),
on SQLite in memory.

This file is a pyperf script: pyperf runs it in worker processes, one
workload per worker, and writes what it measured as JSON. Which dispatcher
the workers use is the interpreter's business: the native one when the
fastdispatch start-up hook is active, Django's own under
``FASTDISPATCH_DISABLE=1`` (the metadata ``dispatcher`` records which).
``benchmarks/app_compare.py`` runs it both ways, interleaved, and prints the
table; run alone it measures the one dispatcher it finds:

    python benchmarks/app.py -o native.json            # any pyperf options
    python benchmarks/app.py --rows load-none,save     # some workloads only
    python benchmarks/app.py --profile                 # share of send (cProfile)
    python benchmarks/app.py --callgrind               # see below

With ``--callgrind`` (under ``valgrind --tool=callgrind --collect-atstart=no
--toggle-collect=fastdispatch_bench_region --dump-after=fastdispatch_bench_region``)
each workload runs once, after a warm-up, inside the C function of
``_region.c``: callgrind counts only the instructions inside it and writes
one profile per workload.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import django  # noqa: E402
from django.conf import settings  # noqa: E402

# The middleware of a project made by `django-admin startproject`.
DEFAULT_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


def configure() -> None:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="application-benchmark",
        ALLOWED_HOSTS=["testserver"],
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
        },
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.sessions",
            "django.contrib.messages",
            "benchapp",
        ],
        MIDDLEWARE=DEFAULT_MIDDLEWARE,
        ROOT_URLCONF="benchapp.urls",
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    django.setup()
    # What a test run imports: django.test's own setting_changed receivers.
    importlib.import_module("django.test")
    from benchapp import models
    from django.db import connection

    with connection.schema_editor() as editor:
        for model in (
            models.Loaded,
            models.Tracked,
            models.Audited,
            models.Doomed,
            models.Plain,
            *models.OTHER_MODELS,
        ):
            editor.create_model(model)


def dispatcher() -> str:
    """``native`` when django.dispatch.Signal is fastdispatch's, else
    ``stock``."""
    from django.dispatch import Signal

    return "native" if Signal.__module__ == "fastdispatch" else "stock"


# --------------------------------------------------------------------------
# Receivers


def field_tracker(sender: Any, instance: Any, **kwargs: Any) -> None:
    instance._tracked = (instance.name, instance.value)


def second_tracker(sender: Any, instance: Any, **kwargs: Any) -> None:
    instance._loaded = True


def third_tracker(sender: Any, instance: Any, **kwargs: Any) -> None:
    instance._dirty = False


def audit(sender: Any, instance: Any, **kwargs: Any) -> None:
    instance._audited = True


def other_model_receiver(sender: Any, **kwargs: Any) -> None:
    pass


def connect_per_instance(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A mixin's way of following its own saves: every instance connects a
    bound method, once (its dispatch_uid), weakly (it goes with the
    instance)."""
    from django.db.models.signals import post_save

    post_save.connect(
        instance._on_saved,
        sender=sender,
        dispatch_uid=("tracked", id(instance)),
    )


def on_saved(self: Any, sender: Any, **kwargs: Any) -> None:
    self._saved = True


def listen_to_other_models(*signals: Any) -> None:
    from benchapp.models import OTHER_MODELS

    for signal in signals:
        for model in OTHER_MODELS:
            signal.connect(other_model_receiver, sender=model)


# --------------------------------------------------------------------------
# Workloads


@dataclass
class Workload:
    """One row: ``set_up()`` once per process, then per sample
    ``prepare()`` (not timed), ``run(state)`` (timed), ``tidy(state)`` (not
    timed)."""

    key: str
    title: str
    ops: int
    set_up: Callable[[], None]
    run: Callable[[Any], None]
    prepare: Callable[[], Any] = lambda: None
    tidy: Callable[[Any], None] = lambda state: None


def load_rows(model: Any, count: int) -> None:
    model.objects.bulk_create(
        [model(name=f"row {index}", value=index) for index in range(count)]
    )


def set_up_load_none() -> None:
    from benchapp.models import Loaded

    load_rows(Loaded, 10_000)


def set_up_load_trackers() -> None:
    from benchapp.models import Loaded
    from django.db.models.signals import post_init

    load_rows(Loaded, 10_000)
    for receiver in (field_tracker, second_tracker, third_tracker):
        post_init.connect(receiver, sender=Loaded)
    listen_to_other_models(post_init)


def run_load(state: Any) -> None:
    from benchapp.models import Loaded

    list(Loaded.objects.all())


def set_up_per_instance() -> None:
    from benchapp.models import Tracked
    from django.db.models.signals import post_init

    Tracked._on_saved = on_saved
    load_rows(Tracked, 5_000)
    post_init.connect(connect_per_instance, sender=Tracked)


def run_per_instance(state: Any) -> None:
    from benchapp.models import Tracked

    list(Tracked.objects.all())


def tidy_per_instance(state: Any) -> None:
    # The instances are gone, their receivers dead: Django removes them at
    # its next connect, so the next sample starts from the same state.
    from django.db.models.signals import post_save

    post_save.connect(other_model_receiver, dispatch_uid="tidy")
    post_save.disconnect(dispatch_uid="tidy")


def set_up_save() -> None:
    from benchapp.models import Audited
    from django.db.models.signals import post_save, pre_save

    pre_save.connect(audit, sender=Audited)
    post_save.connect(audit, sender=Audited)
    listen_to_other_models(pre_save, post_save)


def run_save(state: Any) -> None:
    from benchapp.models import Audited
    from django.db import transaction

    with transaction.atomic():
        for index in range(1_000):
            Audited(name="saved", value=index).save()


def tidy_save(state: Any) -> None:
    from benchapp.models import Audited

    Audited.objects.all().delete()


def set_up_delete() -> None:
    from benchapp.models import Doomed
    from django.db.models.signals import post_delete, pre_delete

    pre_delete.connect(audit, sender=Doomed)
    post_delete.connect(audit, sender=Doomed)
    listen_to_other_models(pre_delete, post_delete)


def prepare_doomed() -> Any:
    from benchapp.models import Doomed

    Doomed.objects.bulk_create([Doomed(name="doomed") for _ in range(1_000)])
    return list(Doomed.objects.all())


def run_delete_each(objects: Any) -> None:
    for obj in objects:
        obj.delete()


def run_delete_queryset(state: Any) -> None:
    from benchapp.models import Doomed

    Doomed.objects.all().delete()


def prepare_plain() -> Any:
    from benchapp.models import Plain

    Plain.objects.bulk_create([Plain(name="plain") for _ in range(1_000)])


def run_fast_delete(state: Any) -> None:
    from benchapp.models import Plain

    Plain.objects.all().delete()


def set_up_nothing() -> None:
    pass


def run_wsgi_requests(state: Any) -> None:
    from django.test import Client

    client = Client()
    for _ in range(1_000):
        client.get("/ping/")


def run_asgi_requests(state: Any) -> None:
    from django.test import AsyncClient

    async def requests() -> None:
        client = AsyncClient()
        for _ in range(1_000):
            await client.get("/ping/")

    asyncio.run(requests())


def run_override_settings(state: Any) -> None:
    from django.test import override_settings

    for _ in range(10_000):
        with override_settings(DEBUG=True):
            pass


WORKLOADS = [
    Workload(
        "load-none",
        "load 10,000 rows, nothing listening",
        10_000,
        set_up_load_none,
        run_load,
    ),
    Workload(
        "load-trackers",
        "load 10,000 rows, 3 post_init receivers, 50 models listened",
        10_000,
        set_up_load_trackers,
        run_load,
    ),
    Workload(
        "load-connect",
        "load 5,000 rows, each instance connects (dispatch_uid)",
        5_000,
        set_up_per_instance,
        run_per_instance,
        tidy=tidy_per_instance,
    ),
    Workload(
        "save",
        "save 1,000 rows, pre_save + post_save, 50 models listened",
        1_000,
        set_up_save,
        run_save,
        tidy=tidy_save,
    ),
    Workload(
        "delete-each",
        "delete 1,000 rows one by one, pre_delete + post_delete",
        1_000,
        set_up_delete,
        run_delete_each,
        prepare=prepare_doomed,
    ),
    Workload(
        "delete-queryset",
        "queryset delete of 1,000 rows, with delete receivers",
        1_000,
        set_up_delete,
        run_delete_queryset,
        prepare=prepare_doomed,
    ),
    Workload(
        "delete-fast",
        "queryset delete of 1,000 rows, nobody listening",
        1_000,
        set_up_nothing,
        run_fast_delete,
        prepare=prepare_plain,
    ),
    Workload(
        "wsgi",
        "1,000 requests, test Client (WSGI)",
        1_000,
        set_up_nothing,
        run_wsgi_requests,
    ),
    Workload(
        "asgi",
        "1,000 requests, AsyncClient (ASGI)",
        1_000,
        set_up_nothing,
        run_asgi_requests,
    ),
    Workload(
        "override-settings",
        "override_settings entered and left 10,000 times",
        10_000,
        set_up_nothing,
        run_override_settings,
    ),
]
BY_KEY = {workload.key: workload for workload in WORKLOADS}


class Runs:
    """A workload set up lazily: each pyperf worker runs one workload, and
    sets up only that one."""

    def __init__(self, workload: Workload) -> None:
        self.workload = workload
        self.ready = False

    def sample(self) -> float:
        if not self.ready:
            self.workload.set_up()
            self.ready = True
        state = self.workload.prepare()
        started = time.perf_counter()
        self.workload.run(state)
        elapsed = time.perf_counter() - started
        self.workload.tidy(state)
        return elapsed

    def time_loops(self, loops: int) -> float:
        return sum(self.sample() for _ in range(loops))


def selected(rows: str | None) -> list[Workload]:
    if not rows:
        return WORKLOADS
    unknown = [key for key in rows.split(",") if key not in BY_KEY]
    if unknown:
        raise SystemExit(f"unknown rows {unknown}; known: {sorted(BY_KEY)}")
    return [BY_KEY[key] for key in rows.split(",")]


def run_callgrind(rows: str | None) -> None:
    """Each workload once inside the region callgrind collects, after an
    uncollected warm-up run."""
    from compare import compile_extension

    region, error = compile_extension(
        HERE / "_region.c", "_benchregion", Path(os.environ["APP_BENCH_BUILD"])
    )
    if region is None:
        raise SystemExit(f"app.py: could not compile _region.c: {error}")
    for workload in selected(rows):
        runs = Runs(workload)
        runs.sample()  # set-up and warm-up: caches, imports, compiled SQL
        workload_state = workload.prepare()
        region.fastdispatch_bench_region(
            functools.partial(workload.run, workload_state)
        )
        workload.tidy(workload_state)
        print(workload.key, flush=True)


# The dispatcher's entry points whose time --profile adds up, by file.
SEND_METHODS = ("send", "send_robust", "asend", "asend_robust")


def run_profile(rows: str | None) -> None:
    """Each workload once under cProfile, after a warm-up: the share of its
    time spent in the dispatcher's send methods (receivers included), one
    JSON line per workload."""
    import cProfile
    import json
    import pstats

    for workload in selected(rows):
        runs = Runs(workload)
        runs.sample()
        state = workload.prepare()
        profiler = cProfile.Profile()
        profiler.runcall(workload.run, state)
        workload.tidy(state)
        stats = pstats.Stats(profiler)
        total = stats.total_tt  # type: ignore[attr-defined]
        in_send = sum(
            cumulative
            for (file, _, name), (_, calls, _, cumulative, callers) in (
                stats.stats.items()  # type: ignore[attr-defined]
            )
            if name in SEND_METHODS
            and file.endswith(os.path.join("dispatch", "dispatcher.py"))
            # Outermost calls only: a send inside a receiver is counted once.
            and not any(caller[2] in SEND_METHODS for caller in callers)
        )
        print(json.dumps({"key": workload.key, "send_share": in_send / total}))


def option(name: str) -> str | None:
    if name in sys.argv:
        return sys.argv[sys.argv.index(name) + 1]
    return None


def main() -> None:
    configure()
    if "--callgrind" in sys.argv:
        run_callgrind(option("--rows"))
        return
    if "--profile" in sys.argv:
        run_profile(option("--rows"))
        return

    import pyperf

    def forward_rows(command: list[str], args: Any) -> None:
        if args.rows:
            command.extend(("--rows", args.rows))

    runner = pyperf.Runner(add_cmdline_args=forward_rows)
    runner.argparser.add_argument("--rows", help="comma-separated workload keys")
    args = runner.parse_args()
    runner.metadata["dispatcher"] = dispatcher()
    runner.metadata["django_version"] = django.get_version()
    for workload in selected(args.rows):
        runner.bench_time_func(workload.title, Runs(workload).time_loops)


if __name__ == "__main__":
    main()
