"""Accounts made from a signup form's cleaned data, for the included backends."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model

if TYPE_CHECKING:
    # Only for the type checker: importing it needs the app registry ready,
    # and URLconfs import this module before that.
    from django.contrib.auth.base_user import AbstractBaseUser

# django-registration's forms ask for the password twice (password1 and
# password2); a simpler form may have a single ``password`` field.
PASSWORD_FIELDS = ("password1", "password")


def raw_password(data: Mapping[str, Any]) -> str | None:
    """The password typed in the signup form, or None."""
    for name in PASSWORD_FIELDS:
        if data.get(name):
            password: str = data[name]
            return password
    return None


def new_account(data: Mapping[str, Any], *, is_active: bool) -> AbstractBaseUser:
    """Create, save and return a user from a signup form's ``cleaned_data``.

    The form's values go to the user model's fields of the same name (other
    values are ignored); the password is hashed, never stored as typed.
    """
    user_model = get_user_model()
    fields = {field.name for field in user_model._meta.concrete_fields}
    fields.discard("password")
    user = user_model(**{name: value for name, value in data.items() if name in fields})
    user.is_active = is_active
    password = raw_password(data)
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    user.save()
    return user
