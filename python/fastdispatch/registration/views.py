"""The ``register`` and ``activate`` views: a registration backend, named by
the ``backend`` keyword argument (a dotted path, usually given by the URLconf),
does the work."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from fastdispatch.registration.backends import get_backend

if TYPE_CHECKING:
    from django import forms
    from django.http import HttpRequest, HttpResponse, HttpResponseBase

__all__ = ["activate", "register"]

# The URL name of the page that says registration is closed.
DISALLOWED_URL = "registration_disallowed"


def _render(
    request: HttpRequest,
    template_name: str,
    context: dict[str, Any],
    extra_context: Mapping[str, Any] | None,
) -> HttpResponse:
    # Callable values of extra_context are called at each request, so that a
    # URLconf can pass values that must not be computed at import time.
    for key, value in (extra_context or {}).items():
        context[key] = value() if callable(value) else value
    return render(request, template_name, context)


def _redirect(
    success_url: str | None,
    location: Callable[[], tuple[str, tuple[Any, ...], dict[str, Any]]],
) -> HttpResponseBase:
    if success_url is not None:
        return redirect(success_url)
    to, args, kwargs = location()
    response: HttpResponseBase = redirect(to, *args, **kwargs)
    return response


@sensitive_post_parameters()
@csrf_protect
@never_cache
def register(
    request: HttpRequest,
    backend: str,
    success_url: str | None = None,
    form_class: type[forms.BaseForm] | None = None,
    disallowed_url: str = DISALLOWED_URL,
    template_name: str = "registration/registration_form.html",
    extra_context: Mapping[str, Any] | None = None,
) -> HttpResponseBase:
    """Show the signup form, and register an account from it.

    ``backend`` is the dotted path of the registration backend. When its
    ``registration_allowed`` refuses the request, redirect to
    ``disallowed_url`` (the URL named ``registration_disallowed``). On a valid
    POST, ``backend.register(request, **form.cleaned_data)`` creates the
    account, then the view redirects to ``success_url``, or else to the
    ``(to, args, kwargs)`` of ``backend.post_registration_redirect``.
    ``form_class`` replaces the backend's ``get_form_class``; the template
    ``template_name`` gets ``form``, and ``extra_context``.
    """
    workflow = get_backend(backend)
    if not workflow.registration_allowed(request):
        return redirect(disallowed_url)
    if form_class is None:
        form_class = workflow.get_form_class(request)
    if request.method == "POST":
        form = form_class(data=request.POST, files=request.FILES)
        if form.is_valid():
            user = workflow.register(request, **form.cleaned_data)
            return _redirect(
                success_url,
                lambda: workflow.post_registration_redirect(request, user),
            )
    else:
        form = form_class()
    return _render(request, template_name, {"form": form}, extra_context)


@never_cache
def activate(
    request: HttpRequest,
    backend: str,
    template_name: str = "registration/activate.html",
    success_url: str | None = None,
    extra_context: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> HttpResponseBase:
    """Activate an account: ``backend.activate(request, **kwargs)``, where
    ``kwargs`` are the URL's arguments (the activation key).

    On success, redirect to ``success_url``, or else to the ``(to, args,
    kwargs)`` of ``backend.post_activation_redirect``. On failure, render
    ``template_name`` with the URL's arguments, ``account`` (False), and
    ``extra_context``.
    """
    workflow = get_backend(backend)
    account = workflow.activate(request, **kwargs)
    if account:
        return _redirect(
            success_url,
            lambda: workflow.post_activation_redirect(request, account),
        )
    return _render(
        request, template_name, {**kwargs, "account": account}, extra_context
    )
