"""Test support: what the test suite, ``scripts/fuzz.py`` and
``benchmarks/compare.py`` share.

* ``support.reference``: the one loader of Django's own dispatcher (the
  installed Django's ``django/dispatch/dispatcher.py`` as a module of its
  own, which fastdispatch's shim leaves alone), and the two implementations
  side by side;
* ``support.django_layout``: what the installed Django's dispatcher shows
  (series, rows of ``receivers``), worked out from ``django.VERSION``;
* ``support.differential``: the differential state machine, fastdispatch
  against Django's dispatcher.

Under pytest, ``tests/`` is on ``sys.path`` (it holds the root
``conftest.py``), so the package is ``import support``. Scripts outside
``tests/`` import it from its file, with an ``import_support`` helper (written out in
each, since it is what finds this package), then its modules through it.
"""
