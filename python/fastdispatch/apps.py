"""The ``fastdispatch`` Django app.

Adding ``"fastdispatch"`` to ``INSTALLED_APPS`` provides the ``signals``
management command. The app has no models and changes nothing else: the
native dispatcher is at work whether it is installed or not.
"""

from django.apps import AppConfig


class FastDispatchConfig(AppConfig):
    name = "fastdispatch"
    verbose_name = "fastdispatch"
