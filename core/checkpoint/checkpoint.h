// Reading detectron2 checkpoints without Python: torch.save .pth files (zip container) and the
// .pkl formats of the detectron2 and Caffe2/Detectron1 model zoos, with DetectionCheckpointer's
// semantics (SPEC.md §A.7). Nothing in a file is ever executed: pickles are interpreted by d2x's
// own allow-listing VM (pickle_vm.h).
#ifndef D2X_CORE_CHECKPOINT_CHECKPOINT_H_
#define D2X_CORE_CHECKPOINT_CHECKPOINT_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace d2x::checkpoint {

struct Checkpoint {
  std::string path;
  // "pth" (torch.save zip), "pyth" (pycls: torch.save with "model_state"), "pkl-detectron2"
  // ({"model": {name: ndarray}, "__author__": ...}), "pkl-caffe2" (Caffe2 / Detectron1 blobs).
  std::string format;
  // The model weights in file order (pkl-caffe2: sorted by C2 name, like detectron2), with
  // detectron2 names: a `module.` prefix on every key is stripped, C2 names are converted.
  // If the file has no "model" entry the whole top-level dict is the model.
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  // Load by name-suffix matching (detectron2's align_and_update_state_dicts): set by the file's
  // "matching_heuristics" entry, by a "?matching_heuristics=True" suffix on the path, and always
  // for pkl-caffe2 and pyth files.
  bool matching_heuristics = false;
  // Other top-level entries rendered as text ("iteration" -> "0", "__author__" -> "..."; lists and
  // dicts as "<dict of 3>"). pkl-caffe2: {"__author__": "Caffe2"}.
  std::map<std::string, std::string> metadata;
  // Module versions from the pickled state_dict's `_metadata` (module prefix without the trailing
  // dot, "" for the root -> version), when the file has them. FrozenBatchNorm2d fills missing
  // running statistics only for modules without a version >= 2, so this matters to loading.
  std::optional<std::map<std::string, int64_t>> module_versions;
  // Classes outside the unpickler's allow-list that the file mentions (e.g. in optimizer state).
  // They were not loaded (never executed); they are not part of the weights.
  std::vector<std::string> ignored_classes;
};

// Reads a checkpoint. The format is recognized from the content (zip archive or pickle); ".pyth"
// selects pycls handling. Errors are one line naming the file and what was wrong (truncated data,
// bad records, refused pickle globals, non-tensor weights, ...).
absl::StatusOr<Checkpoint> LoadCheckpoint(const std::string& path);

}  // namespace d2x::checkpoint

#endif  // D2X_CORE_CHECKPOINT_CHECKPOINT_H_
