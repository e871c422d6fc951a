"""The one-phase workflow: register and be logged in at once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth import authenticate, get_user_model, login

if TYPE_CHECKING:
    # Only for the type checker: importing it needs the app registry ready,
    # and URLconfs import this module before that.
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.http import HttpRequest

from fastdispatch._native import RegistrationBackend
from fastdispatch.registration.accounts import new_account, raw_password

__all__ = ["SimpleBackend"]


class SimpleBackend(RegistrationBackend):
    """Create an active account and log it in. There is no activation step:
    ``activate`` and ``post_activation_redirect`` raise NotImplementedError."""

    def create_user(self, request: HttpRequest, **kwargs: Any) -> AbstractBaseUser:
        """Create the active account and log it in, through Django's
        authentication backends (it stays logged out if none accepts it)."""
        user = new_account(kwargs, is_active=True)
        # Every user model has USERNAME_FIELD (Django requires it of custom
        # ones); Django's stubs declare it on AbstractUser only.
        username_field: str = get_user_model().USERNAME_FIELD  # type: ignore[attr-defined]
        credentials = {
            username_field: user.get_username(),
            "password": raw_password(kwargs),
        }
        authenticated = authenticate(request, **credentials)
        if authenticated is None:
            return user
        login(request, authenticated)
        return authenticated
