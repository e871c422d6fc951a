"""django-debug-toolbar's signals panel, which lists each signal's receivers
by walking ``signal.receivers``: ``entry[1]``, resolved when it is a
``weakref.ReferenceType``, skipped when dead, named by ``__name__`` (and the
class of ``__self__`` for bound methods).

The panel is built the way the toolbar's own tests build it: a
``DebugToolbar`` for a request from ``RequestFactory``, its ``SignalsPanel``
taken by id, then ``process_request`` and ``generate_stats``. Besides
Django's signals it lists the app's own ``book_published`` (a plain
``django.dispatch.Signal``), named in ``DEBUG_TOOLBAR_CONFIG["EXTRA_SIGNALS"]``.
"""

import gc
import weakref

import pytest
from debug_toolbar.panels.signals import SignalsPanel
from debug_toolbar.toolbar import DebugToolbar
from django.db.models.signals import post_save
from django.dispatch.dispatcher import NONE_ID, _make_id
from django.http import HttpResponse
from django.test import RequestFactory

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


def test_receivers_added_in_place_are_listed(receivers):
    def added(sender, **kwargs):
        pass

    book_published.receivers.append(
        ((_make_id(added), NONE_ID), weakref.ref(added), None, False)
    )
    assert signal_stats()[0]["book_published"] == [
        "announce",
        "announce_async",
        "added",
    ]
    del book_published.receivers[-1]
    assert signal_stats()[0]["book_published"] == ["announce", "announce_async"]
