"""django-registration and fastdispatch.registration on the same signals: a
receiver connected through ``django_registration.signals`` hears
fastdispatch's backends, and one connected through
``fastdispatch.registration.signals`` hears django-registration's own views
(its two-step activation workflow and its one-step workflow)."""

import re

import django_registration.signals
import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.test import Client, override_settings
from django_registration.backends.activation import views as activation_views
from django_registration.backends.one_step import views as one_step_views
from fastdispatch.registration import signals
from fastdispatch.registration.backends.default import DefaultBackend
from fastdispatch.registration.backends.simple import SimpleBackend
from isolated_django import NATIVE

pytestmark = [
    pytest.mark.usefixtures("db"),
    pytest.mark.skipif(
        not NATIVE, reason="the two modules are one only with the start-up hook"
    ),
]

User = get_user_model()
PASSWORD = "correct-Horse-battery-9"


def signup(username):
    return {
        "username": username,
        "email": f"{username}@example.com",
        "password1": PASSWORD,
        "password2": PASSWORD,
    }


@pytest.fixture
def heard_by_theirs():
    """Sends heard by receivers connected through django_registration.signals."""
    events = []

    def registered(sender, user, request, **kwargs):
        events.append(("user_registered", sender, user, request))

    def activated(sender, user, request, **kwargs):
        events.append(("user_activated", sender, user, request))

    django_registration.signals.user_registered.connect(registered)
    django_registration.signals.user_activated.connect(activated)
    yield events
    django_registration.signals.user_registered.disconnect(registered)
    django_registration.signals.user_activated.disconnect(activated)


def test_one_module_one_pair_of_signals():
    from django_registration import signals as imported_from_package

    assert django_registration.signals is signals
    assert imported_from_package is signals
    assert activation_views.signals is signals
    assert one_step_views.signals is signals


def test_their_receivers_hear_our_two_phase_workflow(outbox, heard_by_theirs):
    client = Client()
    response = client.post("/accounts/register/", signup("alice"))
    alice = User.objects.get(username="alice")
    assert heard_by_theirs == [
        ("user_registered", DefaultBackend, alice, response.wsgi_request)
    ]
    [link] = re.findall(r"http://testserver(/\S+/)", outbox[0].body)
    response = client.get(link)
    assert heard_by_theirs[1:] == [
        ("user_activated", DefaultBackend, alice, response.wsgi_request)
    ]


def test_their_receivers_hear_our_one_phase_workflow(heard_by_theirs):
    with override_settings(ROOT_URLCONF="registration.urls_one_step"):
        response = Client().post("/accounts/register/", signup("bob"))
    bob = User.objects.get(username="bob")
    assert heard_by_theirs == [
        ("user_registered", SimpleBackend, bob, response.wsgi_request)
    ]


def test_our_receivers_hear_their_activation_workflow(outbox, heard):
    client = Client()
    response = client.post("/theirs/register/", signup("carol"))
    assert response.status_code == 302
    assert response["Location"] == "/theirs/register/complete/"
    carol = User.objects.get(username="carol")
    assert carol.is_active is False
    assert heard == [
        (
            "user_registered",
            activation_views.RegistrationView,
            carol,
            response.wsgi_request,
        )
    ]

    [key] = re.findall(r"activation_key=(\S+)", outbox[0].body)
    form = client.get("/theirs/activate/", {"activation_key": key})
    assert form.status_code == 200
    response = client.post("/theirs/activate/", {"activation_key": key})
    assert response.status_code == 302
    assert response["Location"] == "/theirs/activate/complete/"
    assert User.objects.get(pk=carol.pk).is_active is True
    assert heard[1:] == [
        (
            "user_activated",
            activation_views.ActivationView,
            carol,
            response.wsgi_request,
        )
    ]
    # Their failed activation sends nothing.
    again = client.post("/theirs/activate/", {"activation_key": key})
    assert again.status_code == 200
    assert len(heard) == 2


def test_our_receivers_hear_their_one_step_workflow(heard):
    client = Client()
    with override_settings(ROOT_URLCONF="registration.urls_one_step"):
        response = client.post("/theirs/register/", signup("dave"))
    assert response.status_code == 302
    dave = User.objects.get(username="dave")
    assert client.session[SESSION_KEY] == str(dave.pk)
    assert heard == [
        (
            "user_registered",
            one_step_views.RegistrationView,
            dave,
            response.wsgi_request,
        )
    ]


def test_our_keys_and_theirs_do_not_mix(outbox, heard):
    client = Client()
    client.post("/theirs/register/", signup("erin"))
    [their_key] = re.findall(r"activation_key=(\S+)", outbox[0].body)
    response = client.get(f"/accounts/activate/{their_key}/")
    assert response.status_code == 200
    assert User.objects.get(username="erin").is_active is False
    assert [event[0] for event in heard] == ["user_registered"]
