"""The shop's own signals."""

from django.dispatch import Signal

order_shipped = Signal()
payment_failed = Signal()
