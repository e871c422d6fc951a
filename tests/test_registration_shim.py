"""The shim's alias of ``django_registration.signals``: with the start-up hook,
importing it gives ``fastdispatch.registration.signals``; with
``FASTDISPATCH_DISABLE``, django-registration keeps its own module.

Like ``test_shim.py`` (whose functions and fixtures these tests use), every
check of the start-up hook runs in a fresh interpreter.
"""

import sys

import pytest
from test_shim import probe, report_lines, run_json, shim  # noqa: F401 (fixtures)

ALIAS_STATE = """
    import json
    import django_registration.signals as theirs
    from django_registration import signals as from_package
    import django_registration
    import fastdispatch
    from fastdispatch import _shim
    import fastdispatch.registration.signals as ours
    print(json.dumps({
        "same": theirs is ours,
        "from_package": from_package is ours,
        "attribute": django_registration.signals is ours,
        "same_signals": [
            theirs.user_registered is ours.user_registered,
            theirs.user_activated is ours.user_activated,
        ],
        "native": [
            isinstance(theirs.user_registered, fastdispatch.Signal),
            isinstance(theirs.user_activated, fastdispatch.Signal),
        ],
        "name": theirs.__name__,
        "file": theirs.__file__,
        "status": _shim.status(),
        "originals": {
            name: type(signal).__module__ + "." + type(signal).__qualname__
            for name, signal in _shim._state.patched.get(
                "django_registration.signals", {}
            ).items()
        },
    }))
"""


def test_django_registration_signals_is_fastdispatchs_module():
    state = run_json(ALIAS_STATE)
    assert state["same"] is True
    assert state["from_package"] is True
    assert state["attribute"] is True
    assert state["same_signals"] == [True, True]
    assert state["native"] == [True, True]
    assert state["name"] == "fastdispatch.registration.signals"
    assert state["file"].endswith("fastdispatch/registration/signals.py")
    assert state["status"]["registration_signals_aliased"] is True
    assert "django_registration.signals" in state["status"]["patched_modules"]
    assert state["status"]["errors"] == {}
    # What was set aside: django-registration's own pair, built on
    # django.dispatch.Signal, which the shim had already made native.
    assert state["originals"] == {
        "user_registered": "fastdispatch.Signal",
        "user_activated": "fastdispatch.Signal",
    }


def test_django_registration_keeps_its_own_module_when_disabled():
    state = run_json(ALIAS_STATE, disable="1")
    assert state["same"] is False
    assert state["from_package"] is False
    assert state["attribute"] is False
    assert state["same_signals"] == [False, False]
    assert state["native"] == [False, False]
    assert state["name"] == "django_registration.signals"
    assert state["file"].endswith("django_registration/signals.py")
    assert state["status"]["registration_signals_aliased"] is False
    assert state["status"]["hook_installed"] is False


def test_the_alias_holds_whichever_module_is_imported_first():
    state = run_json("""
        import json
        import fastdispatch.registration.signals as ours
        receiver_calls = []
        ours.user_registered.connect(
            lambda sender, **kwargs: receiver_calls.append(sender), weak=False
        )
        from django_registration.signals import user_registered
        user_registered.send(sender="theirs")
        print(json.dumps([user_registered is ours.user_registered, receiver_calls]))
    """)
    assert state == [True, ["theirs"]]


def test_the_alias_needs_neither_settings_nor_apps():
    # django-registration's views import it while Django sets up; nothing in
    # the alias may need configured settings.
    state = run_json("""
        import json
        import django_registration.signals
        from django.conf import settings
        print(json.dumps([settings.configured, django_registration.signals.__name__]))
    """)
    assert state == [False, "fastdispatch.registration.signals"]


def test_report_names_the_alias():
    assert "django_registration.signals is fastdispatch.registration.signals: True" in (
        report_lines()
    )
    assert (
        "django_registration.signals is fastdispatch.registration.signals: False"
        in report_lines(disable="1")
    )


# The Alias action itself, in this process, on a module of the test's own.


def test_an_alias_entry_gives_the_target_module(shim, probe, monkeypatch):  # noqa: F811
    import json

    monkeypatch.setitem(shim._ACTIONS, probe, shim.Alias("json"))
    imported = __import__(probe)
    assert imported is json
    assert sys.modules[probe] is json
    # json's public names, each recorded with what the probe module had.
    assert shim._state.patched[probe] == {name: None for name in json.__all__}


def test_an_alias_to_a_missing_module_leaves_the_module_its_own(
    shim,  # noqa: F811
    probe,  # noqa: F811
    monkeypatch,
):
    monkeypatch.setitem(shim._ACTIONS, probe, shim.Alias("fd_no_such_module"))
    with pytest.warns(RuntimeWarning, match="could not take over"):
        module = __import__(probe)
    assert module.VALUE == "original"
    assert sys.modules[probe] is module
    assert probe not in shim.status()["patched_modules"]
    assert "fd_no_such_module" in shim.status()["errors"][probe]
