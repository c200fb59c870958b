// Caffe2 / Detectron1 weight names -> detectron2 names, exactly as detectron2's
// convert_basic_c2_names and convert_c2_detectron_names (checkpoint/c2_model_loading.py) do,
// including the background-class handling of the box and mask predictors.
#ifndef D2X_CORE_CHECKPOINT_C2_NAMES_H_
#define D2X_CORE_CHECKPOINT_C2_NAMES_H_

#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace d2x::checkpoint {

// convert_basic_c2_names for one name: backbone (ResNet, BN/GN, stem) renames.
std::string ConvertBasicC2Name(const std::string& name);

// The name part of convert_c2_detectron_names: the basic renames, then RPN, box head, FPN, mask
// head and keypoint head. Error if an FPN name has no parsable stage number (detectron2 raises).
absl::StatusOr<std::string> ConvertC2DetectronName(const std::string& name);

// convert_c2_detectron_names on a whole state dict: returns the weights sorted by their original
// names and renamed; "bbox_pred.*" drops its first 4 rows, "mask_head.predictor.*" its first
// channel, "cls_score.*" moves row 0 (background) to the end. Errors: two names that convert to
// the same detectron2 name, a predictor weight that cannot be sliced.
absl::StatusOr<std::vector<std::pair<std::string, at::Tensor>>> ConvertC2DetectronWeights(
    std::vector<std::pair<std::string, at::Tensor>> weights);

}  // namespace d2x::checkpoint

#endif  // D2X_CORE_CHECKPOINT_C2_NAMES_H_
