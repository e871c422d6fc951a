"""A django-debug-toolbar panel: which receivers ran during the request, and
what they cost.

Add it to the toolbar's panels::

    DEBUG_TOOLBAR_PANELS = [
        # ... the toolbar's own panels
        "fastdispatch.contrib.debug_toolbar.SignalTimingPanel",
    ]

While the request is handled, every receiver call of the native signals is
recorded (``fastdispatch.profiling()``); the panel lists each receiver that
ran, with its signal, calls, total and longest time, errors and share of the
time spent in receivers. Recording covers the whole process while the
request runs: on a development server that handles one request at a time,
that is the request's own receivers. The panel's template is shipped in the
package (``fastdispatch/debug_toolbar/signal_timing.html``) and rendered on
its own, so the ``fastdispatch`` app need not be installed.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from debug_toolbar.panels import Panel
from django.http import HttpRequest, HttpResponse
from django.template import Context, Engine
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from fastdispatch._native import Profile, ReceiverTiming, _profile_start

__all__ = ["SignalTimingPanel"]

_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TEMPLATE = "fastdispatch/debug_toolbar/signal_timing.html"


@cache
def _engine() -> Engine:
    return Engine(
        dirs=[str(_TEMPLATES)], libraries={"i18n": "django.templatetags.i18n"}
    )


def _milliseconds(ns: int) -> str:
    return f"{ns / 1e6:.3f}"


def _row(row: ReceiverTiming, total_ns: int) -> dict[str, Any]:
    """A row as plain data, which the toolbar's store can serialise."""
    name = f"{row.module}.{row.qualname}" if row.module else row.qualname
    location = f"{row.file}:{row.line}" if row.file and row.line else row.file
    return {
        "receiver": name,
        "signal": row.signal or "",
        "kind": row.kind,
        "location": location or "",
        "calls": row.calls,
        "total_ms": _milliseconds(row.total_ns),
        "max_ms": _milliseconds(row.max_ns),
        "errors": row.errors,
        "share": f"{row.total_ns * 100 / total_ns:.1f}" if total_ns else "-",
        "senders": ", ".join(
            f"{sender} ({calls})" for sender, calls in row.senders.items()
        ),
    }


class SignalTimingPanel(Panel):
    """The receivers that ran during the request, with calls and times."""

    title = _("Signal timing")
    template = TEMPLATE

    _profile: Profile | None = None

    def process_request(self, request: HttpRequest) -> HttpResponse:
        self._profile = _profile_start()
        try:
            response: HttpResponse = super().process_request(request)  # type: ignore[no-untyped-call]
        finally:
            self._profile.stop()
        return response

    def generate_stats(self, request: HttpRequest, response: HttpResponse) -> None:
        profile = self._profile
        rows = profile.receivers if profile is not None else ()
        total_ns = sum(row.total_ns for row in rows)
        self.record_stats(  # type: ignore[no-untyped-call]
            {
                "receivers": [_row(row, total_ns) for row in rows],
                "calls": sum(row.calls for row in rows),
                "total_ms": _milliseconds(total_ns),
            }
        )

    @property
    def nav_subtitle(self) -> str:
        stats: dict[str, Any] = self.get_stats()  # type: ignore[no-untyped-call]
        receivers = len(stats.get("receivers", ()))
        text: str = ngettext(
            "%(receivers)d receiver, %(ms)s ms",
            "%(receivers)d receivers, %(ms)s ms",
            receivers,
        ) % {"receivers": receivers, "ms": stats.get("total_ms", "0.000")}
        return text

    @property
    def content(self) -> str:
        template = _engine().get_template(TEMPLATE)
        stats: dict[str, Any] = self.get_stats()  # type: ignore[no-untyped-call]
        rendered: str = template.render(Context(stats))
        return rendered
