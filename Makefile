# django-fastdispatch: build, test and try the native Django signal dispatcher.
#
#   make test    everything CI checks (the default goal)
#   make demo    a small Django project on the native dispatcher
#   make lint    rustfmt, clippy, ruff and the type checks (typecheck)
#   make typecheck  mypy --strict, stubtest of the native module's stubs
#   make bench   side-by-side and application tables, then Criterion benchmarks
#   make bench-app  the application table alone (whole Django workloads)
#   make bench-pythons  the side-by-side table on each Python 3.10-3.13
#   make fuzz    differential fuzzing against Django (SECONDS=60)
#   make django-suites  Django's own dispatch and signals suites, output shown
#   make matrix  every (Python, Django) pair in nox (PAIRS=3.12:6.1), then dist-check
#   make matrix-ci  the pairs CI runs: 3.10+4.2, 3.11+5.2, 3.12+6.0, 3.13+6.1
#   make peers   other packages' own suites, stock vs native (PEERS=django-reversion)
#   make peers-ci  the part of make peers CI runs (not django-extensions)
#   make sanitize  debug build under the debug allocator and -X dev, then valgrind
#   make build   a wheel for .venv's Python (linux tag) and the sdist into dist/
#   make dist    the sdist and manylinux_2_17 wheels for CPython 3.10-3.13 into dist/
#   make dist-check  each of them installed fresh (wheels: no Rust) and smoke-tested
#   make clean   build outputs (distclean: also .venv, .nox and .cache)
#   make help    this list
#
# Needs only python3 (3.10+) with venv and pip, a Rust toolchain (cargo with
# rustfmt and clippy) and a C compiler; everything else goes into .venv. The
# matrix, dist and dist-check also need Python 3.10 to 3.13, taken from pyenv;
# `make sanitize` also needs valgrind.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV := .venv
PY := $(abspath $(VENV))/bin/python
STAMP_DEPS := $(VENV)/.stamp-deps
STAMP_INSTALL := $(VENV)/.stamp-install
WHEELS := target/make-wheels
# maturin builds with the `extension-module` feature, cargo bench without it:
# separate target directories, or each would recompile the crate after the other.
MATURIN_TARGET := target/maturin

# PyO3 builds against the virtualenv's interpreter, for maturin and for plain
# cargo alike (the same value everywhere, so cargo does not rebuild PyO3 when
# one command follows the other).
export PYO3_PYTHON := $(PY)

# `cargo test` and `cargo bench` (no `extension-module` feature) link libpython
# and embed an interpreter: point the loader at the libpython PyO3 linked, and
# the embedded interpreter at the virtualenv's packages (Django, asgiref).
PY_LIBDIR = $(shell $(PY) -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR") or "")')
PY_SITE = $(shell $(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
EMBED_ENV = LD_LIBRARY_PATH="$(PY_LIBDIR)$${LD_LIBRARY_PATH:+:$$LD_LIBRARY_PATH}" \
	PYTHONPATH="$(PY_SITE)"

# What the installed package is built from.
PACKAGE_SOURCES := Cargo.toml pyproject.toml README.md $(wildcard Cargo.lock) \
	$(shell find src python -type f -not -name '*.so' -not -name '*.pyc' \
		-not -path '*/__pycache__/*' 2>/dev/null)

.PHONY: test venv install fmt-check clippy cargo-test bench-build ruff typecheck pytest fuzz \
	django-suites demo lint fmt bench bench-app bench-pythons build dist dist-check print-dist-args matrix \
	matrix-ci peers peers-ci clean distclean help sanitize sanitize-install sanitize-dev \
	sanitize-valgrind

## test: the full check, in order: Rust format, clippy, Rust tests, benchmarks
## build, ruff, then (with the wheel installed) the type checks, and pytest
## last (its summary closes the log), which also runs Django's own dispatch
## and signals suites under the shim, once (tests/test_django_suites.py)
test: fmt-check clippy cargo-test bench-build ruff install typecheck pytest

## venv: .venv with the tools of requirements-dev.txt
venv: $(STAMP_DEPS)

$(STAMP_DEPS): requirements-dev.txt requirements-test.txt requirements-bench.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

## install: build the release wheel and install it into .venv (again only when
## a source file changed): the wheel, not an editable install, so that the
## start-up hook (.pth) is installed as users get it
install: $(STAMP_DEPS)
	@# Rebuild also when the installed start-up hook is gone (say, replaced by
	@# an editable `maturin develop`, which installs none).
	@test -f "$(PY_SITE)/fastdispatch_shim.pth" || rm -f $(STAMP_INSTALL)
	@$(MAKE) --no-print-directory $(STAMP_INSTALL)

$(STAMP_INSTALL): $(STAMP_DEPS) $(PACKAGE_SOURCES)
	rm -rf $(WHEELS)
	$(VENV)/bin/maturin build --release --interpreter $(PY) \
		--target-dir $(MATURIN_TARGET) --out $(WHEELS)
	$(PY) -m pip install --quiet --force-reinstall --no-deps $(WHEELS)/*.whl
	touch $@

fmt-check:
	cargo fmt --check

clippy: $(STAMP_DEPS)
	cargo clippy --all-targets -- -D warnings

cargo-test: $(STAMP_DEPS)
	$(EMBED_ENV) cargo test

bench-build: $(STAMP_DEPS)
	$(EMBED_ENV) cargo bench --no-run

ruff: $(STAMP_DEPS)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## django-suites: Django's own `dispatch` and `signals` test suites, from the
## sdist of the installed Django version, with the shim proven active, their
## output shown as it comes. Not part of `make test`, whose pytest runs them
## (tests/test_django_suites.py, which also checks that both suites ran)
django-suites: install
	$(PY) scripts/run_django_suites.py

pytest: install
	$(PY) -m pytest -ra tests/

## demo: boot a small Django project on the native dispatcher
demo: install
	$(PY) examples/demo.py

## fuzz: random programs against fastdispatch and Django 6.1's dispatcher
## side by side, for SECONDS seconds (default 60)
SECONDS ?= 60
fuzz: install
	$(PY) scripts/fuzz.py --seconds $(SECONDS)

## sanitize: the reliability and behaviour suites against a debug build (Rust
## debug assertions and overflow checks on) in its own virtualenv, under
## CPython's debug allocator and development mode (sanitize-dev); then the
## reliability suite under valgrind's memcheck (sanitize-valgrind), whose
## differential run is cut to VALGRIND_EXAMPLES programs
sanitize: sanitize-dev sanitize-valgrind

SAN_VENV := .venv-sanitize
SAN_PY := $(abspath $(SAN_VENV))/bin/python
SAN_STAMP_DEPS := $(SAN_VENV)/.stamp-deps
SAN_STAMP_INSTALL := $(SAN_VENV)/.stamp-install
SAN_WHEELS := target/sanitize-wheels
SAN_TARGET := target/sanitize
SAN_SUITES := tests/reliability $(wildcard tests/test_signal_*.py) tests/test_profiling.py
# Under memcheck: the reliability suite, and the recording path of profiles
# (it reads weak references' fields directly). Memcheck holds freed blocks
# back before reusing them, so the test that needs a receiver's address
# reused by the next one cannot get it there.
VALGRIND_SUITES := tests/reliability tests/test_profiling.py \
	--deselect tests/test_profiling.py::test_a_new_receiver_at_a_dead_ones_address_gets_its_own_row
VALGRIND_EXAMPLES ?= 25
VALGRIND_SUPP := scripts/valgrind-python.supp

$(SAN_STAMP_DEPS): requirements-dev.txt requirements-test.txt requirements-bench.txt
	test -x $(SAN_PY) || $(PYTHON) -m venv $(SAN_VENV)
	$(SAN_PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

## sanitize-install: the debug wheel (cargo's dev profile) into .venv-sanitize
sanitize-install: $(STAMP_DEPS) $(SAN_STAMP_DEPS)
	@$(MAKE) --no-print-directory $(SAN_STAMP_INSTALL)

$(SAN_STAMP_INSTALL): $(STAMP_DEPS) $(SAN_STAMP_DEPS) $(PACKAGE_SOURCES)
	rm -rf $(SAN_WHEELS)
	PYO3_PYTHON=$(SAN_PY) $(VENV)/bin/maturin build --profile dev --interpreter $(SAN_PY) \
		--target-dir $(SAN_TARGET) --out $(SAN_WHEELS)
	$(SAN_PY) -m pip install --quiet --force-reinstall --no-deps $(SAN_WHEELS)/*.whl
	touch $@

## sanitize-dev: the suites on the debug build, PYTHONMALLOC=debug, -X dev
sanitize-dev: sanitize-install
	PYTHONMALLOC=debug $(SAN_PY) -X dev -m pytest -p no:cacheprovider -q $(SAN_SUITES)

## sanitize-valgrind: the reliability suite and the profiling tests on the
## debug build under memcheck:
## any invalid read, write or free fails it. Without checks of uninitialised
## values: CPython 3.11's int.from_bytes makes the address of a small int from
## an uninitialised digit (multiplied by 0), which memcheck cannot tell is
## defined, and then reports every use of that object. Leaks are the business
## of tests/reliability/test_rel_leaks.py.
sanitize-valgrind: sanitize-install
	@command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)"; exit 1; }
	PYTHONMALLOC=malloc FASTDISPATCH_DIFFERENTIAL_EXAMPLES=$(VALGRIND_EXAMPLES) \
		valgrind --tool=memcheck --error-exitcode=99 --leak-check=no \
		--undef-value-errors=no --suppressions=$(VALGRIND_SUPP) --quiet \
		$(SAN_PY) -m pytest -p no:cacheprovider -q $(VALGRIND_SUITES)

## typecheck: mypy --strict on python/fastdispatch, the start-up hook
## (python/_fastdispatch_boot.py) and the user code of
## tests/typecheck (written against django.dispatch and fastdispatch, checked with
## Django's stubs), then stubtest: python/fastdispatch/_native.pyi against the
## installed native module (allowed differences, each with its reason, in
## tests/typecheck/stubtest_allowlist.txt)
typecheck: install
	$(VENV)/bin/mypy
	$(PY) -m mypy.stubtest fastdispatch._native --mypy-config-file pyproject.toml \
		--allowlist tests/typecheck/stubtest_allowlist.txt

## lint: the static checks of `make test` (typecheck builds the wheel first)
lint: fmt-check clippy ruff typecheck

## fmt: format the Rust and Python sources in place
fmt: $(STAMP_DEPS)
	cargo fmt
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## bench: the side-by-side table (Django, blinker, psygnal, fastdispatch and
## the cost of the receivers themselves), then the application table
## (bench-app), then the Criterion benchmarks of the native core
bench: install
	$(PY) benchmarks/compare.py
	$(PY) benchmarks/app_compare.py
	$(EMBED_ENV) cargo bench

## bench-pythons: the side-by-side table on each Python of BENCH_PYTHONS,
## each in a nox session of its own (bench-<python>: the matrix's wheel, the
## newest Django series that Python supports), then one table of the ratios
## to Django per Python, each against its target (benchmarks/pythons_table.py)
##   make bench-pythons BENCH_PYTHONS="3.10 3.13" NOXFLAGS="-- --quick"
BENCH_PYTHONS ?= 3.10 3.11 3.12 3.13
bench-pythons: $(STAMP_DEPS)
	status=0; \
	PATH="$(MATRIX_PATH)$(if $(MATRIX_PATH),:)$$PATH" \
		$(NOX) --error-on-missing-interpreters \
		-s $(foreach python,$(BENCH_PYTHONS),bench-$(python)) $(NOXFLAGS) || status=$$?; \
	$(PY) benchmarks/pythons_table.py \
		$(foreach python,$(BENCH_PYTHONS),bench-results/python$(python)) || status=$$?; \
	exit $$status

## bench-app: whole Django workloads (ORM on SQLite in memory, requests,
## override_settings) on Django's dispatcher and on fastdispatch, interleaved
## pyperf rounds, callgrind instructions per workload (benchmarks/app.py)
bench-app: install
	$(PY) benchmarks/app_compare.py

## matrix: the test matrix of noxfile.py, every supported (Python, Django)
## pair in a virtualenv of its own: the release wheel for that Python, then
## pytest and Django's own suites; then one table of all the pairs
## (scripts/matrix_table.py); then `make dist-check` (the distribution files,
## rebuilt first if a source changed), whatever the pairs gave. Fails when a
## pair failed or did not run, or when dist-check failed.
##   make matrix PAIRS="3.11:5.2 3.12:6.1"   (python:django pairs)
##   make matrix NOXFLAGS="-s tests-3.12"    (any nox selection; nox -l lists)
##   make matrix NOXFLAGS="-- -x"            (options for pytest)
## Each Python is the newest pyenv-installed release of it (3.12 -> 3.12.x):
## their bin directories go first on nox's PATH. An interpreter that is not
## there fails its pairs, named in nox's output and in the table.
PAIRS ?=
NOXFLAGS ?=
NOX := $(abspath $(VENV))/bin/nox
PYENV_ROOT_DIR = $(shell pyenv root 2>/dev/null)
# Final CPython releases only (3.12.1, not 3.13.0t or 3.14-dev), newest first.
MATRIX_PATH = $(shell ls -d $(PYENV_ROOT_DIR)/versions/*/bin 2>/dev/null \
	| grep -E '/versions/3\.[0-9]+\.[0-9]+/bin$$' | sort -rV | paste -sd: -)
PAIR_SELECTION = $(if $(strip $(PAIRS)),-s $(foreach pair,$(PAIRS),"tests-$(word 1,$(subst :, ,$(pair)))(django='$(word 2,$(subst :, ,$(pair)))')"))

# $(call run-matrix,<nox selection>): the sessions (their earlier results
# removed first), then the table of their results whatever happened; fails
# when either failed.
define run-matrix
$(PY) scripts/matrix_table.py --clear -- $(1); \
status=0; \
PATH="$(MATRIX_PATH)$(if $(MATRIX_PATH),:)$$PATH" \
	$(NOX) --error-on-missing-interpreters $(1) || status=$$?; \
$(PY) scripts/matrix_table.py -- $(1) || status=$$?; \
exit $$status
endef

matrix: $(STAMP_DEPS)
	status=0; \
	( $(call run-matrix,$(PAIR_SELECTION) $(NOXFLAGS)) ) || status=$$?; \
	$(MAKE) --no-print-directory dist-check || status=$$?; \
	exit $$status

## matrix-ci: the diagonal of the matrix, the pairs CI runs (nox tag
## `diagonal`): every Python and every Django series once
matrix-ci: $(STAMP_DEPS)
	$(call run-matrix,-t diagonal $(NOXFLAGS))

## peers: the test suites of packages that reach into signal internals
## (scripts/peers.toml: django-extensions, django-simple-history,
## django-model-utils, django-reversion, django-auditlog), each from its
## sdist (kept in .cache/peers/), with the runner its own CI uses, on SQLite,
## run twice per pair: on stock Django's dispatcher (FASTDISPATCH_DISABLE=1)
## and on the native one, each proven. Pairs 3.11+5.2 and 3.13+6.1, the
## matrix's wheels. Then one table (scripts/peers_table.py); fails when a
## test fails only under native, or the two runs did not run the same tests.
##   make peers PEERS_PAIRS=3.11:5.2 PEERS="django-reversion django-auditlog"
## Not part of `make test`.
PEERS_PAIRS ?= 3.11:5.2 3.13:6.1
# The packages of scripts/peers.toml: its top-level tables ([name], not
# [name.unsupported]).
PEERS ?= $(shell sed -n 's/^\[\([^].]*\)\]$$/\1/p' scripts/peers.toml)
PEERS_SELECTION = -s $(foreach pair,$(PEERS_PAIRS),$(foreach package,$(PEERS),"peers-$(word 1,$(subst :, ,$(pair)))(django='$(word 2,$(subst :, ,$(pair)))', package='$(package)')"))

## peers-ci: the part of `make peers` CI runs: both pairs, every package
## whose tests come from the package index (not django-extensions, whose
## come from its repository)
PEERS_CI := django-simple-history django-model-utils django-reversion django-auditlog
peers-ci:
	$(MAKE) --no-print-directory peers PEERS="$(PEERS_CI)"

peers: $(STAMP_DEPS)
	$(PY) scripts/peers_table.py --clear -- $(PEERS_SELECTION); \
	status=0; \
	PATH="$(MATRIX_PATH)$(if $(MATRIX_PATH),:)$$PATH" \
		$(NOX) --error-on-missing-interpreters $(PEERS_SELECTION) $(NOXFLAGS) || status=$$?; \
	$(PY) scripts/peers_table.py -- $(PEERS_SELECTION) || status=$$?; \
	exit $$status

## build: release wheel and sdist into dist/
build: $(STAMP_DEPS)
	$(VENV)/bin/maturin build --release --sdist --interpreter $(PY) \
		--target-dir $(MATURIN_TARGET) --out dist

## dist: what a release uploads, into dist/ (emptied first): the sdist, and a
## manylinux wheel for each Python of DIST_PYTHONS, the newest pyenv release
## of each (as for the matrix), built by one maturin command with zig as the
## linker. The policy is manylinux_2_17 (manylinux2014): glibc 2.17 is the
## oldest glibc Rust's standard library supports, so it is the widest a Rust
## extension can reach: CentOS/RHEL 7 and every distribution since; pip 19.3
## and later install it. zig links against glibc 2.17's symbols whatever the
## build machine's glibc is, so no manylinux container is needed. auditwheel
## then confirms that each wheel is manylinux_2_17-consistent.
## .github/workflows/release.yml's Linux x86_64 job passes the same maturin
## flags (tests/test_release_workflow.py compares them: print-dist-args). Built
## again only when a source changed, in a target directory of its own.
DIST_PYTHONS := 3.10 3.11 3.12 3.13
DIST_POLICY := manylinux_2_17
DIST_FLAGS := --release --compatibility $(DIST_POLICY) --zig \
	$(foreach python,$(DIST_PYTHONS),-i python$(python))
DIST_TARGET := target/dist
DIST_STAMP := $(DIST_TARGET)/.stamp-dist
# pyenv's interpreters first on PATH (python3.12 is the newest 3.12.x), and
# zig from the virtualenv's ziglang (`python -m ziglang`).
DIST_ENV = PATH="$(MATRIX_PATH)$(if $(MATRIX_PATH),:)$$PATH" CARGO_ZIGBUILD_PYTHON_PATH="$(PY)"

dist: $(STAMP_DEPS)
	@# Build again when dist/ lost its files since the last build.
	@test -n "$$(ls dist/*.whl dist/*.tar.gz 2>/dev/null)" || rm -f $(DIST_STAMP)
	@$(MAKE) --no-print-directory $(DIST_STAMP)

$(DIST_STAMP): $(STAMP_DEPS) $(PACKAGE_SOURCES) Makefile
	@for python in $(DIST_PYTHONS); do \
		found=$$($(DIST_ENV) command -v python$$python) || { \
			echo "make dist: no python$$python: install CPython $$python with pyenv" \
				"(pyenv install $$python), or put it on PATH" >&2; exit 1; }; \
		echo "python$$python: $$found"; \
	done
	rm -rf dist
	@# PYO3_PYTHON (the virtualenv's, exported above) would override the
	@# interpreter maturin builds each wheel for.
	env -u PYO3_PYTHON $(DIST_ENV) $(VENV)/bin/maturin build $(DIST_FLAGS) \
		--target-dir $(DIST_TARGET) --out dist
	$(VENV)/bin/maturin sdist --out dist
	@# Each wheel tagged with the policy, and auditwheel's verdict (the oldest
	@# policy its symbols allow) that policy or an older one.
	@for wheel in dist/*.whl; do \
		$(VENV)/bin/auditwheel show "$$wheel" | tee $(DIST_TARGET)/auditwheel.log; \
		glibc=$$(tr -s '\n ' '  ' < $(DIST_TARGET)/auditwheel.log \
			| grep -o 'consistent with the following platform tag: "manylinux_2_[0-9]*_' \
			| grep -o '2_[0-9]*' | cut -d_ -f2); \
		if [ -z "$$glibc" ] || [ "$$glibc" -gt $(lastword $(subst _, ,$(DIST_POLICY))) ]; then \
			echo "make dist: auditwheel does not find $$wheel $(DIST_POLICY)-consistent" >&2; \
			exit 1; fi; \
		case "$$wheel" in *[-.]$(DIST_POLICY)_*) ;; *) \
			echo "make dist: $$wheel is not tagged $(DIST_POLICY)" >&2; exit 1;; esac; \
		echo "make dist: $$wheel: $(DIST_POLICY) confirmed by auditwheel"; \
	done
	@test "$$(ls dist/*.whl | wc -l)" -eq $(words $(DIST_PYTHONS)) || { \
		echo "make dist: expected $(words $(DIST_PYTHONS)) wheels in dist/" >&2; exit 1; }
	ls -l dist
	touch $@

## print-dist-args: the maturin flags of `make dist`, on one line
print-dist-args:
	@echo $(DIST_FLAGS)

## dist-check: the files of `make dist`, as users get them: each wheel
## installed in a fresh virtualenv of its Python with no Rust toolchain on
## PATH, the sdist built from source once (Python 3.11), then a smoke test in
## a new interpreter (shim active, python -m fastdispatch, a post_save receiver
## run by a saved model) and twine check; a table of the results
## (scripts/dist_check.py). The virtualenvs go to target/dist-check.
DIST_CHECK_FLAGS ?=
dist-check: dist
	$(DIST_ENV) $(PY) scripts/dist_check.py --pythons $(DIST_PYTHONS) \
		--work target/dist-check $(DIST_CHECK_FLAGS) dist

clean:
	rm -rf target dist $(WHEELS) $(STAMP_INSTALL) $(SAN_STAMP_INSTALL) python/fastdispatch/*.so \
		.nox-results
	find . -name __pycache__ -type d -not -path './.venv/*' -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) $(SAN_VENV) .nox .cache

help:
	@grep -E '^#   make ' $(firstword $(MAKEFILE_LIST)) | sed 's/^#   //'
