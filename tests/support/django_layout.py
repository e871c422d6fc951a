"""What the installed Django's dispatcher shows, for tests that read
internals: the series, and rows of ``Signal.receivers`` and
``_live_receivers`` results in any series' layout.

Worked out from ``django.VERSION`` alone (not from fastdispatch), so that the
same tests run against Django's own dispatcher (``FASTDISPATCH_TEST_REFERENCE``)
and hold fastdispatch to it:

=======  =============================================  =================
series   ``receivers`` row                              ``_live_receivers``
=======  =============================================  =================
4.2      ``(lookup_key, receiver)``                     a list
5.x      ``(lookup_key, receiver, is_async)``           ``(sync, async)``
6.x      ``(lookup_key, receiver, sender_ref, is_async)``  ``(sync, async)``
=======  =============================================  =================
"""

from __future__ import annotations

from typing import Any

import django

_MAJOR, _MINOR = django.VERSION[:2]
#: "4.2", "5.2" (for every 5.x, whose dispatcher is 5.2's), "6.0" or "6.1".
SERIES = (
    "4.2"
    if _MAJOR < 5
    else "5.2"
    if _MAJOR == 5
    else "6.0"
    if (_MAJOR, _MINOR) == (6, 0)
    else "6.1"
)
#: Coroutine-function receivers are async receivers, and asend exists (5.0+).
HAS_ASYNC = SERIES != "4.2"
#: Rows carry the sender's weak reference (6.0+).
ROWS_HAVE_SENDER_REF = SERIES in ("6.0", "6.1")
#: Async receivers run in a TaskGroup sharing one context (6.1); before, with
#: asyncio.gather, each in a copy of the caller's context.
TASK_GROUP = SERIES == "6.1"
#: The name of the hook weak references call when a receiver dies.
DEAD_RECEIVER_HOOK = (
    "_flag_dead_receivers" if ROWS_HAVE_SENDER_REF else "_remove_receiver"
)
#: Django drops the receivers connected for a sender when that sender dies
#: (6.0+, through the rows' sender reference). fastdispatch does on every
#: series: before 6.0 it is one of its deliberate improvements.
DROPS_DEAD_SENDERS = ROWS_HAVE_SENDER_REF
#: ``len()`` of a ``receivers`` row.
ROW_LENGTH = 2 if SERIES == "4.2" else 3 if SERIES == "5.2" else 4


def unpack_row(row: tuple) -> tuple[Any, Any, Any, bool]:
    """``(lookup_key, receiver, sender_ref, is_async)`` of a ``receivers``
    row of the installed series (``sender_ref`` None and ``is_async`` False
    where the series has none)."""
    if SERIES == "4.2":
        lookup_key, receiver = row
        return lookup_key, receiver, None, False
    if SERIES == "5.2":
        lookup_key, receiver, is_async = row
        return lookup_key, receiver, None, is_async
    lookup_key, receiver, sender_ref, is_async = row
    return lookup_key, receiver, sender_ref, is_async


def make_row(
    lookup_key: Any, receiver: Any, sender_ref: Any = None, is_async: bool = False
) -> tuple:
    """A ``receivers`` row in the installed series' layout."""
    if SERIES == "4.2":
        return (lookup_key, receiver)
    if SERIES == "5.2":
        return (lookup_key, receiver, is_async)
    return (lookup_key, receiver, sender_ref, is_async)


def make_cache_entry(receiver: Any, sender_ref: Any = None, is_async: bool = False):
    """An item of a ``sender_receivers_cache`` value (a list of them) in the
    installed series' layout: the receiver (or its weak reference) on 4.2,
    ``(receiver, is_async)`` on 5.x, ``(receiver, sender_ref, is_async)`` on
    6.x."""
    if SERIES == "4.2":
        return receiver
    if SERIES == "5.2":
        return (receiver, is_async)
    return (receiver, sender_ref, is_async)


def make_live(sync: list, asynchronous: list) -> Any:
    """What ``_live_receivers`` returns in the installed series, for code that
    replaces it: ``(sync, async)``, or on 4.2 one list (``sync`` then
    ``asynchronous``; 4.2 has no async receivers, so ``asynchronous`` is
    empty when it comes from ``split_live``)."""
    if SERIES == "4.2":
        return [*sync, *asynchronous]
    return (sync, asynchronous)


def split_live(result: Any) -> tuple[list, list]:
    """``(sync, async)`` from what ``_live_receivers`` returned."""
    if SERIES == "4.2":
        return list(result), []
    sync, asynchronous = result
    return list(sync), list(asynchronous)
