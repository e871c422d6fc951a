"""A signal of the app's own, a plain ``django.dispatch.Signal`` (so a native
``fastdispatch.Signal`` under the shim), listed by django-debug-toolbar
through its ``EXTRA_SIGNALS`` setting."""

from django.dispatch import Signal

book_published = Signal()
