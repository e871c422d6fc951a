"""Signal(), connect(), disconnect(), has_listeners() and the DEBUG checks."""

import gc
import os
import subprocess
import sys
import textwrap
import warnings
import weakref
from pathlib import Path

import pytest
from conftest import NONE_ID, REFERENCE_PATH, Signal, _make_id, fastdispatch_only
from django.test.utils import override_settings


def make_receiver(calls=None, result=None):
    """A fresh receiver function (a new object each call) recording its calls."""

    def handler(**kwargs):
        if calls is not None:
            calls.append(handler)
        return result

    return handler


class Listener:
    def __init__(self):
        self.calls = 0

    def on_signal(self, **kwargs):
        self.calls += 1
        return self


class NoWeakrefCallable:
    __slots__ = ()

    def __call__(self, **kwargs):
        return "called"

    def method(self, **kwargs):
        return "method"


class Sender:
    pass


def connected(signal, sender=None):
    """The receivers send() would call, in order."""
    return [r for r, _ in signal.send(sender)]


# --- construction ------------------------------------------------------------


def test_new_signal_is_empty():
    signal = Signal()
    assert signal.use_caching is False
    assert signal.receivers == []
    assert signal.has_listeners() is False
    assert signal.send(None) == []


@pytest.mark.parametrize(
    "make",
    [
        lambda: Signal(use_caching=True),
        lambda: Signal(True),
    ],
    ids=["keyword", "positional"],
)
def test_use_caching_argument(make):
    signal = make()
    assert signal.use_caching is True
    assert signal.receivers == []


def test_unknown_constructor_argument_raises():
    with pytest.raises(TypeError):
        Signal(caching=True)


# Django dropped ``providing_args`` in 4.0 (TypeError); fastdispatch still
# accepts it with a DeprecationWarning so that old code keeps importing.
@fastdispatch_only("Signal(providing_args=...) is accepted with a warning")
def test_providing_args_is_deprecated_but_works():
    with pytest.warns(DeprecationWarning):
        signal = Signal(providing_args=["a"])
    calls = []
    handler = make_receiver(calls, result=42)
    signal.connect(handler)
    assert signal.send(None, a=1) == [(handler, 42)]
    assert calls == [handler]


# --- connect -----------------------------------------------------------------


def test_connect_is_weak_by_default():
    signal = Signal()
    handler = make_receiver()
    signal.connect(handler)
    assert connected(signal) == [handler]
    del handler
    gc.collect()
    assert signal.send(None) == []
    assert signal.has_listeners() is False
    assert signal.receivers == []


def test_connect_strong_keeps_receiver_alive():
    signal = Signal()
    calls = []
    handler = make_receiver(calls, result="strong")
    handler_ref = weakref.ref(handler)
    signal.connect(handler, weak=False)
    del handler
    gc.collect()
    assert handler_ref() is not None
    assert signal.send(None) == [(handler_ref(), "strong")]
    assert calls == [handler_ref()]
    assert signal.has_listeners() is True


def test_bound_method_is_weakly_referenced():
    signal = Signal()
    listener = Listener()
    signal.connect(listener.on_signal)
    # The temporary bound method is gone already; the receiver must survive.
    gc.collect()
    assert signal.send(None) == [(listener.on_signal, listener)]
    assert listener.calls == 1
    listener_ref = weakref.ref(listener)
    del listener
    gc.collect()
    assert listener_ref() is None
    assert signal.send(None) == []
    assert signal.has_listeners() is False


def test_bound_method_strong_keeps_instance_alive():
    signal = Signal()
    listener = Listener()
    listener_ref = weakref.ref(listener)
    signal.connect(listener.on_signal, weak=False)
    del listener
    gc.collect()
    assert listener_ref() is not None
    assert signal.send(None) == [(listener_ref().on_signal, listener_ref())]


def test_connect_same_function_twice_is_ignored():
    signal = Signal()
    calls = []
    handler = make_receiver(calls)
    signal.connect(handler)
    signal.connect(handler)
    assert len(signal.receivers) == 1
    signal.send(None)
    assert calls == [handler]


def test_duplicate_connect_keeps_first_registration():
    # The second connect (strong) is ignored: the receiver stays weak.
    signal = Signal()
    handler = make_receiver()
    signal.connect(handler)
    signal.connect(handler, weak=False)
    assert len(signal.receivers) == 1
    del handler
    gc.collect()
    assert signal.send(None) == []


def test_connect_same_bound_method_twice_is_ignored():
    signal = Signal()
    listener = Listener()
    signal.connect(listener.on_signal)
    signal.connect(listener.on_signal)
    assert len(signal.receivers) == 1
    signal.send(None)
    assert listener.calls == 1


def test_same_method_of_two_instances_counts_twice():
    signal = Signal()
    first, second = Listener(), Listener()
    signal.connect(first.on_signal)
    signal.connect(second.on_signal)
    assert len(signal.receivers) == 2
    assert [response for _, response in signal.send(None)] == [first, second]


def test_same_dispatch_uid_keeps_first_receiver():
    signal = Signal()
    first, second = make_receiver(result=1), make_receiver(result=2)
    signal.connect(first, dispatch_uid="uid")
    signal.connect(second, dispatch_uid="uid")
    assert len(signal.receivers) == 1
    assert signal.send(None) == [(first, 1)]


def test_same_dispatch_uid_for_different_senders_counts_twice():
    signal = Signal()
    first, second = make_receiver(result=1), make_receiver(result=2)
    signal.connect(first, sender=Sender, dispatch_uid="uid")
    signal.connect(second, dispatch_uid="uid")
    assert len(signal.receivers) == 2
    assert signal.send(Sender) == [(first, 1), (second, 2)]
    assert signal.send(None) == [(second, 2)]


@pytest.mark.parametrize(
    "uid",
    ["a-string", ("a", "tuple", 1), 12345, 1.5],
    ids=["str", "tuple", "int", "float"],
)
def test_dispatch_uid_kinds(uid):
    signal = Signal()
    handler = make_receiver(result="ok")
    signal.connect(handler, sender=Sender, dispatch_uid=uid)
    assert signal.receivers[0][0] == (uid, _make_id(Sender))
    # Any receiver argument: the uid decides.
    assert signal.disconnect(make_receiver(), sender=Sender, dispatch_uid=uid) is True
    assert signal.receivers == []


def test_dispatch_uids_compare_by_equality():
    signal = Signal()
    first, second, third = (make_receiver(result=n) for n in (1, 2, 3))
    uid = "".join(["u", "i", "d"])
    signal.connect(first, dispatch_uid="uid")
    signal.connect(second, dispatch_uid=uid)
    signal.connect(third, dispatch_uid=("uid", 1.0))
    signal.connect(second, dispatch_uid=("uid", 1))
    assert signal.send(None) == [(first, 1), (third, 3)]
    assert signal.disconnect(dispatch_uid=("uid", True)) is True


def test_unhashable_dispatch_uid():
    # Keys are compared, never hashed.
    signal = Signal()
    first, second = make_receiver(result=1), make_receiver(result=2)
    signal.connect(first, dispatch_uid=["list", "uid"])
    signal.connect(second, dispatch_uid=["list", "uid"])
    assert signal.send(None) == [(first, 1)]
    assert signal.disconnect(dispatch_uid=["list", "uid"]) is True
    assert signal.receivers == []


def test_unhashable_receiver():
    class Unhashable:
        __hash__ = None

        def __call__(self, **kwargs):
            return "unhashable"

    signal = Signal()
    instance = Unhashable()
    signal.connect(instance)
    signal.connect(instance)
    assert signal.send(None) == [(instance, "unhashable")]
    assert signal.disconnect(instance) is True


def test_classmethod_receiver():
    class Owner:
        @classmethod
        def on_signal(cls, **kwargs):
            return cls

    signal = Signal()
    signal.connect(Owner.on_signal)
    signal.connect(Owner.on_signal)
    assert signal.receivers[0][0] == (
        (id(Owner), id(Owner.__dict__["on_signal"].__func__)),
        NONE_ID,
    )
    assert isinstance(signal.receivers[0][1], weakref.WeakMethod)
    assert signal.send(None) == [(Owner.on_signal, Owner)]
    assert signal.disconnect(Owner.on_signal) is True


@pytest.mark.parametrize("weak", [0, None, "", False])
def test_falsy_weak_means_strong(weak):
    signal = Signal()
    handler = make_receiver(result="kept")
    handler_ref = weakref.ref(handler)
    signal.connect(handler, weak=weak)
    del handler
    gc.collect()
    assert signal.send(None) == [(handler_ref(), "kept")]


@pytest.mark.parametrize("weak", [1, "yes", True])
def test_truthy_weak_means_weak(weak):
    signal = Signal()
    handler = make_receiver()
    signal.connect(handler, weak=weak)
    assert isinstance(signal.receivers[0][1], weakref.ReferenceType)
    del handler
    gc.collect()
    assert signal.send(None) == []


def test_connect_and_disconnect_by_keyword():
    signal = Signal()
    handler = make_receiver(result="kw")
    signal.connect(receiver=handler, sender=Sender, weak=False, dispatch_uid=None)
    assert signal.send(sender=Sender) == [(handler, "kw")]
    assert signal.disconnect(receiver=handler, sender=Sender) is True
    signal.connect(receiver=handler, dispatch_uid="uid")
    assert signal.disconnect(dispatch_uid="uid") is True


def test_dispatch_uid_replaces_receiver_identity():
    # With a dispatch_uid, the receiver's own identity is not part of the key:
    # the same function under two uids is connected (and called) twice.
    signal = Signal()
    calls = []
    handler = make_receiver(calls)
    signal.connect(handler, dispatch_uid="one")
    signal.connect(handler, dispatch_uid="two")
    signal.connect(handler)
    assert len(signal.receivers) == 3
    signal.send(None)
    assert calls == [handler, handler, handler]


def test_dispatch_uid_equal_to_a_receiver_id_collides():
    # Keys are compared by value: a dispatch_uid that happens to equal the id
    # of an already connected receiver is a duplicate.
    signal = Signal()
    first, second = make_receiver(result=1), make_receiver(result=2)
    signal.connect(first)
    signal.connect(second, dispatch_uid=id(first))
    assert signal.send(None) == [(first, 1)]


def test_dispatch_uid_equal_to_a_bound_method_key_collides():
    signal = Signal()
    listener = Listener()
    handler = make_receiver(result="uid")
    signal.connect(listener.on_signal)
    signal.connect(handler, dispatch_uid=_make_id(listener.on_signal))
    assert signal.send(None) == [(listener.on_signal, listener)]
    assert signal.disconnect(dispatch_uid=(id(listener), id(Listener.on_signal)))
    assert signal.receivers == []


@pytest.mark.parametrize("uid", ["", 0, None, ()], ids=repr)
def test_falsy_dispatch_uid_is_no_uid(uid):
    signal = Signal()
    first, second = make_receiver(result=1), make_receiver(result=2)
    signal.connect(first, dispatch_uid=uid)
    signal.connect(second, dispatch_uid=uid)
    signal.connect(first, dispatch_uid=uid)
    assert [key for key, *_ in signal.receivers] == [
        (_make_id(first), NONE_ID),
        (_make_id(second), NONE_ID),
    ]
    assert signal.send(None) == [(first, 1), (second, 2)]
    assert signal.disconnect(first) is True
    assert signal.disconnect(second, dispatch_uid=uid) is True
    assert signal.receivers == []


def test_same_receiver_for_two_senders_counts_twice():
    signal = Signal()
    other = Sender()
    calls = []
    handler = make_receiver(calls)
    signal.connect(handler, sender=Sender)
    signal.connect(handler, sender=other)
    assert len(signal.receivers) == 2
    assert connected(signal, Sender) == [handler]
    assert connected(signal, other) == [handler]
    assert connected(signal, None) == []
    assert calls == [handler, handler]


def test_weak_connect_of_unreferenceable_receiver_raises():
    signal = Signal()
    keep = make_receiver()
    signal.connect(keep)
    before = list(signal.receivers)
    obj = NoWeakrefCallable()
    with pytest.raises(TypeError) as expected:
        weakref.ref(obj)
    with pytest.raises(TypeError) as excinfo:
        signal.connect(obj)
    assert str(excinfo.value) == str(expected.value)
    assert signal.receivers == before
    assert connected(signal) == [keep]


def test_weak_connect_of_method_of_unreferenceable_object_raises():
    signal = Signal()
    obj = NoWeakrefCallable()
    with pytest.raises(TypeError) as expected:
        weakref.WeakMethod(obj.method)
    with pytest.raises(TypeError) as excinfo:
        signal.connect(obj.method)
    assert str(excinfo.value) == str(expected.value)
    assert signal.receivers == []
    assert signal.has_listeners() is False


def test_strong_connect_of_unreferenceable_receiver_works():
    signal = Signal()
    obj = NoWeakrefCallable()
    signal.connect(obj, weak=False)
    signal.connect(obj.method, weak=False)
    assert signal.send(None) == [(obj, "called"), (obj.method, "method")]


# --- DEBUG checks ------------------------------------------------------------


class NotCallable:
    pass


def no_kwargs_receiver(sender):
    return sender


class NoKwargsCallable:
    def __call__(self, sender, signal):
        return sender


def test_debug_rejects_non_callable():
    signal = Signal()
    with override_settings(DEBUG=True):
        with pytest.raises(TypeError) as excinfo:
            signal.connect(NotCallable(), weak=False)
    assert str(excinfo.value) == "Signal receivers must be callable."
    assert signal.receivers == []


def test_debug_callable_check_comes_before_weakref():
    signal = Signal()
    with override_settings(DEBUG=True):
        with pytest.raises(TypeError, match=r"^Signal receivers must be callable\.$"):
            signal.connect(5)
    with pytest.raises(TypeError, match="weak reference"):
        signal.connect(5)
    assert signal.receivers == []


@pytest.mark.parametrize(
    "bad",
    [no_kwargs_receiver, NoKwargsCallable(), lambda: None],
    ids=["function", "callable-instance", "lambda"],
)
def test_debug_rejects_receiver_without_kwargs(bad):
    signal = Signal()
    with override_settings(DEBUG=True):
        with pytest.raises(ValueError) as excinfo:
            signal.connect(bad, weak=False)
    assert (
        str(excinfo.value)
        == "Signal receivers must accept keyword arguments (**kwargs)."
    )
    assert signal.receivers == []


def test_debug_accepts_good_receivers():
    signal = Signal()
    listener = Listener()

    def explicit(signal, sender, **kwargs):
        return sender

    with override_settings(DEBUG=True):
        signal.connect(explicit)
        signal.connect(listener.on_signal)
    assert len(signal.receivers) == 2


def test_no_checks_when_debug_is_false():
    signal = Signal()
    not_callable = NotCallable()
    with override_settings(DEBUG=False):
        signal.connect(not_callable)
        signal.connect(no_kwargs_receiver)
    assert len(signal.receivers) == 2
    with pytest.raises(TypeError):
        signal.send(None)


def test_no_checks_when_settings_are_not_configured():
    # Settings are process-global and configured by conftest: check the
    # unconfigured case in a fresh interpreter.
    script = textwrap.dedent(
        """
        import sys
        from django.conf import settings

        path = sys.argv[1]
        if path:
            from support.reference import load_reference

            module = load_reference(path)
        else:
            import fastdispatch as module

        class NotCallable:
            pass

        def no_kwargs(sender):
            pass

        keep = NotCallable()
        signal = module.Signal()
        signal.connect(keep)
        signal.connect(no_kwargs)
        assert len(signal.receivers) == 2, signal.receivers
        assert not settings.configured
        print("ok")
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    # tests/, for the test-support package.
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(Path(__file__).resolve().parent), env.get("PYTHONPATH")])
    )
    result = subprocess.run(
        [sys.executable, "-c", script, REFERENCE_PATH],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


# --- disconnect --------------------------------------------------------------


def test_disconnect_returns_whether_something_was_removed():
    signal = Signal()
    handler, other = make_receiver(), make_receiver()
    signal.connect(handler)
    assert signal.disconnect(other) is False
    assert signal.disconnect(handler) is True
    assert signal.disconnect(handler) is False
    assert signal.receivers == []
    assert Signal().disconnect(handler) is False


def test_disconnect_keeps_other_receivers_in_order():
    signal = Signal()
    a, b, c = (
        make_receiver(result="a"),
        make_receiver(result="b"),
        make_receiver(result="c"),
    )
    for handler in (a, b, c):
        signal.connect(handler)
    assert signal.disconnect(b) is True
    assert signal.send(None) == [(a, "a"), (c, "c")]


def test_disconnect_needs_matching_sender():
    signal = Signal()
    handler = make_receiver()
    signal.connect(handler, sender=Sender)
    assert signal.disconnect(handler) is False
    assert signal.disconnect(handler, sender=object()) is False
    assert len(signal.receivers) == 1
    assert signal.disconnect(handler, sender=Sender) is True
    assert signal.receivers == []


def test_disconnect_one_of_two_senders():
    signal = Signal()
    other = Sender()
    handler = make_receiver(result=1)
    signal.connect(handler, sender=Sender)
    signal.connect(handler, sender=other)
    assert signal.disconnect(handler, sender=Sender) is True
    assert signal.send(Sender) == []
    assert signal.send(other) == [(handler, 1)]


def test_disconnect_bound_method_with_fresh_bound_method():
    signal = Signal()
    listener = Listener()
    signal.connect(listener.on_signal)
    assert signal.disconnect(Listener().on_signal) is False
    assert signal.disconnect(listener.on_signal) is True
    assert signal.receivers == []


def test_disconnect_strong_receiver():
    signal = Signal()
    handler = make_receiver()
    handler_ref = weakref.ref(handler)
    signal.connect(handler, weak=False)
    assert signal.disconnect(handler) is True
    del handler
    gc.collect()
    assert handler_ref() is None


def test_disconnect_by_dispatch_uid():
    signal = Signal()
    handler = make_receiver()
    signal.connect(handler, dispatch_uid="uid")
    # The receiver alone does not match an entry registered under a uid.
    assert signal.disconnect(handler) is False
    assert signal.disconnect(dispatch_uid="other") is False
    assert signal.disconnect(dispatch_uid="uid") is True
    assert signal.receivers == []


def test_disconnect_by_dispatch_uid_and_sender():
    signal = Signal()
    first, second = make_receiver(result=1), make_receiver(result=2)
    signal.connect(first, sender=Sender, dispatch_uid="uid")
    signal.connect(second, dispatch_uid="uid")
    assert signal.disconnect(dispatch_uid="uid", sender=Sender()) is False
    assert signal.disconnect(dispatch_uid="uid", sender=Sender) is True
    assert signal.send(Sender) == [(second, 2)]
    assert signal.disconnect(dispatch_uid="uid") is True
    assert signal.receivers == []


def test_disconnect_with_positional_arguments():
    signal = Signal()
    handler = make_receiver()
    signal.connect(handler, Sender, False, "uid")
    assert signal.receivers[0][0] == ("uid", _make_id(Sender))
    assert signal.disconnect(None, Sender, "uid") is True


@pytest.mark.parametrize("use_caching", [False, True])
def test_receiver_disconnecting_itself_during_send(use_caching):
    signal = Signal(use_caching=use_caching)
    calls = []

    def first(**kwargs):
        calls.append("first")
        assert signal.disconnect(first) is True

    def second(**kwargs):
        calls.append("second")

    signal.connect(first)
    signal.connect(second)
    assert signal.send(Sender) == [(first, None), (second, None)]
    assert calls == ["first", "second"]
    assert signal.send(Sender) == [(second, None)]


@pytest.mark.parametrize("use_caching", [False, True])
def test_receiver_disconnecting_a_later_receiver_during_send(use_caching):
    # The current send calls the receivers live at its start.
    signal = Signal(use_caching=use_caching)
    calls = []

    def first(**kwargs):
        calls.append("first")
        signal.disconnect(third)

    def second(**kwargs):
        calls.append("second")

    def third(**kwargs):
        calls.append("third")

    for handler in (first, second, third):
        signal.connect(handler)
    assert [r for r, _ in signal.send(Sender)] == [first, second, third]
    assert calls == ["first", "second", "third"]
    calls.clear()
    signal.send(Sender)
    assert calls == ["first", "second"]


@pytest.mark.parametrize("use_caching", [False, True])
def test_receiver_connecting_another_during_send(use_caching):
    signal = Signal(use_caching=use_caching)
    calls = []

    def late(**kwargs):
        calls.append("late")

    def first(**kwargs):
        calls.append("first")
        signal.connect(late)

    signal.connect(first)
    assert signal.send(Sender) == [(first, None)]
    assert calls == ["first"]
    calls.clear()
    assert signal.send(Sender) == [(first, None), (late, None)]
    assert calls == ["first", "late"]


# --- has_listeners -----------------------------------------------------------


def test_has_listeners():
    signal = Signal()
    other = Sender()
    assert signal.has_listeners() is False
    assert signal.has_listeners(Sender) is False

    specific = make_receiver()
    signal.connect(specific, sender=Sender)
    # sender=None only counts receivers connected for any sender.
    assert signal.has_listeners() is False
    assert signal.has_listeners(None) is False
    assert signal.has_listeners(Sender) is True
    assert signal.has_listeners(sender=Sender) is True
    assert signal.has_listeners(other) is False

    anyone = make_receiver()
    signal.connect(anyone)
    assert signal.has_listeners() is True
    assert signal.has_listeners(other) is True
    assert signal.has_listeners(5) is True

    signal.disconnect(anyone)
    assert signal.has_listeners(other) is False
    assert signal.has_listeners(Sender) is True
    signal.disconnect(specific, sender=Sender)
    assert signal.has_listeners(Sender) is False


def test_has_listeners_ignores_dead_receivers():
    signal = Signal()
    handler = make_receiver()
    signal.connect(handler, sender=Sender)
    assert signal.has_listeners(Sender) is True
    del handler
    gc.collect()
    assert signal.has_listeners(Sender) is False


def test_connect_emits_no_warnings():
    signal = Signal()
    handler = make_receiver()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        signal.connect(handler)
        signal.send(None)
        signal.disconnect(handler)
