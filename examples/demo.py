"""A small Django project on fastdispatch's native dispatcher.

Run with ``make demo`` (or ``.venv/bin/python examples/demo.py`` once the
package is installed). The project is configured here, in-process: an
in-memory SQLite database, Django's auth and contenttypes apps and ``demoapp``
(one model, one view). Nothing in it mentions fastdispatch except this report
and the ``fastdispatch`` app, installed for its ``signals`` command: the
installed shim makes ``django.dispatch.Signal`` the native class. Then
``demo_registration`` runs fastdispatch.registration's two-phase workflow.

Set ``FASTDISPATCH_DISABLE=1`` to run the same demo on Django's own dispatcher.
"""

import asyncio
import io
import logging
import sys
from pathlib import Path

import django
from django.conf import settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

import demo_registration  # noqa: E402

settings.configure(
    DEBUG=False,
    SECRET_KEY="demo-only-not-secret",
    ALLOWED_HOSTS=["testserver"],
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "demoapp",
        "fastdispatch",
        *demo_registration.APPS,
    ],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    ROOT_URLCONF="demoapp.urls",
    MIDDLEWARE=[],
    USE_TZ=True,
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    **demo_registration.SETTINGS,
)
django.setup()

from demoapp.models import Note  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.signals import request_finished, request_started  # noqa: E402
from django.db.models.signals import post_migrate, post_save  # noqa: E402
from django.dispatch import Signal, receiver  # noqa: E402
from django.test import Client  # noqa: E402


def heading(title):
    print(f"\n== {title}")


def show_results(results):
    for func, response in results:
        print(f"   {func.__name__:<16} -> {response!r}")


def which_dispatcher():
    heading("Dispatcher")
    print(f"   Django {django.get_version()}, Python {sys.version.split()[0]}")
    try:
        import fastdispatch
        from fastdispatch import _native
    except ImportError:
        fastdispatch = None
    if fastdispatch is not None and Signal is fastdispatch.Signal:
        print("   django.dispatch.Signal is fastdispatch.Signal (native)")
        print(f"   loaded from {_native.__file__}")
    else:
        print(f"   django.dispatch.Signal is {Signal.__module__}.Signal (Django's own)")
    base = type(post_save).__mro__[1]
    print(
        f"   post_save is a {type(post_save).__name__}, "
        f"subclass of {base.__module__}.{base.__qualname__}"
    )


def migrate():
    heading("migrate --run-syncdb")
    migrated = []

    @receiver(post_migrate)
    def count_apps(sender, app_config, **kwargs):
        migrated.append(app_config.label)

    call_command("migrate", run_syncdb=True, verbosity=0)
    post_migrate.disconnect(count_apps)
    print(f"   post_migrate fired for: {', '.join(migrated)}")


def model_signals():
    heading("post_save receiver for Note")
    fired = []

    @receiver(post_save, sender=Note)
    def note_saved(sender, instance, created, **kwargs):
        fired.append(f"{'created' if created else 'updated'} note {instance.pk}")

    note = Note.objects.create(text="hello")
    print(f"   Note.objects.create(text='hello') -> post_save: {fired[-1]}")
    note.text = "hello again"
    note.save()
    print(f"   note.save()                       -> post_save: {fired[-1]}")
    post_save.disconnect(note_saved, sender=Note)


def request_signals():
    heading("request_started / request_finished (test client GET /ping/)")
    fired = []

    def started(sender, environ, **kwargs):
        fired.append(f"request_started {environ['PATH_INFO']}")

    def finished(sender, **kwargs):
        fired.append("request_finished")

    request_started.connect(started)
    request_finished.connect(finished)
    response = Client().get("/ping/")
    request_started.disconnect(started)
    request_finished.disconnect(finished)
    for event in fired:
        print(f"   {event}")
    print(f"   view answered {response.status_code} {response.content!r}")


order_placed = Signal()


@receiver(order_placed)
def bill(sender, order, **kwargs):
    return f"billed order {order}"


# Async receivers and asend() came with Django 5.0; the native Signal follows
# the installed Django.
HAS_ASYNC = django.VERSION >= (5, 0)

if HAS_ASYNC:

    @receiver(order_placed)
    async def notify(sender, order, **kwargs):
        await asyncio.sleep(0)
        return f"notified about order {order}"

else:

    @receiver(order_placed)
    def notify(sender, order, **kwargs):
        return f"notified about order {order}"


def custom_signal():
    kind = "an async" if HAS_ASYNC else "another sync"
    heading(f"custom Signal(): a sync and {kind} receiver")
    print("   send():")
    show_results(order_placed.send(sender="shop", order=42))
    if HAS_ASYNC:
        print("   asend():")
        show_results(asyncio.run(order_placed.asend(sender="shop", order=43)))


class PrintLogged(logging.Handler):
    def emit(self, record):
        print(f"   logged on {record.name!r}: {record.getMessage()}")


def robust_send():
    heading("send_robust(): a failing receiver does not stop the others")
    checked = Signal()

    def fine(sender, **kwargs):
        return "fine"

    def broken(sender, **kwargs):
        raise ValueError("boom")

    def also_fine(sender, **kwargs):
        return "also fine"

    for func in (fine, broken, also_fine):
        checked.connect(func)
    logger = logging.getLogger("django.dispatch")
    handler = PrintLogged()
    logger.addHandler(handler)
    try:
        show_results(checked.send_robust(sender=None))
    finally:
        logger.removeHandler(handler)


def signals_command():
    heading("manage.py signals: the live signals and their receivers")
    import fastdispatch

    if Signal is not fastdispatch.Signal:
        print("   (skipped: the command describes native signals only)")
        return

    def announce_note(sender, instance, **kwargs):
        pass

    post_save.connect(announce_note, sender=Note)
    for args in [
        ["--signal", "post_save"],
        ["--signal", "order_placed", "--format", "json"],
    ]:
        out = io.StringIO()
        call_command("signals", *args, stdout=out)
        print(f"\n   $ manage.py signals {' '.join(args)}")
        for line in out.getvalue().splitlines():
            print(f"   {line}".rstrip())
    post_save.disconnect(announce_note, sender=Note)


def profile_workload():
    heading("fastdispatch.profiling(): which receivers take the time")
    import time

    import fastdispatch

    if Signal is not fastdispatch.Signal:
        print("   (skipped: only the native signals time their receivers)")
        return

    def index_note(sender, instance, **kwargs):
        # Some work per save: a search index update, say.
        sum(len(word) for word in instance.text.split() * 200)

    def audit_note(sender, instance, created, **kwargs):
        # A slow one: a call to another service.
        time.sleep(0.002)

    def count_request(sender, **kwargs):
        pass

    post_save.connect(index_note, sender=Note)
    post_save.connect(audit_note, sender=Note)
    request_finished.connect(count_request)
    client = Client()
    try:
        with fastdispatch.profiling() as profile:
            for n in range(20):
                Note.objects.create(text=f"note number {n} of the demo")
            for _ in range(5):
                client.get("/ping/")
            order_placed.send_robust(sender="shop", order=44)
    finally:
        post_save.disconnect(index_note, sender=Note)
        post_save.disconnect(audit_note, sender=Note)
        request_finished.disconnect(count_request)
    print("   20 notes saved, 5 requests, 1 order placed:\n")
    for line in profile.to_text().splitlines():
        print(f"   {line}".rstrip())


def main():
    which_dispatcher()
    migrate()
    model_signals()
    request_signals()
    custom_signal()
    robust_send()
    signals_command()
    profile_workload()
    demo_registration.run(heading)
    return 0


if __name__ == "__main__":
    sys.exit(main())
