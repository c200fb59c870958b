// Loading a Checkpoint into a model's parameters and buffers with the semantics of fvcore's
// Checkpointer._load_model + detectron2's DetectionCheckpointer (SPEC.md §A.7).
#ifndef D2X_CORE_CHECKPOINT_STATE_DICT_LOADER_H_
#define D2X_CORE_CHECKPOINT_STATE_DICT_LOADER_H_

#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/checkpoint/checkpoint.h"

namespace d2x::checkpoint {

struct LoadReport {
  std::vector<std::string> loaded;          // model keys that received checkpoint values
  std::vector<std::string> missing;         // model keys without a value (pixel_mean/std ignored)
  std::vector<std::string> unexpected;      // checkpoint keys the model does not have
                                            // (anchor_generator.cell_anchors* ignored)
  std::vector<std::string> shape_mismatch;  // keys skipped because the shapes differ
  std::vector<std::string> shape_mismatch_details;  // "key: checkpoint [..] vs model [..]"
  std::vector<std::string> filled_default;  // FrozenBN running_mean=0 / running_var=1 (and
                                            // BatchNorm num_batches_tracked=0) fills
  std::map<std::string, std::string> matched_from;  // model key -> checkpoint key, where the
                                                    // matching heuristics changed the name
  std::string ToString() const;
};

// Copies the checkpoint into `model_state` (name -> tensor aliasing a parameter or buffer; the
// tensors are written with copy_ under NoGradGuard). Steps, as detectron2:
//  1. with ckpt.matching_heuristics: align_and_update_state_dicts (a model key takes the longest
//     checkpoint key it equals or ends with "." + key; shape mismatches skipped; one checkpoint
//     key matching two model keys is an error; unmatched keys pass through);
//  2. checkpoint keys whose shape differs from the model's are skipped (shape_mismatch);
//  3. FrozenBatchNorm2d (a module with running_mean / running_var but no num_batches_tracked)
//     without running statistics in the checkpoint and without a module version >= 2 gets
//     running_mean = 0, running_var = 1 (filled_default) — every C2 .pkl takes this path;
//  4. missing / unexpected keys; missing `pixel_mean` / `pixel_std` and unexpected
//     `anchor_generator.cell_anchors*` are ignored.
// Stricter than detectron2: if any model key is still missing, nothing is copied and the error
// lists the missing keys and names the checkpoint file.
absl::StatusOr<LoadReport> LoadIntoModel(
    const Checkpoint& ckpt, const std::vector<std::pair<std::string, at::Tensor>>& model_state);

}  // namespace d2x::checkpoint

#endif  // D2X_CORE_CHECKPOINT_STATE_DICT_LOADER_H_
