#include "tools/d2x/flags.h"

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, config, "", "detectron2 YAML config file (with _BASE_ inheritance).");
ABSL_FLAG(std::string, weights, "",
          "Checkpoint: .pth (DetectionCheckpointer) or model-zoo .pkl. Default: the config's "
          "MODEL.WEIGHTS. `random` keeps the initial weights (timing only).");
ABSL_FLAG(std::string, output, "", "Output file or directory (see the command's help).");
ABSL_FLAG(std::string, artifact, "", "An exported artifact directory.");
