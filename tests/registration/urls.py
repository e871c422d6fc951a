"""fastdispatch's two-phase workflow under accounts/, django-registration's
own two-step workflow under theirs/, and the views with other options."""

from django.urls import include, path
from fastdispatch.registration import views

from registration.testapp import backends

RECORDING = "registration.testapp.backends.RecordingBackend"


def tagline():
    return "computed at request time"


urlpatterns = [
    path("accounts/", include("fastdispatch.registration.backends.default.urls")),
    path("theirs/", include("django_registration.backends.activation.urls")),
    path("custom/register/", views.register, {"backend": RECORDING}),
    path(
        "custom/activate/<str:activation_key>/", views.activate, {"backend": RECORDING}
    ),
    path(
        "closed/register/",
        views.register,
        {"backend": "registration.testapp.backends.ClosedBackend"},
    ),
    path(
        "duck/register/",
        views.register,
        {"backend": "registration.testapp.backends.DuckBackend"},
    ),
    path(
        "options/register/",
        views.register,
        {
            "backend": "fastdispatch.registration.backends.default.DefaultBackend",
            "success_url": "/welcome/",
            "form_class": backends.TermsForm,
            "template_name": "custom/register.html",
            "extra_context": {"title": "Join us", "tagline": tagline},
        },
    ),
    path(
        "options/activate/<str:activation_key>/",
        views.activate,
        {
            "backend": "fastdispatch.registration.backends.default.DefaultBackend",
            "success_url": "/activated/",
            "template_name": "custom/activate.html",
            "extra_context": {"title": "Activation", "tagline": tagline},
        },
    ),
    path(
        "broken/register/",
        views.register,
        {"backend": "registration.testapp.no_such_module.Backend"},
    ),
]
