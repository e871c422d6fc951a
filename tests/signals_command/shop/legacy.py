"""An older module with a signal of the same name as one in ``signals``."""

from django.dispatch import Signal

payment_failed = Signal()
