"""The two-phase workflow: register, then activate through an emailed link.

Registering creates an inactive account and emails it a link whose key is a
signed, timestamped token (``django.core.signing``): nothing is stored for it.
The link activates the account within ``settings.ACCOUNT_ACTIVATION_DAYS``
days (7 when not set).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sites.shortcuts import get_current_site
from django.core import signing
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.crypto import constant_time_compare, salted_hmac

from fastdispatch._native import RegistrationBackend
from fastdispatch.registration.accounts import new_account

__all__ = ["DEFAULT_ACTIVATION_DAYS", "DefaultBackend"]

DEFAULT_ACTIVATION_DAYS = 7

# An account: an instance of the project's user model (AUTH_USER_MODEL), used
# for the fields and methods Django's own user models have (email_user, ...).
User = Any


class DefaultBackend(RegistrationBackend):
    """Register an inactive account and email it an activation link.

    An activation key is refused (``activate`` returns False, the account is
    left as it is, no signal is sent) when its signature does not match, when
    it is older than ``ACCOUNT_ACTIVATION_DAYS`` days, when its account no
    longer exists or is already active, and once the account's password
    changed or it logged in since the key was made.
    """

    # Keys made for this workflow are useless to any other use of signing.
    salt = "fastdispatch.registration.backends.default"
    email_subject_template = "registration/activation_email_subject.txt"
    email_body_template = "registration/activation_email.txt"

    def create_user(self, request: HttpRequest, **kwargs: Any) -> User:
        """Create the inactive account and email it its activation link."""
        user = new_account(kwargs, is_active=False)
        self.send_activation_email(request, user)
        return user

    def activate_user(
        self, request: HttpRequest, activation_key: object = None, **kwargs: Any
    ) -> User | Literal[False]:
        """Activate the account of ``activation_key``; False when the key is
        refused."""
        user = self.user_for_key(activation_key)
        if user is None:
            return False
        # A conditional update, so that of two requests with the same key only
        # one activates the account (and sends user_activated).
        claimed = (
            type(user)
            ._default_manager.filter(pk=user.pk, is_active=False)
            .update(is_active=True)
        )
        if not claimed:
            return False
        user.is_active = True
        return user

    @staticmethod
    def activation_days() -> float:
        """How many days an activation key stays valid."""
        days: float = getattr(
            settings, "ACCOUNT_ACTIVATION_DAYS", DEFAULT_ACTIVATION_DAYS
        )
        return days

    def activation_key(self, user: User) -> str:
        """The signed, timestamped activation key of ``user``."""
        return signing.dumps([str(user.pk), self._fingerprint(user)], salt=self.salt)

    def user_for_key(self, activation_key: object) -> User | None:
        """The inactive account that ``activation_key`` may activate, or None."""
        if not isinstance(activation_key, str):
            return None
        try:
            pk, fingerprint = signing.loads(
                activation_key,
                salt=self.salt,
                max_age=timedelta(days=self.activation_days()),
            )
        except (signing.BadSignature, TypeError, ValueError):
            return None
        user_model = get_user_model()
        try:
            user = user_model._default_manager.get(pk=pk)
        except (ObjectDoesNotExist, ValidationError, ValueError, TypeError):
            return None
        if user.is_active or not constant_time_compare(
            fingerprint, self._fingerprint(user)
        ):
            return None
        return user

    def _fingerprint(self, user: User) -> str:
        # Changes with the password hash and the last login: a key stops
        # working once its account has been used, even if it is deactivated
        # again within the validity period.
        last_login = getattr(user, "last_login", None)
        # Some databases keep no microseconds.
        login = (
            ""
            if last_login is None
            else last_login.replace(microsecond=0, tzinfo=None).isoformat()
        )
        value = f"{user.password}|{login}"
        return salted_hmac(self.salt, value, algorithm="sha256").hexdigest()[:32]

    def email_context(
        self, request: HttpRequest, user: User, activation_key: str
    ) -> dict[str, Any]:
        """The context of the activation email's templates."""
        return {
            "user": user,
            "activation_key": activation_key,
            "expiration_days": self.activation_days(),
            "site": get_current_site(request),
            "scheme": request.scheme,
        }

    def send_activation_email(self, request: HttpRequest, user: User) -> None:
        """Email ``user`` the link that activates the account."""
        context = self.email_context(request, user, self.activation_key(user))
        subject: str = render_to_string(self.email_subject_template, context, request)
        # One line, or a crafted username could add mail headers.
        subject = "".join(subject.splitlines()).strip()
        body = render_to_string(self.email_body_template, context, request)
        user.email_user(subject, body, settings.DEFAULT_FROM_EMAIL)
