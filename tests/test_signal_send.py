"""send() and send_robust(): order, arguments, responses, errors, logging."""

import logging
import types

import pytest
from conftest import Signal, fastdispatch_only, needs_async


class Sender:
    pass


class Listener:
    def on_signal(self, **kwargs):
        return "method"


class CallableReceiver:
    def __call__(self, **kwargs):
        return "instance"


class Boom(Exception):
    pass


class FailingCallable:
    """A failing callable instance: it has no ``__qualname__`` of its own."""

    def __call__(self, **kwargs):
        raise Boom("instance failed")


class Recorder:
    """Connect ``count`` receivers named r0, r1, ... that record their calls."""

    def __init__(self, signal, count, **connect_kwargs):
        self.calls = []
        self.receivers = []
        for index in range(count):
            handler = self._make(f"r{index}")
            self.receivers.append(handler)
            signal.connect(handler, **connect_kwargs)

    def _make(self, name):
        def handler(**kwargs):
            self.calls.append((name, kwargs))
            return name

        handler.__name__ = handler.__qualname__ = name
        return handler


# --- order and routing -------------------------------------------------------


def test_receivers_called_in_connection_order():
    signal = Signal()
    recorder = Recorder(signal, 5)
    responses = signal.send(None)
    assert [name for name, _ in recorder.calls] == ["r0", "r1", "r2", "r3", "r4"]
    assert responses == [(r, r.__name__) for r in recorder.receivers]


def test_any_sender_and_specific_receivers_interleave_in_connection_order():
    signal = Signal()
    other = Sender()
    calls = []

    def make(name):
        def handler(**kwargs):
            calls.append(name)
            return name

        return handler

    a, b, c, d, e = (make(name) for name in "abcde")
    signal.connect(a)
    signal.connect(b, sender=Sender)
    signal.connect(c)
    signal.connect(d, sender=other)
    signal.connect(e, sender=Sender)
    assert signal.send(Sender) == [(a, "a"), (b, "b"), (c, "c"), (e, "e")]
    assert signal.send(other) == [(a, "a"), (c, "c"), (d, "d")]
    assert signal.send(None) == [(a, "a"), (c, "c")]
    assert calls == list("abce") + list("acd") + list("ac")


@pytest.mark.parametrize(
    "sender",
    [Sender, Sender(), 7, "a-string", None, (1, 2), 10**30, len],
    ids=["class", "instance", "int", "str", "None", "tuple", "bigint", "builtin"],
)
def test_sender_kinds(sender):
    signal = Signal()
    seen = []

    def specific(**kwargs):
        seen.append(("specific", kwargs["sender"]))

    def anyone(**kwargs):
        seen.append(("any", kwargs["sender"]))

    signal.connect(specific, sender=sender)
    signal.connect(anyone)
    signal.send(sender)
    assert [kind for kind, _ in seen] == ["specific", "any"]
    assert all(got is sender for _, got in seen)
    assert signal.has_listeners(sender) is True
    assert signal.disconnect(specific, sender=sender) is True


def test_sender_matching_is_by_identity_not_equality():
    signal = Signal()
    big = 10**30
    equal_big = int(str(big))
    assert equal_big == big and equal_big is not big
    handler = Recorder(signal, 1, sender=big)
    assert signal.send(equal_big) == []
    assert signal.send(big) == [(handler.receivers[0], "r0")]


def test_sender_positional_or_keyword():
    signal = Signal()
    recorder = Recorder(signal, 1, sender=Sender)
    assert signal.send(Sender) == signal.send(sender=Sender)
    assert [kwargs["sender"] for _, kwargs in recorder.calls] == [Sender, Sender]


def test_send_with_no_receivers_returns_empty_list():
    signal = Signal()
    responses = signal.send(Sender, a=1)
    assert responses == []
    assert type(responses) is list
    assert signal.send_robust(Sender, a=1) == []


def test_send_to_none():
    signal = Signal()
    recorder = Recorder(signal, 1)
    specific = Recorder(signal, 1, sender=Sender)
    assert signal.send(None) == [(recorder.receivers[0], "r0")]
    assert recorder.calls == [("r0", {"signal": signal, "sender": None})]
    assert specific.calls == []


# --- arguments received ------------------------------------------------------


def test_receiver_gets_signal_sender_and_named_arguments_only():
    signal = Signal()
    recorder = Recorder(signal, 1)
    signal.send(Sender, x=1, y="two")
    [(_, kwargs)] = recorder.calls
    assert kwargs == {"signal": signal, "sender": Sender, "x": 1, "y": "two"}
    assert kwargs["signal"] is signal
    assert kwargs["sender"] is Sender
    assert list(kwargs) == ["signal", "sender", "x", "y"]


@pytest.mark.parametrize(
    "call, expected_order",
    [
        (lambda s: s.send(Sender, y=2, x=1), ["signal", "sender", "y", "x"]),
        (lambda s: s.send(sender=Sender, a=1), ["signal", "sender", "a"]),
        (lambda s: s.send(a=1, sender=Sender, b=2), ["signal", "sender", "a", "b"]),
        (lambda s: s.send(Sender), ["signal", "sender"]),
        (lambda s: s.send_robust(Sender, z=0, a=1), ["signal", "sender", "z", "a"]),
        (lambda s: s.send_robust(b=2, sender=Sender), ["signal", "sender", "b"]),
    ],
    ids=["positional", "keyword", "keyword-middle", "no-named", "robust", "robust-kw"],
)
def test_kwargs_order(call, expected_order):
    signal = Signal()
    recorder = Recorder(signal, 2)
    call(signal)
    assert [list(kwargs) for _, kwargs in recorder.calls] == [expected_order] * 2
    assert all(kwargs["sender"] is Sender for _, kwargs in recorder.calls)


def test_named_arguments_need_not_be_identifiers():
    signal = Signal()
    recorder = Recorder(signal, 1)
    signal.send(Sender, **{"not-an-identifier": 1, "": 2})
    [(_, kwargs)] = recorder.calls
    assert list(kwargs) == ["signal", "sender", "not-an-identifier", ""]


def test_receiver_gets_no_positional_arguments():
    signal = Signal()
    seen = []

    def handler(*args, **kwargs):
        seen.append(args)

    signal.connect(handler)
    signal.send(Sender, a=1)
    signal.send_robust(Sender, a=1)
    assert seen == [(), ()]


def test_receiver_may_name_its_parameters():
    signal = Signal()

    def handler(signal, sender, value, **kwargs):
        return (signal, sender, value, kwargs)

    signal.connect(handler)
    assert signal.send(Sender, value=3, extra=4) == [
        (handler, (signal, Sender, 3, {"extra": 4}))
    ]


def test_each_receiver_gets_its_own_kwargs_dict():
    signal = Signal()

    def mutate(**kwargs):
        kwargs["added"] = True
        kwargs.pop("value")

    seen = []

    def observe(**kwargs):
        seen.append(dict(kwargs))

    signal.connect(mutate)
    signal.connect(observe)
    signal.send(Sender, value=1)
    assert seen == [{"signal": signal, "sender": Sender, "value": 1}]


# --- responses ---------------------------------------------------------------


def test_responses_hold_the_receiver_objects():
    signal = Signal()

    def function(**kwargs):
        return "function"

    listener = Listener()
    strong_listener = Listener()
    strong_method = strong_listener.on_signal
    instance = CallableReceiver()
    signal.connect(function)
    signal.connect(listener.on_signal)
    signal.connect(strong_method, weak=False)
    signal.connect(instance)
    responses = signal.send(None)
    assert type(responses) is list
    assert all(type(pair) is tuple and len(pair) == 2 for pair in responses)
    assert responses == [
        (function, "function"),
        (listener.on_signal, "method"),
        (strong_method, "method"),
        (instance, "instance"),
    ]
    assert responses[0][0] is function
    assert responses[1][0].__self__ is listener
    assert responses[2][0] is strong_method
    assert responses[3][0] is instance


def test_response_objects_are_passed_through():
    signal = Signal()
    result = object()

    def handler(**kwargs):
        return result

    signal.connect(handler)
    [(_, response)] = signal.send(None)
    assert response is result


# --- send errors -------------------------------------------------------------


def test_exception_propagates_and_stops_dispatch():
    signal = Signal()
    calls = []

    def first(**kwargs):
        calls.append("first")

    def failing(**kwargs):
        calls.append("failing")
        raise Boom("no")

    def last(**kwargs):
        calls.append("last")

    for handler in (first, failing, last):
        signal.connect(handler)
    with pytest.raises(Boom, match="^no$"):
        signal.send(None)
    assert calls == ["first", "failing"]


@needs_async
def test_sync_receiver_failure_skips_async_receivers():
    signal = Signal()
    calls = []

    async def async_handler(**kwargs):
        calls.append("async")

    def failing(**kwargs):
        raise Boom("sync")

    signal.connect(async_handler)
    signal.connect(failing)
    with pytest.raises(Boom):
        signal.send(None)
    assert calls == []


def test_nested_send_from_a_receiver():
    signal = Signal()
    depths = []

    def handler(depth, **kwargs):
        depths.append(depth)
        if depth < 3:
            inner = signal.send(kwargs["sender"], depth=depth + 1)
            return [response for _, response in inner]
        return depth

    signal.connect(handler)
    assert signal.send(Sender, depth=0) == [(handler, [[[3]]])]
    assert depths == [0, 1, 2, 3]


# Messages as produced by Django (a plain Python method named Signal.send).
@pytest.mark.parametrize("method", ["send", "send_robust"])
@pytest.mark.parametrize("with_receivers", [False, True], ids=["empty", "connected"])
def test_bad_send_arguments(method, with_receivers):
    signal = Signal()
    recorder = Recorder(signal, 1) if with_receivers else None
    send = getattr(signal, method)
    cases = [
        ((), {}, f"Signal.{method}() missing 1 required positional argument: 'sender'"),
        (
            (),
            {"a": 1},
            f"Signal.{method}() missing 1 required positional argument: 'sender'",
        ),
        (
            (1, 2),
            {},
            f"Signal.{method}() takes 2 positional arguments but 3 were given",
        ),
        (
            (1,),
            {"sender": 2},
            f"Signal.{method}() got multiple values for argument 'sender'",
        ),
        # A name binding `self` fails too, and Python reports the names
        # first, in the order given, then the positional count.
        (
            (1,),
            {"self": 2},
            f"Signal.{method}() got multiple values for argument 'self'",
        ),
        ((), {"self": 2}, f"Signal.{method}() got multiple values for argument 'self'"),
        (
            (),
            {"sender": 1, "self": 2},
            f"Signal.{method}() got multiple values for argument 'self'",
        ),
        (
            (1,),
            {"sender": 2, "self": 3},
            f"Signal.{method}() got multiple values for argument 'sender'",
        ),
        (
            (1,),
            {"self": 2, "sender": 3},
            f"Signal.{method}() got multiple values for argument 'self'",
        ),
        (
            (1, 2),
            {"sender": 3},
            f"Signal.{method}() got multiple values for argument 'sender'",
        ),
        (
            (),
            {"".join(["se", "lf"]): 3, "sender": 1},
            f"Signal.{method}() got multiple values for argument 'self'",
        ),
    ]
    for args, kwargs, message in cases:
        with pytest.raises(TypeError) as excinfo:
            send(*args, **kwargs)
        assert str(excinfo.value) == message
    if recorder is not None:
        assert recorder.calls == []


@pytest.mark.parametrize("method", ["send", "send_robust"])
@pytest.mark.parametrize("with_receivers", [False, True], ids=["empty", "connected"])
def test_names_like_self_and_sender_bind_as_named_arguments(method, with_receivers):
    """Names as long as `self` or `sender` but not those, and `sender` made at
    run time (another string object than the interned one), bind as Python
    binds them."""
    signal = Signal()
    recorder = Recorder(signal, 1) if with_receivers else None
    send = getattr(signal, method)
    built_sender = "".join(["sen", "der"])
    calls = [
        ((Sender,), {"selg": 2, "sendex": 3}),
        ((), {"selg": 2, built_sender: Sender}),
        ((), {built_sender: Sender, "a": 1}),
    ]
    for args, kwargs in calls:
        responses = send(*args, **kwargs)
        if recorder is None:
            assert responses == []
            continue
        assert responses == [(recorder.receivers[0], "r0")]
        _, received = recorder.calls.pop()
        assert received["sender"] is Sender
        assert received["signal"] is signal
        named = {k: v for k, v in kwargs.items() if k != "sender"}
        assert {
            k: v for k, v in received.items() if k not in ("signal", "sender")
        } == named


def _expected_duplicate_signal_error(handler):
    try:
        handler(signal=1, sender=2, **{"signal": 3})
    except TypeError as err:
        return str(err)
    raise AssertionError("expected a TypeError")


def test_named_argument_called_signal_fails_when_calling_receiver():
    signal = Signal()
    calls = []

    def handler(**kwargs):
        calls.append(kwargs)

    # Nothing to call: nothing fails.
    assert signal.send(Sender, signal=1) == []
    signal.connect(handler)
    with pytest.raises(TypeError) as excinfo:
        signal.send(Sender, signal=1)
    assert str(excinfo.value) == _expected_duplicate_signal_error(handler)
    assert "got multiple values for keyword argument 'signal'" in str(excinfo.value)
    assert calls == []


def test_named_argument_called_signal_is_caught_by_send_robust(caplog):
    signal = Signal()

    def handler(**kwargs):
        raise AssertionError("not reached")

    signal.connect(handler)
    with caplog.at_level(logging.ERROR, logger="django.dispatch"):
        [(got_receiver, err)] = signal.send_robust(Sender, signal=1)
    assert got_receiver is handler
    assert type(err) is TypeError
    assert str(err) == _expected_duplicate_signal_error(handler)
    assert len(caplog.records) == 1


# --- send_robust -------------------------------------------------------------


def test_send_robust_returns_exceptions_and_continues():
    signal = Signal()
    raised = []

    def first(**kwargs):
        return 1

    def failing(**kwargs):
        err = Boom("failed")
        raised.append(err)
        raise err

    def last(**kwargs):
        return 3

    for handler in (first, failing, last):
        signal.connect(handler)
    responses = signal.send_robust(Sender)
    assert responses == [(first, 1), (failing, raised[0]), (last, 3)]
    err = responses[1][1]
    assert err is raised[0]
    assert isinstance(err.__traceback__, types.TracebackType)
    # The traceback reaches into the receiver's frame.
    tb = err.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    assert tb.tb_frame.f_code is failing.__code__


def test_send_robust_logs_errors(caplog):
    signal = Signal()

    def failing(**kwargs):
        raise Boom("it broke")

    signal.connect(failing)
    with caplog.at_level(logging.ERROR, logger="django.dispatch"):
        [(_, err)] = signal.send_robust(Sender)
    [record] = caplog.records
    assert record.name == "django.dispatch"
    assert record.levelno == logging.ERROR
    assert record.getMessage() == (
        f"Error calling {failing.__qualname__} in Signal.send_robust() (it broke)"
    )
    assert record.exc_info[0] is Boom
    assert record.exc_info[1] is err
    assert record.exc_info[2] is err.__traceback__


def test_send_robust_logs_bound_method_qualname(caplog):
    class Owner:
        def on_signal(self, **kwargs):
            raise Boom("method broke")

    signal = Signal()
    owner = Owner()
    signal.connect(owner.on_signal)
    with caplog.at_level(logging.ERROR, logger="django.dispatch"):
        [(got, err)] = signal.send_robust(Sender)
    assert got == owner.on_signal
    assert isinstance(err, Boom)
    [record] = caplog.records
    assert record.getMessage() == (
        f"Error calling {Owner.on_signal.__qualname__} in Signal.send_robust()"
        " (method broke)"
    )


# Django formats the log message with receiver.__qualname__, which a
# callable instance does not have: send_robust() itself crashes with an
# AttributeError. fastdispatch logs the failure (naming the receiver's class)
# and returns the exception, as send_robust() promises.
@fastdispatch_only("failing callable instances are logged instead of crashing")
def test_send_robust_logs_failing_callable_instance(caplog):
    signal = Signal()
    instance = FailingCallable()
    signal.connect(instance)
    with caplog.at_level(logging.ERROR, logger="django.dispatch"):
        [(got, err)] = signal.send_robust(Sender)
    assert got is instance
    assert isinstance(err, Boom)
    [record] = caplog.records
    message = record.getMessage()
    assert message.startswith("Error calling ")
    assert message.endswith(" in Signal.send_robust() (instance failed)")
    assert FailingCallable.__qualname__ in message
    assert record.exc_info[1] is err


def test_send_robust_without_errors_logs_nothing(caplog):
    signal = Signal()
    Recorder(signal, 2)
    with caplog.at_level(logging.DEBUG, logger="django.dispatch"):
        assert [r for _, r in signal.send_robust(None)] == ["r0", "r1"]
    assert caplog.records == []


class Stop(BaseException):
    pass


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, Stop, SystemExit])
def test_send_robust_lets_base_exceptions_through(exc_type):
    signal = Signal()
    calls = []

    def failing(**kwargs):
        calls.append("failing")
        raise exc_type()

    def last(**kwargs):
        calls.append("last")

    signal.connect(failing)
    signal.connect(last)
    with pytest.raises(exc_type):
        signal.send_robust(None)
    assert calls == ["failing"]


@pytest.mark.parametrize("method", ["send", "send_robust"])
def test_send_signatures_are_djangos(method):
    """inspect.signature shows what Django's methods take: `sender` by
    position or by keyword, then any keyword arguments."""
    import inspect

    from support.reference import load_reference

    django_signal = load_reference().Signal()
    assert inspect.signature(getattr(Signal(), method)) == inspect.signature(
        getattr(django_signal, method)
    )
