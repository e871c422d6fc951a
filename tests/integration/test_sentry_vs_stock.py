"""sentry-sdk's signal spans, with ``sentry_sdk.init`` before a signal's first
send and after it, on the native signals and on Django's own, each in a
fresh interpreter (``stock_vs_native``).

``DjangoIntegration`` replaces ``Signal._live_receivers`` on the class when
the SDK is initialised, for the rest of the process, with a function that
calls the original and wraps each sync receiver in a span (op
``event.django``). What the original returns is read per ``django.VERSION``:
``(sync, async)`` from Django 5.0 on, a list of sync receivers before (which
it changes in place). ``send`` must then call the wrappers, whenever the
replacement happened. The usual set-up initialises the SDK in the settings
module, before Django is set up and before any signal sends:
``test_sentry.py`` initialises it after Django's own signals have sent, so
it cannot see a dispatcher that misses a replacement made before the first
send. Here each scenario is a process of its own (sentry's class patch
cannot be undone), run on both dispatchers.

Each scenario records, per send, every receiver called (its qualified name,
unwrapped), whether ``send`` returned a wrapper in its place (something
other than the receiver connected, as ``signal.send(...)[0][0] is not
receiver`` tells for a function) and what it returned, and, per
transaction, the ``event.django`` spans as ``(op, description)``, in order.
Events go to an in-memory transport: nothing leaves the process.
"""

import pytest
import sentry_sdk

from integration.sentry_transport import SIGNAL_OP, init_sentry
from integration.stock_vs_native import compare, setup_django

MODULE = __name__
BEFORE = "before_first_send"
AFTER = "after_first_send"


def start_sentry():
    return init_sentry(signals_spans=True)


# --- receivers, connected in the child ---------------------------------------


class Sender:
    pass


class Listener:
    def on_signal(self, sender, value, **kwargs):
        return ["method", value]

    def on_any_save(self, sender, created, **kwargs):
        return ["method", created]


def first(sender, value, **kwargs):
    return ["first", value]


def third(sender, value, **kwargs):
    return ["third", value]


def on_author_saved(sender, instance, created, **kwargs):
    return ["author", created]


def on_save_uid(sender, created, **kwargs):
    return ["uid", created]


def calls(responses, receivers):
    """``[qualified name, wrapped, response]`` per receiver called."""
    return [
        [
            getattr(called, "__wrapped__", called).__qualname__,
            called not in receivers,
            response,
        ]
        for called, response in responses
    ]


# --- scenarios, each run in a child ------------------------------------------


def custom_signal(init):
    """A plain ``Signal`` with a weak function, a bound method limited to a
    sender, and a strong function with a ``dispatch_uid``, created and
    connected first (as at the import of an app's module). Then, with
    ``init`` before the first send: the SDK, Django's set-up, the sends; after
    it: Django's set-up, a send, the SDK, the sends."""
    from django.dispatch import Signal

    signal = Signal()
    listener = Listener()
    signal.connect(first)
    signal.connect(listener.on_signal, sender=Sender)
    signal.connect(third, weak=False, dispatch_uid="third")
    receivers = [first, listener.on_signal, third]
    if init == BEFORE:
        transport = start_sentry()
        setup_django(migrate=False)
    else:
        setup_django(migrate=False)
        signal.send(Sender, value=0)
        transport = start_sentry()
    record = {"live_receivers": type(signal)._live_receivers.__name__}
    for name in ("send", "send again"):
        with sentry_sdk.start_transaction(name=name):
            record[name] = calls(signal.send(Sender, value=2), receivers)
        record[f"{name} spans"] = transport.signal_spans(name)
    return record


def model_post_save(init):
    """``post_save`` (a caching ``ModelSignal``) of a model: a weak function
    limited to the model, a bound method for any sender, a strong function
    with a ``dispatch_uid``. With ``init`` before the first send the SDK starts
    before Django's set-up, as in a settings module; after it, once a first
    save has sent. Then a save through the ORM, and a direct send to see what
    ``send`` returns."""
    if init == BEFORE:
        transport = start_sentry()  # in the settings module, as usual
        setup_django()
    else:
        setup_django()
    from django.db.models.signals import post_save

    from integration.testapp.models import Author

    listener = Listener()
    post_save.connect(on_author_saved, sender=Author)
    post_save.connect(listener.on_any_save)
    post_save.connect(on_save_uid, weak=False, dispatch_uid="on-save-uid")
    receivers = [on_author_saved, listener.on_any_save, on_save_uid]
    if init == AFTER:
        Author.objects.create(name="before sentry")
        transport = start_sentry()
    record = {"live_receivers": type(post_save)._live_receivers.__name__}
    with sentry_sdk.start_transaction(name="save"):
        author = Author.objects.create(name="traced")
    record["save spans"] = transport.signal_spans("save")
    with sentry_sdk.start_transaction(name="send"):
        responses = post_save.send(
            sender=Author,
            instance=author,
            created=False,
            update_fields=None,
            raw=False,
            using="default",
        )
    record["send"] = calls(responses, receivers)
    record["send spans"] = transport.signal_spans("send")
    return record


# --- what stock Django gives (every version) ---------------------------------


def spans(*names):
    return [[SIGNAL_OP, f"{MODULE}.{name}"] for name in names]


CUSTOM_CALLS = [
    ["first", True, ["first", 2]],
    ["Listener.on_signal", True, ["method", 2]],
    ["third", True, ["third", 2]],
]
CUSTOM_SPANS = spans("first", "Listener.on_signal", "third")
EXPECTED_CUSTOM = {
    "live_receivers": "_sentry_live_receivers",
    "send": CUSTOM_CALLS,
    "send spans": CUSTOM_SPANS,
    "send again": CUSTOM_CALLS,
    "send again spans": CUSTOM_SPANS,
}
POST_SAVE_SPANS = spans("on_author_saved", "Listener.on_any_save", "on_save_uid")
EXPECTED_POST_SAVE = {
    "live_receivers": "_sentry_live_receivers",
    "save spans": POST_SAVE_SPANS,
    "send": [
        ["on_author_saved", True, ["author", False]],
        ["Listener.on_any_save", True, ["method", False]],
        ["on_save_uid", True, ["uid", False]],
    ],
    "send spans": POST_SAVE_SPANS,
}


@pytest.mark.parametrize("init", [BEFORE, AFTER])
def test_custom_signal_same_as_stock(init):
    """Every sync receiver of a custom signal wrapped, one span each, as on
    stock Django, whether the SDK started before the signal's first send or
    after."""
    both = compare(custom_signal, init=init)
    assert both.stock.error is None, both.stock.traceback
    assert both.stock.result == EXPECTED_CUSTOM
    assert both.native.observed == both.stock.observed, both.report()


@pytest.mark.parametrize("init", [BEFORE, AFTER])
def test_post_save_same_as_stock(init):
    """The same for ``post_save`` of a model, saved through the ORM, with the
    SDK initialised before Django is set up (as in a settings module) or
    after a first save."""
    both = compare(model_post_save, init=init)
    assert both.stock.error is None, both.stock.traceback
    assert both.stock.result == EXPECTED_POST_SAVE
    assert both.native.observed == both.stock.observed, both.report()
