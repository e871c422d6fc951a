"""URL patterns shared by the workflows' URLconfs
(``fastdispatch.registration.backends.default.urls`` and ``...simple.urls``)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpResponseBase
from django.urls import URLPattern, path
from django.views.generic.base import TemplateView

from fastdispatch.registration import views


def _page(template: str) -> Callable[..., HttpResponseBase]:
    return TemplateView.as_view(template_name=f"registration/{template}")


def registration_patterns(backend: str) -> list[URLPattern]:
    """Signup (``registration_register``), its outcome
    (``registration_complete``) and the page shown while registration is closed
    (``registration_disallowed``), for the backend at the dotted path
    ``backend``."""
    return [
        path(
            "register/",
            views.register,
            {"backend": backend},
            name="registration_register",
        ),
        path(
            "register/complete/",
            _page("registration_complete.html"),
            name="registration_complete",
        ),
        path(
            "register/closed/",
            _page("registration_closed.html"),
            name="registration_disallowed",
        ),
    ]


def activation_patterns(backend: str) -> list[URLPattern]:
    """The activation link (``registration_activate``, with the key in the
    path) and its outcome (``registration_activation_complete``)."""
    return [
        # Before the link's pattern, which would take "complete" for a key.
        path(
            "activate/complete/",
            _page("activation_complete.html"),
            name="registration_activation_complete",
        ),
        path(
            "activate/<str:activation_key>/",
            views.activate,
            {"backend": backend},
            name="registration_activate",
        ),
    ]
