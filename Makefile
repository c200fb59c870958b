# The two entry points (each does its own set-up first):
#   make demo   the main job
#   make test   every test
# D2X_FIXTURES_DIR points at detectron2's golden outputs (default: ../shared/fixtures).

D2X_FIXTURES_DIR ?= $(abspath $(CURDIR)/../shared/fixtures)
export D2X_FIXTURES_DIR
BAZEL ?= bazel
D2X = bazel-bin/tools/d2x/d2x

.PHONY: setup build demo test

setup:
	bash tools/setup.sh

build: setup
	$(BAZEL) build //...

demo: build
	$(D2X) plugins
	$(D2X) doctor

test: setup
	bash tools/run_tests.sh
