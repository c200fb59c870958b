// ROIPooler, as detectron2/modeling/poolers.py: pools each box from the FPN level chosen by its
// size (FPN paper eqn. 1) with ROIAlign (aligned=false) or ROIAlignV2 (aligned=true), using the
// d2x::roi_align op (torchvision-exact; core/ops/ops.h).
#ifndef D2X_CORE_MODELING_POOLERS_H_
#define D2X_CORE_MODELING_POOLERS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace d2x::modeling {

// assign_boxes_to_levels: for the boxes of all images concatenated, the level index relative to
// min_level: clamp(floor(canonical_level + log2(sqrt(area) / canonical_box_size + 1e-8)),
// min_level, max_level) - min_level, int64 [M].
at::Tensor AssignBoxesToLevels(const std::vector<at::Tensor>& boxes_per_image, int64_t min_level,
                               int64_t max_level, int64_t canonical_box_size,
                               int64_t canonical_level);

// convert_boxes_to_pooler_format: [M, 5] (batch index, x0, y0, x1, y1) in the boxes' dtype.
at::Tensor ConvertBoxesToPoolerFormat(const std::vector<at::Tensor>& boxes_per_image);

struct RoiPoolerOptions {
  int64_t output_height = 7;
  int64_t output_width = 7;
  std::vector<double> scales;  // 1 / stride of each level, high to low resolution
  int64_t sampling_ratio = 0;
  std::string pooler_type = "ROIAlignV2";  // "ROIAlignV2" (aligned) or "ROIAlign"
  int64_t canonical_box_size = 224;
  int64_t canonical_level = 4;
};

class RoiPooler {
 public:
  // Errors: no scales, strides not powers of 2 / not a pyramid, unsupported pooler_type
  // ("ROIPool", "ROIAlignRotated" are not implemented), non-positive sizes.
  static absl::StatusOr<RoiPooler> Create(const RoiPoolerOptions& options);

  // features: one NCHW tensor per level (same order as scales); boxes_per_image: N tensors
  // [R_i, 4] XYXY in input-image coordinates, N = features[0].size(0). Returns
  // [sum R_i, C, output_height, output_width], rows in the order of the concatenated boxes.
  // Throws c10::Error on inconsistent inputs (like ATen).
  at::Tensor Forward(const std::vector<at::Tensor>& features,
                     const std::vector<at::Tensor>& boxes_per_image) const;

  const RoiPoolerOptions& options() const { return options_; }
  int64_t min_level() const { return min_level_; }
  int64_t max_level() const { return max_level_; }
  bool aligned() const { return aligned_; }

 private:
  RoiPoolerOptions options_;
  int64_t min_level_ = 0;
  int64_t max_level_ = 0;
  bool aligned_ = true;
};

}  // namespace d2x::modeling

#endif  // D2X_CORE_MODELING_POOLERS_H_
