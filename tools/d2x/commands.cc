#include "tools/d2x/command.h"

namespace d2x::tool {

const std::vector<Command>& Commands() {
  static const auto* commands = new std::vector<Command>{
      {"plugins", "List the loaded plugins and what each registers.", "", {}, &RunPlugins},
      {"doctor",
       "Load every plugin, check ABI and build fingerprints; exit 1 if anything is wrong.",
       "",
       {},
       &RunDoctor},
      {"inspect",
       "Print the resolved config (--config, --opts) or a checkpoint's tensors (--weights).",
       "(--config FILE [--opts KEY VALUE ...] | --weights FILE)",
       {"config", "weights"},
       &RunInspect},
      {"run",
       "Run the eager model on images (one batch) and write COCO results JSON.",
       "--config FILE [--weights FILE] --input IMG [--input IMG ...] --output results.json "
       "[--draw out.png] [--opts KEY VALUE ...]",
       {"config", "weights", "input", "output", "draw", "draw_min_score", "coco_category_ids"},
       &RunRun},
      {"bench",
       "Time eager inference: one warm-up, then median / p90 latency and peak memory.",
       "--config FILE [--weights FILE|random] [--size HxW] [--iters N] [--batch N] "
       "[--opts KEY VALUE ...]",
       {"config", "weights", "size", "iters", "batch"},
       &RunBench},
  };
  return *commands;
}

}  // namespace d2x::tool
