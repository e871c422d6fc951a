"""The demo's registration part: fastdispatch.registration's two-phase workflow
end to end (register, activation email, activate, log in), through Django's
test client on the demo's in-memory SQLite database.

``demo.py`` adds ``APPS`` to its installed apps and ``SETTINGS`` to its
settings, then calls :func:`run` once the database is migrated.
"""

import re

from django.urls import include, path

APPS = ["fastdispatch.registration"]
SETTINGS = {
    "TEMPLATES": [
        {"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}
    ],
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    "DEFAULT_FROM_EMAIL": "accounts@demo.example",
    "ACCOUNT_ACTIVATION_DAYS": 7,
    # Logging in needs a session; this engine needs no database table.
    "SESSION_ENGINE": "django.contrib.sessions.backends.signed_cookies",
}

# The workflow's URLconf, used in place of the demo's own while run() runs.
urlpatterns = [
    path("accounts/", include("fastdispatch.registration.backends.default.urls")),
]

PASSWORD = "demo-Password-2026"


def _short(path):
    # Activation keys are long; their first characters tell them apart.
    return path if len(path) <= 40 else f"{path[:38]}…/"


def _describe(request):
    return f"{request.method} {_short(request.path)}"


def _answer(response):
    location = response.get("Location")
    return f"     -> {response.status_code}" + (f" {location}" if location else "")


def run(heading):
    from django.contrib.auth import get_user_model
    from django.core import mail
    from django.test import Client, override_settings
    from fastdispatch.registration import signals

    heading("Registration, two phases (fastdispatch.registration DefaultBackend)")
    try:
        import django_registration.signals as theirs
    except ImportError:
        theirs = None
        print("   django-registration is not installed")
    else:
        print(
            f"   django_registration.signals is {signals.__name__}: {theirs is signals}"
        )

    def hearing(name):
        def heard(sender, user, request, **kwargs):
            print(
                f"     heard {name}: sender={sender.__name__}, "
                f"user={user.get_username()}, request={_describe(request)}"
            )

        return heard

    heard_by_theirs = []

    def counting(name):
        def count(sender, **kwargs):
            heard_by_theirs.append(name)

        return count

    receivers = []
    for name in ("user_registered", "user_activated"):
        receivers.append((getattr(signals, name), hearing(name)))
        if theirs is not None:
            receivers.append((getattr(theirs, name), counting(name)))
    for signal, receiver in receivers:
        signal.connect(receiver)
    try:
        with override_settings(ROOT_URLCONF=__name__):
            _workflow(Client(), get_user_model(), mail)
    finally:
        for signal, receiver in receivers:
            signal.disconnect(receiver)
    if theirs is not None:
        print(
            "   receivers connected through django_registration.signals heard: "
            + (", ".join(heard_by_theirs) or "nothing")
        )


def _workflow(client, user_model, mail):
    print("   POST /accounts/register/ (alice)")
    response = client.post(
        "/accounts/register/",
        {
            "username": "alice",
            "email": "alice@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    print(_answer(response))
    alice = user_model.objects.get(username="alice")
    print(f"   alice: is_active={alice.is_active}")

    [message] = mail.outbox
    print(f"   email to {', '.join(message.to)}: {message.subject!r}")
    link = re.search(r"http://testserver(/accounts/activate/\S+/)", message.body)[1]
    print(f"   activation link: {_short(link)}")
    logged_in = client.login(username="alice", password=PASSWORD)
    print(f"   log in before activation: {logged_in}")

    print("   GET the activation link")
    response = client.get(link)
    print(_answer(response))
    alice.refresh_from_db()
    print(f"   alice: is_active={alice.is_active}")
    logged_in = client.login(username="alice", password=PASSWORD)
    print(f"   log in after activation: {logged_in}")

    print("   GET the activation link again")
    response = client.get(link)
    refused = "refused" if response.status_code == 200 else "accepted"
    print(f"{_answer(response)} ({refused})")
