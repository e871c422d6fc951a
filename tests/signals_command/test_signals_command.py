"""``manage.py signals`` on the shop project: what it lists is exactly what
``shop/receivers.py`` connected, its filters answer "which receivers run when
this model is saved" as saving the model does, its JSON follows the published
schema, and a signal or receiver that died is no longer listed."""

import gc
import io
import json
import re
import weakref
from importlib import resources
from pathlib import Path

import django.test.signals  # noqa: F401 (re-exports setting_changed)
import fastdispatch
import jsonschema
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models.signals import post_save
from django.dispatch import Signal
from support.django_layout import HAS_ASYNC

from signals_command.run import signals_command
from signals_command.shop import receivers, signals
from signals_command.shop.models import Customer, Order

RECEIVERS = "signals_command.shop.receivers"
RECEIVERS_FILE = receivers.__file__
SCHEMA = json.loads(
    resources.files("fastdispatch").joinpath("signals.schema.json").read_text()
)


def line_of(text):
    """The first line of ``shop/receivers.py`` that contains ``text``."""
    lines = Path(RECEIVERS_FILE).read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if text in line)


def connected(qualname, kind, line_text, *, sender=None, weak=True, **flags):
    return {
        "qualname": qualname,
        "module": RECEIVERS,
        "file": RECEIVERS_FILE,
        "line": line_of(line_text),
        "kind": kind,
        "sender": sender,
        "weak": weak,
        "is_async": flags.get("is_async", False),
        "dispatch_uid": flags.get("dispatch_uid"),
    }


# post_save's receivers, in the order shop/receivers.py connects them.
POST_SAVE = [
    connected(
        "order_saved",
        "function",
        "@receiver(post_save, sender=Order)",
        sender="shop.Order",
    ),
    connected("Auditor.on_save", "method", "def on_save("),
    connected(
        "Notifier.__call__",
        "callable_object",
        "def __call__(",
        sender="shop.Order",
        weak=False,
    ),
    connected(
        "<lambda>",
        "function",
        "lambda sender, **kw:",
        sender="shop.Customer",
        weak=False,
    ),
    connected(
        "index_order",
        "function",
        "async def index_order(",
        sender="shop.Order",
        # Django 4.2 has no async receivers: it is called like any other.
        is_async=HAS_ASYNC,
        dispatch_uid="shop.index_order",
    ),
    connected(
        "record", "partial", "def record(", weak=False, dispatch_uid="('shop', 42)"
    ),
    connected("audit", "function", "def audit(", weak=False, dispatch_uid="7"),
    # Described through functools.wraps' __wrapped__: the decorated
    # function's own line, not the wrapper's in logged().
    connected("customer_saved", "function", "@logged", sender="shop.Customer"),
]

# What each receiver records in receivers.calls when it runs.
LABELS = {
    "order_saved": "order_saved",
    "Auditor.on_save": "auditor",
    "Notifier.__call__": "notifier",
    "<lambda>": "lambda",
    "index_order": "index_order",
    "record": "partial",
    "audit": "audit",
    "customer_saved": "customer_saved",
}

POST_SAVE_SIGNAL = {
    "name": "django.db.models.signals.post_save",
    "type": "django.db.models.signals.ModelSignal",
    "module": "django.db.models.signals",
    "use_caching": True,
}


def run_command(*args):
    out = io.StringIO()
    call_command("signals", *args, stdout=out)
    return out.getvalue()


def run_json(*args):
    document = json.loads(run_command("--format", "json", *args))
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    return document


def names(document):
    return [signal["name"] for signal in document["signals"]]


def text_row(receiver):
    return [
        f"{receiver['module']}.{receiver['qualname']}",
        receiver["kind"],
        receiver["sender"] or "any",
        "weak" if receiver["weak"] else "strong",
        "async" if receiver["is_async"] else "sync",
        receiver["dispatch_uid"] or "-",
        f"{receiver['file']}:{receiver['line']}",
    ]


def column_starts(line):
    # Cells are separated by two spaces or more; a cell holds single spaces.
    return [match.start() for match in re.finditer(r"\S+(?: \S+)*", line)]


def test_the_schema_is_a_valid_json_schema_of_this_version():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert (
        SCHEMA["properties"]["schema_version"]["const"]
        == fastdispatch.SIGNALS_SCHEMA_VERSION
    )


def test_json_lists_exactly_what_is_connected():
    document = run_json("--signal", "post_save")
    assert document == {
        "schema_version": fastdispatch.SIGNALS_SCHEMA_VERSION,
        "signals": [{**POST_SAVE_SIGNAL, "receivers": POST_SAVE}],
    }


def test_text_lists_exactly_what_is_connected():
    lines = run_command("--signal", "django.db.models.signals.post_save").splitlines()
    assert lines[0] == (
        "django.db.models.signals.post_save  [ModelSignal, use_caching]  8 receivers"
    )
    table = lines[1 : 2 + len(POST_SAVE)]
    cells = [re.split(r"\s{2,}", line.strip()) for line in table]
    assert cells[0] == [
        "receiver",
        "kind",
        "sender",
        "ref",
        "mode",
        "dispatch_uid",
        "defined at",
    ]
    assert cells[1:] == [text_row(receiver) for receiver in POST_SAVE]
    assert all(line.startswith("  ") for line in table)
    assert {tuple(column_starts(line)) for line in table} == {
        tuple(column_starts(table[0]))
    }, "columns are aligned"
    assert lines[2 + len(POST_SAVE) :] == ["", "1 signal, 8 receivers"]


@pytest.mark.usefixtures("db")
@pytest.mark.parametrize(
    ("label", "sender"), [("shop.Order", Order), ("shop.Customer", Customer)]
)
def test_sender_filter_lists_the_receivers_that_run_for_the_model(label, sender):
    document = run_json("--signal", "post_save", "--sender", label)
    listed = document["signals"][0]["receivers"]
    assert listed == [r for r in POST_SAVE if r["sender"] in (None, label)]

    customer = Customer.objects.create(name="Ada")
    receivers.calls.clear()
    if sender is Order:
        Order.objects.create(customer=customer, total=3)
    else:
        customer.save()
    # On Django 4.2 a coroutine function is a plain receiver: called, its
    # coroutine never awaited, so its body records nothing.
    ran = [r for r in listed if HAS_ASYNC or r["qualname"] != "index_order"]
    assert sorted(receivers.calls) == sorted(LABELS[r["qualname"]] for r in ran)


def test_sender_filter_alone_leaves_out_signals_where_nothing_would_run():
    document = run_json("--sender", "shop.Order")
    listed = names(document)
    assert "django.db.models.signals.post_save" in listed
    # A receiver for any sender would run for Order too.
    assert "signals_command.shop.signals.order_shipped" in listed
    assert "signals_command.shop.signals.payment_failed" not in listed
    assert "django.db.models.signals.pre_delete" not in listed
    for signal in document["signals"]:
        assert signal["receivers"], signal["name"]
        assert {r["sender"] for r in signal["receivers"]} <= {None, "shop.Order"}


def test_every_live_signal_is_listed_under_its_defining_module():
    document = run_json()
    listed = names(document)
    for name in [
        "django.core.signals.request_started",
        "django.core.signals.setting_changed",
        "django.db.models.signals.pre_save",
        "django.db.models.signals.post_save",
        "signals_command.shop.signals.order_shipped",
        "signals_command.shop.signals.payment_failed",
        "signals_command.shop.legacy.payment_failed",
    ]:
        assert listed.count(name) == 1, name
    # Re-exported elsewhere, listed under the module that defines them.
    assert "django.test.signals.setting_changed" not in listed
    assert "signals_command.shop.api.order_shipped" not in listed
    # Creation order: Django's core signals before the models' ones.
    assert listed.index("django.core.signals.request_started") < listed.index(
        "django.db.models.signals.post_save"
    )
    # The command lists what the registry holds, described one by one.
    assert listed == [
        fastdispatch.describe(signal).name for signal in fastdispatch.live_signals()
    ]


def test_a_signal_is_picked_by_a_unique_end_of_its_name():
    assert names(run_json("--signal", "order_shipped")) == [
        "signals_command.shop.signals.order_shipped"
    ]
    assert names(run_json("--signal", "legacy.payment_failed")) == [
        "signals_command.shop.legacy.payment_failed"
    ]
    shipped = run_json("--signal", "order_shipped")["signals"][0]["receivers"]
    assert [r["qualname"] for r in shipped] == ["shipped"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--signal", "payment_failed"],
            "signal name 'payment_failed' is ambiguous: "
            "signals_command.shop.legacy.payment_failed, "
            "signals_command.shop.signals.payment_failed; give the full dotted name",
        ),
        (
            ["--signal", "no_such_signal"],
            "unknown signal 'no_such_signal': no live signal is named so, "
            "or with a name ending in '.no_such_signal'",
        ),
        (
            ["--sender", "shop.Refund"],
            "unknown sender 'shop.Refund': App 'shop' doesn't have a 'Refund' model.",
        ),
        (
            ["--sender", "warehouse.Order"],
            "unknown sender 'warehouse.Order': "
            "No installed app with label 'warehouse'.",
        ),
        (
            ["--sender", "Order"],
            "unknown sender 'Order': give a model as app_label.ModelName",
        ),
    ],
)
def test_unknown_or_ambiguous_names_are_command_errors(args, message):
    with pytest.raises(CommandError) as raised:
        run_command(*args)
    assert str(raised.value) == message


def test_command_line_exit_status():
    failed = signals_command("--signal", "no_such_signal")
    assert failed.returncode == 1
    assert "CommandError: unknown signal 'no_such_signal'" in failed.stderr
    assert failed.stdout == ""

    done = signals_command(
        "--signal", "post_save", "--sender", "shop.Order", "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    assert document["signals"] == [
        {
            **POST_SAVE_SIGNAL,
            "receivers": [r for r in POST_SAVE if r["sender"] in (None, "shop.Order")],
        }
    ]


def test_command_line_says_when_django_keeps_its_own_dispatcher():
    done = signals_command("--format", "json", disable=True)
    assert done.returncode == 0, done.stderr
    assert "uses Django's own dispatcher" in done.stderr
    assert not any(
        (name or "").startswith("django.") for name in names(json.loads(done.stdout))
    )


def test_a_signal_nobody_references_any_more_is_no_longer_listed():
    signals.flash_sale = Signal()
    signals.flash_sale.connect(receivers.shipped)
    dead = weakref.ref(signals.flash_sale)
    live = len(fastdispatch.live_signals())
    listed = run_json("--signal", "flash_sale")["signals"]
    # Created here, found where it is kept.
    assert listed == [
        {
            "name": "signals_command.shop.signals.flash_sale",
            "type": "fastdispatch.Signal",
            "module": __name__,
            "use_caching": False,
            "receivers": [connected("shipped", "function", "def shipped(")],
        }
    ]

    del signals.flash_sale
    gc.collect()
    assert dead() is None, "the registry keeps no signal alive"
    assert "signals_command.shop.signals.flash_sale" not in names(run_json())
    assert len(fastdispatch.live_signals()) == live - 1
    with pytest.raises(CommandError, match="unknown signal 'flash_sale'"):
        run_command("--signal", "flash_sale")


def test_a_dead_weak_receiver_is_no_longer_listed():
    def on_shipped(sender, **kwargs):
        pass

    signals.order_shipped.connect(on_shipped)
    shipped = run_json("--signal", "order_shipped")["signals"][0]["receivers"]
    assert [r["qualname"] for r in shipped] == [
        "shipped",
        "test_a_dead_weak_receiver_is_no_longer_listed.<locals>.on_shipped",
    ]
    del on_shipped
    gc.collect()
    shipped = run_json("--signal", "order_shipped")["signals"][0]["receivers"]
    assert [r["qualname"] for r in shipped] == ["shipped"]


def test_describe_gives_the_json_data_as_objects():
    info = fastdispatch.describe(post_save)
    signal_keys = SCHEMA["$defs"]["signal"]["properties"].keys()
    receiver_keys = SCHEMA["$defs"]["receiver"]["properties"].keys()
    as_json = {key: getattr(info, key) for key in signal_keys}
    as_json["receivers"] = [
        {key: getattr(receiver, key) for key in receiver_keys}
        for receiver in info.receivers
    ]
    assert as_json == {**POST_SAVE_SIGNAL, "receivers": POST_SAVE}
    assert info == fastdispatch.describe_all(name="post_save").signals[0]
