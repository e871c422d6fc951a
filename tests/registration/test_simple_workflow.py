"""The one-phase workflow end to end: register and be logged in at once."""

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.test import Client, override_settings
from django.urls import reverse
from fastdispatch.registration.backends.simple import SimpleBackend

pytestmark = pytest.mark.usefixtures("db")

User = get_user_model()
PASSWORD = "correct-Horse-battery-9"


@pytest.fixture(autouse=True)
def one_step_urls():
    with override_settings(ROOT_URLCONF="registration.urls_one_step"):
        yield


def sign_up(client, username, **fields):
    data = {
        "username": username,
        "email": f"{username}@example.com",
        "password1": PASSWORD,
        "password2": PASSWORD,
        **fields,
    }
    return client.post(reverse("registration_register"), data)


def test_urls_have_no_activation():
    from django.urls import NoReverseMatch

    assert reverse("registration_register") == "/accounts/register/"
    assert reverse("registration_complete") == "/accounts/register/complete/"
    assert reverse("registration_disallowed") == "/accounts/register/closed/"
    with pytest.raises(NoReverseMatch):
        reverse("registration_activate", args=["k"])


def test_the_whole_workflow(outbox, heard):
    client = Client()
    response = sign_up(client, "alice")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/register/complete/"
    alice = User.objects.get(username="alice")
    assert alice.is_active is True
    assert alice.check_password(PASSWORD)
    assert heard == [("user_registered", SimpleBackend, alice, response.wsgi_request)]
    # Logged in by the registration itself.
    assert client.session[SESSION_KEY] == str(alice.pk)
    page = client.get(response["Location"])
    assert page.context["user"] == alice
    assert b"you are logged in" in page.content
    # No activation, no email.
    assert outbox == []
    # And the account logs in again later.
    client.logout()
    assert client.login(username="alice", password=PASSWORD) is True
    assert len(heard) == 1


def test_invalid_form_creates_nothing(outbox, heard):
    client = Client()
    response = sign_up(client, "root")
    assert response.status_code == 200
    assert "username" in response.context["form"].errors
    response = sign_up(client, "bob", password2="different-Password-3")
    assert "password2" in response.context["form"].errors
    assert not User.objects.exists()
    assert SESSION_KEY not in client.session
    assert heard == []


@override_settings(REGISTRATION_OPEN=False)
def test_registration_closed(heard):
    client = Client()
    response = sign_up(client, "carol")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/register/closed/"
    assert not User.objects.exists()
    assert heard == []


def test_without_an_authentication_backend_for_it_the_account_stays_logged_out(heard):
    client = Client()
    backends = ["django.contrib.auth.backends.RemoteUserBackend"]
    with override_settings(AUTHENTICATION_BACKENDS=backends):
        response = sign_up(client, "dave")
    assert response.status_code == 302
    dave = User.objects.get(username="dave")
    assert dave.is_active is True
    assert SESSION_KEY not in client.session
    assert heard == [("user_registered", SimpleBackend, dave, response.wsgi_request)]
