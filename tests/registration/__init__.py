# A package, so that its conftest.py is not imported as the top-level module
# ``conftest`` (the name the Signal suite imports tests/conftest.py by).
