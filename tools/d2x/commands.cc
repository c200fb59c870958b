#include "tools/d2x/command.h"

namespace d2x::tool {

const std::vector<Command>& Commands() {
  static const auto* commands = new std::vector<Command>{
      {"plugins", "List the loaded plugins and what each registers.", "", {}, &RunPlugins},
      {"doctor",
       "Load every plugin, check ABI and build fingerprints (and with --artifact, that the "
       "artifact's op libraries and model load in a clean process); exit 1 if anything is wrong.",
       "[--artifact DIR]",
       {"artifact"},
       &RunDoctor},
      {"inspect",
       "Print the resolved config (--config, --opts), a checkpoint's tensors (--weights), or an "
       "artifact's manifest (--artifact; --ir dumps its TorchScript code and graphs).",
       "(--config FILE [--opts KEY VALUE ...] | --weights FILE | --artifact DIR [--ir] "
       "[--output DIR])",
       {"config", "weights", "artifact", "ir", "output"},
       &RunInspect},
      {"export",
       "Export a model (default: the bundled Mask R-CNN) to every format, verify each artifact "
       "against the eager model, print a summary; exit 1 if any check fails.",
       "[--config FILE [--weights FILE] --sample_image IMG] [--second_image IMG] "
       "[--format F|all] [--method M|all] [--output DIR] [--overwrite] [--opts KEY VALUE ...]",
       {"config", "weights", "sample_image", "second_image", "format", "method", "output",
        "overwrite", "keep_failed"},
       &RunExport},
      {"verify",
       "Re-verify an exported artifact against the eager model on images; exit 1 on mismatch.",
       "--artifact DIR [--weights FILE] [--input IMG ...] [--output report.json]",
       {"artifact", "weights", "input", "output"},
       &RunVerify},
      {"run",
       "Run the eager model (--config) or an exported artifact (--artifact) on images (one "
       "batch) and write COCO results JSON.",
       "(--config FILE [--weights FILE] | --artifact DIR) --input IMG [--input IMG ...] "
       "--output results.json [--draw out.png] [--opts KEY VALUE ...]",
       {"config", "weights", "artifact", "input", "output", "draw", "draw_min_score",
        "coco_category_ids"},
       &RunRun},
      {"bench",
       "Time inference: one warm-up, then median / p90 latency and peak memory; with --artifact "
       "the exported model and the eager model it came from, side by side.",
       "(--config FILE [--weights FILE|random] [--opts KEY VALUE ...] | --artifact DIR "
       "[--weights FILE]) [--size HxW] [--iters N] [--batch N]",
       {"config", "weights", "artifact", "size", "iters", "batch"},
       &RunBench},
  };
  return *commands;
}

}  // namespace d2x::tool
