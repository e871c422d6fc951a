"""The two signals of user registration, native ``fastdispatch.Signal`` objects.

``user_registered`` is sent when an account is created, ``user_activated``
when an account is activated; both with ``sender`` (the class of the backend
or view that did it), ``user`` and ``request``.

With fastdispatch's start-up hook in place, importing
``django_registration.signals`` gives this very module, so django-registration's
own views and this package's backends send through the same two objects, and a
receiver connected under either name hears both.
"""

from fastdispatch import Signal

__all__ = ["user_activated", "user_registered"]

# A new account was registered. Sent with: user, request.
user_registered = Signal()

# An account was activated. Sent with: user, request.
user_activated = Signal()
