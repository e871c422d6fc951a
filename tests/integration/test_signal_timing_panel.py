"""fastdispatch's own debug toolbar panel, ``SignalTimingPanel``: the
receivers that ran during a request, with calls and times, on
django-debug-toolbar's public panel API.

The panel is built as the toolbar builds its panels (``Panel(toolbar,
get_response)``) for a request from ``RequestFactory`` whose view saves
models, then driven as the toolbar's middleware drives it:
``enable_instrumentation``, ``process_request`` (the view runs inside),
``generate_stats``, and the full-screen ``content`` rendered from the
package's template."""

import logging

import pytest
from debug_toolbar.panels import Panel
from debug_toolbar.toolbar import DebugToolbar
from django.db.models.signals import post_save
from django.http import HttpResponse
from django.test import RequestFactory
from fastdispatch.contrib.debug_toolbar import SignalTimingPanel

from integration.testapp.models import Author, Book
from integration.testapp.signals import book_published


def on_author_saved(sender, **kwargs):
    pass


def on_book_saved(sender, **kwargs):
    pass


def failing(sender, **kwargs):
    raise ValueError("not now")


@pytest.fixture
def receivers():
    post_save.connect(on_author_saved, sender=Author)
    post_save.connect(on_book_saved, sender=Book)
    book_published.connect(failing)
    yield
    post_save.disconnect(on_author_saved, sender=Author)
    post_save.disconnect(on_book_saved, sender=Book)
    book_published.disconnect(failing)


def save_models(request):
    author = Author.objects.create(name="Ursula")
    for title in ("The Dispossessed", "The Lathe of Heaven"):
        book = Book.objects.create(title=title, author=author)
        book_published.send_robust(sender=Book, book=book)
    return HttpResponse("saved")


def render_panel(view):
    request = RequestFactory().get("/")
    toolbar = DebugToolbar(request, view)
    toolbar.stats = {}
    panel = SignalTimingPanel(toolbar, view)
    panel.enable_instrumentation()
    response = panel.process_request(request)
    panel.generate_stats(request, response)
    panel.disable_instrumentation()
    return panel, response


def test_the_panel_lists_the_requests_receivers_with_calls(db, receivers, caplog):
    assert issubclass(SignalTimingPanel, Panel)
    with caplog.at_level(logging.CRITICAL, logger="django.dispatch"):
        panel, response = render_panel(save_models)
    assert response.content == b"saved"
    stats = panel.get_stats()
    rows = {row["receiver"].rsplit(".", 1)[-1]: row for row in stats["receivers"]}
    assert rows["on_author_saved"]["calls"] == 1
    assert rows["on_book_saved"]["calls"] == 2
    assert rows["on_book_saved"]["signal"] == "django.db.models.signals.post_save"
    assert rows["on_book_saved"]["senders"] == "testapp.Book (2)"
    assert (rows["failing"]["calls"], rows["failing"]["errors"]) == (2, 2)
    assert stats["calls"] == sum(row["calls"] for row in stats["receivers"])
    assert panel.nav_subtitle.startswith(f"{len(rows)} receivers, ")

    html = panel.content
    assert "<table>" in html
    for name in ("on_author_saved", "on_book_saved", "failing"):
        assert f"integration.test_signal_timing_panel.{name}</code>" in html
    assert "django.db.models.signals.post_save" in html
    assert panel.title == "Signal timing"


def test_only_the_requests_own_calls_are_counted(db, receivers):
    Author.objects.create(name="before the request")
    panel, _ = render_panel(lambda request: HttpResponse("nothing saved"))
    assert panel.get_stats()["receivers"] == []
    assert "No receiver ran." in panel.content
    assert panel.nav_subtitle == "0 receivers, 0.000 ms"
    Author.objects.create(name="after the request")
    assert panel.get_stats()["receivers"] == []
