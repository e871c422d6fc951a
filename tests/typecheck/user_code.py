"""Code as a project writes it, checked by ``mypy --strict`` (``make typecheck``)
with Django's stubs installed: against ``django.dispatch`` (which the shim
makes fastdispatch's at run time) and against ``fastdispatch`` itself.

Not a test module: nothing here runs under pytest. The functions only have to
type-check.
"""

from __future__ import annotations

import asyncio
from typing import Any

import django.dispatch
import fastdispatch
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

# Written against Django's API.

order_placed = django.dispatch.Signal()
order_shipped = django.dispatch.Signal(use_caching=True)


class Order:
    pass


@receiver(order_placed, sender=Order, dispatch_uid="log-order")
def log_order(sender: type[Order], **kwargs: Any) -> str:
    return f"{sender.__name__} placed"


@receiver([order_placed, order_shipped])
def notify(sender: object, **kwargs: Any) -> None:
    pass


@receiver(post_save)
@receiver(post_delete, weak=False)
def audit(sender: object, **kwargs: Any) -> None:
    pass


def with_django_signal() -> None:
    def on_shipped(sender: object, **kwargs: Any) -> int:
        return 1

    order_shipped.connect(on_shipped, sender=Order, weak=False, dispatch_uid=1)
    assert order_shipped.has_listeners(Order)
    assert order_placed.has_listeners()
    for handler, response in order_shipped.send(sender=Order, order=Order()):
        print(handler, response)
    for _handler, outcome in order_shipped.send_robust(Order):
        if isinstance(outcome, Exception):
            raise outcome
    responses = asyncio.run(order_shipped.asend(Order))
    print(len(responses), asyncio.run(order_shipped.asend_robust(Order)))
    removed: bool = order_shipped.disconnect(on_shipped, sender=Order)
    order_shipped.disconnect(dispatch_uid=1, sender=Order)
    print(removed)


# Written against fastdispatch.

stock_changed = fastdispatch.Signal()
price_changed = fastdispatch.Signal(use_caching=True)


@fastdispatch.receiver(stock_changed, sender=Order, dispatch_uid="stock")
def on_stock(sender: type[Order], **kwargs: Any) -> None:
    pass


@fastdispatch.receiver((stock_changed, price_changed))
async def on_any_change(sender: object, **kwargs: Any) -> str:
    return "seen"


# fastdispatch.receiver with Django's own signals. (Not the other way round:
# Django's stubs ask django.dispatch.Signal of its receiver, and a signal made
# from fastdispatch.Signal is one only once the shim is in.)
@fastdispatch.receiver([post_save, order_placed], weak=False)
@fastdispatch.receiver(stock_changed)
def on_saved(sender: object, **kwargs: Any) -> None:
    pass


def with_fastdispatch_signal() -> None:
    class Watcher:
        def on_price(self, sender: object, **kwargs: Any) -> float:
            return 1.5

    watcher = Watcher()
    price_changed.connect(watcher.on_price, sender=Order)
    price_changed.connect(on_stock, weak=False, dispatch_uid=("price", 2))
    listening: bool = price_changed.has_listeners(Order)
    for handler, response in price_changed.send(Order, amount=3):
        print(handler(sender=Order), response)
    for handler, outcome in price_changed.send_robust(sender=Order):
        if isinstance(outcome, BaseException):
            print(handler, outcome)
    print(listening, asyncio.run(price_changed.asend(Order, amount=4)))
    print(asyncio.run(price_changed.asend_robust(sender=Order)))
    removed: bool = price_changed.disconnect(watcher.on_price, sender=Order)
    price_changed.disconnect(dispatch_uid=("price", 2))
    print(removed, fastdispatch.describe(price_changed).receivers)


def signal_of_either_kind(
    signal: django.dispatch.Signal | fastdispatch.Signal,
) -> bool:
    return signal.has_listeners()
