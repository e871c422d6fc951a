"""Make ``django.dispatch`` use the native dispatcher, with no change to user code.

The wheel ships ``fastdispatch_shim.pth`` at the root of site-packages. At
interpreter start-up it runs ``_fastdispatch_boot``, which loads this module
(without importing the ``fastdispatch`` package, Django or the native
extension) and calls :func:`install`. That only puts a finder on
``sys.meta_path``; nothing else happens until a module named in
``_ACTIONS`` is imported.

When ``django.dispatch.dispatcher`` is imported, the finder lets the normal
machinery find it, keeps its spec and loader as they are, and wraps the
loader's ``exec_module``: Django's own module runs first, then its ``Signal``,
``receiver``, ``_make_id``, ``NONE_ID`` and ``NO_RECEIVERS`` are replaced by
fastdispatch's. This happens before ``django/dispatch/__init__.py`` goes on to
``from django.dispatch.dispatcher import Signal, receiver``, so every signal
Django defines is a native ``fastdispatch.Signal`` (or a subclass of it, like
``ModelSignal``). Every other name of the module (``logger`` and the rest)
stays Django's.

Another module can be taken over the same way by adding its name and an
action to ``_ACTIONS``: the action receives the module after its own code ran.
An :class:`Alias` action goes further and puts another module in its place:
that is how ``import django_registration.signals`` (django-registration's two
registration signals) gives ``fastdispatch.registration.signals``, so that
django-registration's views and fastdispatch's registration backends send
through the same native signals.

``FASTDISPATCH_DISABLE=1`` (or ``true``/``yes``/``on``) turns all of it off:
the start-up hook then does nothing at all.

This module is loaded at every interpreter start-up, so at import time it
uses only modules that are already loaded by then (``sys`` and ``os``).
"""

import os
import sys

# For the type checker only (``typing`` itself is not imported at start-up).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from importlib.abc import Loader
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any, TypeAlias, TypedDict

    # An action of ``_ACTIONS``: {name: original} of what it replaced, or None.
    _Action: TypeAlias = Callable[[ModuleType], dict[str, object] | None]

    class ShimStatus(TypedDict):
        """What ``status()`` reports."""

        disabled_by_env: bool
        hook_installed: bool
        django_imported: bool
        django_patched: bool
        registration_signals_aliased: bool
        patched_modules: list[str]
        errors: dict[str, str]
else:
    ModuleType = type(sys)

DISABLE_ENV = "FASTDISPATCH_DISABLE"
_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})

# The names that fastdispatch provides in place of Django's.
PATCHED_NAMES = ("Signal", "receiver", "_make_id", "NONE_ID", "NO_RECEIVERS")


def disabled_by_env(environ: "Mapping[str, str] | None" = None) -> bool:
    """Whether ``FASTDISPATCH_DISABLE`` asks for the shim to be off."""
    value = (os.environ if environ is None else environ).get(DISABLE_ENV, "")
    return value.strip().lower() in _TRUE_WORDS


class _State:
    """What the shim did in this process (one instance, ``_state``)."""

    def __init__(self) -> None:
        self.finder: ShimFinder | None = None
        # module name -> {patched name: the module's original object}
        self.patched: dict[str, dict[str, object]] = {}
        # module name -> the exception that stopped its action
        self.errors: dict[str, BaseException] = {}


_state = _State()


class _DispatcherModule(ModuleType):
    """The class of ``django.dispatch.dispatcher`` once patched: Django's
    dispatcher looks ``_make_id`` up in its module at every call, and tests
    replace it there (``mock.patch("django.dispatch.dispatcher._make_id",
    ...)``); setting or deleting the name tells the native core, which
    otherwise never looks."""

    def __setattr__(self, name: str, value: "Any") -> None:
        super().__setattr__(name, value)
        if name == "_make_id":
            _make_id_changed(value)

    def __delattr__(self, name: str) -> None:
        super().__delattr__(name)
        if name == "_make_id":
            _make_id_changed(None)


def _make_id_changed(value: "Any") -> None:
    import fastdispatch

    native = fastdispatch._make_id
    replaced = value is not None and value is not native
    fastdispatch._native._use_make_id(value if replaced else None)


def _patch_django_dispatcher(module: "ModuleType") -> dict[str, object]:
    import fastdispatch

    # All or nothing: every replacement is looked up before any is made.
    replacements = {name: getattr(fastdispatch, name) for name in PATCHED_NAMES}
    originals = {name: getattr(module, name, None) for name in PATCHED_NAMES}
    for name, value in replacements.items():
        setattr(module, name, value)
    module.__class__ = _DispatcherModule
    # Django's model checks recognise a lazy ``ModelSignal.connect`` by the
    # module and name of the function: standing in for Django's connect, ours
    # answers to Django's module.
    fastdispatch.Signal.connect.__module__ = module.__name__
    return originals


def _attach_shim(module: "ModuleType") -> None:
    # This module was loaded before its package (see _fastdispatch_boot), so
    # the import system never bound it as an attribute of ``fastdispatch``.
    module._shim = sys.modules[__name__]  # type: ignore[attr-defined]
    return None


class Alias:
    """An action that makes a module an alias of another: once the module's
    own code ran, ``sys.modules`` holds the ``target`` module under its name.
    The import system hands every importer what ``sys.modules`` holds once
    the loader is done, and binds that on the parent package, so
    ``import name`` and ``from parent import child`` both give the target."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __call__(self, module: "ModuleType") -> dict[str, object]:
        __import__(self.target)
        target = sys.modules[self.target]
        # What the target stands in for: the public names of the module that
        # is set aside. The swap comes last: an action that fails (reported by
        # _run_action) leaves the module in place.
        originals = {
            name: getattr(module, name, None) for name in getattr(target, "__all__", ())
        }
        sys.modules[module.__name__] = target
        return originals

    def __repr__(self) -> str:
        return f"Alias({self.target!r})"


# The signals of django-registration, replaced by fastdispatch's own.
REGISTRATION_SIGNALS = "django_registration.signals"

# module name -> action run on the module right after its own code.
# An action returns {name: original} for what it replaced (recorded in
# status()), or None when it replaced nothing worth reporting.
_ACTIONS: "dict[str, _Action]" = {
    "django.dispatch.dispatcher": _patch_django_dispatcher,
    "fastdispatch": _attach_shim,
    REGISTRATION_SIGNALS: Alias("fastdispatch.registration.signals"),
}


def _is_panic(err: BaseException) -> bool:
    """Whether ``err`` is PyO3's ``PanicException`` (a Rust panic)."""
    kind = type(err)
    return kind.__name__ == "PanicException" and kind.__module__ == "pyo3_runtime"


def _run_action(name: str, module: "ModuleType") -> None:
    action = _ACTIONS[name]
    try:
        originals = action(module)
    except BaseException as err:
        # A panic in the native module's start-up reaches here as PyO3's
        # PanicException, a BaseException; other BaseExceptions
        # (KeyboardInterrupt, SystemExit) are not failures of the action.
        if not isinstance(err, Exception) and not _is_panic(err):
            raise
        # Leave the module as its own code made it rather than break every
        # import of Django; the failure is reported here and by
        # ``python -m fastdispatch``.
        _state.errors[name] = err
        _state.patched.pop(name, None)
        import warnings

        warnings.warn(
            f"fastdispatch could not take over {name}: {err!r}; "
            "it keeps its own implementation",
            RuntimeWarning,
            stacklevel=2,
        )
        return
    _state.errors.pop(name, None)
    if originals is not None:
        _state.patched[name] = originals


def _wrap_exec_module(loader: "Loader", name: str) -> None:
    original_exec = loader.exec_module

    def exec_module(module: "ModuleType") -> None:
        try:
            original_exec(module)
        finally:
            # One use only: the loader goes back to its own exec_module (a
            # reload finds a new spec, and so passes through the finder again).
            if loader.__dict__.get("exec_module") is exec_module:
                del loader.exec_module
        if module.__name__ == name:
            _run_action(name, module)

    # Attributes of the wrapper, and the wrapper in the loader's own place.
    exec_module.__wrapped__ = original_exec  # type: ignore[attr-defined]
    exec_module.__fastdispatch__ = True  # type: ignore[attr-defined]
    loader.exec_module = exec_module  # type: ignore[method-assign]


if TYPE_CHECKING:
    _LoaderBase = Loader
else:
    _LoaderBase = object


class _LoaderProxy(_LoaderBase):
    """Used only for a loader that refuses new attributes: everything but
    ``exec_module`` goes to the real loader."""

    def __init__(self, loader: "Loader", name: str) -> None:
        self._fastdispatch_loader = loader
        self._fastdispatch_name = name

    def __getattr__(self, attr: str) -> "Any":
        return getattr(self._fastdispatch_loader, attr)

    def create_module(self, spec: "ModuleSpec") -> "ModuleType | None":
        return self._fastdispatch_loader.create_module(spec)

    def exec_module(self, module: "ModuleType") -> None:
        self._fastdispatch_loader.exec_module(module)
        if module.__name__ == self._fastdispatch_name:
            _run_action(self._fastdispatch_name, module)


class ShimFinder:
    """A ``sys.meta_path`` finder that finds nothing itself: for the modules
    named in ``_ACTIONS`` it asks the finders after it, then wraps the loader
    of the spec they return."""

    def __init__(self) -> None:
        self._busy: set[str] = set()

    def find_spec(
        self,
        fullname: str,
        path: "Sequence[str] | None" = None,
        target: "ModuleType | None" = None,
    ) -> "ModuleSpec | None":
        if fullname not in _ACTIONS or fullname in self._busy:
            return None
        self._busy.add(fullname)
        try:
            spec = self._find_real_spec(fullname, path, target)
        finally:
            self._busy.discard(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        if not hasattr(loader, "exec_module"):
            return spec
        if getattr(loader.exec_module, "__fastdispatch__", False):
            return spec
        try:
            _wrap_exec_module(loader, fullname)
        except (AttributeError, TypeError):
            spec.loader = _LoaderProxy(loader, fullname)
        return spec

    def _find_real_spec(
        self,
        fullname: str,
        path: "Sequence[str] | None",
        target: "ModuleType | None",
    ) -> "ModuleSpec | None":
        for finder in sys.meta_path:
            if finder is self:
                continue
            find_spec = getattr(finder, "find_spec", None)
            if find_spec is None:
                continue
            spec: ModuleSpec | None = find_spec(fullname, path, target)
            if spec is not None:
                return spec
        return None

    def __repr__(self) -> str:
        return "<fastdispatch shim finder>"


def install() -> "ShimFinder | None":
    """Put the finder first on ``sys.meta_path`` (once). Returns it.

    Does nothing and returns None when ``FASTDISPATCH_DISABLE`` is set. A module
    of ``_ACTIONS`` that is already imported is not changed: the start-up hook
    runs before any of them can be.
    """
    if disabled_by_env():
        return None
    if _state.finder is None:
        _state.finder = ShimFinder()
    if _state.finder not in sys.meta_path:
        sys.meta_path.insert(0, _state.finder)
    return _state.finder


def uninstall() -> None:
    """Take the finder off ``sys.meta_path``. Modules already patched stay so."""
    finder = _state.finder
    if finder is not None:
        while finder in sys.meta_path:
            sys.meta_path.remove(finder)


def hook_installed() -> bool:
    """Whether the finder is on ``sys.meta_path``."""
    return _state.finder is not None and _state.finder in sys.meta_path


def django_patched() -> bool:
    """Whether ``django.dispatch.dispatcher`` was imported and now holds
    fastdispatch's ``Signal`` (False also when Django is not imported yet)."""
    return "django.dispatch.dispatcher" in _state.patched


def registration_signals_aliased() -> bool:
    """Whether ``django_registration.signals`` was imported and is
    ``fastdispatch.registration.signals`` (False also when it is not
    imported yet, or django-registration is not installed)."""
    return REGISTRATION_SIGNALS in _state.patched


def is_active() -> bool:
    """Whether the shim is at work in this process: its hook is installed, or
    it already took over ``django.dispatch``."""
    return hook_installed() or django_patched()


def status() -> "ShimStatus":
    """A dict that describes the shim in this process, for reports."""
    return {
        "disabled_by_env": disabled_by_env(),
        "hook_installed": hook_installed(),
        "django_imported": "django.dispatch.dispatcher" in sys.modules,
        "django_patched": django_patched(),
        "registration_signals_aliased": registration_signals_aliased(),
        "patched_modules": sorted(_state.patched),
        "errors": {name: repr(err) for name, err in _state.errors.items()},
    }
