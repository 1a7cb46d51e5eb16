# pixgate developer commands. Everything runs from the virtual environment in .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test test-fast lint typecheck unit bench bench-proxy bench-peers bench-anim bench-ingest bench-miss bench-quality clean pg docs nginx wrk edge loadtest browser screenshots soak

install: $(STAMP)

$(STAMP): pyproject.toml signing/pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "pixgate needs Python 3.11+"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ./signing -e '.[test]'
	touch $(STAMP)

run: install
	$(BIN)/pixgate serve --dev

# ruff, then the import contracts of pyproject.toml (the layers: root -> uploader -> proxy
# core -> config -> signing; loadtest never imports tests).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

# PostgreSQL server binaries for the throwaway test cluster (loadtest/harness/pgserver.py). As root on
# Debian/Ubuntu they are installed from the OS packages, without creating a "main" cluster.
pg:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then \
		: ; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		mkdir -p /etc/postgresql-common/createcluster.d && \
		echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/pixgate.conf && \
		apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql; \
	else \
		echo "PostgreSQL server binaries (initdb, postgres) missing: install them with" \
			"'sudo apt-get install postgresql' (Debian/Ubuntu) or put their bin directory on PATH" >&2; \
		exit 1; \
	fi

# nginx with the cache purge module, for the edge (`make edge`) and its integration test.
nginx:
	@if command -v nginx >/dev/null 2>&1 && [ -e /usr/lib/nginx/modules/ngx_http_cache_purge_module.so ]; then \
		: ; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			nginx-light libnginx-mod-http-cache-purge; \
	else \
		echo "nginx and its cache purge module are missing: install them with" \
			"'sudo apt-get install nginx-light libnginx-mod-http-cache-purge'" >&2; \
		exit 1; \
	fi

# Headless Chromium for the browser tests (tests/web), driven by Playwright. As root on
# Debian it comes from the OS packages; Playwright never downloads a browser of its own.
browser:
	@if [ -x /usr/bin/chromium ]; then \
		: ; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			chromium chromium-driver fonts-liberation; \
	else \
		echo "Headless Chromium (/usr/bin/chromium) missing: install it with" \
			"'sudo apt-get install chromium chromium-driver' (Debian), then run make test again" >&2; \
		exit 1; \
	fi

screenshots: install browser
	$(BIN)/python -m tests.web.screenshots docs

unit: install pg nginx browser
	$(BIN)/python -m pytest

test: lint typecheck unit

# The unit tier: no service processes (moto, PostgreSQL, nginx, Chromium), one worker per
# core (pytest-xdist), under a minute.
test-fast: install
	$(BIN)/python -m pytest -m "not services" -q -n auto

# The whole benchmark, about 11 minutes: pixgate vs the bare pyvips loop over S3 and the
# upload section (loadtest.bench, ~3 min), then bench-peers below.
bench: install nginx wrk
	$(BIN)/python -m loadtest.bench
	$(BIN)/python -m loadtest.anim_bench
	$(BIN)/python -m loadtest.ingest_bench
	$(BIN)/python -m loadtest.miss_latency

# p50/p99 of a q:auto miss (12 MP photo -> 500 px, 2 clients, each format) next to a fixed
# q:80 miss; about 2.5 minutes. Figures in var/bench/miss_latency.json and .md.
bench-miss: install
	$(BIN)/python -m loadtest.miss_latency

# Only the animation section: long GIFs to animated WebP against the bare libvips loop,
# memory of 4 at once, bytes and timing kept (about 2 minutes; 2 more the first time).
bench-anim: install
	$(BIN)/python -m loadtest.anim_bench

# Log ingestion (`pixgate analytics ingest`) on one core, each log format, SQLite and
# PostgreSQL, against a bare decode loop; about 2 minutes. Figures in var/bench/ingest.json.
bench-ingest: install pg
	$(BIN)/python -m loadtest.ingest_bench

# pixgate vs the bare pyvips loop, thumbor and ipx (installed into var/peers on first use),
# cost vs source size, memory under 24 MP, edge cache hits vs static nginx; about 7 minutes.
# Figures in var/bench/peers.json and PNGs beside it; `--quick` for a smoke run.
bench-peers: install nginx wrk
	$(BIN)/python -m loadtest.peers

# Bytes against SSIMULACRA2 on the real-photo corpus: pixgate (its defaults, q:auto, a
# quality sweep) vs sharp, thumbor (installed into var/peers on first use) and libvips
# defaults; BD-rates, CPU per render. Writes docs/quality.md and docs/quality-*.png.
# `.venv/bin/python -m loadtest.quality --quick` for a smoke run.
bench-quality: install
	$(BIN)/python -m loadtest.quality

# Only the first part of `bench`: pixgate vs the bare loop over S3, and uploads.
bench-proxy: install
	$(BIN)/python -m loadtest.bench --no-peers

# wrk, the load client of the cache-hit benchmark, from the OS packages.
wrk:
	@if command -v wrk >/dev/null 2>&1; then \
		: ; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk; \
	else \
		echo "wrk is missing: install it with 'sudo apt-get install wrk'" >&2; \
		exit 1; \
	fi

# Locust, bounded: mixed traffic against pixgate alone and through the edge; fails the
# build when errors pass 0.1% or p99 its bound. Reports land in var/loadtest/.
loadtest: install nginx
	$(BIN)/python -m loadtest.loadrun

# Soak test: one pixgate under mixed traffic (hostile requests included) over moto and a
# throwaway PostgreSQL, loopback only; fails on any 5xx but backpressure, memory drift, fd
# growth or a lost upload. SOAK_SECONDS=1800 make soak for a longer run.
SOAK_SECONDS ?= 180
soak: install pg
	$(BIN)/python -m loadtest.soak --duration $(SOAK_SECONDS)

# The caching edge on 127.0.0.1:8081 in front of a pixgate on 127.0.0.1:8080 (`make run`).
edge: install nginx
	$(BIN)/python -m config.edge --listen 127.0.0.1:8081 --upstream 127.0.0.1:8080

docs: install
	$(BIN)/pixgate settings --update-readme README.md

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
