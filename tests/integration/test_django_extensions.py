"""django-extensions' ``list_signals`` command, on the native signals and on
Django's own, each in a fresh interpreter (``stock_vs_native``).

The command finds every ``ModelSignal`` with ``gc.get_objects()`` and walks
its ``receivers``, unpacking each entry the way it believes the running
Django lays them out: ``lookup, receiver, is_async`` from Django 5.0 on,
``lookup, receiver`` before. It lists a receiver under the model whose id is
the sender part of the lookup key, with its module, name, first source line
and ``(async)``. So its output (or its crash) depends on exactly the
internals a Django version has: under Django X the native signals must give
what X's own give, line for line and error for error. Django 6.0 added a
fourth field (the sender's weak reference), which the command does not
expect: there it fails on stock Django too, and must fail the same way.

The scenarios run on the integration settings with ``INSTALLED_APPS`` of
their own, in the child only: ``django_extensions`` added (the other
integration tests do not load it) and ``debug_toolbar`` left out. Where
psycopg is installed, the toolbar's SQL panel imports GeoDjango's PostGIS
adapter, which makes a lazy object for the GEOS library; the command's
``isinstance`` check on each of ``gc.get_objects()`` evaluates it, and fails
with ``ImportError`` where GEOS is missing, on either dispatcher.
"""

import gc
import inspect
import io

import django

from integration.stock_vs_native import compare, setup_django

MODULE = __name__
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django_extensions",
    "integration.testapp",
]
ON_6 = django.VERSION >= (6, 0)


# --- receivers, connected in the child ---------------------------------------


def weak_receiver(sender, **kwargs):
    pass


def strong_receiver(sender, **kwargs):
    pass


def uid_receiver(sender, **kwargs):
    pass


async def async_receiver(sender, **kwargs):
    pass


def any_sender_receiver(sender, **kwargs):
    pass


class Listener:
    def on_book_saved(self, sender, **kwargs):
        pass


def list_signals():
    from django.core.management import call_command

    out = io.StringIO()
    call_command("list_signals", stdout=out)
    return out.getvalue()


def listed_receivers():
    """Receivers of every kind, each limited to a model, then the command."""
    setup_django(INSTALLED_APPS=INSTALLED_APPS, migrate=False)
    from django.db.models.signals import post_delete, post_save, pre_save

    from integration.testapp.models import Author, Book

    def transient(sender, **kwargs):
        pass

    listener = Listener()
    pre_save.connect(weak_receiver, sender=Author)
    post_save.connect(transient, sender=Author)
    post_save.connect(strong_receiver, sender=Author, weak=False)
    post_save.connect(listener.on_book_saved, sender=Book)
    post_save.connect(async_receiver, sender=Book)
    post_delete.connect(uid_receiver, sender=Book, dispatch_uid="extensions-uid")
    # A dead weak receiver is skipped.
    del transient
    gc.collect()
    return list_signals()


def any_sender_listed():
    """A receiver for any sender: its lookup key's sender part (``NONE_ID``)
    is no model's id, and the command files it under the string
    ``"_unknown_"``, whose ``_meta`` it then reads."""
    setup_django(INSTALLED_APPS=INSTALLED_APPS, migrate=False)
    from django.db.models.signals import post_save

    from integration.testapp.models import Author

    post_save.connect(strong_receiver, sender=Author, weak=False)
    post_save.connect(any_sender_receiver)
    return list_signals()


# --- what stock Django gives, per version ------------------------------------


def line(receiver, suffix=""):
    number = inspect.getsourcelines(receiver)[1]
    return f"        {MODULE}.{receiver.__name__} #{number}{suffix}"


# Django 6.x: four fields where the command unpacks three, at the first entry.
UNPACK_ERROR = ("builtins.ValueError", "too many values to unpack (expected 3")


def expected_listing():
    """The command's output on stock Django before 6.0: models sorted, then
    signal names sorted, receivers in connection order; ``(async)`` only
    where the entry has an ``is_async`` field (5.0 on)."""
    is_async = " (async)" if django.VERSION >= (5, 0) else ""
    lines = [
        "integration.testapp.models.Author (author)",
        "    post_save",
        line(strong_receiver),
        "    pre_save",
        line(weak_receiver),
        "integration.testapp.models.Book (book)",
        "    post_delete",
        line(uid_receiver),
        "    post_save",
        line(Listener.on_book_saved),
        line(async_receiver, is_async),
    ]
    # call_command writes the returned text and a newline.
    return "\n".join(lines) + "\n"


def assert_unpack_error(outcome):
    kind, message = outcome.error
    # Python 3.14 adds ", got 4)" to the message.
    assert (kind, message[: len(UNPACK_ERROR[1])]) == UNPACK_ERROR, outcome.traceback
    assert outcome.result is None


def test_list_signals_same_as_stock():
    """Same receivers listed, or the same crash on Django 6.x, as stock."""
    both = compare(listed_receivers)
    stock, native = both.stock, both.native
    if ON_6:
        assert_unpack_error(stock)
    else:
        assert stock.error is None, stock.traceback
        assert stock.result == expected_listing()
    assert native.observed == stock.observed, both.report()


def test_any_sender_receiver_same_as_stock():
    """A receiver for any sender trips the command up on every Django; the
    native signals must trip it in the same place. Before 6.0 that is the
    ``"_unknown_"`` key, read as a model; on 6.x the unpacking, earlier."""
    both = compare(any_sender_listed)
    stock, native = both.stock, both.native
    if ON_6:
        assert_unpack_error(stock)
    else:
        assert stock.error == (
            "builtins.AttributeError",
            "'str' object has no attribute '_meta'",
        ), stock.traceback
    assert native.observed == stock.observed, both.report()
