"""Registration backends, and :func:`get_backend`, which loads one by dotted path."""

from __future__ import annotations

from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.utils.module_loading import import_string

from fastdispatch._native import RegistrationBackend

__all__ = ["BACKEND_API", "get_backend"]

# What a class must provide to serve as a backend without deriving from
# RegistrationBackend.
BACKEND_API = (
    "register",
    "activate",
    "registration_allowed",
    "get_form_class",
    "post_registration_redirect",
    "post_activation_redirect",
)


# What a view gets back from a backend's post_*_redirect: the arguments of
# django.shortcuts.redirect, (to, args, kwargs).
RedirectTo = tuple[str, tuple[Any, ...], dict[str, Any]]


class Backend(Protocol):
    """The methods of the backend API (``BACKEND_API``), as the views call them."""

    def register(self, request: HttpRequest, **kwargs: Any) -> Any: ...
    def activate(self, request: HttpRequest, **kwargs: Any) -> Any: ...
    def registration_allowed(self, request: HttpRequest) -> bool: ...
    def get_form_class(self, request: HttpRequest) -> type[Any]: ...
    def post_registration_redirect(
        self, request: HttpRequest, user: Any
    ) -> RedirectTo: ...
    def post_activation_redirect(
        self, request: HttpRequest, user: Any
    ) -> RedirectTo: ...


def get_backend(path: object) -> Backend:
    """Import the backend class named by the dotted ``path`` and return an
    instance of it, made with no arguments.

    A backend is a subclass of :class:`RegistrationBackend`, or any class with
    the methods of the backend API (``BACKEND_API``). Raises
    :class:`~django.core.exceptions.ImproperlyConfigured`, naming the path and
    the reason, when there is nothing to import there or it is not a backend.
    """
    if not isinstance(path, str):
        raise ImproperlyConfigured(
            f"A registration backend is named by a dotted path string, not {path!r}"
        )
    try:
        backend_class = import_string(path)
    except ImportError as err:
        raise ImproperlyConfigured(
            f"Cannot import the registration backend {path!r}: {err}"
        ) from err
    if not isinstance(backend_class, type):
        raise ImproperlyConfigured(
            f"{path!r} is not a registration backend: it is "
            f"{type(backend_class).__name__} {backend_class!r}, not a class"
        )
    if not issubclass(backend_class, RegistrationBackend):
        missing = [
            name
            for name in BACKEND_API
            if not callable(getattr(backend_class, name, None))
        ]
        if missing:
            raise ImproperlyConfigured(
                f"{path!r} is not a registration backend: {backend_class.__qualname__} "
                f"has no {', '.join(missing)} (derive it from "
                "fastdispatch.registration.RegistrationBackend)"
            )
    backend: Backend = backend_class()
    return backend
