"""The native ``RegistrationBackend`` base class, its contracts, and
``get_backend``."""

import sys

import django_registration.signals
import fastdispatch
import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.test import RequestFactory, override_settings
from django_registration.forms import RegistrationForm
from fastdispatch import _native
from fastdispatch.registration import RegistrationBackend, get_backend, signals
from fastdispatch.registration.backends.default import DefaultBackend
from fastdispatch.registration.backends.simple import SimpleBackend
from isolated_django import NATIVE

from registration.testapp.backends import DuckBackend

pytestmark = pytest.mark.usefixtures("db")


class Account:
    """Stands for a user: the base class only passes it on."""

    def __init__(self, name):
        self.name = name


class TwoStep(RegistrationBackend):
    def __init__(self, activates=True):
        self.activates = activates
        self.hooks = []

    def create_user(self, request, **kwargs):
        self.hooks.append(("create_user", request, kwargs))
        return Account(kwargs["username"])

    def activate_user(self, request, **kwargs):
        self.hooks.append(("activate_user", request, kwargs))
        return Account(kwargs["activation_key"]) if self.activates else None


class OneStep(RegistrationBackend):
    def create_user(self, request, **kwargs):
        return Account(kwargs["username"])


def test_the_base_class_is_native_and_exported_by_the_app():
    assert RegistrationBackend is _native.RegistrationBackend
    assert RegistrationBackend.__module__ == "fastdispatch.registration"
    for name in ("register", "activate", "registration_allowed", "get_form_class"):
        assert type(vars(RegistrationBackend)[name]).__name__ == "method_descriptor"
    assert issubclass(DefaultBackend, RegistrationBackend)
    assert issubclass(SimpleBackend, RegistrationBackend)


def test_the_signals_are_native():
    assert isinstance(signals.user_registered, fastdispatch.Signal)
    assert isinstance(signals.user_activated, fastdispatch.Signal)
    assert signals.user_registered is not signals.user_activated


def test_django_registration_signals_is_this_module():
    # With the start-up hook, django-registration's module is ours; without
    # it, django-registration keeps its own.
    assert (django_registration.signals is signals) == NATIVE
    same = django_registration.signals.user_registered is signals.user_registered
    assert same == NATIVE


def test_register_calls_the_hook_sends_user_registered_and_returns_the_user(heard):
    backend = TwoStep()
    request = HttpRequest()
    user = backend.register(request, username="alice", email="a@example.com")
    assert user.name == "alice"
    assert backend.hooks == [
        ("create_user", request, {"username": "alice", "email": "a@example.com"})
    ]
    assert heard == [("user_registered", TwoStep, user, request)]


def test_sender_is_the_class_of_the_instance(heard):
    class Sub(TwoStep):
        pass

    request = HttpRequest()
    user = Sub().register(request, username="bob")
    assert heard == [("user_registered", Sub, user, request)]


def test_activate_sends_user_activated_and_returns_the_user(heard):
    backend = TwoStep()
    request = HttpRequest()
    user = backend.activate(request, activation_key="k1")
    assert user.name == "k1"
    assert backend.hooks == [("activate_user", request, {"activation_key": "k1"})]
    assert heard == [("user_activated", TwoStep, user, request)]


@pytest.mark.parametrize("refusal", [None, False, 0, ""])
def test_activate_returns_false_and_sends_nothing_on_refusal(heard, refusal):
    class Refusing(TwoStep):
        def activate_user(self, request, **kwargs):
            return refusal

    assert Refusing().activate(HttpRequest(), activation_key="k") is False
    assert heard == []


def test_a_failing_hook_sends_nothing(heard):
    class Failing(TwoStep):
        def create_user(self, request, **kwargs):
            raise ValueError("no database")

    with pytest.raises(ValueError, match="no database"):
        Failing().register(HttpRequest(), username="x")
    assert heard == []


def test_a_failing_receiver_propagates_out_of_register():
    def broken(sender, **kwargs):
        raise RuntimeError("receiver failed")

    signals.user_registered.connect(broken)
    try:
        with pytest.raises(RuntimeError, match="receiver failed"):
            TwoStep().register(HttpRequest(), username="x")
    finally:
        signals.user_registered.disconnect(broken)


def test_create_user_must_be_implemented(heard):
    with pytest.raises(NotImplementedError, match=r"RegistrationBackend does not"):
        RegistrationBackend().register(HttpRequest(), username="x")

    class Empty(RegistrationBackend):
        pass

    with pytest.raises(NotImplementedError, match=r"Empty does not implement create"):
        Empty().register(HttpRequest())
    assert heard == []


def test_a_one_step_workflow_has_no_activation(heard):
    backend = OneStep()
    assert backend.has_activation_step is False
    with pytest.raises(NotImplementedError, match="OneStep is a one-step workflow"):
        backend.activate(HttpRequest(), activation_key="k")
    with pytest.raises(NotImplementedError, match="OneStep is a one-step workflow"):
        backend.post_activation_redirect(HttpRequest(), Account("a"))
    assert heard == []
    assert SimpleBackend().has_activation_step is False
    with pytest.raises(NotImplementedError):
        SimpleBackend().activate(HttpRequest(), activation_key="k")
    with pytest.raises(NotImplementedError):
        SimpleBackend().post_activation_redirect(HttpRequest(), Account("a"))


def test_default_redirects():
    request, user = HttpRequest(), Account("a")
    assert TwoStep().has_activation_step is True
    assert DefaultBackend().has_activation_step is True
    assert TwoStep().post_registration_redirect(request, user) == (
        "registration_complete",
        (),
        {},
    )
    assert TwoStep().post_activation_redirect(request, user) == (
        "registration_activation_complete",
        (),
        {},
    )
    assert OneStep().post_registration_redirect(request, user) == (
        "registration_complete",
        (),
        {},
    )


def test_registration_allowed_follows_registration_open():
    backend = TwoStep()
    assert backend.registration_allowed(HttpRequest()) is True
    with override_settings(REGISTRATION_OPEN=False):
        assert backend.registration_allowed(HttpRequest()) is False
    with override_settings(REGISTRATION_OPEN=True):
        assert backend.registration_allowed(HttpRequest()) is True
    with override_settings(REGISTRATION_OPEN=0):
        assert backend.registration_allowed(HttpRequest()) is False


def test_get_form_class_is_django_registrations_form():
    assert TwoStep().get_form_class(HttpRequest()) is RegistrationForm


def test_get_form_class_without_django_registration(monkeypatch):
    # None in sys.modules makes the import fail, as if it were not installed.
    monkeypatch.setitem(sys.modules, "django_registration.forms", None)
    with pytest.raises(ImproperlyConfigured) as caught:
        TwoStep().get_form_class(HttpRequest())
    message = str(caught.value)
    assert "django-registration" in message
    assert 'pip install "django-fastdispatch[registration]"' in message
    assert isinstance(caught.value.__cause__, ImportError)


def test_python_overrides_are_the_methods_called(heard):
    class Custom(TwoStep):
        def register(self, request, **kwargs):
            user = super().register(request, **kwargs)
            user.name = user.name.upper()
            return user

        def registration_allowed(self, request):
            return request.GET.get("invite") == "yes"

        def get_form_class(self, request):
            return dict

        def post_registration_redirect(self, request, user):
            return ("/welcome/", (), {"user": user.name})

    backend = Custom()
    request = HttpRequest()
    assert backend.register(request, username="carol").name == "CAROL"
    assert heard[0][:2] == ("user_registered", Custom)
    assert backend.registration_allowed(request) is False
    request.GET = request.GET.copy()
    request.GET["invite"] = "yes"
    assert backend.registration_allowed(request) is True
    assert backend.get_form_class(request) is dict
    assert backend.post_registration_redirect(request, Account("d")) == (
        "/welcome/",
        (),
        {"user": "d"},
    )


def test_a_subclass_takes_its_own_constructor_arguments():
    backend = TwoStep(activates=False)
    assert backend.activates is False
    assert backend.activate(HttpRequest(), activation_key="k") is False


# --- get_backend -------------------------------------------------------------


def test_get_backend_instantiates_the_class():
    backend = get_backend("fastdispatch.registration.backends.default.DefaultBackend")
    assert type(backend) is DefaultBackend
    again = get_backend("fastdispatch.registration.backends.default.DefaultBackend")
    assert again is not backend
    assert type(get_backend("registration.testapp.backends.DuckBackend")) is DuckBackend


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("registration.testapp.no_such_module.Backend", "No module named"),
        ("registration.testapp.backends.NoSuchBackend", "does not define"),
        ("NotADottedPath", "doesn't look like a module path"),
    ],
)
def test_get_backend_cannot_import(path, reason):
    with pytest.raises(ImproperlyConfigured) as caught:
        get_backend(path)
    message = str(caught.value)
    assert f"Cannot import the registration backend {path!r}" in message
    assert reason in message
    assert isinstance(caught.value.__cause__, ImportError)


def test_get_backend_refuses_a_class_that_is_not_a_backend():
    path = "registration.testapp.backends.HalfBackend"
    with pytest.raises(ImproperlyConfigured) as caught:
        get_backend(path)
    assert str(caught.value) == (
        f"{path!r} is not a registration backend: HalfBackend has no "
        "registration_allowed, get_form_class, post_registration_redirect, "
        "post_activation_redirect (derive it from "
        "fastdispatch.registration.RegistrationBackend)"
    )
    with pytest.raises(ImproperlyConfigured, match="is not a registration backend"):
        get_backend("django.http.HttpRequest")


def test_get_backend_refuses_what_is_not_a_class():
    path = "registration.testapp.backends.not_a_class"
    with pytest.raises(ImproperlyConfigured) as caught:
        get_backend(path)
    assert f"{path!r} is not a registration backend: it is function" in str(
        caught.value
    )
    with pytest.raises(ImproperlyConfigured, match="dotted path string, not None"):
        get_backend(None)


def test_users_made_by_the_hooks_are_real_users(heard):
    request = RequestFactory().post("/accounts/register/")
    user = DefaultBackend().register(
        request, username="dave", email="dave@example.com", password1="pw-Secret-1"
    )
    stored = get_user_model().objects.get(username="dave")
    assert stored == user
    assert stored.is_active is False
    assert stored.check_password("pw-Secret-1")
    assert heard == [("user_registered", DefaultBackend, user, request)]
