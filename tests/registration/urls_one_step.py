"""fastdispatch's one-phase workflow under accounts/, django-registration's own
one-step workflow under theirs/."""

from django.urls import include, path

urlpatterns = [
    path("accounts/", include("fastdispatch.registration.backends.simple.urls")),
    path("theirs/", include("django_registration.backends.one_step.urls")),
]
