"""The ``register`` and ``activate`` views with their other arguments, and with
backends other than the included ones."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from registration.testapp import backends
from registration.testapp.backends import RecordingBackend

pytestmark = pytest.mark.usefixtures("db")

User = get_user_model()
PASSWORD = "correct-Horse-battery-9"
SIGNUP = {
    "username": "alice",
    "email": "alice@example.com",
    "password1": PASSWORD,
    "password2": PASSWORD,
}


@pytest.fixture
def calls():
    backends.CALLS.clear()
    yield backends.CALLS
    backends.CALLS.clear()


def key_in(message):
    [key] = re.findall(r"/accounts/activate/([^/\s]+)/", message.body)
    return key


def test_python_overrides_of_a_subclass_are_called(calls, outbox, heard):
    client = Client()
    form_page = client.get("/custom/register/")
    assert type(form_page.context["form"]) is backends.TermsForm
    assert calls == [
        ("RecordingBackend", "registration_allowed"),
        ("RecordingBackend", "get_form_class"),
    ]
    calls.clear()

    response = client.post("/custom/register/", {**SIGNUP, "terms": "on"})
    assert response.status_code == 302
    assert response["Location"] == "/custom/registered/"
    assert calls == [
        ("RecordingBackend", "registration_allowed"),
        ("RecordingBackend", "get_form_class"),
        ("RecordingBackend", "register"),
        ("RecordingBackend", "create_user"),
        ("RecordingBackend", "post_registration_redirect"),
    ]
    alice = User.objects.get(username="alice")
    assert alice.first_name == "Recorded"
    assert heard == [
        ("user_registered", RecordingBackend, alice, response.wsgi_request)
    ]
    calls.clear()
    heard.clear()

    response = client.get(f"/custom/activate/{key_in(outbox[0])}/")
    assert response.status_code == 302
    assert response["Location"] == "/custom/activated/"
    assert calls == [
        ("RecordingBackend", "activate"),
        ("RecordingBackend", "activate_user"),
        ("RecordingBackend", "post_activation_redirect"),
    ]
    assert heard == [("user_activated", RecordingBackend, alice, response.wsgi_request)]
    assert User.objects.get(pk=alice.pk).is_active is True


def test_the_form_class_of_the_backend_is_the_one_validated(calls, heard):
    response = Client().post("/custom/register/", SIGNUP)
    assert response.status_code == 200
    assert "terms" in response.context["form"].errors
    assert not User.objects.exists()
    assert heard == []


def test_success_url_template_extra_context_and_form_class(outbox, heard):
    client = Client()
    page = client.get("/options/register/")
    assert [t.name for t in page.templates][0] == "custom/register.html"
    assert page.context["title"] == "Join us"
    # Callables of extra_context are called at each request.
    assert page.context["tagline"] == "computed at request time"
    assert type(page.context["form"]) is backends.TermsForm
    assert b"Join us" in page.content

    refused = client.post("/options/register/", SIGNUP)
    assert "terms" in refused.context["form"].errors
    assert not User.objects.exists()

    response = client.post("/options/register/", {**SIGNUP, "terms": "on"})
    assert response.status_code == 302
    assert response["Location"] == "/welcome/"
    assert User.objects.get(username="alice").is_active is False
    assert [event[0] for event in heard] == ["user_registered"]

    key = key_in(outbox[0])
    failed = client.get(f"/options/activate/{key}x/")
    assert [t.name for t in failed.templates][0] == "custom/activate.html"
    assert failed.context["activation_key"] == f"{key}x"
    assert failed.context["tagline"] == "computed at request time"
    assert f"Key {key}x refused.".encode() in failed.content

    response = client.get(f"/options/activate/{key}/")
    assert response.status_code == 302
    assert response["Location"] == "/activated/"
    assert [event[0] for event in heard] == ["user_registered", "user_activated"]


def test_a_backend_that_refuses_the_request_redirects_to_disallowed(heard):
    response = Client().post("/closed/register/", SIGNUP)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/register/closed/"
    assert not User.objects.exists()
    assert heard == []


def test_a_backend_by_its_methods_alone(calls):
    client = Client()
    assert client.get("/duck/register/").status_code == 200
    response = client.post("/duck/register/", SIGNUP)
    assert response.status_code == 302
    assert response["Location"] == "/duck/done/"
    assert calls == [("DuckBackend", "register")]


def test_an_unknown_backend_is_improperly_configured():
    client = Client(raise_request_exception=True)
    with pytest.raises(ImproperlyConfigured) as caught:
        client.get("/broken/register/")
    assert "'registration.testapp.no_such_module.Backend'" in str(caught.value)
    assert "No module named" in str(caught.value)


def test_the_view_is_csrf_protected():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/register/", SIGNUP)
    assert response.status_code == 403
    assert not User.objects.exists()
