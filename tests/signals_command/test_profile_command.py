"""``manage.py signals --profile COMMAND [ARGS...]``: another management
command run in the same process with every receiver call recorded, the
profile printed after its output, its exit status passed through.

``shop``'s ``place_orders N`` command saves a customer and N orders, so the
receivers of ``shop/receivers.py`` run a known number of times."""

import json
from importlib import resources

import jsonschema
import pytest
from support.django_layout import HAS_ASYNC

from signals_command.run import signals_command
from signals_command.shop import receivers

SCHEMA = json.loads(
    resources.files("fastdispatch").joinpath("profile.schema.json").read_text()
)
RECEIVERS = "signals_command.shop.receivers"


def calls_in_table(text):
    """{receiver: calls} of the text report's rows."""
    rows = {}
    for line in text.splitlines():
        if line.startswith(f"{RECEIVERS}."):
            name, _signal, calls = line.split()[:3]
            rows[name.removeprefix(f"{RECEIVERS}.")] = int(calls)
    return rows


# post_save receivers of shop/receivers.py and how often each runs for one
# customer and three orders: order receivers 3 times, customer ones once,
# those for any sender 4 times.
EXPECTED = {
    "order_saved": 3,
    "Auditor.on_save": 4,
    "Notifier.__call__": 3,
    "<lambda>": 1,
    "index_order": 3,
    "record": 4,
    "audit": 4,
    "customer_saved": 1,
}


def test_the_command_runs_and_its_receivers_are_listed_after_its_output():
    done = signals_command("--profile", "place_orders", "3")
    assert done.returncode == 0, done.stderr
    output, report = done.stdout.split("\n", 1)
    assert output == "placed 3 orders"
    assert report.splitlines()[0].split()[:3] == ["receiver", "signal", "calls"]
    assert calls_in_table(report) == EXPECTED
    assert "django.db.models.signals.post_save" in report
    assert report.splitlines()[-1].startswith("8 receivers, 23 calls, ")


def test_the_exit_status_of_the_command_passes_through():
    failed = signals_command("--profile", "place_orders", "2", "--fail", "3")
    assert failed.returncode == 3
    assert "CommandError: the orders could not be billed" in failed.stderr
    # What ran before the failure is reported all the same.
    assert calls_in_table(failed.stdout)["order_saved"] == 2

    usage = signals_command("--profile", "place_orders", "not-a-number")
    assert usage.returncode == 2
    assert "invalid int value" in usage.stderr


def test_json_follows_the_profile_schema():
    done = signals_command("--format", "json", "--profile", "place_orders", "3")
    assert done.returncode == 0, done.stderr
    output, report = done.stdout.split("\n", 1)
    assert output == "placed 3 orders"
    document = json.loads(report)
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    assert document["recording"] is False
    rows = {r["qualname"]: r for r in document["receivers"] if r["module"] == RECEIVERS}
    assert {name: row["calls"] for name, row in rows.items()} == EXPECTED
    order_saved = rows["order_saved"]
    assert order_saved["signal"] == "django.db.models.signals.post_save"
    assert order_saved["sender"] == "shop.Order"
    assert order_saved["senders"] == {"shop.Order": 3}
    assert order_saved["file"] == receivers.__file__
    assert rows["Auditor.on_save"]["senders"] == {"shop.Order": 3, "shop.Customer": 1}
    # Before Django 5.0 a coroutine function is a plain receiver.
    assert rows["index_order"]["is_async"] is HAS_ASYNC
    totals = [r["total_ns"] for r in document["receivers"]]
    assert totals == sorted(totals, reverse=True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profile"], "--profile needs a command to run"),
        (["--profile", "no_such_command"], "unknown command 'no_such_command'"),
    ],
)
def test_a_missing_or_unknown_command_is_an_error(args, message):
    failed = signals_command(*args)
    assert failed.returncode == 1
    assert f"CommandError: {message}" in failed.stderr
    assert failed.stdout == ""
