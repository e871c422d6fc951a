"""Receivers of every kind, connected on import. Each records its label in
``calls`` when it runs."""

import functools

from django.db.models.signals import post_save
from django.dispatch import receiver

from signals_command.shop.api import order_shipped
from signals_command.shop.models import Customer, Order

calls = []


@receiver(post_save, sender=Order)
def order_saved(sender, **kwargs):
    calls.append("order_saved")


class Auditor:
    def on_save(self, sender, **kwargs):
        calls.append("auditor")


class Notifier:
    def __call__(self, sender, **kwargs):
        calls.append("notifier")


async def index_order(sender, **kwargs):
    calls.append("index_order")


def record(label, sender, **kwargs):
    calls.append(label)


def audit(sender, **kwargs):
    calls.append("audit")


def logged(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        return function(*args, **kwargs)

    return wrapper


@logged
def customer_saved(sender, **kwargs):
    calls.append("customer_saved")


def shipped(sender, **kwargs):
    calls.append("shipped")


auditor = Auditor()
notifier = Notifier()

post_save.connect(auditor.on_save)
post_save.connect(notifier, sender=Order, weak=False)
post_save.connect(
    lambda sender, **kw: calls.append("lambda"), sender=Customer, weak=False
)
post_save.connect(index_order, sender=Order, dispatch_uid="shop.index_order")
post_save.connect(
    functools.partial(record, "partial"), weak=False, dispatch_uid=("shop", 42)
)
post_save.connect(audit, weak=False, dispatch_uid=7)
post_save.connect(customer_saved, sender=Customer)
order_shipped.connect(shipped)
