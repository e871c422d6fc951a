"""Backends of the tests: a subclass of the two-phase workflow that records
which of its overrides ran, and backends that are not derived from
RegistrationBackend."""

from django import forms
from django_registration.forms import RegistrationForm
from fastdispatch.registration.backends.default import DefaultBackend
from fastdispatch.registration.backends.simple import SimpleBackend

# (class name, method name) of every override called, in order.
CALLS = []


class TermsForm(RegistrationForm):
    """django-registration's form with one more required field."""

    terms = forms.BooleanField(required=True)


class RecordingBackend(DefaultBackend):
    """The two-phase workflow with every method overridden to record its call
    and then do what the base class does."""

    def _called(self, name):
        CALLS.append((type(self).__name__, name))

    def registration_allowed(self, request):
        self._called("registration_allowed")
        return super().registration_allowed(request)

    def get_form_class(self, request):
        self._called("get_form_class")
        return TermsForm

    def register(self, request, **kwargs):
        self._called("register")
        return super().register(request, **kwargs)

    def create_user(self, request, **kwargs):
        self._called("create_user")
        user = super().create_user(request, **kwargs)
        user.first_name = "Recorded"
        user.save(update_fields=["first_name"])
        return user

    def activate(self, request, **kwargs):
        self._called("activate")
        return super().activate(request, **kwargs)

    def activate_user(self, request, **kwargs):
        self._called("activate_user")
        return super().activate_user(request, **kwargs)

    def post_registration_redirect(self, request, user):
        self._called("post_registration_redirect")
        return ("/custom/registered/", (), {})

    def post_activation_redirect(self, request, user):
        self._called("post_activation_redirect")
        return ("/custom/activated/", (), {})


class ClosedBackend(SimpleBackend):
    """Registration refused to every request, whatever the settings."""

    def registration_allowed(self, request):
        return False


class DuckBackend:
    """A backend by its methods alone, not derived from RegistrationBackend."""

    def registration_allowed(self, request):
        return True

    def get_form_class(self, request):
        return RegistrationForm

    def register(self, request, **kwargs):
        CALLS.append(("DuckBackend", "register"))
        return None

    def activate(self, request, **kwargs):
        return False

    def post_registration_redirect(self, request, user):
        return ("/duck/done/", (), {})

    def post_activation_redirect(self, request, user):
        raise NotImplementedError


class HalfBackend:
    """Has some of the backend API only."""

    def register(self, request, **kwargs):
        return None

    def activate(self, request, **kwargs):
        return False


def not_a_class():
    return DefaultBackend()
