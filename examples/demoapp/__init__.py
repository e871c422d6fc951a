"""The tiny Django app of ``examples/demo.py``: one model and one view."""
