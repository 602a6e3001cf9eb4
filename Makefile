# civiclake: the two commands of README.md, and the pieces they are made of.
SHELL := /bin/bash
DEMO_DATE ?= 2026-11-25
CORE := .venvs/core/bin

.PHONY: demo test setup setup-core test-unit test-integration test-e2e lint services stop train-detector cluster-start cluster-stop

## demo: set up everything, run the daily pipeline in Airflow for DEMO_DATE, start the UIs
demo: setup
	bash infra/demo.sh $(DEMO_DATE)

## test: set up everything and run every test (unit, integration, end-to-end)
test: setup
	bash infra/test.sh

setup:
	bash infra/setup.sh

setup-core:
	bash infra/setup.sh core

test-unit: setup-core
	$(CORE)/pytest tests/unit

test-integration: setup-core
	source var/secrets.env && $(CORE)/pytest tests/integration

test-e2e: setup
	source var/secrets.env && $(CORE)/pytest tests/e2e

## cluster-start / cluster-stop: a Spark standalone cluster on this machine (a master and two
## workers, spark://127.0.0.1:7077); jobs run on it with CIVICLAKE_SPARK_MASTER=spark://127.0.0.1:7077
cluster-start: setup-core
	bash infra/spark/cluster.sh start

cluster-stop:
	bash infra/spark/cluster.sh stop

## train-detector: retrain the shipped frame detector from ../shared/data (torch in its own environment)
DETECTOR_EPOCHS ?= 70
train-detector: setup-core
	source infra/lib.sh && make_venv train infra/train/requirements.txt
	.venvs/train/bin/python -m models.frame_detector.train --out models/frame_detector/shipped --epochs $(DETECTOR_EPOCHS)

lint:
	$(CORE)/ruff check civiclake simulators spark_jobs models quality dashboards dags tests bench
	$(CORE)/ruff format --check civiclake simulators spark_jobs models quality dashboards dags tests bench
	$(CORE)/lint-imports --no-cache

stop:
	-bash infra/superset/stop.sh
	-bash infra/airflow/stop.sh
	-bash infra/open311/stop.sh
	-bash infra/intake/stop.sh
