"""Bad input: the same exception type as the installed Django, a clear message,
and the signal left as it was (its ``receivers`` rows, compared before and
after).

Each case runs on both implementations, on a signal that already has
receivers (for any sender and for one sender), each implementation with its
own objects.
"""

import asyncio
import functools
import inspect

import pytest
from conftest import needs_async
from django.test.utils import override_settings
from support.django_layout import unpack_row
from support.reference import implementations

IMPLEMENTATIONS = implementations()


def has_signature(func):
    try:
        inspect.signature(func)
    except ValueError:
        return False
    return True


class Model:
    pass


class SlotsCallable:
    """Callable, but cannot be weakly referenced."""

    __slots__ = ()

    def __call__(self, **kwargs):
        return "slots"

    def method(self, **kwargs):
        return "slots method"


class Unhashable:
    __hash__ = None


class CallableWithoutKwargs:
    def __call__(self, sender):
        return None


def without_kwargs(sender):
    return None


def existing(**kwargs):
    return "existing"


def specific(**kwargs):
    return "specific"


def rows(signal):
    """The signal's rows, by identity (compared within one implementation)."""
    out = []
    for row in signal.receivers:
        (receiver_key, sender_key), holder, sender_ref, is_async = unpack_row(row)
        out.append(
            (
                receiver_key,
                sender_key,
                id(holder() if hasattr(holder, "__callback__") else holder),
                None if sender_ref is None else id(sender_ref()),
                is_async,
            )
        )
    return out


def run_case(module, action, use_caching, debug):
    signal = module.Signal(use_caching=use_caching)
    signal.connect(existing)
    signal.connect(specific, sender=Model, weak=False)
    before = rows(signal)
    try:
        if debug:
            with override_settings(DEBUG=True):
                result = action(signal)
        else:
            result = action(signal)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        outcome = ("returned", repr(result))
    except Exception as err:
        outcome = (type(err), str(err))
    after = rows(signal)
    assert after == before, f"{module.__name__}: the signal changed: {after}"
    # Still usable afterwards.
    assert [r for _, r in signal.send(Model)] == ["existing", "specific"]
    return outcome


def async_send(signal, *args):
    return signal.asend(*args)


ASYNC_CASES = {
    "caching_asend_unhashable",
    "plain_asend_unhashable",
    "caching_asend_str",
    "asend_no_sender",
    "asend_robust_extra_positional",
}

# (id, action, use_caching, debug, words the message must contain); those in
# ASYNC_CASES need asend()/asend_robust().
CASES = [
    # Weak connections to receivers that cannot be weakly referenced.
    ("weak_slots_callable", lambda s: s.connect(SlotsCallable()), False, False,
     ["weak reference", "SlotsCallable"]),
    ("weak_slots_method", lambda s: s.connect(SlotsCallable().method), False,
     False, ["weak reference", "SlotsCallable"]),
    ("weak_int", lambda s: s.connect(42, sender=Model), True, False,
     ["weak reference", "int"]),
    # Unhashable senders: on a caching signal, and on a plain one (Django
    # looks them up in its sender cache, a dict, once receivers exist).
    ("caching_send_unhashable", lambda s: s.send(Unhashable()), True, False,
     ["unhashable", "Unhashable"]),
    ("caching_send_robust_unhashable", lambda s: s.send_robust(Unhashable()),
     True, False, ["unhashable", "Unhashable"]),
    ("caching_has_listeners_unhashable", lambda s: s.has_listeners(Unhashable()),
     True, False, ["unhashable", "Unhashable"]),
    ("caching_asend_unhashable", lambda s: async_send(s, Unhashable()), True,
     False, ["unhashable", "Unhashable"]),
    ("plain_send_unhashable", lambda s: s.send(Unhashable()), False, False,
     ["unhashable", "Unhashable"]),
    ("plain_send_robust_unhashable", lambda s: s.send_robust(Unhashable()),
     False, False, ["unhashable", "Unhashable"]),
    ("plain_asend_unhashable", lambda s: async_send(s, Unhashable()), False,
     False, ["unhashable", "Unhashable"]),
    # Senders a caching signal cannot hold weakly.
    ("caching_send_int", lambda s: s.send(10**30), True, False,
     ["weak reference", "int"]),
    ("caching_send_none", lambda s: s.send(None), True, False,
     ["weak reference", "NoneType"]),
    ("caching_asend_str", lambda s: async_send(s, "sender"), True, False,
     ["weak reference", "str"]),
    # send() without a sender, or with extra positional arguments.
    ("send_no_sender", lambda s: s.send(), False, False,
     ["send()", "missing", "sender"]),
    ("send_extra_positional", lambda s: s.send(Model, 2), False, False,
     ["send()", "positional"]),
    ("send_sender_twice", lambda s: s.send(Model, sender=Model), False, False,
     ["send()", "multiple values", "sender"]),
    ("send_robust_no_sender", lambda s: s.send_robust(), True, False,
     ["send_robust()", "missing", "sender"]),
    ("send_robust_extra_positional", lambda s: s.send_robust(Model, 2, 3), True,
     False, ["send_robust()", "positional"]),
    ("asend_no_sender", lambda s: s.asend(), False, False,
     ["asend()", "missing", "sender"]),
    ("asend_robust_extra_positional", lambda s: s.asend_robust(Model, 2), False,
     False, ["asend_robust()", "positional"]),
    ("send_keyword_not_a_string", lambda s: s.send(Model, **{1: 2}), False, False,
     ["keywords must be strings"]),
    # DEBUG on: receivers that are not callable or take no **kwargs.
    ("debug_not_callable", lambda s: s.connect(42, weak=False), False, True,
     ["must be callable"]),
    ("debug_none", lambda s: s.connect(None), True, True, ["must be callable"]),
    ("debug_function_without_kwargs", lambda s: s.connect(without_kwargs), False,
     True, ["keyword arguments", "**kwargs"]),
    ("debug_lambda_without_kwargs", lambda s: s.connect(lambda sender: None),
     False, True, ["keyword arguments", "**kwargs"]),
    ("debug_callable_without_kwargs",
     lambda s: s.connect(CallableWithoutKwargs()), True, True,
     ["keyword arguments", "**kwargs"]),
    ("debug_partial_without_kwargs",
     lambda s: s.connect(functools.partial(without_kwargs)), False, True,
     ["keyword arguments", "**kwargs"]),
    # Python 3.10 has no signature for print: Django's check then fails on
    # that, with inspect's own words.
    ("debug_builtin_without_kwargs", lambda s: s.connect(print), False, True,
     ["keyword arguments", "**kwargs"] if has_signature(print) else ["signature"]),
    ("debug_no_signature", lambda s: s.connect(type, weak=False), False, True,
     ["signature"]),
    # Wrong arguments to connect().
    ("connect_no_receiver", lambda s: s.connect(), False, False,
     ["connect()", "missing", "receiver"]),
    ("connect_unknown_keyword", lambda s: s.connect(existing, bogus=1), False,
     False, ["connect()", "bogus"]),
    ("disconnect_unknown_keyword", lambda s: s.disconnect(bogus=1), False, False,
     ["disconnect()", "bogus"]),
]  # fmt: skip


@pytest.mark.parametrize(
    "action, use_caching, debug, words",
    [
        pytest.param(
            *case[1:], id=case[0], marks=needs_async if case[0] in ASYNC_CASES else ()
        )
        for case in CASES
    ],
)
def test_bad_input(action, use_caching, debug, words):
    django = run_case(IMPLEMENTATIONS["django"], action, use_caching, debug)
    fast = run_case(IMPLEMENTATIONS["fast"], action, use_caching, debug)
    assert isinstance(django[0], type), f"Django accepted it: {django}"
    assert fast[0] is django[0], f"django: {django}\nfast:   {fast}"
    for word in words:
        assert word in fast[1], f"unclear message: {fast[1]!r}"
    assert fast == django


# Argument-count errors of the methods that are native in fastdispatch: the
# same TypeError, but counting the arguments without `self`.
ARITY_CASES = [
    ("has_listeners", lambda s: s.has_listeners(Model, 2)),
    ("disconnect", lambda s: s.disconnect(existing, None, None, 4)),
    ("init", lambda s: type(s)(False, 2)),
]


@pytest.mark.parametrize(
    "action", [pytest.param(case[1], id=case[0]) for case in ARITY_CASES]
)
def test_bad_argument_count_type(action):
    django = run_case(IMPLEMENTATIONS["django"], action, False, False)
    fast = run_case(IMPLEMENTATIONS["fast"], action, False, False)
    assert django[0] is TypeError
    assert fast[0] is TypeError
    assert "positional argument" in fast[1]


@pytest.mark.xfail(
    strict=True,
    reason="K7 (open): argument-count messages of native methods count "
    "positional arguments without self ('takes from 0 to 1 positional "
    "arguments but 2 were given'; Django: 'from 1 to 2 ... but 3')",
)
@pytest.mark.parametrize(
    "action", [pytest.param(case[1], id=case[0]) for case in ARITY_CASES]
)
def test_bad_argument_count_message(action):
    django = run_case(IMPLEMENTATIONS["django"], action, False, False)
    fast = run_case(IMPLEMENTATIONS["fast"], action, False, False)
    assert fast == django


def test_providing_args_is_a_deliberate_difference():
    """(c): Django rejects providing_args (since 4.0); fastdispatch accepts it
    with a DeprecationWarning (it was common in code written for Django < 4)."""
    with pytest.raises(TypeError, match="providing_args"):
        IMPLEMENTATIONS["django"].Signal(providing_args=["a"])
    with pytest.warns(DeprecationWarning, match="providing_args"):
        signal = IMPLEMENTATIONS["fast"].Signal(providing_args=["a"])
    assert signal.receivers == []
