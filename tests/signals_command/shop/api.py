"""Re-exports ``order_shipped``, which ``signals`` defines."""

from signals_command.shop.signals import order_shipped

__all__ = ["order_shipped"]
