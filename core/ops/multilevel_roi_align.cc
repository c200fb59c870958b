// d2x::multilevel_roi_align: detectron2's ROIPooler.forward as one op.
//
// rois [R, 5] (batch index, x1, y1, x2, y2) in input-image coordinates are assigned to FPN levels
// (assign_boxes_to_levels, FPN paper eqn. 1) and pooled from their level with d2x::roi_align.
// The code repeats core/modeling/poolers.cc, so the result is bit-identical to the eager pooler.
// The levels are given by `scales` (1 / stride, high to low resolution, powers of 2).
#include <ATen/ATen.h>
#include <torch/library.h>

#include <cmath>
#include <vector>

#include "core/ops/ops.h"

namespace d2x::ops {
namespace {

constexpr const char* kOp = "d2x::multilevel_roi_align";

int64_t LevelOfScale(double scale) {
  TORCH_CHECK(scale > 0, kOp, ": scales must be positive, got ", scale);
  const double level = -std::log2(scale);
  TORCH_CHECK(std::fabs(level - std::round(level)) <= 1e-9 * std::fabs(level), kOp,
              ": featuremap stride 1/", scale, " is not a power of 2");
  return static_cast<int64_t>(std::round(level));
}

at::Tensor MultilevelRoiAlignKernel(at::TensorList features, const at::Tensor& rois,
                                    c10::ArrayRef<double> scales, int64_t output_height,
                                    int64_t output_width, int64_t sampling_ratio, bool aligned,
                                    int64_t canonical_box_size, int64_t canonical_level) {
  const size_t num_levels = scales.size();
  TORCH_CHECK(num_levels > 0, kOp, ": no scales");
  TORCH_CHECK(features.size() == num_levels, kOp, ": expected ", num_levels,
              " feature maps, got ", features.size());
  TORCH_CHECK(rois.dim() == 2 && rois.size(1) == 5, kOp, ": rois must be [R, 5], got ",
              rois.sizes());
  TORCH_CHECK(canonical_box_size > 0, kOp, ": canonical_box_size must be positive");
  const int64_t oh = output_height;
  const int64_t ow = output_width;
  auto pool = [&](size_t level, const at::Tensor& level_rois) {
    return RoiAlign(features[level], level_rois.to(features[level].scalar_type()), scales[level],
                    oh, ow, sampling_ratio, aligned);
  };
  if (num_levels == 1) return pool(0, rois);

  const int64_t min_level = LevelOfScale(scales.front());
  const int64_t max_level = LevelOfScale(scales.back());
  TORCH_CHECK(static_cast<int64_t>(num_levels) == max_level - min_level + 1, kOp,
              ": scales do not form a pyramid");
  // assign_boxes_to_levels (poolers.cc AssignBoxesToLevels on the concatenated boxes).
  at::Tensor boxes = rois.slice(1, 1, 5);
  at::Tensor areas =
      (boxes.select(1, 2) - boxes.select(1, 0)) * (boxes.select(1, 3) - boxes.select(1, 1));
  at::Tensor box_sizes = at::sqrt(areas);
  at::Tensor level_assignments =
      at::floor(canonical_level + at::log2(box_sizes / canonical_box_size + 1e-8));
  level_assignments = at::clamp(level_assignments, min_level, max_level);
  level_assignments = level_assignments.to(at::kLong) - min_level;

  at::Tensor output =
      at::zeros({rois.size(0), features[0].size(1), oh, ow}, features[0].options());
  for (size_t level = 0; level < num_levels; ++level) {
    at::Tensor inds = (level_assignments == static_cast<int64_t>(level)).nonzero().select(1, 0);
    at::Tensor level_rois = rois.index_select(0, inds);
    output.index_put_({inds}, pool(level, level_rois));
  }
  return output;
}

}  // namespace

TORCH_LIBRARY_IMPL(d2x, CPU, m) {
  m.impl("multilevel_roi_align", TORCH_FN(MultilevelRoiAlignKernel));
}

}  // namespace d2x::ops
