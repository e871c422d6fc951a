"""django-debug-toolbar's signals panel, which lists each signal's receivers
by walking ``signal.receivers``: ``entry[1]``, resolved when it is a
``weakref.ReferenceType``, skipped when dead, named by ``__name__`` (and the
class of ``__self__`` for bound methods).

The panel is built the way the toolbar's own tests build it: a
``DebugToolbar`` for a request from ``RequestFactory``, its ``SignalsPanel``
taken by id, then ``process_request`` and ``generate_stats``. Besides
Django's signals it lists the app's own ``book_published`` (a plain
``django.dispatch.Signal``), named in ``DEBUG_TOOLBAR_CONFIG["EXTRA_SIGNALS"]``.

The panel reads only ``entry[1]``, the same field on every Django version,
whatever the entry's length. The last test builds the same panel for the
same receivers in two fresh interpreters, on the native signals and on
Django's own (``stock_vs_native``), and compares what it records and renders.
"""

import gc
import weakref

import django
import pytest
from debug_toolbar.panels.signals import SignalsPanel
from debug_toolbar.toolbar import DebugToolbar
from django.db.models.signals import post_save
from django.dispatch.dispatcher import NONE_ID, _make_id
from django.http import HttpResponse
from django.test import RequestFactory

from integration.stock_vs_native import compare
from integration.testapp.models import Author, Book
from integration.testapp.signals import book_published


def signal_stats():
    """The panel's ``{signal name: [receiver names]}``, and its subtitle."""
    request = RequestFactory().get("/")
    toolbar = DebugToolbar(request, lambda request: HttpResponse())
    toolbar.stats = {}
    panel = toolbar.get_panel_by_id(SignalsPanel.panel_id)
    panel.enable_instrumentation()
    response = panel.process_request(request)
    panel.generate_stats(request, response)
    return dict(panel.get_stats()["signals"]), panel.nav_subtitle()


class AuditLog:
    def on_save(self, sender, **kwargs):
        pass


def on_author_saved(sender, **kwargs):
    pass


def announce(sender, **kwargs):
    pass


async def announce_async(sender, **kwargs):
    pass


@pytest.fixture
def receivers():
    audit = AuditLog()
    post_save.connect(on_author_saved, sender=Author)
    post_save.connect(audit.on_save)
    book_published.connect(announce, sender=Book)
    book_published.connect(announce_async, weak=False)
    yield audit
    post_save.disconnect(on_author_saved, sender=Author)
    post_save.disconnect(audit.on_save)
    book_published.disconnect(announce, sender=Book)
    book_published.disconnect(announce_async)


def test_panel_lists_receivers_by_name():
    before, before_subtitle = signal_stats()
    assert before["book_published"] == []
    audit = AuditLog()
    post_save.connect(on_author_saved, sender=Author)
    post_save.connect(audit.on_save)
    book_published.connect(announce, sender=Book)
    book_published.connect(announce_async, weak=False)
    try:
        stats, subtitle = signal_stats()
    finally:
        post_save.disconnect(on_author_saved, sender=Author)
        post_save.disconnect(audit.on_save)
        book_published.disconnect(announce, sender=Book)
        book_published.disconnect(announce_async)
    assert stats["post_save"] == [
        *before["post_save"],
        "on_author_saved",
        "AuditLog.on_save",
    ]
    assert stats["book_published"] == ["announce", "announce_async"]
    # The other signals' receivers (Django's own) are listed as before.
    ours = {"post_save", "book_published"}
    assert {k: v for k, v in stats.items() if k not in ours} == {
        k: v for k, v in before.items() if k not in ours
    }
    total = sum(len(names) for names in before.values())
    assert before_subtitle == f"{total} receivers of {len(before)} signals"
    assert subtitle == f"{total + 4} receivers of {len(stats)} signals"
    assert signal_stats()[0] == before


def test_dead_receivers_are_not_listed():
    def transient(sender, **kwargs):
        pass

    book_published.connect(transient)
    assert signal_stats()[0]["book_published"] == ["transient"]
    transient_ref = weakref.ref(transient)
    del transient
    gc.collect()
    assert transient_ref() is None
    assert signal_stats()[0]["book_published"] == []


def test_muted_receivers_are_not_listed(receivers):
    saved = book_published.receivers
    book_published.receivers = []
    try:
        assert signal_stats()[0]["book_published"] == []
    finally:
        book_published.receivers = saved
    assert signal_stats()[0]["book_published"] == ["announce", "announce_async"]


def entry(receiver):
    """A receivers entry for a weak receiver of any sender, in the layout of
    the running Django (the one the native signals must show too)."""
    key = (_make_id(receiver), NONE_ID)
    if django.VERSION >= (6, 0):
        return (key, weakref.ref(receiver), None, False)
    if django.VERSION >= (5, 0):
        return (key, weakref.ref(receiver), False)
    return (key, weakref.ref(receiver))


def test_receivers_added_in_place_are_listed(receivers):
    def added(sender, **kwargs):
        pass

    book_published.receivers.append(entry(added))
    assert signal_stats()[0]["book_published"] == [
        "announce",
        "announce_async",
        "added",
    ]
    del book_published.receivers[-1]
    assert signal_stats()[0]["book_published"] == ["announce", "announce_async"]


# Run as a module of its own in each interpreter; ``result`` is what it gives.
PANEL_SNIPPET = """
import gc

from integration.stock_vs_native import setup_django

setup_django(
    migrate=False,
    TEMPLATES=[
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": True,
        }
    ],
)

from debug_toolbar.panels.signals import SignalsPanel
from debug_toolbar.toolbar import DebugToolbar
from django.db.models.signals import post_save
from django.http import HttpResponse
from django.test import RequestFactory

from integration.testapp.models import Author, Book
from integration.testapp.signals import book_published


class AuditLog:
    def on_save(self, sender, **kwargs):
        pass


def on_author_saved(sender, **kwargs):
    pass


def announce(sender, **kwargs):
    pass


async def announce_async(sender, **kwargs):
    pass


def announce_uid(sender, **kwargs):
    pass


def transient(sender, **kwargs):
    pass


audit = AuditLog()
post_save.connect(on_author_saved, sender=Author)
post_save.connect(audit.on_save)
book_published.connect(announce, sender=Book)
book_published.connect(transient)
book_published.connect(announce_async, weak=False)
book_published.connect(announce_uid, weak=False, dispatch_uid="announce")
del transient
gc.collect()

request = RequestFactory().get("/")
toolbar = DebugToolbar(request, lambda request: HttpResponse())
toolbar.stats = {}
panel = toolbar.get_panel_by_id(SignalsPanel.panel_id)
panel.enable_instrumentation()
response = panel.process_request(request)
panel.generate_stats(request, response)
result = {
    "signals": panel.get_stats()["signals"],
    "subtitle": str(panel.nav_subtitle()),
    "content": panel.content,
}
"""


def test_panel_same_as_stock():
    """The signals and receivers the panel records, its subtitle and its
    rendered table, for Django's signals and the app's own, equal to what it
    gives on stock Django: the same names, in the same order, the dead weak
    receiver left out."""
    both = compare(PANEL_SNIPPET)
    stock = both.stock
    assert stock.error is None, stock.traceback
    signals = dict(stock.result["signals"])
    assert signals["book_published"] == ["announce", "announce_async", "announce_uid"]
    assert signals["post_save"][-2:] == ["on_author_saved", "AuditLog.on_save"]
    assert "announce, announce_async, announce_uid" in stock.result["content"]
    assert both.native.observed == stock.observed, both.report()
