"""The registry of live signals and ``fastdispatch.describe()``, on signals of
this module (no installed apps: see ``tests/signals_command`` for the
management command on a project)."""

import functools
import gc
import json
import operator
import sys
import types
import weakref
from importlib import resources

import fastdispatch
import jsonschema
import pytest
from fastdispatch import Signal, describe, describe_all, live_signals
from support.django_layout import HAS_ASYNC

HERE = __file__
SCHEMA = json.loads(
    resources.files("fastdispatch").joinpath("signals.schema.json").read_text()
)

module_signal = Signal()
# A second name for it in the same module: the first one is reported.
alias_of_module_signal = module_signal


def line_of(text):
    with open(HERE) as source:
        return next(n for n, line in enumerate(source, 1) if text in line)


def on_event(sender, **kwargs):
    pass


async def on_event_async(sender, **kwargs):
    pass


class Handler:
    def method(self, sender, **kwargs):
        pass

    def __call__(self, sender, **kwargs):
        pass


class Model:
    """Looks like a Django model to the sender label: it has ``_meta.label``."""

    _meta = types.SimpleNamespace(label="shop.Order")


def logged(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        return function(*args, **kwargs)

    return wrapper


@logged
@logged
def twice_wrapped(sender, **kwargs):
    pass


def receivers_of(signal, **kwargs):
    return [
        (r.qualname, r.kind, r.sender, r.weak, r.dispatch_uid)
        for r in describe(signal, **kwargs).receivers
    ]


@pytest.fixture
def fake_modules():
    """Modules put into ``sys.modules`` by a test, removed after it."""
    added = []

    def add(name, **attributes):
        module = types.ModuleType(name)
        vars(module).update(attributes)
        sys.modules[name] = module
        added.append(name)
        return module

    yield add
    for name in added:
        sys.modules.pop(name, None)


def test_live_signals_are_listed_in_creation_order_and_not_kept_alive():
    first, second = Signal(), Signal()
    listed = [s for s in live_signals() if s is first or s is second]
    assert listed == [first, second]
    dead = weakref.ref(first)
    del first, listed
    gc.collect()
    assert dead() is None
    assert [s for s in live_signals() if s is second] == [second]


def test_a_subclass_that_skips_init_is_registered():
    class Quiet(Signal):
        def __init__(self):
            pass

    quiet = Quiet()
    assert any(s is quiet for s in live_signals())
    info = describe(quiet)
    assert info.type == f"{__name__}.{Quiet.__qualname__}"
    assert info.module == __name__
    assert info.name is None


def test_a_dead_signal_with_receivers_disappears_and_frees_its_receivers():
    signal = Signal()
    handler = Handler()
    signal.connect(handler, weak=False)
    held = weakref.ref(handler)
    del handler
    gc.collect()
    live = len(live_signals())
    assert sum(s is signal for s in live_signals()) == 1
    dead = weakref.ref(signal)
    del signal
    gc.collect()
    assert dead() is None
    assert held() is None
    assert len(live_signals()) == live - 1


def test_names_come_from_the_defining_module_first(fake_modules):
    # Alphabetically first, but a re-export.
    fake_modules("aaa_reexports", module_signal=module_signal)
    assert describe(module_signal).name == f"{__name__}.module_signal"


def test_names_of_signals_kept_elsewhere_prefer_public_modules(fake_modules):
    kept = Signal()
    fake_modules("_private_holder", kept=kept)
    fake_modules("zz_holder", kept=kept)
    fake_modules("zz_holder._inner", kept=kept)
    info = describe(kept)
    assert info.name == "zz_holder.kept"
    assert info.module == __name__
    del sys.modules["zz_holder"]
    assert describe(kept).name == "_private_holder.kept"


def test_a_signal_nobody_holds_by_name_has_none():
    assert describe(Signal()).name is None


def test_receivers_of_every_kind_point_at_their_code():
    signal = Signal()
    handler = Handler()
    signal.connect(on_event)
    signal.connect(handler.method)
    signal.connect(handler)
    signal.connect(functools.partial(handler.method), weak=False)
    signal.connect(functools.partial(handler), weak=False)
    signal.connect(twice_wrapped)
    signal.connect(on_event_async)
    signal.connect(lambda sender, **kwargs: None, weak=False)
    signal.connect(print)
    signal.connect(operator.itemgetter(0), weak=False)
    signal.connect(Handler)
    got = [
        (r.qualname, r.module, r.file, r.line, r.kind, r.is_async)
        for r in describe(signal).receivers
    ]
    here = (__name__, HERE)
    assert got == [
        ("on_event", *here, line_of("def on_event("), "function", False),
        ("Handler.method", *here, line_of("def method("), "method", False),
        ("Handler.__call__", *here, line_of("def __call__("), "callable_object", False),
        ("Handler.method", *here, line_of("def method("), "partial", False),
        ("Handler.__call__", *here, line_of("def __call__("), "partial", False),
        # Through both decorators' __wrapped__, to the first decorator line.
        ("twice_wrapped", *here, line_of("@logged\n"), "function", False),
        (
            "on_event_async",
            *here,
            line_of("async def on_event_async("),
            "function",
            # Django 4.2 has no async receivers: it is called like any other.
            HAS_ASYNC,
        ),
        (
            "test_receivers_of_every_kind_point_at_their_code.<locals>.<lambda>",
            *here,
            line_of("signal.connect(lambda sender"),
            "function",
            False,
        ),
        ("print", "builtins", None, None, "builtin", False),
        ("itemgetter", "operator", None, None, "builtin", False),
        ("Handler", __name__, None, None, "class", False),
    ]


def test_a_wrapped_chain_that_loops_ends():
    class Looping:
        def __call__(self, sender, **kwargs):
            pass

    looping = Looping()
    looping.__wrapped__ = looping
    signal = Signal()
    signal.connect(looping)
    (info,) = describe(signal).receivers
    assert (info.kind, info.qualname) == (
        "callable_object",
        "test_a_wrapped_chain_that_loops_ends.<locals>.Looping.__call__",
    )


def test_senders_flags_and_uids():
    signal = Signal()
    instance = Handler()
    unreferenced = "shop"
    signal.connect(on_event, sender=Model)
    signal.connect(on_event, sender=Handler, weak=False)
    signal.connect(on_event, sender=instance, dispatch_uid="by-instance")
    signal.connect(on_event, sender=unreferenced, dispatch_uid=12)
    signal.connect(on_event, dispatch_uid=(3, 4))
    signal.connect(on_event, dispatch_uid=("shop", 1))
    # A falsy uid is no uid, as in Django.
    signal.connect(on_event, dispatch_uid="")
    assert receivers_of(signal) == [
        ("on_event", "function", "shop.Order", True, None),
        ("on_event", "function", f"{__name__}.Handler", False, None),
        ("on_event", "function", repr(instance), True, "by-instance"),
        # A str cannot be weakly referenced: the signal keeps only its id.
        ("on_event", "function", f"<object id {id(unreferenced):#x}>", True, "12"),
        ("on_event", "function", None, True, "(3, 4)"),
        ("on_event", "function", None, True, "('shop', 1)"),
        ("on_event", "function", None, True, None),
    ]


def test_the_sender_filter_keeps_what_would_run_for_that_sender():
    signal = Signal()
    other = Handler()
    signal.connect(on_event, sender=Model)
    signal.connect(on_event, sender=other)
    signal.connect(on_event_async)
    assert [r.sender for r in describe(signal, sender=Model).receivers] == [
        "shop.Order",
        None,
    ]
    assert [r.sender for r in describe(signal, sender=other).receivers] == [
        repr(other),
        None,
    ]
    assert [r.sender for r in describe(signal, sender=object()).receivers] == [None]


def test_dead_receivers_and_receivers_of_dead_senders_are_not_listed():
    signal = Signal()

    def short_lived(sender, **kwargs):
        pass

    class Sender:
        pass

    signal.connect(short_lived)
    signal.connect(on_event, sender=Sender)
    signal.connect(on_event_async)
    assert len(describe(signal).receivers) == 3
    del short_lived, Sender
    gc.collect()
    assert [r.qualname for r in describe(signal).receivers] == ["on_event_async"]


def test_describe_takes_only_native_signals():
    with pytest.raises(
        TypeError, match="describe\\(\\) takes a fastdispatch.Signal, not int"
    ):
        describe(3)


def test_describe_all_picks_by_full_name_or_unique_tail(fake_modules):
    first, second = Signal(), Signal()
    fake_modules("shop_one.signals", refunded=first)
    fake_modules("shop_two.signals", refunded=second)
    assert describe_all(name="shop_one.signals.refunded").signals == (describe(first),)
    assert describe_all(name="shop_two.signals.refunded").signals == (describe(second),)
    with pytest.raises(fastdispatch.SignalLookupError) as ambiguous:
        describe_all(name="signals.refunded")
    assert str(ambiguous.value) == (
        "signal name 'signals.refunded' is ambiguous: shop_one.signals.refunded, "
        "shop_two.signals.refunded; give the full dotted name"
    )
    # Only whole parts of the name count.
    for part in ["funded", "two.signals.refunded"]:
        with pytest.raises(LookupError, match=f"unknown signal '{part}'"):
            describe_all(name=part)


def test_describe_all_with_a_sender_leaves_out_signals_where_nothing_runs(
    fake_modules,
):
    quiet, busy = Signal(), Signal()
    fake_modules("filter_test", quiet=quiet, busy=busy)
    quiet.connect(on_event, sender=Handler)
    busy.connect(on_event, sender=Model)
    listed = [s.name for s in describe_all(sender=Model).signals]
    assert "filter_test.busy" in listed
    assert "filter_test.quiet" not in listed
    # Named, a signal is shown even with nothing to run.
    assert (
        describe_all(name="filter_test.quiet", sender=Model).signals[0].receivers == ()
    )


golden = Signal()
golden.connect(print)
golden.connect(dict, sender=int, weak=False, dispatch_uid="golden-uid")


def test_text_report():
    assert describe_all(name="golden").to_text() == (
        f"{__name__}.golden  [Signal]  2 receivers\n"
        "  receiver        kind     sender  ref     mode  dispatch_uid  defined at\n"
        "  builtins.print  builtin  any     weak    sync  -             -\n"
        "  builtins.dict   class    int     strong  sync  golden-uid    -\n"
        "\n"
        "1 signal, 2 receivers\n"
    )


def test_text_report_of_unnamed_and_empty_signals():
    unnamed = Signal(use_caching=True)
    assert describe(unnamed).name is None
    report = describe_all().to_text()
    title = f"(no importable name, created in {__name__})"
    assert f"{title}  [Signal, use_caching]  no receivers\n" in report


def test_json_report_follows_the_schema_and_the_objects():
    report = describe_all()
    document = json.loads(report.to_json())
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    assert document["schema_version"] == report.schema_version == 1
    assert len(document["signals"]) == len(report) == len(report.signals)
    golden_json = next(
        s for s in document["signals"] if s["name"] == f"{__name__}.golden"
    )
    assert golden_json == {
        "name": f"{__name__}.golden",
        "type": "fastdispatch.Signal",
        "module": __name__,
        "use_caching": False,
        "receivers": [
            {
                "qualname": "print",
                "module": "builtins",
                "file": None,
                "line": None,
                "kind": "builtin",
                "sender": None,
                "weak": True,
                "is_async": False,
                "dispatch_uid": None,
            },
            {
                "qualname": "dict",
                "module": "builtins",
                "file": None,
                "line": None,
                "kind": "class",
                "sender": "int",
                "weak": False,
                "is_async": False,
                "dispatch_uid": "golden-uid",
            },
        ],
    }
    one_line = describe_all(name="golden").to_json(indent=None)
    assert "\n" not in one_line
    assert json.loads(one_line)["signals"] == [golden_json]
    assert (
        describe_all(name="golden")
        .to_json(indent=4)
        .startswith('{\n    "schema_version"')
    )


def test_info_objects_compare_by_value_and_show_themselves():
    assert describe(golden) == describe(golden)
    assert describe(golden) != describe(module_signal)
    assert repr(describe(golden)) == f"<SignalInfo {__name__}.golden with 2 receivers>"
    printed = describe(golden).receivers[0]
    assert repr(printed) == "<ReceiverInfo builtins.print (builtin)>"
    signal = Signal()
    signal.connect(on_event)
    (info,) = describe(signal).receivers
    at = f"{HERE}:{line_of('def on_event(')}"
    assert repr(info) == f"<ReceiverInfo {__name__}.on_event (function) at {at}>"
    with pytest.raises(AttributeError):
        info.qualname = "changed"
