"""The ``register`` and ``activate`` views: a registration backend, named by
the ``backend`` keyword argument (a dotted path, usually given by the URLconf),
does the work."""

from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from fastdispatch.registration.backends import get_backend

__all__ = ["activate", "register"]

# The URL name of the page that says registration is closed.
DISALLOWED_URL = "registration_disallowed"


def _render(request, template_name, context, extra_context):
    # Callable values of extra_context are called at each request, so that a
    # URLconf can pass values that must not be computed at import time.
    for key, value in (extra_context or {}).items():
        context[key] = value() if callable(value) else value
    return render(request, template_name, context)


def _redirect(success_url, location):
    if success_url is not None:
        return redirect(success_url)
    to, args, kwargs = location()
    return redirect(to, *args, **kwargs)


@sensitive_post_parameters()
@csrf_protect
@never_cache
def register(
    request,
    backend,
    success_url=None,
    form_class=None,
    disallowed_url=DISALLOWED_URL,
    template_name="registration/registration_form.html",
    extra_context=None,
):
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
    backend = get_backend(backend)
    if not backend.registration_allowed(request):
        return redirect(disallowed_url)
    if form_class is None:
        form_class = backend.get_form_class(request)
    if request.method == "POST":
        form = form_class(data=request.POST, files=request.FILES)
        if form.is_valid():
            user = backend.register(request, **form.cleaned_data)
            return _redirect(
                success_url,
                lambda: backend.post_registration_redirect(request, user),
            )
    else:
        form = form_class()
    return _render(request, template_name, {"form": form}, extra_context)


@never_cache
def activate(
    request,
    backend,
    template_name="registration/activate.html",
    success_url=None,
    extra_context=None,
    **kwargs,
):
    """Activate an account: ``backend.activate(request, **kwargs)``, where
    ``kwargs`` are the URL's arguments (the activation key).

    On success, redirect to ``success_url``, or else to the ``(to, args,
    kwargs)`` of ``backend.post_activation_redirect``. On failure, render
    ``template_name`` with the URL's arguments, ``account`` (False), and
    ``extra_context``.
    """
    backend = get_backend(backend)
    account = backend.activate(request, **kwargs)
    if account:
        return _redirect(
            success_url,
            lambda: backend.post_activation_redirect(request, account),
        )
    return _render(
        request, template_name, {**kwargs, "account": account}, extra_context
    )
