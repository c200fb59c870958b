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

# The demo exports the bundled Mask R-CNN (models/mask_rcnn_small) to every registered format and
# method, verifies each artifact against the eager model (exit code 1 on any mismatch), and runs
# one artifact on the sample image the way a user would.
DEMO_OUT ?= demo_export

demo: build
	$(D2X) plugins
	$(D2X) doctor
	$(D2X) export --output $(DEMO_OUT) --overwrite
	$(D2X) doctor --artifact $(DEMO_OUT)/torchscript_tracing
	$(D2X) doctor --artifact $(DEMO_OUT)/caffe2
	$(D2X) doctor --artifact $(DEMO_OUT)/onnx
	$(D2X) run --artifact $(DEMO_OUT)/torchscript_tracing \
	  --input models/mask_rcnn_small/input_256x320.png \
	  --output $(DEMO_OUT)/results.json --draw $(DEMO_OUT)/drawn.png

test: setup
	bash tools/run_tests.sh
