"""The start-up shim: ``django.dispatch`` runs on ``fastdispatch.Signal``
without any change to user code, and not at all with ``FASTDISPATCH_DISABLE``.

Every check runs in a fresh interpreter (the one running pytest, so the
project's virtualenv), since the shim acts at start-up and at the first import
of Django. These tests need the package installed from its wheel (``make
install``): an editable install has no start-up hook.
"""

import itertools
import json
import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import django
import fastdispatch
import pytest
from support.django_layout import SERIES

# Every signal Django itself defines, by module.
DJANGO_SIGNALS = {
    "django.db.models.signals": [
        "class_prepared",
        "pre_init",
        "post_init",
        "pre_save",
        "post_save",
        "pre_delete",
        "post_delete",
        "m2m_changed",
        "pre_migrate",
        "post_migrate",
    ],
    "django.core.signals": [
        "request_started",
        "request_finished",
        "got_request_exception",
        "setting_changed",
    ],
    "django.contrib.auth.signals": [
        "user_logged_in",
        "user_logged_out",
        "user_login_failed",
    ],
    "django.db.backends.signals": ["connection_created"],
    "django.test.signals": ["template_rendered"],
    "django.utils.autoreload": ["autoreload_started", "file_changed"],
}

PATCHED_NAMES = ["Signal", "receiver", "_make_id", "NONE_ID", "NO_RECEIVERS"]


def run_python(*args, disable=None, check=True):
    """Run the test interpreter in a fresh process, outside the repository."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.pop("FASTDISPATCH_DISABLE", None)
    if disable is not None:
        env["FASTDISPATCH_DISABLE"] = disable
    result = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(sys.prefix),
        timeout=120,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def run_json(code, disable=None):
    """Run ``code`` (which must end by printing one JSON document)."""
    result = run_python("-c", textwrap.dedent(code), disable=disable)
    return json.loads(result.stdout)


@pytest.fixture(scope="module", autouse=True)
def installed_with_start_up_hook():
    site = Path(fastdispatch.__file__).resolve().parent.parent
    pth = site / "fastdispatch_shim.pth"
    assert pth.is_file(), (
        f"{pth} is missing: install the wheel (make install), not an editable "
        "build, to test the shim"
    )
    assert (site / "_fastdispatch_boot.py").is_file()


STARTUP_MODULES = """
    import sys
    modules = sorted(sys.modules)
    finders = [type(finder).__name__ for finder in sys.meta_path]
    import json
    print(json.dumps({"modules": modules, "finders": finders}))
"""


def test_start_up_hook_loads_only_the_shim():
    on = run_json(STARTUP_MODULES)
    off = run_json(STARTUP_MODULES, disable="1")
    added = set(on["modules"]) - set(off["modules"])
    assert added == {"_fastdispatch_boot", "fastdispatch._shim"}
    assert set(off["modules"]) <= set(on["modules"])
    for heavy in ("django", "fastdispatch", "fastdispatch._native", "asgiref"):
        assert heavy not in on["modules"]
    assert on["finders"][0] == "ShimFinder"
    assert "ShimFinder" not in off["finders"]


@pytest.mark.parametrize("value", ["1", "true", "yes", "on", "TRUE", " Yes "])
def test_disable_values_turn_the_hook_off_entirely(value):
    state = run_json(STARTUP_MODULES, disable=value)
    assert "_fastdispatch_boot" not in state["modules"]
    assert "fastdispatch._shim" not in state["modules"]
    assert "ShimFinder" not in state["finders"]


@pytest.mark.parametrize("value", ["", "0", "no", "false"])
def test_other_disable_values_leave_the_hook_on(value):
    state = run_json(STARTUP_MODULES, disable=value)
    assert "fastdispatch._shim" in state["modules"]
    assert state["finders"][0] == "ShimFinder"


DJANGO_STATE = f"""
    import importlib, json, logging
    import django.dispatch
    import django.dispatch.dispatcher as dispatcher
    from django.dispatch.dispatcher import (
        NO_RECEIVERS, NONE_ID, Signal, _make_id, logger, receiver,
    )
    import fastdispatch
    from fastdispatch import _shim

    signals = {{}}
    for module_name, names in {DJANGO_SIGNALS!r}.items():
        module = importlib.import_module(module_name)
        for name in names:
            signal = getattr(module, name)
            signals[name] = [
                type(signal).__name__,
                isinstance(signal, fastdispatch.Signal),
            ]
    from django.db.models.signals import ModelSignal
    print(json.dumps({{
        "package_signal": django.dispatch.Signal is fastdispatch.Signal,
        "package_receiver": django.dispatch.receiver is fastdispatch.receiver,
        "same": {{
            name: getattr(dispatcher, name) is getattr(fastdispatch, name)
            for name in {PATCHED_NAMES!r}
        }},
        "signal_module": Signal.__module__,
        "model_signal_native": issubclass(ModelSignal, fastdispatch.Signal),
        "logger_is_djangos": logger is logging.getLogger("django.dispatch"),
        "dispatcher_file": dispatcher.__file__,
        "spec_origin": dispatcher.__spec__.origin,
        "loader": type(dispatcher.__loader__).__name__,
        "loader_is_spec_loader": dispatcher.__loader__ is dispatcher.__spec__.loader,
        "exec_module_restored": "exec_module" not in vars(dispatcher.__loader__),
        "signals": signals,
        "is_active": _shim.is_active(),
        "status": _shim.status(),
        "shim_attribute": getattr(fastdispatch, "_shim", None) is _shim,
    }}))
"""


def test_django_dispatch_is_native_with_the_shim():
    state = run_json(DJANGO_STATE)
    assert state["package_signal"] is True
    assert state["package_receiver"] is True
    assert state["same"] == {name: True for name in PATCHED_NAMES}
    assert state["signal_module"] == fastdispatch.Signal.__module__
    assert state["model_signal_native"] is True
    assert state["is_active"] is True
    assert state["status"]["django_patched"] is True
    assert state["status"]["errors"] == {}
    assert state["shim_attribute"] is True
    not_native = {n: s for n, s in state["signals"].items() if not s[1]}
    assert not_native == {}
    expected = sum(len(names) for names in DJANGO_SIGNALS.values())
    assert len(state["signals"]) == expected


def test_django_module_keeps_its_identity_with_the_shim():
    state = run_json(DJANGO_STATE)
    assert state["logger_is_djangos"] is True
    assert state["dispatcher_file"].endswith(
        os.path.join("django", "dispatch", "dispatcher.py")
    )
    assert state["spec_origin"] == state["dispatcher_file"]
    assert state["loader"] == "SourceFileLoader"
    assert state["loader_is_spec_loader"] is True
    assert state["exec_module_restored"] is True


def test_nothing_is_replaced_when_disabled():
    state = run_json(DJANGO_STATE, disable="1")
    assert state["package_signal"] is False
    assert state["package_receiver"] is False
    assert state["same"] == {name: False for name in PATCHED_NAMES}
    assert state["signal_module"] == "django.dispatch.dispatcher"
    assert state["model_signal_native"] is False
    assert state["is_active"] is False
    assert state["status"]["hook_installed"] is False
    assert state["status"]["django_patched"] is False
    assert state["status"]["disabled_by_env"] is True
    assert all(not native for _, native in state["signals"].values())
    assert state["logger_is_djangos"] is True


def test_native_signals_work_through_django_imports():
    state = run_json("""
        import json
        from django.core.signals import request_started
        from django.dispatch import Signal, receiver

        custom = Signal()

        @receiver([custom, request_started])
        def answer(sender, **kwargs):
            return ("answer", sender, sorted(kwargs))

        print(json.dumps({
            "custom": [r for _, r in custom.send(sender="me", x=1)],
            "django": [r for _, r in request_started.send(sender=None)],
            "type": type(custom).__module__ + "." + type(custom).__qualname__,
        }))
    """)
    assert state["custom"] == [["answer", "me", ["signal", "x"]]]
    assert state["django"] == [["answer", None, ["signal"]]]
    assert state["type"] == "fastdispatch.Signal"


def test_import_order_does_not_matter():
    state = run_json("""
        import json
        import fastdispatch
        import fastdispatch._native
        from django.db.models.signals import post_save
        import django.dispatch
        print(json.dumps([
            django.dispatch.Signal is fastdispatch.Signal,
            isinstance(post_save, fastdispatch.Signal),
        ]))
    """)
    assert state == [True, True]


def test_reload_of_the_dispatcher_stays_native():
    state = run_json("""
        import importlib, json
        import django.dispatch.dispatcher as dispatcher
        import fastdispatch
        importlib.reload(dispatcher)
        print(json.dumps([
            dispatcher.Signal is fastdispatch.Signal,
            dispatcher.receiver is fastdispatch.receiver,
        ]))
    """)
    assert state == [True, True]


def test_shim_module_is_importable_when_disabled():
    state = run_json(
        """
        import json
        from fastdispatch import _shim
        print(json.dumps([_shim.is_active(), _shim.disabled_by_env()]))
        """,
        disable="1",
    )
    assert state == [False, True]


def report_lines(disable=None):
    result = run_python("-m", "fastdispatch", disable=disable)
    return result.stdout.splitlines()


def check_common_report(lines):
    assert f"fastdispatch: {fastdispatch.__version__}" in lines
    assert f"Django: {django.get_version()}" in lines
    assert f"internals of Django: {SERIES}" in lines
    python_line = [line for line in lines if line.startswith("Python: ")]
    assert python_line[0].startswith(f"Python: {platform.python_version()} ")
    native = [line for line in lines if line.startswith("native module: ")]
    path = native[0].removeprefix("native module: ")
    assert Path(path).is_file()
    assert Path(path).resolve() == Path(fastdispatch._native.__file__).resolve()


def test_report_with_the_shim():
    lines = report_lines()
    check_common_report(lines)
    assert "shim: active (import hook installed, django.dispatch patched)" in lines
    assert "django.dispatch.Signal is fastdispatch.Signal: True" in lines


def test_report_when_disabled():
    lines = report_lines(disable="1")
    check_common_report(lines)
    assert "shim: off (FASTDISPATCH_DISABLE is set)" in lines
    assert "django.dispatch.Signal is fastdispatch.Signal: False" in lines


# The finder itself, in this process: a module of the test's own, added to the
# shim's table of module name -> action, goes through the same machinery as
# django.dispatch.dispatcher.


@pytest.fixture
def shim():
    from fastdispatch import _shim

    if not _shim.hook_installed():
        pytest.fail("the shim's import hook is not installed in this process")
    return _shim


PROBE_NUMBERS = itertools.count()


@pytest.fixture
def probe(tmp_path, monkeypatch, shim):
    """A fresh module ``fd_shim_probe_<n>`` on sys.path; its name is returned."""
    name = f"fd_shim_probe_{next(PROBE_NUMBERS)}"
    (tmp_path / f"{name}.py").write_text('VALUE = "original"\nOTHER = "kept"\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)
    shim._state.patched.pop(name, None)
    shim._state.errors.pop(name, None)


def replace_value(module):
    original = module.VALUE
    module.VALUE = "replaced"
    return {"VALUE": original}


def test_a_new_table_entry_takes_over_its_module(shim, probe, monkeypatch):
    monkeypatch.setitem(shim._ACTIONS, probe, replace_value)
    module = __import__(probe)
    assert module.VALUE == "replaced"
    assert module.OTHER == "kept"
    assert type(module.__loader__).__name__ == "SourceFileLoader"
    assert "exec_module" not in vars(module.__loader__)
    assert module.__spec__.origin == module.__file__
    assert probe in shim.status()["patched_modules"]
    assert shim._state.patched[probe] == {"VALUE": "original"}


def test_a_failing_action_leaves_the_module_as_it_was(shim, probe, monkeypatch):
    def broken(module):
        raise ValueError("no luck")

    monkeypatch.setitem(shim._ACTIONS, probe, broken)
    with pytest.warns(RuntimeWarning, match="could not take over"):
        module = __import__(probe)
    assert module.VALUE == "original"
    assert probe not in shim.status()["patched_modules"]
    assert "no luck" in shim.status()["errors"][probe]


class SlottedLoader:
    """A loader that accepts no new attribute (so no wrapped exec_module)."""

    __slots__ = ("path",)

    def __init__(self, path):
        self.path = path

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.VALUE = "from slotted loader"


class SlottedFinder:
    def __init__(self, name, path):
        self.name, self.path = name, path

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        from importlib.machinery import ModuleSpec

        return ModuleSpec(fullname, SlottedLoader(self.path), origin=self.path)


def test_a_loader_without_attributes_is_wrapped_by_a_proxy(
    shim, probe, monkeypatch, tmp_path
):
    monkeypatch.setitem(shim._ACTIONS, probe, replace_value)
    finder = SlottedFinder(probe, str(tmp_path / f"{probe}.py"))
    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, finder])
    # Ahead of the path finder, but after the shim's finder.
    sys.meta_path.remove(finder)
    sys.meta_path.insert(sys.meta_path.index(shim._state.finder) + 1, finder)
    module = __import__(probe)
    assert module.VALUE == "replaced"
    assert shim._state.patched[probe] == {"VALUE": "from slotted loader"}
    assert isinstance(module.__spec__.loader, shim._LoaderProxy)
    assert module.__spec__.loader.path == finder.path


def test_modules_outside_the_table_are_left_to_the_other_finders(shim):
    finder = shim._state.finder
    assert finder.find_spec("json", None) is None
    assert finder.find_spec("django.dispatch", None) is None
