"""Pluggable user-registration workflows on fastdispatch's native signals.

A Django app (add ``"fastdispatch.registration"`` to ``INSTALLED_APPS``): the
``register`` and ``activate`` views take a registration backend by dotted path
(``backend="fastdispatch.registration.backends.default.DefaultBackend"``), load
it with :func:`get_backend`, and leave the workflow to it. Backends derive from
the native :class:`RegistrationBackend`, which sends ``user_registered`` and
``user_activated`` (``fastdispatch.registration.signals``, the very module that
``django_registration.signals`` resolves to once fastdispatch is installed).

Two workflows come with it: ``backends.default.DefaultBackend`` (register,
then activate through an emailed link) and ``backends.simple.SimpleBackend``
(register and be logged in at once). Forms and their validation come from
django-registration, installed by the extra ``django-fastdispatch[registration]``.
"""

from fastdispatch._native import RegistrationBackend
from fastdispatch.registration.backends import get_backend

__all__ = ["RegistrationBackend", "get_backend"]
