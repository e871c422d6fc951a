"""Start-up hook of django-fastdispatch, run by ``fastdispatch_shim.pth``.

It loads ``fastdispatch/_shim.py`` under its own name, ``fastdispatch._shim``,
and calls its ``install()``, which only puts an import finder on
``sys.meta_path``. The ``fastdispatch`` package itself is not imported here,
since that would load the native extension (and Django) in every Python
process: the package, Django and the extension load when the program imports
Django, as they would without this hook.

With ``FASTDISPATCH_DISABLE=1`` (or ``true``/``yes``/``on``) nothing happens.
Only ``sys`` and ``os``, already loaded at start-up, are used.
"""

import os
import sys

# For the type checker only (``typing`` itself is not imported at start-up).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

_SHIM = "fastdispatch._shim"


def _disabled() -> bool:
    value = os.environ.get("FASTDISPATCH_DISABLE", "")
    return value.strip().lower() in ("1", "true", "yes", "on")


def _find_spec(name: str, path: "Sequence[str] | None") -> "ModuleSpec | None":
    # The finders already on sys.meta_path, asked directly: importlib.util
    # would cost a few milliseconds of imports at every start-up.
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is not None:
            spec: ModuleSpec | None = find_spec(name, path)
            if spec is not None:
                return spec
    return None


def _package_dirs() -> "list[str] | None":
    # In a wheel install the package sits beside this file; look there first,
    # then anywhere on the path (an editable install, say).
    beside = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fastdispatch")
    if os.path.isfile(os.path.join(beside, "_shim.py")):
        return [beside]
    package = _find_spec("fastdispatch", None)
    if package is None or not package.submodule_search_locations:
        return None
    return list(package.submodule_search_locations)


def _load_shim() -> "ModuleType | None":
    if _SHIM in sys.modules:
        return sys.modules[_SHIM]
    dirs = _package_dirs()
    if not dirs:
        return None
    spec = _find_spec(_SHIM, dirs)
    if spec is None or spec.loader is None:
        return None
    module = spec.loader.create_module(spec)
    if module is None:
        module = type(sys)(spec.name)
    module.__spec__ = spec
    module.__loader__ = spec.loader
    module.__package__ = spec.parent
    if spec.has_location:
        module.__file__ = spec.origin
        if spec.cached:
            # As the import system sets it; typeshed does not declare it.
            module.__cached__ = spec.cached  # type: ignore[attr-defined]
    sys.modules[_SHIM] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(_SHIM, None)
        raise
    return module


def boot() -> None:
    """Install the shim's import hook, unless disabled. Never raises: a broken
    installation must not stop Python from starting."""
    if _disabled():
        return
    try:
        shim = _load_shim()
        if shim is not None:
            shim.install()
    except Exception as err:
        sys.stderr.write(f"fastdispatch: start-up hook failed: {err!r}\n")
