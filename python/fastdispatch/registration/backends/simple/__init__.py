"""The one-phase workflow: register and be logged in at once."""

from django.contrib.auth import authenticate, get_user_model, login

from fastdispatch._native import RegistrationBackend
from fastdispatch.registration.accounts import new_account, raw_password

__all__ = ["SimpleBackend"]


class SimpleBackend(RegistrationBackend):
    """Create an active account and log it in. There is no activation step:
    ``activate`` and ``post_activation_redirect`` raise NotImplementedError."""

    def create_user(self, request, **kwargs):
        """Create the active account and log it in, through Django's
        authentication backends (it stays logged out if none accepts it)."""
        user = new_account(kwargs, is_active=True)
        credentials = {
            get_user_model().USERNAME_FIELD: user.get_username(),
            "password": raw_password(kwargs),
        }
        authenticated = authenticate(request, **credentials)
        if authenticated is None:
            return user
        login(request, authenticated)
        return authenticated
