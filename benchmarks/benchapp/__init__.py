"""The Django app of the application benchmark (``benchmarks/app.py``)."""
