"""The two-phase workflow end to end: register, the activation email,
activate, log in; and every way activation is refused."""

import re
import time
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.urls import reverse
from fastdispatch.registration.backends.default import DefaultBackend

pytestmark = pytest.mark.usefixtures("db")

User = get_user_model()
PASSWORD = "correct-Horse-battery-9"
LINK = re.compile(r"http://testserver(/accounts/activate/[^/\s]+/)")


def sign_up(client, username="alice", email=None, **fields):
    data = {
        "username": username,
        "email": email or f"{username}@example.com",
        "password1": PASSWORD,
        "password2": PASSWORD,
        **fields,
    }
    return client.post(reverse("registration_register"), data)


def activation_link(message):
    [path] = LINK.findall(message.body)
    return path


def key_of(path):
    return path.rstrip("/").rsplit("/", 1)[1]


@pytest.fixture
def client():
    return Client()


@pytest.fixture
def registered(client, outbox, heard):
    """alice, registered through the view; her activation link."""
    response = sign_up(client)
    assert response.status_code == 302
    user = User.objects.get(username="alice")
    link = activation_link(outbox[0])
    outbox.clear()
    heard.clear()
    return user, link


def test_urls():
    assert reverse("registration_register") == "/accounts/register/"
    assert reverse("registration_complete") == "/accounts/register/complete/"
    assert reverse("registration_disallowed") == "/accounts/register/closed/"
    assert reverse("registration_activate", args=["k"]) == "/accounts/activate/k/"
    assert reverse("registration_activation_complete") == "/accounts/activate/complete/"


def test_signup_form_is_django_registrations(client):
    response = client.get("/accounts/register/")
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == (
        "registration/registration_form.html"
    )
    form = response.context["form"]
    assert type(form).__module__ == "django_registration.forms"
    assert {"username", "email", "password1", "password2"} <= set(form.fields)
    assert b'name="csrfmiddlewaretoken"' in response.content


def test_the_whole_workflow(client, outbox, heard):
    # Register: an inactive account, one email, one user_registered.
    response = sign_up(client, "alice")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/register/complete/"
    alice = User.objects.get(username="alice")
    assert alice.is_active is False
    assert alice.email == "alice@example.com"
    assert alice.check_password(PASSWORD)
    assert heard == [("user_registered", DefaultBackend, alice, response.wsgi_request)]
    assert heard[0][1] is DefaultBackend

    [message] = outbox
    assert message.to == ["alice@example.com"]
    assert message.from_email == "accounts@example.com"
    assert message.subject == "Activate your account on testserver"
    assert "within 3 days" in message.body
    link = activation_link(message)

    # An inactive account cannot log in yet.
    assert client.login(username="alice", password=PASSWORD) is False
    complete = client.get("/accounts/register/complete/")
    assert b"Registration complete" in complete.content

    # Activate through the link: one user_activated.
    heard.clear()
    response = client.get(link)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/activate/complete/"
    alice.refresh_from_db()
    assert alice.is_active is True
    assert len(heard) == 1
    name, sender, user, request = heard[0]
    assert (name, sender, user, request) == (
        "user_activated",
        DefaultBackend,
        alice,
        response.wsgi_request,
    )
    assert request.path == link
    assert user.is_active is True

    # And now log in.
    assert client.login(username="alice", password=PASSWORD) is True
    page = client.get("/accounts/activate/complete/")
    assert page.context["user"] == alice
    assert outbox == [message]


def test_invalid_form_creates_nothing(client, outbox, heard):
    User.objects.create_user("taken", "taken@example.com", PASSWORD)
    cases = {
        "mismatched passwords": dict(username="bob", password2="something-else-1"),
        "reserved name": dict(username="admin"),
        "confusable name": dict(username="p\u0430ypal"),
        "taken, other case": dict(username="TAKEN"),
        "bad email": dict(username="carol", email="not an address"),
        "no email": dict(username="dan", email=""),
    }
    for case, fields in cases.items():
        username = fields.pop("username")
        data = {
            "username": username,
            "email": f"{username}@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
            **fields,
        }
        response = client.post("/accounts/register/", data)
        assert response.status_code == 200, case
        assert response.context["form"].errors, case
    assert list(User.objects.values_list("username", flat=True)) == ["taken"]
    assert outbox == []
    assert heard == []


@override_settings(REGISTRATION_OPEN=False)
def test_registration_closed(client, outbox, heard):
    for method in (client.get, client.post):
        response = method("/accounts/register/", {"username": "eve"})
        assert response.status_code == 302
        assert response["Location"] == "/accounts/register/closed/"
    assert not User.objects.exists()
    assert outbox == []
    assert heard == []
    page = client.get("/accounts/register/closed/")
    assert b"Registration closed" in page.content


def assert_refused(client, path, user, heard):
    before = User.objects.values().get(pk=user.pk)
    response = client.get(path)
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "registration/activate.html"
    assert response.context["account"] is False
    assert b"Activation failed" in response.content
    assert User.objects.values().get(pk=user.pk) == before
    assert heard == []


def test_tampered_keys_are_refused(client, registered, heard):
    user, link = registered
    key = key_of(link)
    payload, timestamp, signature = key.rsplit(":", 2)
    flipped = "A" if signature[-1] != "A" else "B"
    for bad in (
        f"{payload}:{timestamp}:{signature[:-1]}{flipped}",
        f"{payload}x:{timestamp}:{signature}",
        f"{payload}:{timestamp}",
        "not-a-key",
    ):
        assert_refused(client, f"/accounts/activate/{bad}/", user, heard)
    assert User.objects.get(pk=user.pk).is_active is False


def test_keys_of_another_salt_are_refused(client, registered, heard):
    from django.core import signing

    user, _ = registered
    backend = DefaultBackend()
    good = backend.activation_key(user)
    foreign = signing.dumps(signing.loads(good, salt=backend.salt), salt="other")
    assert_refused(client, f"/accounts/activate/{foreign}/", user, heard)


def make_key_in_the_past(user, days):
    now = time.time()
    with mock.patch("time.time", return_value=now - days * 86400):
        return DefaultBackend().activation_key(user)


def test_expired_keys_are_refused(client, registered, heard):
    user, _ = registered
    old = make_key_in_the_past(user, days=3.1)
    assert_refused(client, f"/accounts/activate/{old}/", user, heard)


def test_keys_stay_valid_for_account_activation_days(client, registered, heard):
    user, _ = registered
    recent = make_key_in_the_past(user, days=2.9)
    with override_settings(ACCOUNT_ACTIVATION_DAYS=2):
        assert_refused(client, f"/accounts/activate/{recent}/", user, heard)
    response = client.get(f"/accounts/activate/{recent}/")
    assert response.status_code == 302
    assert User.objects.get(pk=user.pk).is_active is True
    assert [event[0] for event in heard] == ["user_activated"]


def test_reused_keys_are_refused(client, registered, heard):
    user, link = registered
    assert client.get(link).status_code == 302
    assert len(heard) == 1
    heard.clear()
    assert_refused(client, link, user, heard)
    assert User.objects.get(pk=user.pk).is_active is True


def test_a_used_key_does_not_reactivate_a_deactivated_account(
    client, registered, heard
):
    user, link = registered
    assert client.get(link).status_code == 302
    assert client.login(username="alice", password=PASSWORD) is True
    client.logout()
    User.objects.filter(pk=user.pk).update(is_active=False)
    heard.clear()
    assert_refused(client, link, user, heard)
    assert User.objects.get(pk=user.pk).is_active is False


def test_a_key_dies_with_a_password_change(client, registered, heard):
    user, link = registered
    user.set_password("another-Password-2")
    user.save()
    assert_refused(client, link, user, heard)


def test_keys_of_unknown_users_are_refused(client, registered, heard):
    user, link = registered
    other = User.objects.create_user(
        "zoe", "zoe@example.com", PASSWORD, is_active=False
    )
    zoe_key = DefaultBackend().activation_key(other)
    other.delete()
    assert_refused(client, f"/accounts/activate/{zoe_key}/", user, heard)
    # The link of a deleted account works for no one else either.
    User.objects.filter(pk=user.pk).delete()
    response = client.get(link)
    assert response.status_code == 200
    assert heard == []


def test_the_backend_refuses_a_missing_key(heard):
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    assert DefaultBackend().activate(request) is False
    assert DefaultBackend().activate(request, activation_key=None) is False
    assert heard == []


def test_only_one_of_two_activations_with_the_same_key_wins(registered, heard):
    from django.test import RequestFactory

    user, link = registered
    key = key_of(link)
    backend = DefaultBackend()
    request = RequestFactory().get(link)
    # Both requests found the account inactive before either activated it.
    first = backend.user_for_key(key)
    second = backend.user_for_key(key)
    assert first is not None and second is not None
    with mock.patch.object(DefaultBackend, "user_for_key", side_effect=[first, second]):
        assert backend.activate(request, activation_key=key) == user
        assert backend.activate(request, activation_key=key) is False
    assert [event[0] for event in heard] == ["user_activated"]


def test_activation_days_default_to_seven():
    with override_settings():
        from django.conf import settings

        del settings.ACCOUNT_ACTIVATION_DAYS
        assert DefaultBackend.activation_days() == 7


def test_the_email_templates_can_be_overridden(client, outbox, tmp_path):
    templates = tmp_path / "registration"
    templates.mkdir()
    (templates / "activation_email_subject.txt").write_text(
        "Welcome\n{{ user.get_username }}\n"
    )
    (templates / "activation_email.txt").write_text(
        "Key: {{ activation_key }}, {{ expiration_days }} days"
    )
    from django.conf import settings

    engine = dict(settings.TEMPLATES[0], DIRS=[str(tmp_path)])
    with override_settings(TEMPLATES=[engine]):
        assert sign_up(client, "fred").status_code == 302
    [message] = outbox
    # Forced onto one line: a subject never spans headers.
    assert message.subject == "Welcomefred"
    key = message.body.removeprefix("Key: ").split(",")[0]
    assert message.body == f"Key: {key}, 3 days"
    assert DefaultBackend().user_for_key(key) == User.objects.get(username="fred")
